/* kobj4a_tcphalf: a loopback TCP connection whose client end has shut
 * down for writing (FIN_WAIT2; the server's end in CLOSE_WAIT still
 * sends). The engine restores only listening and established
 * connections: refused naming the state; left running, the server reads
 * end of file and its bytes still reach the client. */
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
	send(c, "bye", 3, 0);
	shutdown(c, SHUT_WR);
	usleep(100000);
	kobj_wait();
	char b[8];
	CHECK(recv(s, b, sizeof b, 0) == 3, "server read");
	CHECK(recv(s, b, sizeof b, 0) == 0, "server end of file");
	CHECK(send(s, "late", 4, 0) == 4, "server send: %s", strerror(errno));
	CHECK(recv(c, b, sizeof b, 0) == 4, "client read");
	return kobj_done();
}
