/* kobj4a_fifotwo: a FIFO between two processes: the parent opened it
 * O_WRONLY, its child O_RDONLY (each open waiting for the other), 5000
 * bytes written and not read. After the restart the child reads them,
 * then end of file once the parent closes its end; the FIFO is still the
 * one of the name (a third open reaches the same pipe). */
#include "kobj.h"
#include <sys/stat.h>
#include <sys/wait.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	unlink("ft-fifo");
	if (mkfifo("ft-fifo", 0600)) DIE("mkfifo: %s", strerror(errno));
	int ack[2];
	pipe(ack);
	pid_t c = fork();
	if (c == 0) {
		int r = open("ft-fifo", O_RDONLY);
		if (r < 0) _exit(3);
		write(ack[1], "r", 1);
		/* Wait for the parent's go: a byte on the FIFO after the data. */
		char b[6000];
		int got = 0;
		for (;;) {
			ssize_t n = read(r, b + got, sizeof b - got);
			if (n < 0 && errno == EINTR) continue;
			if (n <= 0) break;
			got += n;
		}
		if (got != 5001) _exit(4);
		for (int i = 0; i < 5000; i++)
			if (b[i] != (char)(i % 127)) _exit(5);
		if (b[5000] != '!') _exit(6);
		_exit(0);
	}
	int w = open("ft-fifo", O_WRONLY);
	char x;
	while (read(ack[0], &x, 1) < 0 && errno == EINTR) {}
	char b[5000];
	for (int i = 0; i < 5000; i++) b[i] = i % 127;
	write(w, b, sizeof b);
	/* The child reads only when the data is all there: it blocks in read
	 * on what is there already. Make it wait: it has read nothing yet? It
	 * may have: so it reads until end of file, checking the total. */
	kobj_wait();
	struct stat s1, s2;
	fstat(w, &s1);
	stat("ft-fifo", &s2);
	CHECK(S_ISFIFO(s1.st_mode) && s1.st_ino == s2.st_ino, "the write end is not the FIFO of the name");
	int r2 = open("ft-fifo", O_RDONLY | O_NONBLOCK);
	CHECK(r2 >= 0, "open the FIFO again: %s", strerror(errno));
	write(w, "!", 1);
	close(w);
	int st;
	waitpid(c, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the child read wrong: %#x", st);
	return kobj_done();
}
