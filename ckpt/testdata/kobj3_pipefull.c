/* kobj3_pipefull: a 16 kB pipe (F_SETPIPE_SZ) filled to the brim with a
 * non-blocking write end keeps its size, its bytes and its fullness. */
#include "kobj.h"

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int p[2];
	if (pipe2(p, O_NONBLOCK)) DIE("pipe");
	if (fcntl(p[1], F_SETPIPE_SZ, 16384) != 16384) DIE("F_SETPIPE_SZ");
	static char buf[16384];
	for (int i = 0; i < 16384; i++) buf[i] = (char)(i * 7);
	if (write(p[1], buf, 16384) != 16384) DIE("fill");
	if (write(p[1], "x", 1) >= 0) DIE("set-up: not full");
	kobj_wait();
	CHECK(fcntl(p[0], F_GETPIPE_SZ) == 16384, "size %d", fcntl(p[0], F_GETPIPE_SZ));
	ssize_t w = write(p[1], "x", 1);
	CHECK(w < 0 && errno == EAGAIN, "write to the full pipe: %zd", w);
	static char got[20000];
	ssize_t n = read(p[0], got, sizeof got);
	CHECK(n == 16384 && memcmp(got, buf, 16384) == 0, "read %zd bytes", n);
	return kobj_done();
}
