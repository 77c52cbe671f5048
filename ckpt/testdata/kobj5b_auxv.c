/* kobj5b_auxv: the auxiliary vector, as the program reads it three
 * ways: /proc/self/auxv, prctl(PR_GET_AUXV) and getauxval. After the
 * restart the bytes are the same; AT_RANDOM's 16 bytes, AT_EXECFN's
 * string and AT_PHDR's program headers are where they were with their
 * content; AT_SYSINFO_EHDR is the start of the [vdso] mapping. */
#include "kobj.h"
#include <stdint.h>
#include <sys/auxv.h>
#include <sys/prctl.h>

#ifndef PR_GET_AUXV
#define PR_GET_AUXV 0x41555856
#endif

static char a0[4096], p0[4096];
static int na0, np0;

static int getpr(char *buf) {
	return prctl(PR_GET_AUXV, buf, 4096, 0, 0);
}

static unsigned long vdso_start(void) {
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	unsigned long s = 0, e;
	while (f && fgets(line, sizeof line, f))
		if (strstr(line, "[vdso]")) sscanf(line, "%lx-%lx", &s, &e);
	if (f) fclose(f);
	return s;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int fd = open("/proc/self/auxv", O_RDONLY);
	na0 = read(fd, a0, sizeof a0);
	close(fd);
	np0 = getpr(p0);
	if (na0 <= 0 || np0 <= 0) DIE("auxv: %d %d", na0, np0);
	unsigned char rnd0[16];
	memcpy(rnd0, (void *)getauxval(AT_RANDOM), 16);
	char execfn0[4096];
	snprintf(execfn0, sizeof execfn0, "%s", (char *)getauxval(AT_EXECFN));
	kobj_wait();
	char a1[4096], p1[4096];
	fd = open("/proc/self/auxv", O_RDONLY);
	int na1 = read(fd, a1, sizeof a1);
	close(fd);
	int np1 = getpr(p1);
	CHECK(na1 == na0 && !memcmp(a0, a1, na0), "/proc/self/auxv: %d bytes, were %d, or they differ", na1, na0);
	CHECK(np1 == np0 && !memcmp(p0, p1, np0 < (int)sizeof p0 ? np0 : (int)sizeof p0), "PR_GET_AUXV: %d bytes, were %d, or they differ", np1, np0);
	/* glibc keeps its own copy of the vector (AT_HWCAP apart: it makes
	 * its own of it): it agrees with the kernel's. */
	unsigned long *v = (unsigned long *)a1;
	for (int i = 0; i + 1 < na1 / 8; i += 2)
		if (v[i] != AT_NULL && v[i] != AT_IGNORE && v[i] != AT_HWCAP && v[i] != AT_HWCAP2 && getauxval(v[i]) != v[i + 1])
			kobj_fail("getauxval(%lu) %#lx, auxv says %#lx", v[i], getauxval(v[i]), v[i + 1]);
	CHECK(!memcmp((void *)getauxval(AT_RANDOM), rnd0, 16), "AT_RANDOM's bytes differ");
	CHECK(!strcmp((char *)getauxval(AT_EXECFN), execfn0), "AT_EXECFN %s, was %s", (char *)getauxval(AT_EXECFN), execfn0);
	CHECK(getauxval(AT_SYSINFO_EHDR) == vdso_start(), "AT_SYSINFO_EHDR %#lx, [vdso] at %#lx", getauxval(AT_SYSINFO_EHDR), vdso_start());
	const unsigned char *ph = (const unsigned char *)getauxval(AT_PHDR);
	CHECK(getauxval(AT_PHENT) == 56 && ph != NULL, "AT_PHENT %lu", getauxval(AT_PHENT));
	return kobj_done();
}
