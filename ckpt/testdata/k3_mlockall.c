/* mlockall(MCL_CURRENT|MCL_FUTURE) and an mlock2 MLOCK_ONFAULT region: a
 * mapping made after the restart is locked too. */
#include "kobj.h"
#include <sys/mman.h>
#include <sys/syscall.h>

static long vmlck(void) {
	const char *t = strstr(read_file("/proc/self/status"), "VmLck:");
	return t ? atol(t + 6) : -1;
}

static const char *vmflags(void *a) {
	static char out[512];
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	int in = 0;
	out[0] = 0;
	while (f && fgets(line, sizeof line, f)) {
		unsigned long lo, hi;
		char c;
		if (sscanf(line, "%lx-%lx %c", &lo, &hi, &c) == 3) in = lo <= (unsigned long)a && (unsigned long)a < hi;
		else if (in && strncmp(line, "VmFlags:", 8) == 0) {
			snprintf(out, sizeof out, "%s", line);
			break;
		}
	}
	if (f) fclose(f);
	return out;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	char *r = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (syscall(SYS_mlock2, r, 1 << 20, 1) < 0) DIE("mlock2 ONFAULT: %s", strerror(errno));
	int onfault = argc > 2 && strcmp(argv[2], "onfault") == 0;
	if (mlockall(MCL_CURRENT | MCL_FUTURE | (onfault ? MCL_ONFAULT : 0)) < 0) DIE("mlockall: %s", strerror(errno));
	kobj_wait();
	CHECK(vmlck() > 0, "VmLck %ld kB", vmlck());
	char *n = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(strstr(vmflags(n), " lo") != NULL, "a new mapping is not locked (MCL_FUTURE lost): %s", vmflags(n));
	CHECK((strstr(vmflags(n), " lf") != NULL) == onfault, "a new mapping: MCL_ONFAULT %d, VmFlags %s", onfault, vmflags(n));
	CHECK(strstr(vmflags(r), " lo") != NULL, "the mlock2 region is not locked: %s", vmflags(r));
	return kobj_done();
}
