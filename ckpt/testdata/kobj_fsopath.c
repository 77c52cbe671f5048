/* O_PATH descriptors on what cannot be opened for I/O: a FIFO, a unix
 * socket's file, a directory, /dev/null, a symlink to a directory
 * (O_NOFOLLOW); each the same inode, still O_PATH. */
#include "kobj.h"
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/un.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	mkfifo("fifo", 0600);
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	strcpy(sun.sun_path, "sock");
	if (bind(s, (struct sockaddr *)&sun, sizeof sun)) DIE("bind: %s", strerror(errno));
	close(s);
	mkdir("dir", 0700);
	symlink("dir", "link");
	const char *names[] = {"fifo", "sock", "dir", "/dev/null", "link"};
	int fds[5];
	struct stat before[5];
	for (int i = 0; i < 5; i++) {
		fds[i] = open(names[i], O_PATH | (i == 4 ? O_NOFOLLOW : 0));
		if (fds[i] < 0) DIE("open %s: %s", names[i], strerror(errno));
		fstat(fds[i], &before[i]);
	}
	kobj_wait();
	for (int i = 0; i < 5; i++) {
		struct stat st;
		CHECK(fstat(fds[i], &st) == 0 && st.st_ino == before[i].st_ino && st.st_mode == before[i].st_mode, "%s: not the same inode", names[i]);
		CHECK(fcntl(fds[i], F_GETFL) & O_PATH, "%s: lost O_PATH (%#o)", names[i], fcntl(fds[i], F_GETFL));
	}
	return kobj_done();
}
