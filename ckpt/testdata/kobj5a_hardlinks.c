/* kobj5a_hardlinks: descriptors whose name went but whose file did not:
 * A opened, linked as B, A removed (its /proc path says "A (deleted)"
 * though B still names it: nlink 1); X linked as Y, both opened by their
 * names, both removed (two descriptions of one unlinked inode, nlink 0);
 * P with three names of which the opened one went (nlink 2). After the
 * restart writes through each are seen by the other names and fds. */
#include "kobj.h"
#include <sys/stat.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	const char *n[] = {"A", "B", "X", "Y", "P", "P2", "P3"};
	for (int i = 0; i < 7; i++) unlink(n[i]);
	int a = open("A", O_RDWR | O_CREAT, 0644);
	write(a, "aaaa", 4);
	link("A", "B");
	unlink("A");
	int x = open("X", O_RDWR | O_CREAT, 0644);
	write(x, "xxxx", 4);
	link("X", "Y");
	int y = open("Y", O_RDWR);
	unlink("X");
	unlink("Y");
	int p = open("P", O_RDWR | O_CREAT, 0644);
	write(p, "pppp", 4);
	link("P", "P2");
	link("P", "P3");
	unlink("P");
	if (a < 0 || x < 0 || y < 0 || p < 0) DIE("open");
	struct stat sa, sx, sy, sp;
	fstat(a, &sa); fstat(x, &sx); fstat(y, &sy); fstat(p, &sp);
	kobj_wait();
	struct stat t, u;
	fstat(a, &t);
	stat("B", &u);
	CHECK(t.st_ino == u.st_ino && t.st_nlink == 1, "A is not B: ino %lu/%lu nlink %lu", t.st_ino, u.st_ino, (unsigned long)t.st_nlink);
	pwrite(a, "Q", 1, 0);
	CHECK(strncmp(read_file("B"), "Qaaa", 4) == 0, "B holds '%s'", read_file("B"));
	pwrite(a, "a", 1, 0);
	fstat(x, &t);
	fstat(y, &u);
	CHECK(t.st_ino == u.st_ino && t.st_nlink == 0, "X and Y: ino %lu/%lu nlink %lu", t.st_ino, u.st_ino, (unsigned long)t.st_nlink);
	pwrite(x, "Z", 1, 1);
	char b[8] = {0};
	pread(y, b, 4, 0);
	CHECK(memcmp(b, "xZxx", 4) == 0, "Y reads '%s'", b);
	CHECK(lseek(x, 0, SEEK_CUR) == 4 && lseek(y, 0, SEEK_CUR) == 0, "offsets %ld %ld", (long)lseek(x, 0, SEEK_CUR), (long)lseek(y, 0, SEEK_CUR));
	fstat(p, &t);
	stat("P2", &u);
	CHECK(t.st_ino == u.st_ino && t.st_nlink == 2, "P: ino %lu/%lu nlink %lu", t.st_ino, u.st_ino, (unsigned long)t.st_nlink);
	CHECK(access("P", F_OK) < 0, "P exists again");
	pwrite(p, "R", 1, 3);
	CHECK(strcmp(read_file("P3"), "pppR") == 0, "P3 holds '%s'", read_file("P3"));
	pwrite(p, "p", 1, 3);
	(void)sa; (void)sx; (void)sy; (void)sp;
	return kobj_done();
}
