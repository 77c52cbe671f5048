/* kobj5a_fallocunl: an unlinked file with allocated and punched regions:
 * data at 0-16 KiB with a hole punched at 4-8 KiB, 1 MiB fallocated
 * (unwritten) at 2 MiB, data at 4 MiB, 1 MiB fallocated KEEP_SIZE past
 * the end. Size, bytes, the SEEK_DATA/SEEK_HOLE map and the blocks
 * allocated (st_blocks, give or take the filesystem's own) are as they
 * were. */
#include "kobj.h"
#include <linux/falloc.h>
#include <sys/stat.h>

#define MB (1 << 20)

static void map(int fd, char *out, size_t n) {
	off_t end = lseek(fd, 0, SEEK_END), o = 0;
	out[0] = 0;
	while (o < end) {
		off_t d = lseek(fd, o, SEEK_DATA);
		if (d < 0) break;
		off_t h = lseek(fd, d, SEEK_HOLE);
		snprintf(out + strlen(out), n - strlen(out), "%ld-%ld ", (long)d, (long)h);
		o = h;
	}
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int fd = open("falloc", O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0) DIE("open");
	unlink("falloc");
	char b[16384];
	memset(b, 'd', sizeof b);
	pwrite(fd, b, sizeof b, 0);
	if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 4096, 4096)) DIE("punch: %s", strerror(errno));
	if (fallocate(fd, 0, 2 * MB, MB)) DIE("fallocate: %s", strerror(errno));
	pwrite(fd, "tail", 4, 4 * MB);
	if (fallocate(fd, FALLOC_FL_KEEP_SIZE, 4 * MB + 4096, MB)) DIE("keep size: %s", strerror(errno));
	fsync(fd);
	struct stat s0;
	fstat(fd, &s0);
	char m0[512];
	map(fd, m0, sizeof m0);
	kobj_wait();
	struct stat s1;
	fstat(fd, &s1);
	CHECK(s1.st_size == s0.st_size, "size %ld, was %ld", (long)s1.st_size, (long)s0.st_size);
	/* Within 64 sectors: the filesystem's own blocks (an extent tree's)
	 * count too, and depend on how the extents were laid out. */
	CHECK(s1.st_blocks >= s0.st_blocks - 64 && s1.st_blocks <= s0.st_blocks + 64, "st_blocks %ld, was %ld", (long)s1.st_blocks, (long)s0.st_blocks);
	char m1[512];
	map(fd, m1, sizeof m1);
	CHECK(strcmp(m0, m1) == 0, "data map '%s', was '%s'", m1, m0);
	char r[16384];
	pread(fd, r, sizeof r, 0);
	int ok = 1;
	for (int i = 0; i < 16384; i++) if (r[i] != ((i >= 4096 && i < 8192) ? 0 : 'd')) ok = 0;
	CHECK(ok, "the first 16 KiB differ");
	pread(fd, r, 4, 4 * MB);
	CHECK(memcmp(r, "tail", 4) == 0, "tail");
	pread(fd, r, 4096, 2 * MB + 4096);
	ok = 1;
	for (int i = 0; i < 4096; i++) if (r[i]) ok = 0;
	CHECK(ok, "the fallocated range is not zeros");
	return kobj_done();
}
