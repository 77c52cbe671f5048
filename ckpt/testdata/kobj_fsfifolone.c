/* FIFOs with one side only: a reader that opened it O_NONBLOCK and then
 * cleared O_NONBLOCK (a blocking open would wait for a writer), with no
 * writer left (a read says end of file); a writer whose reader went (a
 * write fails with EPIPE). */
#include "kobj.h"
#include <sys/stat.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	mkfifo("rfifo", 0600);
	mkfifo("wfifo", 0600);
	int r = open("rfifo", O_RDONLY | O_NONBLOCK);
	fcntl(r, F_SETFL, 0);
	int rr = open("wfifo", O_RDONLY | O_NONBLOCK);
	int w = open("wfifo", O_WRONLY);
	close(rr);
	if (r < 0 || w < 0) DIE("open: %s", strerror(errno));
	kobj_wait();
	char b[4];
	CHECK(read(r, b, 4) == 0, "reader with no writer: no end of file");
	CHECK(!(fcntl(r, F_GETFL) & O_NONBLOCK), "reader flags %#o", fcntl(r, F_GETFL));
	errno = 0;
	CHECK(write(w, "x", 1) < 0 && errno == EPIPE, "writer with no reader: %s", strerror(errno));
	return kobj_done();
}
