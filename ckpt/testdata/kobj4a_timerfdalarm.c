/* kobj4a_timerfdalarm: timerfds on the alarm clocks (CLOCK_REALTIME_ALARM
 * absolute in 1 h, CLOCK_BOOTTIME_ALARM relative with a 2 h interval) and
 * one on CLOCK_BOOTTIME with TFD_NONBLOCK, each in an epoll set: clocks
 * (fdinfo clockid), flags, intervals and remaining times are kept. */
#include "kobj.h"
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int a = timerfd_create(CLOCK_REALTIME_ALARM, TFD_CLOEXEC);
	int b = timerfd_create(CLOCK_BOOTTIME_ALARM, 0);
	int c = timerfd_create(CLOCK_BOOTTIME, TFD_NONBLOCK);
	if (a < 0 || b < 0 || c < 0) DIE("timerfd_create: %s", strerror(errno));
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	struct itimerspec ia = {.it_value = {now.tv_sec + 3600, 0}};
	struct itimerspec ib = {.it_value = {7200, 0}, .it_interval = {7200, 0}};
	struct itimerspec ic = {.it_value = {600, 0}, .it_interval = {0, 250000000}};
	if (timerfd_settime(a, TFD_TIMER_ABSTIME, &ia, NULL) || timerfd_settime(b, 0, &ib, NULL) || timerfd_settime(c, 0, &ic, NULL)) DIE("settime: %s", strerror(errno));
	int ep = epoll_create1(0);
	struct epoll_event x = {.events = EPOLLIN};
	x.data.fd = a;
	epoll_ctl(ep, EPOLL_CTL_ADD, a, &x);
	x.data.fd = b;
	epoll_ctl(ep, EPOLL_CTL_ADD, b, &x);
	x.data.fd = c;
	epoll_ctl(ep, EPOLL_CTL_ADD, c, &x);
	char ca[64], cb[64], cc[64];
	snprintf(ca, sizeof ca, "%s", fdinfo_line(a, "clockid:"));
	snprintf(cb, sizeof cb, "%s", fdinfo_line(b, "clockid:"));
	snprintf(cc, sizeof cc, "%s", fdinfo_line(c, "clockid:"));
	kobj_wait();
	CHECK(strcmp(fdinfo_line(a, "clockid:"), ca) == 0, "a %s, was %s", fdinfo_line(a, "clockid:"), ca);
	CHECK(strcmp(fdinfo_line(b, "clockid:"), cb) == 0, "b %s, was %s", fdinfo_line(b, "clockid:"), cb);
	CHECK(strcmp(fdinfo_line(c, "clockid:"), cc) == 0, "c %s, was %s", fdinfo_line(c, "clockid:"), cc);
	CHECK(fcntl(a, F_GETFD) == FD_CLOEXEC && (fcntl(c, F_GETFL) & O_NONBLOCK), "flags");
	struct itimerspec g;
	timerfd_gettime(a, &g);
	clock_gettime(CLOCK_REALTIME, &now);
	/* Absolute: left is 1 h minus the time since the set-up. */
	CHECK(g.it_value.tv_sec > 3000 && g.it_value.tv_sec <= 3600 && g.it_interval.tv_sec == 0, "a left %ld", (long)g.it_value.tv_sec);
	timerfd_gettime(b, &g);
	CHECK(g.it_value.tv_sec > 6600 && g.it_value.tv_sec < 7200 && g.it_interval.tv_sec == 7200, "b left %ld every %ld", (long)g.it_value.tv_sec, (long)g.it_interval.tv_sec);
	timerfd_gettime(c, &g);
	CHECK(g.it_value.tv_sec > 0 && g.it_value.tv_sec < 600 && g.it_interval.tv_nsec == 250000000, "c left %ld every %ld ns", (long)g.it_value.tv_sec, g.it_interval.tv_nsec);
	struct epoll_event ev[3];
	CHECK(epoll_wait(ep, ev, 3, 0) == 0, "a timer fired");
	return kobj_done();
}
