/*
 * tablesync MODE DIR: the parent (working directory DIR, which has the
 * directories sub and sub2) clones a child sharing its descriptor table
 * (MODE files: CLONE_FILES), its fs struct (fs: CLONE_FS) or both (both);
 * then writes DIR/ready. On SIGUSR1 the parent opens DIR/byparent and
 * chdirs to sub, and wakes the child, which checks that it sees that
 * descriptor and working directory exactly when it shares them, opens
 * DIR/bychild and chdirs to sub2, and exits. The parent checks the same
 * the other way round, and the descriptor it opened before the clone,
 * writes DIR/result and exits 0 when everything is as the sharing says.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t go;
static void on_usr1(int s) { (void)s; go = 1; }
static int shfiles, shfs;
static char dir[4096];

static void wait_go(void) {
	sigset_t none;
	sigemptyset(&none);
	while (!go)
		sigsuspend(&none);
	go = 0;
}

/* same: fd is open on path. */
static int same(int fd, const char *path) {
	struct stat a, b;
	return fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev;
}

static int readnum(const char *name) {
	char path[8192];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "r");
	int n = -1;
	if (f) {
		if (fscanf(f, "%d", &n) != 1)
			n = -1;
		fclose(f);
	}
	return n;
}

static void writenum(const char *name, int n) {
	char path[8192];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	fprintf(f, "%d\n", n);
	fclose(f);
}

/* sees: the descriptor number in file name is open on path, and the
 * working directory is sub. */
static int sees(const char *name, const char *path, const char *sub, FILE *log, const char *who) {
	char want[8192], cwd[8192];
	int fd = readnum(name);
	int files = fd >= 0 && same(fd, path);
	snprintf(want, sizeof want, "%s/%s", dir, sub);
	int fs = getcwd(cwd, sizeof cwd) && strcmp(cwd, want) == 0;
	fprintf(log, "%s: fd %d %s, cwd %s %s\n", who, fd, files ? "seen" : "not seen", cwd, fs ? "seen" : "not seen");
	return files == shfiles && fs == shfs;
}

static int child(void *arg) {
	(void)arg;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	wait_go();
	char path[8192], log[8192];
	snprintf(log, sizeof log, "%s/child.log", dir);
	FILE *l = fopen(log, "w");
	snprintf(path, sizeof path, "%s/byparent", dir);
	int ok = sees("parentfd", path, "sub", l, "child");
	snprintf(path, sizeof path, "%s/bychild", dir);
	int fd = open(path, O_RDONLY);
	writenum("childfd", fd);
	snprintf(path, sizeof path, "%s/sub2", dir);
	if (chdir(path) != 0)
		ok = 0;
	fclose(l);
	_exit(ok ? 0 : 1);
}

int main(int argc, char **argv) {
	if (argc < 3)
		return 2;
	int flags = SIGCHLD;
	shfiles = strcmp(argv[1], "files") == 0 || strcmp(argv[1], "both") == 0;
	shfs = strcmp(argv[1], "fs") == 0 || strcmp(argv[1], "both") == 0;
	if (!shfiles && !shfs)
		return 2;
	if (shfiles)
		flags |= CLONE_FILES;
	if (shfs)
		flags |= CLONE_FS;
	snprintf(dir, sizeof dir, "%s", argv[2]);
	char path[8192];
	snprintf(path, sizeof path, "%s/before", dir);
	int before = open(path, O_RDWR | O_CREAT, 0644);
	write(before, "before\n", 7);
	sigset_t usr1;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr1, NULL);
	signal(SIGUSR1, on_usr1);
	size_t size = 1 << 20;
	char *stack = malloc(size);
	pid_t c = clone(child, stack + size, flags, NULL);
	if (c < 0)
		return 3;
	snprintf(path, sizeof path, "%s/ready", dir);
	close(open(path, O_CREAT | O_WRONLY, 0644));
	wait_go();
	snprintf(path, sizeof path, "%s/byparent", dir);
	int fd = open(path, O_RDONLY);
	writenum("parentfd", fd);
	snprintf(path, sizeof path, "%s/sub", dir);
	chdir(path);
	kill(c, SIGUSR1);
	int ws = 0;
	waitpid(c, &ws, 0);
	snprintf(path, sizeof path, "%s/result", dir);
	FILE *log = fopen(path, "w");
	snprintf(path, sizeof path, "%s/bychild", dir);
	int ok = sees("childfd", path, "sub2", log, "parent");
	snprintf(path, sizeof path, "%s/before", dir);
	int kept = same(before, path) && lseek(before, 0, SEEK_CUR) == 7;
	fprintf(log, "child exit %d, descriptor from before the clone %s\n", WIFEXITED(ws) ? WEXITSTATUS(ws) : -1, kept ? "kept" : "lost");
	fclose(log);
	return ok && kept && WIFEXITED(ws) && WEXITSTATUS(ws) == 0 ? 0 : 1;
}
