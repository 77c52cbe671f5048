/* Locks on unlinked files: a POSIX write lock on a removed file and an
 * OFD read lock on a memfd; after the restart a child sees both held. */
#include "kobj.h"
#include <sys/mman.h>
#include <sys/wait.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int u = open("locked", O_RDWR | O_CREAT | O_TRUNC, 0600);
	ftruncate(u, 100);
	struct flock l = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 10, .l_len = 5};
	if (fcntl(u, F_SETLK, &l)) DIE("F_SETLK: %s", strerror(errno));
	unlink("locked");
	int m = memfd_create("kobj-locked", 0);
	ftruncate(m, 100);
	l = (struct flock){.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 50};
	if (fcntl(m, F_OFD_SETLK, &l)) DIE("F_OFD_SETLK: %s", strerror(errno));
	kobj_wait();
	pid_t me = getpid();
	pid_t c = fork();
	if (c == 0) {
		char p[64];
		snprintf(p, sizeof p, "/proc/%d/fd/%d", me, u);
		int x = open(p, O_RDWR);
		struct flock q = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 100};
		fcntl(x, F_GETLK, &q);
		int bad = !(q.l_type == F_WRLCK && q.l_start == 10 && q.l_len == 5 && q.l_pid == me);
		snprintf(p, sizeof p, "/proc/%d/fd/%d", me, m);
		x = open(p, O_RDWR);
		q = (struct flock){.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 100};
		fcntl(x, F_OFD_GETLK, &q);
		bad |= 2 * !(q.l_type == F_RDLCK && q.l_start == 0 && q.l_len == 50);
		_exit(bad);
	}
	int ws;
	waitpid(c, &ws, 0);
	CHECK(WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "locks seen by a child: %#x (1: the POSIX lock, 2: the OFD lock)", WEXITSTATUS(ws));
	return kobj_done();
}
