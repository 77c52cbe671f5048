/* kobj4a_lockwait: conflicting waiters across the checkpoint. The parent
 * holds a POSIX write lock on bytes 0-99 and an exclusive flock of a
 * second file; one child waits in fcntl(F_SETLKW) for bytes 50-59, another
 * in flock(LOCK_EX). After the restart the parent still holds both (a
 * third child's F_GETLK and LOCK_NB say so), and once it lets go each
 * waiter gets its lock. */
#include "kobj.h"
#include <sys/file.h>
#include <sys/wait.h>

static pid_t waiter(int posix) {
	pid_t c = fork();
	if (c) return c;
	int fd = open(posix ? "lw-posix" : "lw-flock", O_RDWR);
	if (posix) {
		struct flock l = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 50, .l_len = 10};
		while (fcntl(fd, F_SETLKW, &l) < 0)
			if (errno != EINTR) _exit(10);
		/* Got it: the parent let go. Still held when it asks. */
		struct flock q = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 55, .l_len = 1};
		fcntl(fd, F_GETLK, &q);
		if (q.l_type != F_UNLCK) _exit(11);
		_exit(0);
	}
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR) _exit(12);
	_exit(0);
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int p = open("lw-posix", O_RDWR | O_CREAT | O_TRUNC, 0644);
	int f = open("lw-flock", O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (p < 0 || f < 0) DIE("open: %s", strerror(errno));
	ftruncate(p, 200);
	struct flock l = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 100};
	if (fcntl(p, F_SETLK, &l)) DIE("F_SETLK: %s", strerror(errno));
	if (flock(f, LOCK_EX)) DIE("flock: %s", strerror(errno));
	pid_t w1 = waiter(1), w2 = waiter(0);
	/* Both waiters block (their state is S in a lock wait). */
	for (int i = 0; i < 500; i++) {
		char path[64];
		snprintf(path, sizeof path, "/proc/%d/wchan", w1);
		const char *a = read_file(path);
		int ok1 = strstr(a, "lock") != NULL;
		snprintf(path, sizeof path, "/proc/%d/wchan", w2);
		a = read_file(path);
		if (ok1 && strstr(a, "lock")) break;
		usleep(10000);
	}
	kobj_wait();
	pid_t me = getpid();
	pid_t c = fork();
	if (c == 0) {
		int x = open("lw-posix", O_RDWR), y = open("lw-flock", O_RDWR);
		struct flock q = {.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 10, .l_len = 1};
		fcntl(x, F_GETLK, &q);
		int bad = q.l_type != F_WRLCK || q.l_pid != me || q.l_start != 0 || q.l_len != 100;
		bad |= (flock(y, LOCK_SH | LOCK_NB) == 0) << 1;
		_exit(bad);
	}
	int st;
	waitpid(c, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the parent's locks are not held (bits %#x)", WEXITSTATUS(st));
	CHECK(waitpid(w1, &st, WNOHANG) == 0, "the F_SETLKW waiter did not wait: %#x", st);
	CHECK(waitpid(w2, &st, WNOHANG) == 0, "the flock waiter did not wait: %#x", st);
	l.l_type = F_UNLCK;
	fcntl(p, F_SETLK, &l);
	flock(f, LOCK_UN);
	waitpid(w1, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "F_SETLKW waiter: status %#x", st);
	waitpid(w2, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "flock waiter: status %#x", st);
	return kobj_done();
}
