/* kobj5a_ptyflush: a master in packet mode (TIOCPKT) with a status not
 * read yet: the slave flushed its queues (tcflush TCIOFLUSH), so the next
 * read of the master gives one byte, TIOCPKT_FLUSHREAD|TIOCPKT_FLUSHWRITE;
 * then the slave's output after the flush, behind a 0 byte. */
#include "kobj.h"
#include <sys/ioctl.h>
#include <termios.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int m = posix_openpt(O_RDWR | O_NOCTTY);
	if (m < 0 || grantpt(m) || unlockpt(m)) DIE("ptmx: %s", strerror(errno));
	int s = open(ptsname(m), O_RDWR | O_NOCTTY);
	if (s < 0) DIE("slave: %s", strerror(errno));
	struct termios t;
	tcgetattr(s, &t);
	cfmakeraw(&t);
	tcsetattr(s, TCSANOW, &t);
	int one = 1;
	ioctl(m, TIOCPKT, &one);
	write(m, "typed", 5);
	usleep(50000);
	tcflush(s, TCIOFLUSH);
	write(s, "after", 5);
	usleep(50000);
	kobj_wait();
	fcntl(m, F_SETFL, O_NONBLOCK);
	unsigned char b[64];
	ssize_t n = read(m, b, sizeof b);
	CHECK(n == 1 && b[0] == (TIOCPKT_FLUSHREAD | TIOCPKT_FLUSHWRITE), "status: %zd %#x", n, n > 0 ? b[0] : 0);
	n = read(m, b, sizeof b);
	CHECK(n == 6 && b[0] == 0 && memcmp(b + 1, "after", 5) == 0, "data: %zd", n);
	fcntl(s, F_SETFL, O_NONBLOCK);
	n = read(s, b, sizeof b);
	CHECK(n < 0 && errno == EAGAIN, "the flushed input came back: %zd", n);
	return kobj_done();
}
