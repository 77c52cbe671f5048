/* kobj4a_unixdgramsrc: an unconnected datagram socket bound to a path,
 * holding datagrams from three senders: one bound to a path, one to an
 * abstract name, one unbound; and a fourth socket connected to it that
 * sent nothing. recvfrom gives each with its sender's address, in order,
 * after the restart; replies reach the bound senders. */
#include "kobj.h"
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

static socklen_t path_addr(struct sockaddr_un *a, const char *p) {
	memset(a, 0, sizeof *a);
	a->sun_family = AF_UNIX;
	strcpy(a->sun_path, p);
	return offsetof(struct sockaddr_un, sun_path) + strlen(p) + 1;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	struct sockaddr_un srv, s1, s2;
	socklen_t srvl = path_addr(&srv, "uds-srv.sock"), s1l = path_addr(&s1, "uds-one.sock");
	memset(&s2, 0, sizeof s2);
	s2.sun_family = AF_UNIX;
	char an[64];
	int anl = snprintf(an, sizeof an, "kobj4a-uds-%d", getpid());
	memcpy(s2.sun_path + 1, an, anl);
	socklen_t s2l = offsetof(struct sockaddr_un, sun_path) + 1 + anl;
	unlink("uds-srv.sock");
	unlink("uds-one.sock");
	int sv = socket(AF_UNIX, SOCK_DGRAM, 0), a = socket(AF_UNIX, SOCK_DGRAM, 0), b = socket(AF_UNIX, SOCK_DGRAM, 0), u = socket(AF_UNIX, SOCK_DGRAM, 0), k = socket(AF_UNIX, SOCK_DGRAM, 0);
	if (bind(sv, (void *)&srv, srvl) || bind(a, (void *)&s1, s1l) || bind(b, (void *)&s2, s2l)) DIE("bind: %s", strerror(errno));
	if (connect(k, (void *)&srv, srvl)) DIE("connect: %s", strerror(errno));
	sendto(a, "from-path", 9, 0, (void *)&srv, srvl);
	sendto(b, "from-abstract", 13, 0, (void *)&srv, srvl);
	sendto(u, "anon", 4, 0, (void *)&srv, srvl);
	sendto(a, "", 0, 0, (void *)&srv, srvl);
	kobj_wait();
	const char *want[4] = {"from-path", "from-abstract", "anon", ""};
	struct sockaddr_un *wa[4] = {&s1, &s2, NULL, &s1};
	socklen_t wl[4] = {s1l, s2l, 0, s1l};
	for (int i = 0; i < 4; i++) {
		char buf[64];
		struct sockaddr_un from;
		socklen_t fl = sizeof from;
		ssize_t n = recvfrom(sv, buf, sizeof buf, MSG_DONTWAIT, (void *)&from, &fl);
		CHECK(n == (ssize_t)strlen(want[i]) && memcmp(buf, want[i], n) == 0, "datagram %d: %zd", i, n);
		if (wa[i])
			CHECK(fl == wl[i] && memcmp(&from, wa[i], fl) == 0, "datagram %d: sender address differs (len %u, want %u: '%s')", i, fl, wl[i], from.sun_path[0] ? from.sun_path : from.sun_path + 1);
		else
			CHECK(fl == 0, "datagram %d: unbound sender has an address (len %u)", i, fl);
	}
	char buf[16];
	CHECK(recv(sv, buf, sizeof buf, MSG_DONTWAIT) < 0 && errno == EAGAIN, "more datagrams");
	sendto(sv, "r1", 2, 0, (void *)&s1, s1l);
	sendto(sv, "r2", 2, 0, (void *)&s2, s2l);
	CHECK(recv(a, buf, sizeof buf, MSG_DONTWAIT) == 2, "reply to the path sender");
	CHECK(recv(b, buf, sizeof buf, MSG_DONTWAIT) == 2, "reply to the abstract sender");
	CHECK(send(k, "k", 1, 0) == 1 && recv(sv, buf, sizeof buf, MSG_DONTWAIT) == 1, "the connected socket");
	return kobj_done();
}
