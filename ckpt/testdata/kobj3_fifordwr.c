/* kobj3_fifordwr: a FIFO opened O_RDWR with data in it and a second
 * O_RDONLY|O_NONBLOCK descriptor of the same FIFO: both are still one pipe,
 * with the data, after the restart. */
#include "kobj.h"
#include <sys/stat.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	char path[4096];
	snprintf(path, sizeof path, "%s.fifo", argv[1]);
	if (mkfifo(path, 0600)) DIE("mkfifo");
	int rw = open(path, O_RDWR);
	int ro = open(path, O_RDONLY | O_NONBLOCK);
	if (rw < 0 || ro < 0) DIE("open");
	if (write(rw, "hello fifo", 10) != 10) DIE("write");
	kobj_wait();
	CHECK((fcntl(rw, F_GETFL) & O_ACCMODE) == O_RDWR, "rw: flags %#x", fcntl(rw, F_GETFL));
	CHECK((fcntl(ro, F_GETFL) & (O_ACCMODE | O_NONBLOCK)) == (O_RDONLY | O_NONBLOCK), "ro: flags %#x", fcntl(ro, F_GETFL));
	char b[32] = {0};
	ssize_t n = read(ro, b, sizeof b - 1);
	CHECK(n == 10 && memcmp(b, "hello fifo", 10) == 0, "ro read %zd '%s'", n, b);
	n = read(ro, b, sizeof b);
	CHECK(n < 0 && errno == EAGAIN, "more data: %zd", n);
	write(rw, "x", 1);
	n = read(ro, b, 1);
	CHECK(n == 1 && b[0] == 'x', "the two descriptors are not one FIFO: %zd", n);
	struct stat s1, s2;
	fstat(rw, &s1);
	stat(path, &s2);
	CHECK(s1.st_ino == s2.st_ino && S_ISFIFO(s1.st_mode), "rw is not the FIFO on disk");
	return kobj_done();
}
