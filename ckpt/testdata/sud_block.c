/* Syscall user dispatch left at BLOCK while the program waits to be
 * checkpointed (kobjsud_test.go). Arguments: OUT, then "handler" (a SIGSYS
 * handler installed from the start) or "nohandler" (none until the checks:
 * a single dispatched syscall kills it), the number of threads (1 or 2,
 * each with a dispatch of its own: its own selector byte and the C
 * library's text exempt), MiB of private memory to touch (so that the
 * checkpoint takes its userfaultfd paths), and optionally "inclusive":
 * only the program's own syscall stub is dispatched (the mode where the
 * region given is the one dispatched).
 *
 * Every thread turns dispatch on with the C library's text exempt and
 * leaves its selector at BLOCK: the C library's calls go, any other is
 * dispatched. While it waits the checkpoint (or the restart) must not have
 * one of its own calls dispatched. Then each thread checks its dispatch is
 * as it was: the selector byte still BLOCK in memory, a C library call
 * allowed (the exempt region), its own syscall instruction dispatched to
 * the handler with the call's number and address (mode and selector), and
 * allowed once the selector says ALLOW (the selector's address). */
#include "kobj.h"
#include <pthread.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#ifndef PR_SET_SYSCALL_USER_DISPATCH
#define PR_SET_SYSCALL_USER_DISPATCH 59
#define PR_SYS_DISPATCH_ON 1
#define SYSCALL_DISPATCH_FILTER_ALLOW 0
#define SYSCALL_DISPATCH_FILTER_BLOCK 1
#endif

/* own_sys(nr): a syscall made from this program's text (never exempt);
 * own_sys_ret is the address after its syscall instruction. */
__asm__(".text\n.globl own_sys\n.type own_sys,@function\nown_sys:\n\tmov %rdi, %rax\n\tsyscall\n"
	".globl own_sys_ret\nown_sys_ret:\n\tret\n");
extern long own_sys(long nr);
extern char own_sys_ret[];

static volatile char selector[2]; /* one byte per thread */
static __thread volatile int sigsys, sysnr;
static __thread void *volatile calladdr;
static int ready[2], wake[2];
static unsigned long libc_lo, libc_len;

static void onsys(int s, siginfo_t *si, void *u) {
	(void)s; (void)u;
	sigsys++;
	sysnr = si->si_syscall;
	calladdr = si->si_call_addr;
}

/* libc_text: the executable mapping holding the C library's syscall(). */
static void libc_text(void) {
	unsigned long a = (unsigned long)&syscall;
	FILE *f = fopen("/proc/self/maps", "r");
	char l[512];
	while (f && fgets(l, sizeof l, f)) {
		unsigned long lo, hi;
		if (sscanf(l, "%lx-%lx", &lo, &hi) == 2 && a >= lo && a < hi) {
			libc_lo = lo;
			libc_len = hi - lo;
		}
	}
	if (f) fclose(f);
}

static int handler_first, inclusive;

/* dispatch_on: this thread's dispatch on, its selector at BLOCK: every
 * call but the C library's dispatched, or with "inclusive" only those
 * made from own_sys (PR_SYS_DISPATCH_INCLUSIVE_ON, 2: the region given is
 * the one dispatched). */
static void dispatch_on(int i) {
	int r;
	if (inclusive)
		r = prctl(PR_SET_SYSCALL_USER_DISPATCH, 2, (unsigned long)own_sys, (unsigned long)(own_sys_ret - (char *)own_sys) + 1, &selector[i]);
	else
		r = prctl(PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_ON, libc_lo, libc_len, &selector[i]);
	if (r) DIE("thread %d: PR_SET_SYSCALL_USER_DISPATCH: %s", i, strerror(errno));
	selector[i] = SYSCALL_DISPATCH_FILTER_BLOCK;
	if (handler_first) {
		own_sys(SYS_getppid);
		if (sigsys != 1) DIE("thread %d: dispatch does not dispatch (%d SIGSYS)", i, sigsys);
		sigsys = 0;
	}
}

/* check: this thread's dispatch is in force as it was set. */
static void check(int i) {
	CHECK(selector[i] == SYSCALL_DISPATCH_FILTER_BLOCK, "thread %d: selector byte %d, want BLOCK", i, selector[i]);
	CHECK(sigsys == 0, "thread %d: %d SIGSYS while it waited (nr %d)", i, sigsys, sysnr);
	sigsys = 0;
	long want = getppid();
	CHECK(syscall(SYS_getppid) == want && sigsys == 0, "thread %d: a C library call was dispatched", i);
	own_sys(SYS_getppid); /* dispatched: the handler counts it */
	CHECK(sigsys == 1 && sysnr == SYS_getppid && calladdr == own_sys_ret,
		"thread %d: dispatch not in force: %d SIGSYS (nr %d at %p, want %d at %p)", i, sigsys, sysnr, calladdr, SYS_getppid, own_sys_ret);
	selector[i] = SYSCALL_DISPATCH_FILTER_ALLOW;
	CHECK(own_sys(SYS_getppid) == want && sigsys == 1, "thread %d: a call the selector allows was dispatched", i);
	selector[i] = SYSCALL_DISPATCH_FILTER_BLOCK;
}

static void *second(void *arg) {
	(void)arg;
	char c;
	dispatch_on(1);
	if (write(ready[1], "r", 1) != 1) DIE("write: %s", strerror(errno));
	/* Waits in the C library (exempt) until the main thread's checks. */
	if (read(wake[0], &c, 1) != 1 || c != 'g') {
		kobj_fail("thread 1: read");
		return NULL;
	}
	check(1);
	return NULL;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	if (argc < 5) DIE("usage: OUT handler|nohandler THREADS MIB");
	handler_first = !strcmp(argv[2], "handler");
	inclusive = argc > 5 && !strcmp(argv[5], "inclusive");
	int threads = atoi(argv[3]);
	size_t mib = strtoul(argv[4], NULL, 10);
	struct sigaction sa = {.sa_sigaction = onsys, .sa_flags = SA_SIGINFO};
	if (handler_first) sigaction(SIGSYS, &sa, NULL);
	if (mib) {
		char *m = mmap(NULL, mib << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED) DIE("mmap: %s", strerror(errno));
		for (size_t i = 0; i < mib << 20; i += 4096) m[i] = (char)(i >> 12 | 1);
	}
	libc_text();
	if (!libc_len) DIE("no C library text");
	if (pipe(ready) || pipe(wake)) DIE("pipe: %s", strerror(errno));
	pthread_t t;
	if (threads > 1) {
		char c;
		if (pthread_create(&t, NULL, second, NULL)) DIE("pthread_create");
		if (read(ready[0], &c, 1) != 1 || c != 'r') DIE("thread 1 not ready");
	}
	dispatch_on(0);
	kobj_wait();
	if (!handler_first) sigaction(SIGSYS, &sa, NULL);
	check(0);
	if (threads > 1) {
		if (write(wake[1], "g", 1) != 1) kobj_fail("write: %s", strerror(errno));
		pthread_join(t, NULL);
	}
	return kobj_done();
}
