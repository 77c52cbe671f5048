/* An io_uring instance whose rings stay mapped after its descriptor is
 * closed: refused at checkpoint. */
#include "kobj.h"
#include <linux/io_uring.h>
#include <sys/mman.h>
#include <sys/syscall.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	struct io_uring_params p = {0};
	int fd = syscall(SYS_io_uring_setup, 8, &p);
	if (fd < 0) DIE("io_uring_setup: %s", strerror(errno));
	void *sq = mmap(NULL, p.sq_off.array + p.sq_entries * 4, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQ_RING);
	if (sq == MAP_FAILED) DIE("mmap: %s", strerror(errno));
	int keep = argc > 2;
	if (!keep) close(fd);
	kobj_wait();
	unsigned *head = (unsigned *)((char *)sq + p.sq_off.head);
	CHECK(*head == 0, "sq head %u", *head);
	return kobj_done();
}
