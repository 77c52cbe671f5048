/* kobj4b_oddcomm: command names a parser of /proc/PID/stat may trip on:
 * the main thread "x) (y\nz", a second thread "\x01 ))" and a child
 * "( 1 2 3": each is the same after the restart (/proc/.../comm and
 * PR_GET_NAME). */
#include "kobj.h"
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static const char *mainname = "x) (y\nz", *thrname = "\x01 ))", *childname = "( 1 2 3";
static volatile pid_t tid2;
static char got2[16];
static int pfd[2];

static void *run(void *a) {
	(void)a;
	prctl(PR_SET_NAME, thrname);
	tid2 = syscall(SYS_gettid);
	char b;
	read(pfd[0], &b, 1);
	prctl(PR_GET_NAME, got2);
	return NULL;
}

static void comm_of(pid_t pid, pid_t tid, char *out) {
	char p[64];
	snprintf(p, sizeof p, "/proc/%d/task/%d/comm", pid, tid);
	snprintf(out, 32, "%s", read_file(p));
	size_t n = strlen(out);
	if (n && out[n - 1] == '\n') out[n - 1] = 0;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	pipe(pfd);
	pid_t c = fork();
	if (c == 0) {
		prctl(PR_SET_NAME, childname);
		kobj_go = 0;
		sigset_t cur;
		sigprocmask(SIG_BLOCK, NULL, &cur);
		sigdelset(&cur, SIGUSR1);
		while (!kobj_go) sigsuspend(&cur);
		char g[16] = {0};
		prctl(PR_GET_NAME, g);
		_exit(strcmp(g, childname) ? 1 : 0);
	}
	prctl(PR_SET_NAME, mainname);
	pthread_t th;
	pthread_create(&th, NULL, run, NULL);
	while (!tid2) usleep(1000);
	usleep(50000);
	kobj_wait();
	char b[32];
	comm_of(getpid(), getpid(), b);
	CHECK(strcmp(b, mainname) == 0, "main comm %s", b);
	comm_of(getpid(), tid2, b);
	CHECK(strcmp(b, thrname) == 0, "thread comm %s", b);
	comm_of(c, c, b);
	CHECK(strcmp(b, childname) == 0, "child comm %s", b);
	write(pfd[1], "x", 1);
	pthread_join(th, NULL);
	CHECK(strcmp(got2, thrname) == 0, "thread PR_GET_NAME %s", got2);
	int st;
	waitpid(c, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child's PR_GET_NAME differs: %#x", st);
	return kobj_done();
}
