/* membarrier registrations: global expedited and private expedited;
 * MEMBARRIER_CMD_GET_REGISTRATIONS (Linux 6.3) shows them. */
#include "kobj.h"
#include <linux/membarrier.h>
#include <sys/syscall.h>

static long mb(int cmd) { return syscall(SYS_membarrier, cmd, 0, 0); }

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	if (mb(MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED)) DIE("register global: %s", strerror(errno));
	if (mb(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED)) DIE("register private: %s", strerror(errno));
	long regs = mb(1 << 9);
	if (regs < 0) DIE("GET_REGISTRATIONS: %s", strerror(errno));
	kobj_wait();
	long now = mb(1 << 9);
	CHECK(now == regs, "registrations %#lx, were %#lx", now, regs);
	CHECK(mb(MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0, "private expedited: %s", strerror(errno));
	CHECK(mb(MEMBARRIER_CMD_GLOBAL_EXPEDITED) == 0, "global expedited: %s", strerror(errno));
	return kobj_done();
}
