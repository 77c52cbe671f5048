/*
 * tcpjob: a TCP server and its client on a fixed loopback port, for the
 * network namespace tests (integration/mpi_batch_test.go).
 *
 * usage: tcpjob OUTFILE STEPS DELAY_MS PORT
 *
 * The server listens on 127.0.0.1:PORT (without SO_REUSEADDR) and forks
 * the client, which connects; each step the client sends a number, the
 * server answers with its square, and the client writes "step I N" to
 * OUTFILE, then sleeps DELAY_MS milliseconds. Two copies in one network
 * namespace cannot both have the port; each in its own, they can.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int full(int fd, void *buf, size_t n, int rd) {
	size_t done = 0;
	while (done < n) {
		ssize_t k = rd ? read(fd, (char *)buf + done, n - done) : write(fd, (char *)buf + done, n - done);
		if (k <= 0)
			return -1;
		done += (size_t)k;
	}
	return 0;
}

int main(int argc, char **argv) {
	if (argc != 5)
		return 2;
	int steps = atoi(argv[2]), delay = atoi(argv[3]);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[4]))};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int l = socket(AF_INET, SOCK_STREAM, 0);
	if (bind(l, (void *)&a, sizeof a) || listen(l, 1)) {
		perror("tcpjob: listen");
		return 1;
	}
	pid_t child = fork();
	if (child == 0) {
		close(l);
		int s = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(s, (void *)&a, sizeof a)) {
			perror("tcpjob: connect");
			_exit(1);
		}
		FILE *out = fopen(argv[1], "w");
		struct timespec ts = {delay / 1000, (long)(delay % 1000) * 1000000L};
		for (int64_t i = 1; i <= steps; i++) {
			int64_t sq;
			if (full(s, &i, sizeof i, 0) || full(s, &sq, sizeof sq, 1))
				_exit(1);
			fprintf(out, "step %lld %lld\n", (long long)i, (long long)sq);
			fflush(out);
			nanosleep(&ts, NULL);
		}
		fprintf(out, "done\n");
		fclose(out);
		_exit(0);
	}
	int c = accept(l, NULL, NULL);
	for (int i = 0; i < steps; i++) {
		int64_t v;
		if (full(c, &v, sizeof v, 1))
			return 1;
		v *= v;
		if (full(c, &v, sizeof v, 0))
			return 1;
	}
	int ws;
	waitpid(child, &ws, 0);
	return WIFEXITED(ws) ? WEXITSTATUS(ws) : 1;
}
