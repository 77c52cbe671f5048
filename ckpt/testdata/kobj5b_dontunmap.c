/* kobj5b_dontunmap: mremap(MREMAP_MAYMOVE | MREMAP_DONTUNMAP) of 8
 * written pages: the new place has the content, the old one stays
 * mapped, empty (reads zeros: its pages went with the move). After the
 * restart both are where they were with the same maps lines, the new one
 * with the content and the old one zeros, and writable. */
#include "kobj.h"
#include <sys/mman.h>
#include <sys/syscall.h>

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif

static void line_of(void *a, char *out) {
	FILE *f = fopen("/proc/self/maps", "r");
	char l[512];
	out[0] = 0;
	while (f && fgets(l, sizeof l, f)) {
		unsigned long s, e;
		if (sscanf(l, "%lx-%lx", &s, &e) == 2 && (unsigned long)a >= s && (unsigned long)a < e) strcpy(out, l);
	}
	if (f) fclose(f);
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	long pg = 4096;
	char *old = mmap(NULL, 8 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	for (int i = 0; i < 8; i++) memset(old + i * pg, 'a' + i, pg);
	char *nw = (char *)syscall(SYS_mremap, old, 8 * pg, 8 * pg, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, 0);
	if (nw == MAP_FAILED) DIE("mremap: %s", strerror(errno));
	char lo[512], ln[512];
	line_of(old, lo);
	line_of(nw, ln);
	kobj_wait();
	char lo1[512], ln1[512];
	line_of(old, lo1);
	line_of(nw, ln1);
	CHECK(!strcmp(lo, lo1), "old place: %s, was %s", lo1, lo);
	CHECK(!strcmp(ln, ln1), "new place: %s, was %s", ln1, ln);
	for (int i = 0; i < 8; i++) {
		CHECK(nw[i * pg] == 'a' + i && nw[i * pg + pg - 1] == 'a' + i, "new page %d: %c", i, nw[i * pg]);
		CHECK(old[i * pg] == 0 && old[i * pg + pg - 1] == 0, "old page %d: %#x, want 0", i, old[i * pg]);
	}
	old[0] = 1;
	CHECK(old[0] == 1 && nw[0] == 'a', "old and new share a page");
	return kobj_done();
}
