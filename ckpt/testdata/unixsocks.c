/* unixsocks MODE OUT GO: sets up unix sockets (or a forced set of
 * uncheckpointable descriptors in an epoll set), writes "ready", waits
 * until the file GO exists (the checkpoint and restart happen meanwhile),
 * then checks every object from the inside and writes "ok" or the first
 * failure. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <linux/filter.h>
#include <time.h>
#include <unistd.h>

static FILE *out;
static int failed;

static void fail(const char *fmt, ...) {
	va_list ap;
	va_start(ap, fmt);
	fprintf(out, "FAIL ");
	vfprintf(out, fmt, ap);
	fprintf(out, " (errno %s)\n", strerror(errno));
	va_end(ap);
	fflush(out);
	failed = 1;
}

static socklen_t addr(struct sockaddr_un *a, const char *name, int abstract) {
	memset(a, 0, sizeof *a);
	a->sun_family = AF_UNIX;
	if (abstract) {
		strcpy(a->sun_path + 1, name);
		return offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name);
	}
	strcpy(a->sun_path, name);
	return offsetof(struct sockaddr_un, sun_path) + strlen(name) + 1;
}

static int bound(int type, const char *name, int abstract) {
	struct sockaddr_un a;
	socklen_t l = addr(&a, name, abstract);
	int s = socket(AF_UNIX, type, 0);
	if (s < 0 || bind(s, (struct sockaddr *)&a, l) < 0) {
		fail("bind %s", name);
		exit(1);
	}
	return s;
}

static void connectTo(int s, const char *name, int abstract) {
	struct sockaddr_un a;
	socklen_t l = addr(&a, name, abstract);
	if (connect(s, (struct sockaddr *)&a, l) < 0) {
		fail("connect %s", name);
		exit(1);
	}
}

static void expectRecv(int s, const char *want, const char *what) {
	char buf[256];
	ssize_t n = recv(s, buf, sizeof buf, MSG_DONTWAIT);
	if (n != (ssize_t)strlen(want) || memcmp(buf, want, n) != 0)
		fail("%s: got %zd bytes %.*s, want %s", what, n, n > 0 ? (int)n : 0, buf, want);
}

/* expectName checks getsockname (peer 0) or getpeername (peer 1). */
static void expectName(int s, int peer, const char *name, int abstract, const char *what) {
	struct sockaddr_un a, w;
	socklen_t l = sizeof a, wl = addr(&w, name, abstract);
	int r = peer ? getpeername(s, (struct sockaddr *)&a, &l) : getsockname(s, (struct sockaddr *)&a, &l);
	if (r < 0 || l != wl || memcmp(&a, &w, l) != 0)
		fail("%s: name %.*s (len %d), want %s", what, (int)(l - 2), a.sun_path[0] ? a.sun_path : a.sun_path + 1, (int)l, name);
}

static void waitGo(const char *go) {
	struct timespec ts = {0, 10 * 1000 * 1000};
	fprintf(out, "ready\n");
	fflush(out);
	while (access(go, F_OK) != 0)
		nanosleep(&ts, NULL);
}

