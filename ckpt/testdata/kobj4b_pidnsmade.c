/* kobj4b_pidnsmade: PID namespaces the program makes itself, each mode
 * one way (argv[2]):
 *   clone      a child cloned with CLONE_NEWPID, its init, which forks a
 *              process-group leader (pid 2, with a thread) and a member of
 *              that group (pid 3);
 *   unshared   the program unshares CLONE_NEWPID and forks only after the
 *              restart: the child is pid 1 of a new namespace (with a
 *              third argument, after 64 MiB of memory are written);
 *   nested     two levels: a child unshares and forks an init, which does
 *              the same again;
 *   mountproc  a child unshares CLONE_NEWPID and CLONE_NEWNS, its init
 *              mounts a /proc of the namespace (unshare --mount-proc) and
 *              keeps a descriptor of its own status there;
 *   zombie     the init of a cloned namespace has a child that exited
 *              (pid 2, a zombie), which it reaps after the restart;
 *   deadns     the program unshared and its init exited: refused (a fork
 *              fails there, it would not after a restart).
 * Every process checks its pids (getpid, getppid, gettid, getpgid, its
 * NSpid line) against what they were before, and the parents' waits. */
#include "kobj.h"
#include <dirent.h>
#include <pthread.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static int rep[2]; /* children say 'y' (ready) or 'n' */
static int lp[2];  /* clone mode: the leader's thread exists */

static void wait_usr1(void) {
	kobj_go = 0;
	sigset_t cur;
	sigprocmask(SIG_BLOCK, NULL, &cur);
	sigdelset(&cur, SIGUSR1);
	while (!kobj_go) sigsuspend(&cur);
}

/* nspid: the NSpid line of /proc/self/status (the host's /proc, or the
 * namespace's own in mountproc). */
static void nspid(char *out, size_t n) {
	out[0] = 0;
	FILE *f = fopen("/proc/thread-self/status", "r");
	if (!f) return;
	char line[256];
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, "NSpid:", 6)) snprintf(out, n, "%s", line);
	fclose(f);
}

static void ready(int ok) { write(rep[1], ok ? "y" : "n", 1); }

/* waitexit: waits for child c, 0 when it exited 0. */
static int waitexit(pid_t c) {
	int st;
	return waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}

static volatile int thr_go;
static pid_t thr_tid, thr_tid_after;
static void *thr(void *a) {
	(void)a;
	thr_tid = syscall(SYS_gettid);
	while (!thr_go) usleep(1000);
	thr_tid_after = syscall(SYS_gettid);
	return NULL;
}

/* clone mode: the init of a namespace made by clone(CLONE_NEWPID). */
static int clone_init(void *arg) {
	(void)arg;
	int ok = getpid() == 1 && getppid() == 0;
	pid_t leader = fork();
	if (leader == 0) {
		setpgid(0, 0);
		pthread_t t;
		pthread_create(&t, NULL, thr, NULL);
		while (!thr_tid) usleep(1000);
		char before[256], after[256];
		nspid(before, sizeof before);
		ready(getpid() == 2 && getpgid(0) == 2 && thr_tid == 3);
		write(lp[1], "y", 1);
		wait_usr1();
		thr_go = 1;
		pthread_join(t, NULL);
		nspid(after, sizeof after);
		_exit(getpid() == 2 && getppid() == 1 && getpgid(0) == 2 && thr_tid_after == 3 && !strcmp(before, after) ? 0 : 1);
	}
	char b;
	if (read(lp[0], &b, 1) != 1) _exit(8);
	pid_t member = fork();
	if (member == 0) {
		int in = setpgid(0, leader) == 0;
		ready(in && getpid() == 4 && getpgid(0) == 2);
		wait_usr1();
		_exit(getpid() == 4 && getppid() == 1 && getpgid(0) == 2 ? 0 : 1);
	}
	ready(ok);
	wait_usr1();
	int bad = !(getpid() == 1 && getppid() == 0);
	bad |= waitexit(leader) << 1;
	bad |= waitexit(member) << 2;
	_exit(bad);
}

/* zombie mode: an init whose child (pid 2) exited with 7. */
static int zombie_init(void *arg) {
	(void)arg;
	pid_t z = fork();
	if (z == 0) _exit(7);
	siginfo_t si;
	waitid(P_PID, z, &si, WEXITED | WNOWAIT);
	ready(z == 2);
	wait_usr1();
	int st;
	_exit(waitpid(2, &st, WNOHANG) == 2 && WIFEXITED(st) && WEXITSTATUS(st) == 7 && getpid() == 1 ? 0 : 1);
}

static char stack[1 << 16] __attribute__((aligned(16)));

/* level: unshares and forks an init, depth more times; the innermost
 * checks its NSpid line. */
