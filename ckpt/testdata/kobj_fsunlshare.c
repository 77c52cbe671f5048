/* An unlinked file on tmpfs (/dev/shm, another filesystem than the
 * test's) shared by a parent and its child through one description and
 * mapped shared by the parent: the child's write (at the shared offset)
 * is seen by the parent, the parent's mapping and descriptor are one
 * file, on the filesystem it was on; two names of one inode open in two
 * descriptors stay one inode (st_nlink 2). */
#include "kobj.h"
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	if (argc < 3) DIE("usage: OUT DIR");
	const char *dir = argv[2];
	mkdir(dir, 0700);
	char path[300], l1[300], l2[300];
	snprintf(path, sizeof path, "%s/shared", dir);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0640);
	if (fd < 0) DIE("open %s: %s", path, strerror(errno));
	ftruncate(fd, 8192);
	char *m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	strcpy(m, "mapped");
	lseek(fd, 100, SEEK_SET);
	unlink(path);
	snprintf(l1, sizeof l1, "%s/one", dir);
	snprintf(l2, sizeof l2, "%s/two", dir);
	int a = open(l1, O_RDWR | O_CREAT | O_TRUNC, 0600);
	link(l1, l2);
	int b = open(l2, O_RDONLY);
	struct stat dst;
	stat(dir, &dst);
	pid_t c = fork();
	if (c == 0) {
		kobj_wait();
		write(fd, "child", 5);
		_exit(0);
	}
	kobj_wait();
	int ws;
	waitpid(c, &ws, 0);
	CHECK(WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "child %#x", ws);
	CHECK(lseek(fd, 0, SEEK_CUR) == 105, "the child's write did not move the shared offset: %lld", (long long)lseek(fd, 0, SEEK_CUR));
	CHECK(memcmp(m + 100, "child", 5) == 0, "the child's write is not in the parent's mapping");
	char buf[8] = {0};
	pread(fd, buf, 6, 0);
	CHECK(strcmp(buf, "mapped") == 0, "the mapping is not the descriptor's file: %s", buf);
	struct stat st;
	fstat(fd, &st);
	CHECK(st.st_dev == dst.st_dev, "made on another filesystem (dev %lx, was %lx)", (long)st.st_dev, (long)dst.st_dev);
	CHECK((st.st_mode & 0777) == 0640 && st.st_nlink == 0 && st.st_size == 8192, "mode %o nlink %ld size %lld", st.st_mode & 0777, (long)st.st_nlink, (long long)st.st_size);
	struct stat sa, sb;
	fstat(a, &sa);
	fstat(b, &sb);
	CHECK(sa.st_ino == sb.st_ino && sa.st_nlink == 2, "two names: inodes %lu %lu nlink %ld", sa.st_ino, sb.st_ino, (long)sa.st_nlink);
	return kobj_done();
}