static void dgram(const char *go) {
	int srv = bound(SOCK_DGRAM, "srv.sock", 0);
	int rcv = 65536, one = 1;
	setsockopt(srv, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
	setsockopt(srv, SOL_SOCKET, SO_PASSCRED, &one, sizeof one);
	int c1 = bound(SOCK_DGRAM, "c1.sock", 0);
	char abs[64];
	snprintf(abs, sizeof abs, "lazarus-c2-%d", getpid());
	int c2 = bound(SOCK_DGRAM, abs, 1);
	connectTo(c1, "srv.sock", 0);
	send(c1, "one", 3, 0);
	send(c1, "second", 6, 0);
	struct sockaddr_un a;
	socklen_t l = addr(&a, "srv.sock", 0);
	sendto(c2, "3", 1, 0, (struct sockaddr *)&a, l);
	send(c1, "", 0, 0);
	int got;
	socklen_t gl = sizeof got;
	getsockopt(srv, SOL_SOCKET, SO_RCVBUF, &got, &gl);
	waitGo(go);
	struct {
		const char *data, *from;
		int abstract;
	} want[] = {{"one", "c1.sock", 0}, {"second", "c1.sock", 0}, {"3", abs, 1}, {"", "c1.sock", 0}};
	for (int i = 0; i < 4; i++) {
		char buf[64];
		struct sockaddr_un f, w;
		socklen_t fl = sizeof f, wl = addr(&w, want[i].from, want[i].abstract);
		char cb[CMSG_SPACE(sizeof(struct ucred))];
		struct iovec iov = {buf, sizeof buf};
		struct msghdr m = {.msg_name = &f, .msg_namelen = fl, .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb, .msg_controllen = sizeof cb};
		ssize_t n = recvmsg(srv, &m, MSG_DONTWAIT);
		fl = m.msg_namelen;
		struct cmsghdr *c = CMSG_FIRSTHDR(&m);
		struct ucred uc = {0};
		if (c && c->cmsg_type == SCM_CREDENTIALS)
			memcpy(&uc, CMSG_DATA(c), sizeof uc);
		if (n != (ssize_t)strlen(want[i].data) || memcmp(buf, want[i].data, n) != 0)
			fail("datagram %d: %zd bytes, want %s", i, n, want[i].data);
		else if (fl != wl || memcmp(&f, &w, fl) != 0)
			fail("datagram %d: sender %s, want %s", i, f.sun_path[0] ? f.sun_path : f.sun_path + 1, want[i].from);
		else if (uc.pid != getpid() || uc.uid != getuid())
			fail("datagram %d: SCM_CREDENTIALS pid %d uid %d, want %d %d", i, uc.pid, uc.uid, getpid(), getuid());
	}
	char buf[8];
	if (recv(srv, buf, sizeof buf, MSG_DONTWAIT) != -1 || errno != EAGAIN)
		fail("a fifth datagram");
	expectName(c1, 1, "srv.sock", 0, "client 1 peer");
	if (send(c1, "again", 5, 0) != 5)
		fail("client 1 sends after restart");
	expectRecv(srv, "again", "server after restart");
	int now;
	gl = sizeof now;
	getsockopt(srv, SOL_SOCKET, SO_RCVBUF, &now, &gl);
	if (now != got)
		fail("SO_RCVBUF %d, want %d", now, got);
}

static void listening(const char *go) {
	int l = bound(SOCK_STREAM, "lst.sock", 0);
	listen(l, 5);
	int one = 1;
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	int est = socket(AF_UNIX, SOCK_STREAM, 0);
	connectTo(est, "lst.sock", 0);
	int acc = accept(l, NULL, NULL);
	send(est, "abc", 3, 0);
	send(acc, "xyz", 3, 0);
	/* A third connection with more bytes queued than a default buffer
	 * holds (its sender's SO_SNDBUF raised). */
	int c3 = socket(AF_UNIX, SOCK_STREAM, 0), big = 1 << 20;
	setsockopt(c3, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof big);
	connectTo(c3, "lst.sock", 0);
	int a3 = accept(l, NULL, NULL);
	static char block[400000], back[400001];
	for (size_t i = 0; i < sizeof block; i++)
		block[i] = (char)(i * 7 + i / 1000);
	for (size_t off = 0; off < sizeof block;) {
		ssize_t n = send(c3, block + off, sizeof block - off, MSG_DONTWAIT);
		if (n <= 0) {
			fail("queue %zu bytes", sizeof block);
			break;
		}
		off += n;
	}
	int pend = socket(AF_UNIX, SOCK_STREAM, 0);
	connectTo(pend, "lst.sock", 0);
	struct timeval tv = {7, 500000};
	setsockopt(acc, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	waitGo(go);
	expectRecv(acc, "abc", "accepted end");
	size_t got3 = 0;
	for (;;) {
		ssize_t n = recv(a3, back + got3, sizeof back - got3, MSG_DONTWAIT);
		if (n <= 0)
			break;
		got3 += n;
	}
	if (got3 != sizeof block || memcmp(back, block, sizeof block) != 0)
		fail("big queue: %zu bytes back, want %zu", got3, sizeof block);
	expectRecv(est, "xyz", "client end");
	expectName(est, 1, "lst.sock", 0, "client's peer");
	expectName(acc, 0, "lst.sock", 0, "accepted end's name");
	expectName(l, 0, "lst.sock", 0, "listener's name");
	struct timeval got;
	socklen_t gl = sizeof got;
	getsockopt(acc, SOL_SOCKET, SO_RCVTIMEO, &got, &gl);
	if (got.tv_sec != 7 || got.tv_usec != 500000)
		fail("SO_RCVTIMEO %ld.%06ld", (long)got.tv_sec, (long)got.tv_usec);
	int v = 0;
	gl = sizeof v;
	getsockopt(l, SOL_SOCKET, SO_REUSEADDR, &v, &gl);
	if (!v)
		fail("SO_REUSEADDR lost");
	fcntl(l, F_SETFL, O_NONBLOCK);
	int p = accept(l, NULL, NULL);
	if (p < 0) {
		fail("no pending connection to accept");
		return;
	}
	send(pend, "hi", 2, 0);
	expectRecv(p, "hi", "pending connection, accepted after restart");
	send(p, "yo", 2, 0);
	expectRecv(pend, "yo", "pending connection's client");
	if (accept(l, NULL, NULL) != -1 || errno != EAGAIN)
		fail("a second pending connection");
}

static void rights(const char *go) {
	int sp[2], pp[2];
	socketpair(AF_UNIX, SOCK_STREAM, 0, sp);
	pipe(pp);
	int f = open("secret.txt", O_RDWR | O_CREAT | O_TRUNC, 0600);
	write(f, "the secret", 10);
	lseek(f, 4, SEEK_SET);
	char cbuf[CMSG_SPACE(2 * sizeof(int))];
	struct iovec iov = {"R", 1};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(2 * sizeof(int));
	int fds[2] = {f, pp[1]};
	memcpy(CMSG_DATA(c), fds, sizeof fds);
	if (sendmsg(sp[0], &m, 0) != 1)
		fail("sendmsg");
	send(sp[0], "after", 5, 0);
	close(f);     /* the file is held by the queue only */
	close(pp[1]); /* the pipe's write end too; its read end stays */
	waitGo(go);
	char buf[16], rb[CMSG_SPACE(2 * sizeof(int))];
	struct iovec riov = {buf, sizeof buf};
	struct msghdr r = {.msg_iov = &riov, .msg_iovlen = 1, .msg_control = rb, .msg_controllen = sizeof rb};
	ssize_t n = recvmsg(sp[1], &r, MSG_DONTWAIT);
	c = CMSG_FIRSTHDR(&r);
	if (n != 1 || buf[0] != 'R' || c == NULL || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(2 * sizeof(int))) {
		fail("message with rights: %zd bytes, control %d", n, c ? (int)c->cmsg_len : -1);
		return;
	}
	memcpy(fds, CMSG_DATA(c), sizeof fds);
	char s[16] = {0};
	if (read(fds[0], s, sizeof s) != 6 || strcmp(s, "secret") != 0)
		fail("file in flight reads %s, want secret (from offset 4)", s);
	if (write(fds[1], "P", 1) != 1)
		fail("write to the pipe in flight");
	close(fds[1]);
	if (read(pp[0], s, 1) != 1 || s[0] != 'P')
		fail("the pipe in flight is not the one the process reads");
	expectRecv(sp[1], "after", "bytes after the rights");
}

/* passsock: one end of a socketpair, with bytes queued in it, is in flight
 * in another socketpair and closed: only the queue holds it. Its other end
 * stays with the process. */
static void passsock(const char *go) {
	int x[2], c[2];
	socketpair(AF_UNIX, SOCK_STREAM, 0, x);
	socketpair(AF_UNIX, SOCK_DGRAM, 0, c);
	send(x[0], "queued in x1", 12, 0);
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {"S", 1};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &x[1], sizeof(int));
	if (sendmsg(c[0], &m, 0) != 1)
		fail("sendmsg");
	close(x[1]);
	send(x[0], " and more", 9, 0);
	waitGo(go);
	char buf[4], rb[CMSG_SPACE(sizeof(int))];
	struct iovec riov = {buf, sizeof buf};
	struct msghdr r = {.msg_iov = &riov, .msg_iovlen = 1, .msg_control = rb, .msg_controllen = sizeof rb};
	cm = CMSG_FIRSTHDR(&r);
	if (recvmsg(c[1], &r, MSG_DONTWAIT) != 1 || buf[0] != 'S' || (cm = CMSG_FIRSTHDR(&r)) == NULL || cm->cmsg_type != SCM_RIGHTS) {
		fail("the message carrying the socket");
		return;
	}
	int y;
	memcpy(&y, CMSG_DATA(cm), sizeof y);
	expectRecv(y, "queued in x1 and more", "the socket in flight");
	send(y, "back", 4, 0);
	expectRecv(x[0], "back", "its peer");
}

static void seqpacket(const char *go) {
	int sp[2];
	socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp);
	send(sp[0], "a", 1, 0);
	send(sp[0], "bb", 2, 0);
	send(sp[0], "ccc", 3, 0);
	send(sp[1], "zz", 2, 0);
	shutdown(sp[0], SHUT_WR);
	int off = 0;
	setsockopt(sp[0], SOL_SOCKET, SO_PEEK_OFF, &off, sizeof off);
	/* A filter on the receiving end that keeps 2 bytes of each record,
	 * attached after the records were queued. */
	struct sock_filter keep2[] = {BPF_STMT(BPF_RET | BPF_K, 2)};
	struct sock_fprog prog = {1, keep2};
	if (setsockopt(sp[1], SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) < 0)
		fail("SO_ATTACH_FILTER");
	waitGo(go);
	expectRecv(sp[1], "a", "record 1");
	expectRecv(sp[1], "bb", "record 2");
	expectRecv(sp[1], "ccc", "record 3");
	char b[4];
	if (recv(sp[1], b, sizeof b, MSG_DONTWAIT) != 0)
		fail("end of records after the peer shut down its writes");
	expectRecv(sp[0], "zz", "other way");
	if (send(sp[0], "x", 1, MSG_NOSIGNAL) != -1 || errno != EPIPE)
		fail("the shut-down half sends again");
	if (send(sp[1], "y", 1, 0) != 1)
		fail("the open half cannot send");
	/* The filter is attached again (after the queue was refilled: "ccc"
	 * came back whole). */
	struct sock_filter got[4];
	socklen_t gl = 4;
	if (getsockopt(sp[1], SOL_SOCKET, SO_GET_FILTER, got, &gl) < 0 || gl != 1 || got[0].code != (BPF_RET | BPF_K) || got[0].k != 2)
		fail("SO_GET_FILTER after restart: %d instructions", (int)gl);
	int v = -1;
	socklen_t l = sizeof v;
	getsockopt(sp[0], SOL_SOCKET, SO_PEEK_OFF, &v, &l);
	if (v != 0)
		fail("SO_PEEK_OFF %d, want 0", v);
}

