/* Socket options of a unix socketpair and a TCP listener: buffer sizes,
 * timeouts, SO_PASSCRED, SO_KEEPALIVE, TCP_NODELAY, SO_REUSEADDR. */
#include "kobj.h"
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>

static int geti(int s, int lvl, int opt) { int v = -1; socklen_t l = sizeof v; getsockopt(s, lvl, opt, &v, &l); return v; }

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int sp[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp)) DIE("socketpair: %s", strerror(errno));
	int v = 65536;
	setsockopt(sp[0], SOL_SOCKET, SO_SNDBUF, &v, sizeof v);
	v = 100000;
	setsockopt(sp[1], SOL_SOCKET, SO_RCVBUF, &v, sizeof v);
	v = 1;
	setsockopt(sp[1], SOL_SOCKET, SO_PASSCRED, &v, sizeof v);
	struct timeval tv = {3, 250000};
	setsockopt(sp[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	int t = socket(AF_INET, SOCK_STREAM, 0);
	v = 1;
	setsockopt(t, SOL_SOCKET, SO_REUSEADDR, &v, sizeof v);
	setsockopt(t, SOL_SOCKET, SO_KEEPALIVE, &v, sizeof v);
	setsockopt(t, IPPROTO_TCP, TCP_NODELAY, &v, sizeof v);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (bind(t, (void *)&a, sizeof a) || listen(t, 7)) DIE("bind: %s", strerror(errno));
	int snd = geti(sp[0], SOL_SOCKET, SO_SNDBUF), rcv = geti(sp[1], SOL_SOCKET, SO_RCVBUF);
	struct timeval tv0 = {0};
	socklen_t l0 = sizeof tv0;
	getsockopt(sp[0], SOL_SOCKET, SO_RCVTIMEO, &tv0, &l0); /* as the kernel rounded it */
	kobj_wait();
	CHECK(geti(sp[0], SOL_SOCKET, SO_SNDBUF) == snd, "SO_SNDBUF %d, was %d", geti(sp[0], SOL_SOCKET, SO_SNDBUF), snd);
	CHECK(geti(sp[1], SOL_SOCKET, SO_RCVBUF) == rcv, "SO_RCVBUF %d, was %d", geti(sp[1], SOL_SOCKET, SO_RCVBUF), rcv);
	CHECK(geti(sp[1], SOL_SOCKET, SO_PASSCRED) == 1, "SO_PASSCRED lost");
	struct timeval g = {0};
	socklen_t l = sizeof g;
	getsockopt(sp[0], SOL_SOCKET, SO_RCVTIMEO, &g, &l);
	CHECK(g.tv_sec == tv0.tv_sec && g.tv_usec == tv0.tv_usec, "SO_RCVTIMEO %ld.%06ld, was %ld.%06ld", g.tv_sec, g.tv_usec, tv0.tv_sec, tv0.tv_usec);
	CHECK(geti(t, SOL_SOCKET, SO_REUSEADDR) == 1, "SO_REUSEADDR lost");
	CHECK(geti(t, SOL_SOCKET, SO_KEEPALIVE) == 1, "SO_KEEPALIVE lost");
	CHECK(geti(t, IPPROTO_TCP, TCP_NODELAY) == 1, "TCP_NODELAY lost");
	return kobj_done();
}
