/* kobj6_ghost: a member whose session or process group leader exited
 * (ghost.go). The program is a child subreaper, as a batch job's
 * supervisor is, with SIGCHLD blocked (a stray one would stay pending).
 * Modes:
 *   session  the classic daemon: a child forks, the grandchild calls
 *            setsid and forks the daemon, both exit: the daemon, now the
 *            program's child, is in a session and a group led by nobody;
 *   group    a child leads a group of its own, forks a member of it and
 *            exits: the member, now the program's child, is in a group
 *            led by nobody, in the program's session;
 *   inner    as session, the daemon with a child of its own (in the
 *            session by inheritance) that leads a group of its own.
 * Checked after the restart: the member's session and group ids, its
 * parent, that the group is there (kill(-pgid, 0)), that no SIGCHLD and
 * no child is waiting for the program (the ghost leader was reaped), and
 * that the member ends and is reaped with its own status. */
#include "kobj.h"
#include <sys/prctl.h>
#include <sys/wait.h>

static int go_pipe[2];

/* The parent of pid, from /proc/PID/stat (0: unknown). */
static int parent_of(pid_t pid) {
	char f[64], buf[512];
	snprintf(f, sizeof f, "/proc/%d/stat", (int)pid);
	FILE *fp = fopen(f, "r");
	int pp = 0;
	if (fp && fgets(buf, sizeof buf, fp) && strrchr(buf, ')')) sscanf(strrchr(buf, ')') + 4, "%d", &pp);
	if (fp) fclose(fp);
	return pp;
}

static void member(int inner) {
	pid_t kid = -1;
	if (inner) {
		kid = fork();
		if (kid == 0) {
			setpgid(0, 0);
			char b;
			read(go_pipe[0], &b, 1);
			_exit(getsid(0) == getsid(getppid()) && getpgid(0) == getpid() ? 0 : 1);
		}
	}
	char b;
	if (read(go_pipe[0], &b, 1) != 1) _exit(40);
	if (inner) {
		int st;
		if (waitpid(kid, &st, 0) != kid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) _exit(41);
	}
	_exit(33);
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	const char *mode = argc > 2 ? argv[2] : "session";
	int inner = !strcmp(mode, "inner"), session = strcmp(mode, "group") != 0;
	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	if (pipe(go_pipe) < 0) DIE("pipe");
	int info[2];
	if (pipe(info) < 0) DIE("pipe");
	pid_t a = fork();
	if (a == 0) {
		if (session) {
			pid_t b = fork();
			if (b == 0) {
				setsid();
				pid_t m = fork();
				if (m == 0) member(inner);
				write(info[1], &m, sizeof m);
				_exit(0);
			}
			int st;
			waitpid(b, &st, 0);
			_exit(0);
		}
		setpgid(0, 0);
		pid_t m = fork();
		if (m == 0) member(0);
		write(info[1], &m, sizeof m);
		_exit(0);
	}
	pid_t m;
	if (read(info[0], &m, sizeof m) != sizeof m) DIE("the member's pid");
	int st;
	waitpid(a, &st, 0);
	/* The exited leaders are reaped: by their parents, or by us. */
	for (int i = 0; i < 100; i++) {
		pid_t w = waitpid(-1, &st, WNOHANG);
		if (w == 0 && parent_of(m) == getpid()) break;
		usleep(10000);
	}
	pid_t sid = getsid(m), pgid = getpgid(m);
	if (sid == getsid(0) && session) DIE("the member is in our session");
	if (pgid == m || pgid == getpgid(0)) DIE("the member's group %d is not a leaderless one", pgid);
	sigset_t pend;
	sigpending(&pend);
	if (sigismember(&pend, SIGCHLD)) {
		int sig;
		sigwait(&chld, &sig); /* the leaders' exits: taken before the checkpoint */
	}
	kobj_wait();
	CHECK(getsid(m) == sid && getpgid(m) == pgid, "member %d: session %d group %d, was %d %d", m, getsid(m), getpgid(m), sid, pgid);
	int pp = parent_of(m);
	CHECK(pp == getpid(), "member's parent %d, not us %d", pp, getpid());
	CHECK(kill(-pgid, 0) == 0, "group %d: %s", pgid, strerror(errno));
	sigpending(&pend);
	CHECK(!sigismember(&pend, SIGCHLD), "a SIGCHLD is pending");
	pid_t w = waitpid(-1, &st, WNOHANG);
	CHECK(w == 0, "a child waiting to be reaped: %d (status %#x)", w, st);
	if (write(go_pipe[1], "gg", inner ? 2 : 1) < 1) kobj_fail("write: %s", strerror(errno));
	w = waitpid(m, &st, 0);
	CHECK(w == m && WIFEXITED(st) && WEXITSTATUS(st) == 33, "the member: %d status %#x", w, st);
	return kobj_done();
}
