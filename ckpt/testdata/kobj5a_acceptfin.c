/* kobj5a_acceptfin: a TCP listener holding, not accepted, a connection
 * whose client sent "bye" and closed (the server end got the FIN: it
 * reads "bye" then end of file) and one whose client is open with
 * nothing sent. The engine restores a pending connection only with its
 * client in the tree: refused; left running, accept gives both, in
 * order, the first with its bytes and end of file. */
#include "kobj.h"
#include "kobj5a_inet.h"

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int port;
	int l = listen4(&port, 5);
	int c1 = connect4(port);
	write(c1, "bye", 3);
	close(c1);
	int c2 = connect4(port);
	if (l < 0 || c2 < 0) DIE("connect: %s", strerror(errno));
	usleep(50000);
	kobj_wait();
	int a1 = accept(l, NULL, NULL);
	char b[8] = {0};
	ssize_t n = read(a1, b, sizeof b);
	CHECK(n == 3 && memcmp(b, "bye", 3) == 0, "first: %zd '%s'", n, b);
	n = read(a1, b, sizeof b);
	CHECK(n == 0, "first: no end of file: %zd %s", n, strerror(errno));
	int a2 = accept(l, NULL, NULL);
	struct sockaddr_in p, q;
	socklen_t pl = sizeof p, ql = sizeof q;
	getpeername(a2, (void *)&p, &pl);
	getsockname(c2, (void *)&q, &ql);
	CHECK(p.sin_port == q.sin_port, "second is not c2's peer");
	write(c2, "hi", 2);
	CHECK(read(a2, b, sizeof b) == 2, "second: no data");
	return kobj_done();
}
