/*
 * sigstate: holds signal and process state across a checkpoint.
 *
 * usage: sigstate OUTFILE GOFILE
 * Sets up: SIGUSR2 blocked with one queued (sigqueue value 4242); a
 * SIGUSR1 handler on an alternate signal stack; a 5 ms ITIMER_REAL whose
 * SIGALRM handler counts ticks; umask 027; RLIMIT_NOFILE soft 100; nice 3.
 * Writes "ready" and waits (pause loop) until GOFILE exists. Then it
 * unblocks SIGUSR2, raises SIGUSR1, waits for more timer ticks and prints
 * what it finds, one fact per line.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t ticks, usr2_value, usr1_onstack;
static char altstack[1 << 16];

static void on_alrm(int s) { (void)s; ticks++; }
static void on_usr2(int s, siginfo_t *si, void *c) { (void)s; (void)c; usr2_value = si->si_value.sival_int; }
static void on_usr1(int s) {
	(void)s;
	char here;
	usr1_onstack = (&here >= altstack && &here < altstack + sizeof altstack);
}

int main(int argc, char **argv) {
	if (argc < 3)
		return 2;
	FILE *out = fopen(argv[1], "w");
	struct sigaction sa = {0};
	sa.sa_sigaction = on_usr2;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGUSR2, &sa, NULL);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_ONSTACK;
	sigaction(SIGUSR1, &sa, NULL);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alrm;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &sa, NULL);
	stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack};
	sigaltstack(&ss, NULL);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	sigprocmask(SIG_BLOCK, &set, NULL);
	union sigval v = {.sival_int = 4242};
	sigqueue(getpid(), SIGUSR2, v);
	umask(027);
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = 100;
	setrlimit(RLIMIT_NOFILE, &rl);
	setpriority(PRIO_PROCESS, 0, 3);
	struct itimerval it = {{0, 5000}, {0, 5000}};
	setitimer(ITIMER_REAL, &it, NULL);
	fprintf(out, "ready\n");
	fflush(out);
	struct stat st;
	while (stat(argv[2], &st) != 0)
		pause();
	int before = ticks;
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	raise(SIGUSR1);
	while (ticks < before + 5)
		pause();
	mode_t um = umask(0);
	getrlimit(RLIMIT_NOFILE, &rl);
	fprintf(out, "usr2 %d\n", (int)usr2_value);
	fprintf(out, "usr1 onstack %d\n", (int)usr1_onstack);
	fprintf(out, "timer ticking %d\n", ticks >= before + 5);
	fprintf(out, "umask %03o\n", (unsigned)um);
	fprintf(out, "nofile %lu\n", (unsigned long)rl.rlim_cur);
	fprintf(out, "nice %d\n", getpriority(PRIO_PROCESS, 0));
	fprintf(out, "pid %d\n", (int)getpid());
	fclose(out);
	return 0;
}
