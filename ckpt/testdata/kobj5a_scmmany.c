/* kobj5a_scmmany: descriptors in flight in numbers: over a stream
 * socketpair, "A" with 250 descriptors (the write end of a pipe 200
 * times, 50 distinct eventfds of counts 1..50), then "B" with 3 (a file,
 * a unix socket, a memfd), the eventfds and the memfd still held at
 * home (one held by nobody is refused: kobj4a_scmsock), the file and the
 * socket (whose peer is closed) not.
 * After the restart each message comes with its descriptors, in order, no
 * MSG_CTRUNC, and each is its object. */
#include "kobj.h"
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>

static void sendfds(int s, const char *data, int *fds, int n) {
	char cbuf[CMSG_SPACE(253 * sizeof(int))];
	memset(cbuf, 0, sizeof cbuf);
	struct iovec iov = {.iov_base = (void *)data, .iov_len = 1};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = CMSG_SPACE(n * sizeof(int))};
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(n * sizeof(int));
	memcpy(CMSG_DATA(c), fds, n * sizeof(int));
	if (sendmsg(s, &mh, 0) != 1) DIE("sendmsg: %s", strerror(errno));
}

static int recvfds(int s, char *data, int *fds, int *flags) {
	char cbuf[CMSG_SPACE(253 * sizeof(int))];
	struct iovec iov = {.iov_base = data, .iov_len = 1};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
	if (recvmsg(s, &mh, MSG_DONTWAIT) != 1) return -1;
	*flags = mh.msg_flags;
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	if (!c || c->cmsg_type != SCM_RIGHTS) return 0;
	int n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
	memcpy(fds, CMSG_DATA(c), n * sizeof(int));
	return n;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int sp[2], p[2];
	socketpair(AF_UNIX, SOCK_STREAM, 0, sp);
	pipe(p);
	int fds[253];
	for (int i = 0; i < 200; i++) fds[i] = p[1];
	for (int i = 0; i < 50; i++) fds[200 + i] = eventfd(i + 1, 0);
	sendfds(sp[0], "A", fds, 250);
	close(p[1]);
	int f = open("scmfile", O_RDWR | O_CREAT | O_TRUNC, 0644);
	write(f, "file", 4);
	int up[2];
	socketpair(AF_UNIX, SOCK_DGRAM, 0, up);
	write(up[1], "sock", 4);
	int mfd = memfd_create("scm", 0);
	write(mfd, "memfd", 5);
	int three[3] = {f, up[0], mfd};
	sendfds(sp[0], "B", three, 3);
	close(f); close(up[0]); close(up[1]); /* the memfd stays: one held by nobody is refused too */
	kobj_wait();
	char d;
	int got[253], fl = 0;
	int n = recvfds(sp[1], &d, got, &fl);
	CHECK(n == 250 && d == 'A' && !(fl & MSG_CTRUNC), "first: %d fds, '%c', flags %#x", n, d, fl);
	if (n == 250) {
		for (int i = 0; i < 200; i++) {
			char c = 'a' + i % 26;
			CHECK(write(got[i], &c, 1) == 1, "pipe copy %d", i);
		}
		for (int i = 0; i < 50; i++) {
			uint64_t v = 0;
			CHECK(read(got[200 + i], &v, 8) == 8 && v == (uint64_t)i + 1, "eventfd %d: %lu", i, (unsigned long)v);
		}
		for (int i = 0; i < 250; i++) close(got[i]);
		char b[256];
		ssize_t r = read(p[0], b, sizeof b);
		CHECK(r == 200 && b[27] == 'b', "the pipe got %zd", r);
		CHECK(read(p[0], b, 1) == 0, "the pipe has another writer");
	}
	n = recvfds(sp[1], &d, got, &fl);
	CHECK(n == 3 && d == 'B', "second: %d fds '%c'", n, d);
	if (n == 3) {
		char b[8] = {0};
		CHECK(pread(got[0], b, 4, 0) == 4 && !memcmp(b, "file", 4), "file");
		CHECK(recv(got[1], b, 8, MSG_DONTWAIT) == 4 && !memcmp(b, "sock", 4), "socket");
		CHECK(pread(got[2], b, 5, 0) == 5 && !memcmp(b, "memfd", 5), "memfd");
	}
	return kobj_done();
}
