/* kobj3_scmrights: a seqpacket socketpair with two records in flight, the
 * first carrying (SCM_RIGHTS) the write end of a pipe whose read end the
 * program keeps, closed at home: after the restart the records come back
 * with their bounds, and the received descriptor writes into the kept pipe. */
#include "kobj.h"
#include <sys/socket.h>
#include <sys/uio.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int sp[2], p[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp)) DIE("socketpair");
	if (pipe(p)) DIE("pipe");
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {.iov_base = "first", .iov_len = 5};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &p[1], sizeof(int));
	if (sendmsg(sp[0], &mh, 0) != 5) DIE("sendmsg: %s", strerror(errno));
	close(p[1]);
	if (send(sp[0], "second!", 7, 0) != 7) DIE("send");
	kobj_wait();
	char b[64];
	char cb2[CMSG_SPACE(sizeof(int) * 4)];
	struct iovec iv = {.iov_base = b, .iov_len = sizeof b};
	struct msghdr rm = {.msg_iov = &iv, .msg_iovlen = 1, .msg_control = cb2, .msg_controllen = sizeof cb2};
	ssize_t n = recvmsg(sp[1], &rm, MSG_DONTWAIT);
	CHECK(n == 5 && memcmp(b, "first", 5) == 0, "first record: %zd", n);
	int got = -1;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&rm); c; c = CMSG_NXTHDR(&rm, c))
		if (c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(sizeof(int))) memcpy(&got, CMSG_DATA(c), sizeof(int));
	CHECK(got >= 0, "no descriptor with the first record (controllen %zu)", (size_t)rm.msg_controllen);
	if (got >= 0) {
		CHECK((fcntl(got, F_GETFL) & O_ACCMODE) == O_WRONLY, "received fd flags %#x", fcntl(got, F_GETFL));
		CHECK(write(got, "via", 3) == 3, "write on the received fd: %s", strerror(errno));
		close(got);
		n = read(p[0], b, sizeof b);
		CHECK(n == 3 && memcmp(b, "via", 3) == 0, "the received fd is not the kept pipe: read %zd", n);
		n = read(p[0], b, sizeof b);
		CHECK(n == 0, "the pipe has another writer: read %zd", n);
	}
	n = recv(sp[1], b, sizeof b, MSG_DONTWAIT);
	CHECK(n == 7 && memcmp(b, "second!", 7) == 0, "second record: %zd", n);
	n = recv(sp[1], b, sizeof b, MSG_DONTWAIT);
	CHECK(n < 0 && errno == EAGAIN, "a third record: %zd", n);
	return kobj_done();
}
