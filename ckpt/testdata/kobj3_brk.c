/* kobj3_brk: the program break after sbrk up and part way down stays where
 * it was, with its bytes, and grows again from there. */
#include "kobj.h"

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	/* malloc's arena is made first (fopen), so that kobj_wait's stdio
	 * moves no break */
	read_file("/proc/self/stat");
	char *start = sbrk(0);
	char *p = sbrk(300000);
	if (p == (void *)-1) DIE("sbrk");
	memset(p, 0x5a, 300000);
	sbrk(-100000);
	char *end = sbrk(0);
	kobj_wait();
	CHECK(sbrk(0) == end, "break %p, want %p", sbrk(0), end);
	int bad = 0;
	for (long i = 0; i < 200000; i++) if (p[i] != 0x5a) { bad = 1; break; }
	CHECK(!bad, "content under the break");
	char *q = sbrk(8192);
	CHECK(q == end, "grew at %p, want %p", q, end);
	if (q == end) { q[8191] = 1; CHECK(q[8191] == 1, "new break memory"); }
	CHECK(start <= p, "start");
	return kobj_done();
}
