/* kobj5a_fifoopen: a child blocked in open(O_WRONLY) of a FIFO nobody
 * reads, across the checkpoint; after the restart the parent opens it
 * for reading, the child's open returns and its write reaches the
 * parent. */
#include "kobj.h"
#include <sys/stat.h>
#include <sys/wait.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	unlink("fifo");
	mkfifo("fifo", 0600);
	pid_t c = fork();
	if (c == 0) {
		int w;
		while ((w = open("fifo", O_WRONLY)) < 0 && errno == EINTR) {}
		if (w < 0) _exit(3);
		write(w, "from child", 10);
		_exit(0);
	}
	usleep(200000);
	kobj_wait();
	int st;
	CHECK(waitpid(c, &st, WNOHANG) == 0, "the child did not wait in open");
	int r = open("fifo", O_RDONLY);
	char b[16] = {0};
	ssize_t n = read(r, b, sizeof b);
	CHECK(n == 10 && memcmp(b, "from child", 10) == 0, "read %zd '%s'", n, b);
	waitpid(c, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child %#x", st);
	return kobj_done();
}
