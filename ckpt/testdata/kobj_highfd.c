/* Descriptors with gaps and a high number (dup2 to 1000), an O_TMPFILE
 * file with content, and an eventfd and a timerfd inside an epoll. */
#include "kobj.h"
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int t = open(".", O_TMPFILE | O_RDWR, 0600);
	if (t < 0) DIE("O_TMPFILE: %s", strerror(errno));
	write(t, "temporary", 9);
	if (dup2(t, 1000) != 1000) DIE("dup2: %s", strerror(errno));
	close(t);
	int e = eventfd(3, 0);
	dup2(e, 517);
	close(e);
	int tf = timerfd_create(CLOCK_MONOTONIC, 0);
	struct itimerspec s = {.it_value = {0, 1000000}};
	timerfd_settime(tf, 0, &s, NULL);
	usleep(20000);
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 517};
	epoll_ctl(ep, EPOLL_CTL_ADD, 517, &ev);
	ev.data.u32 = tf;
	epoll_ctl(ep, EPOLL_CTL_ADD, tf, &ev);
	kobj_wait();
	char b[16] = {0};
	CHECK(pread(1000, b, 9, 0) == 9 && strcmp(b, "temporary") == 0, "O_TMPFILE content %s", b);
	CHECK(lseek(1000, 0, SEEK_CUR) == 9, "O_TMPFILE offset");
	for (int fd = 3; fd < 1000; fd++)
		if (fd != tf && fd != ep && fd != 517) CHECK(fcntl(fd, F_GETFD) < 0, "descriptor %d came back", fd);
	struct epoll_event got[4];
	int n = epoll_wait(ep, got, 4, 0);
	CHECK(n == 2, "epoll: %d ready, want the eventfd and the expired timerfd", n);
	unsigned long long x;
	CHECK(read(517, &x, 8) == 8 && x == 3, "eventfd at 517: %llu", x);
	CHECK(read(tf, &x, 8) == 8 && x == 1, "timerfd expirations %llu", x);
	return kobj_done();
}
