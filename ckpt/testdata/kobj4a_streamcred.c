/* kobj4a_streamcred: a stream socketpair whose receiving end has
 * SO_PASSCRED: two sends (of a parent and of its child, which waits) wait
 * with their credentials; the reader gets each with its SCM_CREDENTIALS
 * pid, uid and gid, in its own read (different senders are not merged
 * into one read). With "exited" the child has exited and been reaped:
 * the kernel still gives its pid, which no restored sender can name
 * again (refused). */
#include "kobj.h"
#include <sys/socket.h>
#include <sys/wait.h>

static int readcred(int s, char *buf, int max, struct ucred *uc) {
	char cb[CMSG_SPACE(sizeof(struct ucred))];
	struct iovec iov = {buf, max};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb, .msg_controllen = sizeof cb};
	int n = recvmsg(s, &m, MSG_DONTWAIT);
	memset(uc, 0, sizeof *uc);
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); n >= 0 && c; c = CMSG_NXTHDR(&m, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) memcpy(uc, CMSG_DATA(c), sizeof *uc);
	return n;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int sp[2];
	socketpair(AF_UNIX, SOCK_STREAM, 0, sp);
	int one = 1;
	setsockopt(sp[1], SOL_SOCKET, SO_PASSCRED, &one, sizeof one);
	int exited = argc > 2 && strcmp(argv[2], "exited") == 0;
	int go[2];
	pipe(go);
	send(sp[0], "parent", 6, 0);
	pid_t c = fork();
	if (c == 0) {
		send(sp[0], "child", 5, 0);
		char x;
		if (!exited)
			while (read(go[0], &x, 1) < 0 && errno == EINTR) {}
		_exit(0);
	}
	int st;
	if (exited) waitpid(c, &st, 0);
	usleep(100000);
	kobj_wait();
	char b[64];
	struct ucred uc;
	int n = readcred(sp[1], b, sizeof b, &uc);
	CHECK(n == 6 && memcmp(b, "parent", 6) == 0, "first read %d", n);
	CHECK(uc.pid == getpid() && uc.uid == getuid() && uc.gid == getgid(), "first credentials %d %d %d", uc.pid, uc.uid, uc.gid);
	n = readcred(sp[1], b, sizeof b, &uc);
	CHECK(n == 5 && memcmp(b, "child", 5) == 0, "second read %d", n);
	CHECK(uc.pid == c && uc.uid == getuid(), "second credentials pid %d, want %d", uc.pid, c);
	if (!exited) {
		write(go[1], "x", 1);
		waitpid(c, &st, 0);
	}
	return kobj_done();
}
