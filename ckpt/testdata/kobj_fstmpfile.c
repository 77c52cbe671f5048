/* O_TMPFILE files: one linked later (after the restart, by linkat of
 * /proc/self/fd, which only a file made O_TMPFILE without O_EXCL
 * allows), and a file removed after open, which can never be linked
 * again (ENOENT). */
#include "kobj.h"
#include <sys/stat.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int t = open(".", O_TMPFILE | O_RDWR, 0640);
	if (t < 0) DIE("O_TMPFILE: %s", strerror(errno));
	write(t, "made without a name", 19);
	int u = open("gone", O_RDWR | O_CREAT | O_TRUNC, 0600);
	write(u, "removed", 7);
	unlink("gone");
	struct stat before;
	fstat(t, &before);
	kobj_wait();
	char p[64];
	snprintf(p, sizeof p, "/proc/self/fd/%d", t);
	CHECK(linkat(AT_FDCWD, p, AT_FDCWD, "named", AT_SYMLINK_FOLLOW) == 0, "linkat of the O_TMPFILE file: %s", strerror(errno));
	struct stat st, fst;
	CHECK(stat("named", &st) == 0 && fstat(t, &fst) == 0 && st.st_ino == fst.st_ino && st.st_nlink == 1, "the new name is not the file");
	CHECK((st.st_mode & 07777) == (before.st_mode & 07777), "mode %o, was %o", st.st_mode & 07777, before.st_mode & 07777);
	CHECK(strcmp(read_file("named"), "made without a name") == 0, "content by the new name: %s", read_file("named"));
	snprintf(p, sizeof p, "/proc/self/fd/%d", u);
	errno = 0;
	CHECK(linkat(AT_FDCWD, p, AT_FDCWD, "relinked", AT_SYMLINK_FOLLOW) < 0 && errno == ENOENT, "a removed file was linked again (%s)", strerror(errno));
	unlink("named"); /* the run after the checkpoint links it again after the restart */
	return kobj_done();
}
