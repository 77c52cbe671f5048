/* Resource limits set below their defaults, soft and hard apart. */
#include "kobj.h"
#include <sys/resource.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	struct { int r; rlim_t cur, max; } want[] = {
		{RLIMIT_NOFILE, 123, 456}, {RLIMIT_CORE, 0, 1 << 20}, {RLIMIT_STACK, 4 << 20, 64 << 20},
		{RLIMIT_CPU, 100000, 200000}, {RLIMIT_FSIZE, 1 << 30, RLIM_INFINITY}, {RLIMIT_NPROC, 5000, 6000},
		{RLIMIT_MEMLOCK, 1 << 16, 1 << 20}, {RLIMIT_MSGQUEUE, 100000, 200000}, {RLIMIT_NICE, 5, 10},
		{RLIMIT_RTPRIO, 1, 2}, {RLIMIT_SIGPENDING, 500, 1000}, {RLIMIT_AS, RLIM_INFINITY, RLIM_INFINITY},
		{RLIMIT_DATA, 8ull << 30, 16ull << 30}, {RLIMIT_RTTIME, 1000000, 2000000}, {RLIMIT_LOCKS, 77, 88},
	};
	int n = sizeof want / sizeof want[0];
	for (int i = 0; i < n; i++) {
		/* Only lowered (root has no CAP_SYS_RESOURCE here). */
		struct rlimit old;
		getrlimit(want[i].r, &old);
		if (old.rlim_max != RLIM_INFINITY && want[i].max > old.rlim_max) want[i].max = old.rlim_max;
		if (want[i].cur > want[i].max) want[i].cur = want[i].max;
		struct rlimit l = {want[i].cur, want[i].max};
		if (setrlimit(want[i].r, &l)) DIE("setrlimit %d: %s", want[i].r, strerror(errno));
	}
	char limits[8192];
	snprintf(limits, sizeof limits, "%s", read_file("/proc/self/limits"));
	kobj_wait();
	for (int i = 0; i < n; i++) {
		struct rlimit l;
		getrlimit(want[i].r, &l);
		CHECK(l.rlim_cur == want[i].cur && l.rlim_max == want[i].max, "limit %d: %llu %llu", want[i].r, (unsigned long long)l.rlim_cur, (unsigned long long)l.rlim_max);
	}
	CHECK(strcmp(read_file("/proc/self/limits"), limits) == 0, "/proc/self/limits differs");
	return kobj_done();
}
