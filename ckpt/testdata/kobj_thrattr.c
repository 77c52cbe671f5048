/* Per-thread attributes: each of three threads has its own sigaltstack
 * (one SS_AUTODISARM), its own nice value, its own name and an rseq
 * registration of its own (glibc's) that the kernel keeps updating. */
#include "kobj.h"
#include <pthread.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/rseq.h>
#include <sys/syscall.h>
#ifndef SS_AUTODISARM
#define SS_AUTODISARM (1U << 31)
#endif

#define N 3
static pid_t tids[N];
static stack_t stacks[N];
static volatile int ready[N], go, done[N];
static char msgs[N][512];
static struct rseq *areas[N];

static struct rseq *my_rseq(void) {
	return (struct rseq *)((char *)__builtin_thread_pointer() + __rseq_offset);
}

static void check_self(int i) {
	char *m = msgs[i];
	stack_t s;
	sigaltstack(NULL, &s);
	if (s.ss_sp != stacks[i].ss_sp || s.ss_size != stacks[i].ss_size || s.ss_flags != stacks[i].ss_flags)
		snprintf(m + strlen(m), 512 - strlen(m), "thread %d altstack %p/%zu/%d, was %p/%zu/%d; ", i,
			 s.ss_sp, s.ss_size, s.ss_flags, stacks[i].ss_sp, stacks[i].ss_size, stacks[i].ss_flags);
	struct rseq *r = my_rseq();
	if (r != areas[i])
		snprintf(m + strlen(m), 512 - strlen(m), "thread %d rseq area moved; ", i);
	/* Registered: the kernel writes the cpu we run on; registering the
	 * same area again is EBUSY. */
	r->cpu_id = (uint32_t)-2;
	sched_yield();
	usleep(1000);
	int cpu = sched_getcpu();
	if ((int)r->cpu_id != cpu && (int)r->cpu_id < 0)
		snprintf(m + strlen(m), 512 - strlen(m), "thread %d rseq cpu_id %d (not updated); ", i, (int)r->cpu_id);
	long rc = syscall(SYS_rseq, r, 32, 0, RSEQ_SIG) /* glibc registers 32 bytes */;
	if (!(rc == -1 && errno == EBUSY))
		snprintf(m + strlen(m), 512 - strlen(m), "thread %d rseq re-register: %ld (%s), want EBUSY; ", i, rc, strerror(errno));
	int nice = getpriority(PRIO_PROCESS, 0);
	if (nice != 2 + 3 * i)
		snprintf(m + strlen(m), 512 - strlen(m), "thread %d nice %d, want %d; ", i, nice, 2 + 3 * i);
	char name[32];
	prctl(PR_GET_NAME, name);
	char want[32];
	snprintf(want, sizeof want, "kobj-t%d", i);
	if (strcmp(name, want))
		snprintf(m + strlen(m), 512 - strlen(m), "thread %d name %s; ", i, name);
}

static void *thr(void *a) {
	long i = (long)a;
	tids[i] = syscall(SYS_gettid);
	stacks[i].ss_size = 65536 + 4096 * i;
	stacks[i].ss_sp = malloc(stacks[i].ss_size);
	stacks[i].ss_flags = 0;
	stack_t set = stacks[i];
	if (i == 1) set.ss_flags = SS_AUTODISARM;
	sigaltstack(&set, NULL);
	sigaltstack(NULL, &stacks[i]);
	setpriority(PRIO_PROCESS, 0, 2 + 3 * i);
	char name[32];
	snprintf(name, sizeof name, "kobj-t%ld", i);
	prctl(PR_SET_NAME, name);
	areas[i] = my_rseq();
	ready[i] = 1;
	while (!go) usleep(1000);
	check_self(i);
	done[i] = 1;
	return NULL;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	if (__rseq_size == 0) DIE("glibc did not register rseq");
	pthread_t th[N];
	for (long i = 0; i < N; i++) pthread_create(&th[i], NULL, thr, (void *)i);
	for (int i = 0; i < N; i++)
		while (!ready[i]) usleep(1000);
	kobj_wait();
	go = 1;
	for (int i = 0; i < N; i++) pthread_join(th[i], NULL);
	for (int i = 0; i < N; i++)
		if (msgs[i][0]) kobj_fail("%s", msgs[i]);
	return kobj_done();
}
