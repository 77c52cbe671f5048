/* kobj4a_teesplice: pipes filled without write(2): pipe A by splice from a
 * file (page-cache pages in the pipe), then tee'd into pipe B (the same
 * buffers, referenced twice); pipe C by vmsplice with SPLICE_F_GIFT of a
 * page the program then unmapped. Each holds its bytes after the restart,
 * and a write to the file after it does not change them. */
#include "kobj.h"
#include <sys/ioctl.h>
#include <sys/mman.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int f = open("ts-file", O_RDWR | O_CREAT | O_TRUNC, 0644);
	char data[10000];
	for (int i = 0; i < (int)sizeof data; i++) data[i] = 'a' + i % 23;
	write(f, data, sizeof data);
	int a[2], b[2], c[2];
	pipe(a);
	pipe(b);
	pipe(c);
	loff_t off = 0;
	if (splice(f, &off, a[1], NULL, sizeof data, 0) != sizeof data) DIE("splice: %s", strerror(errno));
	if (tee(a[0], b[1], sizeof data, 0) != sizeof data) DIE("tee: %s", strerror(errno));
	char *pg = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(pg, 'g', 4096);
	struct iovec iov = {pg, 4096};
	if (vmsplice(c[1], &iov, 1, SPLICE_F_GIFT) != 4096) DIE("vmsplice: %s", strerror(errno));
	munmap(pg, 4096);
	kobj_wait();
	/* The file changes under the spliced pages only after the restart. */
	pwrite(f, "ZZZZ", 4, 0);
	int na = 0, nb = 0, nc = 0;
	ioctl(a[0], FIONREAD, &na);
	ioctl(b[0], FIONREAD, &nb);
	ioctl(c[0], FIONREAD, &nc);
	CHECK(na == (int)sizeof data && nb == (int)sizeof data && nc == 4096, "queued %d %d %d", na, nb, nc);
	char got[10000];
	CHECK(read(b[0], got, sizeof got) == sizeof got, "read B");
	int ok = memcmp(got + 4, data + 4, sizeof data - 4) == 0 && (memcmp(got, data, 4) == 0 || memcmp(got, "ZZZZ", 4) == 0);
	CHECK(ok, "pipe B differs");
	CHECK(read(a[0], got, sizeof got) == sizeof got && memcmp(got + 4, data + 4, sizeof data - 4) == 0, "pipe A differs");
	char g[4096];
	int gok = read(c[0], g, sizeof g) == 4096;
	for (int i = 0; gok && i < 4096; i++) gok = g[i] == 'g';
	CHECK(gok, "pipe C differs");
	pwrite(f, data, 4, 0);
	return kobj_done();
}
