/* listener OUT PORTFILE 4|6|m: a TCP listening socket on loopback (IPv4,
 * IPv6 only, or IPv6 bound to the v4-mapped ::ffff:127.0.0.1) with options
 * set. It writes its port, then accepts one connection, answers the line
 * it reads, and reports whether its options are those it set. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int get(int s, int level, int name) {
	int v = -1;
	socklen_t l = sizeof v;
	getsockopt(s, level, name, &v, &l);
	return v;
}

int main(int argc, char **argv) {
	if (argc != 4) return 2;
	char mode = argv[3][0];
	int fam = mode == '4' ? AF_INET : AF_INET6;
	int l = socket(fam, SOCK_STREAM, 0);
	int one = 1, buf = 100000, idle = 77;
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	setsockopt(l, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
	setsockopt(l, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
	setsockopt(l, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	setsockopt(l, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof ss);
	socklen_t sl;
	int v6only = mode == '6';
	if (fam == AF_INET6) {
		setsockopt(l, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only);
		struct sockaddr_in6 *a = (void *)&ss;
		a->sin6_family = AF_INET6;
		inet_pton(AF_INET6, mode == '6' ? "::1" : "::ffff:127.0.0.1", &a->sin6_addr);
		sl = sizeof *a;
	} else {
		struct sockaddr_in *a = (void *)&ss;
		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sl = sizeof *a;
	}
	if (bind(l, (void *)&ss, sl) || listen(l, 5)) { perror("listen"); return 1; }
	int rcvbuf = get(l, SOL_SOCKET, SO_RCVBUF);
	getsockname(l, (void *)&ss, &sl);
	int port = fam == AF_INET ? ntohs(((struct sockaddr_in *)&ss)->sin_port) : ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	FILE *pf = fopen(argv[2], "w");
	fprintf(pf, "%d\n", port);
	fclose(pf);
	FILE *out = fopen(argv[1], "w");
	setvbuf(out, NULL, _IOLBF, 0);
	int c = accept(l, NULL, NULL);
	if (c < 0) { perror("accept"); return 1; }
	char line[64] = {0};
	ssize_t n = read(c, line, sizeof line - 1);
	char reply[128];
	snprintf(reply, sizeof reply, "pong %.*s", (int)(n > 0 ? n : 0), line);
	write(c, reply, strlen(reply));
	close(c);
	int ok = get(l, SOL_SOCKET, SO_REUSEADDR) == 1 && get(l, SOL_SOCKET, SO_KEEPALIVE) == 1 &&
		get(l, SOL_SOCKET, SO_RCVBUF) == rcvbuf && get(l, IPPROTO_TCP, TCP_NODELAY) == 1 &&
		get(l, IPPROTO_TCP, TCP_KEEPIDLE) == idle &&
		(fam == AF_INET || get(l, IPPROTO_IPV6, IPV6_V6ONLY) == v6only);
	fprintf(out, "accepted, options %s\n", ok ? "same" : "CHANGED");
	return ok ? 0 : 1;
}
