/* reuseconn OUT STEPS DELAY_MS: a listener with SO_REUSEADDR on
 * 127.0.0.1 and 6 connections to it, made and accepted by the program
 * itself, so that accepted ends (which have the listener's SO_REUSEADDR)
 * sit at descriptors 10 and above: their names in /proc/PID/fd come
 * before the listener's. Each step every connection carries a message
 * both ways, and the line written says the SO_REUSEADDR of the listener
 * and of every accepted end: the same before and after any restart. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PAIRS 6

static int reuse(int fd)
{
	int v = -1;
	socklen_t n = sizeof v;
	if (getsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &v, &n) < 0)
		return -1;
	return v != 0;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: reuseconn OUT STEPS DELAY_MS\n");
		return 2;
	}
	FILE *out = fopen(argv[1], "w");
	if (!out) {
		perror(argv[1]);
		return 1;
	}
	int steps = atoi(argv[2]), delay = atoi(argv[3]), one = 1;
	int l = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof a;
	if (setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 || bind(l, (void *)&a, sizeof a) < 0 ||
	    listen(l, PAIRS) < 0 || getsockname(l, (void *)&a, &alen) < 0) {
		perror("listener");
		return 1;
	}
	int c[PAIRS], s[PAIRS];
	for (int i = 0; i < PAIRS; i++) {
		c[i] = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(c[i], (void *)&a, sizeof a) < 0 || (s[i] = accept(l, NULL, NULL)) < 0) {
			perror("connect/accept");
			return 1;
		}
	}
	for (int step = 0; step < steps; step++) {
		char line[256];
		int n = snprintf(line, sizeof line, "%d listener %d accepted", step, reuse(l));
		for (int i = 0; i < PAIRS; i++) {
			char msg[32], got[32];
			int m = snprintf(msg, sizeof msg, "%d/%d", step, i);
			if (write(c[i], msg, m) != m || read(s[i], got, sizeof got) != m || write(s[i], got, m) != m ||
			    read(c[i], got, sizeof got) != m || memcmp(got, msg, m) != 0) {
				fprintf(stderr, "step %d: connection %d broken\n", step, i);
				return 1;
			}
			n += snprintf(line + n, sizeof line - n, " %d", reuse(s[i]));
		}
		fprintf(out, "%s\n", line);
		fflush(out);
		struct timespec ts = {delay / 1000, (delay % 1000) * 1000000L};
		nanosleep(&ts, NULL);
	}
	fprintf(out, "done\n");
	fclose(out);
	return 0;
}
