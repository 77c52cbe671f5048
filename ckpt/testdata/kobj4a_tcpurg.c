/* kobj4a_tcpurg: a loopback TCP connection holding "abc", an urgent byte
 * '!' (MSG_OOB) and "def", none read. Repair mode restores the bytes of a
 * queue but not its urgent pointer: refused; left running, SIOCATMARK,
 * the urgent byte (recv MSG_OOB) and the bytes about it are as they were
 * (the checkpoint's peek took nothing). */
#include "kobj.h"
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int l = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (bind(l, (void *)&a, sizeof a) || listen(l, 4)) DIE("listen: %s", strerror(errno));
	socklen_t al = sizeof a;
	getsockname(l, (void *)&a, &al);
	int c = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(c, (void *)&a, sizeof a)) DIE("connect: %s", strerror(errno));
	int s = accept(l, NULL, NULL);
	send(c, "abc", 3, 0);
	send(c, "!", 1, MSG_OOB);
	send(c, "def", 3, 0);
	usleep(100000);
	kobj_wait();
	char b[16] = {0};
	ssize_t n = recv(s, b, sizeof b, MSG_DONTWAIT);
	CHECK(n == 3 && memcmp(b, "abc", 3) == 0, "before the mark: %zd '%s'", n, b);
	int mark = -1;
	ioctl(s, SIOCATMARK, &mark);
	CHECK(mark == 1, "SIOCATMARK %d", mark);
	char o = 0;
	n = recv(s, &o, 1, MSG_OOB | MSG_DONTWAIT);
	CHECK(n == 1 && o == '!', "urgent byte: %zd '%c'", n, o);
	memset(b, 0, sizeof b);
	n = recv(s, b, sizeof b, MSG_DONTWAIT);
	CHECK(n == 3 && memcmp(b, "def", 3) == 0, "after the mark: %zd '%s'", n, b);
	return kobj_done();
}
