/* kobj4a_rmdir: a directory descriptor (O_RDONLY|O_DIRECTORY) on a
 * directory that was then removed: no name can open it again. Refused
 * naming it; left running, fstat still says it has no links and openat
 * in it fails with ENOENT. */
#include "kobj.h"
#include <sys/stat.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	mkdir("rd-gone", 0755);
	int d = open("rd-gone", O_RDONLY | O_DIRECTORY);
	if (d < 0 || rmdir("rd-gone")) DIE("rmdir: %s", strerror(errno));
	kobj_wait();
	struct stat st;
	CHECK(fstat(d, &st) == 0 && S_ISDIR(st.st_mode) && st.st_nlink == 0, "fstat: nlink %lu", (unsigned long)st.st_nlink);
	CHECK(openat(d, "x", O_CREAT | O_WRONLY, 0644) < 0 && errno == ENOENT, "a file created in the removed directory");
	return kobj_done();
}
