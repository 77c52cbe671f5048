/* The unread expiration count of timerfds: an absolute CLOCK_REALTIME
 * timer with a 1 h interval whose first expiry was 5 h 30 min ago (6
 * expirations, none read), a one-shot timer expired (1), and an interval
 * timer whose expirations were read (0 until the next). */
#include "kobj.h"
#include <sys/timerfd.h>
#include <time.h>
#include <stdint.h>
#include <poll.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int a = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK);
	int o = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
	int r = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	struct itimerspec s = {.it_value = {now.tv_sec - 5 * 3600 - 1800, 0}, .it_interval = {3600, 0}};
	if (timerfd_settime(a, TFD_TIMER_ABSTIME, &s, NULL)) DIE("settime: %s", strerror(errno));
	s = (struct itimerspec){.it_value = {0, 1000}};
	timerfd_settime(o, 0, &s, NULL);
	s = (struct itimerspec){.it_value = {0, 1000}, .it_interval = {3000, 0}};
	timerfd_settime(r, 0, &s, NULL);
	struct pollfd pf[] = {{o, POLLIN, 0}, {r, POLLIN, 0}};
	while (poll(pf, 2, -1) >= 0 && (!(pf[0].revents & POLLIN) || !(pf[1].revents & POLLIN))) ;
	uint64_t n;
	read(r, &n, 8);
	kobj_wait();
	n = 0;
	CHECK(read(a, &n, 8) == 8 && n == 6, "absolute timer: %llu expirations, want 6", (unsigned long long)n);
	n = 0;
	CHECK(read(o, &n, 8) == 8 && n == 1, "one-shot: %llu expirations", (unsigned long long)n);
	errno = 0;
	CHECK(read(r, &n, 8) < 0 && errno == EAGAIN, "read interval timer: %s %llu", strerror(errno), (unsigned long long)n);
	return kobj_done();
}
