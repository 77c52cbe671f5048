/* personality(ADDR_NO_RANDOMIZE | READ_IMPLIES_EXEC... ): kept. */
#include "kobj.h"
#include <sys/personality.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int want = PER_LINUX | ADDR_NO_RANDOMIZE | ADDR_COMPAT_LAYOUT | UNAME26;
	personality(want);
	kobj_wait();
	int got = personality(0xffffffff);
	CHECK(got == want, "personality %#x, want %#x", got, want);
	return kobj_done();
}
