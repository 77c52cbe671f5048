/* kobj4a_udp6opts: IPv6 sockets with options of their own: a UDP socket
 * IPV6_V6ONLY with IPV6_TCLASS, IPV6_UNICAST_HOPS and IPV6_RECVPKTINFO,
 * holding a datagram from a second one; an established TCP connection
 * over ::1 with IPV6_TCLASS on one end. Each reads back; a datagram sent
 * after the restart comes with its IPV6_PKTINFO. */
#include "kobj.h"
#include <netinet/in.h>
#include <sys/socket.h>

static int geti(int s, int lvl, int opt) { int v = -1; socklen_t l = sizeof v; getsockopt(s, lvl, opt, &v, &l); return v; }
static void seti(int s, int lvl, int opt, int v) {
	if (setsockopt(s, lvl, opt, &v, sizeof v)) kobj_fail("setsockopt %d/%d: %s", lvl, opt, strerror(errno));
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int r = socket(AF_INET6, SOCK_DGRAM, 0), s = socket(AF_INET6, SOCK_DGRAM, 0);
	struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	seti(r, IPPROTO_IPV6, IPV6_V6ONLY, 1);
	if (bind(r, (void *)&a, sizeof a)) DIE("bind: %s", strerror(errno));
	socklen_t al = sizeof a;
	getsockname(r, (void *)&a, &al);
	seti(r, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1);
	seti(s, IPPROTO_IPV6, IPV6_TCLASS, 0x20);
	seti(s, IPPROTO_IPV6, IPV6_UNICAST_HOPS, 7);
	sendto(s, "six", 3, 0, (void *)&a, sizeof a);
	int l = socket(AF_INET6, SOCK_STREAM, 0);
	struct sockaddr_in6 la = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	if (bind(l, (void *)&la, sizeof la) || listen(l, 2)) DIE("listen: %s", strerror(errno));
	al = sizeof la;
	getsockname(l, (void *)&la, &al);
	int c = socket(AF_INET6, SOCK_STREAM, 0);
	if (connect(c, (void *)&la, sizeof la)) DIE("connect: %s", strerror(errno));
	int t = accept(l, NULL, NULL);
	seti(t, IPPROTO_IPV6, IPV6_TCLASS, 0x48);
	send(c, "tcp6", 4, 0);
	usleep(50000);
	kobj_wait();
	CHECK(geti(r, IPPROTO_IPV6, IPV6_V6ONLY) == 1, "IPV6_V6ONLY");
	CHECK(geti(r, IPPROTO_IPV6, IPV6_RECVPKTINFO) == 1, "IPV6_RECVPKTINFO %d", geti(r, IPPROTO_IPV6, IPV6_RECVPKTINFO));
	CHECK(geti(s, IPPROTO_IPV6, IPV6_TCLASS) == 0x20, "IPV6_TCLASS %#x", geti(s, IPPROTO_IPV6, IPV6_TCLASS));
	CHECK(geti(s, IPPROTO_IPV6, IPV6_UNICAST_HOPS) == 7, "IPV6_UNICAST_HOPS %d", geti(s, IPPROTO_IPV6, IPV6_UNICAST_HOPS));
	CHECK(geti(t, IPPROTO_IPV6, IPV6_TCLASS) == 0x48, "tcp IPV6_TCLASS %#x", geti(t, IPPROTO_IPV6, IPV6_TCLASS));
	sendto(s, "later", 5, 0, (void *)&a, sizeof a);
	const char *want[2] = {"six", "later"};
	for (int i = 0; i < 2; i++) {
		char buf[32], cb[256];
		struct iovec iov = {buf, sizeof buf};
		struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb, .msg_controllen = sizeof cb};
		ssize_t n = -1;
		for (int k = 0; k < 100 && n < 0; k++) {
			n = recvmsg(r, &m, MSG_DONTWAIT);
			if (n < 0) usleep(10000);
		}
		CHECK(n == (ssize_t)strlen(want[i]) && memcmp(buf, want[i], n) == 0, "datagram %d: %zd", i, n);
		int pkt = 0;
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&m); n >= 0 && cm; cm = CMSG_NXTHDR(&m, cm))
			if (cm->cmsg_level == IPPROTO_IPV6 && cm->cmsg_type == IPV6_PKTINFO) pkt = 1;
		if (i == 1) CHECK(pkt, "datagram %d: no IPV6_PKTINFO", i);
	}
	char b[8] = {0};
	CHECK(recv(t, b, sizeof b, MSG_DONTWAIT) == 4 && strcmp(b, "tcp6") == 0, "tcp6 got '%s'", b);
	return kobj_done();
}
