/* A child made by clone(CLONE_FILES|CLONE_FS) (a process, not a thread):
 * after the restart a descriptor the child opens is seen by the parent,
 * one the parent closes is gone for the child, and the child's chdir and
 * umask are the parent's. */
#include "kobj.h"
#include <sched.h>
#include <sys/stat.h>
#include <sys/wait.h>

static int pipefd[2], backfd[2];
static char stack[65536] __attribute__((aligned(16)));

static int child(void *arg) {
	(void)arg;
	kobj_wait();
	int fd = open("child-file", O_RDWR | O_CREAT, 0644);
	mkdir("sub", 0755);
	chdir("sub");
	umask(0123);
	char c = (char)fd;
	write(pipefd[1], &c, 1);
	read(backfd[0], &c, 1); /* until the parent has looked */
	_exit(fcntl(7, F_GETFD) < 0 ? 0 : 1);
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	pipe(pipefd);
	pipe(backfd);
	int seven = dup2(pipefd[0], 7);
	char cwd0[4096];
	getcwd(cwd0, sizeof cwd0);
	pid_t c = clone(child, stack + sizeof stack, CLONE_FILES | CLONE_FS | SIGCHLD, NULL);
	if (c < 0) DIE("clone: %s", strerror(errno));
	kobj_wait();
	char got;
	/* The child writes the number of its new descriptor on the pipe. */
	int r = read(pipefd[0], &got, 1);
	CHECK(r == 1 && fcntl(got, F_GETFD) >= 0, "the child's descriptor %d is not ours", got);
	char cwd[4096], want[4200];
	getcwd(cwd, sizeof cwd);
	snprintf(want, sizeof want, "%s/sub", cwd0);
	CHECK(strcmp(cwd, want) == 0, "the child's chdir is not ours: %s", cwd);
	mode_t m = umask(0);
	umask(m);
	CHECK(m == 0123, "the child's umask is not ours: %o", m);
	close(seven);
	write(backfd[1], "x", 1);
	int ws;
	waitpid(c, &ws, 0);
	CHECK(WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "the child still has fd 7 we closed (%#x)", ws);
	chdir(cwd0);
	umask(022);
	close(got);
	unlink("child-file");
	rmdir("sub");
	return kobj_done();
}
