/* kobj4a_scmsock: a socket in flight: over a seqpacket socketpair, a
 * record carrying (SCM_RIGHTS) one end of a second socketpair holding
 * "inner", closed at home, its other end kept. After the restart the
 * received socket is the peer of the one kept, with its bytes. With
 * "lone", a second record carries an eventfd (count 5) and a file (offset
 * 3) no process holds any more: refused (in-flight descriptors are
 * restored from copies the tree holds), and left running the program
 * receives both as they were. */
#include "kobj.h"
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

static void sendfds(int s, const char *msg, int *fds, int n) {
	char cb[CMSG_SPACE(3 * sizeof(int))];
	memset(cb, 0, sizeof cb);
	struct iovec iov = {(void *)msg, strlen(msg)};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb, .msg_controllen = CMSG_SPACE(n * sizeof(int))};
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(n * sizeof(int));
	memcpy(CMSG_DATA(c), fds, n * sizeof(int));
	sendmsg(s, &m, 0);
}

static int recvfds(int s, char *buf, int max, int *fds) {
	char cb[CMSG_SPACE(3 * sizeof(int))];
	struct iovec iov = {buf, max};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb, .msg_controllen = sizeof cb};
	int n = recvmsg(s, &m, MSG_DONTWAIT);
	int k = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); n >= 0 && c; c = CMSG_NXTHDR(&m, c))
		if (c->cmsg_type == SCM_RIGHTS) {
			k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			memcpy(fds, CMSG_DATA(c), k * sizeof(int));
		}
	return n < 0 ? -1 : k;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int outer[2], inner[2];
	socketpair(AF_UNIX, SOCK_SEQPACKET, 0, outer);
	socketpair(AF_UNIX, SOCK_STREAM, 0, inner);
	send(inner[0], "inner", 5, 0);
	sendfds(outer[0], "sock", &inner[1], 1);
	close(inner[1]);
	int lone = argc > 2 && strcmp(argv[2], "lone") == 0;
	int ev = eventfd(5, 0);
	int f = open("scm-file", O_RDWR | O_CREAT | O_TRUNC, 0644);
	write(f, "0123456789", 10);
	lseek(f, 3, SEEK_SET);
	int two[2] = {ev, f};
	if (lone) sendfds(outer[0], "two", two, 2);
	close(ev);
	close(f);
	kobj_wait();
	char b[16] = {0};
	int fds[3];
	int k = recvfds(outer[1], b, sizeof b, fds);
	CHECK(k == 1 && strcmp(b, "sock") == 0, "first record: %d fds '%s'", k, b);
	if (k == 1) {
		char x[8] = {0};
		CHECK(recv(fds[0], x, sizeof x, MSG_DONTWAIT) == 5 && strcmp(x, "inner") == 0, "the received socket holds '%s'", x);
		send(fds[0], "back", 4, 0);
		CHECK(recv(inner[0], x, sizeof x, MSG_DONTWAIT) == 4, "the received socket is not inner[0]'s peer");
	}
	memset(b, 0, sizeof b);
	k = recvfds(outer[1], b, sizeof b, fds);
	if (!lone) CHECK(k < 0 && errno == EAGAIN, "a second record");
	if (lone) CHECK(k == 2 && strcmp(b, "two") == 0, "second record: %d fds '%s'", k, b);
	if (k == 2) {
		uint64_t v = 0;
		CHECK(read(fds[0], &v, 8) == 8 && v == 5, "eventfd count %lu", (unsigned long)v);
		CHECK(lseek(fds[1], 0, SEEK_CUR) == 3, "file offset %ld", (long)lseek(fds[1], 0, SEEK_CUR));
	}
	return kobj_done();
}
