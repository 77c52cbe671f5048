/* kobj4b_resids: a child with every id apart: real, effective and saved
 * uid 1001, 1002, 0; gids 2001, 2002, 2003; supplementary groups 7, 8 and
 * 9; fsuid follows euid. After the restart they are the same, and the
 * saved uid 0 still lets it become root again (seteuid(0)). The child
 * stays in the test's directory, which its ids do not reach (root's, mode
 * 0700 on the path): the restore enters it all the same. */
#include "kobj.h"
#include <grp.h>
#include <sys/fsuid.h>
#include <sys/wait.h>

static int check(void) {
	uid_t r, e, s;
	gid_t rg, eg, sg;
	getresuid(&r, &e, &s);
	getresgid(&rg, &eg, &sg);
	CHECK(r == 1001 && e == 1002 && s == 0, "uids %d %d %d", r, e, s);
	CHECK(rg == 2001 && eg == 2002 && sg == 2003, "gids %d %d %d", rg, eg, sg);
	gid_t g[16];
	int n = getgroups(16, g);
	CHECK(n == 3 && g[0] == 7 && g[1] == 8 && g[2] == 9, "%d groups, first %d", n, n > 0 ? (int)g[0] : -1);
	CHECK(setfsuid(-1) == 1002, "fsuid %d", setfsuid(-1));
	return kobj_bad;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int p[2];
	pipe(p);
	pid_t c = fork();
	if (c == 0) {
		close(p[0]);
		gid_t g[] = {7, 8, 9};
		int ok = setgroups(3, g) == 0 && setresgid(2001, 2002, 2003) == 0 && setresuid(1001, 1002, 0) == 0;
		write(p[1], ok ? "y" : "n", 1);
		kobj_go = 0;
		sigset_t cur;
		sigprocmask(SIG_BLOCK, NULL, &cur);
		sigdelset(&cur, SIGUSR1);
		while (!kobj_go) sigsuspend(&cur);
		check();
		CHECK(seteuid(0) == 0 && geteuid() == 0, "seteuid(0) through the saved uid: %s", strerror(errno));
		if (kobj_bad) write(p[1], kobj_msg, strlen(kobj_msg));
		_exit(kobj_bad);
	}
	close(p[1]);
	char b = 0;
	if (read(p[0], &b, 1) != 1 || b != 'y') DIE("child could not set its ids");
	kobj_wait();
	char msg[4096] = {0};
	int n = read(p[0], msg, sizeof msg - 1);
	int st;
	waitpid(c, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child: %#x: %.*s", st, n > 0 ? n : 0, msg);
	return kobj_done();
}
