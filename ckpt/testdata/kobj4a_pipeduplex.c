/* kobj4a_pipeduplex: a parent and its child talking over two pipes, each
 * holding bytes the other has not read (3000 towards the child, 70000
 * towards the parent, the second pipe widened to 128 KiB); a third pipe's
 * write end is held by both. After the restart each reads exactly what
 * was sent to it, then they exchange once more. */
#include "kobj.h"
#include <sys/ioctl.h>
#include <sys/wait.h>

static int readall(int fd, char *b, int n) {
	int got = 0;
	while (got < n) {
		ssize_t r = read(fd, b + got, n - got);
		if (r < 0 && errno == EINTR) continue;
		if (r <= 0) break;
		got += r;
	}
	return got;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int down[2], up[2], both[2], sync[2];
	pipe(down);
	pipe(up);
	pipe(both);
	pipe(sync);
	fcntl(up[1], F_SETPIPE_SZ, 128 * 1024);
	static char big[70000], got[70000];
	for (int i = 0; i < (int)sizeof big; i++) big[i] = i * 7 % 251;
	pid_t c = fork();
	if (c == 0) {
		close(down[1]);
		close(up[0]);
		close(both[0]);
		close(sync[1]);
		if (write(up[1], big, sizeof big) != sizeof big) _exit(5);
		char x;
		while (read(sync[0], &x, 1) < 0 && errno == EINTR) {}
		char b[3000];
		if (readall(down[0], b, 3000) != 3000) _exit(6);
		for (int i = 0; i < 3000; i++)
			if (b[i] != (char)('a' + i % 26)) _exit(7);
		write(both[1], "C", 1);
		write(up[1], "done", 4);
		_exit(0);
	}
	close(down[0]);
	close(up[1]);
	close(sync[0]);
	char b[3000];
	for (int i = 0; i < 3000; i++) b[i] = 'a' + i % 26;
	write(down[1], b, sizeof b);
	/* The child's 70000 bytes are all in the pipe. */
	for (int i = 0; i < 1000; i++) {
		int n = 0;
		if (ioctl(up[0], FIONREAD, &n) == 0 && n == (int)sizeof big) break;
		usleep(10000);
	}
	kobj_wait();
	CHECK(fcntl(up[0], F_GETPIPE_SZ) == 128 * 1024, "up size %d", fcntl(up[0], F_GETPIPE_SZ));
	CHECK(readall(up[0], got, sizeof got) == (int)sizeof got && memcmp(got, big, sizeof big) == 0, "the child's bytes differ");
	write(sync[1], "x", 1);
	write(both[1], "P", 1);
	char t[8] = {0};
	CHECK(readall(up[0], t, 4) == 4 && memcmp(t, "done", 4) == 0, "child's answer '%s'", t);
	close(both[1]);
	int st;
	waitpid(c, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child: %#x", st);
	char bb[4] = {0};
	CHECK(readall(both[0], bb, 3) == 2 && ((bb[0] == 'P' && bb[1] == 'C') || (bb[0] == 'C' && bb[1] == 'P')), "shared write end: '%s'", bb);
	return kobj_done();
}
