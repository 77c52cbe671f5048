// copies_gen: a program whose files change from one generation to the
// next, to tell whose copies a restart gave it. argv[1]: a directory for
// its files; argv[2]: the result file. It keeps open a regular file
// (DIR/data, for chkpnt -C) and an unlinked file (DIR/tmp, removed after
// open), both filled with its generation's letter, a different size per
// generation: 'A' at start, then one step per SIGUSR1 ('B', 'C'...); it
// writes RESULT.GEN (e.g. RESULT.A) once its files hold it. On SIGUSR2 it
// writes "mem=G data=G unl=G" to RESULT (the letter in its memory, then
// the letter each file holds all through, or '?' for a file that is not
// one letter of the right size) and exits 0. With argv[3] "fork" all this
// is done by a child, and the parent passes SIGUSR1 and SIGUSR2 on to it
// and exits with its status (a tree of two).
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t next, report;
static void on_usr1(int s) { (void)s; next = 1; }
static void on_usr2(int s) { (void)s; report = 1; }

static pid_t child;
static void pass_on(int s) { kill(child, s); }

static long size_of(char g) { return 40000 + (g - 'A') * 30000; }

static void fill(int fd, char g) {
	static char buf[1 << 16];
	long n = size_of(g);
	memset(buf, g, sizeof buf);
	if (ftruncate(fd, 0) != 0) exit(3);
	for (long off = 0; off < n; off += sizeof buf) {
		long k = n - off < (long)sizeof buf ? n - off : (long)sizeof buf;
		if (pwrite(fd, buf, k, off) != k) exit(4);
	}
	fsync(fd);
}

// holds: the letter fd holds all through, '?' if not one letter of the
// size of that letter's generation.
static char holds(int fd) {
	static char buf[1 << 16];
	long n = lseek(fd, 0, SEEK_END), off = 0;
	char g = 0;
	while (off < n) {
		ssize_t k = pread(fd, buf, sizeof buf, off);
		if (k <= 0) return '?';
		for (ssize_t i = 0; i < k; i++) {
			if (g == 0) g = buf[i];
			if (buf[i] != g) return '?';
		}
		off += k;
	}
	if (g < 'A' || g > 'Z' || n != size_of(g)) return '?';
	return g;
}

static void mark(const char *result, char g) {
	char p[4096];
	snprintf(p, sizeof p, "%s.%c", result, g);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd >= 0) close(fd);
}

int main(int argc, char **argv) {
	if (argc != 3 && argc != 4) return 2;
	if (argc == 4 && strcmp(argv[3], "fork") == 0) {
		child = fork();
		if (child < 0) return 6;
		if (child > 0) {
			int st;
			signal(SIGUSR1, pass_on);
			signal(SIGUSR2, pass_on);
			while (waitpid(child, &st, 0) < 0) {
			}
			return WIFEXITED(st) ? WEXITSTATUS(st) : 7;
		}
	}
	char p[4096];
	snprintf(p, sizeof p, "%s/data", argv[1]);
	int data = open(p, O_RDWR | O_CREAT | O_TRUNC, 0644);
	snprintf(p, sizeof p, "%s/tmp", argv[1]);
	int unl = open(p, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (data < 0 || unl < 0 || unlink(p) != 0) return 3;
	char gen = 'A';
	fill(data, gen);
	fill(unl, gen);
	signal(SIGUSR1, on_usr1);
	signal(SIGUSR2, on_usr2);
	mark(argv[2], gen);
	for (;;) {
		if (next) {
			next = 0;
			gen++;
			fill(data, gen);
			fill(unl, gen);
			mark(argv[2], gen);
		}
		if (report) {
			FILE *f = fopen(argv[2], "w");
			if (!f) return 5;
			fprintf(f, "mem=%c data=%c unl=%c\n", gen, holds(data), holds(unl));
			fclose(f);
			return 0;
		}
		usleep(10000);
	}
}
