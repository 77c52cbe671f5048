/* The program break after sbrk growth and shrink; its data, and it grows on. */
#include "kobj.h"
#include <stdint.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	/* stdio's buffers come from malloc, from the break: take them first. */
	fclose(fopen("/dev/null", "r"));
	free(malloc(1 << 16));
	char *b0 = sbrk(0);
	char *p = sbrk(3 << 20);
	if (p == (void *)-1) DIE("sbrk: %s", strerror(errno));
	for (size_t i = 0; i < (3 << 20); i += 512) p[i] = (char)(i >> 9);
	sbrk(-(1 << 20));
	char *b1 = sbrk(0);
	kobj_wait();
	CHECK(sbrk(0) == b1, "break %p, want %p (start %p)", sbrk(0), (void *)b1, (void *)b0);
	for (size_t i = 0; i < (2 << 20); i += 512)
		if (p[i] != (char)(i >> 9)) {
			CHECK(0, "heap byte %zu is %d", i, p[i]);
			break;
		}
	char *q = sbrk(1 << 20);
	CHECK(q == b1, "sbrk grows from %p, want %p", (void *)q, (void *)b1);
	if (q != (void *)-1) {
		CHECK(q[4096] == 0, "new heap not zero: %d", q[4096]);
		q[4096] = 5;
	}
	return kobj_done();
}
