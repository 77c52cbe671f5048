/* The main thread has called pthread_exit: the thread-group leader is a
 * zombie while a second thread goes on. The survivor waits and checks
 * its state (/proc/self/task lists both, the leader as Z). With "child"
 * it is a child of the root that does so (the root waits for it). */
#include "kobj.h"
#include <pthread.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static pid_t leader;
static volatile int counter = 41;

static const char *leader_state(void) {
	static char st[8];
	char p[64];
	snprintf(p, sizeof p, "/proc/self/task/%d/stat", leader);
	const char *s = read_file(p);
	const char *r = strrchr(s, ')');
	snprintf(st, sizeof st, "%c", r ? r[2] : '?');
	return st;
}

static void *survivor(void *a) {
	(void)a;
	/* Wait until the leader is a zombie. */
	for (int i = 0; i < 10000 && strcmp(leader_state(), "Z"); i++) usleep(1000);
	if (strcmp(leader_state(), "Z")) DIE("leader state %s", leader_state());
	kobj_wait();
	CHECK(strcmp(leader_state(), "Z") == 0, "leader state %s, want Z", leader_state());
	CHECK(getpid() == leader, "pid %d, leader %d", getpid(), leader);
	counter++;
	CHECK(counter == 42, "counter %d", counter);
	exit(kobj_done());
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	if (argc > 2 && strcmp(argv[2], "child") == 0) {
		pid_t c = fork();
		if (c > 0) {
			/* The root waits for SIGUSR1 like the child, then for it. */
			int st;
			while (!kobj_go) sigsuspend(&kobj_old);
			waitpid(c, &st, 0);
			return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
		}
		/* The child says ready through the root's OUT.ready. */
	}
	leader = getpid();
	pthread_t t;
	pthread_create(&t, NULL, survivor, NULL);
	pthread_exit(NULL);
}