static void names(const char *go) {
	char abs[64];
	snprintf(abs, sizeof abs, "lazarus-abs-%d", getpid());
	int l = bound(SOCK_STREAM, abs, 1);
	listen(l, 1);
	int g = bound(SOCK_DGRAM, "gone.sock", 0);
	unlink("gone.sock");
	int peer = bound(SOCK_DGRAM, "peer.sock", 0);
	connectTo(g, "peer.sock", 0);
	send(g, "from gone", 9, 0);
	waitGo(go);
	expectName(l, 0, abs, 1, "abstract listener");
	expectName(g, 0, "gone.sock", 0, "unlinked socket");
	struct stat st;
	if (stat("gone.sock", &st) == 0)
		fail("the unlinked name is back in the file system");
	char buf[32];
	struct sockaddr_un f, w;
	socklen_t fl = sizeof f, wl = addr(&w, "gone.sock", 0);
	ssize_t n = recvfrom(peer, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr *)&f, &fl);
	if (n != 9 || fl != wl || memcmp(&f, &w, fl) != 0)
		fail("datagram from the unlinked socket: %zd bytes", n);
	int c = socket(AF_UNIX, SOCK_STREAM, 0);
	connectTo(c, abs, 1);
	int a = accept(l, NULL, NULL);
	send(c, "k", 1, 0);
	expectRecv(a, "k", "connection to the abstract name");
}

