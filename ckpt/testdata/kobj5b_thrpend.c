/* kobj5b_thrpend: signals pending for one thread, apart from the
 * process's: rt_tgsigqueueinfo gives the second thread SIGRTMIN+2 three
 * times with si_code -7, values 11, 12, 13 and a made-up si_pid 4242,
 * and SIGUSR2 (tgkill: the si_code this kernel gives it, learnt first); the process gets SIGRTMIN+2 with value 99
 * (sigqueue) and SIGHUP. All blocked everywhere. After the restart the
 * second thread takes its own first (sigtimedwait takes the thread's
 * queue first), in order, then the process's, each with its siginfo;
 * the main thread finds nothing of the thread's. */
#include "kobj.h"
#include <pthread.h>
#include <sys/syscall.h>

static volatile int ready, go;
static pid_t tid2;
static char res[2048];

static void *second(void *a) {
	(void)a;
	tid2 = syscall(SYS_gettid);
	ready = 1;
	while (!go) usleep(1000);
	sigset_t w;
	sigemptyset(&w);
	sigaddset(&w, SIGRTMIN + 2);
	sigaddset(&w, SIGUSR2);
	struct timespec z = {0, 0};
	int o = 0;
	for (int i = 0; i < 4; i++) {
		siginfo_t si;
		int s = sigtimedwait(&w, &si, &z);
		if (s < 0) {
			o += snprintf(res + o, sizeof res - o, "[none]");
			continue;
		}
		o += snprintf(res + o, sizeof res - o, "[%d %d %d %d]", s - SIGRTMIN, si.si_code, si.si_pid, si.si_value.sival_int);
	}
	return NULL;
}

static const char *status(pid_t tid, const char *key) {
	static char line[256];
	char p[64];
	snprintf(p, sizeof p, "/proc/self/task/%d/status", tid);
	FILE *f = fopen(p, "r");
	line[0] = 0;
	if (!f) return line;
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, key, strlen(key))) break;
	fclose(f);
	line[strcspn(line, "\n")] = 0;
	return line;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	sigset_t m;
	sigemptyset(&m);
	sigaddset(&m, SIGRTMIN + 2);
	sigaddset(&m, SIGUSR2);
	sigaddset(&m, SIGHUP);
	sigprocmask(SIG_BLOCK, &m, NULL);
	sigset_t u2;
	sigemptyset(&u2);
	sigaddset(&u2, SIGUSR2);
	struct timespec z0 = {0, 0};
	siginfo_t si0;
	syscall(SYS_tgkill, getpid(), getpid(), SIGUSR2);
	if (sigtimedwait(&u2, &si0, &z0) != SIGUSR2) DIE("tgkill: no SIGUSR2");
	int tkcode = si0.si_code;
	pthread_t th;
	pthread_create(&th, NULL, second, NULL);
	while (!ready) usleep(1000);
	for (int i = 0; i < 3; i++) {
		siginfo_t si;
		memset(&si, 0, sizeof si);
		si.si_signo = SIGRTMIN + 2;
		si.si_code = -7;
		si.si_pid = 4242;
		si.si_uid = 77;
		si.si_value.sival_int = 11 + i;
		if (syscall(SYS_rt_tgsigqueueinfo, getpid(), tid2, SIGRTMIN + 2, &si)) DIE("rt_tgsigqueueinfo: %s", strerror(errno));
	}
	syscall(SYS_tgkill, getpid(), tid2, SIGUSR2);
	sigqueue(getpid(), SIGRTMIN + 2, (union sigval){.sival_int = 99});
	kill(getpid(), SIGHUP);
	char pnd[128], shd[128];
	snprintf(pnd, sizeof pnd, "%s", status(tid2, "SigPnd:"));
	snprintf(shd, sizeof shd, "%s", status(getpid(), "ShdPnd:"));
	kobj_wait();
	CHECK(!strcmp(status(tid2, "SigPnd:"), pnd), "thread %s, was %s", status(tid2, "SigPnd:"), pnd);
	CHECK(!strcmp(status(getpid(), "SigPnd:"), "SigPnd:\t0000000000000000"), "main thread %s", status(getpid(), "SigPnd:"));
	CHECK(!strcmp(status(getpid(), "ShdPnd:"), shd), "process %s, was %s", status(getpid(), "ShdPnd:"), shd);
	go = 1;
	pthread_join(th, NULL);
	char want[512];
	/* SIGUSR2 (a lower number) comes first, then the thread's queue. */
	snprintf(want, sizeof want, "[%d %d %d %d][2 -7 4242 11][2 -7 4242 12][2 -7 4242 13]", SIGUSR2 - SIGRTMIN, tkcode, getpid(), 0);
	/* SIGUSR2 (from tgkill: no value) is checked apart. */
	CHECK(!strcmp(strchr(res, ']') + 1, strchr(want, ']') + 1), "thread took %s, want %s", res, want);
	int u2code = 0, u2pid = 0;
	sscanf(res, "[%*d %d %d", &u2code, &u2pid);
	CHECK(u2code == tkcode && u2pid == getpid(), "SIGUSR2: code %d (want %d) pid %d", u2code, tkcode, u2pid);
	sigset_t w;
	sigemptyset(&w);
	sigaddset(&w, SIGRTMIN + 2);
	sigaddset(&w, SIGHUP);
	struct timespec z = {0, 0};
	siginfo_t si;
	int s = sigtimedwait(&w, &si, &z);
	CHECK(s == SIGHUP && si.si_code == SI_USER && si.si_pid == getpid(), "process: %d code %d pid %d, want SIGHUP", s, si.si_code, si.si_pid);
	s = sigtimedwait(&w, &si, &z);
	CHECK(s == SIGRTMIN + 2 && si.si_code == SI_QUEUE && si.si_value.sival_int == 99, "process: %d code %d value %d", s, si.si_code, si.si_value.sival_int);
	s = sigtimedwait(&w, &si, &z);
	CHECK(s < 0, "process: more pending: %d", s);
	return kobj_done();
}
