/* kobj3_hugepage: an anonymous region with MADV_HUGEPAGE keeps the advice
 * (VmFlags hg) and its content; one with MADV_NOHUGEPAGE keeps nh. */
#include "kobj.h"
#include <stdint.h>
#include <sys/mman.h>

static int vmflag(void *addr, const char *flag) {
	char want[64], line[512];
	snprintf(want, sizeof want, "%lx-", (unsigned long)addr);
	FILE *f = fopen("/proc/self/smaps", "r");
	int in = 0, found = 0;
	while (f && fgets(line, sizeof line, f)) {
		if (strncmp(line, want, strlen(want)) == 0) in = 1;
		else if (in && strncmp(line, "VmFlags:", 8) == 0) {
			char pat[8];
			snprintf(pat, sizeof pat, " %s", flag);
			found = strstr(line, pat) != NULL;
			break;
		}
	}
	if (f) fclose(f);
	return found;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	size_t len = 4 << 20;
	char *raw = mmap(NULL, 2 * len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (raw == MAP_FAILED) DIE("mmap: %s", strerror(errno));
	char *h = (char *)(((uintptr_t)raw + (2 << 20) - 1) & ~(uintptr_t)((2 << 20) - 1));
	if (madvise(h, 2 << 20, MADV_HUGEPAGE)) DIE("MADV_HUGEPAGE: %s", strerror(errno));
	char *n = h + (2 << 20) + 4096 * 4;
	if (madvise(n, 4096 * 4, MADV_NOHUGEPAGE)) DIE("MADV_NOHUGEPAGE: %s", strerror(errno));
	for (size_t i = 0; i < (2 << 20); i += 512) h[i] = (char)(i >> 9);
	n[5] = 77;
	CHECK(vmflag(h, "hg"), "set-up: no hg");
	CHECK(vmflag(n, "nh"), "set-up: no nh");
	kobj_wait();
	CHECK(vmflag(h, "hg"), "the MADV_HUGEPAGE region lost hg");
	CHECK(vmflag(n, "nh"), "the MADV_NOHUGEPAGE region lost nh");
	for (size_t i = 0; i < (2 << 20); i += 512)
		if (h[i] != (char)(i >> 9)) { kobj_fail("content at %zu", i); break; }
	CHECK(n[5] == 77, "content of the nh region");
	return kobj_done();
}
