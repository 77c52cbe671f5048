/* kobj5a_fifonoreader: a FIFO holding "hello" with a writer and no reader
 * (the reader that let the writer open has closed): a write fails with
 * EPIPE; a reader opening the FIFO by name later reads "hello" then what
 * was written since. A second FIFO with a writer only, empty, whose open
 * was non-blocking of the reader too. */
#include "kobj.h"
#include <sys/stat.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	unlink("fifo"); unlink("fifo2");
	if (mkfifo("fifo", 0600) || mkfifo("fifo2", 0600)) DIE("mkfifo: %s", strerror(errno));
	int r = open("fifo", O_RDONLY | O_NONBLOCK);
	int w = open("fifo", O_WRONLY);
	if (r < 0 || w < 0) DIE("open fifo: %s", strerror(errno));
	write(w, "hello", 5);
	close(r);
	int r2 = open("fifo2", O_RDONLY | O_NONBLOCK);
	int w2 = open("fifo2", O_WRONLY | O_NONBLOCK);
	close(r2);
	kobj_wait();
	CHECK(write(w, "x", 1) < 0 && errno == EPIPE, "a write with no reader: %s", strerror(errno));
	CHECK(write(w2, "x", 1) < 0 && errno == EPIPE, "fifo2 write with no reader: %s", strerror(errno));
	r = open("fifo", O_RDONLY | O_NONBLOCK);
	CHECK(r >= 0, "open reader: %s", strerror(errno));
	CHECK(write(w, " again", 6) == 6, "write once read: %s", strerror(errno));
	char b[32] = {0};
	ssize_t n = read(r, b, sizeof b);
	CHECK(n == 11 && memcmp(b, "hello again", 11) == 0, "read %zd '%s'", n, b);
	r2 = open("fifo2", O_RDONLY | O_NONBLOCK);
	n = read(r2, b, sizeof b);
	CHECK(n < 0 && errno == EAGAIN, "fifo2 read %zd", n);
	CHECK((fcntl(w2, F_GETFL) & (O_ACCMODE | O_NONBLOCK)) == (O_WRONLY | O_NONBLOCK), "fifo2 flags %#x", fcntl(w2, F_GETFL));
	return kobj_done();
}
