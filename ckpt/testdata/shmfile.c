/* shmfile OUT GOFILE PATH [keepfd]: maps PATH (a file on tmpfs) shared and
 * fills it, then waits for GOFILE. Then it checks that its mapping holds
 * what it wrote and is still PATH's content: what it reads through the
 * path is what it sees in memory, and a byte it stores shows in the file.
 * With keepfd it keeps the descriptor it mapped the file with (as Python's
 * multiprocessing.shared_memory and many shm_open users do), at offset 777,
 * and checks through it too: same offset, same content, same object. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define SIZE (2 << 20)

static int same(FILE *out, const char *what, int fd, unsigned char *m) {
	static unsigned char buf[SIZE];
	if (pread(fd, buf, SIZE, 0) != SIZE || memcmp(buf, m, SIZE) != 0) {
		fprintf(out, "%s differs from memory\n", what);
		return 0;
	}
	m[12345] ^= 0xff;
	unsigned char c;
	pread(fd, &c, 1, 12345);
	if (c != m[12345]) {
		fprintf(out, "%s NOT mapped\n", what);
		return 0;
	}
	return 1;
}

int main(int argc, char **argv) {
	if (argc != 4 && argc != 5) return 2;
	int keep = argc == 5;
	int fd = open(argv[3], O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, SIZE)) { perror(argv[3]); return 1; }
	unsigned char *m = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED) { perror("mmap"); return 1; }
	if (keep)
		lseek(fd, 777, SEEK_SET);
	else
		close(fd);
	for (long i = 0; i < SIZE; i++) m[i] = (unsigned char)(i * 131 + (i >> 12));
	FILE *out = fopen(argv[1], "w");
	setvbuf(out, NULL, _IOLBF, 0);
	fprintf(out, "filled\n");
	while (access(argv[2], F_OK) != 0) usleep(10000);
	for (long i = 0; i < SIZE; i++)
		if (m[i] != (unsigned char)(i * 131 + (i >> 12))) { fprintf(out, "memory byte %ld changed\n", i); return 1; }
	if (keep) {
		off_t at = lseek(fd, 0, SEEK_CUR);
		if (at != 777) { fprintf(out, "kept descriptor at offset %ld, want 777\n", (long)at); return 1; }
		if (!same(out, "kept descriptor", fd, m)) return 1;
	}
	int fd2 = open(argv[3], O_RDWR);
	if (fd2 < 0) { fprintf(out, "%s is gone\n", argv[3]); return 1; }
	if (!same(out, "file", fd2, m)) return 1;
	fprintf(out, "memory same, file mapped\n");
	return 0;
}
