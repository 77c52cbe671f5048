/* One epoll instance shared by a parent and its child (inherited by
 * fork): each adds a descriptor only it has (the parent an eventfd, the
 * child a pipe). After the restart both watches report, with their data,
 * to either process. */
#include "kobj.h"
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <stdint.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int ep = epoll_create1(0);
	int sync[2];
	pipe(sync);
	pid_t c = fork();
	if (c == 0) {
		int p[2];
		pipe(p);
		struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 0xc0};
		epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
		write(p[1], "x", 1);
		write(sync[1], "r", 1);
		kobj_wait();
		pause();
		_exit(0);
	}
	char r;
	read(sync[0], &r, 1);
	int e = eventfd(1, 0);
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 0xa0};
	epoll_ctl(ep, EPOLL_CTL_ADD, e, &ev);
	kobj_wait();
	struct epoll_event got[4];
	int n = epoll_wait(ep, got, 4, 0);
	unsigned long long sum = 0;
	for (int i = 0; i < n; i++) sum += got[i].data.u64;
	CHECK(n == 2 && sum == 0xc0 + 0xa0, "epoll_wait: %d events, data sum %#llx", n, sum);
	kill(c, SIGKILL);
	waitpid(c, NULL, 0);
	return kobj_done();
}
