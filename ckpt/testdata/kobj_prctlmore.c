/* More prctl state: memory-deny-write-execute (PR_SET_MDWE), speculation
 * control (store bypass disabled), an anonymous mapping's name
 * (PR_SET_VMA_ANON_NAME, "[anon:...]" in maps), PR_SET_IO_FLUSHER, KSM
 * merging (PR_SET_MEMORY_MERGE), the machine-check kill policy and
 * SCHED_DEADLINE with its runtime, deadline and period. */
#include "kobj.h"
#include <linux/sched.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <stdint.h>
#include <pthread.h>
#include <sys/wait.h>

#ifndef PR_SET_MDWE
#define PR_SET_MDWE 65
#define PR_GET_MDWE 66
#define PR_MDWE_REFUSE_EXEC_GAIN 1
#endif
#ifndef PR_SET_VMA
#define PR_SET_VMA 0x53564d41
#define PR_SET_VMA_ANON_NAME 0
#endif
#ifndef PR_SET_MEMORY_MERGE
#define PR_SET_MEMORY_MERGE 67
#define PR_GET_MEMORY_MERGE 68
#endif

struct attr {
	uint32_t size, policy;
	uint64_t flags;
	int32_t nice;
	uint32_t prio;
	uint64_t runtime, deadline, period;
	uint32_t umin, umax;
};

static volatile int th_ready, th_go, th_mce = -9;
static void *mce_thread(void *a) {
	(void)a;
	prctl(PR_MCE_KILL, PR_MCE_KILL_SET, PR_MCE_KILL_LATE, 0, 0);
	th_ready = 1;
	while (!th_go) usleep(1000);
	th_mce = prctl(PR_MCE_KILL_GET, 0, 0, 0, 0);
	return NULL;
}

static long getspec(void) { return prctl(PR_GET_SPECULATION_CTRL, PR_SPEC_STORE_BYPASS, 0, 0, 0); }

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int what = argc > 2 ? atoi(argv[2]) : -1; /* -1: all */
	char *named = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	named[0] = 1;
	long mdwe = -2, spec = -2, flusher = -2, merge = -2, mce = -2;
	if (what < 0 || what == 0) {
		if (prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, named, 3 * 4096, "kobj-named")) DIE("anon name: %s", strerror(errno));
	}
	if (what < 0 || what == 1) {
		if (prctl(PR_SET_SPECULATION_CTRL, PR_SPEC_STORE_BYPASS, PR_SPEC_DISABLE, 0, 0)) DIE("spec: %s", strerror(errno));
		spec = getspec();
	}
	if (what < 0 || what == 2) {
		if (prctl(PR_SET_IO_FLUSHER, 1, 0, 0, 0)) DIE("io flusher: %s", strerror(errno));
		flusher = prctl(PR_GET_IO_FLUSHER, 0, 0, 0, 0);
	}
	if (what < 0 || what == 3) {
		if (prctl(PR_SET_MEMORY_MERGE, 1, 0, 0, 0)) DIE("memory merge: %s", strerror(errno));
		merge = prctl(PR_GET_MEMORY_MERGE, 0, 0, 0, 0);
	}
	if (what < 0 || what == 4) {
		if (prctl(PR_MCE_KILL, PR_MCE_KILL_SET, PR_MCE_KILL_EARLY, 0, 0)) DIE("mce: %s", strerror(errno));
		mce = prctl(PR_MCE_KILL_GET, 0, 0, 0, 0);
	}
	pthread_t th;
	if (what == 4) {
		pthread_create(&th, NULL, mce_thread, NULL);
		while (!th_ready) usleep(1000);
	}
	struct attr dl = {.size = sizeof dl, .policy = 6 /* SCHED_DEADLINE */, .runtime = 2000000, .deadline = 30000000, .period = 60000000};
	if (what < 0 || what == 5) {
		if (syscall(SYS_sched_setattr, 0, &dl, 0)) DIE("SCHED_DEADLINE: %s", strerror(errno));
	}
	if (what < 0 || what == 6) { /* last: it forbids PROT_EXEC gains */
		if (prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0)) DIE("mdwe: %s", strerror(errno));
		mdwe = prctl(PR_GET_MDWE, 0, 0, 0, 0);
	}
	pid_t child = -1;
	if (what == 6) {
		/* A child inherits MDWE; it checks its own after SIGUSR1. */
		child = fork();
		if (child == 0) {
			while (!kobj_go) sigsuspend(&kobj_old);
			_exit(prctl(PR_GET_MDWE, 0, 0, 0, 0) == PR_MDWE_REFUSE_EXEC_GAIN ? 0 : 1);
		}
	}
	char mapsline[256] = "";
	{
		char key[32];
		snprintf(key, sizeof key, "%lx-", (unsigned long)named);
		const char *l = strstr(read_file("/proc/self/maps"), key);
		if (l) snprintf(mapsline, sizeof mapsline, "%.*s", (int)strcspn(l, "\n"), l);
	}
	kobj_wait();
	if (what < 0 || what == 0) {
		char key[32];
		snprintf(key, sizeof key, "%lx-", (unsigned long)named);
		const char *l = strstr(read_file("/proc/self/maps"), key);
		char now[256] = "";
		if (l) snprintf(now, sizeof now, "%.*s", (int)strcspn(l, "\n"), l);
		CHECK(strstr(now, "[anon:kobj-named]") != NULL, "named mapping: %s, was %s", now, mapsline);
	}
	CHECK(spec == -2 || getspec() == spec, "speculation control %ld, was %ld", getspec(), spec);
	CHECK(flusher == -2 || prctl(PR_GET_IO_FLUSHER, 0, 0, 0, 0) == flusher, "io flusher %d, was %ld", prctl(PR_GET_IO_FLUSHER, 0, 0, 0, 0), flusher);
	CHECK(merge == -2 || prctl(PR_GET_MEMORY_MERGE, 0, 0, 0, 0) == merge, "memory merge %d, was %ld", prctl(PR_GET_MEMORY_MERGE, 0, 0, 0, 0), merge);
	CHECK(mce == -2 || prctl(PR_MCE_KILL_GET, 0, 0, 0, 0) == mce, "mce kill %d, was %ld", prctl(PR_MCE_KILL_GET, 0, 0, 0, 0), mce);
	CHECK(mdwe == -2 || prctl(PR_GET_MDWE, 0, 0, 0, 0) == mdwe, "mdwe %d, was %ld", prctl(PR_GET_MDWE, 0, 0, 0, 0), mdwe);
	if (what < 0 || what == 5) {
		struct attr g = {0};
		syscall(SYS_sched_getattr, 0, &g, sizeof g, 0);
		CHECK(g.policy == 6 && g.runtime == dl.runtime && g.deadline == dl.deadline && g.period == dl.period,
		      "sched %u runtime %lu deadline %lu period %lu", g.policy, (unsigned long)g.runtime, (unsigned long)g.deadline, (unsigned long)g.period);
	}
	if (what == 4) {
		th_go = 1;
		pthread_join(th, NULL);
		CHECK(th_mce == PR_MCE_KILL_LATE, "thread mce kill %d, want %d", th_mce, PR_MCE_KILL_LATE);
	}
	if (child > 0) {
		int st;
		waitpid(child, &st, 0);
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the child's MDWE is not set (status %#x)", st);
	}
	return kobj_done();
}
