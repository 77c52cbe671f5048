/* kobj4a_udpopts: UDP sockets with options of their own: IP_TOS, IP_TTL,
 * IP_MULTICAST_TTL, IP_MULTICAST_LOOP off, SO_BROADCAST, IP_RECVTOS and
 * IP_PKTINFO (ancillary data on receive), and two datagrams queued on the
 * receiver; each reads back and the datagrams come with their IP_TOS and
 * IP_PKTINFO messages. */
#include "kobj.h"
#include <netinet/in.h>
#include <netinet/ip.h>
#include <sys/socket.h>

static int geti(int s, int lvl, int opt) { int v = -1; socklen_t l = sizeof v; getsockopt(s, lvl, opt, &v, &l); return v; }
static void seti(int s, int lvl, int opt, int v) {
	if (setsockopt(s, lvl, opt, &v, sizeof v)) kobj_fail("setsockopt %d/%d: %s", lvl, opt, strerror(errno));
}

struct opt { int lvl, opt; const char *name; int v; };

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int r = socket(AF_INET, SOCK_DGRAM, 0), s = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (bind(r, (void *)&a, sizeof a)) DIE("bind: %s", strerror(errno));
	socklen_t al = sizeof a;
	getsockname(r, (void *)&a, &al);
	struct opt so[] = {
		{IPPROTO_IP, IP_TOS, "IP_TOS", 0x10},
		{IPPROTO_IP, IP_TTL, "IP_TTL", 3},
		{IPPROTO_IP, IP_MULTICAST_TTL, "IP_MULTICAST_TTL", 9},
		{IPPROTO_IP, IP_MULTICAST_LOOP, "IP_MULTICAST_LOOP", 0},
		{SOL_SOCKET, SO_BROADCAST, "SO_BROADCAST", 1},
	};
	struct opt ro[] = {
		{IPPROTO_IP, IP_RECVTOS, "IP_RECVTOS", 1},
		{IPPROTO_IP, IP_PKTINFO, "IP_PKTINFO", 1},
		{IPPROTO_IP, IP_RECVTTL, "IP_RECVTTL", 1},
	};
	for (unsigned i = 0; i < sizeof so / sizeof so[0]; i++) seti(s, so[i].lvl, so[i].opt, so[i].v);
	for (unsigned i = 0; i < sizeof ro / sizeof ro[0]; i++) seti(r, ro[i].lvl, ro[i].opt, ro[i].v);
	sendto(s, "one", 3, 0, (void *)&a, sizeof a);
	sendto(s, "second", 6, 0, (void *)&a, sizeof a);
	usleep(50000);
	kobj_wait();
	for (unsigned i = 0; i < sizeof so / sizeof so[0]; i++)
		CHECK(geti(s, so[i].lvl, so[i].opt) == so[i].v, "%s %d, was %d", so[i].name, geti(s, so[i].lvl, so[i].opt), so[i].v);
	for (unsigned i = 0; i < sizeof ro / sizeof ro[0]; i++)
		CHECK(geti(r, ro[i].lvl, ro[i].opt) == ro[i].v, "%s %d, was %d", ro[i].name, geti(r, ro[i].lvl, ro[i].opt), ro[i].v);
	/* A datagram sent now carries the TOS and TTL: the receiver says so. */
	sendto(s, "third", 5, 0, (void *)&a, sizeof a);
	const char *want[3] = {"one", "second", "third"};
	for (int i = 0; i < 3; i++) {
		char buf[32], cb[256];
		struct iovec iov = {buf, sizeof buf};
		struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb, .msg_controllen = sizeof cb};
		ssize_t n = -1;
		for (int k = 0; k < 100 && n < 0; k++) {
			n = recvmsg(r, &m, MSG_DONTWAIT);
			if (n < 0) usleep(10000);
		}
		CHECK(n == (ssize_t)strlen(want[i]) && memcmp(buf, want[i], n) == 0, "datagram %d: %zd", i, n);
		int tos = -1, ttl = -1, pkt = 0;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); n >= 0 && c; c = CMSG_NXTHDR(&m, c)) {
			if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TOS) tos = *(unsigned char *)CMSG_DATA(c);
			if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL) ttl = *(int *)CMSG_DATA(c);
			if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) pkt = 1;
		}
		if (i == 2) CHECK(tos == 0x10 && ttl == 3 && pkt, "datagram %d: tos %#x ttl %d pktinfo %d", i, tos, ttl, pkt);
	}
	return kobj_done();
}
