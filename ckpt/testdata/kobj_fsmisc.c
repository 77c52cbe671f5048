/* Odd but ordinary descriptors: O_NONBLOCK on a regular file, fd 0
 * closed and fd 2 a dup of fd 1, /proc/1/status read halfway (with
 * "self": /proc/self/status, refused: the restart opens files before it
 * makes the process), a /sys
 * file, a directory opened O_PATH|O_DIRECTORY used by openat, an
 * O_APPEND file's offset after its write, a file of mode 0 open
 * read-write, a dup of it far above 1024. */
#include "kobj.h"
#include <sys/stat.h>
#include <sys/resource.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int nb = open("nb", O_RDWR | O_CREAT | O_NONBLOCK, 0644);
	int out = open("out", O_WRONLY | O_CREAT, 0644);
	dup2(out, 1);
	dup2(out, 2);
	int st = fcntl(open(argc > 2 ? "/proc/self/status" : "/proc/1/status", O_RDONLY), F_DUPFD, 20);
	char b[100];
	read(st, b, 20);
	int sys = open("/sys/kernel/mm/transparent_hugepage/enabled", O_RDONLY);
	mkdir("d", 0755);
	close(open("d/inside", O_CREAT | O_WRONLY, 0644));
	int dp = open("d", O_PATH | O_DIRECTORY);
	int ap = open("ap", O_WRONLY | O_CREAT | O_APPEND | O_TRUNC, 0644);
	write(ap, "12345", 5);
	int z = open("zero", O_RDWR | O_CREAT | O_TRUNC, 0);
	write(z, "z", 1);
	if (nb < 0 || st < 0 || dp < 0 || z < 0) DIE("open: %s", strerror(errno));
	/* A descriptor far above 1024 (the table grows to hold it). */
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max < 70000 ? rl.rlim_max : 70000;
	setrlimit(RLIMIT_NOFILE, &rl);
	/* Not at the very limit: the restart needs a few numbers above. */
	int high = rl.rlim_cur > 65536 ? 65000 : (int)rl.rlim_cur - 64;
	if (high <= 1024 || dup2(z, high) != high) DIE("dup2 to %d: %s", high, strerror(errno));
	for (int fd = 0; fd < 3; fd++)
		if (fd != 1 && fd != 2 && fd != st && fd != sys && fd != dp) close(fd);
	kobj_wait();
	CHECK(fcntl(nb, F_GETFL) & O_NONBLOCK, "lost O_NONBLOCK");
	CHECK(fcntl(0, F_GETFD) < 0, "fd 0 came back");
	struct stat s1, s2;
	fstat(1, &s1);
	fstat(2, &s2);
	CHECK(s1.st_ino == s2.st_ino, "fd 1 and 2 not one file");
	lseek(1, 0, SEEK_SET);
	CHECK(lseek(2, 0, SEEK_CUR) == 0, "fd 1 and 2 do not share their offset");
	CHECK(lseek(st, 0, SEEK_CUR) == 20, "/proc status offset %ld", (long)lseek(st, 0, SEEK_CUR));
	CHECK(sys < 0 || read(sys, b, sizeof b) > 0, "/sys file: %s", strerror(errno));
	int in = openat(dp, "inside", O_RDONLY);
	CHECK(in >= 0 && (fcntl(dp, F_GETFL) & O_PATH), "openat of the O_PATH directory: %s", strerror(errno));
	CHECK(lseek(ap, 0, SEEK_CUR) == 5, "O_APPEND offset %ld", (long)lseek(ap, 0, SEEK_CUR));
	CHECK(pwrite(z, "y", 1, 0) == 1, "mode 0 file: %s", strerror(errno));
	CHECK(lseek(z, 0, SEEK_CUR) == 1, "mode 0 offset");
	lseek(high, 0, SEEK_SET);
	CHECK(lseek(z, 0, SEEK_CUR) == 0, "fd %d is not a dup of fd %d", high, z);
	lseek(z, 1, SEEK_SET);
	return kobj_done();
}
