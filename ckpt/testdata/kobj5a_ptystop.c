/* kobj5a_ptystop: a pty whose output was stopped: the master typed the
 * slave's VSTOP character (set to ^P, IXON) so the slave's writes wait (a
 * non-blocking one fails EAGAIN); the master in packet mode has not read
 * the TIOCPKT_STOP status yet. After the restart the status comes, and
 * after VSTART (^R) TIOCPKT_START, and the slave's output flows. (Once
 * the status is read nothing shows that the output is stopped: not
 * tested.) */
#include "kobj.h"
#include <sys/ioctl.h>
#include <termios.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int m = posix_openpt(O_RDWR | O_NOCTTY);
	if (m < 0 || grantpt(m) || unlockpt(m)) DIE("ptmx: %s", strerror(errno));
	int s = open(ptsname(m), O_RDWR | O_NOCTTY);
	struct termios t;
	tcgetattr(s, &t);
	cfmakeraw(&t);
	t.c_iflag |= IXON;
	t.c_cc[VSTOP] = 0x10;
	t.c_cc[VSTART] = 0x12;
	tcsetattr(s, TCSANOW, &t);
	int one = 1;
	ioctl(m, TIOCPKT, &one);
	write(m, "\x10", 1);
	usleep(50000);
	fcntl(m, F_SETFL, O_NONBLOCK);
	unsigned char b[64];
	ssize_t n;
	fcntl(s, F_SETFL, O_NONBLOCK);
	if (write(s, "held", 4) >= 0) DIE("the stopped tty took a write");
	kobj_wait();
	CHECK(write(s, "held", 4) < 0 && errno == EAGAIN, "the stopped tty took a write after the restart");
	n = read(m, b, sizeof b);
	CHECK(n == 1 && b[0] == TIOCPKT_STOP, "stop status: %zd %#x", n, n > 0 ? b[0] : 0);
	n = read(m, b, sizeof b);
	CHECK(n < 0 && errno == EAGAIN, "the master reads %zd (%#x)", n, n > 0 ? b[0] : 0);
	write(m, "\x12", 1);
	usleep(50000);
	n = read(m, b, sizeof b);
	CHECK(n == 1 && b[0] == TIOCPKT_START, "start status %zd %#x", n, n > 0 ? b[0] : 0);
	CHECK(write(s, "flow", 4) == 4, "write once started: %s", strerror(errno));
	usleep(50000);
	n = read(m, b, sizeof b);
	CHECK(n == 5 && b[0] == 0 && memcmp(b + 1, "flow", 4) == 0, "flow: %zd", n);
	return kobj_done();
}
