/* kobj5a_listenopts: options set on a TCP listener, which connections it
 * accepts inherit: TCP_NODELAY, SO_KEEPALIVE, TCP_KEEPIDLE 77,
 * TCP_KEEPINTVL 11, TCP_KEEPCNT 4, TCP_USER_TIMEOUT 12345, TCP_CONGESTION
 * reno, IP_TOS 0x10, TCP_DEFER_ACCEPT, TCP_FASTOPEN 5,
 * TCP_MAXSEG 1000, SO_RCVBUF 50000, and SO_PRIORITY 3 (not inherited). After the restart the listener reads
 * them back and a connection accepted then has them. */
#include "kobj.h"
#include "kobj5a_inet.h"

static int check(int fd, const char *who) {
	char cc[16] = {0};
	socklen_t l = sizeof cc;
	getsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, cc, &l);
	CHECK(iget(fd, IPPROTO_TCP, TCP_NODELAY) == 1, "%s TCP_NODELAY", who);
	CHECK(iget(fd, SOL_SOCKET, SO_KEEPALIVE) == 1, "%s SO_KEEPALIVE", who);
	CHECK(iget(fd, IPPROTO_TCP, TCP_KEEPIDLE) == 77, "%s TCP_KEEPIDLE %d", who, iget(fd, IPPROTO_TCP, TCP_KEEPIDLE));
	CHECK(iget(fd, IPPROTO_TCP, TCP_KEEPINTVL) == 11, "%s TCP_KEEPINTVL %d", who, iget(fd, IPPROTO_TCP, TCP_KEEPINTVL));
	CHECK(iget(fd, IPPROTO_TCP, TCP_KEEPCNT) == 4, "%s TCP_KEEPCNT %d", who, iget(fd, IPPROTO_TCP, TCP_KEEPCNT));
	CHECK(iget(fd, IPPROTO_TCP, TCP_USER_TIMEOUT) == 12345, "%s TCP_USER_TIMEOUT %d", who, iget(fd, IPPROTO_TCP, TCP_USER_TIMEOUT));
	CHECK(strcmp(cc, "reno") == 0, "%s TCP_CONGESTION %s", who, cc);
	CHECK(iget(fd, SOL_IP, IP_TOS) == 0x10, "%s IP_TOS %#x", who, iget(fd, SOL_IP, IP_TOS));
	return 0;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int l = socket(AF_INET, SOCK_STREAM, 0);
	iset(l, IPPROTO_TCP, TCP_NODELAY, 1);
	iset(l, SOL_SOCKET, SO_KEEPALIVE, 1);
	iset(l, IPPROTO_TCP, TCP_KEEPIDLE, 77);
	iset(l, IPPROTO_TCP, TCP_KEEPINTVL, 11);
	iset(l, IPPROTO_TCP, TCP_KEEPCNT, 4);
	iset(l, IPPROTO_TCP, TCP_USER_TIMEOUT, 12345);
	if (setsockopt(l, IPPROTO_TCP, TCP_CONGESTION, "reno", 4)) DIE("reno: %s", strerror(errno));
	iset(l, SOL_IP, IP_TOS, 0x10);
	iset(l, SOL_SOCKET, SO_PRIORITY, 3);
	iset(l, IPPROTO_TCP, TCP_DEFER_ACCEPT, 1);
	iset(l, IPPROTO_TCP, TCP_MAXSEG, 1000);
	iset(l, SOL_SOCKET, SO_RCVBUF, 50000);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (bind(l, (void *)&a, sizeof a)) DIE("bind");
	iset(l, IPPROTO_TCP, TCP_FASTOPEN, 5);
	if (listen(l, 8)) DIE("listen");
	socklen_t al = sizeof a;
	getsockname(l, (void *)&a, &al);
	int port = ntohs(a.sin_port);
	int defer = iget(l, IPPROTO_TCP, TCP_DEFER_ACCEPT);
	int rcv = iget(l, SOL_SOCKET, SO_RCVBUF);
	int mss = iget(l, IPPROTO_TCP, TCP_MAXSEG);
	kobj_wait();
	check(l, "listener");
	CHECK(iget(l, SOL_SOCKET, SO_PRIORITY) == 3, "SO_PRIORITY %d", iget(l, SOL_SOCKET, SO_PRIORITY));
	CHECK(iget(l, IPPROTO_TCP, TCP_DEFER_ACCEPT) == defer, "TCP_DEFER_ACCEPT %d, was %d", iget(l, IPPROTO_TCP, TCP_DEFER_ACCEPT), defer);
	CHECK(iget(l, IPPROTO_TCP, TCP_FASTOPEN) == 5, "TCP_FASTOPEN %d", iget(l, IPPROTO_TCP, TCP_FASTOPEN));
	CHECK(iget(l, SOL_SOCKET, SO_RCVBUF) == rcv, "SO_RCVBUF %d, was %d", iget(l, SOL_SOCKET, SO_RCVBUF), rcv);
	CHECK(iget(l, IPPROTO_TCP, TCP_MAXSEG) == mss, "TCP_MAXSEG %d, was %d", iget(l, IPPROTO_TCP, TCP_MAXSEG), mss);
	int c = connect4(port);
	write(c, "x", 1); /* TCP_DEFER_ACCEPT waits for data */
	int s = accept(l, NULL, NULL);
	CHECK(s >= 0, "accept: %s", strerror(errno));
	if (s >= 0) check(s, "accepted");
	return kobj_done();
}
