/* The main thread has called pthread_exit: the thread-group leader is a
 * zombie while a second thread goes on. The survivor waits and checks
 * its state (/proc/self/task lists both, the leader as Z). */
#include "kobj.h"
#include <pthread.h>
#include <sys/syscall.h>

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
	leader = getpid();
	pthread_t t;
	pthread_create(&t, NULL, survivor, NULL);
	pthread_exit(NULL);
}
