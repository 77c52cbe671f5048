/* kobj4a_leaseread: a read lease (F_SETLEASE F_RDLCK) on a file opened
 * read-only, with the default signal (SIGIO, F_SETSIG 0): F_GETLEASE says
 * F_RDLCK after the restart, another process opening the file for writing
 * breaks it (the holder gets SIGIO), and a read-only open does not. */
#include "kobj.h"
#include <sys/wait.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int w = open("lr-file", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	write(w, "lease", 5);
	close(w);
	int fd = open("lr-file", O_RDONLY);
	if (fcntl(fd, F_SETLEASE, F_RDLCK)) DIE("F_SETLEASE: %s", strerror(errno));
	sigset_t io;
	sigemptyset(&io);
	sigaddset(&io, SIGIO);
	sigprocmask(SIG_BLOCK, &io, NULL);
	kobj_wait();
	CHECK(fcntl(fd, F_GETLEASE) == F_RDLCK, "F_GETLEASE %d", fcntl(fd, F_GETLEASE));
	pid_t c = fork();
	if (c == 0) {
		int r = open("lr-file", O_RDONLY | O_NONBLOCK);
		if (r < 0) _exit(3);
		close(r);
		int x = open("lr-file", O_WRONLY | O_NONBLOCK);
		_exit(x < 0 && errno == EWOULDBLOCK ? 0 : 4);
	}
	int st;
	waitpid(c, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "opens of another process: %#x", st);
	siginfo_t si;
	struct timespec ts = {5, 0};
	/* F_SETSIG 0: a plain SIGIO, without si_fd. */
	CHECK(sigtimedwait(&io, &si, &ts) == SIGIO, "no SIGIO for the lease break");
	fcntl(fd, F_SETLEASE, F_UNLCK);
	return kobj_done();
}
