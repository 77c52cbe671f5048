/*
 * locks: holds an flock, a POSIX record lock, an unlinked O_TMPFILE file
 * and a memfd, for checkpoint tests.
 *
 * usage: locks OUTFILE GOFILE FLOCKFILE POSIXFILE
 * Writes "ready", waits until GOFILE exists, then writes the content of
 * its unlinked file and of its memfd, read from where its offsets were.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
	if (argc < 5)
		return 2;
	FILE *out = fopen(argv[1], "w");
	int a = open(argv[3], O_RDWR | O_CREAT, 0644);
	if (flock(a, LOCK_EX) != 0)
		return 3;
	int b = open(argv[4], O_RDWR | O_CREAT, 0644);
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 10, .l_len = 10};
	if (fcntl(b, F_SETLK, &fl) != 0)
		return 4;
	int t = open("/tmp", O_TMPFILE | O_RDWR, 0600);
	write(t, "unlinked-data:tail", 18);
	lseek(t, 14, SEEK_SET);
	int m = memfd_create("lockstest", 0);
	write(m, "memfd-content", 13);
	lseek(m, 6, SEEK_SET);
	fprintf(out, "ready\n");
	fflush(out);
	struct stat st;
	while (stat(argv[2], &st) != 0) {
		struct timespec ts = {0, 5 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	char buf[64] = {0};
	read(t, buf, sizeof buf - 1);
	fprintf(out, "tmpfile %s\n", buf);
	memset(buf, 0, sizeof buf);
	read(m, buf, sizeof buf - 1);
	fprintf(out, "memfd %s\n", buf);
	fclose(out);
	return 0;
}
