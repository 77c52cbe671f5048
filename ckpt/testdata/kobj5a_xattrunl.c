/* kobj5a_xattrunl: an unlinked file with extended attributes (user.a,
 * a binary user.bin of 200 bytes, trusted.t), mode 0604, owner
 * 1234:5678 and mtime 2001-09-09: after the restart each is as it was,
 * with its bytes. A linked file keeps its user.k too. */
#include "kobj.h"
#include <sys/stat.h>
#include <sys/xattr.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int fd = open("xunl", O_RDWR | O_CREAT | O_TRUNC, 0600);
	int k = open("xlinked", O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || k < 0) DIE("open");
	write(fd, "content", 7);
	unsigned char bin[200];
	for (int i = 0; i < 200; i++) bin[i] = i;
	if (fsetxattr(fd, "user.a", "1", 1, 0) || fsetxattr(fd, "user.bin", bin, 200, 0)) DIE("fsetxattr: %s", strerror(errno));
	if (fsetxattr(fd, "trusted.t", "T", 1, 0)) DIE("trusted: %s", strerror(errno));
	fsetxattr(k, "user.k", "kk", 2, 0);
	fchmod(fd, 0604);
	fchown(fd, 1234, 5678);
	struct timespec ts[2] = {{1000000000, 123456789}, {1000000000, 987654321}};
	futimens(fd, ts);
	unlink("xunl");
	kobj_wait();
	char b[256];
	CHECK(fgetxattr(fd, "user.a", b, sizeof b) == 1 && b[0] == '1', "user.a");
	CHECK(fgetxattr(fd, "user.bin", b, sizeof b) == 200 && memcmp(b, bin, 200) == 0, "user.bin");
	CHECK(fgetxattr(fd, "trusted.t", b, sizeof b) == 1 && b[0] == 'T', "trusted.t: %s", strerror(errno));
	ssize_t n = flistxattr(fd, b, sizeof b);
	CHECK(n == (ssize_t)sizeof "user.a" + (ssize_t)sizeof "user.bin" + (ssize_t)sizeof "trusted.t", "list: %zd", n);
	CHECK(fgetxattr(k, "user.k", b, sizeof b) == 2, "user.k");
	struct stat st;
	fstat(fd, &st);
	CHECK((st.st_mode & 07777) == 0604 && st.st_uid == 1234 && st.st_gid == 5678, "mode %o owner %d:%d", st.st_mode & 07777, st.st_uid, st.st_gid);
	CHECK(st.st_mtim.tv_sec == 1000000000 && st.st_mtim.tv_nsec == 987654321, "mtime %ld.%09ld", (long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
	CHECK(st.st_nlink == 0 && st.st_size == 7, "nlink %lu size %ld", (unsigned long)st.st_nlink, (long)st.st_size);
	return kobj_done();
}
