/* An epoll item whose descriptor number was closed while its file stays
 * open under another number (dup2 then close): the kernel keeps the item,
 * keyed by the old number and the file. After the restart the item is
 * still there: an event on the file is reported with its data. A second
 * item is on a pipe whose number was closed and taken by another file,
 * itself watched under that number: two items on one number.
 * With "child": the watched file is open only in a child (the parent
 * closed it after the fork): restored from the child's descriptor. With
 * "outside": only in a process outside the tree: refused. */
#include "kobj.h"
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <stdint.h>
#include <sys/file.h>
#include <sys/wait.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int ep = epoll_create1(0);
	if (argc > 2 && strcmp(argv[2], "child") == 0) {
		/* The watched file is open only in a child. */
		int e = eventfd(0, 0);
		struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 0x1234};
		epoll_ctl(ep, EPOLL_CTL_ADD, e, &ev);
		int go[2];
		pipe(go);
		pid_t c = fork();
		if (c == 0) {
			kobj_wait();
			char x;
			read(go[0], &x, 1);
			uint64_t one = 1;
			write(e, &one, 8);
			pause();
			_exit(0);
		}
		close(e);
		kobj_wait();
		struct epoll_event got[2];
		CHECK(epoll_wait(ep, got, 2, 0) == 0, "ready before the child wrote");
		write(go[1], "x", 1);
		int n = epoll_wait(ep, got, 2, 10000);
		CHECK(n == 1 && got[0].data.u64 == 0x1234, "the child's file: %d events", n);
		kill(c, SIGKILL);
		waitpid(c, NULL, 0);
		return kobj_done();
	}
	if (argc > 2) {
		/* The watched file is open only in a process outside the tree
		 * (a grandchild whose parent exited), gone when we are. */
		int e = eventfd(0, 0);
		struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 1};
		epoll_ctl(ep, EPOLL_CTL_ADD, e, &ev);
		/* It lives until our exclusive flock goes with us. */
		int life = open("life", O_RDWR | O_CREAT, 0644);
		flock(life, LOCK_EX);
		pid_t c = fork();
		if (c == 0) {
			if (fork() == 0) {
				close(life); /* our copy shares the exclusive lock's description */
				int l = open("life", O_RDWR);
				flock(l, LOCK_SH);
				_exit(0);
			}
			_exit(0);
		}
		waitpid(c, NULL, 0);
		close(e);
		kobj_wait();
		return kobj_done();
	}
	int e = eventfd(0, EFD_NONBLOCK);
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 0xfeedface};
	if (epoll_ctl(ep, EPOLL_CTL_ADD, e, &ev)) DIE("epoll_ctl: %s", strerror(errno));
	int moved = dup2(e, 77);
	close(e);
	int p[2];
	pipe(p);
	ev = (struct epoll_event){.events = EPOLLIN, .data.u64 = 0xabc};
	epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
	int pr = dup2(p[0], 90);
	close(p[0]);
	int other = eventfd(1, 0);
	if (other != p[0]) DIE("the number was not taken again: %d, %d", other, p[0]);
	ev = (struct epoll_event){.events = EPOLLIN, .data.u64 = 0xdef};
	if (epoll_ctl(ep, EPOLL_CTL_ADD, other, &ev)) DIE("epoll_ctl 2: %s", strerror(errno));
	kobj_wait();
	uint64_t one = 1;
	struct epoll_event got[4];
	int n = epoll_wait(ep, got, 4, 0);
	CHECK(n == 1 && got[0].data.u64 == 0xdef, "epoll_wait, the new file only ready: %d events, data %#llx", n, n > 0 ? (unsigned long long)got[0].data.u64 : 0ULL);
	CHECK(fcntl(other, F_GETFD) == 0 && fcntl(pr, F_GETFD) == 0, "close-on-exec flags");
	write(moved, &one, 8);
	write(p[1], "x", 1);
	n = epoll_wait(ep, got, 4, 0);
	unsigned long long sum = 0;
	for (int i = 0; i < n; i++) sum += got[i].data.u64;
	CHECK(n == 3 && sum == 0xfeedface + 0xabc + 0xdef, "epoll_wait: %d events, sum of data %#llx", n, sum);
	read(moved, &one, 8);
	char c;
	read(pr, &c, 1);
	return kobj_done();
}
