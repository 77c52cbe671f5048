/* kobj5a_tcpcork: a loopback TCP connection whose receiver (SO_RCVBUF
 * small) reads nothing: the sender wrote non-blocking until EAGAIN (the
 * window closed, its send queue full), then set TCP_CORK. After the
 * restart the queues hold what they held (SIOCINQ on the receiver,
 * SIOCOUTQ on the sender), a send still fails EAGAIN, TCP_CORK is on,
 * and the receiver reads every byte in order: exactly as many as sent. */
#include "kobj.h"
#include "kobj5a_inet.h"

static unsigned char pat(long i) { return (unsigned char)(i * 13 + i / 1000); }

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int port;
	int l = listen4(&port, 4);
	int c = socket(AF_INET, SOCK_STREAM, 0);
	iset(c, SOL_SOCKET, SO_SNDBUF, 32768);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (l < 0 || connect(c, (void *)&a, sizeof a)) DIE("connect: %s", strerror(errno));
	int s = accept(l, NULL, NULL);
	iset(s, SOL_SOCKET, SO_RCVBUF, 16384);
	fcntl(c, F_SETFL, O_NONBLOCK);
	long sent = 0;
	unsigned char b[4096];
	for (int tries = 0; tries < 50; tries++) {
		for (;;) {
			for (int i = 0; i < (int)sizeof b; i++) b[i] = pat(sent + i);
			ssize_t n = send(c, b, sizeof b, 0);
			if (n <= 0) break;
			sent += n;
		}
		usleep(20000);
	}
	iset(c, IPPROTO_TCP, TCP_CORK, 1);
	int inq0 = -1, outq0 = -1;
	ioctl(s, FIONREAD, &inq0);
	ioctl(c, TIOCOUTQ, &outq0);
	kobj_wait();
	int inq1 = -1, outq1 = -1;
	ioctl(s, FIONREAD, &inq1);
	ioctl(c, TIOCOUTQ, &outq1);
	CHECK(inq1 + outq1 == inq0 + outq0, "queued: in %d out %d, were %d %d", inq1, outq1, inq0, outq0);
	CHECK(inq0 + outq0 == sent, "the set-up: %d + %d queued, %ld sent", inq0, outq0, sent);
	CHECK(send(c, b, 1, 0) < 0 && errno == EAGAIN, "a send went: %s", strerror(errno));
	CHECK(iget(c, IPPROTO_TCP, TCP_CORK) == 1, "TCP_CORK off");
	iset(c, IPPROTO_TCP, TCP_CORK, 0);
	fcntl(c, F_SETFL, 0);
	shutdown(c, SHUT_WR);
	long got = 0;
	int bad = 0;
	for (;;) {
		ssize_t n = recv(s, b, sizeof b, 0);
		if (n < 0 && errno == EINTR) continue;
		if (n <= 0) break;
		for (ssize_t i = 0; i < n; i++) if (b[i] != pat(got + i)) bad = 1;
		got += n;
	}
	CHECK(got == sent && !bad, "received %ld of %ld bytes, bad %d", got, sent, bad);
	return kobj_done();
}
