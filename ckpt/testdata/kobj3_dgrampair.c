/* kobj3_dgrampair: a datagram socketpair with three queued datagrams of
 * sizes 1, 300 and 0 keeps them, their bounds and their order; the other
 * end was shut down for writing. */
#include "kobj.h"
#include <sys/socket.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int sp[2];
	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sp)) DIE("socketpair");
	char big[300];
	for (int i = 0; i < 300; i++) big[i] = (char)i;
	if (send(sp[0], "A", 1, 0) != 1 || send(sp[0], big, 300, 0) != 300 || send(sp[0], "", 0, 0) != 0) DIE("send");
	shutdown(sp[1], SHUT_WR);
	kobj_wait();
	char b[512];
	ssize_t n = recv(sp[1], b, sizeof b, MSG_DONTWAIT);
	CHECK(n == 1 && b[0] == 'A', "first: %zd", n);
	n = recv(sp[1], b, sizeof b, MSG_DONTWAIT);
	CHECK(n == 300 && memcmp(b, big, 300) == 0, "second: %zd", n);
	n = recv(sp[1], b, sizeof b, MSG_DONTWAIT);
	CHECK(n == 0, "third (empty): %zd (%s)", n, strerror(errno));
	n = recv(sp[1], b, sizeof b, MSG_DONTWAIT);
	CHECK(n < 0 && errno == EAGAIN, "a fourth: %zd", n);
	n = send(sp[1], "x", 1, MSG_DONTWAIT | MSG_NOSIGNAL);
	CHECK(n < 0 && errno == EPIPE, "send on the shut end: %zd (%s)", n, strerror(errno));
	return kobj_done();
}
