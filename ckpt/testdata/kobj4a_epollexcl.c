/* kobj4a_epollexcl: epoll items with flags of their own: one eventfd in
 * two instances with EPOLLEXCLUSIVE, a pipe with EPOLLWAKEUP|EPOLLET, a
 * socket with EPOLLRDHUP|EPOLLPRI and a 64-bit cookie, an item ready and
 * not collected yet. fdinfo of each instance lists the same items (tfd,
 * events, data; in any order, without the inodes of the new pipe and
 * socket), and epoll_wait gives the same events after. */
#include "kobj.h"
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

static int cmp(const void *a, const void *b) { return strcmp(a, b); }

static const char *items(int ep) {
	static char b[2048];
	char p[64], lines[8][256];
	int n = 0;
	snprintf(p, sizeof p, "/proc/self/fdinfo/%d", ep);
	FILE *f = fopen(p, "r");
	b[0] = 0;
	while (f && n < 8 && fgets(lines[n], sizeof lines[n], f)) {
		if (strncmp(lines[n], "tfd:", 4)) continue;
		char *ino = strstr(lines[n], " pos:");
		if (ino) strcpy(ino, "\n");
		n++;
	}
	if (f) fclose(f);
	qsort(lines, n, sizeof lines[0], cmp);
	for (int i = 0; i < n; i++) strcat(b, lines[i]);
	return b;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int e1 = epoll_create1(EPOLL_CLOEXEC), e2 = epoll_create1(0);
	int ev = eventfd(0, EFD_NONBLOCK);
	int p[2], sp[2];
	pipe(p);
	socketpair(AF_UNIX, SOCK_STREAM, 0, sp);
	struct epoll_event x = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.u64 = 0x1111};
	if (epoll_ctl(e1, EPOLL_CTL_ADD, ev, &x) || epoll_ctl(e2, EPOLL_CTL_ADD, ev, &x)) DIE("EPOLLEXCLUSIVE: %s", strerror(errno));
	x = (struct epoll_event){.events = EPOLLIN | EPOLLET | EPOLLWAKEUP, .data.u64 = 0x2222};
	if (epoll_ctl(e1, EPOLL_CTL_ADD, p[0], &x)) DIE("EPOLLWAKEUP: %s", strerror(errno));
	x = (struct epoll_event){.events = EPOLLIN | EPOLLRDHUP | EPOLLPRI, .data.u64 = 0xfedcba9876543210ull};
	epoll_ctl(e2, EPOLL_CTL_ADD, sp[0], &x);
	write(sp[1], "s", 1);
	char one[2048], two[2048];
	snprintf(one, sizeof one, "%s", items(e1));
	snprintf(two, sizeof two, "%s", items(e2));
	kobj_wait();
	CHECK(strcmp(items(e1), one) == 0, "e1 items\n%s\nwere\n%s", items(e1), one);
	CHECK(strcmp(items(e2), two) == 0, "e2 items\n%s\nwere\n%s", items(e2), two);
	CHECK(fcntl(e1, F_GETFD) == FD_CLOEXEC && fcntl(e2, F_GETFD) == 0, "close-on-exec of the instances");
	struct epoll_event got[4];
	int n = epoll_wait(e2, got, 4, 0);
	CHECK(n == 1 && got[0].data.u64 == 0xfedcba9876543210ull && got[0].events == EPOLLIN, "e2 ready: %d (%#x)", n, n > 0 ? got[0].events : 0);
	n = epoll_wait(e1, got, 4, 0);
	CHECK(n == 0, "e1 ready before any event: %d", n);
	uint64_t one64 = 1;
	write(ev, &one64, 8);
	write(p[1], "x", 1);
	n = epoll_wait(e1, got, 4, 100);
	int sawev = 0, sawp = 0;
	for (int i = 0; i < n; i++) {
		if (got[i].data.u64 == 0x1111) sawev++;
		if (got[i].data.u64 == 0x2222) sawp++;
	}
	CHECK(sawev == 1 && sawp == 1, "e1: %d events, eventfd %d pipe %d", n, sawev, sawp);
	n = epoll_wait(e1, got, 4, 0);
	CHECK(n == 1 && got[0].data.u64 == 0x1111, "level eventfd / edge pipe: %d", n);
	shutdown(sp[1], SHUT_WR);
	n = epoll_wait(e2, got, 4, 0);
	int rdhup = 0;
	for (int i = 0; i < n; i++)
		if (got[i].data.u64 == 0xfedcba9876543210ull) rdhup = (got[i].events & EPOLLRDHUP) != 0;
	CHECK(rdhup, "EPOLLRDHUP lost");
	return kobj_done();
}
