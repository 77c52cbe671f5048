/* kobj3_forkoffset: one open file shared by a dup in the parent and by a
 * child through fork keeps one offset: the child's seek after the restart
 * moves the parent's two descriptors; a second open (O_APPEND) has its own.
 * Nothing writes the file after the set-up: the restart finds it as it was. */
#include "kobj.h"
#include <sys/wait.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	char path[4096];
	snprintf(path, sizeof path, "%s.data", argv[1]);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) DIE("open");
	if (write(fd, "0123456789abcdef", 16) != 16) DIE("write");
	lseek(fd, 3, SEEK_SET);
	int d = dup(fd);
	int other = open(path, O_RDWR | O_APPEND);
	lseek(other, 7, SEEK_SET);
	pid_t c = fork();
	if (c == 0) {
		sigset_t cur;
		sigprocmask(SIG_BLOCK, NULL, &cur);
		sigdelset(&cur, SIGUSR1);
		while (!kobj_go) sigsuspend(&cur);
		int ok = lseek(fd, 0, SEEK_CUR) == 3 && lseek(other, 0, SEEK_CUR) == 7;
		lseek(fd, 11, SEEK_SET);
		lseek(other, 13, SEEK_SET);
		_exit(ok ? 0 : 1);
	}
	kobj_wait();
	int ws;
	waitpid(c, &ws, 0);
	CHECK(WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "the child saw other offsets (status %#x)", ws);
	CHECK(lseek(fd, 0, SEEK_CUR) == 11, "fd offset %ld, want 11 (set by the child)", (long)lseek(fd, 0, SEEK_CUR));
	CHECK(lseek(d, 0, SEEK_CUR) == 11, "dup offset %ld, want 11", (long)lseek(d, 0, SEEK_CUR));
	CHECK(lseek(other, 0, SEEK_CUR) == 13, "the O_APPEND file's offset %ld, want 13 (set by the child)", (long)lseek(other, 0, SEEK_CUR));
	CHECK(fcntl(other, F_GETFL) & O_APPEND, "O_APPEND lost");
	char b[32] = {0};
	pread(fd, b, 31, 0);
	CHECK(strcmp(b, "0123456789abcdef") == 0, "file %s", b);
	return kobj_done();
}
