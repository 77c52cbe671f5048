/* tcppending MODE OUT GO: a TCP listener on 127.0.0.1 with connections
 * waiting to be accepted from clients of its own: one that carried nothing
 * (MODE one), one whose client sent "x" (MODE data), two (MODE two).
 * Writes "ready", waits until GO exists, then accepts, checks that the
 * accepted connection's peer is the client, that bytes go both ways, and
 * writes "ok" or what went wrong. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
	if (argc < 4)
		return 2;
	FILE *out = fopen(argv[2], "w");
	setvbuf(out, NULL, _IONBF, 0);
	int l = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof a;
	if (bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, 8) || getsockname(l, (struct sockaddr *)&a, &al))
		return 3;
	int n = strcmp(argv[1], "two") ? 1 : 2;
	int c[2];
	for (int i = 0; i < n; i++) {
		c[i] = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(c[i], (struct sockaddr *)&a, sizeof a))
			return 4;
	}
	if (!strcmp(argv[1], "data"))
		send(c[0], "x", 1, 0);
	fprintf(out, "ready\n");
	while (access(argv[3], F_OK) != 0) {
		struct timespec ts = {0, 10000000};
		nanosleep(&ts, NULL);
	}
	for (int i = 0; i < n; i++) {
		struct sockaddr_in peer, mine;
		socklen_t pl = sizeof peer, ml = sizeof mine;
		int s = accept(l, (struct sockaddr *)&peer, &pl);
		getsockname(c[i], (struct sockaddr *)&mine, &ml);
		if (s < 0 || peer.sin_port != mine.sin_port || peer.sin_addr.s_addr != mine.sin_addr.s_addr) {
			fprintf(out, "accepted %d: not the client\n", i);
			return 0;
		}
		char b[4] = {0};
		if (!strcmp(argv[1], "data") && (recv(s, b, 1, 0) != 1 || b[0] != 'x')) {
			fprintf(out, "accepted %d: no x\n", i);
			return 0;
		}
		if (send(s, "s", 1, 0) != 1 || recv(c[i], b, 1, 0) != 1 || b[0] != 's' || send(c[i], "c", 1, 0) != 1 || recv(s, b, 1, 0) != 1 || b[0] != 'c') {
			fprintf(out, "connection %d: bytes do not go both ways\n", i);
			return 0;
		}
	}
	fprintf(out, "ok\n");
	return 0;
}
