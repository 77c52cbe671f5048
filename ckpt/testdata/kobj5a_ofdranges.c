/* kobj5a_ofdranges: OFD locks on byte ranges of one file by two
 * descriptions: the first a write lock on 0-9, a read lock on 20-29 and a
 * read lock from 100 to the end (l_len 0); the second a read lock on
 * 20-29 and a write lock on 50-59 set with a negative length (start 60,
 * l_len -10); beside them a POSIX lock of the process on 30-39. After
 * the restart F_OFD_GETLK from a third description finds each. */
#include "kobj.h"

static int lk(int fd, int cmd, short type, off_t start, off_t len) {
	struct flock f = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
	return fcntl(fd, cmd, &f);
}

static struct flock probe(int fd, short type, off_t start, off_t len) {
	struct flock f = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
	fcntl(fd, F_OFD_GETLK, &f);
	return f;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int a = open("ofd", O_RDWR | O_CREAT, 0644);
	int b = open("ofd", O_RDWR);
	if (lk(a, F_OFD_SETLK, F_WRLCK, 0, 10) || lk(a, F_OFD_SETLK, F_RDLCK, 20, 10) || lk(a, F_OFD_SETLK, F_RDLCK, 100, 0)) DIE("a: %s", strerror(errno));
	if (lk(b, F_OFD_SETLK, F_RDLCK, 20, 10) || lk(b, F_OFD_SETLK, F_WRLCK, 60, -10)) DIE("b: %s", strerror(errno));
	if (lk(a, F_SETLK, F_WRLCK, 30, 10)) DIE("posix: %s", strerror(errno));
	kobj_wait();
	int c = open("ofd", O_RDWR);
	struct flock f = probe(c, F_RDLCK, 0, 1);
	CHECK(f.l_type == F_WRLCK && f.l_start == 0 && f.l_len == 10 && f.l_pid == -1, "0-9: type %d %ld+%ld pid %d", f.l_type, (long)f.l_start, (long)f.l_len, f.l_pid);
	f = probe(c, F_RDLCK, 10, 10);
	CHECK(f.l_type == F_UNLCK, "10-19 locked");
	f = probe(c, F_RDLCK, 20, 10);
	CHECK(f.l_type == F_UNLCK, "20-29 refuses a read lock");
	f = probe(c, F_WRLCK, 25, 1);
	CHECK(f.l_type == F_RDLCK && f.l_start == 20 && f.l_len == 10, "20-29: type %d %ld+%ld", f.l_type, (long)f.l_start, (long)f.l_len);
	f = probe(c, F_RDLCK, 55, 1);
	CHECK(f.l_type == F_WRLCK && f.l_start == 50 && f.l_len == 10, "50-59: type %d %ld+%ld", f.l_type, (long)f.l_start, (long)f.l_len);
	f = probe(c, F_RDLCK, 45, 5);
	CHECK(f.l_type == F_UNLCK, "45-49 locked");
	f = probe(c, F_WRLCK, 1000000, 1);
	CHECK(f.l_type == F_RDLCK && f.l_start == 100 && f.l_len == 0, "100-: type %d %ld+%ld", f.l_type, (long)f.l_start, (long)f.l_len);
	f = probe(c, F_WRLCK, 35, 1);
	CHECK(f.l_type == F_WRLCK && f.l_pid == getpid(), "the POSIX lock: type %d pid %d", f.l_type, f.l_pid);
	/* each description's own locks do not conflict with itself */
	CHECK(lk(b, F_OFD_SETLK, F_WRLCK, 55, 1) == 0, "b cannot take its own range");
	CHECK(lk(b, F_OFD_SETLK, F_WRLCK, 5, 1) < 0, "b took a's range");
	return kobj_done();
}
