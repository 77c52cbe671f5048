/* Offsets and holes past 4 GiB: an unlinked sparse file with data at 0,
 * 1 MiB and 5 GiB (size 6 GiB), its SEEK_DATA/SEEK_HOLE map identical,
 * offset 5 GiB + 3; a linked file at offset 4 GiB + 1 with size 8 GiB. */
#include "kobj.h"
#include <sys/stat.h>

static char map[4096];
static void holes(int fd, char *out) {
	out[0] = 0;
	struct stat st;
	fstat(fd, &st);
	for (off_t o = 0; o < st.st_size;) {
		off_t d = lseek(fd, o, SEEK_DATA);
		if (d < 0) break;
		off_t h = lseek(fd, d, SEEK_HOLE);
		char one[64];
		snprintf(one, sizeof one, "%lld-%lld ", (long long)d, (long long)h);
		strcat(out, one);
		o = h;
	}
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int u = open("sparse", O_RDWR | O_CREAT | O_TRUNC, 0600);
	pwrite(u, "start", 5, 0);
	pwrite(u, "middle", 6, 1 << 20);
	pwrite(u, "far", 3, 5LL << 30);
	ftruncate(u, 6LL << 30);
	unlink("sparse");
	int l = open("big", O_RDWR | O_CREAT | O_TRUNC, 0600);
	ftruncate(l, 8LL << 30);
	pwrite(l, "x", 1, 7LL << 30);
	lseek(l, (4LL << 30) + 1, SEEK_SET);
	holes(u, map);
	lseek(u, (5LL << 30) + 3, SEEK_SET);
	kobj_wait();
	char now[4096];
	CHECK(lseek(u, 0, SEEK_CUR) == (5LL << 30) + 3, "unlinked offset %lld", (long long)lseek(u, 0, SEEK_CUR));
	CHECK(lseek(l, 0, SEEK_CUR) == (4LL << 30) + 1, "linked offset %lld", (long long)lseek(l, 0, SEEK_CUR));
	holes(u, now);
	CHECK(strcmp(now, map) == 0, "data map %s, was %s", now, map);
	struct stat st;
	fstat(u, &st);
	CHECK(st.st_size == 6LL << 30 && st.st_blocks < 1024, "size %lld blocks %lld", (long long)st.st_size, (long long)st.st_blocks);
	char b[8] = {0};
	pread(u, b, 3, 5LL << 30);
	CHECK(strcmp(b, "far") == 0, "data at 5 GiB: %s", b);
	return kobj_done();
}
