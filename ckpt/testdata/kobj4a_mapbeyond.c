/* kobj4a_mapbeyond: a MAP_SHARED mapping of 3 pages of a file cut to 1
 * page and 100 bytes after it was mapped: the first two pages read the
 * file (the second its tail, then zeros), the third is past the end of
 * file and faults with SIGBUS. The same after the restart, and a store in
 * the second page reaches the file. */
#include "kobj.h"
#include <setjmp.h>
#include <sys/mman.h>

static sigjmp_buf jb;
static void onbus(int s) { (void)s; siglongjmp(jb, 1); }

static int faults(volatile char *p) {
	if (sigsetjmp(jb, 1)) return 1;
	(void)*p;
	return 0;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int fd = open("mb-file", O_RDWR | O_CREAT | O_TRUNC, 0644);
	ftruncate(fd, 3 * 4096);
	char *m = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED) DIE("mmap");
	memset(m, 'm', 3 * 4096);
	ftruncate(fd, 4096 + 100);
	signal(SIGBUS, onbus);
	if (!faults(m + 2 * 4096)) DIE("no SIGBUS past the end of file");
	kobj_wait();
	CHECK(m[0] == 'm' && m[4096 + 99] == 'm' && m[4096 + 100] == 0, "bytes %c %c %d", m[0], m[4096 + 99], m[4096 + 100]);
	CHECK(faults(m + 2 * 4096), "the page past the end of file does not fault");
	m[4096 + 50] = 'S';
	char b;
	CHECK(pread(fd, &b, 1, 4096 + 50) == 1 && b == 'S', "the mapping is not the file");
	m[4096 + 50] = 'm';
	close(fd);
	return kobj_done();
}
