/* kobj5b_pkeys: a region under a protection key of its own
 * (pkey_alloc, pkey_mprotect) that denies writes (PKRU). Where the CPU
 * or kernel has no protection keys, pkey_alloc fails: the set-up says
 * "no protection keys" (the test checks that the machine has none
 * indeed). Else the checkpoint refuses it, and the program, left
 * running, still finds its region under its key, writes denied. */
#include "kobj.h"
#include <setjmp.h>
#include <sys/mman.h>
#include <sys/syscall.h>

static sigjmp_buf jb;
static volatile int segv_code;
static void onsegv(int s, siginfo_t *si, void *u) {
	(void)s; (void)u;
	segv_code = si->si_code;
	siglongjmp(jb, 1);
}

static int key_of(void *addr) {
	char want[64], line[512];
	snprintf(want, sizeof want, "%lx-", (unsigned long)addr);
	FILE *f = fopen("/proc/self/smaps", "r");
	int in = 0, key = -1;
	while (f && fgets(line, sizeof line, f)) {
		if (!strncmp(line, want, strlen(want))) in = 1;
		else if (in && sscanf(line, "ProtectionKey: %d", &key) == 1) break;
	}
	if (f) fclose(f);
	return key;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int k = syscall(SYS_pkey_alloc, 0, 1 /* PKEY_DISABLE_WRITE */);
	if (k < 0) DIE("no protection keys: pkey_alloc: %s", strerror(errno));
	char *r = mmap(NULL, 4 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	r[0] = 42;
	if (syscall(SYS_pkey_mprotect, r, 4 * 4096, PROT_READ | PROT_WRITE, k)) DIE("pkey_mprotect: %s", strerror(errno));
	struct sigaction sa = {.sa_sigaction = onsegv, .sa_flags = SA_SIGINFO};
	sigaction(SIGSEGV, &sa, NULL);
	kobj_wait();
	CHECK(key_of(r) == k, "region's key %d, want %d", key_of(r), k);
	CHECK(r[0] == 42, "content %d", r[0]);
	if (sigsetjmp(jb, 1) == 0) {
		r[1] = 1;
		kobj_fail("a write under key %d went through", k);
	} else
		CHECK(segv_code == 4 /* SEGV_PKUERR */, "SIGSEGV code %d, want SEGV_PKUERR", segv_code);
	return kobj_done();
}
