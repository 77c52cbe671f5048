/* kobj3_mlock: a region locked with mlock stays locked (VmLck, lo), and
 * with the argument "future", mlockall(MCL_FUTURE) still locks new maps. */
#include "kobj.h"
#include <sys/mman.h>

static long vmlck(void) {
	const char *b = read_file("/proc/self/status");
	const char *l = strstr(b, "VmLck:");
	return l ? atol(l + 6) : -1;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int future = argc > 2 && strcmp(argv[2], "future") == 0;
	char *m = mmap(NULL, 64 << 10, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED) DIE("mmap");
	if (mlock(m, 64 << 10)) DIE("mlock: %s", strerror(errno));
	m[100] = 9;
	if (future && mlockall(MCL_FUTURE)) DIE("mlockall: %s", strerror(errno));
	long before = vmlck();
	if (!future && before != 64) DIE("set-up: VmLck %ld", before);
	kobj_wait();
	long now = vmlck();
	if (!future) CHECK(now == 64, "VmLck %ld kB, want 64", now);
	else CHECK(now >= 64, "VmLck %ld kB, want at least 64", now);
	CHECK(m[100] == 9, "content");
	if (future) {
		long l0 = vmlck();
		char *n = mmap(NULL, 128 << 10, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		long l1 = vmlck();
		CHECK(n != MAP_FAILED && l1 - l0 == 128, "after mlockall(MCL_FUTURE) a new 128 kB map locks %ld kB", l1 - l0);
	} else {
		long l0 = vmlck();
		char *n = mmap(NULL, 128 << 10, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		long l1 = vmlck();
		CHECK(n != MAP_FAILED && l1 == l0, "a new map is locked (%ld -> %ld): MCL_FUTURE appeared", l0, l1);
	}
	return kobj_done();
}
