/* kobj4a_unixseqlisten: a seqpacket listener bound to an abstract name
 * (backlog 5) with two connections waiting to be accepted; and a stream
 * listener bound to a path with none. After the restart accept gives them
 * in order, each the peer of its client, and the names are the same.
 * With "data" the first client has sent two records before its
 * connection was accepted: they cannot be read before the accept, so the
 * checkpoint refuses them, and the program left running gets them with
 * their bounds. */
#include "kobj.h"
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

static socklen_t abs_addr(struct sockaddr_un *a, const char *name) {
	memset(a, 0, sizeof *a);
	a->sun_family = AF_UNIX;
	memcpy(a->sun_path + 1, name, strlen(name));
	return offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name);
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	char name[64];
	snprintf(name, sizeof name, "kobj4a-seq-%d", getpid());
	struct sockaddr_un a;
	socklen_t al = abs_addr(&a, name);
	int l = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	if (bind(l, (void *)&a, al) || listen(l, 5)) DIE("seqpacket listen: %s", strerror(errno));
	int c1 = socket(AF_UNIX, SOCK_SEQPACKET, 0), c2 = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	if (connect(c1, (void *)&a, al) || connect(c2, (void *)&a, al)) DIE("connect: %s", strerror(errno));
	int data = argc > 2 && strcmp(argv[2], "data") == 0;
	if (data) {
		send(c1, "first", 5, 0);
		send(c1, "second record", 13, 0);
	}
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un p = {.sun_family = AF_UNIX};
	strcpy(p.sun_path, "usl.sock");
	unlink("usl.sock");
	if (bind(s, (void *)&p, sizeof p) || listen(s, 3)) DIE("stream listen: %s", strerror(errno));
	kobj_wait();
	struct sockaddr_un g;
	socklen_t gl = sizeof g;
	getsockname(l, (void *)&g, &gl);
	CHECK(gl == al && memcmp(&g, &a, al) == 0, "seqpacket name differs (len %u)", gl);
	gl = sizeof g;
	getsockname(s, (void *)&g, &gl);
	CHECK(strcmp(g.sun_path, "usl.sock") == 0, "stream name '%s'", g.sun_path);
	int v = 0;
	socklen_t vl = sizeof v;
	getsockopt(l, SOL_SOCKET, SO_ACCEPTCONN, &v, &vl);
	CHECK(v == 1, "seqpacket not listening");
	int a1 = accept(l, NULL, NULL), a2 = accept(l, NULL, NULL);
	CHECK(a1 >= 0 && a2 >= 0, "accept: %s", strerror(errno));
	char b[64];
	if (data) {
		ssize_t n = recv(a1, b, sizeof b, MSG_DONTWAIT);
		CHECK(n == 5 && memcmp(b, "first", 5) == 0, "record 1: %zd", n);
		n = recv(a1, b, sizeof b, MSG_DONTWAIT);
		CHECK(n == 13 && memcmp(b, "second record", 13) == 0, "record 2: %zd", n);
	}
	CHECK(recv(a1, b, sizeof b, MSG_DONTWAIT) < 0 && errno == EAGAIN, "a1 has more data");
	CHECK(recv(a2, b, sizeof b, MSG_DONTWAIT) < 0 && errno == EAGAIN, "a2 has data");
	send(c2, "x", 1, 0);
	CHECK(recv(a2, b, sizeof b, MSG_DONTWAIT) == 1, "a2 is not c2's peer");
	send(a1, "back", 4, 0);
	CHECK(recv(c1, b, sizeof b, MSG_DONTWAIT) == 4, "a1 is not c1's peer");
	int cs = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(connect(cs, (void *)&p, sizeof p) == 0, "connect to the stream listener: %s", strerror(errno));
	return kobj_done();
}
