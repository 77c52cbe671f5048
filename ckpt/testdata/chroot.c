/*
 * chroot: a process whose root directory is its working directory, for
 * checkpoint/restart tests.
 *
 * usage: chroot OUTFILE   (run in the directory to become the root)
 *
 * It chroots to ".", and once ready, and every 50 ms after "/go" appears
 * until "/stop" appears, writes "root: marker=M parent-escape=E": whether
 * it sees the file "/marker" (in its root), and whether ".." of its root
 * leads anywhere else (it must not).
 */
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int exists(const char *p) {
	struct stat st;
	return stat(p, &st) == 0;
}

static void report(FILE *out) {
	struct stat a, b;
	stat("/", &a);
	stat("/..", &b);
	fprintf(out, "root: marker=%d parent-escape=%d\n", exists("/marker"), a.st_ino != b.st_ino);
	fflush(out);
}

int main(int argc, char **argv) {
	if (argc < 2)
		return 2;
	FILE *out = fopen(argv[1], "a");
	if (!out || chroot(".") != 0 || chdir("/") != 0) {
		perror("chroot");
		return 2;
	}
	report(out);
	while (!exists("/go")) {
		struct timespec ts = {0, 20 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	while (!exists("/stop")) {
		report(out);
		struct timespec ts = {0, 50 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	return 0;
}
