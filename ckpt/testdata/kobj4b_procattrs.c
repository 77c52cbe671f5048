/* kobj4b_procattrs: a child with attributes of its own, apart from its
 * parent's: a chroot (its working directory, a new root), a umask 0077,
 * RLIMIT_NOFILE 77/88 and RLIMIT_CORE unlimited/unlimited, nice 11 and
 * an oom_score_adj of 345. After the restart each process has its own. */
#include "kobj.h"
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

static char top[4096];

static int oom_of(pid_t p) {
	char path[64], oom[32];
	snprintf(path, sizeof path, "/proc/%d/oom_score_adj", p);
	int fd = open(path, O_RDONLY);
	int n = fd >= 0 ? read(fd, oom, sizeof oom - 1) : -1;
	oom[n > 0 ? n : 0] = 0;
	if (fd >= 0) close(fd);
	return n > 0 ? atoi(oom) : -9999;
}

/* check: in the child, what it can see of itself in its chroot (no
 * /proc there); in the parent, its own and the child's oom_score_adj. */
static void check(pid_t child) {
	struct rlimit r;
	getrlimit(RLIMIT_NOFILE, &r);
	mode_t um = umask(0);
	umask(um);
	if (child == 0) {
		CHECK(r.rlim_cur == 77 && r.rlim_max == 88, "child NOFILE %lu/%lu", r.rlim_cur, r.rlim_max);
		getrlimit(RLIMIT_CORE, &r);
		CHECK(r.rlim_cur == RLIM_INFINITY && r.rlim_max == RLIM_INFINITY, "child CORE %lu/%lu", r.rlim_cur, r.rlim_max);
		CHECK(um == 077, "child umask %o", um);
		CHECK(getpriority(PRIO_PROCESS, 0) == 11, "child nice %d", getpriority(PRIO_PROCESS, 0));
		CHECK(access("/marker", F_OK) == 0, "child root: no /marker");
		char cwd[256];
		CHECK(getcwd(cwd, sizeof cwd) && strcmp(cwd, "/sub") == 0, "child cwd %s", cwd);
	} else {
		CHECK(r.rlim_cur != 77, "parent NOFILE %lu", r.rlim_cur);
		CHECK(um != 077, "parent umask %o", um);
		CHECK(oom_of(getpid()) != 345, "parent oom_score_adj %d", oom_of(getpid()));
		CHECK(oom_of(child) == 345, "child oom_score_adj %d, want 345", oom_of(child));
		char cwd[4096];
		CHECK(getcwd(cwd, sizeof cwd) && strcmp(cwd, top) == 0, "parent cwd %s, want %s", cwd, top);
	}
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	getcwd(top, sizeof top);
	mkdir("jail", 0755);
	mkdir("jail/sub", 0755);
	close(open("jail/marker", O_CREAT | O_WRONLY, 0644));
	int p[2];
	pipe(p);
	pid_t c = fork();
	if (c == 0) {
		close(p[0]);
		struct rlimit nf = {77, 88}, core = {RLIM_INFINITY, RLIM_INFINITY};
		int fd = open("/proc/self/oom_score_adj", O_WRONLY);
		int ok = chroot("jail") == 0 && chdir("/sub") == 0 && setrlimit(RLIMIT_NOFILE, &nf) == 0 &&
			 setrlimit(RLIMIT_CORE, &core) == 0 && setpriority(PRIO_PROCESS, 0, 11) == 0 && write(fd, "345", 3) == 3;
		close(fd);
		umask(077);
		write(p[1], ok ? "y" : "n", 1);
		kobj_go = 0;
		sigset_t cur;
		sigprocmask(SIG_BLOCK, NULL, &cur);
		sigdelset(&cur, SIGUSR1);
		while (!kobj_go) sigsuspend(&cur);
		check(0);
		if (kobj_bad) write(p[1], kobj_msg, strlen(kobj_msg));
		_exit(kobj_bad);
	}
	close(p[1]);
	char b = 0;
	if (read(p[0], &b, 1) != 1 || b != 'y') DIE("child set-up failed");
	kobj_wait();
	check(c);
	char msg[4096] = {0};
	int n = read(p[0], msg, sizeof msg - 1);
	int st;
	waitpid(c, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child: %#x: %.*s", st, n > 0 ? n : 0, msg);
	return kobj_done();
}
