/*
 * ptimers: a periodic POSIX timer (timer_create) with a signal value, for
 * checkpoint tests. A first timer is created and deleted, so the live one
 * has id 1: its id must come back too.
 * usage: ptimers OUTFILE GOFILE
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t ticks, value;

static void on_tick(int s, siginfo_t *si, void *c) {
	(void)s;
	(void)c;
	ticks++;
	value = si->si_value.sival_int;
}

int main(int argc, char **argv) {
	if (argc < 3)
		return 2;
	FILE *out = fopen(argv[1], "w");
	struct sigaction sa = {0};
	sa.sa_sigaction = on_tick;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigaction(SIGRTMIN + 1, &sa, NULL);
	struct sigevent sev = {0};
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = SIGRTMIN + 1;
	timer_t gone, t;
	timer_create(CLOCK_MONOTONIC, &sev, &gone);
	sev.sigev_value.sival_int = 77;
	timer_create(CLOCK_MONOTONIC, &sev, &t);
	timer_delete(gone);
	struct itimerspec its = {{0, 5 * 1000 * 1000}, {0, 5 * 1000 * 1000}};
	timer_settime(t, 0, &its, NULL);
	fprintf(out, "ready id %ld\n", (long)t);
	fflush(out);
	struct stat st;
	while (stat(argv[2], &st) != 0) {
		struct timespec ts = {0, 5 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	int before = ticks;
	while (ticks < before + 5) {
		struct timespec ts = {0, 1 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	struct itimerspec cur;
	int ok = timer_gettime(t, &cur) == 0 && cur.it_interval.tv_nsec == 5 * 1000 * 1000;
	fprintf(out, "ticking value %d id-valid %d\n", (int)value, ok);
	fclose(out);
	return 0;
}
