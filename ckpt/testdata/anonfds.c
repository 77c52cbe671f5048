/*
 * anonfds: holds an eventfd with a count, an armed periodic timerfd, a
 * signalfd for SIGUSR2 and an epoll instance watching all three, for
 * checkpoint tests.
 *
 * usage: anonfds OUTFILE GOFILE
 * Writes "ready", waits until GOFILE exists, then raises SIGUSR2 (blocked,
 * so it goes to the signalfd) and reports what epoll and the descriptors
 * say.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
	if (argc < 3)
		return 2;
	FILE *out = fopen(argv[1], "w");
	int efd = eventfd(0, EFD_NONBLOCK);
	uint64_t v = 5;
	write(efd, &v, 8);
	int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
	struct itimerspec its = {{0, 20 * 1000 * 1000}, {0, 20 * 1000 * 1000}};
	timerfd_settime(tfd, 0, &its, NULL);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	sigprocmask(SIG_BLOCK, &set, NULL);
	int sfd = signalfd(-1, &set, SFD_NONBLOCK);
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 100};
	epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev);
	ev.data.u64 = 200;
	epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev);
	ev.data.u64 = 300;
	epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);
	fprintf(out, "ready\n");
	fflush(out);
	struct stat st;
	while (stat(argv[2], &st) != 0) {
		struct timespec ts = {0, 5 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	raise(SIGUSR2);
	int seen[4] = {0};
	for (int i = 0; i < 50 && !(seen[1] && seen[2] && seen[3]); i++) {
		struct epoll_event evs[4];
		int n = epoll_wait(ep, evs, 4, 100);
		for (int j = 0; j < n; j++) {
			int k = evs[j].data.u64 / 100;
			if (k >= 1 && k <= 3 && !seen[k]) {
				seen[k] = 1;
				if (k == 1) {
					read(efd, &v, 8);
					fprintf(out, "eventfd %llu\n", (unsigned long long)v);
				} else if (k == 2) {
					read(tfd, &v, 8);
					fprintf(out, "timerfd fired\n");
				} else {
					struct signalfd_siginfo si;
					read(sfd, &si, sizeof si);
					fprintf(out, "signalfd %d\n", (int)si.ssi_signo);
				}
			}
		}
	}
	fclose(out);
	return 0;
}
