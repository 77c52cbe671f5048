/* kobj4b_mseal: a region sealed with mseal (Linux 6.10, VmFlags "sl")
 * stays sealed: munmap, mprotect and a MAP_FIXED over it fail with EPERM,
 * its bytes are kept; an unsealed neighbour is still free to change. */
#include "kobj.h"
#include <sys/mman.h>
#include <sys/syscall.h>
#ifndef SYS_mseal
#define SYS_mseal 462
#endif

static int vmflag(void *addr, const char *flag) {
	char want[64], line[512];
	snprintf(want, sizeof want, "%lx-", (unsigned long)addr);
	FILE *f = fopen("/proc/self/smaps", "r");
	int in = 0, got = -1;
	while (f && fgets(line, sizeof line, f)) {
		if (strncmp(line, want, strlen(want)) == 0) in = 1;
		else if (in && strncmp(line, "VmFlags:", 8) == 0) {
			char pat[8];
			snprintf(pat, sizeof pat, " %s", flag);
			got = strstr(line, pat) != NULL;
			break;
		}
	}
	if (f) fclose(f);
	return got;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	long pg = sysconf(_SC_PAGESIZE);
	char *m = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED) DIE("mmap");
	memset(m, 'S', 4 * pg);
	char *free_ = mmap(m + 4 * pg, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (free_ == MAP_FAILED) free_ = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mprotect(m + 2 * pg, 2 * pg, PROT_READ)) DIE("mprotect");
	if (syscall(SYS_mseal, m, 4 * pg, 0)) DIE("mseal: %s", strerror(errno));
	CHECK(vmflag(m, "sl") == 1 && vmflag(m + 2 * pg, "sl") == 1, "not sealed at set-up");
	kobj_wait();
	CHECK(vmflag(m, "sl") == 1, "rw part: VmFlags has no sl");
	CHECK(vmflag(m + 2 * pg, "sl") == 1, "read-only part: VmFlags has no sl");
	CHECK(vmflag(free_, "sl") == 0, "the unsealed neighbour is sealed");
	errno = 0;
	CHECK(munmap(m, pg) == -1 && errno == EPERM, "munmap of a sealed page: %s", strerror(errno));
	errno = 0;
	CHECK(mprotect(m, pg, PROT_READ) == -1 && errno == EPERM, "mprotect of a sealed page: %s", strerror(errno));
	errno = 0;
	CHECK(mmap(m + 3 * pg, pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED && errno == EPERM, "MAP_FIXED over a sealed page: %s", strerror(errno));
	CHECK(m[0] == 'S' && m[4 * pg - 1] == 'S', "sealed bytes %c %c", m[0], m[4 * pg - 1]);
	m[5] = 'w';
	CHECK(m[5] == 'w', "sealed rw page not writable");
	CHECK(mprotect(free_, pg, PROT_READ) == 0, "mprotect of the unsealed neighbour: %s", strerror(errno));
	CHECK(munmap(free_, pg) == 0, "munmap of the unsealed neighbour: %s", strerror(errno));
	return kobj_done();
}
