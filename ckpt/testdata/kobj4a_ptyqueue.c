/* kobj4a_ptyqueue: a pty pair held by the program (no control terminal):
 * the slave in canonical mode with VERASE, VINTR and VMIN of its own, no
 * ECHO, window 40x132; on the master packet mode (TIOCPKT) with no
 * status pending; two lines and an unfinished one typed on the master and
 * not read; output written on the slave (ONLCR: "\n" becomes "\r\n") and
 * not read. After the restart each is as it was. */
#include "kobj.h"
#include <sys/ioctl.h>
#include <termios.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int m = posix_openpt(O_RDWR | O_NOCTTY);
	if (m < 0 || grantpt(m) || unlockpt(m)) DIE("ptmx: %s", strerror(errno));
	int s = open(ptsname(m), O_RDWR | O_NOCTTY);
	if (s < 0) DIE("open slave: %s", strerror(errno));
	struct termios t;
	tcgetattr(s, &t);
	t.c_lflag &= ~(ECHO | ECHOE | ECHOK);
	t.c_cc[VERASE] = 0x08;
	t.c_cc[VINTR] = 0x07;
	t.c_cc[VMIN] = 3;
	t.c_oflag |= OPOST | ONLCR;
	cfsetspeed(&t, B9600);
	tcsetattr(s, TCSANOW, &t);
	struct winsize ws = {.ws_row = 40, .ws_col = 132, .ws_xpixel = 800, .ws_ypixel = 600};
	ioctl(m, TIOCSWINSZ, &ws);
	int one = 1;
	if (ioctl(m, TIOCPKT, &one)) DIE("TIOCPKT: %s", strerror(errno));
	write(m, "first line\nsecond\npart", 22);
	write(s, "out\nput", 7);
	usleep(100000);
	struct termios t0;
	tcgetattr(s, &t0);
	kobj_wait();
	struct termios t1;
	tcgetattr(s, &t1);
	CHECK(t1.c_iflag == t0.c_iflag && t1.c_oflag == t0.c_oflag && t1.c_cflag == t0.c_cflag && t1.c_lflag == t0.c_lflag, "termios flags %#x %#x %#x %#x", t1.c_iflag, t1.c_oflag, t1.c_cflag, t1.c_lflag);
	CHECK(memcmp(t1.c_cc, t0.c_cc, sizeof t0.c_cc) == 0, "c_cc differs");
	CHECK(cfgetispeed(&t1) == B9600 && cfgetospeed(&t1) == B9600, "speed");
	struct winsize w1;
	ioctl(s, TIOCGWINSZ, &w1);
	CHECK(w1.ws_row == 40 && w1.ws_col == 132 && w1.ws_xpixel == 800 && w1.ws_ypixel == 600, "window %dx%d", w1.ws_row, w1.ws_col);
	int pkt = -1;
	ioctl(m, TIOCGPKT, &pkt);
	CHECK(pkt == 1, "TIOCGPKT %d", pkt);
	fcntl(s, F_SETFL, O_NONBLOCK);
	char b[64] = {0};
	ssize_t n = read(s, b, sizeof b);
	CHECK(n == 11 && memcmp(b, "first line\n", 11) == 0, "line 1: %zd '%.*s'", n, (int)(n > 0 ? n : 0), b);
	n = read(s, b, sizeof b);
	CHECK(n == 7 && memcmp(b, "second\n", 7) == 0, "line 2: %zd", n);
	n = read(s, b, sizeof b);
	CHECK(n < 0 && errno == EAGAIN, "the unfinished line was given: %zd", n);
	write(m, "\b!\n", 3); /* VERASE takes the 't' of "part" */
	n = read(s, b, sizeof b);
	CHECK(n == 5 && memcmp(b, "par!\n", 5) == 0, "line 3: %zd '%.*s'", n, (int)(n > 0 ? n : 0), b);
	fcntl(m, F_SETFL, O_NONBLOCK);
	n = read(m, b, sizeof b);
	/* Packet mode: a 0 byte (data) first. */
	CHECK(n == 9 && b[0] == 0 && memcmp(b + 1, "out\r\nput", 8) == 0, "output: %zd", n);
	return kobj_done();
}
