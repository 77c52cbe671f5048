// reserved RESULT: a program with its own SIGTRAP handler, a POSIX timer
// with SIGEV_THREAD (glibc's helper thread waits for signal 32), SIGUSR2
// blocked and pending. It writes RESULT.ready, then on each SIGUSR1 checks
// that all of it is as it was and appends "ok N" (or what is wrong) to
// RESULT; it exits after the second round.
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t go, traps, ticks;
static void on_usr1(int sig) { (void)sig; go = 1; }
static void on_trap(int sig) { (void)sig; traps++; }
static void tick(union sigval v) { (void)v; ticks++; }

static char result[4096];
static void say(const char *msg) {
	FILE *f = fopen(result, "a");
	if (!f)
		exit(2);
	fprintf(f, "%s\n", msg);
	fclose(f);
}

static void fail(const char *msg) {
	say(msg);
	exit(1);
}

int main(int argc, char **argv) {
	if (argc != 2)
		return 2;
	snprintf(result, sizeof result, "%s", argv[1]);
	struct sigaction sa = {0};
	sa.sa_handler = on_trap;
	sigaction(SIGTRAP, &sa, NULL);
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);

	timer_t t;
	struct sigevent ev = {0};
	ev.sigev_notify = SIGEV_THREAD;
	ev.sigev_notify_function = tick;
	if (timer_create(CLOCK_MONOTONIC, &ev, &t))
		return 3;
	struct itimerspec its = {{0, 10000000}, {0, 10000000}};
	timer_settime(t, 0, &its, NULL);

	sigset_t blocked, wait;
	sigemptyset(&blocked);
	sigaddset(&blocked, SIGUSR1);
	sigaddset(&blocked, SIGUSR2);
	sigprocmask(SIG_BLOCK, &blocked, NULL);
	raise(SIGUSR2); // stays pending
	wait = blocked;
	sigdelset(&wait, SIGUSR1);

	while (ticks < 3)
		usleep(1000);
	char ready[4200];
	snprintf(ready, sizeof ready, "%s.ready", result);
	fclose(fopen(ready, "w"));

	for (int round = 1; round <= 2; round++) {
		go = 0;
		while (!go)
			sigsuspend(&wait);
		struct sigaction cur;
		sigaction(SIGTRAP, NULL, &cur);
		if (cur.sa_handler != on_trap)
			fail("the SIGTRAP handler is gone");
		int before = traps;
		raise(SIGTRAP); // without the handler: killed
		if (traps != before + 1)
			fail("the SIGTRAP handler did not run");
		sigset_t pend, mask;
		sigpending(&pend);
		if (!sigismember(&pend, SIGUSR2))
			fail("SIGUSR2 is no longer pending");
		sigprocmask(SIG_BLOCK, NULL, &mask);
		if (!sigismember(&mask, SIGUSR1) || !sigismember(&mask, SIGUSR2) || sigismember(&mask, SIGTRAP))
			fail("the signal mask changed");
		int t0 = ticks;
		while (ticks < t0 + 3) // the timer's thread runs on
			usleep(1000);
		char msg[32];
		snprintf(msg, sizeof msg, "ok %d", round);
		say(msg);
	}
	return 0;
}
