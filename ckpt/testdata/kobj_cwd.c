/* umask 027 and a current directory 40 levels deep (over 1000 bytes). */
#include "kobj.h"
#include <sys/stat.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	umask(027);
	for (int i = 0; i < 40; i++) {
		char d[64];
		snprintf(d, sizeof d, "level-%02d-of-a-long-directory-path", i);
		mkdir(d, 0755);
		if (chdir(d)) DIE("chdir: %s", strerror(errno));
	}
	char before[8192];
	if (!getcwd(before, sizeof before)) DIE("getcwd: %s", strerror(errno));
	int fd = open("here", O_CREAT | O_WRONLY, 0666);
	close(fd);
	kobj_wait();
	char now[8192];
	CHECK(getcwd(now, sizeof now) && strcmp(now, before) == 0, "cwd %s", now);
	mode_t m = umask(0);
	CHECK(m == 027, "umask %o", m);
	CHECK(access("here", F_OK) == 0, "file of the cwd not seen");
	return kobj_done();
}
