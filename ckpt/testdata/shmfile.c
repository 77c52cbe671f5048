/* shmfile OUT GOFILE PATH: maps PATH (a file on tmpfs) shared and fills it,
 * then waits for GOFILE. Then it checks that its mapping holds what it
 * wrote and is still PATH's content: what it reads through the path is what
 * it sees in memory, and a byte it stores shows in the file. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define SIZE (2 << 20)

int main(int argc, char **argv) {
	if (argc != 4) return 2;
	int fd = open(argv[3], O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, SIZE)) { perror(argv[3]); return 1; }
	unsigned char *m = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED) { perror("mmap"); return 1; }
	close(fd);
	for (long i = 0; i < SIZE; i++) m[i] = (unsigned char)(i * 131 + (i >> 12));
	FILE *out = fopen(argv[1], "w");
	setvbuf(out, NULL, _IOLBF, 0);
	fprintf(out, "filled\n");
	while (access(argv[2], F_OK) != 0) usleep(10000);
	for (long i = 0; i < SIZE; i++)
		if (m[i] != (unsigned char)(i * 131 + (i >> 12))) { fprintf(out, "memory byte %ld changed\n", i); return 1; }
	fd = open(argv[3], O_RDWR);
	if (fd < 0) { fprintf(out, "%s is gone\n", argv[3]); return 1; }
	static unsigned char buf[SIZE];
	if (pread(fd, buf, SIZE, 0) != SIZE || memcmp(buf, m, SIZE) != 0) { fprintf(out, "file differs from memory\n"); return 1; }
	m[12345] ^= 0xff;
	unsigned char c;
	pread(fd, &c, 1, 12345);
	fprintf(out, "memory same, file %s\n", c == m[12345] ? "mapped" : "NOT mapped");
	return c == m[12345] ? 0 : 1;
}
