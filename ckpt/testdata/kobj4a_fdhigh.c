/* kobj4a_fdhigh: descriptors above 1024 (the soft RLIMIT_NOFILE raised to
 * 5000): a pipe at 1500 and 4999, a file at 2048 with close-on-exec, and
 * fd 1024 itself. Each is back at its number with its flags. */
#include "kobj.h"
#include <sys/resource.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_max < 5000) DIE("hard RLIMIT_NOFILE %lu", (unsigned long)rl.rlim_max);
	rl.rlim_cur = 5000;
	if (setrlimit(RLIMIT_NOFILE, &rl)) DIE("setrlimit: %s", strerror(errno));
	int p[2];
	pipe(p);
	if (dup2(p[0], 1500) != 1500 || dup2(p[1], 4999) != 4999) DIE("dup2: %s", strerror(errno));
	close(p[0]);
	close(p[1]);
	int f = open("fdhigh-file", O_RDWR | O_CREAT | O_TRUNC, 0644);
	write(f, "0123456789", 10);
	if (dup3(f, 2048, O_CLOEXEC) != 2048 || dup2(f, 1024) != 1024) DIE("dup3: %s", strerror(errno));
	close(f);
	lseek(2048, 3, SEEK_SET);
	write(4999, "high", 4);
	kobj_wait();
	getrlimit(RLIMIT_NOFILE, &rl);
	CHECK(rl.rlim_cur == 5000, "soft RLIMIT_NOFILE %lu", (unsigned long)rl.rlim_cur);
	CHECK(fcntl(2048, F_GETFD) == FD_CLOEXEC, "fd 2048 FD_CLOEXEC %d", fcntl(2048, F_GETFD));
	CHECK(fcntl(1024, F_GETFD) == 0, "fd 1024 flags %d", fcntl(1024, F_GETFD));
	CHECK(lseek(1024, 0, SEEK_CUR) == 3, "fd 1024 does not share 2048's offset: %ld", (long)lseek(1024, 0, SEEK_CUR));
	char b[8] = {0};
	CHECK(read(1500, b, 4) == 4 && memcmp(b, "high", 4) == 0, "pipe 4999 -> 1500: '%s'", b);
	write(4999, "x", 1);
	CHECK(read(1500, b, 1) == 1 && b[0] == 'x', "1500 and 4999 are not one pipe");
	int n = 0;
	for (int fd = 3; fd < 5000; fd++)
		if (fcntl(fd, F_GETFD) >= 0) n++;
	CHECK(n == 4, "%d descriptors from 3 up, want 4", n);
	return kobj_done();
}
