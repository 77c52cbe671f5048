/* kobj5a_udpconn: UDP sockets: one bound to an ephemeral port and
 * connected to a second one (which holds a datagram from it), a third
 * that sends to the connected one from elsewhere (filtered: not
 * received), a fourth connected then disconnected (AF_UNSPEC). After the
 * restart ports, peers and filtering are as they were. */
#include "kobj.h"
#include "kobj5a_inet.h"

static struct sockaddr_in lo(int port) {
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	return a;
}

static int port(int fd) {
	struct sockaddr_in a;
	socklen_t l = sizeof a;
	if (getsockname(fd, (void *)&a, &l)) return -1;
	return ntohs(a.sin_port);
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int srv = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = lo(0);
	bind(srv, (void *)&a, sizeof a);
	int conn = socket(AF_INET, SOCK_DGRAM, 0);
	bind(conn, (void *)&a, sizeof a);
	a = lo(port(srv));
	if (connect(conn, (void *)&a, sizeof a)) DIE("connect: %s", strerror(errno));
	send(conn, "to-srv", 6, 0);
	int other = socket(AF_INET, SOCK_DGRAM, 0);
	int dis = socket(AF_INET, SOCK_DGRAM, 0);
	connect(dis, (void *)&a, sizeof a);
	struct sockaddr un = {.sa_family = AF_UNSPEC};
	connect(dis, &un, sizeof un);
	int ps = port(srv), pc = port(conn), pd = port(dis);
	usleep(20000);
	kobj_wait();
	CHECK(port(srv) == ps && port(conn) == pc && port(dis) == pd, "ports %d %d %d, were %d %d %d", port(srv), port(conn), port(dis), ps, pc, pd);
	struct sockaddr_in p;
	socklen_t pl = sizeof p;
	CHECK(getpeername(conn, (void *)&p, &pl) == 0 && ntohs(p.sin_port) == ps, "peer of the connected: %s", strerror(errno));
	pl = sizeof p;
	CHECK(getpeername(dis, (void *)&p, &pl) < 0 && errno == ENOTCONN, "the disconnected has a peer");
	char b[16] = {0};
	struct sockaddr_in from;
	socklen_t fl = sizeof from;
	ssize_t n = recvfrom(srv, b, sizeof b, MSG_DONTWAIT, (void *)&from, &fl);
	CHECK(n == 6 && ntohs(from.sin_port) == pc, "queued datagram: %zd from %d", n, ntohs(from.sin_port));
	a = lo(pc);
	sendto(other, "stranger", 8, 0, (void *)&a, sizeof a);
	sendto(srv, "reply", 5, 0, (void *)&a, sizeof a);
	usleep(20000);
	n = recv(conn, b, sizeof b, MSG_DONTWAIT);
	CHECK(n == 5 && memcmp(b, "reply", 5) == 0, "the connected got %zd '%.*s'", n, (int)(n > 0 ? n : 0), b);
	n = recv(conn, b, sizeof b, MSG_DONTWAIT);
	CHECK(n < 0, "the connected got a stranger's datagram");
	CHECK(send(conn, "again", 5, 0) == 5 && recv(srv, b, sizeof b, MSG_DONTWAIT) == 5, "send without address");
	return kobj_done();
}
