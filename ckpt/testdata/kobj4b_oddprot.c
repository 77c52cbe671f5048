/* kobj4b_oddprot: mappings with unusual protections: execute-only code
 * (--x, a function returning 42 written then mprotected PROT_EXEC), a
 * write-only page (-w-), 200 alternating PROT_READ/PROT_NONE pages of one
 * mapping (200 VMAs), and a mapping at the lowest address allowed
 * (mmap_min_addr, 64 KiB). After the restart maps shows them the same,
 * the code runs, the bytes are there and the PROT_NONE pages fault. */
#include "kobj.h"
#include <setjmp.h>
#include <stdint.h>
#include <sys/mman.h>

static sigjmp_buf jb;
static void onsegv(int s) { (void)s; siglongjmp(jb, 1); }
static int faults(volatile char *p) {
	if (sigsetjmp(jb, 1)) return 1;
	(void)*p;
	return 0;
}

static char mapsnap[65536];
static void snap(char *out, size_t n, uintptr_t lo, uintptr_t hi) {
	const char *b = read_file("/proc/self/maps");
	out[0] = 0;
	for (const char *l = b; *l;) {
		size_t len = strcspn(l, "\n");
		uintptr_t s = strtoul(l, NULL, 16);
		if (s >= lo && s < hi && strlen(out) + len + 2 < n) {
			strncat(out, l, len);
			strcat(out, "\n");
		}
		l += len + (l[len] == '\n');
	}
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	long pg = sysconf(_SC_PAGESIZE);
	signal(SIGSEGV, onsegv);
	unsigned char *code = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	static const unsigned char ret42[] = {0xb8, 42, 0, 0, 0, 0xc3}; /* mov $42,%eax; ret */
	memcpy(code, ret42, sizeof ret42);
	if (mprotect(code, pg, PROT_EXEC)) DIE("mprotect exec: %s", strerror(errno));
	char *wo = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	strcpy(wo, "write-only");
	mprotect(wo, pg, PROT_WRITE);
	char *stripes = mmap(NULL, 200 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	for (int i = 0; i < 200; i++) stripes[i * pg] = i;
	for (int i = 0; i < 200; i++) mprotect(stripes + i * pg, pg, i % 2 ? PROT_NONE : PROT_READ);
	char *low = mmap((void *)0x10000, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (low != (void *)0x10000) DIE("map at 0x10000: %s", strerror(errno));
	strcpy(low, "low");
	static char a[4][8192];
	snap(a[0], sizeof a[0], (uintptr_t)code, (uintptr_t)code + pg);
	snap(a[1], sizeof a[1], (uintptr_t)wo, (uintptr_t)wo + pg);
	snap(mapsnap, sizeof mapsnap, (uintptr_t)stripes, (uintptr_t)stripes + 200 * pg);
	snap(a[2], sizeof a[2], 0x10000, 0x11000);
	if (!strstr(a[0], "--xp") || !strstr(a[1], "-w-p")) DIE("protections at set-up: %s %s", a[0], a[1]);
	kobj_wait();
	static char b[8192], bs[65536];
	snap(b, sizeof b, (uintptr_t)code, (uintptr_t)code + pg);
	CHECK(strcmp(a[0], b) == 0, "code mapping %s, was %s", b, a[0]);
	snap(b, sizeof b, (uintptr_t)wo, (uintptr_t)wo + pg);
	CHECK(strcmp(a[1], b) == 0, "write-only mapping %s, was %s", b, a[1]);
	snap(bs, sizeof bs, (uintptr_t)stripes, (uintptr_t)stripes + 200 * pg);
	CHECK(strcmp(mapsnap, bs) == 0, "striped mapping differs");
	snap(b, sizeof b, 0x10000, 0x11000);
	CHECK(strcmp(a[2], b) == 0, "low mapping %s, was %s", b, a[2]);
	CHECK(((int (*)(void))code)() == 42, "code does not return 42");
	CHECK(strcmp(wo, "write-only") == 0, "write-only bytes");
	int bad = 0;
	for (int i = 0; i < 200; i++) bad += i % 2 ? !faults(stripes + i * pg) : (faults(stripes + i * pg) || (unsigned char)stripes[i * pg] != i);
	CHECK(bad == 0, "%d striped pages wrong", bad);
	CHECK(strcmp(low, "low") == 0, "low bytes");
	return kobj_done();
}
