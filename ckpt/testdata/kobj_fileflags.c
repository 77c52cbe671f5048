/* Open file descriptions: O_APPEND, O_NOATIME, O_DIRECT, O_SYNC,
 * offsets, dup'd descriptors sharing one offset, close-on-exec per
 * descriptor, an O_PATH descriptor, a directory read halfway. */
#include "kobj.h"
#include <dirent.h>
#include <sys/stat.h>
#include <sys/syscall.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int w = open("data", O_RDWR | O_CREAT | O_TRUNC, 0644);
	char buf[65536];
	memset(buf, 'x', sizeof buf);
	write(w, buf, sizeof buf);
	fsync(w);
	int ap = open("data", O_WRONLY | O_APPEND);
	int na = open("data", O_RDONLY | O_NOATIME);
	int di = open("data", O_RDONLY | O_DIRECT);
	int sy = open("data", O_RDWR | O_SYNC | O_DSYNC);
	lseek(na, 12345, SEEK_SET);
	lseek(di, 8192, SEEK_SET);
	int d1 = open("data", O_RDONLY);
	lseek(d1, 777, SEEK_SET);
	int d2 = dup(d1);
	int d3 = fcntl(d1, F_DUPFD_CLOEXEC, 40);
	int pa = open("data", O_PATH);
	mkdir("dir", 0755);
	for (int i = 0; i < 50; i++) {
		char n[64];
		snprintf(n, sizeof n, "dir/entry-%02d", i);
		close(open(n, O_CREAT | O_WRONLY, 0644));
	}
	int dd = open("dir", O_RDONLY | O_DIRECTORY);
	char dbuf[1024];
	long nread = syscall(SYS_getdents64, dd, dbuf, 600);
	if (nread <= 0) DIE("getdents: %s", strerror(errno));
	off_t dpos = lseek(dd, 0, SEEK_CUR);
	char rest[8192];
	int before[8];
	int fds[] = {w, ap, na, di, sy, d1, pa, dd};
	for (int i = 0; i < 8; i++) before[i] = fcntl(fds[i], F_GETFL);
	kobj_wait();
	for (int i = 0; i < 8; i++) {
		int now = fcntl(fds[i], F_GETFL);
		CHECK(now == before[i], "fd %d flags %#o, were %#o", fds[i], now, before[i]);
	}
	CHECK(lseek(w, 0, SEEK_CUR) == 65536, "w offset %ld", (long)lseek(w, 0, SEEK_CUR));
	CHECK(lseek(na, 0, SEEK_CUR) == 12345, "noatime offset %ld", (long)lseek(na, 0, SEEK_CUR));
	CHECK(lseek(di, 0, SEEK_CUR) == 8192, "direct offset %ld", (long)lseek(di, 0, SEEK_CUR));
	CHECK(d3 == 40 && fcntl(d3, F_GETFD) == FD_CLOEXEC && fcntl(d1, F_GETFD) == 0 && fcntl(d2, F_GETFD) == 0, "close-on-exec of the dups");
	lseek(d2, 1000, SEEK_SET);
	CHECK(lseek(d1, 0, SEEK_CUR) == 1000 && lseek(d3, 0, SEEK_CUR) == 1000, "dups do not share their offset: %ld %ld", (long)lseek(d1, 0, SEEK_CUR), (long)lseek(d3, 0, SEEK_CUR));
	CHECK(lseek(dd, 0, SEEK_CUR) == dpos, "directory offset %ld, was %ld", (long)lseek(dd, 0, SEEK_CUR), (long)dpos);
	/* The rest of the directory: every entry not read before, once. */
	long more = syscall(SYS_getdents64, dd, rest, sizeof rest);
	int seen = 0;
	for (long p = 0; p < nread;) { struct dirent64 *e = (void *)(dbuf + p); if (e->d_name[0] != '.') seen++; p += e->d_reclen; }
	for (long p = 0; p < more;) { struct dirent64 *e = (void *)(rest + p); if (e->d_name[0] != '.') seen++; p += e->d_reclen; }
	CHECK(seen == 50, "directory entries read %d, want 50", seen);
	char c;
	CHECK(pread(pa, &c, 1, 0) < 0 && errno == EBADF, "O_PATH descriptor reads");
	void *al;
	posix_memalign(&al, 4096, 4096);
	CHECK(read(di, al, 4096) == 4096, "O_DIRECT read: %s", strerror(errno));
	return kobj_done();
}
