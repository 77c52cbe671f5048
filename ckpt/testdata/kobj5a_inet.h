/* kobj5a_inet.h: loopback TCP helpers of the kobj5a programs. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

__attribute__((unused)) static int listen4(int *port, int backlog) {
	int l = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (bind(l, (void *)&a, sizeof a) || listen(l, backlog)) return -1;
	socklen_t al = sizeof a;
	getsockname(l, (void *)&a, &al);
	*port = ntohs(a.sin_port);
	return l;
}

__attribute__((unused)) static int connect4(int port) {
	int c = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (connect(c, (void *)&a, sizeof a)) { close(c); return -1; }
	return c;
}

__attribute__((unused)) static int iget(int fd, int lev, int opt) {
	int v = -1;
	socklen_t l = sizeof v;
	getsockopt(fd, lev, opt, &v, &l);
	return v;
}

__attribute__((unused)) static int iset(int fd, int lev, int opt, int v) { return setsockopt(fd, lev, opt, &v, sizeof v); }
