/* kobj4a_lockschild: POSIX locks belong to processes: the parent holds a
 * write lock on bytes 0-9 and a read lock on 20-29 of one file, its child
 * (same descriptor, inherited) a write lock on 40-49 and a read lock on
 * 20-29 too; a read lock set with SEEK_END is stored absolute. After the
 * restart a third process sees each lock with its owner's pid. */
#include "kobj.h"
#include <sys/wait.h>

static int fd;

static int lk(int type, int whence, long start, long len) {
	struct flock l = {.l_type = type, .l_whence = whence, .l_start = start, .l_len = len};
	return fcntl(fd, F_SETLK, &l);
}

static int owner(long at, int type, pid_t *pid, long *start, long *len) {
	struct flock q = {.l_type = type, .l_whence = SEEK_SET, .l_start = at, .l_len = 1};
	if (fcntl(fd, F_GETLK, &q)) return -1;
	*pid = q.l_pid;
	*start = q.l_start;
	*len = q.l_len;
	return q.l_type;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	fd = open("lc-file", O_RDWR | O_CREAT | O_TRUNC, 0644);
	ftruncate(fd, 1000);
	if (lk(F_WRLCK, SEEK_SET, 0, 10) || lk(F_RDLCK, SEEK_SET, 20, 10) || lk(F_RDLCK, SEEK_END, -100, 50))
		DIE("parent locks: %s", strerror(errno));
	int go[2];
	pipe(go);
	pid_t c = fork();
	if (c == 0) {
		if (lk(F_WRLCK, SEEK_SET, 40, 10) || lk(F_RDLCK, SEEK_SET, 20, 10)) _exit(9);
		char x;
		/* SIGUSR1 stays blocked: the child waits for its parent. */
		while (read(go[0], &x, 1) < 0 && errno == EINTR) {}
		_exit(0);
	}
	usleep(100000);
	kobj_wait();
	pid_t me = getpid();
	pid_t q = fork();
	if (q == 0) {
		fd = open("lc-file", O_RDWR);
		pid_t p;
		long s, l;
		int bad = 0;
		bad |= (owner(5, F_RDLCK, &p, &s, &l) != F_WRLCK || p != me || s != 0 || l != 10);
		bad |= (owner(45, F_RDLCK, &p, &s, &l) != F_WRLCK || p != c || s != 40 || l != 10) << 1;
		bad |= (owner(25, F_WRLCK, &p, &s, &l) != F_RDLCK || (p != me && p != c) || s != 20 || l != 10) << 2;
		bad |= (owner(910, F_WRLCK, &p, &s, &l) != F_RDLCK || p != me || s != 900 || l != 50) << 3;
		bad |= (owner(15, F_WRLCK, &p, &s, &l) != F_UNLCK) << 4;
		_exit(bad);
	}
	int st;
	waitpid(q, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "locks seen wrong (bits %#x)", WEXITSTATUS(st));
	/* The parent's own view: it conflicts only with its child's lock. */
	pid_t p;
	long s, l;
	CHECK(owner(45, F_RDLCK, &p, &s, &l) == F_WRLCK && p == c, "the parent does not see its child's lock");
	CHECK(owner(5, F_WRLCK, &p, &s, &l) == F_UNLCK, "the parent conflicts with its own lock");
	/* Read lock 20-29 is held by both: the parent's release leaves the child's. */
	lk(F_UNLCK, SEEK_SET, 20, 10);
	CHECK(owner(25, F_WRLCK, &p, &s, &l) == F_RDLCK && p == c, "after the parent's unlock, 20-29 is not the child's: pid %d", p);
	write(go[1], "x", 1);
	waitpid(c, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child: %#x", st);
	return kobj_done();
}
