/* kobj4b_capchild: a child that dropped to uid 1005 keeping (securebits
 * SECBIT_KEEP_CAPS, then SECBIT_NO_SETUID_FIXUP locked) a few
 * capabilities: permitted and inheritable CAP_NET_BIND_SERVICE and
 * CAP_KILL, effective CAP_KILL only, ambient CAP_NET_BIND_SERVICE,
 * CAP_SYS_ADMIN and CAP_SETPCAP gone from its bounding set. After the
 * restart each set is the same, and the parent's (root's) are untouched.
 * The child stays in the test's directory (see kobj4b_resids.c). */
#include "kobj.h"
#include <linux/capability.h>
#include <linux/securebits.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static unsigned long long field(const char *key) {
	const char *b = read_file("/proc/self/status");
	const char *p = strstr(b, key);
	return p ? strtoull(p + strlen(key), NULL, 16) : ~0ULL;
}

static int setcaps(unsigned eff, unsigned prm, unsigned inh) {
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2] = {{eff, prm, inh}, {0, 0, 0}};
	return syscall(SYS_capset, &h, d);
}

#define B(c) (1U << (c))

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int p[2];
	pipe(p);
	unsigned long long pe = field("CapEff:"), pb = field("CapBnd:");
	pid_t c = fork();
	if (c == 0) {
		close(p[0]);
		int ok = prctl(PR_CAPBSET_DROP, CAP_SYS_ADMIN) == 0 &&
			 prctl(PR_SET_SECUREBITS, SECBIT_KEEP_CAPS | SECBIT_NO_SETUID_FIXUP | SECBIT_NO_SETUID_FIXUP_LOCKED) == 0 &&
			 setresgid(1005, 1005, 1005) == 0 && setresuid(1005, 1005, 1005) == 0 &&
			 setcaps(B(CAP_KILL) | B(CAP_SETPCAP), B(CAP_KILL) | B(CAP_NET_BIND_SERVICE) | B(CAP_SETPCAP), B(CAP_NET_BIND_SERVICE) | B(CAP_KILL)) == 0 &&
			 prctl(PR_CAPBSET_DROP, CAP_SETPCAP) == 0 &&
			 setcaps(B(CAP_KILL), B(CAP_KILL) | B(CAP_NET_BIND_SERVICE), B(CAP_NET_BIND_SERVICE) | B(CAP_KILL)) == 0 &&
			 prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_BIND_SERVICE, 0, 0) == 0;
		if (!ok) {
			char m[256];
			snprintf(m, sizeof m, "n%s", strerror(errno));
			write(p[1], m, strlen(m));
			_exit(2);
		}
		unsigned long long w[5] = {field("CapInh:"), field("CapPrm:"), field("CapEff:"), field("CapBnd:"), field("CapAmb:")};
		int sb = prctl(PR_GET_SECUREBITS);
		write(p[1], "y", 1);
		kobj_go = 0;
		sigset_t cur;
		sigprocmask(SIG_BLOCK, NULL, &cur);
		sigdelset(&cur, SIGUSR1);
		while (!kobj_go) sigsuspend(&cur);
		const char *k[5] = {"CapInh:", "CapPrm:", "CapEff:", "CapBnd:", "CapAmb:"};
		for (int i = 0; i < 5; i++) CHECK(field(k[i]) == w[i], "%s %llx, was %llx", k[i], field(k[i]), w[i]);
		CHECK(prctl(PR_GET_SECUREBITS) == sb, "securebits %#x, was %#x", prctl(PR_GET_SECUREBITS), sb);
		CHECK(getuid() == 1005 && geteuid() == 1005, "uid %d/%d", getuid(), geteuid());
		CHECK(w[4] == B(CAP_NET_BIND_SERVICE) && w[2] == B(CAP_KILL), "set-up: ambient %llx effective %llx", w[4], w[2]);
		CHECK(kill(1, 0) == 0, "CAP_KILL does not act: %s", strerror(errno));
		if (kobj_bad) write(p[1], kobj_msg, strlen(kobj_msg));
		_exit(kobj_bad);
	}
	close(p[1]);
	char b[256] = {0};
	if (read(p[0], b, 1) != 1 || b[0] != 'y') {
		read(p[0], b + 1, sizeof b - 2);
		DIE("child set-up: %s", b);
	}
	kobj_wait();
	CHECK(field("CapEff:") == pe && field("CapBnd:") == pb, "parent's capabilities changed: %llx %llx", field("CapEff:"), field("CapBnd:"));
	char msg[4096] = {0};
	int n = read(p[0], msg, sizeof msg - 1);
	int st;
	waitpid(c, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child: %#x: %.*s", st, n > 0 ? n : 0, msg);
	return kobj_done();
}
