/* kobj5a_tmpexcl: O_TMPFILE files: one made O_TMPFILE|O_EXCL, one
 * without O_EXCL (mode 0640, linked by a name after the restart), one on
 * /dev/shm (tmpfs) without O_EXCL, linked too. Each keeps its bytes,
 * mode, link count 0 and offset. The kernel shows nothing of O_EXCL (the
 * restart makes the first linkable: tmpfileName), so its linkat is not
 * tried. */
#include "kobj.h"
#include <sys/stat.h>

static int linkfd(int fd, const char *name) {
	char p[64];
	snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
	return linkat(AT_FDCWD, p, AT_FDCWD, name, AT_SYMLINK_FOLLOW);
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	umask(0);
	int x = open(".", O_TMPFILE | O_RDWR | O_EXCL, 0600);
	int l = open(".", O_TMPFILE | O_RDWR, 0640);
	int s = open("/dev/shm", O_TMPFILE | O_RDWR, 0604);
	if (x < 0 || l < 0 || s < 0) DIE("O_TMPFILE: %s", strerror(errno));
	write(x, "exclusive", 9);
	write(l, "linkable!", 9);
	write(s, "tmpfs", 5);
	lseek(l, 4, SEEK_SET);
	kobj_wait();
	struct stat st;
	fstat(x, &st);
	CHECK(st.st_nlink == 0 && (st.st_mode & 07777) == 0600 && st.st_size == 9, "excl: nlink %lu mode %o size %ld", (unsigned long)st.st_nlink, st.st_mode & 07777, (long)st.st_size);
	fstat(l, &st);
	CHECK(st.st_nlink == 0 && (st.st_mode & 07777) == 0640, "linkable: nlink %lu mode %o", (unsigned long)st.st_nlink, st.st_mode & 07777);
	CHECK(lseek(l, 0, SEEK_CUR) == 4, "offset %ld", (long)lseek(l, 0, SEEK_CUR));
	CHECK(linkfd(l, "linked-name") == 0, "linkat: %s", strerror(errno));
	CHECK(strcmp(read_file("linked-name"), "linkable!") == 0, "linked content '%s'", read_file("linked-name"));
	write(l, "X", 1);
	CHECK(strcmp(read_file("linked-name"), "linkXble!") == 0, "the name is not the file: '%s'", read_file("linked-name"));
	unlink("linked-name");
	fstat(s, &st);
	CHECK(st.st_nlink == 0 && (st.st_mode & 07777) == 0604 && st.st_size == 5, "shm: nlink %lu mode %o", (unsigned long)st.st_nlink, st.st_mode & 07777);
	char b[8] = {0};
	CHECK(pread(s, b, 8, 0) == 5 && memcmp(b, "tmpfs", 5) == 0, "shm content");
	char name[64];
	snprintf(name, sizeof name, "/dev/shm/kobj5a-tmp-%d", getpid());
	CHECK(linkfd(s, name) == 0, "linkat shm: %s", strerror(errno));
	unlink(name);
	return kobj_done();
}