static int level(int depth, int withproc) {
	if (unshare(CLONE_NEWPID | (withproc ? CLONE_NEWNS : 0))) return 2;
	if (withproc && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) return 2;
	pid_t init = fork();
	if (init == 0) {
		if (depth > 1) _exit(level(depth - 1, withproc));
		char before[256], after[256];
		int fd = -1, ok = getpid() == 1 && getppid() == 0;
		pid_t kid = -1;
		if (withproc) {
			ok = ok && mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) == 0;
			fd = open("/proc/self/status", O_RDONLY);
			kid = fork();
			if (kid == 0) {
				wait_usr1();
				_exit(getpid() == 2 ? 0 : 1);
			}
		}
		nspid(before, sizeof before);
		ready(ok && (!withproc || fd >= 0));
		wait_usr1();
		nspid(after, sizeof after);
		int bad = !(getpid() == 1 && getppid() == 0 && !strcmp(before, after));
		if (withproc) {
			char self[32] = "";
			readlink("/proc/self", self, sizeof self - 1);
			bad |= strcmp(self, "1") != 0;
			char buf[4096];
			ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
			buf[n > 0 ? n : 0] = 0;
			bad |= (strstr(buf, "\nPid:\t1\n") == NULL) << 1;
			int pids = 0;
			DIR *d = opendir("/proc");
			struct dirent *e;
			while (d && (e = readdir(d)))
				if (e->d_name[0] >= '1' && e->d_name[0] <= '9') pids++;
			if (d) closedir(d);
			bad |= (pids != 2) << 2;
			bad |= waitexit(kid) << 3;
		}
		_exit(bad);
	}
	int st;
	if (waitpid(init, &st, 0) != init) return 9;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 10;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	const char *mode = argc > 2 ? argv[2] : "clone";
	if (pipe(rep) || pipe(lp)) DIE("pipe");
	pid_t c = -1;
	int want = 1;
	if (!strcmp(mode, "clone")) {
		c = clone(clone_init, stack + sizeof stack, CLONE_NEWPID | SIGCHLD, NULL);
		want = 3;
	} else if (!strcmp(mode, "zombie")) {
		c = clone(zombie_init, stack + sizeof stack, CLONE_NEWPID | SIGCHLD, NULL);
	} else if (!strcmp(mode, "deadns")) {
		if (unshare(CLONE_NEWPID)) DIE("unshare: %s", strerror(errno));
		pid_t k = fork();
		if (k == 0) _exit(0);
		waitexit(k);
		want = 0;
	} else if (!strcmp(mode, "unshared")) {
		if (unshare(CLONE_NEWPID)) DIE("unshare: %s", strerror(errno));
		want = 0;
		if (argc > 3) { /* big: memory enough for a twin or a snapshot */
			size_t n = 64 << 20;
			char *m = malloc(n);
			for (size_t i = 0; m && i < n; i += 4096) m[i] = (char)i;
		}
	} else if (!strcmp(mode, "nested") || !strcmp(mode, "mountproc")) {
		c = fork();
		if (c == 0) _exit(level(!strcmp(mode, "nested") ? 2 : 1, !strcmp(mode, "mountproc")));
	} else {
		DIE("mode %s", mode);
	}
	if (want && c < 0) DIE("fork: %s", strerror(errno));
	for (int i = 0; i < want; i++) {
		char b;
		if (read(rep[0], &b, 1) != 1 || b != 'y') DIE("%s: a child is not as expected before the checkpoint", mode);
	}
	char line[64] = "", after[64] = "";
	if (c > 0) {
		char p[64];
		snprintf(p, sizeof p, "/proc/%d/status", c);
		FILE *f = fopen(p, "r");
		while (f && fgets(line, sizeof line, f) && strncmp(line, "NSpid:", 6)) {}
		if (f) fclose(f);
	}
	kobj_wait();
	if (c > 0) {
		char p[64];
		snprintf(p, sizeof p, "/proc/%d/status", c);
		FILE *f = fopen(p, "r");
		while (f && fgets(after, sizeof after, f) && strncmp(after, "NSpid:", 6)) {}
		if (f) fclose(f);
		CHECK(!strcmp(line, after), "child %d: %s before, %s after", c, line, after);
		int st;
		CHECK(waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: child status %#x (exit bits: 1 its pids, 2 its status descriptor, 4 its /proc's pids, 8 its child)", mode, st);
	} else if (!strcmp(mode, "unshared")) {
		pid_t k = fork();
		if (k == 0) _exit(getpid() == 1 && getppid() == 0 ? 0 : 1);
		int st = 0;
		if (k < 0)
			kobj_fail("the first fork after unshare: %s", strerror(errno));
		else
			CHECK(waitpid(k, &st, 0) == k && WIFEXITED(st) && WEXITSTATUS(st) == 0, "the first child after unshare: status %#x (1: not pid 1)", st);
	}
	char self[32] = "", mine[32];
	readlink("/proc/self", self, sizeof self - 1);
	snprintf(mine, sizeof mine, "%d", getpid());
	CHECK(!strcmp(self, mine), "the host's /proc/self is %s, not %s", self, mine);
	return kobj_done();
}
