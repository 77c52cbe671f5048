/* kobj5a_epollet: epoll edges: a pipe with 10 bytes under EPOLLET whose
 * edge was collected and 3 bytes read (no new event until new bytes); an
 * EPOLLONESHOT eventfd that fired (disarmed, still readable: nothing
 * until EPOLL_CTL_MOD); an epoll in an epoll in an epoll, the innermost
 * holding a readable eventfd. */
#include "kobj.h"
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int ep = epoll_create1(0);
	int p[2];
	pipe(p);
	int os = eventfd(1, EFD_NONBLOCK);
	struct epoll_event e = {.events = EPOLLIN | EPOLLET, .data.u64 = 0x1111};
	epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &e);
	e.events = EPOLLIN | EPOLLONESHOT;
	e.data.u64 = 0x2222;
	epoll_ctl(ep, EPOLL_CTL_ADD, os, &e);
	write(p[1], "0123456789", 10);
	struct epoll_event got[8];
	int n = epoll_wait(ep, got, 8, 1000);
	if (n != 2) DIE("first wait: %d", n);
	char b[16];
	read(p[0], b, 3);
	n = epoll_wait(ep, got, 8, 0);
	if (n != 0) DIE("second wait: %d", n);
	int e1 = epoll_create1(0), e2 = epoll_create1(0), e3 = epoll_create1(0);
	int ev = eventfd(5, 0);
	e.events = EPOLLIN;
	e.data.u64 = 0x3333;
	epoll_ctl(e3, EPOLL_CTL_ADD, ev, &e);
	e.data.u64 = 0x4444;
	epoll_ctl(e2, EPOLL_CTL_ADD, e3, &e);
	e.data.u64 = 0x5555;
	epoll_ctl(e1, EPOLL_CTL_ADD, e2, &e);
	kobj_wait();
	n = epoll_wait(ep, got, 8, 0);
	CHECK(n == 0, "after the restart the set reports %d events (first %#lx)", n, n > 0 ? (unsigned long)got[0].data.u64 : 0);
	write(p[1], "x", 1);
	n = epoll_wait(ep, got, 8, 1000);
	CHECK(n == 1 && got[0].data.u64 == 0x1111, "a new byte: %d events", n);
	CHECK(read(p[0], b, sizeof b) == 8, "the pipe holds 7+1");
	e.events = EPOLLIN | EPOLLONESHOT;
	e.data.u64 = 0x2222;
	CHECK(epoll_ctl(ep, EPOLL_CTL_MOD, os, &e) == 0, "MOD the oneshot: %s", strerror(errno));
	n = epoll_wait(ep, got, 8, 1000);
	CHECK(n == 1 && got[0].data.u64 == 0x2222, "the rearmed oneshot: %d", n);
	n = epoll_wait(e1, got, 8, 1000);
	CHECK(n == 1 && got[0].data.u64 == 0x5555, "outer: %d", n);
	n = epoll_wait(e2, got, 8, 1000);
	CHECK(n == 1 && got[0].data.u64 == 0x4444, "middle: %d", n);
	n = epoll_wait(e3, got, 8, 1000);
	CHECK(n == 1 && got[0].data.u64 == 0x3333, "inner: %d", n);
	return kobj_done();
}
