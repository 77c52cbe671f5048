/* kobj4b_secretmem: a memfd_secret area (Linux 5.14: pages removed from
 * the kernel's direct map, which no other process, not even through
 * /proc/PID/mem, may read) mapped shared and holding bytes. Its content
 * cannot be saved: refused, and the program left running still has it. */
#include "kobj.h"
#include <sys/mman.h>
#include <sys/syscall.h>
#ifndef SYS_memfd_secret
#define SYS_memfd_secret 447
#endif

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int fd = syscall(SYS_memfd_secret, 0);
	if (fd < 0) DIE("memfd_secret: %s", strerror(errno));
	if (ftruncate(fd, 8192)) DIE("ftruncate: %s", strerror(errno));
	char *m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED) DIE("mmap: %s", strerror(errno));
	strcpy(m, "secret bytes");
	strcpy(m + 4096, "second page");
	if (argc > 2) close(fd); /* "mapped": only the mapping holds it */
	kobj_wait();
	CHECK(strcmp(m, "secret bytes") == 0 && strcmp(m + 4096, "second page") == 0, "secret bytes lost");
	return kobj_done();
}
