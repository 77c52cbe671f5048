/* ptyclosed DIR [pkt]: a pty master whose only slave is closed with output
 * left in it: a child writes "bye" and "partial" (no newline) on the slave
 * and exits. The parent reaps it, writes DIR/ready, waits for DIR/go, then
 * reads the master until it fails (EIO: every slave closed) and writes what
 * it read and how the last read ended into DIR/out. With "pkt" the master
 * is in packet mode and the pair locked before DIR/ready; each read then
 * starts with a status byte (written as '.' for TIOCPKT_DATA), and out
 * starts with the packet and lock states read after DIR/go. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
	if (argc < 2)
		return 2;
	char p[4096];
	int m = posix_openpt(O_RDWR | O_NOCTTY);
	if (m < 0 || grantpt(m) || unlockpt(m))
		return 3;
	pid_t c = fork();
	if (c == 0) {
		int s = open(ptsname(m), O_RDWR | O_NOCTTY);
		write(s, "bye\n", 4);
		write(s, "partial", 7);
		_exit(0);
	}
	waitpid(c, NULL, 0);
	int pkt = argc > 2 && !strcmp(argv[2], "pkt"), one = 1;
	if (pkt && (ioctl(m, TIOCPKT, &one) || ioctl(m, TIOCSPTLCK, &one)))
		return 4;
	snprintf(p, sizeof p, "%s/ready", argv[1]);
	close(open(p, O_WRONLY | O_CREAT, 0644));
	snprintf(p, sizeof p, "%s/go", argv[1]);
	while (access(p, F_OK) != 0) {
		struct timespec ts = {0, 10000000};
		nanosleep(&ts, NULL);
	}
	char all[256];
	size_t len = 0;
	ssize_t n;
	snprintf(p, sizeof p, "%s/out", argv[1]);
	FILE *out = fopen(p, "w");
	if (pkt) {
		int on = 0, lck = 0;
		ioctl(m, TIOCGPKT, &on);
		ioctl(m, TIOCGPTLCK, &lck);
		fprintf(out, "packet %d locked %d|", on, lck);
	}
	while ((n = read(m, all + len, sizeof all - len)) > 0) {
		if (pkt && all[len] == TIOCPKT_DATA)
			all[len] = '.';
		len += n;
	}
	int e = errno;
	fwrite(all, 1, len, out);
	fprintf(out, "|%s\n", n < 0 ? strerror(e) : "end of file");
	fclose(out);
	return 0;
}
