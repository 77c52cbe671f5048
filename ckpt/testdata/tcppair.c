/* tcppair OUT 4|6: a server and its forked client over loopback TCP. The
 * client streams TOTAL bytes of a pattern and checks that the server echoes
 * them back exactly; the server reads and echoes slowly, so that at any
 * time bytes wait in both directions. Each end checks every byte it gets
 * (all of them, in order, none twice) and that its addresses did not
 * change. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define TOTAL (48L << 20)
#define STEP (4L << 20)

static unsigned char pat(long i) { return (unsigned char)(i ^ (i >> 8) ^ (i >> 16) ^ (i >> 24)); }

static int same_names(int s, struct sockaddr_storage *l, struct sockaddr_storage *p) {
	struct sockaddr_storage a, b;
	socklen_t al = sizeof a, bl = sizeof b;
	memset(&a, 0, sizeof a);
	memset(&b, 0, sizeof b);
	getsockname(s, (struct sockaddr *)&a, &al);
	getpeername(s, (struct sockaddr *)&b, &bl);
	return memcmp(&a, l, sizeof a) == 0 && memcmp(&b, p, sizeof b) == 0;
}

static void names(int s, struct sockaddr_storage *l, struct sockaddr_storage *p) {
	socklen_t al = sizeof *l, bl = sizeof *p;
	memset(l, 0, sizeof *l);
	memset(p, 0, sizeof *p);
	getsockname(s, (struct sockaddr *)l, &al);
	getpeername(s, (struct sockaddr *)p, &bl);
}

int main(int argc, char **argv) {
	if (argc != 3) return 2;
	int six = argv[2][0] == '6';
	FILE *out = fopen(argv[1], "w");
	setvbuf(out, NULL, _IOLBF, 0);
	int l = socket(six ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof ss);
	socklen_t sl;
	if (six) {
		struct sockaddr_in6 *a = (void *)&ss;
		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
		sl = sizeof *a;
	} else {
		struct sockaddr_in *a = (void *)&ss;
		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sl = sizeof *a;
	}
	if (bind(l, (void *)&ss, sl) || listen(l, 1)) { perror("listen"); return 1; }
	getsockname(l, (void *)&ss, &sl);
	pid_t child = fork();
	if (child == 0) {
		close(l);
		int c = socket(six ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
		int small = 32768;
		setsockopt(c, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
		if (connect(c, (void *)&ss, sl)) { perror("connect"); _exit(1); }
		struct sockaddr_storage me, peer;
		names(c, &me, &peer);
		fcntl(c, F_SETFL, O_NONBLOCK);
		long sent = 0, got = 0, mark = STEP;
		static unsigned char buf[65536];
		while (got < TOTAL) {
			struct pollfd pf = {c, POLLIN | (sent < TOTAL ? POLLOUT : 0), 0};
			poll(&pf, 1, -1);
			if ((pf.revents & POLLOUT) && sent < TOTAL) {
				long n = TOTAL - sent < (long)sizeof buf ? TOTAL - sent : (long)sizeof buf;
				for (long i = 0; i < n; i++) buf[i] = pat(sent + i);
				ssize_t w = write(c, buf, n);
				if (w > 0) sent += w;
				else if (w < 0 && errno != EAGAIN) { fprintf(out, "client write: %s\n", strerror(errno)); _exit(1); }
				while (sent >= mark) { fprintf(out, "client sent %ld MiB\n", mark >> 20); mark += STEP; }
			}
			if (pf.revents & (POLLIN | POLLHUP | POLLERR)) {
				ssize_t r = read(c, buf, 4096);
				if (r == 0) { fprintf(out, "client: end of stream after %ld bytes\n", got); _exit(1); }
				if (r < 0 && errno != EAGAIN) { fprintf(out, "client read: %s\n", strerror(errno)); _exit(1); }
				for (long i = 0; i < r; i++)
					if (buf[i] != pat(got + i)) { fprintf(out, "client: byte %ld wrong\n", got + i); _exit(1); }
				if (r > 0) got += r;
				usleep(200);
			}
		}
		int ok = same_names(c, &me, &peer);
		fprintf(out, "client got %ld bytes back, addresses %s\n", got, ok ? "same" : "CHANGED");
		_exit(ok ? 0 : 1);
	}
	int s = accept(l, NULL, NULL);
	close(l);
	int small = 32768;
	setsockopt(s, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
	struct sockaddr_storage me, peer;
	names(s, &me, &peer);
	long got = 0;
	static unsigned char buf[8192];
	while (got < TOTAL) {
		ssize_t r = read(s, buf, sizeof buf);
		if (r <= 0) { fprintf(out, "server read %zd after %ld: %s\n", r, got, strerror(errno)); return 1; }
		for (long i = 0; i < r; i++)
			if (buf[i] != pat(got + i)) { fprintf(out, "server: byte %ld wrong\n", got + i); return 1; }
		got += r;
		for (ssize_t o = 0; o < r;) {
			ssize_t w = write(s, buf + o, r - o);
			if (w <= 0) { fprintf(out, "server write: %s\n", strerror(errno)); return 1; }
			o += w;
		}
		usleep(200);
	}
	int st;
	waitpid(child, &st, 0);
	int ok = same_names(s, &me, &peer);
	fprintf(out, "server got %ld bytes, addresses %s, client %s\n", got, ok ? "same" : "CHANGED",
		WIFEXITED(st) && WEXITSTATUS(st) == 0 ? "ok" : "failed");
	return ok && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}
