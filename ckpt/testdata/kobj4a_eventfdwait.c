/* kobj4a_eventfdwait: a semaphore eventfd shared by a parent and its two
 * children, each child blocked in read (count 0); a second eventfd with
 * count 0xfffffffffffffffe (full: a write of 1 would block). After the
 * restart two writes of 1 wake exactly two readers, one each; the full
 * one refuses a non-blocking write of 1 and takes one of 0. */
#include "kobj.h"
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/wait.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int s = eventfd(0, EFD_SEMAPHORE);
	int full = eventfd(0, EFD_NONBLOCK);
	uint64_t v = 0xfffffffffffffffeull;
	if (write(full, &v, 8) != 8) DIE("write max: %s", strerror(errno));
	pid_t c[2];
	for (int i = 0; i < 2; i++) {
		c[i] = fork();
		if (c[i] == 0) {
			uint64_t got;
			while (read(s, &got, 8) < 0)
				if (errno != EINTR) _exit(3);
			_exit(got == 1 ? 0 : 4);
		}
	}
	usleep(200000);
	kobj_wait();
	int st;
	CHECK(waitpid(c[0], &st, WNOHANG) == 0 && waitpid(c[1], &st, WNOHANG) == 0, "a reader did not wait");
	uint64_t one = 1;
	CHECK(write(full, &one, 8) < 0 && errno == EAGAIN, "the full eventfd took a write of 1");
	uint64_t zero = 0;
	CHECK(write(full, &zero, 8) == 8, "the full eventfd refused a write of 0");
	uint64_t got = 0;
	CHECK(read(full, &got, 8) == 8 && got == 0xfffffffffffffffeull, "full count %#lx", (unsigned long)got);
	write(s, &one, 8);
	write(s, &one, 8);
	for (int i = 0; i < 2; i++) {
		waitpid(c[i], &st, 0);
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "reader %d: %#x", i, st);
	}
	CHECK(fcntl(s, F_GETFL) & O_RDWR, "mode");
	return kobj_done();
}
