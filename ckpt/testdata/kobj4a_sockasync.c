/* kobj4a_sockasync: a unix datagram socket with O_ASYNC, owned by the
 * process (F_SETOWN_EX F_OWNER_PID) with F_SETSIG SIGRTMIN+1, and a TCP
 * listener with O_ASYNC owned by the main thread (F_OWNER_TID) and
 * SIGIO. After the restart each reads back, and a datagram brings
 * SIGRTMIN+1 with si_fd and POLL_IN. */
#include "kobj.h"
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/syscall.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int sp[2];
	socketpair(AF_UNIX, SOCK_DGRAM, 0, sp);
	struct f_owner_ex o = {F_OWNER_PID, getpid()};
	if (fcntl(sp[0], F_SETOWN_EX, &o) || fcntl(sp[0], F_SETSIG, SIGRTMIN + 1) || fcntl(sp[0], F_SETFL, O_ASYNC | O_NONBLOCK)) DIE("async: %s", strerror(errno));
	int l = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	bind(l, (void *)&a, sizeof a);
	listen(l, 2);
	o = (struct f_owner_ex){F_OWNER_TID, (pid_t)syscall(SYS_gettid)};
	fcntl(l, F_SETOWN_EX, &o);
	fcntl(l, F_SETFL, O_ASYNC);
	sigset_t rt;
	sigemptyset(&rt);
	sigaddset(&rt, SIGRTMIN + 1);
	sigaddset(&rt, SIGIO);
	sigprocmask(SIG_BLOCK, &rt, NULL);
	kobj_wait();
	struct f_owner_ex g;
	fcntl(sp[0], F_GETOWN_EX, &g);
	CHECK(g.type == F_OWNER_PID && g.pid == getpid(), "socket owner %d %d", g.type, g.pid);
	CHECK(fcntl(sp[0], F_GETSIG) == SIGRTMIN + 1, "F_GETSIG %d", fcntl(sp[0], F_GETSIG));
	CHECK((fcntl(sp[0], F_GETFL) & (O_ASYNC | O_NONBLOCK)) == (O_ASYNC | O_NONBLOCK), "socket flags %#x", fcntl(sp[0], F_GETFL));
	fcntl(l, F_GETOWN_EX, &g);
	CHECK(g.type == F_OWNER_TID && g.pid == (pid_t)syscall(SYS_gettid), "listener owner %d %d", g.type, g.pid);
	CHECK(fcntl(l, F_GETFL) & O_ASYNC, "listener lost O_ASYNC");
	CHECK(fcntl(l, F_GETSIG) == 0, "listener F_GETSIG %d", fcntl(l, F_GETSIG));
	send(sp[1], "x", 1, 0);
	siginfo_t si;
	struct timespec ts = {5, 0};
	sigset_t only;
	sigemptyset(&only);
	sigaddset(&only, SIGRTMIN + 1);
	int sig = sigtimedwait(&only, &si, &ts);
	CHECK(sig == SIGRTMIN + 1 && si.si_fd == sp[0] && si.si_code == POLL_IN, "signal %d fd %d code %d", sig, si.si_fd, si.si_code);
	return kobj_done();
}
