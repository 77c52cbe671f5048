/* An AIO context (io_setup) with a completed request not yet reaped and
 * a second context: after the restart the contexts have the same ids, the
 * completion is there to reap, and new requests work.
 * With "inflight": 900 poll requests on timerfds that expire one every
 * 10 ms are in flight: completions arrive while the process is frozen. */
#include <poll.h>
#include <sys/resource.h>
#include <sys/timerfd.h>
#include "kobj.h"
#include <linux/aio_abi.h>
#include <sys/syscall.h>

struct ring { unsigned id, nr, head, tail, magic, compat, incompat, header; };

static long io_setup(unsigned n, aio_context_t *c) { return syscall(SYS_io_setup, n, c); }
static long io_submit(aio_context_t c, long n, struct iocb **b) { return syscall(SYS_io_submit, c, n, b); }
static long io_getevents(aio_context_t c, long mn, long n, struct io_event *e, struct timespec *t) { return syscall(SYS_io_getevents, c, mn, n, e, t); }

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	aio_context_t a = 0, b = 0;
	if (argc > 2) {
		if (io_setup(1024, &a)) DIE("io_setup: %s", strerror(errno));
		static struct iocb cbs[900];
		for (int i = 0; i < 900; i++) {
			int t = timerfd_create(CLOCK_MONOTONIC, 0);
			struct itimerspec in = {.it_value = {(i + 1) / 100, ((i + 1) % 100) * 10000000L}};
			if (t < 0 || timerfd_settime(t, 0, &in, NULL)) DIE("timerfd %d: %s", i, strerror(errno));
			cbs[i] = (struct iocb){.aio_lio_opcode = IOCB_CMD_POLL, .aio_fildes = t, .aio_buf = POLLIN, .aio_data = i};
			struct iocb *l[] = {&cbs[i]};
			if (io_submit(a, 1, l) != 1) DIE("poll request %d: %s", i, strerror(errno));
		}
		kobj_wait();
		return kobj_done();
	}
	if (io_setup(128, &a) || io_setup(16, &b)) DIE("io_setup: %s", strerror(errno));
	int fd = open("aiofile", O_RDWR | O_CREAT | O_TRUNC, 0644);
	write(fd, "hello, asynchronous world", 25);
	static char buf[64], buf2[64];
	/* Ten requests completed and reaped (the ring moved on), one left. */
	for (int i = 0; i < 10; i++) {
		struct iocb cb = {.aio_lio_opcode = IOCB_CMD_PREAD, .aio_fildes = fd, .aio_buf = (unsigned long)buf, .aio_nbytes = 5, .aio_data = i};
		struct iocb *l[] = {&cb};
		struct io_event ev;
		if (io_submit(a, 1, l) != 1 || io_getevents(a, 1, 1, &ev, NULL) != 1) DIE("request %d: %s", i, strerror(errno));
	}
	struct iocb cb = {.aio_lio_opcode = IOCB_CMD_PREAD, .aio_fildes = fd, .aio_buf = (unsigned long)buf2, .aio_nbytes = 25, .aio_offset = 0, .aio_data = 0xabcdef};
	struct iocb *l[] = {&cb};
	if (io_submit(a, 1, l) != 1) DIE("io_submit: %s", strerror(errno));
	struct ring *ra = (struct ring *)a, *rb = (struct ring *)b;
	for (int i = 0; i < 1000 && ra->tail == ra->head; i++) usleep(1000);
	struct ring sa = *ra, sb = *rb;
	kobj_wait();
	CHECK(memcmp(ra, &sa, sizeof sa) == 0, "ring a: id %u nr %u head %u tail %u, was %u %u %u %u", ra->id, ra->nr, ra->head, ra->tail, sa.id, sa.nr, sa.head, sa.tail);
	CHECK(memcmp(rb, &sb, sizeof sb) == 0, "ring b: id %u nr %u head %u tail %u, was %u %u %u %u", rb->id, rb->nr, rb->head, rb->tail, sb.id, sb.nr, sb.head, sb.tail);
	struct io_event ev;
	struct timespec z = {0, 0};
	long n = io_getevents(a, 1, 1, &ev, &z);
	CHECK(n == 1 && ev.data == 0xabcdef && ev.res == 25 && ev.obj == (unsigned long)&cb, "the completed request: %ld, data %#llx res %lld", n, (unsigned long long)ev.data, (long long)ev.res);
	CHECK(memcmp(buf2, "hello, asynchronous world", 25) == 0, "buffer %s", buf2);
	CHECK(io_getevents(a, 0, 1, &ev, &z) == 0, "a second completion");
	/* Both contexts take new requests. */
	aio_context_t ctx[] = {a, b};
	for (int k = 0; k < 2; k++) {
		for (int i = 0; i < 40; i++) {
			struct iocb c2 = {.aio_lio_opcode = IOCB_CMD_PREAD, .aio_fildes = fd, .aio_buf = (unsigned long)buf, .aio_nbytes = 5, .aio_offset = 7, .aio_data = 1000 + i};
			struct iocb *l2[] = {&c2};
			memset(buf, 0, sizeof buf);
			long s = io_submit(ctx[k], 1, l2);
			long g = io_getevents(ctx[k], 1, 1, &ev, NULL);
			if (s != 1 || g != 1 || ev.data != (unsigned long long)(1000 + i) || ev.res != 5 || memcmp(buf, "async", 5)) {
				kobj_fail("context %d request %d: submit %ld getevents %ld data %llu res %lld: %s", k, i, s, g, (unsigned long long)ev.data, (long long)ev.res, strerror(errno));
				break;
			}
		}
	}
	CHECK(syscall(SYS_io_destroy, b) == 0, "io_destroy: %s", strerror(errno));
	return kobj_done();
}
