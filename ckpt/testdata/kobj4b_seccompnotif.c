/* kobj4b_seccompnotif: a seccomp filter whose getppid rule is
 * SECCOMP_RET_USER_NOTIF, its listener descriptor held by the process
 * that installed it; a child forked after it (under the filter) calls
 * getppid after the restart and the parent answers through the listener
 * (4242). The listener is an object of the filter only the kernel holds:
 * refused, and the program left running still gets its answer. */
#include "kobj.h"
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {.len = sizeof f / sizeof f[0], .filter = f};
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	int l = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
	if (l < 0) DIE("seccomp NEW_LISTENER: %s", strerror(errno));
	pid_t c = fork();
	if (c == 0) {
		close(l);
		kobj_go = 0;
		sigset_t cur;
		sigprocmask(SIG_BLOCK, NULL, &cur);
		sigdelset(&cur, SIGUSR1);
		while (!kobj_go) sigsuspend(&cur);
		long r = syscall(SYS_getppid);
		_exit(r == 4242 ? 0 : 1);
	}
	kobj_wait();
	struct seccomp_notif req;
	memset(&req, 0, sizeof req);
	if (ioctl(l, SECCOMP_IOCTL_NOTIF_RECV, &req)) kobj_fail("NOTIF_RECV: %s", strerror(errno));
	else {
		CHECK(req.data.nr == SYS_getppid && req.pid == c, "notification of syscall %d from %d", req.data.nr, req.pid);
		struct seccomp_notif_resp resp = {.id = req.id, .val = 4242};
		CHECK(ioctl(l, SECCOMP_IOCTL_NOTIF_SEND, &resp) == 0, "NOTIF_SEND: %s", strerror(errno));
	}
	int st;
	waitpid(c, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child: %#x (its getppid was not answered)", st);
	return kobj_done();
}
