/* A pipe with 100000 bytes in flight and F_SETPIPE_SZ 1 MiB, O_NONBLOCK
 * on its write end; an empty pipe of 4 KiB (F_SETPIPE_SZ down). */
#include "kobj.h"
#include <sys/ioctl.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int p[2], q[2];
	if (pipe2(p, O_NONBLOCK) || pipe(q)) DIE("pipe: %s", strerror(errno));
	if (fcntl(p[1], F_SETPIPE_SZ, 1 << 20) < 0) DIE("F_SETPIPE_SZ: %s", strerror(errno));
	fcntl(q[0], F_SETPIPE_SZ, 4096);
	static unsigned char data[100000];
	for (int i = 0; i < (int)sizeof data; i++) data[i] = i * 7 + i / 251;
	if (write(p[1], data, sizeof data) != sizeof data) DIE("write: %s", strerror(errno));
	fcntl(p[0], F_SETFL, 0);
	kobj_wait();
	CHECK(fcntl(p[0], F_GETPIPE_SZ) == 1 << 20, "size %d", fcntl(p[0], F_GETPIPE_SZ));
	CHECK(fcntl(q[1], F_GETPIPE_SZ) == 4096, "small size %d", fcntl(q[1], F_GETPIPE_SZ));
	CHECK(!(fcntl(p[0], F_GETFL) & O_NONBLOCK) && (fcntl(p[1], F_GETFL) & O_NONBLOCK), "flags %#o %#o", fcntl(p[0], F_GETFL), fcntl(p[1], F_GETFL));
	int n = 0;
	ioctl(p[0], FIONREAD, &n);
	CHECK(n == sizeof data, "FIONREAD %d", n);
	static unsigned char got[100000];
	size_t k = 0;
	while (k < sizeof got) {
		ssize_t r = read(p[0], got + k, sizeof got - k);
		if (r <= 0) break;
		k += r;
	}
	CHECK(k == sizeof data && memcmp(got, data, k) == 0, "bytes in flight: %zu, equal %d", k, memcmp(got, data, k) == 0);
	/* The pipe can hold 1 MiB again. */
	static char big[1 << 20];
	CHECK(write(p[1], big, sizeof big) == sizeof big, "write of 1 MiB into the pipe: %s", strerror(errno));
	return kobj_done();
}
