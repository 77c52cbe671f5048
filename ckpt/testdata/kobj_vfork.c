/* A parent waiting in vfork for a child that shares its memory and never
 * execs: refused once the checkpoint has waited its bound for the vfork
 * to end (seizecheck.go), and both go on. */
#include "kobj.h"
#include <sys/wait.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	pid_t c = vfork();
	if (c == 0) {
		kobj_wait();
		_exit(0);
	}
	int st;
	waitpid(c, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "vfork child");
	return kobj_done();
}
