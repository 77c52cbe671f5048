/* kobj5a_sockopts5: options of unix and UDP sockets beyond the sizes:
 * SO_RCVBUFFORCE/SO_SNDBUFFORCE above the sysctl maxima, SO_PRIORITY 5,
 * SO_MARK 77, SO_RCVLOWAT 5 and SO_PEEK_OFF 3 (with "abcdefgh" queued a
 * MSG_PEEK reads from 'd') on a stream pair; SO_TIMESTAMPNS, SO_RXQ_OVFL,
 * IP_RECVERR, IP_MTU_DISCOVER IP_PMTUDISC_DO, SO_BUSY_POLL and
 * IP_FREEBIND on a UDP socket. */
#include "kobj.h"
#include <netinet/in.h>
#include <sys/socket.h>

static int get(int fd, int lev, int opt) {
	int v = -1;
	socklen_t l = sizeof v;
	getsockopt(fd, lev, opt, &v, &l);
	return v;
}

static void set(int fd, int lev, int opt, int v) {
	if (setsockopt(fd, lev, opt, &v, sizeof v)) DIE("setsockopt %d/%d: %s", lev, opt, strerror(errno));
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int sp[2];
	socketpair(AF_UNIX, SOCK_STREAM, 0, sp);
	set(sp[0], SOL_SOCKET, SO_RCVBUFFORCE, 3 << 20);
	set(sp[0], SOL_SOCKET, SO_SNDBUFFORCE, 5 << 20);
	set(sp[0], SOL_SOCKET, SO_PRIORITY, 5);
	set(sp[0], SOL_SOCKET, SO_MARK, 77);
	set(sp[0], SOL_SOCKET, SO_RCVLOWAT, 5);
	set(sp[0], SOL_SOCKET, SO_PEEK_OFF, 3);
	write(sp[1], "abcdefgh", 8);
	int u = socket(AF_INET, SOCK_DGRAM, 0);
	set(u, SOL_SOCKET, SO_TIMESTAMPNS, 1);
	set(u, SOL_SOCKET, SO_RXQ_OVFL, 1);
	set(u, SOL_IP, IP_RECVERR, 1);
	set(u, SOL_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DO);
	set(u, SOL_SOCKET, SO_BUSY_POLL, 50);
	set(u, SOL_IP, IP_FREEBIND, 1);
	int want[] = {get(sp[0], SOL_SOCKET, SO_RCVBUF), get(sp[0], SOL_SOCKET, SO_SNDBUF)};
	kobj_wait();
	CHECK(get(sp[0], SOL_SOCKET, SO_RCVBUF) == want[0], "SO_RCVBUF %d, was %d", get(sp[0], SOL_SOCKET, SO_RCVBUF), want[0]);
	CHECK(get(sp[0], SOL_SOCKET, SO_SNDBUF) == want[1], "SO_SNDBUF %d, was %d", get(sp[0], SOL_SOCKET, SO_SNDBUF), want[1]);
	CHECK(get(sp[0], SOL_SOCKET, SO_PRIORITY) == 5, "SO_PRIORITY %d", get(sp[0], SOL_SOCKET, SO_PRIORITY));
	CHECK(get(sp[0], SOL_SOCKET, SO_MARK) == 77, "SO_MARK %d", get(sp[0], SOL_SOCKET, SO_MARK));
	CHECK(get(sp[0], SOL_SOCKET, SO_RCVLOWAT) == 5, "SO_RCVLOWAT %d", get(sp[0], SOL_SOCKET, SO_RCVLOWAT));
	CHECK(get(sp[0], SOL_SOCKET, SO_PEEK_OFF) == 3, "SO_PEEK_OFF %d", get(sp[0], SOL_SOCKET, SO_PEEK_OFF));
	char b[8] = {0};
	CHECK(recv(sp[0], b, 2, MSG_PEEK | MSG_DONTWAIT) == 2 && memcmp(b, "de", 2) == 0, "peek gave '%.2s'", b);
	CHECK(get(u, SOL_SOCKET, SO_TIMESTAMPNS) == 1, "SO_TIMESTAMPNS %d", get(u, SOL_SOCKET, SO_TIMESTAMPNS));
	CHECK(get(u, SOL_SOCKET, SO_RXQ_OVFL) == 1, "SO_RXQ_OVFL");
	CHECK(get(u, SOL_IP, IP_RECVERR) == 1, "IP_RECVERR");
	CHECK(get(u, SOL_IP, IP_MTU_DISCOVER) == IP_PMTUDISC_DO, "IP_MTU_DISCOVER %d", get(u, SOL_IP, IP_MTU_DISCOVER));
	CHECK(get(u, SOL_SOCKET, SO_BUSY_POLL) == 50, "SO_BUSY_POLL %d", get(u, SOL_SOCKET, SO_BUSY_POLL));
	CHECK(get(u, SOL_IP, IP_FREEBIND) == 1, "IP_FREEBIND");
	return kobj_done();
}
