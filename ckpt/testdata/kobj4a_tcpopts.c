/* kobj4a_tcpopts: an established loopback TCP connection (both ends in
 * the program, bytes queued both ways) with options a new socket would
 * not have: IP_TOS, IP_TTL, SO_LINGER, SO_RCVLOWAT, SO_PRIORITY,
 * TCP_USER_TIMEOUT, TCP_KEEPIDLE/INTVL/CNT, TCP_CONGESTION, TCP_NOTSENT_LOWAT,
 * SO_OOBINLINE, and on the listener TCP_DEFER_ACCEPT. Each reads back. */
#include "kobj.h"
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

static int geti(int s, int lvl, int opt) { int v = -1; socklen_t l = sizeof v; getsockopt(s, lvl, opt, &v, &l); return v; }
static void seti(int s, int lvl, int opt, int v) {
	if (setsockopt(s, lvl, opt, &v, sizeof v)) kobj_fail("setsockopt %d/%d: %s", lvl, opt, strerror(errno));
}

struct opt { int lvl, opt; const char *name; int v; };

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int l = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (bind(l, (void *)&a, sizeof a) || listen(l, 4)) DIE("listen: %s", strerror(errno));
	socklen_t al = sizeof a;
	getsockname(l, (void *)&a, &al);
	int c = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(c, (void *)&a, sizeof a)) DIE("connect: %s", strerror(errno));
	int s = accept(l, NULL, NULL);
	struct opt opts[] = {
		{IPPROTO_IP, IP_TOS, "IP_TOS", 0x28},
		{IPPROTO_IP, IP_TTL, "IP_TTL", 17},
		{SOL_SOCKET, SO_RCVLOWAT, "SO_RCVLOWAT", 3},
		{SOL_SOCKET, SO_PRIORITY, "SO_PRIORITY", 5},
		{SOL_SOCKET, SO_OOBINLINE, "SO_OOBINLINE", 1},
		{IPPROTO_TCP, TCP_USER_TIMEOUT, "TCP_USER_TIMEOUT", 12345},
		{IPPROTO_TCP, TCP_KEEPIDLE, "TCP_KEEPIDLE", 77},
		{IPPROTO_TCP, TCP_KEEPINTVL, "TCP_KEEPINTVL", 9},
		{IPPROTO_TCP, TCP_KEEPCNT, "TCP_KEEPCNT", 4},
		{IPPROTO_TCP, TCP_NOTSENT_LOWAT, "TCP_NOTSENT_LOWAT", 8192},
	};
	int nopt = sizeof opts / sizeof opts[0];
	for (int i = 0; i < nopt; i++) seti(s, opts[i].lvl, opts[i].opt, opts[i].v);
	struct linger lg = {1, 7};
	setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
	if (setsockopt(c, IPPROTO_TCP, TCP_CONGESTION, "reno", 4)) kobj_fail("TCP_CONGESTION reno: %s", strerror(errno));
	seti(l, IPPROTO_TCP, TCP_DEFER_ACCEPT, 5);
	int defer = geti(l, IPPROTO_TCP, TCP_DEFER_ACCEPT); /* rounded to retransmits */
	send(c, "to-server", 9, 0);
	send(s, "to-client!", 10, 0);
	usleep(100000);
	kobj_wait();
	for (int i = 0; i < nopt; i++)
		CHECK(geti(s, opts[i].lvl, opts[i].opt) == opts[i].v, "%s %d, was %d", opts[i].name, geti(s, opts[i].lvl, opts[i].opt), opts[i].v);
	struct linger g = {0};
	socklen_t gl = sizeof g;
	getsockopt(s, SOL_SOCKET, SO_LINGER, &g, &gl);
	CHECK(g.l_onoff == 1 && g.l_linger == 7, "SO_LINGER %d %d", g.l_onoff, g.l_linger);
	char cc[16] = {0};
	socklen_t cl = sizeof cc;
	getsockopt(c, IPPROTO_TCP, TCP_CONGESTION, cc, &cl);
	CHECK(strcmp(cc, "reno") == 0, "TCP_CONGESTION %s", cc);
	CHECK(geti(l, IPPROTO_TCP, TCP_DEFER_ACCEPT) == defer, "TCP_DEFER_ACCEPT %d, was %d", geti(l, IPPROTO_TCP, TCP_DEFER_ACCEPT), defer);
	char b[32] = {0};
	CHECK(recv(s, b, sizeof b, MSG_DONTWAIT) == 9 && strcmp(b, "to-server") == 0, "server got '%s'", b);
	memset(b, 0, sizeof b);
	CHECK(recv(c, b, sizeof b, MSG_DONTWAIT) == 10 && strcmp(b, "to-client!") == 0, "client got '%s'", b);
	return kobj_done();
}
