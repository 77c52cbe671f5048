/* kobj5b_brkdown: the brk moved up by 64 KiB, written, then moved down
 * by 48 KiB. After the restart sbrk(0) is where it was, the 16 KiB kept
 * have their content, and moving it up again gives zeroed pages (the
 * ones given back are gone, not restored). */
#include "kobj.h"
#include <sys/syscall.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	/* malloc's arena first (kobj_wait's fopen needs it): it stays below
	 * the program's own brk moves, and malloc leaves a brk it did not
	 * set alone. */
	read_file("/proc/self/stat");
	free(malloc(100));
	char *b0 = sbrk(0);
	/* Page-aligned start, so the pages given back are whole. */
	sbrk((4096 - ((unsigned long)b0 & 4095)) & 4095);
	char *s = sbrk(0);
	if (sbrk(65536) == (void *)-1) DIE("sbrk: %s", strerror(errno));
	memset(s, 0x5a, 65536);
	sbrk(-49152);
	char *top = sbrk(0);
	kobj_wait();
	char *now = (char *)syscall(SYS_brk, 0);
	CHECK(now == top, "brk %p, was %p", (void *)now, (void *)top);
	for (int i = 0; i < 16384; i += 512) CHECK(s[i] == 0x5a, "kept byte %d: %#x", i, s[i]);
	if (sbrk(49152) == (void *)-1) kobj_fail("sbrk up again: %s", strerror(errno));
	else
		for (int i = 16384; i < 65536; i += 4096) CHECK(s[i] == 0, "given back byte %d: %#x, want 0", i, s[i]);
	return kobj_done();
}
