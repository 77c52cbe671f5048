/* A datagram socketpair with SO_PASSCRED: two messages in flight, each
 * with its SCM_CREDENTIALS, and their boundaries. */
#include "kobj.h"
#include <sys/socket.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) < 0) DIE("socketpair: %s", strerror(errno));
	int one = 1;
	setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &one, sizeof one);
	send(sv[0], "first", 5, 0);
	send(sv[0], "second!", 7, 0);
	kobj_wait();
	int v = 0;
	socklen_t l = sizeof v;
	getsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &v, &l);
	CHECK(v == 1, "SO_PASSCRED %d", v);
	const char *want[2] = {"first", "second!"};
	for (int i = 0; i < 2; i++) {
		char buf[64], cb[CMSG_SPACE(sizeof(struct ucred))];
		struct iovec io = {buf, sizeof buf};
		struct msghdr m = {.msg_iov = &io, .msg_iovlen = 1, .msg_control = cb, .msg_controllen = sizeof cb};
		ssize_t n = recvmsg(sv[1], &m, MSG_DONTWAIT);
		CHECK(n == (ssize_t)strlen(want[i]) && memcmp(buf, want[i], n) == 0, "message %d: %zd bytes", i, n);
		struct cmsghdr *c = CMSG_FIRSTHDR(&m);
		CHECK(c && c->cmsg_type == SCM_CREDENTIALS, "message %d: no credentials", i);
		if (c && c->cmsg_type == SCM_CREDENTIALS) {
			struct ucred u;
			memcpy(&u, CMSG_DATA(c), sizeof u);
			CHECK(u.uid == getuid() && u.gid == getgid(), "message %d: cred uid %d gid %d", i, u.uid, u.gid);
			CHECK(u.pid == getpid(), "message %d: cred pid %d, want %d", i, u.pid, getpid());
		}
	}
	CHECK(recv(sv[1], (char[8]){0}, 8, MSG_DONTWAIT) < 0, "a third message");
	return kobj_done();
}
