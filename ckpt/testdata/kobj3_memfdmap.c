/* kobj3_memfdmap: a sealed memfd held only by two MAP_SHARED mappings (its
 * descriptor closed) keeps its seals, size and content, and the two
 * mappings stay one object. */
#include "kobj.h"
#include <sys/mman.h>

static int seals_of(void *m, size_t len) {
	char p[128];
	snprintf(p, sizeof p, "/proc/self/map_files/%lx-%lx", (unsigned long)m, (unsigned long)m + len);
	int fd = open(p, O_RDONLY);
	if (fd < 0) return -1000 - errno;
	int s = fcntl(fd, F_GET_SEALS);
	off_t sz = lseek(fd, 0, SEEK_END);
	close(fd);
	return sz == 2 * 4096 ? s : -2;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int fd = memfd_create("kobj3", MFD_ALLOW_SEALING);
	if (fd < 0 || ftruncate(fd, 2 * 4096)) DIE("memfd");
	char *a = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	char *b = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (a == MAP_FAILED || b == MAP_FAILED) DIE("mmap");
	int want = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;
	if (fcntl(fd, F_ADD_SEALS, want)) DIE("seals: %s", strerror(errno));
	memcpy(a + 4096, "memfd", 5);
	close(fd);
	if (seals_of(a, 2 * 4096) != want) DIE("set-up: seals %d", seals_of(a, 2 * 4096));
	kobj_wait();
	int s = seals_of(a, 2 * 4096);
	CHECK(s == want, "seals %d, want %d", s, want);
	CHECK(memcmp(b + 4096, "memfd", 5) == 0, "content");
	a[10] = 'w';
	CHECK(b[10] == 'w', "the two mappings are not one memfd");
	char p[128];
	snprintf(p, sizeof p, "/proc/self/map_files/%lx-%lx", (unsigned long)b, (unsigned long)b + 2 * 4096);
	fd = open(p, O_RDWR);
	CHECK(fd >= 0 && ftruncate(fd, 4096) < 0 && errno == EPERM, "shrinking is not refused");
	if (fd >= 0) close(fd);
	return kobj_done();
}
