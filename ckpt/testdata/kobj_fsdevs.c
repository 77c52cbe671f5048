/* Character devices anyone may open: /dev/null write-only O_APPEND,
 * /dev/zero read-write, /dev/urandom, /dev/random non-blocking,
 * /dev/full; each the same device, flags and offset. */
#include "kobj.h"
#include <sys/stat.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	const char *names[] = {"/dev/null", "/dev/zero", "/dev/urandom", "/dev/random", "/dev/full"};
	int how[] = {O_WRONLY | O_APPEND, O_RDWR, O_RDONLY, O_RDONLY | O_NONBLOCK, O_WRONLY};
	int fds[5], fl[5];
	struct stat before[5];
	for (int i = 0; i < 5; i++) {
		fds[i] = open(names[i], how[i]);
		if (fds[i] < 0) DIE("open %s: %s", names[i], strerror(errno));
		fstat(fds[i], &before[i]);
		fl[i] = fcntl(fds[i], F_GETFL);
	}
	char z[100];
	read(fds[1], z, 100);
	kobj_wait();
	for (int i = 0; i < 5; i++) {
		struct stat st;
		CHECK(fstat(fds[i], &st) == 0 && st.st_rdev == before[i].st_rdev, "%s: device %lx", names[i], (long)st.st_rdev);
		CHECK(fcntl(fds[i], F_GETFL) == fl[i], "%s: flags %#o, were %#o", names[i], fcntl(fds[i], F_GETFL), fl[i]);
	}
	errno = 0;
	CHECK(write(fds[4], "x", 1) < 0 && errno == ENOSPC, "/dev/full: %s", strerror(errno));
	CHECK(write(fds[0], "x", 1) == 1 && read(fds[1], z, 10) == 10 && z[0] == 0, "null/zero");
	return kobj_done();
}
