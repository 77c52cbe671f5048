/* A process that traces its child (PTRACE_SEIZE): the checkpoint refuses
 * it with a clear message and both go on. */
#include "kobj.h"
#include <sys/ptrace.h>
#include <sys/wait.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	pid_t c = fork();
	if (c == 0) {
		for (;;) pause();
	}
	if (ptrace(PTRACE_SEIZE, c, 0, 0)) DIE("PTRACE_SEIZE: %s", strerror(errno));
	kobj_wait();
	CHECK(ptrace(PTRACE_INTERRUPT, c, 0, 0) == 0, "PTRACE_INTERRUPT: %s", strerror(errno));
	int st;
	CHECK(waitpid(c, &st, __WALL) == c && WIFSTOPPED(st), "tracee did not stop");
	kill(c, SIGKILL);
	ptrace(PTRACE_CONT, c, 0, 0);
	waitpid(c, &st, __WALL);
	return kobj_done();
}
