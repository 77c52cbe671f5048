/* A mount namespace of its own (unshare CLONE_NEWNS, mounts made
 * private, as unshare -m does). "child": a child has it and the parent
 * the checkpointer's; "root": the process itself; "tmpfs": a file open on
 * a tmpfs mounted in it (refused: no restart would find that file).
 * After the restart the process is still in a namespace of its own, not
 * its parent's, its mounts do not propagate, a file it opened on a mount
 * both share is the same, and a mount it makes is not seen by its parent. */
#include "kobj.h"
#include <fcntl.h>
#include <libgen.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>

static char dir[4096], sub[4200], data[4200];

static ino_t ns_of(pid_t pid) {
	char p[64];
	struct stat st;
	snprintf(p, sizeof p, "/proc/%d/ns/mnt", pid);
	return stat(p, &st) ? 0 : st.st_ino;
}

/* lists: whether /proc/PID/mountinfo has a mount on path. */
static int lists(pid_t pid, const char *path) {
	char p[64], line[8192];
	snprintf(p, sizeof p, "/proc/%d/mountinfo", pid);
	FILE *f = fopen(p, "r");
	int found = 0;
	if (!f) return -1;
	while (fgets(line, sizeof line, f)) {
		char point[4200];
		if (sscanf(line, "%*s %*s %*s %*s %4199s", point) == 1 && strcmp(point, path) == 0) found = 1;
	}
	fclose(f);
	return found;
}

/* propagates: whether a mount of ours has a shared: or master: tag. */
static int propagates(void) {
	char line[8192];
	FILE *f = fopen("/proc/self/mountinfo", "r");
	int any = 0;
	if (!f) return -1;
	while (fgets(line, sizeof line, f)) {
		char *dash = strstr(line, " - ");
		if (dash) *dash = 0;
		if (strstr(line, " shared:") || strstr(line, " master:")) any = 1;
	}
	fclose(f);
	return any;
}

static void enter(void) {
	if (unshare(CLONE_NEWNS)) DIE("unshare: %s", strerror(errno));
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) DIE("make private: %s", strerror(errno));
}

/* check: in the namespace of its own, the file fd the same, a mount of
 * its own private; returns with the mount on sub made. */
static void check(int fd, pid_t parent) {
	CHECK(ns_of(getpid()) != ns_of(parent), "pid %d: in the mount namespace of its parent %d", getpid(), parent);
	CHECK(propagates() == 0, "pid %d: its mounts propagate (not private any more)", getpid());
	char b[16] = {0};
	CHECK(pread(fd, b, 5, 0) == 5 && strcmp(b, "hello") == 0, "pid %d: data reads %s", getpid(), b);
	if (mount("tmpfs", sub, "tmpfs", 0, "size=64k")) {
		kobj_fail("pid %d: mount tmpfs on %s: %s", getpid(), sub, strerror(errno));
		return;
	}
	struct statfs sf;
	CHECK(statfs(sub, &sf) == 0 && sf.f_type == 0x01021994, "pid %d: %s is not the tmpfs it mounted", getpid(), sub);
	CHECK(lists(parent, sub) == 0, "pid %d: its mount on %s is seen by its parent %d", getpid(), sub, parent);
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	const char *mode = argc > 2 ? argv[2] : "child";
	char arg[4096];
	snprintf(arg, sizeof arg, "%s", argv[1]);
	snprintf(dir, sizeof dir, "%s", dirname(arg));
	snprintf(sub, sizeof sub, "%s/sub", dir);
	snprintf(data, sizeof data, "%s/data", dir);
	mkdir(sub, 0755);
	int fd = open(data, O_RDWR | O_CREAT, 0644);
	if (fd < 0 || write(fd, "hello", 5) != 5) DIE("data: %s", strerror(errno));
	if (strcmp(mode, "tmpfs") == 0) {
		enter();
		if (mount("tmpfs", sub, "tmpfs", 0, "size=64k")) DIE("mount: %s", strerror(errno));
		char f[4300];
		snprintf(f, sizeof f, "%s/f", sub);
		int t = open(f, O_RDWR | O_CREAT, 0644);
		if (t < 0) DIE("open on tmpfs: %s", strerror(errno));
		kobj_wait();
		char b[4] = {0};
		CHECK(write(t, "x", 1) == 1 && pread(t, b, 1, 0) == 1 && b[0] == 'x', "tmpfs file lost");
		return kobj_done();
	}
	if (strcmp(mode, "root") == 0) {
		enter();
		kobj_wait();
		check(fd, getppid());
		umount(sub);
		return kobj_done();
	}
	pid_t kid = fork();
	if (kid == 0) {
		enter();
		while (!kobj_go) sigsuspend(&kobj_old);
		check(fd, getppid());
		_exit(kobj_bad);
	}
	kobj_wait();
	CHECK(ns_of(kid) != ns_of(getpid()), "the child shares the parent's mount namespace");
	CHECK(ns_of(getpid()) == ns_of(getppid()), "the parent is not in its own parent's mount namespace");
	kill(kid, SIGUSR1);
	int st;
	waitpid(kid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child: mount namespace not as it was (status %#x)", st);
	return kobj_done();
}
