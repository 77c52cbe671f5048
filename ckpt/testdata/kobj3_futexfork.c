/* kobj3_futexfork: a child blocked in FUTEX_WAIT (no timeout, shared) on
 * a word of MAP_SHARED|MAP_ANONYMOUS memory shared with its parent; after
 * the restart the parent's store and FUTEX_WAKE reach it: one object. */
#include "kobj.h"
#include <linux/futex.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	uint32_t *w = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (w == MAP_FAILED) DIE("mmap");
	w[0] = 0;
	w[1] = 0;
	pid_t c = fork();
	if (c == 0) {
		__atomic_store_n(&w[1], 1, __ATOMIC_SEQ_CST);
		while (__atomic_load_n(&w[0], __ATOMIC_SEQ_CST) == 0)
			syscall(SYS_futex, &w[0], FUTEX_WAIT, 0, NULL, NULL, 0);
		_exit(w[0] == 42 ? 0 : 1);
	}
	while (!__atomic_load_n(&w[1], __ATOMIC_SEQ_CST)) usleep(1000);
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/wchan", c);
	for (int i = 0; i < 5000; i++) {
		if (strstr(read_file(path), "futex")) break;
		usleep(1000);
	}
	kobj_wait();
	int ws;
	CHECK(waitpid(c, &ws, WNOHANG) == 0, "the child left its wait early");
	__atomic_store_n(&w[0], 42, __ATOMIC_SEQ_CST);
	long n = syscall(SYS_futex, &w[0], FUTEX_WAKE, 1, NULL, NULL, 0);
	waitpid(c, &ws, 0);
	CHECK(WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "child %#x (woken %ld)", ws, n);
	return kobj_done();
}