/* forced: FD 3 is a unix socket whose peer is the test, FD 4 a pty slave
 * whose master the test holds, FD 5 a TCP socket connected to the test, FD 6
 * the write end of a pipe the test reads, FD 7 a FIFO the test holds open
 * too. All are in an epoll set with an eventfd, and FD 3 is in flight in a
 * socketpair of the process. */
static void forced(const char *go) {
	int ep = epoll_create1(0);
	int ev = eventfd(1, 0);
	for (int fd = 3; fd <= 7; fd++) {
		struct epoll_event e = {.events = fd == 6 ? EPOLLOUT : EPOLLIN, .data.u32 = fd};
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e) < 0)
			fail("epoll_ctl %d", fd);
	}
	struct epoll_event e = {.events = EPOLLIN, .data.u32 = 99};
	epoll_ctl(ep, EPOLL_CTL_ADD, ev, &e);
	int sp[2];
	socketpair(AF_UNIX, SOCK_DGRAM, 0, sp);
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {"F", 1};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	int three = 3;
	memcpy(CMSG_DATA(c), &three, sizeof three);
	sendmsg(sp[0], &m, 0);
	waitGo(go);
	for (int fd = 3; fd <= 7; fd++)
		if (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
			fail("fd %d is open after a forced restart", fd);
	struct epoll_event got[8];
	int n = epoll_wait(ep, got, 8, 0);
	if (n != 1 || got[0].data.u32 != 99)
		fail("epoll_wait: %d events, first %d, want the eventfd's alone", n, n > 0 ? (int)got[0].data.u32 : -1);
	char buf[4], rb[CMSG_SPACE(sizeof(int))];
	struct iovec riov = {buf, sizeof buf};
	struct msghdr r = {.msg_iov = &riov, .msg_iovlen = 1, .msg_control = rb, .msg_controllen = sizeof rb};
	if (recvmsg(sp[1], &r, MSG_DONTWAIT) != 1 || buf[0] != 'F')
		fail("the message that carried the socket to the outside");
	else if (r.msg_controllen != 0)
		fail("the socket to the outside is still in flight");
}

