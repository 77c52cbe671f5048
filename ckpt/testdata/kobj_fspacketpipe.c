/* A packet-mode pipe (pipe2 O_DIRECT) holding three writes of 5, 1 and
 * 9 bytes: each read returns one packet, after the restart too. */
#include "kobj.h"

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int p[2];
	if (pipe2(p, O_DIRECT)) DIE("pipe2: %s", strerror(errno));
	write(p[1], "first", 5);
	write(p[1], "2", 1);
	write(p[1], "the third", 9);
	kobj_wait();
	CHECK(fcntl(p[1], F_GETFL) & O_DIRECT, "write end lost O_DIRECT: %#o", fcntl(p[1], F_GETFL));
	char b[64];
	int n1 = read(p[0], b, sizeof b), n2 = read(p[0], b, sizeof b), n3 = read(p[0], b, sizeof b);
	CHECK(n1 == 5 && n2 == 1 && n3 == 9, "packets of %d, %d, %d bytes", n1, n2, n3);
	return kobj_done();
}
