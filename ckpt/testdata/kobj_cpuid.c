/* arch_prctl ARCH_SET_CPUID 0: cpuid faults (SIGSEGV) in the main thread,
 * before and after; a thread made before it still runs cpuid (the flag is
 * per thread). */
#include "kobj.h"
#include <asm/prctl.h>
#include <pthread.h>
#include <setjmp.h>
#include <sys/syscall.h>

static sigjmp_buf jb;
static void onsegv(int s) { (void)s; siglongjmp(jb, 1); }

static int cpuid_faults(void) {
	if (sigsetjmp(jb, 1) == 0) {
		unsigned a = 0, b, c = 0, d;
		__asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
		return 0;
	}
	return 1;
}

static volatile int ask, answer = -1;

static void *other(void *arg) {
	(void)arg;
	for (;;) {
		while (!ask) usleep(1000);
		answer = (int)syscall(SYS_arch_prctl, ARCH_GET_CPUID, 0);
		ask = 0;
	}
	return NULL;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	pthread_t th;
	pthread_create(&th, NULL, other, NULL);
	if (syscall(SYS_arch_prctl, ARCH_SET_CPUID, 0) < 0) DIE("ARCH_SET_CPUID 0: %s", strerror(errno));
	kobj_wait();
	CHECK(syscall(SYS_arch_prctl, ARCH_GET_CPUID, 0) == 0, "ARCH_GET_CPUID %ld in the main thread, want 0 (faulting)", syscall(SYS_arch_prctl, ARCH_GET_CPUID, 0));
	signal(SIGSEGV, onsegv);
	CHECK(cpuid_faults(), "cpuid did not fault in the main thread");
	ask = 1;
	for (int i = 0; i < 5000 && ask; i++) usleep(1000);
	CHECK(answer == 1, "ARCH_GET_CPUID %d in the other thread, want 1 (allowed)", answer);
	return kobj_done();
}