static void expectRead(int fd, const char *want, const char *what) {
	char buf[64];
	ssize_t n = read(fd, buf, sizeof buf);
	if (n != (ssize_t)strlen(want) || memcmp(buf, want, n) != 0)
		fail("%s: read %zd bytes %.*s, want %s", what, n, n > 0 ? (int)n : 0, buf, want);
}

/* fifos: f1 with both ends and bytes in transit (its reader blocking), f2
 * opened for reading only, f4 for writing only with bytes in it, f3 open
 * for reading and writing with bytes in it and unlinked. */
static void fifos(const char *go) {
	mkfifo("f1", 0640);
	mkfifo("f2", 0600);
	mkfifo("f3", 0600);
	mkfifo("f4", 0600);
	int r1 = open("f1", O_RDONLY | O_NONBLOCK), w1 = open("f1", O_WRONLY);
	fcntl(r1, F_SETFL, 0);
	write(w1, "in transit", 10);
	int r2 = open("f2", O_RDONLY | O_NONBLOCK);
	int tmp = open("f4", O_RDONLY | O_NONBLOCK), w4 = open("f4", O_WRONLY);
	write(w4, "writer only", 11);
	close(tmp);
	int rw3 = open("f3", O_RDWR);
	write(rw3, "unlinked data", 13);
	unlink("f3");
	if (r1 < 0 || w1 < 0 || r2 < 0 || w4 < 0 || rw3 < 0)
		fail("fifo set up");
	waitGo(go);
	if (fcntl(r1, F_GETFL) & O_NONBLOCK)
		fail("f1's reader became non-blocking");
	expectRead(r1, "in transit", "f1");
	write(w1, "more", 4);
	expectRead(r1, "more", "f1 after restart");
	expectRead(r2, "", "f2 (no writer: end of file)");
	int r4 = open("f4", O_RDONLY | O_NONBLOCK);
	expectRead(r4, "writer only", "f4");
	struct stat st;
	if (stat("f3", &st) == 0)
		fail("unlinked fifo f3 is back");
	expectRead(rw3, "unlinked data", "f3");
	write(rw3, "x", 1);
	expectRead(rw3, "x", "f3 after restart");
}

