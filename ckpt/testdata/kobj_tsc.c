/* PR_SET_TSC PR_TSC_SIGSEGV: rdtsc faults, before and after. */
#include "kobj.h"
#include <setjmp.h>
#include <sys/prctl.h>

static sigjmp_buf jb;
static void onsegv(int s) { (void)s; siglongjmp(jb, 1); }

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	if (prctl(PR_SET_TSC, PR_TSC_SIGSEGV) < 0) DIE("PR_SET_TSC: %s", strerror(errno));
	kobj_wait();
	int tsc = 0;
	prctl(PR_GET_TSC, &tsc);
	CHECK(tsc == PR_TSC_SIGSEGV, "tsc mode %d", tsc);
	signal(SIGSEGV, onsegv);
	int faulted = 0;
	if (sigsetjmp(jb, 1) == 0) {
		unsigned lo, hi;
		__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	} else
		faulted = 1;
	CHECK(faulted, "rdtsc did not fault");
	return kobj_done();
}
