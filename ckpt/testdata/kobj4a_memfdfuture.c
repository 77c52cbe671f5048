/* kobj4a_memfdfuture: a memfd sealed F_SEAL_FUTURE_WRITE|F_SEAL_SHRINK,
 * mapped shared read-only and privately writable: write() fails EPERM,
 * a new shared writable mapping fails, the private copy keeps its byte,
 * the content stays. With "writable", a shared writable mapping made
 * before the seal still writes it (refused: no mapping can be made
 * writable under the seal at the restart). */
#include "kobj.h"
#include <sys/mman.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int writable = argc > 2 && strcmp(argv[2], "writable") == 0;
	int fd = memfd_create("future", MFD_ALLOW_SEALING);
	ftruncate(fd, 8192);
	char *w = NULL;
	if (writable) w = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	pwrite(fd, "sealed!", 7, 100);
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE | F_SEAL_SHRINK)) DIE("F_ADD_SEALS: %s", strerror(errno));
	char *ro = mmap(NULL, 8192, PROT_READ, MAP_SHARED, fd, 0);
	char *pv = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (ro == MAP_FAILED || pv == MAP_FAILED) DIE("mmap: %s", strerror(errno));
	pv[4096] = 'p';
	if (w) w[200] = 'w';
	int seals = fcntl(fd, F_GET_SEALS);
	kobj_wait();
	CHECK(fcntl(fd, F_GET_SEALS) == seals, "seals %#x, were %#x", fcntl(fd, F_GET_SEALS), seals);
	CHECK(pwrite(fd, "x", 1, 0) < 0 && errno == EPERM, "write under F_SEAL_FUTURE_WRITE: %s", strerror(errno));
	void *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(m == MAP_FAILED, "a new shared writable mapping was allowed");
	CHECK(memcmp(ro + 100, "sealed!", 7) == 0, "content '%.7s'", ro + 100);
	CHECK(pv[4096] == 'p' && ro[4096] == 0, "private copy %d, file %d", pv[4096], ro[4096]);
	CHECK(mprotect(ro, 8192, PROT_READ | PROT_WRITE) < 0, "the read-only shared mapping became writable");
	if (w) {
		w[300] = 'v';
		CHECK(ro[200] == 'w' && ro[300] == 'v', "the old writable mapping is not the memfd");
	}
	return kobj_done();
}
