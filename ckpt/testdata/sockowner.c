/* sockowner OUT GO: as whatever user it runs, sets up a unix listener
 * bound to own.sock with an accepted connection, a socket pair and a FIFO
 * own.fifo and a TCP listener on the loopback, writes "ready", waits until GO exists, then checks that every
 * socket (fstat: the socket inode's owner), the peer credentials of each
 * connected end (SO_PEERCRED), the socket file and the FIFO belong to its
 * uid and gid, and writes "ok" or the first failure. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

static FILE *out;
static int failed;

static void check(int ok, const char *what) {
	if (!ok && !failed) {
		fprintf(out, "%s wrong\n", what);
		failed = 1;
	}
}

static void owned(int fd, const char *what) {
	struct stat st;
	check(fstat(fd, &st) == 0 && st.st_uid == getuid() && st.st_gid == getgid(), what);
}

static void peer(int fd, const char *what) {
	struct ucred c;
	socklen_t l = sizeof c;
	check(getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c, &l) == 0 && c.uid == getuid() && c.gid == getgid(), what);
}

int main(int argc, char **argv) {
	if (argc < 3)
		return 2;
	out = fopen(argv[1], "w");
	setvbuf(out, NULL, _IONBF, 0);
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	strcpy(a.sun_path, "own.sock");
	unlink("own.sock");
	int l = socket(AF_UNIX, SOCK_STREAM, 0);
	if (bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, 4))
		return 3;
	int c = socket(AF_UNIX, SOCK_STREAM, 0);
	if (connect(c, (struct sockaddr *)&a, sizeof a))
		return 4;
	int s = accept(l, NULL, NULL);
	int sp[2];
	socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp);
	int t = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in in = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (bind(t, (struct sockaddr *)&in, sizeof in) || listen(t, 4))
		return 5;
	unlink("own.fifo");
	mkfifo("own.fifo", 0600);
	int f = open("own.fifo", O_RDWR);
	fprintf(out, "ready\n");
	while (access(argv[2], F_OK) != 0) {
		struct timespec ts = {0, 10000000};
		nanosleep(&ts, NULL);
	}
	owned(l, "listener's owner");
	owned(c, "client's owner");
	owned(s, "accepted socket's owner");
	owned(sp[0], "pair's owner");
	owned(f, "fifo's owner");
	owned(t, "TCP listener's owner");
	peer(c, "client's peer credentials");
	peer(s, "accepted socket's peer credentials");
	peer(sp[1], "pair's peer credentials");
	struct stat st;
	check(stat("own.sock", &st) == 0 && st.st_uid == getuid(), "socket file's owner");
	if (!failed)
		fprintf(out, "ok\n");
	return 0;
}
