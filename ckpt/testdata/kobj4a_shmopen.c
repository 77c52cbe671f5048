/* kobj4a_shmopen: a POSIX shared memory object (shm_open, a file of
 * /dev/shm) of 3 pages mapped shared and written through the mapping, its
 * descriptor closed; a second descriptor of it, O_RDONLY, at offset 5000.
 * After the restart the mapping is the object still: a store shows
 * through the descriptor and through the name. */
#include "kobj.h"
#include <sys/mman.h>
#include <sys/stat.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	char name[64];
	snprintf(name, sizeof name, "/kobj4a-shm-%d", getpid());
	int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0640);
	if (fd < 0) DIE("shm_open: %s", strerror(errno));
	ftruncate(fd, 3 * 4096);
	char *m = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED) DIE("mmap");
	close(fd);
	for (int i = 0; i < 3 * 4096; i++) m[i] = 'A' + i % 26;
	int r = shm_open(name, O_RDONLY, 0);
	lseek(r, 5000, SEEK_SET);
	struct stat s0;
	fstat(r, &s0);
	kobj_wait();
	struct stat s1;
	fstat(r, &s1);
	CHECK(s1.st_ino == s0.st_ino && s1.st_size == 3 * 4096 && (s1.st_mode & 07777) == 0640, "fstat: ino %lu size %ld mode %o", s1.st_ino, (long)s1.st_size, s1.st_mode & 07777);
	CHECK((fcntl(r, F_GETFL) & O_ACCMODE) == O_RDONLY, "r access %#x", fcntl(r, F_GETFL));
	CHECK(lseek(r, 0, SEEK_CUR) == 5000, "r offset %ld", (long)lseek(r, 0, SEEK_CUR));
	int bad = -1;
	for (int i = 0; i < 3 * 4096 && bad < 0; i++)
		if (m[i] != 'A' + i % 26) bad = i;
	CHECK(bad < 0, "mapping byte %d", bad);
	char b;
	m[5000] = '!';
	CHECK(pread(r, &b, 1, 5000) == 1 && b == '!', "a store in the mapping is not in the object");
	int again = shm_open(name, O_RDONLY, 0);
	struct stat s2;
	fstat(again, &s2);
	CHECK(again >= 0 && s2.st_ino == s0.st_ino, "the name is another object now");
	m[5000] = 'A' + 5000 % 26;
	return kobj_done();
}
