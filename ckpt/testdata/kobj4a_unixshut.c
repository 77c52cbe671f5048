/* kobj4a_unixshut: stream socketpairs half closed: one whose end A sent
 * "tail" and then shut down for writing (B reads the bytes, then end of
 * file; B to A still works), one shut down for reading on A (a send from
 * B fails with EPIPE), one shut down both ways with bytes left to read. */
#include "kobj.h"
#include <sys/socket.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	int p[2], q[2], r[2];
	socketpair(AF_UNIX, SOCK_STREAM, 0, p);
	socketpair(AF_UNIX, SOCK_STREAM, 0, q);
	socketpair(AF_UNIX, SOCK_STREAM, 0, r);
	send(p[0], "tail", 4, 0);
	shutdown(p[0], SHUT_WR);
	shutdown(q[0], SHUT_RD);
	send(r[1], "left", 4, 0);
	shutdown(r[0], SHUT_RDWR);
	kobj_wait();
	char b[16];
	ssize_t n = recv(p[1], b, sizeof b, MSG_DONTWAIT);
	CHECK(n == 4 && memcmp(b, "tail", 4) == 0, "p bytes: %zd", n);
	n = recv(p[1], b, sizeof b, MSG_DONTWAIT);
	CHECK(n == 0, "p end of file: %zd (%s)", n, strerror(errno));
	CHECK(send(p[1], "up", 2, 0) == 2, "p back: %s", strerror(errno));
	n = recv(p[0], b, sizeof b, MSG_DONTWAIT);
	CHECK(n == 2, "p back read: %zd", n);
	CHECK(send(p[0], "x", 1, MSG_NOSIGNAL) < 0 && errno == EPIPE, "p[0] can send after SHUT_WR");
	n = send(q[1], "z", 1, MSG_NOSIGNAL);
	CHECK(n < 0 && errno == EPIPE, "q: send to a reader shut down: %zd (%s)", n, strerror(errno));
	CHECK(send(q[0], "w", 1, 0) == 1 && recv(q[1], b, 1, MSG_DONTWAIT) == 1, "q other way");
	n = recv(r[0], b, sizeof b, MSG_DONTWAIT);
	CHECK(n == 4 || n == 0, "r: %zd", n);
	CHECK(send(r[0], "x", 1, MSG_NOSIGNAL) < 0 && errno == EPIPE, "r[0] can send");
	return kobj_done();
}
