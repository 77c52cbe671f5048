/* A file whose path is longer than PATH_MAX (reached by openat from
 * directory to directory): no name can open it again, so the checkpoint
 * refuses it naming it. */
#include "kobj.h"
#include <sys/stat.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	char name[250];
	memset(name, 'd', sizeof name - 1);
	name[sizeof name - 1] = 0;
	int dir = open(".", O_RDONLY | O_DIRECTORY);
	for (int i = 0; i < 20; i++) {
		mkdirat(dir, name, 0755);
		int next = openat(dir, name, O_RDONLY | O_DIRECTORY);
		close(dir);
		dir = next;
	}
	int fd = openat(dir, "deep", O_RDWR | O_CREAT, 0644);
	close(dir);
	if (fd < 0) DIE("openat: %s", strerror(errno));
	write(fd, "deep", 4);
	kobj_wait();
	char b[8] = {0};
	CHECK(pread(fd, b, 4, 0) == 4 && strcmp(b, "deep") == 0, "content %s", b);
	return kobj_done();
}