/* tree: a parent with a listener and a child (which inherited it too)
 * connected to it, bytes queued both ways, and a datagram pair shared by
 * both. */
static void tree(const char *go) {
	int l = bound(SOCK_STREAM, "srv.sock", 0);
	listen(l, 4);
	int dp[2];
	socketpair(AF_UNIX, SOCK_DGRAM, 0, dp);
	pid_t child = fork();
	if (child == 0) {
		int c = socket(AF_UNIX, SOCK_STREAM, 0);
		connectTo(c, "srv.sock", 0);
		send(c, "from child", 10, 0);
		send(dp[0], "dgram from child", 16, 0);
		waitGo(go);
		expectRecv(c, "from parent", "child");
		expectName(c, 1, "srv.sock", 0, "child's peer");
		exit(failed);
	}
	int a = accept(l, NULL, NULL);
	send(a, "from parent", 11, 0);
	char b[32];
	/* wait for the child's datagram, then leave one of ours queued */
	recv(dp[1], b, sizeof b, 0);
	send(dp[1], "dgram from parent", 17, 0);
	waitGo(go);
	expectRecv(a, "from child", "parent");
	expectRecv(dp[0], "dgram from parent", "shared datagram pair");
	int st;
	if (waitpid(child, &st, 0) != child || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail("child failed: status %#x", st);
}

int main(int argc, char **argv) {
	if (argc != 4)
		return 2;
	out = fopen(argv[2], "w");
	if (!out)
		return 2;
	if (!strcmp(argv[1], "dgram"))
		dgram(argv[3]);
	else if (!strcmp(argv[1], "listen"))
		listening(argv[3]);
	else if (!strcmp(argv[1], "rights"))
		rights(argv[3]);
	else if (!strcmp(argv[1], "passsock"))
		passsock(argv[3]);
	else if (!strcmp(argv[1], "seqpacket"))
		seqpacket(argv[3]);
	else if (!strcmp(argv[1], "names"))
		names(argv[3]);
	else if (!strcmp(argv[1], "forced"))
		forced(argv[3]);
	else if (!strcmp(argv[1], "tree"))
		tree(argv[3]);
	else if (!strcmp(argv[1], "fifos"))
		fifos(argv[3]);
	else if (!strcmp(argv[1], "outside")) /* FD 3: a socket to the test */
		waitGo(argv[3]);
	else
		return 2;
	if (!failed)
		fprintf(out, "ok\n");
	fclose(out);
	return failed;
}
