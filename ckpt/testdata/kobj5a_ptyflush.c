/* kobj5a_ptyflush: a master in packet mode (TIOCPKT) with a status not
 * read yet: the slave flushed its queues (tcflush TCIOFLUSH), so the next
 * read of the master gives one byte, TIOCPKT_FLUSHREAD|TIOCPKT_FLUSHWRITE;
 * then the slave's output after the flush, behind a 0 byte. With
 * "nostop": the status is TIOCPKT_NOSTOP (the slave left ^S/^Q flow
 * control, cfmakeraw, once the master was in packet mode), no flush. */
#include "kobj.h"
#include <sys/ioctl.h>
#include <termios.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int m = posix_openpt(O_RDWR | O_NOCTTY);
	if (m < 0 || grantpt(m) || unlockpt(m)) DIE("ptmx: %s", strerror(errno));
	int s = open(ptsname(m), O_RDWR | O_NOCTTY);
	if (s < 0) DIE("slave: %s", strerror(errno));
	int nostop = argc > 2 && strcmp(argv[2], "nostop") == 0;
	unsigned char want = nostop ? TIOCPKT_NOSTOP : TIOCPKT_FLUSHREAD | TIOCPKT_FLUSHWRITE;
	struct termios t;
	tcgetattr(s, &t);
	cfmakeraw(&t);
	int one = 1;
	if (nostop) ioctl(m, TIOCPKT, &one);
	tcsetattr(s, TCSANOW, &t);
	ioctl(m, TIOCPKT, &one);
	if (!nostop) {
		write(m, "typed", 5);
		usleep(50000);
		tcflush(s, TCIOFLUSH);
	}
	write(s, "after", 5);
	usleep(50000);
	kobj_wait();
	fcntl(m, F_SETFL, O_NONBLOCK);
	unsigned char b[64];
	ssize_t n = read(m, b, sizeof b);
	CHECK(n == 1 && b[0] == want, "status: %zd %#x", n, n > 0 ? b[0] : 0);
	n = read(m, b, sizeof b);
	CHECK(n == 6 && b[0] == 0 && memcmp(b + 1, "after", 5) == 0, "data: %zd", n);
	fcntl(s, F_SETFL, O_NONBLOCK);
	n = read(s, b, sizeof b);
	CHECK(n < 0 && errno == EAGAIN, "the flushed input came back: %zd", n);
	return kobj_done();
}
