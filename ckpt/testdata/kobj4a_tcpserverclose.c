/* kobj4a_tcpserverclose: a loopback listener without SO_REUSEADDR that
 * accepted a connection: after the checkpoint the server closes its end
 * first, so that the listener's port holds a TIME_WAIT socket when the
 * program ends, and the restart must listen on that port again. Each run
 * then accepts one more connection on the listener, whose option is
 * still off. */
#include "kobj.h"
#include <netinet/in.h>
#include <sys/socket.h>

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
	kobj_wait();
	struct sockaddr_in g;
	socklen_t gl = sizeof g;
	getsockname(l, (void *)&g, &gl);
	CHECK(g.sin_port == a.sin_port, "listener port %d, was %d", ntohs(g.sin_port), ntohs(a.sin_port));
	int v = -1;
	socklen_t vl = sizeof v;
	getsockopt(l, SOL_SOCKET, SO_REUSEADDR, &v, &vl);
	CHECK(v == 0, "SO_REUSEADDR %d", v);
	char b[4];
	CHECK(send(s, "bye", 3, 0) == 3 && recv(c, b, 3, 0) == 3, "the connection");
	close(s); /* the server's end first: TIME_WAIT on the listener's port */
	CHECK(recv(c, b, 1, 0) == 0, "end of file");
	close(c);
	int n = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(connect(n, (void *)&a, sizeof a) == 0, "a new connection: %s", strerror(errno));
	int t = accept(l, NULL, NULL);
	CHECK(t >= 0 && send(n, "x", 1, 0) == 1 && recv(t, b, 1, 0) == 1, "the new connection");
	close(t);
	close(n);
	return kobj_done();
}
