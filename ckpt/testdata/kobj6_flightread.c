/* kobj6_flightread: the read end of a pipe in flight (SCM_RIGHTS) in a
 * datagram socketpair, with bytes buffered in the pipe; the program keeps
 * only the write end. After the restart the received read end must give
 * the bytes that were buffered, then what the kept write end writes. Modes:
 *   (none)  "pipedata" buffered;
 *   packet  the pipe in packet mode (O_DIRECT), two packets buffered:
 *           read back one at a time. */
#include "kobj.h"
#include <sys/socket.h>
#include <sys/uio.h>

static int recv_fd(int s, char *b, size_t len, ssize_t *n) {
	char cb[CMSG_SPACE(sizeof(int) * 4)];
	struct iovec iv = {.iov_base = b, .iov_len = len};
	struct msghdr m = {.msg_iov = &iv, .msg_iovlen = 1, .msg_control = cb, .msg_controllen = sizeof cb};
	*n = recvmsg(s, &m, MSG_DONTWAIT);
	int fd = -1;
	if (*n < 0) return -1;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
		if (c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(sizeof(int))) memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int packet = argc > 2 && !strcmp(argv[2], "packet");
	int sp[2], p[2];
	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sp)) DIE("socketpair");
	if (pipe2(p, packet ? O_DIRECT : 0)) DIE("pipe2: %s", strerror(errno));
	if (packet) {
		if (write(p[1], "one", 3) != 3 || write(p[1], "two!", 4) != 4) DIE("write");
	} else if (write(p[1], "pipedata", 8) != 8) DIE("write");
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {.iov_base = "end", .iov_len = 3};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &p[0], sizeof(int));
	if (sendmsg(sp[0], &mh, 0) != 3) DIE("sendmsg: %s", strerror(errno));
	close(p[0]);
	kobj_wait();
	char b[64] = {0};
	ssize_t n;
	int r = recv_fd(sp[1], b, sizeof b, &n);
	CHECK(n == 3 && !memcmp(b, "end", 3), "the message: %zd %s", n, b);
	CHECK(r >= 0, "no descriptor with the message");
	if (r >= 0) {
		CHECK((fcntl(r, F_GETFL) & O_ACCMODE) == O_RDONLY, "received fd flags %#x", fcntl(r, F_GETFL));
		fcntl(r, F_SETFL, fcntl(r, F_GETFL) | O_NONBLOCK);
		memset(b, 0, sizeof b);
		if (packet) {
			n = read(r, b, sizeof b);
			CHECK(n == 3 && !memcmp(b, "one", 3), "first packet: %zd %s (%s)", n, b, n < 0 ? strerror(errno) : "");
			n = read(r, b, sizeof b);
			CHECK(n == 4 && !memcmp(b, "two!", 4), "second packet: %zd %s (%s)", n, b, n < 0 ? strerror(errno) : "");
		} else {
			n = read(r, b, sizeof b);
			CHECK(n == 8 && !memcmp(b, "pipedata", 8), "the buffered bytes: %zd \"%s\" (%s)", n, b, n < 0 ? strerror(errno) : "");
		}
		n = read(r, b, sizeof b);
		CHECK(n < 0 && errno == EAGAIN, "more in the pipe: %zd", n);
		CHECK(write(p[1], "Z", 1) == 1, "write the kept end: %s", strerror(errno));
		n = read(r, b, sizeof b);
		CHECK(n == 1 && b[0] == 'Z', "the received end is not the kept pipe's: %zd", n);
		close(p[1]);
		n = read(r, b, sizeof b);
		CHECK(n == 0, "the pipe has another writer: %zd", n);
	}
	return kobj_done();
}
