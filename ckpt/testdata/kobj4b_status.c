/* kobj4b_status: the state lines of /proc/self/status and of each thread's
 * status (ids, capabilities, NoNewPrivs, Seccomp, speculation, allowed
 * CPUs and memory nodes, THP, x86 thread features, signal masks and
 * ignored/caught sets) are the same after the checkpoint and the restart,
 * for a process of two threads that set a few of them. */
#include "kobj.h"
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

static const char *keys[] = {"Umask:", "Tgid:", "Pid:", "TracerPid:", "Uid:", "Gid:", "Groups:", "NStgid:", "NSpid:",
	"NSpgid:", "NSsid:", "Kthread:", "SigBlk:", "SigIgn:", "SigCgt:", "CapInh:", "CapPrm:", "CapEff:", "CapBnd:", "CapAmb:",
	"NoNewPrivs:", "Seccomp:", "Seccomp_filters:", "Speculation_Store_Bypass:", "SpeculationIndirectBranch:",
	"Cpus_allowed_list:", "Mems_allowed_list:", "THP_enabled:", "untag_mask:", "x86_Thread_features:",
	"x86_Thread_features_locked:", NULL};

static void pick(const char *path, char *out, size_t n) {
	const char *b = read_file(path);
	out[0] = 0;
	for (const char **k = keys; *k; k++) {
		const char *p = strstr(b, *k);
		if (p && (p == b || p[-1] == '\n')) {
			size_t l = strcspn(p, "\n");
			strncat(out, p, l < n - strlen(out) - 2 ? l : 0);
			strcat(out, "\n");
		}
	}
}

static volatile pid_t tid2;
static void *run(void *a) {
	(void)a;
	sigset_t m;
	sigemptyset(&m);
	sigaddset(&m, SIGWINCH);
	pthread_sigmask(SIG_BLOCK, &m, NULL);
	tid2 = syscall(SYS_gettid);
	for (;;) pause();
	return NULL;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	pthread_t th;
	pthread_create(&th, NULL, run, NULL);
	while (!tid2) usleep(1000);
	static char a[8192], b[8192], p1[64], p2[64];
	snprintf(p1, sizeof p1, "/proc/self/task/%d/status", getpid());
	snprintf(p2, sizeof p2, "/proc/self/task/%d/status", tid2);
	kobj_wait();
	/* Read after kobj_wait, so the mask is the same both times. */
	pick(p1, a, sizeof a);
	pick(p2, b, sizeof b);
	/* Compare with what a file written at set-up holds: the first run
	 * (before the checkpoint) writes it, every later one compares. */
	char saved[4096];
	snprintf(saved, sizeof saved, "%s.status", kobj_out);
	FILE *f = fopen(saved, "r");
	if (!f) {
		f = fopen(saved, "w");
		fprintf(f, "%s--\n%s", a, b);
		fclose(f);
	} else {
		static char want[16384], got[16384];
		size_t n = fread(want, 1, sizeof want - 1, f);
		want[n] = 0;
		fclose(f);
		snprintf(got, sizeof got, "%s--\n%s", a, b);
		CHECK(strcmp(got, want) == 0, "status now:\n%s\nwas:\n%s", got, want);
	}
	return kobj_done();
}
