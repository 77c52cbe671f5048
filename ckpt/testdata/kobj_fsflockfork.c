/* flock and OFD locks belong to an open file description: a parent and
 * its child share one description holding an exclusive flock and an OFD
 * lock. After the child closes its copy the parent's still holds both; a
 * third open of the file is refused both until the parent closes. */
#include "kobj.h"
#include <sys/file.h>
#include <sys/wait.h>

static int others_blocked(void) {
	int x = open("locked", O_RDWR);
	int f = flock(x, LOCK_EX | LOCK_NB);
	struct flock l = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10};
	int o = fcntl(x, F_OFD_SETLK, &l);
	close(x);
	return (f < 0 && errno == EWOULDBLOCK) + 2 * (o < 0);
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int fd = open("locked", O_RDWR | O_CREAT | O_TRUNC, 0644);
	ftruncate(fd, 100);
	if (flock(fd, LOCK_EX)) DIE("flock: %s", strerror(errno));
	struct flock l = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10};
	if (fcntl(fd, F_OFD_SETLK, &l)) DIE("ofd: %s", strerror(errno));
	int p[2];
	pipe(p);
	pid_t c = fork();
	if (c == 0) {
		close(p[0]);
		kobj_wait();
		close(fd);
		write(p[1], "x", 1);
		pause();
		_exit(0);
	}
	close(p[1]);
	kobj_wait();
	char x;
	read(p[0], &x, 1);
	CHECK(others_blocked() == 3, "after the child closed: others blocked %d, want 3", others_blocked());
	kill(c, SIGKILL);
	waitpid(c, NULL, 0);
	close(fd);
	CHECK(others_blocked() == 0, "after the parent closed: others blocked %d", others_blocked());
	return kobj_done();
}
