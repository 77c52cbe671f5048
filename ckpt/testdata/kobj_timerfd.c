/* timerfds: CLOCK_REALTIME absolute with TFD_TIMER_CANCEL_ON_SET, and
 * CLOCK_MONOTONIC relative with an interval, CLOCK_BOOTTIME disarmed. */
#include "kobj.h"
#include <sys/timerfd.h>
#include <time.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int a = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK);
	int r = timerfd_create(CLOCK_MONOTONIC, 0);
	int d = timerfd_create(CLOCK_BOOTTIME, TFD_CLOEXEC);
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	struct itimerspec abs = {.it_value = {now.tv_sec + 3600, 0}, .it_interval = {60, 0}};
	if (timerfd_settime(a, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &abs, NULL) < 0) DIE("settime abs: %s", strerror(errno));
	struct itimerspec rel = {.it_value = {7200, 0}, .it_interval = {1800, 500}};
	timerfd_settime(r, 0, &rel, NULL);
	char flags[128], clk[128];
	snprintf(flags, sizeof flags, "%s", fdinfo_line(a, "settime flags"));
	snprintf(clk, sizeof clk, "%s", fdinfo_line(a, "clockid"));
	kobj_wait();
	CHECK(strcmp(fdinfo_line(a, "settime flags"), flags) == 0, "absolute timer fdinfo '%s', was '%s'", fdinfo_line(a, "settime flags"), flags);
	CHECK(strcmp(fdinfo_line(a, "clockid"), clk) == 0, "clockid '%s', was '%s'", fdinfo_line(a, "clockid"), clk);
	struct itimerspec g;
	timerfd_gettime(a, &g);
	CHECK(g.it_interval.tv_sec == 60 && g.it_interval.tv_nsec == 0, "absolute interval %ld.%09ld", g.it_interval.tv_sec, g.it_interval.tv_nsec);
	struct timespec now2;
	clock_gettime(CLOCK_REALTIME, &now2);
	long left = now.tv_sec + 3600 - now2.tv_sec;
	CHECK(g.it_value.tv_sec >= left - 2 && g.it_value.tv_sec <= left + 1, "absolute remaining %ld, want about %ld", g.it_value.tv_sec, left);
	CHECK(fcntl(a, F_GETFL) & O_NONBLOCK, "absolute lost O_NONBLOCK");
	timerfd_gettime(r, &g);
	CHECK(g.it_interval.tv_sec == 1800 && g.it_interval.tv_nsec == 500, "relative interval %ld.%09ld", g.it_interval.tv_sec, g.it_interval.tv_nsec);
	CHECK(g.it_value.tv_sec > 0 && g.it_value.tv_sec <= 7200, "relative remaining %ld", g.it_value.tv_sec);
	timerfd_gettime(d, &g);
	CHECK(g.it_value.tv_sec == 0 && g.it_value.tv_nsec == 0, "disarmed timer armed");
	CHECK(strstr(fdinfo_line(d, "clockid"), "7") != NULL, "boottime clockid '%s'", fdinfo_line(d, "clockid"));
	CHECK(fcntl(d, F_GETFD) == FD_CLOEXEC, "boottime cloexec");
	/* TFD_TIMER_CANCEL_ON_SET: a clock_settime (to the same time) cancels it. */
	clock_gettime(CLOCK_REALTIME, &now2);
	if (clock_settime(CLOCK_REALTIME, &now2) == 0) {
		unsigned long long ticks;
		errno = 0;
		CHECK(read(a, &ticks, 8) < 0 && errno == ECANCELED, "absolute timer not cancelled by clock_settime: %s", strerror(errno));
	}
	return kobj_done();
}
