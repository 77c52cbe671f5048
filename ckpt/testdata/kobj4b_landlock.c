/* kobj4b_landlock: a landlock ruleset enforced on the process (only
 * reading files under /usr is allowed of the filesystem rights it
 * handles): writing a file in the working directory fails with EACCES.
 * Its rules show nowhere a checkpoint could read them: refused, and the
 * program left running still finds itself confined.
 *   user: it drops to uid/gid 65534 before (root's checkpoint asks a
 *         process of the thread's ids, not itself).
 *   pidns: it unshares CLONE_NEWPID and forks its init, which drops to
 *         65534 and is confined (a batch job's namespace: the probe's
 *         process must be cloned into it); the parent waits for it.
 *   userns: it unshares CLONE_NEWUSER (maps "0 0 1") before: a thread in
 *         a user namespace of its own may ptrace-read only processes in
 *         it (the probe's process must enter it, without capabilities).
 *   usernsnobody: as 65534, `unshare -r`: maps "0 65534 1", its owner. */
#include "kobj.h"
#include <linux/landlock.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <grp.h>
#include <sched.h>

static void writef(const char *path, const char *s) {
	FILE *f = fopen(path, "w");
	if (!f || fputs(s, f) < 0 || fclose(f)) DIE("%s: %s", path, strerror(errno));
}

static void drop(void) {
	if (setgroups(0, NULL) || setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
		DIE("drop to 65534: %s", strerror(errno));
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	const char *mode = argc > 2 ? argv[2] : "";
	if (strcmp(mode, "pidns") == 0) {
		if (unshare(CLONE_NEWPID)) DIE("unshare: %s", strerror(errno));
		pid_t c = fork();
		if (c < 0) DIE("fork: %s", strerror(errno));
		if (c > 0) {
			int ws;
			if (waitpid(c, &ws, 0) != c) return 3;
			return WIFEXITED(ws) ? WEXITSTATUS(ws) : 4;
		}
		if (getpid() != 1) DIE("the child is pid %d, not 1", getpid());
	}
	/* The result file is opened before: the ruleset forbids making it. */
	char res[4096];
	snprintf(res, sizeof res, "%s", kobj_out);
	int out = open(res, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	char rd[4096];
	snprintf(rd, sizeof rd, "%s.ready", kobj_out);
	int ready = open(rd, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (strcmp(mode, "user") == 0 || strcmp(mode, "pidns") == 0 || strcmp(mode, "usernsnobody") == 0) drop();
	if (strncmp(mode, "userns", 6) == 0) {
		char map[64];
		snprintf(map, sizeof map, "0 %d 1\n", (int)getuid());
		/* Dumpable again after the drop: its /proc/self files are its
		 * own only then (its maps are written by itself). */
		prctl(PR_SET_DUMPABLE, 1);
		if (unshare(CLONE_NEWUSER)) DIE("unshare: %s", strerror(errno));
		writef("/proc/self/setgroups", "deny");
		writef("/proc/self/uid_map", map);
		writef("/proc/self/gid_map", map);
	}
	struct landlock_ruleset_attr ra = {.handled_access_fs = LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_READ_FILE};
	int rs = syscall(SYS_landlock_create_ruleset, &ra, sizeof ra, 0);
	if (rs < 0) DIE("landlock_create_ruleset: %s", strerror(errno));
	struct landlock_path_beneath_attr pb = {.allowed_access = LANDLOCK_ACCESS_FS_READ_FILE, .parent_fd = open("/usr", O_PATH)};
	if (syscall(SYS_landlock_add_rule, rs, LANDLOCK_RULE_PATH_BENEATH, &pb, 0)) DIE("landlock_add_rule: %s", strerror(errno));
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	if (syscall(SYS_landlock_restrict_self, rs, 0)) DIE("landlock_restrict_self: %s", strerror(errno));
	close(rs);
	close(pb.parent_fd);
	errno = 0;
	if (open("forbidden", O_WRONLY | O_CREAT, 0644) >= 0 || errno != EACCES) DIE("landlock not enforced: %s", strerror(errno));
	close(ready);
	/* kobj_wait, by hand: .ready exists and is empty. */
	sigset_t cur;
	sigprocmask(SIG_BLOCK, NULL, &cur);
	sigdelset(&cur, SIGUSR1);
	while (!kobj_go) sigsuspend(&cur);
	errno = 0;
	CHECK(open("forbidden", O_WRONLY | O_CREAT, 0644) < 0 && errno == EACCES, "a file made in the working directory (%s)", strerror(errno));
	CHECK(open("/usr/include/stdio.h", O_RDONLY) >= 0 || errno == ENOENT, "/usr not readable: %s", strerror(errno));
	errno = 0;
	CHECK(open("/etc/hostname", O_RDONLY) < 0 && errno == EACCES, "/etc readable (%s)", strerror(errno));
	const char *msg = kobj_bad ? kobj_msg : "ok";
	write(out, msg, strlen(msg));
	return kobj_bad;
}
