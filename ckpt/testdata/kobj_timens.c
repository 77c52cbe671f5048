/* A time namespace with CLOCK_MONOTONIC 10000 s ahead: its child sees
 * it. Refused at checkpoint time (the restart cannot make one). */
#include "kobj.h"
#include <sched.h>
#include <sys/wait.h>
#include <time.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	if (unshare(CLONE_NEWTIME)) DIE("unshare: %s", strerror(errno));
	FILE *f = fopen("/proc/self/timens_offsets", "w");
	if (!f || fprintf(f, "monotonic 10000 0\n") < 0 || fclose(f)) DIE("timens_offsets: %s", strerror(errno));
	struct timespec host;
	clock_gettime(CLOCK_MONOTONIC, &host);
	pid_t c = fork();
	if (c == 0) {
		kobj_wait();
		struct timespec t;
		clock_gettime(CLOCK_MONOTONIC, &t);
		CHECK(t.tv_sec >= host.tv_sec + 10000, "monotonic %ld, host's was %ld", t.tv_sec, host.tv_sec);
		exit(kobj_done());
	}
	while (!kobj_go) sigsuspend(&kobj_old);
	kill(c, SIGUSR1);
	int st;
	waitpid(c, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}
