/* Files on tmpfs (DIR, under /dev/shm): a directory read halfway by
 * getdents (tmpfs offsets are positions in its list, not hashes), an
 * O_TMPFILE file, a FIFO holding bytes whose name was removed. */
#include "kobj.h"
#include <dirent.h>
#include <sys/stat.h>
#include <sys/syscall.h>

static int count(char *buf, long n) {
	int k = 0;
	for (long p = 0; p < n;) {
		struct dirent64 *e = (void *)(buf + p);
		if (e->d_name[0] != '.') k++;
		p += e->d_reclen;
	}
	return k;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	if (argc < 3) DIE("usage: OUT DIR");
	mkdir(argv[2], 0700);
	if (chdir(argv[2])) DIE("chdir: %s", strerror(errno));
	mkdir("d", 0755);
	for (int i = 0; i < 40; i++) {
		char n[64];
		snprintf(n, sizeof n, "d/entry-%02d", i);
		close(open(n, O_CREAT | O_WRONLY, 0644));
	}
	int dd = open("d", O_RDONLY | O_DIRECTORY);
	char buf[8192];
	long n1 = syscall(SYS_getdents64, dd, buf, 500);
	int first = count(buf, n1);
	off_t dpos = lseek(dd, 0, SEEK_CUR);
	int t = open(".", O_TMPFILE | O_RDWR, 0600);
	if (t < 0) DIE("O_TMPFILE: %s", strerror(errno));
	write(t, "tmpfs tmpfile", 13);
	mkfifo("fifo", 0600);
	int f = open("fifo", O_RDWR | O_NONBLOCK);
	write(f, "gone fifo", 9);
	unlink("fifo");
	struct stat tst;
	fstat(t, &tst);
	kobj_wait();
	CHECK(lseek(dd, 0, SEEK_CUR) == dpos, "directory offset %lld, was %lld", (long long)lseek(dd, 0, SEEK_CUR), (long long)dpos);
	long n2 = syscall(SYS_getdents64, dd, buf, sizeof buf);
	int rest = count(buf, n2);
	CHECK(first + rest == 40, "entries read before %d, after %d", first, rest);
	lseek(dd, dpos, SEEK_SET);
	char b[16] = {0};
	struct stat st;
	fstat(t, &st);
	CHECK(pread(t, b, 13, 0) == 13 && strcmp(b, "tmpfs tmpfile") == 0 && st.st_dev == tst.st_dev && st.st_nlink == 0, "tmpfile %s dev %lx", b, (long)st.st_dev);
	memset(b, 0, sizeof b);
	CHECK(read(f, b, sizeof b) == 9 && strcmp(b, "gone fifo") == 0, "removed fifo: %s", b);
	write(f, "gone fifo", 9);
	return kobj_done();
}
