/* Process state under /proc and newer prctls, one per argument:
 * "coredump" /proc/self/coredump_filter (0x3b), "autogroup" the nice
 * value of its session's autogroup (/proc/self/autogroup, setsid first),
 * "futexhash" the private futex hash size (PR_FUTEX_HASH_SET_SLOTS 32),
 * "sud" syscall user dispatch on, with its selector byte and an allowed
 * region (a syscall with the selector at BLOCK must raise SIGSYS);
 * "sudblock" the same with the C library's code exempt and the selector
 * left at BLOCK while it waits (the checkpoint's own calls must not be
 * dispatched). */
#include "kobj.h"
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <ucontext.h>

#ifndef PR_FUTEX_HASH
#define PR_FUTEX_HASH 78
#define PR_FUTEX_HASH_SET_SLOTS 1
#define PR_FUTEX_HASH_GET_SLOTS 2
#endif
#ifndef PR_SET_SYSCALL_USER_DISPATCH
#define PR_SET_SYSCALL_USER_DISPATCH 59
#define PR_SYS_DISPATCH_ON 1
#define SYSCALL_DISPATCH_FILTER_ALLOW 0
#define SYSCALL_DISPATCH_FILTER_BLOCK 1
#endif

static volatile char selector = SYSCALL_DISPATCH_FILTER_ALLOW;
static volatile int sigsys, sysnr;

static void onsys(int s, siginfo_t *si, void *u) {
	(void)s; (void)u;
	sigsys++;
	sysnr = si->si_syscall;
	selector = SYSCALL_DISPATCH_FILTER_ALLOW;
}

/* own_getppid: a syscall made from this program's code, not the C
 * library's. */
static long own_getppid(void) {
	long r;
	__asm__ volatile("syscall" : "=a"(r) : "0"((long)SYS_getppid) : "rcx", "r11", "memory");
	return r;
}

/* libc_text: the executable mapping holding the C library's syscall(). */
static void libc_text(unsigned long *start, unsigned long *len) {
	unsigned long a = (unsigned long)&syscall;
	FILE *f = fopen("/proc/self/maps", "r");
	char l[512];
	*start = *len = 0;
	while (f && fgets(l, sizeof l, f)) {
		unsigned long lo, hi;
		if (sscanf(l, "%lx-%lx", &lo, &hi) == 2 && a >= lo && a < hi) {
			*start = lo;
			*len = hi - lo;
		}
	}
	if (f) fclose(f);
}

static const char *line(const char *path) {
	static char b[256];
	snprintf(b, sizeof b, "%s", read_file(path));
	b[strcspn(b, "\n")] = 0;
	return b;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	const char *what = argc > 2 ? argv[2] : "";
	char before[256] = "";
	if (!strcmp(what, "coredump")) {
		FILE *f = fopen("/proc/self/coredump_filter", "w");
		if (!f || fprintf(f, "0x3b") < 0 || fclose(f)) DIE("coredump_filter: %s", strerror(errno));
		snprintf(before, sizeof before, "%s", line("/proc/self/coredump_filter"));
	} else if (!strcmp(what, "autogroup")) {
		setsid();
		FILE *f = fopen("/proc/self/autogroup", "w");
		if (!f || fprintf(f, "7") < 0 || fclose(f)) DIE("autogroup: %s", strerror(errno));
		snprintf(before, sizeof before, "%s", strstr(line("/proc/self/autogroup"), " nice"));
	} else if (!strcmp(what, "futexhash")) {
		if (prctl(PR_FUTEX_HASH, PR_FUTEX_HASH_SET_SLOTS, 32, 0, 0)) DIE("PR_FUTEX_HASH: %s", strerror(errno));
		snprintf(before, sizeof before, "%d", prctl(PR_FUTEX_HASH, PR_FUTEX_HASH_GET_SLOTS, 0, 0, 0));
	} else if (!strcmp(what, "sud")) {
		struct sigaction sa = {.sa_sigaction = onsys, .sa_flags = SA_SIGINFO};
		sigaction(SIGSYS, &sa, NULL);
		/* No region exempt: every syscall obeys the selector (ALLOW). */
		if (prctl(PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_ON, 0, 0, &selector)) DIE("SUD: %s", strerror(errno));
	} else if (!strcmp(what, "sudblock")) {
		struct sigaction sa = {.sa_sigaction = onsys, .sa_flags = SA_SIGINFO};
		sigaction(SIGSYS, &sa, NULL);
		unsigned long lo, len;
		libc_text(&lo, &len);
		if (!len) DIE("no libc text");
		if (prctl(PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_ON, lo, len, &selector)) DIE("SUD: %s", strerror(errno));
		selector = SYSCALL_DISPATCH_FILTER_BLOCK;
		own_getppid();
		if (sigsys != 1) DIE("SUD does not dispatch (%d)", sigsys);
		sigsys = 0;
		selector = SYSCALL_DISPATCH_FILTER_BLOCK;
	} else {
		DIE("what?");
	}
	kobj_wait();
	if (!strcmp(what, "coredump")) {
		CHECK(!strcmp(line("/proc/self/coredump_filter"), before), "coredump_filter %s, was %s", line("/proc/self/coredump_filter"), before);
	} else if (!strcmp(what, "autogroup")) {
		const char *now = strstr(line("/proc/self/autogroup"), " nice");
		CHECK(now && !strcmp(now, before), "autogroup%s, was%s", now ? now : " ?", before);
	} else if (!strcmp(what, "futexhash")) {
		char now[32];
		snprintf(now, sizeof now, "%d", prctl(PR_FUTEX_HASH, PR_FUTEX_HASH_GET_SLOTS, 0, 0, 0));
		CHECK(!strcmp(now, before), "futex hash slots %s, was %s", now, before);
	} else if (!strcmp(what, "sud")) {
		selector = SYSCALL_DISPATCH_FILTER_BLOCK;
		syscall(SYS_getppid); /* dispatched: SIGSYS, the handler allows again */
		CHECK(sigsys == 1 && sysnr == SYS_getppid, "syscall user dispatch: %d SIGSYS (nr %d)", sigsys, sysnr);
	} else {
		CHECK(sigsys == 0, "%d SIGSYS while it waited", sigsys);
		selector = SYSCALL_DISPATCH_FILTER_BLOCK;
		own_getppid();
		CHECK(sigsys == 1 && sysnr == SYS_getppid, "syscall user dispatch: %d SIGSYS (nr %d)", sigsys, sysnr);
		selector = SYSCALL_DISPATCH_FILTER_ALLOW;
		own_getppid();
		CHECK(sigsys == 1, "a syscall allowed by the selector was dispatched");
	}
	return kobj_done();
}
