/* kobj5a_mapunl: an unlinked file (on the test's disk) mapped shared
 * twice (from offset 4096, and all of it) and written through a
 * descriptor at offset 10000; a store through one mapping, a pwrite
 * through the fd: after the restart all three are one file. A renamed
 * file (its directory renamed too) keeps being the file of its new name. */
#include "kobj.h"
#include <sys/mman.h>
#include <sys/stat.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int fd = open("mapped", O_RDWR | O_CREAT | O_TRUNC, 0644);
	ftruncate(fd, 4 * 4096);
	unlink("mapped");
	char *a = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 4096);
	char *b = mmap(NULL, 4 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (a == MAP_FAILED || b == MAP_FAILED) DIE("mmap");
	strcpy(a + 100, "via a");
	pwrite(fd, "via fd", 6, 10000);
	lseek(fd, 10006, SEEK_SET);
	rmdir("old"); rmdir("new");
	mkdir("old", 0755);
	int r = open("old/f", O_RDWR | O_CREAT | O_TRUNC, 0644);
	write(r, "renamed", 7);
	rename("old/f", "old/g");
	rename("old", "new");
	kobj_wait();
	CHECK(strcmp(b + 4196, "via a") == 0, "b at 4196: '%s'", b + 4196);
	CHECK(memcmp(b + 10000, "via fd", 6) == 0, "b at 10000");
	CHECK(memcmp(a + 10000 - 4096, "via fd", 6) == 0, "a at 10000");
	strcpy(b + 8000, "via b");
	char x[8] = {0};
	pread(fd, x, 5, 8000);
	CHECK(strcmp(x, "via b") == 0 && strcmp(a + 8000 - 4096, "via b") == 0, "b's store: '%s'", x);
	write(fd, "+", 1);
	CHECK(a[10006 - 4096] == '+', "the fd's offset or file");
	struct stat s1, s2;
	fstat(fd, &s1);
	CHECK(s1.st_nlink == 0 && s1.st_size == 4 * 4096, "nlink %lu size %ld", (unsigned long)s1.st_nlink, (long)s1.st_size);
	fstat(r, &s1);
	CHECK(stat("new/g", &s2) == 0 && s1.st_ino == s2.st_ino, "the renamed file is not new/g");
	write(r, "!", 1);
	CHECK(strcmp(read_file("new/g"), "renamed!") == 0, "new/g: '%s'", read_file("new/g"));
	ftruncate(r, 7);
	return kobj_done();
}
