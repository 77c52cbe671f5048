/* A file whose name holds a newline and a backslash, open and mapped
 * shared (maps escapes such names, \012): the descriptor and the mapping
 * are the file of that name after the restart. */
#include "kobj.h"
#include <sys/mman.h>
#include <sys/stat.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	const char *name = "new\nline\\x";
	int fd = open(name, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) DIE("open: %s", strerror(errno));
	ftruncate(fd, 4096);
	char *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	char *p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
	strcpy(m, "by the mapping");
	msync(m, 4096, MS_SYNC);
	struct stat before;
	fstat(fd, &before);
	kobj_wait();
	struct stat a, b;
	CHECK(fstat(fd, &a) == 0 && stat(name, &b) == 0 && a.st_ino == b.st_ino, "the descriptor is not the file");
	char buf[32] = {0};
	pread(fd, buf, 14, 0);
	CHECK(strcmp(buf, "by the mapping") == 0 && strcmp(p, "by the mapping") == 0, "content %s / %s", buf, p);
	m[0] = 'B';
	pread(fd, buf, 1, 0);
	CHECK(buf[0] == 'B', "the shared mapping is not the file");
	m[0] = 'b';
	msync(m, 4096, MS_SYNC);
	struct timespec ts[2] = {before.st_atim, before.st_mtim};
	futimens(fd, ts);
	return kobj_done();
}
