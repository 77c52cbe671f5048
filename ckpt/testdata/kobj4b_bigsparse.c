/* kobj4b_bigsparse: a 64 GiB MAP_NORESERVE anonymous region with three
 * pages written, at its start, its middle and its end: after the restart
 * the bytes are there, the rest reads zero, and the process's resident
 * memory is still small (the holes stay holes). */
#include "kobj.h"
#include <stdint.h>
#include <sys/mman.h>

static long rss_kb(void) {
	const char *p = strstr(read_file("/proc/self/status"), "VmRSS:");
	return p ? atol(p + 6) : -1;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	size_t len = 64UL << 30;
	char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED) DIE("mmap 64 GiB: %s", strerror(errno));
	strcpy(m, "first");
	strcpy(m + len / 2 + 123, "middle");
	strcpy(m + len - 4096, "last");
	kobj_wait();
	CHECK(strcmp(m, "first") == 0 && strcmp(m + len / 2 + 123, "middle") == 0 && strcmp(m + len - 4096, "last") == 0, "bytes lost");
	CHECK(m[len / 4] == 0 && m[len - 1] == 0 && m[4096] == 0, "holes not zero");
	CHECK(rss_kb() < 200 * 1024, "VmRSS %ld kB after a restart of a sparse region", rss_kb());
	return kobj_done();
}
