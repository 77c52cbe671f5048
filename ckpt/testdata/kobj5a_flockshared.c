/* kobj5a_flockshared: flock held shared by two descriptions (the parent's
 * and its child's own opens of one file), and exclusively by a third
 * description dup'd in the parent and inherited by the child. After the
 * restart: a new description gets LOCK_SH but not LOCK_EX of the first
 * file; the child closing its copy of the third leaves it locked; the
 * parent's LOCK_UN through its dup frees it. */
#include "kobj.h"
#include <sys/file.h>
#include <sys/wait.h>

static void waitgo(void) {
	sigset_t cur;
	sigprocmask(SIG_BLOCK, NULL, &cur);
	sigdelset(&cur, SIGUSR1);
	while (!kobj_go) sigsuspend(&cur);
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	close(open("shared", O_CREAT | O_RDWR, 0644));
	close(open("excl", O_CREAT | O_RDWR, 0644));
	int s = open("shared", O_RDONLY);
	int e = open("excl", O_RDWR);
	if (flock(s, LOCK_SH) || flock(e, LOCK_EX)) DIE("flock");
	int e2 = dup(e);
	int sync[2], done[2];
	pipe(sync); pipe(done);
	pid_t c = fork();
	if (c == 0) {
		int cs = open("shared", O_RDONLY);
		if (flock(cs, LOCK_SH | LOCK_NB)) _exit(3);
		write(sync[1], "r", 1);
		waitgo();
		close(e);
		close(e2);
		char x;
		read(done[0], &x, 1);
		_exit(0);
	}
	char x;
	read(sync[0], &x, 1);
	kobj_wait();
	int n = open("shared", O_RDONLY);
	CHECK(flock(n, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK, "LOCK_EX on the shared file was granted");
	CHECK(flock(n, LOCK_SH | LOCK_NB) == 0, "LOCK_SH on the shared file refused");
	close(n);
	usleep(200000); /* the child closes its copies of e */
	int ne = open("excl", O_RDWR);
	CHECK(flock(ne, LOCK_SH | LOCK_NB) < 0, "the exclusive lock went with the child's copy");
	flock(e2, LOCK_UN);
	CHECK(flock(ne, LOCK_EX | LOCK_NB) == 0, "the lock is still held after LOCK_UN");
	flock(ne, LOCK_UN);
	/* the child's shared lock still holds */
	n = open("shared", O_RDONLY);
	flock(s, LOCK_UN);
	CHECK(flock(n, LOCK_EX | LOCK_NB) < 0, "the child's shared lock is gone");
	write(done[1], "d", 1);
	int st;
	waitpid(c, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child %#x", st);
	return kobj_done();
}
