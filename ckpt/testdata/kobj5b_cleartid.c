/* kobj5b_cleartid: a thread made by the raw clone, with
 * CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID on a word of the program's
 * (not glibc's), and the main thread's own set_tid_address on another.
 * After the restart PR_GET_TID_ADDRESS in each gives its word, and when
 * the thread ends the kernel clears its word and wakes the main thread
 * waiting on it (FUTEX_WAIT). */
#include "kobj.h"
#include <linux/futex.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

static volatile int ctid = -1, go, stage;
static volatile unsigned long child_addr;
static int main_word;
static char stack[65536] __attribute__((aligned(16)));

static int child(void *a) {
	(void)a;
	unsigned long p = 0;
	syscall(SYS_prctl, PR_GET_TID_ADDRESS, &p, 0, 0, 0);
	child_addr = p;
	stage = 1;
	while (!go) syscall(SYS_sched_yield);
	p = 0;
	syscall(SYS_prctl, PR_GET_TID_ADDRESS, &p, 0, 0, 0);
	child_addr = p;
	stage = 2;
	syscall(SYS_exit, 0);
	return 0;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM | CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID;
	int t = clone(child, stack + sizeof stack, flags, NULL, NULL, NULL, &ctid);
	if (t < 0) DIE("clone: %s", strerror(errno));
	while (stage < 1) usleep(1000);
	if (ctid != t || child_addr != (unsigned long)&ctid) DIE("ctid %d (thread %d), address %#lx", ctid, t, child_addr);
	main_word = 5;
	syscall(SYS_set_tid_address, &main_word);
	kobj_wait();
	unsigned long p = 0;
	syscall(SYS_prctl, PR_GET_TID_ADDRESS, &p, 0, 0, 0);
	CHECK(p == (unsigned long)&main_word, "main thread's tid address %#lx, want %p", p, (void *)&main_word);
	CHECK(ctid == t, "the thread's word %d, want %d", ctid, t);
	go = 1;
	while (stage < 2) usleep(1000);
	CHECK(child_addr == (unsigned long)&ctid, "the thread's tid address %#lx, want %p", child_addr, (void *)&ctid);
	/* The kernel clears the word and wakes it once the thread is gone. */
	for (int i = 0; i < 100 && ctid != 0; i++) {
		struct timespec to = {0, 50000000};
		int v = ctid;
		if (v) syscall(SYS_futex, &ctid, FUTEX_WAIT, v, &to, NULL, 0);
	}
	CHECK(ctid == 0, "the thread's word %d after it exited", ctid);
	return kobj_done();
}
