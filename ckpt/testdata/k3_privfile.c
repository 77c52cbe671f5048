/* A MAP_PRIVATE file mapping of 3 pages with the middle page written: the
 * others still read the file, the written one keeps its bytes and the
 * mapping still names the file at its offset. */
#include "kobj.h"
#include <sys/mman.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	char path[4096];
	snprintf(path, sizeof path, "%s.data", argv[1]);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	char page[4096 * 4];
	for (int i = 0; i < (int)sizeof page; i++) page[i] = 'a' + i / 4096;
	if (write(fd, page, sizeof page) != (ssize_t)sizeof page) DIE("write");
	char *m = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 4096);
	if (m == MAP_FAILED) DIE("mmap: %s", strerror(errno));
	close(fd);
	memset(m + 4096, 'Z', 100);
	kobj_wait();
	CHECK(m[0] == 'b' && m[4095] == 'b', "page 0 %c", m[0]);
	CHECK(m[4096] == 'Z' && m[4096 + 99] == 'Z' && m[4096 + 100] == 'c', "page 1 %c %c", m[4096], m[4196]);
	CHECK(m[8192] == 'd', "page 2 %c", m[8192]);
	char want[128];
	snprintf(want, sizeof want, "%lx-%lx rw-p 00001000 ", (unsigned long)m, (unsigned long)m + 3 * 4096);
	const char *maps = read_file("/proc/self/maps");
	const char *l = strstr(maps, want);
	CHECK(l != NULL, "no mapping %s", want);
	if (l) {
		const char *e = strchr(l, '\n');
		CHECK(e && (size_t)(e - l) >= strlen(path) && memcmp(e - strlen(path), path, strlen(path)) == 0, "mapping not of %s", path);
	}
	return kobj_done();
}
