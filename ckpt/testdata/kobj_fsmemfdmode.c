/* memfds with a mode and owner of their own (fchmod 0640, fchown), one
 * made MFD_NOEXEC_SEAL (mode 0666, F_SEAL_EXEC), one write-sealed and
 * mapped read-only shared (the seal needs that no mapping may write). */
#include "kobj.h"
#include <sys/mman.h>
#include <sys/stat.h>
#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 0x0008U
#endif

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int a = memfd_create("kobj-mode", 0);
	int n = memfd_create("kobj-noexec", MFD_NOEXEC_SEAL);
	int w = memfd_create("kobj-sealed-map", MFD_ALLOW_SEALING);
	if (a < 0 || w < 0) DIE("memfd_create: %s", strerror(errno));
	fchmod(a, 0640);
	fchown(a, 321, 654);
	write(w, "sealed", 6);
	char *m = mmap(NULL, 4096, PROT_READ, MAP_SHARED, w, 0);
	/* Only a read-only descriptor's mapping lets F_SEAL_WRITE be added. */
	char p[64];
	snprintf(p, sizeof p, "/proc/self/fd/%d", w);
	int ro = open(p, O_RDONLY);
	munmap(m, 4096);
	m = mmap(NULL, 4096, PROT_READ, MAP_SHARED, ro, 0);
	close(ro);
	if (fcntl(w, F_ADD_SEALS, F_SEAL_WRITE)) DIE("F_SEAL_WRITE: %s", strerror(errno));
	struct stat sa, sn;
	fstat(a, &sa);
	int seals_n = n >= 0 ? fcntl(n, F_GET_SEALS) : 0;
	if (n >= 0) fstat(n, &sn);
	kobj_wait();
	struct stat st;
	fstat(a, &st);
	CHECK(st.st_mode == sa.st_mode && st.st_uid == 321 && st.st_gid == 654, "memfd mode %o owner %d:%d, was %o", st.st_mode, st.st_uid, st.st_gid, sa.st_mode);
	if (n >= 0) {
		fstat(n, &st);
		CHECK(st.st_mode == sn.st_mode && fcntl(n, F_GET_SEALS) == seals_n, "noexec memfd mode %o seals %#x, was %o %#x", st.st_mode, fcntl(n, F_GET_SEALS), sn.st_mode, seals_n);
	}
	CHECK(fcntl(w, F_GET_SEALS) == F_SEAL_WRITE, "seals %#x", fcntl(w, F_GET_SEALS));
	CHECK(memcmp(m, "sealed", 6) == 0, "mapping of the sealed memfd");
	errno = 0;
	CHECK(mprotect(m, 4096, PROT_READ | PROT_WRITE) < 0, "the mapping of a write-sealed memfd was made writable");
	return kobj_done();
}
