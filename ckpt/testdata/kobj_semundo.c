/* SEM_UNDO in a process of two threads (in an IPC namespace of its own):
 * after the restart, once the second thread has ended, unsharing
 * CLONE_SYSVSEM applies the adjustment of the semop made before. */
#include "kobj.h"
#include <pthread.h>
#include <sched.h>
#include <sys/sem.h>

static volatile int stop;
static void *second(void *a) { (void)a; while (!stop) usleep(1000); return NULL; }

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	/* "shared": one thread, in the caller's IPC namespace (refused: the
	 * adjustments cannot be measured where others see the values). */
	int shared = argc > 2 && strcmp(argv[2], "shared") == 0;
	if (!shared && unshare(CLONE_NEWIPC)) DIE("unshare: %s", strerror(errno));
	int id = semget(IPC_PRIVATE, 2, IPC_CREAT | 0600);
	if (id < 0) DIE("semget: %s", strerror(errno));
	semctl(id, 0, SETVAL, 10);
	semctl(id, 1, SETVAL, 20);
	pthread_t th;
	if (!shared) pthread_create(&th, NULL, second, NULL);
	struct sembuf op[] = {{0, 3, SEM_UNDO}, {1, -5, SEM_UNDO}};
	if (semop(id, op, 2)) DIE("semop: %s", strerror(errno));
	kobj_wait();
	CHECK(semctl(id, 0, GETVAL) == 13 && semctl(id, 1, GETVAL) == 15, "values %d %d", semctl(id, 0, GETVAL), semctl(id, 1, GETVAL));
	stop = 1;
	if (!shared) pthread_join(th, NULL);
	unshare(CLONE_SYSVSEM);
	CHECK(semctl(id, 0, GETVAL) == 10 && semctl(id, 1, GETVAL) == 20, "after the undo: values %d %d, want 10 20", semctl(id, 0, GETVAL), semctl(id, 1, GETVAL));
	if (shared) semctl(id, 0, IPC_RMID);
	return kobj_done();
}
