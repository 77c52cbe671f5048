/* kobj5b_afterfork: what the parent took on after it forked, which its
 * child must not have: memory-deny-write-execute, no_new_privs, a
 * personality, THP disabled, a timer slack, SECBIT_NO_SETUID_FIXUP; and
 * what the child took on that the parent has not: PR_SET_KEEPCAPS, a
 * name, SCHED_BATCH. After the restart each process has its own only
 * (a restore that sets the parent's before it forks the child gives
 * the child the parent's). */
#include "kobj.h"
#include <linux/securebits.h>
#include <sched.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#ifndef PR_SET_MDWE
#define PR_SET_MDWE 65
#define PR_GET_MDWE 66
#endif

static void state(char *o, size_t n) {
	char name[17] = "";
	prctl(PR_GET_NAME, name, 0, 0, 0);
	snprintf(o, n, "mdwe %d nnp %d pers %#x thp %d slack %d sb %#x keep %d sched %d name %s",
	         prctl(PR_GET_MDWE, 0, 0, 0, 0), prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0), personality(0xffffffff),
	         prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0), prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0),
	         prctl(PR_GET_SECUREBITS, 0, 0, 0, 0), prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0), sched_getscheduler(0), name);
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	prctl(PR_SET_NAME, "afterparent", 0, 0, 0);
	int p[2];
	if (pipe(p)) DIE("pipe");
	pid_t c = fork();
	if (c == 0) {
		close(p[0]);
		usleep(100000); /* the parent's changes come after the fork */
		prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0);
		prctl(PR_SET_NAME, "afterchild", 0, 0, 0);
		struct sched_param sp = {0};
		sched_setscheduler(0, SCHED_BATCH, &sp);
		char s0[512];
		state(s0, sizeof s0);
		kobj_wait();
		char s1[512];
		state(s1, sizeof s1);
		const char *want = "mdwe 0 nnp 0 pers 0 thp 0 slack 50000 sb 0x10 keep 1 sched 3 name afterchild";
		CHECK(!strcmp(s1, want), "child: %s, want %s (before: %s)", s1, want, s0);
		char msg[1024];
		snprintf(msg, sizeof msg, "%s", kobj_bad ? kobj_msg : "ok");
		write(p[1], msg, strlen(msg));
		_exit(kobj_bad);
	}
	close(p[1]);
	if (prctl(PR_SET_MDWE, 1, 0, 0, 0)) DIE("PR_SET_MDWE: %s", strerror(errno));
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	personality(PER_LINUX | ADDR_NO_RANDOMIZE);
	prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0);
	prctl(PR_SET_TIMERSLACK, 70000, 0, 0, 0);
	prctl(PR_SET_SECUREBITS, SECBIT_NO_SETUID_FIXUP, 0, 0, 0);
	usleep(200000);
	kobj_wait();
	char s1[512];
	state(s1, sizeof s1);
	const char *want = "mdwe 1 nnp 1 pers 0x40000 thp 1 slack 70000 sb 0x4 keep 0 sched 0 name afterparent";
	CHECK(!strcmp(s1, want), "parent: %s, want %s", s1, want);
	char msg[1024] = "";
	int n = read(p[0], msg, sizeof msg - 1);
	msg[n > 0 ? n : 0] = 0;
	CHECK(!strcmp(msg, "ok"), "%s", msg);
	int st;
	waitpid(c, &st, 0);
	return kobj_done();
}
