/* SEM_UNDO in a process of two threads (in an IPC namespace of its own):
 * adjustments of -3, +5, 0, -1, +1 and -30000 on six semaphores. After the
 * restart, once the second thread has ended, unsharing CLONE_SYSVSEM
 * applies them: the values before the semop come back. "shared": one
 * thread, in the caller's IPC namespace (refused: the adjustments cannot
 * be measured where others see the values). */
#include "kobj.h"
#include <pthread.h>
#include <sched.h>
#include <sys/sem.h>

#include <dirent.h>

static volatile int stop;

/* the number of threads in /proc/self/task */
static int tasks(void) {
	DIR *d = opendir("/proc/self/task");
	int n = 0;
	struct dirent *e;
	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.') n++;
	if (d) closedir(d);
	return n;
}
static void *second(void *a) { (void)a; while (!stop) usleep(1000); return NULL; }

#define N 6
static const int start[N] = {10, 20, 7, 0, 1, 100};
static const short op[N] = {3, -5, 0, 1, -1, 30000};

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int shared = argc > 2 && strcmp(argv[2], "shared") == 0;
	if (!shared && unshare(CLONE_NEWIPC)) DIE("unshare: %s", strerror(errno));
	int id = semget(IPC_PRIVATE, N, IPC_CREAT | 0600);
	if (id < 0) DIE("semget: %s", strerror(errno));
	for (int i = 0; i < N; i++) semctl(id, i, SETVAL, start[i]);
	pthread_t th;
	if (!shared) pthread_create(&th, NULL, second, NULL);
	struct sembuf ops[N];
	int n = 0;
	for (int i = 0; i < N; i++)
		if (op[i]) ops[n++] = (struct sembuf){i, op[i], SEM_UNDO};
	if (semop(id, ops, n)) DIE("semop: %s", strerror(errno));
	kobj_wait();
	for (int i = 0; i < N; i++)
		CHECK(semctl(id, i, GETVAL) == start[i] + op[i], "value %d: %d, want %d", i, semctl(id, i, GETVAL), start[i] + op[i]);
	stop = 1;
	if (!shared) pthread_join(th, NULL);
	/* pthread_join returns at the thread's exit_mm (its tid cleared),
	 * before its exit_sem drops its share of the undo list: unsharing
	 * then would only drop ours. Its task is gone from /proc/self/task
	 * only after both. */
	while (!shared && tasks() > 1) usleep(1000);
	unshare(CLONE_SYSVSEM);
	for (int i = 0; i < N; i++)
		CHECK(semctl(id, i, GETVAL) == start[i], "after the undo: value %d: %d, want %d", i, semctl(id, i, GETVAL), start[i]);
	if (shared) semctl(id, 0, IPC_RMID);
	return kobj_done();
}
