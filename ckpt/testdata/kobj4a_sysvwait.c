/* kobj4a_sysvwait: SysV waiters in an IPC namespace of the program's own:
 * a child blocked in msgrcv for type 2 on a queue holding a type-1
 * message, another blocked in semop(-1) on a semaphore at 0 (no
 * SEM_UNDO), a segment attached. After the restart the parent's msgsnd of
 * type 2 and semop(+1) wake each, and the type-1 message is still there. */
#include "kobj.h"
#include <sched.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/wait.h>

struct msg { long type; char text[32]; };

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	if (unshare(CLONE_NEWIPC)) DIE("unshare: %s", strerror(errno));
	int q = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
	int sem = semget(IPC_PRIVATE, 2, IPC_CREAT | 0600);
	int shm = shmget(IPC_PRIVATE, 8192, IPC_CREAT | 0600);
	if (q < 0 || sem < 0 || shm < 0) DIE("get: %s", strerror(errno));
	char *mem = shmat(shm, NULL, 0);
	strcpy(mem, "segment");
	semctl(sem, 1, SETVAL, 4);
	struct msg m = {1, "first"};
	msgsnd(q, &m, 6, 0);
	pid_t r = fork();
	if (r == 0) {
		struct msg g;
		ssize_t n;
		while ((n = msgrcv(q, &g, sizeof g.text, 2, 0)) < 0 && errno == EINTR) {}
		_exit(n == 7 && strcmp(g.text, "second") == 0 && strcmp(mem, "segment!") == 0 ? 0 : 3);
	}
	pid_t s = fork();
	if (s == 0) {
		struct sembuf op = {0, -1, 0};
		while (semop(sem, &op, 1) < 0)
			if (errno != EINTR) _exit(4);
		_exit(0);
	}
	usleep(200000);
	kobj_wait();
	int st;
	CHECK(waitpid(r, &st, WNOHANG) == 0 && waitpid(s, &st, WNOHANG) == 0, "a waiter did not wait");
	CHECK(semctl(sem, 0, GETNCNT) == 1, "semncnt %d", semctl(sem, 0, GETNCNT));
	CHECK(semctl(sem, 1, GETVAL) == 4, "sem 1 value %d", semctl(sem, 1, GETVAL));
	strcpy(mem, "segment!");
	struct msg m2 = {2, "second"};
	msgsnd(q, &m2, 7, 0);
	struct sembuf up = {0, 1, 0};
	semop(sem, &up, 1);
	waitpid(r, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "msgrcv waiter: %#x", st);
	waitpid(s, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "semop waiter: %#x", st);
	struct msg g;
	ssize_t n = msgrcv(q, &g, sizeof g.text, 0, IPC_NOWAIT);
	CHECK(n == 6 && g.type == 1 && strcmp(g.text, "first") == 0, "the type-1 message: %zd", n);
	CHECK(semctl(sem, 0, GETVAL) == 0, "sem 0 value %d", semctl(sem, 0, GETVAL));
	return kobj_done();
}
