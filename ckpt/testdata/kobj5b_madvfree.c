/* kobj5b_madvfree: 32 pages freed lazily (MADV_FREE), then 8 of them
 * written again (which cancels the free of those). After the restart the
 * 8 hold what was written; each of the other 24 is either all its old
 * content or all zeros (the kernel may have reclaimed it), never mixed
 * nor anything else; and the region is still one private anonymous
 * mapping. */
#include "kobj.h"
#include <sys/mman.h>

#define NP 32
int main(int argc, char **argv) {
	kobj_init(argc, argv);
	long pg = 4096;
	unsigned char *r = mmap(NULL, NP * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	for (int i = 0; i < NP; i++) memset(r + i * pg, 0x10 + i, pg);
	if (madvise(r, NP * pg, MADV_FREE)) DIE("MADV_FREE: %s", strerror(errno));
	for (int i = 0; i < NP; i += 4) memset(r + i * pg, 0xa0 + i, pg);
	kobj_wait();
	for (int i = 0; i < NP; i++) {
		unsigned char first = r[i * pg];
		int same = 1;
		for (long o = 1; o < pg; o++)
			if (r[i * pg + o] != first) { same = 0; break; }
		if (i % 4 == 0) CHECK(same && first == 0xa0 + i, "page %d written after MADV_FREE: %#x (whole: %d)", i, first, same);
		else CHECK(same && (first == 0x10 + i || first == 0), "freed page %d: %#x (whole: %d)", i, first, same);
	}
	return kobj_done();
}
