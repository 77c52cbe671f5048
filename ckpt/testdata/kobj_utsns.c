/* A UTS namespace of its own with a hostname and domain name set; with
 * "child", a child shares it (and one in a namespace of its own). */
#include "kobj.h"
#include <sched.h>
#include <sys/stat.h>
#include <sys/wait.h>

static int check_names(const char *host) {
	char h[64] = {0}, d[64] = {0};
	gethostname(h, sizeof h);
	getdomainname(d, sizeof d);
	CHECK(strcmp(h, host) == 0 && strcmp(d, "kobj-domain") == 0, "pid %d: hostname %s domain %s, want %s", getpid(), h, d, host);
	return kobj_bad;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	if (unshare(CLONE_NEWUTS)) DIE("unshare: %s", strerror(errno));
	sethostname("kobj-host", 9);
	setdomainname("kobj-domain", 11);
	pid_t kids[2] = {0, 0};
	if (argc > 2) {
		for (int i = 0; i < 2; i++) {
			kids[i] = fork();
			if (kids[i] == 0) {
				if (i == 1) {
					unshare(CLONE_NEWUTS);
					sethostname("kobj-other", 10);
				}
				while (!kobj_go) sigsuspend(&kobj_old);
				struct stat a, b;
				stat("/proc/self/ns/uts", &a);
				char p[64];
				snprintf(p, sizeof p, "/proc/%d/ns/uts", getppid());
				stat(p, &b);
				_exit(check_names(i ? "kobj-other" : "kobj-host") || (i == 0) != (a.st_ino == b.st_ino) ? 1 : 0);
			}
		}
	}
	kobj_wait();
	check_names("kobj-host");
	for (int i = 0; i < 2; i++) {
		if (!kids[i]) continue;
		int st;
		waitpid(kids[i], &st, 0);
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child %d: wrong names or namespace sharing", i);
	}
	return kobj_done();
}
