/* kobj5b_vmlock: locked regions, told apart: one mlock'd whole (lo), one
 * mlock2(MLOCK_ONFAULT) with 3 of its 16 pages touched (lo lf: only those
 * resident), one MAP_LOCKED, one MAP_POPULATE (resident, not locked). The
 * VmFlags, the Locked and Rss of each region are the same after the
 * restart: the untouched pages of the on-fault one are not brought in. */
#include "kobj.h"
#include <sys/mman.h>
#include <sys/syscall.h>

#define N 4
#define SZ (16 * 4096UL)
static char *r[N];

static const char *smaps(void *addr, const char *key) {
	static char line[512];
	char want[64];
	snprintf(want, sizeof want, "%lx-", (unsigned long)addr);
	FILE *f = fopen("/proc/self/smaps", "r");
	int in = 0;
	line[0] = 0;
	while (f && fgets(line, sizeof line, f)) {
		if (!strncmp(line, want, strlen(want))) in = 1;
		else if (in && !strncmp(line, key, strlen(key))) {
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
	for (int i = 0; i < N; i++) {
		char *g = mmap(NULL, SZ + 8192, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		int fl = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | (i == 2 ? MAP_LOCKED : 0) | (i == 3 ? MAP_POPULATE : 0);
		r[i] = mmap(g + 4096, SZ, PROT_READ | PROT_WRITE, fl, -1, 0);
		if (r[i] == MAP_FAILED) DIE("mmap: %s", strerror(errno));
	}
	if (mlock(r[0], SZ)) DIE("mlock: %s", strerror(errno));
	if (syscall(SYS_mlock2, r[1], SZ, 1 /* MLOCK_ONFAULT */)) DIE("mlock2: %s", strerror(errno));
	r[1][0] = 1;
	r[1][5 * 4096] = 2;
	r[1][15 * 4096] = 3;
	r[0][4096] = 4;
	r[3][8192] = 5;
	const char *keys[] = {"VmFlags:", "Rss:", "Locked:"};
	char before[N][3][256];
	for (int i = 0; i < N; i++)
		for (int k = 0; k < 3; k++) snprintf(before[i][k], sizeof before[i][k], "%s", smaps(r[i], keys[k]));
	kobj_wait();
	for (int i = 0; i < N; i++)
		for (int k = 0; k < 3; k++) {
			if (i == 3 && k == 1) continue;
			const char *now = smaps(r[i], keys[k]);
			if (strcmp(now, before[i][k])) {
				unsigned char v[16];
				char res[17];
				mincore(r[i], SZ, v);
				for (int j = 0; j < 16; j++) res[j] = v[j] & 1 ? 'r' : '-';
				res[16] = 0;
				kobj_fail("region %d: %s, was %s (resident: %s)", i, now, before[i][k], res);
			}
		}
	CHECK(r[1][0] == 1 && r[1][5 * 4096] == 2 && r[1][15 * 4096] == 3 && r[0][4096] == 4 && r[3][8192] == 5, "content lost");
	return kobj_done();
}
