/* Unlinked files with odd attributes: mode 0666 and 04711 (the bits a
 * umask or a chown would take), another owner, a hole at the end (size
 * past the data), the offset past the end of file, O_APPEND; a second
 * descriptor opened by the same name before it went (another description
 * of the one file); an empty unlinked file. */
#include "kobj.h"
#include <sys/stat.h>

static int same(int a, int b) {
	struct stat x, y;
	return fstat(a, &x) == 0 && fstat(b, &y) == 0 && x.st_ino == y.st_ino && x.st_dev == y.st_dev;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int a = open("ua", O_RDWR | O_CREAT | O_TRUNC, 0600);
	int a2 = open("ua", O_RDONLY);
	int s = open("us", O_RDWR | O_CREAT | O_TRUNC, 0600);
	int e = open("ue", O_RDWR | O_CREAT | O_TRUNC | O_APPEND, 0600);
	if (a < 0 || a2 < 0 || s < 0 || e < 0) DIE("open: %s", strerror(errno));
	if (write(a, "data", 4) != 4 || ftruncate(a, 1 << 20)) DIE("fill: %s", strerror(errno));
	if (fchown(a, 1234, 5678) || fchmod(a, 0666)) DIE("chown: %s", strerror(errno));
	if (fchown(s, 42, 43) || fchmod(s, 04711)) DIE("setuid mode: %s", strerror(errno));
	lseek(a, 3 << 20, SEEK_SET);
	lseek(a2, 2, SEEK_SET);
	unlink("ua"), unlink("us"), unlink("ue");
	kobj_wait();
	struct stat st;
	fstat(a, &st);
	CHECK((st.st_mode & 07777) == 0666 && st.st_uid == 1234 && st.st_gid == 5678, "a: mode %o owner %d:%d", st.st_mode & 07777, st.st_uid, st.st_gid);
	CHECK(st.st_size == 1 << 20 && st.st_nlink == 0, "a: size %lld nlink %ld", (long long)st.st_size, (long)st.st_nlink);
	CHECK(lseek(a, 0, SEEK_CUR) == 3 << 20, "a: offset %lld", (long long)lseek(a, 0, SEEK_CUR));
	CHECK(lseek(a, 0, SEEK_HOLE) == 4096 || lseek(a, 0, SEEK_HOLE) == 4, "a: first hole at %lld", (long long)lseek(a, 0, SEEK_HOLE));
	lseek(a, 3 << 20, SEEK_SET);
	CHECK(same(a, a2), "a and a2 are not one file");
	char b[8] = {0};
	CHECK(read(a2, b, 2) == 2 && memcmp(b, "ta", 2) == 0, "a2 at its offset: %s", b);
	fstat(s, &st);
	CHECK((st.st_mode & 07777) == 04711 && st.st_uid == 42 && st.st_gid == 43, "s: mode %o owner %d:%d", st.st_mode & 07777, st.st_uid, st.st_gid);
	fstat(e, &st);
	CHECK(st.st_size == 0 && (fcntl(e, F_GETFL) & O_APPEND), "e: size %lld flags %#o", (long long)st.st_size, fcntl(e, F_GETFL));
	return kobj_done();
}
