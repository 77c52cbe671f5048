/* kobj5a_ptyraw: a pty slave in raw mode with ECHO, VMIN 0 VTIME 5, c_cc
 * of its own (VEOF, VKILL, VWERASE, VLNEXT, VQUIT, VSUSP), speed 38400,
 * window 25x80 with pixels; "abc" typed and not read (echoed, so the
 * master has "abc" to read first), then "xyz" written by the slave. */
#include "kobj.h"
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int m = posix_openpt(O_RDWR | O_NOCTTY);
	if (m < 0 || grantpt(m) || unlockpt(m)) DIE("ptmx: %s", strerror(errno));
	int s = open(ptsname(m), O_RDWR | O_NOCTTY);
	struct termios t;
	tcgetattr(s, &t);
	cfmakeraw(&t);
	t.c_lflag |= ECHO;
	t.c_cc[VMIN] = 0;
	t.c_cc[VTIME] = 5;
	t.c_cc[VEOF] = 0x01;
	t.c_cc[VKILL] = 0x0b;
	t.c_cc[VWERASE] = 0x0e;
	t.c_cc[VLNEXT] = 0x0f;
	t.c_cc[VQUIT] = 0x1e;
	t.c_cc[VSUSP] = 0;
	cfsetspeed(&t, B38400);
	tcsetattr(s, TCSANOW, &t);
	struct winsize ws = {.ws_row = 25, .ws_col = 80, .ws_xpixel = 640, .ws_ypixel = 400};
	ioctl(s, TIOCSWINSZ, &ws);
	write(m, "abc", 3);
	usleep(50000);
	write(s, "xyz", 3);
	usleep(50000);
	struct termios t0;
	tcgetattr(s, &t0);
	kobj_wait();
	struct termios t1;
	tcgetattr(s, &t1);
	CHECK(t1.c_iflag == t0.c_iflag && t1.c_oflag == t0.c_oflag && t1.c_cflag == t0.c_cflag && t1.c_lflag == t0.c_lflag, "flags %#x %#x %#x %#x", t1.c_iflag, t1.c_oflag, t1.c_cflag, t1.c_lflag);
	CHECK(memcmp(t1.c_cc, t0.c_cc, sizeof t0.c_cc) == 0, "c_cc differs");
	CHECK(t1.c_line == t0.c_line, "line discipline %d", t1.c_line);
	CHECK(cfgetospeed(&t1) == B38400, "speed");
	struct winsize w;
	ioctl(m, TIOCGWINSZ, &w);
	CHECK(w.ws_row == 25 && w.ws_col == 80 && w.ws_xpixel == 640 && w.ws_ypixel == 400, "window %dx%d %dx%d", w.ws_row, w.ws_col, w.ws_xpixel, w.ws_ypixel);
	int q = -1;
	ioctl(s, FIONREAD, &q);
	CHECK(q == 3, "slave FIONREAD %d", q);
	ioctl(m, FIONREAD, &q);
	CHECK(q == 6, "master FIONREAD %d", q);
	char b[16] = {0};
	ssize_t n = read(s, b, sizeof b);
	CHECK(n == 3 && memcmp(b, "abc", 3) == 0, "slave read %zd", n);
	n = read(m, b, sizeof b);
	CHECK(n == 6 && memcmp(b, "abcxyz", 6) == 0, "master read %zd '%.6s'", n, b);
	struct timespec a0, a1;
	clock_gettime(CLOCK_MONOTONIC, &a0);
	n = read(s, b, sizeof b);
	clock_gettime(CLOCK_MONOTONIC, &a1);
	double el = (a1.tv_sec - a0.tv_sec) + (a1.tv_nsec - a0.tv_nsec) / 1e9;
	CHECK(n == 0 && el >= 0.4, "VTIME read: %zd after %.2f s", n, el);
	return kobj_done();
}
