/* Per-thread kernel state: FS and GS bases (arch_prctl), robust futex
 * list, clear_child_tid (set_tid_address), and thread-local data. */
#include "kobj.h"
#include <asm/prctl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

static __thread long tlsval = 5;
static struct robust_list_head myhead = {.list = {&myhead.list}, .futex_offset = 8};
static int ctid_word = 99;
static unsigned long gs_area[16];

static volatile int stage;
static pid_t tid2;
static char tmsg[256];

static void *second(void *a) {
	(void)a;
	tlsval = 66;
	tid2 = syscall(SYS_gettid);
	struct robust_list_head *h;
	size_t len;
	syscall(SYS_get_robust_list, 0, &h, &len);
	void *glibc_head = h;
	while (stage < 1) usleep(1000);
	struct robust_list_head *h2;
	syscall(SYS_get_robust_list, 0, &h2, &len);
	snprintf(tmsg, sizeof tmsg, "%s%s", tlsval == 66 ? "" : "thread tls; ", h2 == glibc_head ? "" : "thread robust list; ");
	stage = 2;
	return NULL;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	tlsval = 55;
	unsigned long fs;
	syscall(SYS_arch_prctl, ARCH_GET_FS, &fs);
	if (syscall(SYS_arch_prctl, ARCH_SET_GS, (unsigned long)gs_area)) DIE("ARCH_SET_GS: %s", strerror(errno));
	syscall(SYS_set_robust_list, &myhead, sizeof myhead);
	syscall(SYS_set_tid_address, &ctid_word);
	pthread_t th;
	pthread_create(&th, NULL, second, NULL);
	while (!tid2) usleep(1000);
	kobj_wait();
	unsigned long fs2 = 0, gs2 = 0;
	syscall(SYS_arch_prctl, ARCH_GET_FS, &fs2);
	syscall(SYS_arch_prctl, ARCH_GET_GS, &gs2);
	CHECK(fs2 == fs, "fs base %#lx, was %#lx", fs2, fs);
	CHECK(gs2 == (unsigned long)gs_area, "gs base %#lx, was %p", gs2, (void *)gs_area);
	CHECK(tlsval == 55, "tls %ld", tlsval);
	struct robust_list_head *h;
	size_t len;
	syscall(SYS_get_robust_list, 0, &h, &len);
	CHECK(h == &myhead && len == sizeof myhead, "robust list %p %zu", (void *)h, len);
	int *tidaddr = NULL;
	prctl(PR_GET_TID_ADDRESS, &tidaddr);
	CHECK(tidaddr == &ctid_word, "tid address %p, want %p", (void *)tidaddr, (void *)&ctid_word);
	stage = 1;
	while (stage < 2) usleep(1000);
	CHECK(tmsg[0] == 0, "%s", tmsg);
	return kobj_done();
}
