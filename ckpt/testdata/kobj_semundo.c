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
	if (unshare(CLONE_NEWIPC)) DIE("unshare: %s", strerror(errno));
	int id = semget(IPC_PRIVATE, 2, IPC_CREAT | 0600);
	if (id < 0) DIE("semget: %s", strerror(errno));
	semctl(id, 0, SETVAL, 10);
	semctl(id, 1, SETVAL, 20);
	pthread_t th;
	pthread_create(&th, NULL, second, NULL);
	struct sembuf op[] = {{0, 3, SEM_UNDO}, {1, -5, SEM_UNDO}};
	if (semop(id, op, 2)) DIE("semop: %s", strerror(errno));
	kobj_wait();
	CHECK(semctl(id, 0, GETVAL) == 13 && semctl(id, 1, GETVAL) == 15, "values %d %d", semctl(id, 0, GETVAL), semctl(id, 1, GETVAL));
	stop = 1;
	pthread_join(th, NULL);
	unshare(CLONE_SYSVSEM);
	CHECK(semctl(id, 0, GETVAL) == 10 && semctl(id, 1, GETVAL) == 20, "after the undo: values %d %d, want 10 20", semctl(id, 0, GETVAL), semctl(id, 1, GETVAL));
	return kobj_done();
}
