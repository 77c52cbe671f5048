/* A unix stream socketpair with an out-of-band byte pending among its
 * data (MSG_OOB, Linux 5.15): the mark, the byte, the data about it. */
#include "kobj.h"
#include <sys/ioctl.h>
#include <sys/socket.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) DIE("socketpair: %s", strerror(errno));
	send(sv[0], "abc", 3, 0);
	if (send(sv[0], "X", 1, MSG_OOB) != 1) DIE("send MSG_OOB: %s", strerror(errno));
	send(sv[0], "def", 3, 0);
	kobj_wait();
	char b[16] = {0};
	ssize_t n = recv(sv[1], b, 1, MSG_OOB | MSG_DONTWAIT);
	CHECK(n == 1 && b[0] == 'X', "OOB byte: %zd %c (%s)", n, b[0], n < 0 ? strerror(errno) : "");
	int mark = -1;
	ioctl(sv[1], SIOCATMARK, &mark);
	CHECK(mark == 0, "at mark %d before the data", mark);
	memset(b, 0, sizeof b);
	n = recv(sv[1], b, sizeof b, MSG_DONTWAIT);
	CHECK(n == 3 && memcmp(b, "abc", 3) == 0, "data before the mark: %zd %.*s", n, (int)(n > 0 ? n : 0), b);
	n = recv(sv[1], b, sizeof b, MSG_DONTWAIT);
	CHECK(n == 3 && memcmp(b, "def", 3) == 0, "data after the mark: %zd %.*s", n, (int)(n > 0 ? n : 0), b);
	return kobj_done();
}
