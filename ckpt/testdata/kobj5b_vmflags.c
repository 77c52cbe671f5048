/* kobj5b_vmflags: a region per madvise flag, each with content: KSM
 * merging (mg), sequential (sr), random (rr), don't dump (dd), don't
 * copy on fork (dc), wipe on fork (wf), huge pages (hg), no huge pages
 * (nh), MAP_NORESERVE (nr), and a plain one. Every region's VmFlags line
 * of /proc/self/smaps is the same after the restart, and its content. */
#include "kobj.h"
#include <sys/mman.h>

#define N 10
#define SZ (4UL << 20)
static char *r[N];
static char flags0[N][256];

static const char *vmflags(void *addr) {
	static char line[512];
	char want[64];
	snprintf(want, sizeof want, "%lx-", (unsigned long)addr);
	FILE *f = fopen("/proc/self/smaps", "r");
	int in = 0;
	line[0] = 0;
	while (f && fgets(line, sizeof line, f)) {
		if (!strncmp(line, want, strlen(want))) in = 1;
		else if (in && !strncmp(line, "VmFlags:", 8)) {
			line[strcspn(line, "\n")] = 0;
			fclose(f);
			return line;
		}
	}
	if (f) fclose(f);
	line[0] = 0;
	return line;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int adv[N] = {MADV_MERGEABLE, MADV_SEQUENTIAL, MADV_RANDOM, MADV_DONTDUMP, MADV_DONTFORK, MADV_WIPEONFORK, MADV_HUGEPAGE, MADV_NOHUGEPAGE, -1, -2};
	const char *want[N] = {" mg", " sr", " rr", " dd", " dc", " wf", " hg", " nh", " nr", ""};
	for (int i = 0; i < N; i++) {
		/* Apart from one another: a guard page between, so that no two
		 * merge into one region. */
		char *g = mmap(NULL, SZ + 8192, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		r[i] = mmap(g + 4096, SZ, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | (adv[i] == -1 ? MAP_NORESERVE : 0), -1, 0);
		if (r[i] == MAP_FAILED) DIE("mmap: %s", strerror(errno));
		if (adv[i] >= 0 && madvise(r[i], SZ, adv[i])) DIE("madvise %d: %s", adv[i], strerror(errno));
		for (size_t o = 0; o < SZ; o += 4096) r[i][o] = (char)(i * 7 + o / 4096);
		snprintf(flags0[i], sizeof flags0[i], "%s", vmflags(r[i]));
		if (*want[i] && !strstr(flags0[i], want[i])) DIE("region %d: %s lacks%s", i, flags0[i], want[i]);
	}
	kobj_wait();
	for (int i = 0; i < N; i++) {
		const char *now = vmflags(r[i]);
		CHECK(!strcmp(now, flags0[i]), "region %d (%s): %s, was %s", i, want[i], now, flags0[i]);
		for (size_t o = 0; o < SZ; o += 4096)
			if (r[i][o] != (char)(i * 7 + o / 4096)) {
				kobj_fail("region %d: page %zu lost its content", i, o / 4096);
				break;
			}
	}
	return kobj_done();
}
