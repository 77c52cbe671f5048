/* A file whose name ends in " (deleted)" and that is not deleted: it is
 * the file itself after the restart (writes through the descriptor are
 * seen by its name), not an unlinked copy. A second one is a FIFO. */
#include "kobj.h"
#include <sys/stat.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int fd = open("x (deleted)", O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) DIE("open: %s", strerror(errno));
	write(fd, "here", 4);
	kobj_wait();
	struct stat a, b;
	CHECK(fstat(fd, &a) == 0 && stat("x (deleted)", &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev, "the descriptor is not the file of that name (nlink %ld)", (long)a.st_nlink);
	write(fd, " too", 4);
	CHECK(strcmp(read_file("x (deleted)"), "here too") == 0, "by name: %s", read_file("x (deleted)"));
	return kobj_done();
}
