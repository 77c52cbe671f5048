/* tcpshared OUT GO: a TCP listener on 127.0.0.1 WITHOUT SO_REUSEADDR kept
 * open beside the connection it accepted from a child (the accepted end
 * shares the listener's port, as an MPI daemon's connections do). Writes
 * "ready PORT", waits until the file GO exists (checkpoint and restart
 * happen meanwhile), then exchanges a message both ways on the accepted
 * connection and accepts a second connection from the child; writes "ok"
 * or the first failure. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void waitgo(const char *go) {
	struct stat st;
	struct timespec ts = {0, 20000000};
	while (stat(go, &st) != 0)
		nanosleep(&ts, NULL);
}

static int dial(int port) {
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(s, (void *)&a, sizeof a)) {
		perror("connect");
		return -1;
	}
	return s;
}

int main(int argc, char **argv) {
	if (argc != 3)
		return 2;
	FILE *out = fopen(argv[1], "w");
	int l = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t al = sizeof a;
	if (bind(l, (void *)&a, sizeof a) || listen(l, 4) || getsockname(l, (void *)&a, &al)) {
		perror("listen");
		return 1;
	}
	int port = ntohs(a.sin_port);
	pid_t child = fork();
	if (child == 0) {
		close(l);
		int s = dial(port);
		char buf[16];
		if (s < 0 || read(s, buf, 4) != 4 || write(s, "pong", 4) != 4)
			_exit(1);
		waitgo(argv[2]);
		int s2 = dial(port);
		if (s2 < 0 || write(s2, "again", 5) != 5)
			_exit(1);
		close(s2);
		close(s);
		_exit(0);
	}
	int c = accept(l, NULL, NULL);
	if (c < 0)
		return 1;
	fprintf(out, "ready %d\n", port);
	fflush(out);
	waitgo(argv[2]);
	char buf[16] = {0};
	const char *bad = NULL;
	if (write(c, "ping", 4) != 4 || read(c, buf, 4) != 4 || memcmp(buf, "pong", 4))
		bad = "the accepted connection lost its bytes";
	int c2 = bad ? -1 : accept(l, NULL, NULL);
	memset(buf, 0, sizeof buf);
	if (!bad && (c2 < 0 || read(c2, buf, 5) != 5 || memcmp(buf, "again", 5)))
		bad = "the listener did not take a new connection";
	int ws = 0;
	waitpid(child, &ws, 0);
	if (!bad && (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0))
		bad = "the child failed";
	fprintf(out, "%s\n", bad ? bad : "ok");
	return bad != NULL;
}
