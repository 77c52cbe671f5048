/* Pipes with one end closed: bytes left in one whose write end is
 * closed (read them, then end of file), one whose read end is closed
 * (a write fails with EPIPE), a FIFO opened read-write holding bytes,
 * its F_GETPIPE_SZ set. No end is held open by anyone else after the
 * restart. */
#include "kobj.h"
#include <sys/stat.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	int a[2], b[2];
	pipe(a);
	pipe(b);
	write(a[1], "left over", 9);
	close(a[1]);
	close(b[0]);
	mkfifo("fifo", 0600);
	int f = open("fifo", O_RDWR | O_NONBLOCK);
	if (f < 0) DIE("fifo: %s", strerror(errno));
	fcntl(f, F_SETPIPE_SZ, 128 * 1024);
	write(f, "in the fifo", 11);
	int sz = fcntl(f, F_GETPIPE_SZ);
	kobj_wait();
	char buf[32] = {0};
	CHECK(read(a[0], buf, sizeof buf) == 9 && strcmp(buf, "left over") == 0, "left over: %s", buf);
	CHECK(read(a[0], buf, sizeof buf) == 0, "no end of file after the bytes: a writer is left");
	errno = 0;
	CHECK(write(b[1], "x", 1) < 0 && errno == EPIPE, "write with no reader: %s", strerror(errno));
	CHECK(fcntl(f, F_GETPIPE_SZ) == sz, "fifo size %d, was %d", fcntl(f, F_GETPIPE_SZ), sz);
	memset(buf, 0, sizeof buf);
	CHECK(read(f, buf, sizeof buf) == 11 && strcmp(buf, "in the fifo") == 0, "fifo bytes: %s", buf);
	return kobj_done();
}
