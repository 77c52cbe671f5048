/* kobj4a_inettimeo: options of IP sockets that are not plain integers or
 * are set before connecting: SO_RCVTIMEO and SO_SNDTIMEO on a UDP socket
 * and a TCP connection, SO_BINDTODEVICE lo and SO_MARK on the UDP one,
 * TCP_MAXSEG set before connect and TCP_CORK on the connection. */
#include "kobj.h"
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>

static int geti(int s, int lvl, int opt) { int v = -1; socklen_t l = sizeof v; getsockopt(s, lvl, opt, &v, &l); return v; }
static void seti(int s, int lvl, int opt, int v) {
	if (setsockopt(s, lvl, opt, &v, sizeof v)) kobj_fail("setsockopt %d/%d: %s", lvl, opt, strerror(errno));
}
static struct timeval gettv(int s, int opt) {
	struct timeval tv = {-1, -1};
	socklen_t l = sizeof tv;
	getsockopt(s, SOL_SOCKET, opt, &tv, &l);
	return tv;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int u = socket(AF_INET, SOCK_DGRAM, 0);
	struct timeval r = {2, 500000}, w = {0, 750000};
	setsockopt(u, SOL_SOCKET, SO_RCVTIMEO, &r, sizeof r);
	setsockopt(u, SOL_SOCKET, SO_SNDTIMEO, &w, sizeof w);
	if (setsockopt(u, SOL_SOCKET, SO_BINDTODEVICE, "lo", 3)) kobj_fail("SO_BINDTODEVICE: %s", strerror(errno));
	seti(u, SOL_SOCKET, SO_MARK, 0x4a);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	bind(u, (void *)&a, sizeof a);
	int l = socket(AF_INET, SOCK_STREAM, 0);
	bind(l, (void *)&a, sizeof a);
	listen(l, 2);
	socklen_t al = sizeof a;
	getsockname(l, (void *)&a, &al);
	int c = socket(AF_INET, SOCK_STREAM, 0);
	seti(c, IPPROTO_TCP, TCP_MAXSEG, 1000);
	if (connect(c, (void *)&a, sizeof a)) DIE("connect: %s", strerror(errno));
	int s = accept(l, NULL, NULL);
	setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &r, sizeof r);
	setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &w, sizeof w);
	seti(c, IPPROTO_TCP, TCP_CORK, 1);
	struct timeval ur = gettv(u, SO_RCVTIMEO), uw = gettv(u, SO_SNDTIMEO), cr = gettv(c, SO_RCVTIMEO), sw = gettv(s, SO_SNDTIMEO);
	int mss = geti(c, IPPROTO_TCP, TCP_MAXSEG);
	kobj_wait();
	struct timeval g;
	g = gettv(u, SO_RCVTIMEO);
	CHECK(g.tv_sec == ur.tv_sec && g.tv_usec == ur.tv_usec, "udp SO_RCVTIMEO %ld.%06ld", g.tv_sec, g.tv_usec);
	g = gettv(u, SO_SNDTIMEO);
	CHECK(g.tv_sec == uw.tv_sec && g.tv_usec == uw.tv_usec, "udp SO_SNDTIMEO %ld.%06ld", g.tv_sec, g.tv_usec);
	g = gettv(c, SO_RCVTIMEO);
	CHECK(g.tv_sec == cr.tv_sec && g.tv_usec == cr.tv_usec, "tcp SO_RCVTIMEO %ld.%06ld", g.tv_sec, g.tv_usec);
	g = gettv(s, SO_SNDTIMEO);
	CHECK(g.tv_sec == sw.tv_sec && g.tv_usec == sw.tv_usec, "tcp SO_SNDTIMEO %ld.%06ld", g.tv_sec, g.tv_usec);
	char dev[16] = {0};
	socklen_t dl = sizeof dev;
	getsockopt(u, SOL_SOCKET, SO_BINDTODEVICE, dev, &dl);
	CHECK(strcmp(dev, "lo") == 0, "SO_BINDTODEVICE '%s'", dev);
	CHECK(geti(u, SOL_SOCKET, SO_MARK) == 0x4a, "SO_MARK %#x", geti(u, SOL_SOCKET, SO_MARK));
	CHECK(geti(c, IPPROTO_TCP, TCP_CORK) == 1, "TCP_CORK %d", geti(c, IPPROTO_TCP, TCP_CORK));
	CHECK(geti(c, IPPROTO_TCP, TCP_MAXSEG) == mss, "TCP_MAXSEG %d, was %d", geti(c, IPPROTO_TCP, TCP_MAXSEG), mss);
	return kobj_done();
}
