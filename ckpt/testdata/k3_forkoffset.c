/* A file offset shared with a child after fork, and a dup in the parent:
 * the child's lseek moves the parent's offset, after the restart too. */
#include "kobj.h"
#include <sys/wait.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	char path[4096];
	snprintf(path, sizeof path, "%s.data", argv[1]);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0) DIE("open: %s", strerror(errno));
	if (write(fd, "0123456789abcdefghij", 20) != 20) DIE("write");
	lseek(fd, 5, SEEK_SET);
	int d = dup(fd);
	int p[2];
	if (pipe(p) < 0) DIE("pipe");
	pid_t c = fork();
	if (c == 0) {
		close(p[1]);
		char b;
		if (read(p[0], &b, 1) != 1) _exit(9);
		lseek(fd, 12, SEEK_SET);
		_exit(0);
	}
	close(p[0]);
	kobj_wait();
	CHECK(lseek(d, 0, SEEK_CUR) == 5, "dup offset %ld", (long)lseek(d, 0, SEEK_CUR));
	if (write(p[1], "x", 1) != 1) CHECK(0, "pipe write");
	int st;
	waitpid(c, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %#x", st);
	CHECK(lseek(fd, 0, SEEK_CUR) == 12, "offset after the child's lseek %ld, want 12", (long)lseek(fd, 0, SEEK_CUR));
	CHECK(lseek(d, 0, SEEK_CUR) == 12, "dup offset after the child's lseek %ld", (long)lseek(d, 0, SEEK_CUR));
	return kobj_done();
}
