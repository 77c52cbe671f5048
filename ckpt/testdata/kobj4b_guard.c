/* kobj4b_guard: guard regions installed with MADV_GUARD_INSTALL (Linux
 * 6.13) in the middle of an anonymous region: they show in no maps line,
 * only in pagemap (bit 58); after the restart a touch of one faults
 * (SIGSEGV), the pages about it keep their bytes, and MADV_GUARD_REMOVE
 * gives a zero page back. */
#include "kobj.h"
#include <setjmp.h>
#include <stdint.h>
#include <sys/mman.h>
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#define MADV_GUARD_REMOVE 103
#endif

static sigjmp_buf jb;
static void onsegv(int s) { (void)s; siglongjmp(jb, 1); }

static int faults(volatile char *p) {
	if (sigsetjmp(jb, 1)) return 1;
	(void)*p;
	return 0;
}

static int guardbit(void *p) {
	int fd = open("/proc/self/pagemap", O_RDONLY);
	uint64_t e = 0;
	pread(fd, &e, 8, (uintptr_t)p / 4096 * 8);
	close(fd);
	return (e >> 58) & 1;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	long pg = sysconf(_SC_PAGESIZE);
	char *m = mmap(NULL, 8 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED) DIE("mmap");
	for (int i = 0; i < 8; i++) memset(m + i * pg, 'a' + i, pg);
	if (madvise(m + 3 * pg, 2 * pg, MADV_GUARD_INSTALL)) DIE("MADV_GUARD_INSTALL: %s", strerror(errno));
	signal(SIGSEGV, onsegv);
	CHECK(faults(m + 3 * pg) && faults(m + 5 * pg - 1), "guard does not fault at set-up");
	CHECK(guardbit(m + 3 * pg), "pagemap has no guard bit at set-up");
	kobj_wait();
	CHECK(faults(m + 3 * pg), "first guard page readable");
	CHECK(faults(m + 4 * pg + 100), "second guard page readable");
	for (int i = 0; i < 8; i++)
		if (i != 3 && i != 4) CHECK(!faults(m + i * pg) && m[i * pg] == 'a' + i && m[i * pg + pg - 1] == 'a' + i, "page %d lost its bytes", i);
	CHECK(guardbit(m + 4 * pg), "pagemap has no guard bit");
	CHECK(!guardbit(m + 2 * pg), "a guard bit on page 2");
	CHECK(madvise(m + 3 * pg, 2 * pg, MADV_GUARD_REMOVE) == 0, "MADV_GUARD_REMOVE: %s", strerror(errno));
	CHECK(!faults(m + 3 * pg) && m[3 * pg] == 0, "page 3 after the guard went: %d", m[3 * pg]);
	return kobj_done();
}
