/* kobj5a_reuseport: SO_REUSEPORT groups: two TCP listeners and two UDP
 * sockets, each pair on one port. After the restart both of each pair
 * are bound there with SO_REUSEPORT, a socket without it cannot bind the
 * port, and connections reach both listeners. */
#include "kobj.h"
#include "kobj5a_inet.h"

static int rp(int type, int port) {
	int s = socket(AF_INET, type, 0);
	iset(s, SOL_SOCKET, SO_REUSEPORT, 1);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (bind(s, (void *)&a, sizeof a)) return -1;
	if (type == SOCK_STREAM && listen(s, 64)) return -1;
	return s;
}

static int port(int fd) {
	struct sockaddr_in a;
	socklen_t l = sizeof a;
	getsockname(fd, (void *)&a, &l);
	return ntohs(a.sin_port);
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int t1 = rp(SOCK_STREAM, 0);
	int tp = port(t1);
	int t2 = rp(SOCK_STREAM, tp);
	int u1 = rp(SOCK_DGRAM, 0);
	int up = port(u1);
	int u2 = rp(SOCK_DGRAM, up);
	if (t1 < 0 || t2 < 0 || u1 < 0 || u2 < 0) DIE("bind: %s", strerror(errno));
	kobj_wait();
	CHECK(port(t1) == tp && port(t2) == tp && port(u1) == up && port(u2) == up, "ports %d %d %d %d, were %d %d", port(t1), port(t2), port(u1), port(u2), tp, up);
	CHECK(iget(t1, SOL_SOCKET, SO_REUSEPORT) == 1 && iget(t2, SOL_SOCKET, SO_REUSEPORT) == 1 && iget(u2, SOL_SOCKET, SO_REUSEPORT) == 1, "SO_REUSEPORT off");
	int x = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(tp), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	CHECK(bind(x, (void *)&a, sizeof a) < 0 && errno == EADDRINUSE, "a plain socket bound the TCP port");
	int y = socket(AF_INET, SOCK_DGRAM, 0);
	a.sin_port = htons(up);
	CHECK(bind(y, (void *)&a, sizeof a) < 0 && errno == EADDRINUSE, "a plain socket bound the UDP port");
	int c[32];
	for (int i = 0; i < 32; i++) c[i] = connect4(tp);
	usleep(50000);
	fcntl(t1, F_SETFL, O_NONBLOCK);
	fcntl(t2, F_SETFL, O_NONBLOCK);
	int n1 = 0, n2 = 0, s;
	while ((s = accept(t1, NULL, NULL)) >= 0) { n1++; close(s); }
	while ((s = accept(t2, NULL, NULL)) >= 0) { n2++; close(s); }
	CHECK(n1 + n2 == 32 && n1 > 0 && n2 > 0, "connections %d and %d", n1, n2);
	for (int i = 0; i < 32; i++) close(c[i]);
	return kobj_done();
}
