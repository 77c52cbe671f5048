/* The memory layout: /proc/self/maps and every region's VmFlags are the
 * same after the restart. Among them: a PROT_NONE guard, a
 * MAP_GROWSDOWN stack, a MAP_FIXED_NOREPLACE region, /dev/zero mapped
 * shared, a read-only private file mapping, a mprotect'd hole in an
 * anonymous region, the brk moved up. */
#include "kobj.h"
#include <sys/mman.h>
#include <sys/auxv.h>

static char maps[65536], flags[65536];

/* mask_inodes blanks the inode of shared memory objects (deleted), and
 * the padding after it: the kernel numbers a new one anew. */
static void mask_inodes(char *m) {
	static char out[65536];
	size_t o = 0;
	for (char *l = m; *l;) {
		char *e = strchr(l, '\n');
		size_t n = e ? (size_t)(e - l) : strlen(l);
		char line[1024];
		snprintf(line, sizeof line, "%.*s", (int)n, l);
		if (strstr(line, " (deleted)") && strchr(line, '-') < strchr(line, ' ')) {
			char a[5][128], *path = line;
			for (int f = 0; f < 5; f++) {
				while (*path == ' ') path++;
				int k = 0;
				while (*path && *path != ' ' && k < 127) a[f][k++] = *path++;
				a[f][k] = 0;
			}
			while (*path == ' ') path++;
			o += snprintf(out + o, sizeof out - o, "%s %s %s %s N %s\n", a[0], a[1], a[2], a[3], path);
		} else
			o += snprintf(out + o, sizeof out - o, "%s\n", line);
		if (!e || o >= sizeof out) break;
		l = e + 1;
	}
	snprintf(m, 65536, "%s", out);
}

static void snap(char *m, char *f) {
	snprintf(m, 65536, "%s", read_file("/proc/self/maps"));
	mask_inodes(m);
	FILE *s = fopen("/proc/self/smaps", "r");
	char line[1024];
	f[0] = 0;
	while (s && fgets(line, sizeof line, s))
		if (strncmp(line, "VmFlags:", 8) == 0 || (strchr(line, '-') && strchr(line, '-') < strchr(line, ' ')))
			strncat(f, line, 65535 - strlen(f));
	if (s) fclose(s);
	mask_inodes(f);
}

static void diff(const char *what, const char *a, const char *b) {
	if (strcmp(a, b) == 0) return;
	/* The first differing line of each. */
	while (*a && *a == *b) { a++; b++; }
	while (a > what && a[-1] != '\n') { a--; b--; }
	char la[200], lb[200];
	snprintf(la, sizeof la, "%.*s", (int)strcspn(a, "\n"), a);
	snprintf(lb, sizeof lb, "%.*s", (int)strcspn(b, "\n"), b);
	kobj_fail("%s: now '%s', was '%s'", what, lb, la);
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	char *g = mmap(NULL, 16 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	mprotect(g + 4 * 4096, 4096, PROT_NONE);
	g[0] = 1;
	g[10 * 4096] = 2;
	/* Far from every other mapping: it has room to grow (stack_guard_gap). */
	char *gd = mmap((void *)0x300000000000, 8 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_GROWSDOWN | MAP_FIXED_NOREPLACE, -1, 0);
	if (gd == MAP_FAILED) DIE("MAP_GROWSDOWN: %s", strerror(errno));
	gd[7 * 4096] = 3;
	char *fx = mmap((void *)0x200000000000, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (fx == MAP_FAILED) DIE("MAP_FIXED_NOREPLACE: %s", strerror(errno));
	int z = open("/dev/zero", O_RDWR);
	char *zs = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, z, 0);
	close(z);
	strcpy(zs + 4096, "shared zero");
	int e = open(argv[0], O_RDONLY);
	char *ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, e, 0);
	close(e);
	char *none = mmap(NULL, 1 << 20, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	(void)none;
	snap(maps, flags); /* malloc's heap is set up before the brk is moved */
	void *b0 = sbrk(0);
	sbrk(3 * 4096 + 100);
	void *b1 = sbrk(0);
	memset(b0, 7, 3 * 4096 + 100);
	unsigned long vdso = getauxval(AT_SYSINFO_EHDR);
	snap(maps, flags);
	kobj_wait();
	static char m2[65536], f2[65536];
	snap(m2, f2);
	diff("maps", maps, m2);
	diff("smaps", flags, f2);
	CHECK(sbrk(0) == b1, "brk %p, was %p", sbrk(0), b1);
	CHECK(((char *)b0)[3 * 4096 + 99] == 7, "brk content");
	CHECK(strcmp(zs + 4096, "shared zero") == 0, "/dev/zero content");
	CHECK(memcmp(ro, "\177ELF", 4) == 0, "file mapping content");
	CHECK(g[0] == 1 && g[10 * 4096] == 2 && gd[7 * 4096] == 3, "anonymous content");
	CHECK(getauxval(AT_SYSINFO_EHDR) == vdso, "vdso %#lx, was %#lx", getauxval(AT_SYSINFO_EHDR), vdso);
	/* The growsdown region grows. */
	gd[-1] = 5;
	CHECK(gd[-1] == 5, "growsdown");
	return kobj_done();
}
