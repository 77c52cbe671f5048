/* kobj5a_seqbounds: a seqpacket socketpair (SO_SNDBUF raised) holding
 * records of 0, 1, 5000 and 100000 bytes and one of 10 to be read short
 * (MSG_TRUNC: the rest is dropped); a datagram pair holding a 0-byte
 * datagram. After the restart each read gives one record, its length. */
#include "kobj.h"
#include <sys/socket.h>

static unsigned char big[100000];

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int sp[2], dp[2];
	socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp);
	socketpair(AF_UNIX, SOCK_DGRAM, 0, dp);
	int sz = 1 << 20;
	setsockopt(sp[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
	for (int i = 0; i < (int)sizeof big; i++) big[i] = i % 241;
	int lens[] = {0, 1, 5000, 100000, 10};
	for (int i = 0; i < 5; i++)
		if (send(sp[0], big, lens[i], 0) != lens[i]) DIE("send %d: %s", lens[i], strerror(errno));
	send(dp[0], "", 0, 0);
	kobj_wait();
	static unsigned char got[200000];
	for (int i = 0; i < 4; i++) {
		struct iovec iov = {.iov_base = got, .iov_len = sizeof got};
		struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
		ssize_t n = recvmsg(sp[1], &mh, MSG_DONTWAIT);
		CHECK(n == lens[i] && memcmp(got, big, n > 0 ? n : 0) == 0 && !(mh.msg_flags & MSG_TRUNC), "record %d: %zd, want %d", i, n, lens[i]);
	}
	struct iovec iov = {.iov_base = got, .iov_len = 4};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	ssize_t n = recvmsg(sp[1], &mh, MSG_DONTWAIT);
	CHECK(n == 4 && (mh.msg_flags & MSG_TRUNC), "short read: %zd flags %#x", n, mh.msg_flags);
	n = recv(sp[1], got, sizeof got, MSG_DONTWAIT);
	CHECK(n < 0 && errno == EAGAIN, "after the records: %zd", n);
	n = recv(dp[1], got, sizeof got, MSG_DONTWAIT);
	CHECK(n == 0, "empty datagram: %zd", n);
	n = recv(dp[1], got, sizeof got, MSG_DONTWAIT);
	CHECK(n < 0 && errno == EAGAIN, "after the empty datagram: %zd", n);
	return kobj_done();
}
