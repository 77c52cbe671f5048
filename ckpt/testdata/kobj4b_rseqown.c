/* kobj4b_rseqown: the main thread's rseq area is the program's own, not
 * glibc's: glibc's registration is ended and a struct rseq of the
 * program's registered with another signature (0x0badc0de). After the
 * restart the kernel still updates that area (cpu_id), and asking to
 * register it again says EBUSY (the same area, length and signature are
 * registered), with another signature EPERM. */
#include "kobj.h"
#include <linux/rseq.h>
#include <stdint.h>
#include <sched.h>
#include <sys/rseq.h>
#include <sys/syscall.h>

#define SIG 0x0badc0de
static struct rseq own __attribute__((aligned(32)));

static long rs(void *a, unsigned len, int flags, unsigned sig) { return syscall(SYS_rseq, a, len, flags, sig); }

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	if (__rseq_size > 0) {
		void *g = (char *)__builtin_thread_pointer() + __rseq_offset;
		if (rs(g, __rseq_size < 32 ? 32 : __rseq_size, RSEQ_FLAG_UNREGISTER, RSEQ_SIG)) DIE("unregister glibc's rseq: %s", strerror(errno));
	}
	own.cpu_id = (uint32_t)-1;
	if (rs(&own, sizeof own, 0, SIG)) DIE("rseq register: %s", strerror(errno));
	if ((int32_t)own.cpu_id < 0) DIE("cpu_id not updated");
	kobj_wait();
	own.cpu_id = (uint32_t)-7;
	own.cpu_id_start = (uint32_t)-7;
	sched_yield();
	usleep(1000);
	CHECK((int32_t)own.cpu_id >= 0 && (int32_t)own.cpu_id < 4096, "the kernel no longer updates the area: cpu_id %d", (int32_t)own.cpu_id);
	errno = 0;
	CHECK(rs(&own, sizeof own, 0, SIG) == -1 && errno == EBUSY, "register again: %s, want EBUSY", strerror(errno));
	errno = 0;
	CHECK(rs(&own, sizeof own, 0, SIG + 1) == -1 && errno == EPERM, "another signature: %s, want EPERM", strerror(errno));
	return kobj_done();
}
