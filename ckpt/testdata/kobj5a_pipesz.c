/* kobj5a_pipesz: pipe sizes and packets: F_SETPIPE_SZ 10000 (rounded to
 * 16384) holding 5000 bytes; one page (4096) full (a non-blocking write
 * fails EAGAIN); 256 KiB holding 200000; a packet pipe (O_DIRECT) holding
 * writes of 5000 (two packets: 4096 and 904), 3 and 1 bytes, a FIFO of
 * 12288 asked (16384). */
#include "kobj.h"
#include <sys/stat.h>

static unsigned char big[200000];

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int a[2], b[2], c[2], d[2];
	if (pipe(a) || pipe2(b, O_NONBLOCK) || pipe(c) || pipe2(d, O_DIRECT)) DIE("pipe");
	fcntl(a[1], F_SETPIPE_SZ, 10000);
	fcntl(b[1], F_SETPIPE_SZ, 4096);
	fcntl(c[1], F_SETPIPE_SZ, 256 * 1024);
	for (int i = 0; i < (int)sizeof big; i++) big[i] = i % 253;
	write(a[1], big, 5000);
	int nb = 0;
	while (write(b[1], "z", 1) == 1) nb++;
	fcntl(c[1], F_SETFL, O_NONBLOCK);
	ssize_t cn = write(c[1], big, 200000);
	if (cn != 200000) DIE("256k pipe took %zd", cn);
	write(d[1], big, 5000);
	write(d[1], "abc", 3);
	write(d[1], "z", 1);
	unlink("fifo");
	mkfifo("fifo", 0600);
	int f = open("fifo", O_RDWR);
	fcntl(f, F_SETPIPE_SZ, 12288);
	write(f, "fifo", 4);
	kobj_wait();
	CHECK(fcntl(a[0], F_GETPIPE_SZ) == 16384, "a size %d", fcntl(a[0], F_GETPIPE_SZ));
	CHECK(fcntl(b[0], F_GETPIPE_SZ) == 4096, "b size %d", fcntl(b[0], F_GETPIPE_SZ));
	CHECK(fcntl(c[0], F_GETPIPE_SZ) == 256 * 1024, "c size %d", fcntl(c[0], F_GETPIPE_SZ));
	CHECK(fcntl(f, F_GETPIPE_SZ) == 16384, "fifo size %d", fcntl(f, F_GETPIPE_SZ));
	CHECK(fcntl(d[0], F_GETPIPE_SZ) == 65536, "d size %d", fcntl(d[0], F_GETPIPE_SZ));
	int q = 0;
	CHECK(write(b[1], "z", 1) < 0 && errno == EAGAIN, "the full page pipe took a byte");
	static unsigned char got[300000];
	ssize_t n = read(a[0], got, sizeof got);
	CHECK(n == 5000 && memcmp(got, big, 5000) == 0, "a read %zd", n);
	n = read(b[0], got, sizeof got);
	CHECK(n == nb && nb == 4096, "b read %zd of %d", n, nb);
	size_t off = 0;
	fcntl(c[0], F_SETFL, O_NONBLOCK);
	while ((n = read(c[0], got + off, sizeof got - off)) > 0) off += n;
	CHECK(off == 200000 && memcmp(got, big, off) == 0, "c read %zu", off);
	CHECK(fcntl(d[1], F_GETFL) & O_DIRECT, "d not O_DIRECT");
	n = read(d[0], got, sizeof got);
	CHECK(n == 4096 && memcmp(got, big, 4096) == 0, "packet 1: %zd", n);
	n = read(d[0], got, sizeof got);
	CHECK(n == 904 && memcmp(got, big + 4096, 904) == 0, "packet 2: %zd", n);
	n = read(d[0], got, 2);
	CHECK(n == 2 && memcmp(got, "ab", 2) == 0, "packet 3: %zd", n);
	n = read(d[0], got, sizeof got);
	CHECK(n == 1 && got[0] == 'z', "packet 4 (the rest of packet 3 must be gone): %zd '%c'", n, got[0]);
	(void)q;
	n = read(f, got, sizeof got);
	CHECK(n == 4, "fifo read %zd", n);
	return kobj_done();
}
