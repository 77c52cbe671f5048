/* kobj5a_dgramfull: a unix datagram socketpair whose sender (SO_SNDBUF
 * 8192, non-blocking) filled the queue: sends of 1000 bytes until EAGAIN.
 * After the restart a send still fails EAGAIN, the receiver holds exactly
 * as many datagrams as before, and once one is read a send goes. */
#include "kobj.h"
#include <sys/ioctl.h>
#include <sys/socket.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int sp[2];
	socketpair(AF_UNIX, SOCK_DGRAM, 0, sp);
	int sz = 8192;
	setsockopt(sp[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
	fcntl(sp[0], F_SETFL, O_NONBLOCK);
	char b[1000];
	int n = 0;
	for (;;) {
		memset(b, n, sizeof b);
		if (send(sp[0], b, sizeof b, 0) < 0) break;
		n++;
	}
	if (errno != EAGAIN || n == 0) DIE("filled with %d: %s", n, strerror(errno));
	int sb0;
	socklen_t l = sizeof sb0;
	getsockopt(sp[0], SOL_SOCKET, SO_SNDBUF, &sb0, &l);
	int out0 = -1;
	ioctl(sp[0], TIOCOUTQ, &out0);
	kobj_wait();
	int sb1;
	l = sizeof sb1;
	getsockopt(sp[0], SOL_SOCKET, SO_SNDBUF, &sb1, &l);
	CHECK(sb1 == sb0, "SO_SNDBUF %d, was %d", sb1, sb0);
	int out1 = -1;
	ioctl(sp[0], TIOCOUTQ, &out1);
	CHECK(out1 == out0, "SIOCOUTQ %d, was %d", out1, out0);
	CHECK(send(sp[0], b, sizeof b, 0) < 0 && errno == EAGAIN, "a send went to the full queue");
	char r[2000];
	CHECK(recv(sp[1], r, sizeof r, MSG_DONTWAIT) == 1000 && r[0] == 0, "first datagram");
	CHECK(send(sp[0], b, sizeof b, 0) == 1000, "no room after a read: %s", strerror(errno));
	int got = 1;
	ssize_t m;
	while ((m = recv(sp[1], r, sizeof r, MSG_DONTWAIT)) == 1000) got++;
	CHECK(got == n + 1, "%d datagrams, want %d", got, n + 1);
	return kobj_done();
}
