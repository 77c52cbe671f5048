/* kobj3_nofilehard: a descriptor at the top of a hard RLIMIT_NOFILE (soft
 * = hard = 64, fd 63 open) comes back with the limits exactly as they were;
 * with "above", fd 100 was opened before the limit was lowered under it. */
#include "kobj.h"
#include <sys/resource.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	char path[4096];
	snprintf(path, sizeof path, "%s.data", argv[1]);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, "top", 3) != 3) DIE("open");
	int top = argc > 2 && strcmp(argv[2], "above") == 0 ? 100 : 63;
	if (dup2(fd, top) != top) DIE("dup2");
	close(fd);
	struct rlimit rl = {64, 64};
	if (setrlimit(RLIMIT_NOFILE, &rl)) DIE("setrlimit: %s", strerror(errno));
	kobj_wait();
	getrlimit(RLIMIT_NOFILE, &rl);
	CHECK(rl.rlim_cur == 64 && rl.rlim_max == 64, "RLIMIT_NOFILE %lu/%lu", (unsigned long)rl.rlim_cur, (unsigned long)rl.rlim_max);
	char b[4] = {0};
	CHECK(pread(top, b, 3, 0) == 3 && strcmp(b, "top") == 0, "fd %d: %s", top, strerror(errno));
	CHECK(dup2(63, 64) < 0 && errno == EBADF, "fd 64 could be made: the limit is not enforced");
	return kobj_done();
}
