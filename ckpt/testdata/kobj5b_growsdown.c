/* kobj5b_growsdown: a MAP_GROWSDOWN region of 16 pages that has grown
 * down by 4 pages (touched below its start) before the checkpoint. After
 * the restart it starts where it had grown to, keeps its gd flag and its
 * content, and grows again when the page below it is touched. */
#include "kobj.h"
#include <sys/mman.h>

static unsigned long region_of(unsigned long addr, char *flags) {
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	unsigned long s = 0, e = 0, found = 0;
	while (f && fgets(line, sizeof line, f)) {
		unsigned long a, b;
		if (sscanf(line, "%lx-%lx ", &a, &b) == 2) {
			s = a;
			e = b;
		} else if (!strncmp(line, "VmFlags:", 8) && addr >= s && addr < e) {
			found = s;
			line[strcspn(line, "\n")] = 0;
			strcpy(flags, line);
		}
	}
	if (f) fclose(f);
	return found;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	long pg = 4096;
	/* Room below it (the kernel keeps a gap to the next region below). */
	char *hole = mmap(NULL, 4096 * pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	munmap(hole, 4096 * pg);
	char *top = hole + 4096 * pg - 16 * pg;
	char *g = mmap(top, 16 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_GROWSDOWN | MAP_FIXED, -1, 0);
	if (g == MAP_FAILED) DIE("mmap: %s", strerror(errno));
	for (int i = 1; i <= 4; i++) *(volatile char *)(g - i * pg) = (char)(40 + i);
	g[0] = 7;
	char f0[512] = "";
	unsigned long s0 = region_of((unsigned long)g, f0);
	if (s0 != (unsigned long)(g - 4 * pg) || !strstr(f0, " gd")) DIE("region at %#lx (%s), want %p", s0, f0, g - 4 * pg);
	kobj_wait();
	char f1[512] = "";
	unsigned long s1 = region_of((unsigned long)g, f1);
	CHECK(s1 == s0 && !strcmp(f1, f0), "region at %#lx (%s), was %#lx (%s)", s1, f1, s0, f0);
	for (int i = 1; i <= 4; i++) CHECK(*(volatile char *)(g - i * pg) == (char)(40 + i), "page -%d lost its content", i);
	CHECK(g[0] == 7, "content lost");
	*(volatile char *)(g - 6 * pg) = 1; /* grows on */
	unsigned long s2 = region_of((unsigned long)g, f1);
	CHECK(s2 == (unsigned long)(g - 6 * pg), "did not grow: starts at %#lx, want %p", s2, g - 6 * pg);
	return kobj_done();
}
