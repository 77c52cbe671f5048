/* kobj5a_abstract: abstract unix names: an autobound datagram socket
 * (bind with the family only: the kernel picks "\0" and 5 hex digits), a
 * stream listener whose name holds NUL and 0xff bytes, a datagram socket
 * autobound by sending with SO_PASSCRED. After the restart getsockname
 * gives the same names and each is reachable by its name. */
#include "kobj.h"
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int a = socket(AF_UNIX, SOCK_DGRAM, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (bind(a, (void *)&sa, sizeof(sa_family_t))) DIE("autobind: %s", strerror(errno));
	int l = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un ln = {.sun_family = AF_UNIX};
	char name[] = "\0kobj5a\0odd\xff";
	memcpy(ln.sun_path, name, sizeof name - 1);
	memcpy(ln.sun_path + sizeof name - 1, &(int){getpid()}, 4);
	socklen_t lnlen = offsetof(struct sockaddr_un, sun_path) + sizeof name - 1 + 4;
	if (bind(l, (void *)&ln, lnlen) || listen(l, 3)) DIE("bind odd: %s", strerror(errno));
	int p = socket(AF_UNIX, SOCK_DGRAM, 0);
	int one = 1;
	setsockopt(p, SOL_SOCKET, SO_PASSCRED, &one, sizeof one);
	struct sockaddr_un an;
	socklen_t anl = sizeof an;
	getsockname(a, (void *)&an, &anl);
	sendto(p, "q", 1, 0, (void *)&an, anl);
	char b[8];
	recv(a, b, sizeof b, 0);
	struct sockaddr_un pn;
	socklen_t pnl = sizeof pn;
	getsockname(p, (void *)&pn, &pnl);
	if (pnl != offsetof(struct sockaddr_un, sun_path) + 6 || anl != offsetof(struct sockaddr_un, sun_path) + 6) DIE("autobind lengths %u %u", pnl, anl);
	kobj_wait();
	struct sockaddr_un g;
	socklen_t gl = sizeof g;
	getsockname(a, (void *)&g, &gl);
	CHECK(gl == anl && memcmp(&g, &an, gl) == 0, "autobound name: len %u '%.5s'", gl, g.sun_path + 1);
	gl = sizeof g;
	getsockname(l, (void *)&g, &gl);
	if (gl != lnlen || memcmp(&g, &ln, gl) != 0) {
		char hex[256] = {0};
		for (unsigned i = 0; i + 2 < gl && i < 100; i++) snprintf(hex + strlen(hex), sizeof hex - strlen(hex), "%02x", (unsigned char)g.sun_path[i]);
		kobj_fail("odd name: len %u, %s", gl, hex);
	}
	gl = sizeof g;
	getsockname(p, (void *)&g, &gl);
	CHECK(gl == pnl && memcmp(&g, &pn, gl) == 0, "passcred name: len %u", gl);
	int s = socket(AF_UNIX, SOCK_DGRAM, 0);
	CHECK(sendto(s, "x", 1, 0, (void *)&an, anl) == 1 && recv(a, b, sizeof b, MSG_DONTWAIT) == 1, "autobound unreachable");
	CHECK(sendto(s, "y", 1, 0, (void *)&pn, pnl) == 1 && recv(p, b, sizeof b, MSG_DONTWAIT) == 1, "passcred unreachable");
	int c = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(connect(c, (void *)&ln, lnlen) == 0 && accept(l, NULL, NULL) >= 0, "odd name unreachable");
	return kobj_done();
}
