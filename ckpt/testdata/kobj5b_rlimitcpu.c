/* kobj5b_rlimitcpu: RLIMIT_CPU soft 1 s, hard 9 s, with a SIGXCPU
 * handler. The limits are the same after the restart, and SIGXCPU comes
 * once the process has spun about 1 s of CPU counted from the restart
 * (the CPU time a restarted process starts from is its own: the kernel's
 * counters cannot be set; the limit is checked at the tick, so 700 ms at
 * the least), and not at once. */
#include "kobj.h"
#include <sys/resource.h>
#include <time.h>

static volatile int xcpu;
static void onxcpu(int s) { (void)s; xcpu++; }

static long cpums(void) {
	struct timespec t;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	signal(SIGXCPU, onxcpu);
	struct rlimit r = {1, 9};
	if (setrlimit(RLIMIT_CPU, &r)) DIE("setrlimit: %s", strerror(errno));
	kobj_wait();
	struct rlimit g;
	getrlimit(RLIMIT_CPU, &g);
	CHECK(g.rlim_cur == 1 && g.rlim_max == 9, "RLIMIT_CPU %ld/%ld", (long)g.rlim_cur, (long)g.rlim_max);
	long start = cpums();
	CHECK(xcpu == 0 && start < 900, "SIGXCPU %d before spinning, CPU time %ld ms", xcpu, start);
	while (!xcpu && cpums() < 1500) __asm__ volatile("" ::: "memory");
	long at = cpums();
	CHECK(xcpu == 1 && at >= 700, "SIGXCPU %d at %ld ms of CPU (from %ld)", xcpu, at, start);
	return kobj_done();
}
