/* A memfd with F_SEAL_SHRINK|F_SEAL_GROW|F_SEAL_SEAL and content,
 * mapped shared; a second with F_SEAL_WRITE, MFD_NOEXEC_SEAL absent. */
#include "kobj.h"
#include <sys/mman.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int a = memfd_create("kobj-sealed", MFD_ALLOW_SEALING);
	int b = memfd_create("kobj-ro", MFD_ALLOW_SEALING | MFD_CLOEXEC);
	int c = memfd_create("kobj-plain", 0);
	if (a < 0 || b < 0) DIE("memfd_create: %s", strerror(errno));
	ftruncate(a, 8192);
	char *m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, a, 0);
	strcpy(m, "sealed content");
	strcpy(m + 4096, "second page");
	fcntl(a, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
	write(b, "read only", 9);
	fcntl(b, F_ADD_SEALS, F_SEAL_WRITE);
	write(c, "plain", 5);
	int sa = fcntl(a, F_GET_SEALS), sb = fcntl(b, F_GET_SEALS), sc = fcntl(c, F_GET_SEALS);
	kobj_wait();
	CHECK(fcntl(a, F_GET_SEALS) == sa, "seals of a %#x, were %#x", fcntl(a, F_GET_SEALS), sa);
	CHECK(fcntl(b, F_GET_SEALS) == sb, "seals of b %#x, were %#x", fcntl(b, F_GET_SEALS), sb);
	CHECK(fcntl(c, F_GET_SEALS) == sc, "seals of c %#x, were %#x", fcntl(c, F_GET_SEALS), sc);
	CHECK(strcmp(m, "sealed content") == 0 && strcmp(m + 4096, "second page") == 0, "mapped content");
	char buf[32] = {0};
	pread(a, buf, 14, 0);
	CHECK(strcmp(buf, "sealed content") == 0, "content through the descriptor %s", buf);
	strcpy(m, "changed");
	pread(a, buf, 8, 0);
	CHECK(strcmp(buf, "changed") == 0, "mapping and descriptor are not one file");
	CHECK(ftruncate(a, 100) < 0 && errno == EPERM, "shrink allowed");
	CHECK(write(b, "x", 1) < 0 && errno == EPERM, "write to F_SEAL_WRITE allowed");
	CHECK(fcntl(b, F_GETFD) == FD_CLOEXEC, "b close-on-exec");
	char l[256];
	snprintf(l, sizeof l, "/proc/self/fd/%d", a);
	char t[256] = {0};
	readlink(l, t, sizeof t - 1);
	CHECK(strcmp(t, "/memfd:kobj-sealed (deleted)") == 0, "name %s", t);
	return kobj_done();
}
