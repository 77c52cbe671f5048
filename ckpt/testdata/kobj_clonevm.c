/* A child made by clone(CLONE_VM) without CLONE_THREAD: two processes on
 * one address space (refused: the restore rebuilds memory per process).
 * After the refused checkpoint both still share it: a word one writes the
 * other sees. */
#include "kobj.h"
#include <sched.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static volatile int word;
static char stack[65536] __attribute__((aligned(16)));

static int child(void *a) {
	(void)a;
	sigset_t all;
	sigfillset(&all);
	syscall(SYS_rt_sigprocmask, SIG_BLOCK, &all, NULL, 8);
	struct timespec ms = {0, 1000000};
	while (word != 1) syscall(SYS_nanosleep, &ms, NULL);
	word = 2;
	for (;;) syscall(SYS_pause);
	return 0;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	pid_t c = clone(child, stack + sizeof stack, CLONE_VM | SIGCHLD, NULL);
	if (c < 0) DIE("clone: %s", strerror(errno));
	kobj_wait();
	word = 1;
	for (int i = 0; i < 10000 && word != 2; i++) usleep(1000);
	CHECK(word == 2, "the CLONE_VM child did not see the write (word %d)", word);
	kill(c, SIGKILL);
	waitpid(c, NULL, 0);
	return kobj_done();
}
