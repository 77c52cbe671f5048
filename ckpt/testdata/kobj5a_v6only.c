/* kobj5a_v6only: IPv6 listeners: a dual-stack one on [::] (IPV6_V6ONLY
 * 0) accepting IPv4 connections as v4-mapped; on a second port an
 * IPV6_V6ONLY one on [::] beside an IPv4 one on 0.0.0.0. After the
 * restart the options are the same, 127.0.0.1 of the first port reaches
 * the dual listener, of the second the IPv4 one, ::1 the v6only one. */
#include "kobj.h"
#include "kobj5a_inet.h"

static int listen6(int port, int v6only) {
	int l = socket(AF_INET6, SOCK_STREAM, 0);
	iset(l, IPPROTO_IPV6, IPV6_V6ONLY, v6only);
	iset(l, SOL_SOCKET, SO_REUSEADDR, 1);
	struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons(port), .sin6_addr = in6addr_any};
	if (bind(l, (void *)&a, sizeof a) || listen(l, 4)) return -1;
	return l;
}

static int port6(int fd) {
	struct sockaddr_in6 a;
	socklen_t l = sizeof a;
	getsockname(fd, (void *)&a, &l);
	return ntohs(a.sin6_port);
}

static int accepted(int l) {
	fcntl(l, F_SETFL, O_NONBLOCK);
	for (int i = 0; i < 100; i++) {
		int a = accept(l, NULL, NULL);
		if (a >= 0) { close(a); return 1; }
		usleep(10000);
	}
	return 0;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int dual = listen6(0, 0);
	int v6 = listen6(0, 1);
	if (dual < 0 || v6 < 0) DIE("listen6: %s", strerror(errno));
	int q = port6(v6);
	int v4 = socket(AF_INET, SOCK_STREAM, 0);
	iset(v4, SOL_SOCKET, SO_REUSEADDR, 1);
	struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = htons(q)};
	if (bind(v4, (void *)&a4, sizeof a4) || listen(v4, 4)) DIE("v4 on %d: %s", q, strerror(errno));
	int p = port6(dual);
	kobj_wait();
	CHECK(iget(dual, IPPROTO_IPV6, IPV6_V6ONLY) == 0, "dual V6ONLY %d", iget(dual, IPPROTO_IPV6, IPV6_V6ONLY));
	CHECK(iget(v6, IPPROTO_IPV6, IPV6_V6ONLY) == 1, "v6only V6ONLY %d", iget(v6, IPPROTO_IPV6, IPV6_V6ONLY));
	CHECK(port6(dual) == p && port6(v6) == q, "ports");
	int c = connect4(p);
	CHECK(c >= 0 && accepted(dual), "127.0.0.1:%d did not reach the dual listener", p);
	c = connect4(q);
	CHECK(c >= 0 && accepted(v4), "127.0.0.1:%d did not reach the IPv4 listener", q);
	CHECK(!accepted(v6), "the v6only listener got an IPv4 connection");
	int c6 = socket(AF_INET6, SOCK_STREAM, 0);
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons(q), .sin6_addr = in6addr_loopback};
	CHECK(connect(c6, (void *)&a6, sizeof a6) == 0 && accepted(v6), "[::1]:%d did not reach the v6only listener", q);
	return kobj_done();
}
