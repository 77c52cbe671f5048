/* A userfaultfd registered on a region: refused at checkpoint, and the
 * program goes on with it. */
#include "kobj.h"
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int u = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (u < 0) DIE("userfaultfd: %s", strerror(errno));
	struct uffdio_api api = {.api = UFFD_API};
	if (ioctl(u, UFFDIO_API, &api)) DIE("UFFDIO_API: %s", strerror(errno));
	char *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct uffdio_register r = {.range = {(unsigned long)m, 4096}, .mode = UFFDIO_REGISTER_MODE_MISSING};
	if (ioctl(u, UFFDIO_REGISTER, &r)) DIE("UFFDIO_REGISTER: %s", strerror(errno));
	kobj_wait();
	static char page[4096] = "filled by the handler";
	struct uffdio_copy c = {.dst = (unsigned long)m, .src = (unsigned long)page, .len = 4096};
	CHECK(ioctl(u, UFFDIO_COPY, &c) == 0, "UFFDIO_COPY: %s", strerror(errno));
	CHECK(strcmp(m, "filled by the handler") == 0, "content");
	return kobj_done();
}
