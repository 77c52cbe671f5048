/* kobj4b_seccomptrap: a seccomp filter (no_new_privs) with three rules:
 * uname fails with ERRNO 77, getpriority traps (SECCOMP_RET_TRAP, data
 * 0x2a: SIGSYS with si_syscall and si_errno), getppid is logged and
 * allowed. After the restart each rule still acts so, the filter is one
 * (Seccomp: 2, Seccomp_filters: 1) and it cannot be lifted. */
#include "kobj.h"
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>

static volatile int trapped, trapnr, traperr;
static void onsys(int s, siginfo_t *si, void *c) {
	(void)s; (void)c;
	trapped++;
	trapnr = si->si_syscall;
	traperr = si->si_errno;
}

static const char *status_field(const char *key) {
	static char v[128];
	const char *b = read_file("/proc/self/status");
	const char *p = strstr(b, key);
	v[0] = 0;
	if (p) snprintf(v, sizeof v, "%.*s", (int)strcspn(p + strlen(key), "\n"), p + strlen(key));
	return v;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	struct sigaction sa = {.sa_sigaction = onsys, .sa_flags = SA_SIGINFO};
	sigaction(SIGSYS, &sa, NULL);
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_uname, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | 77),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getpriority, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP | 0x2a),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_LOG),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {.len = sizeof f / sizeof f[0], .filter = f};
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) DIE("no_new_privs");
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog)) DIE("seccomp: %s", strerror(errno));
	char filters[64];
	snprintf(filters, sizeof filters, "%s", status_field("Seccomp_filters:"));
	kobj_wait();
	struct utsname u;
	errno = 0;
	CHECK(syscall(SYS_uname, &u) == -1 && errno == 77, "uname: %s, want errno 77", strerror(errno));
	long r = syscall(SYS_getpriority, 0, 0);
	CHECK(trapped == 1 && trapnr == SYS_getpriority && traperr == 0x2a, "getpriority %ld: %d SIGSYS, syscall %d, si_errno %d", r, trapped, trapnr, traperr);
	CHECK(getppid() > 0, "getppid %d", getppid());
	CHECK(strcmp(status_field("Seccomp:"), "\t2") == 0, "Seccomp:%s, want 2", status_field("Seccomp:"));
	CHECK(strcmp(status_field("Seccomp_filters:"), filters) == 0, "Seccomp_filters:%s, want%s", status_field("Seccomp_filters:"), filters);
	CHECK(strcmp(status_field("NoNewPrivs:"), "\t1") == 0, "NoNewPrivs:%s", status_field("NoNewPrivs:"));
	errno = 0;
	CHECK(prctl(PR_SET_NO_NEW_PRIVS, 0, 0, 0, 0) == -1, "no_new_privs cleared");
	return kobj_done();
}
