// sharetab MODE READY: a child made by clone(2) shares with its parent
// its descriptor table (MODE files: CLONE_FILES), its fs struct (fs:
// CLONE_FS) or its memory (vm: CLONE_VM); both then wait.
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

static int child(void *arg) {
	(void)arg;
	/* Gone with the parent the test kills, never left behind. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1) _exit(0);
	for (;;) pause();
	return 0;
}

int main(int argc, char **argv) {
	if (argc < 3) return 2;
	int flags = SIGCHLD;
	if (strcmp(argv[1], "files") == 0) flags |= CLONE_FILES;
	else if (strcmp(argv[1], "fs") == 0) flags |= CLONE_FS;
	else if (strcmp(argv[1], "vm") == 0) flags |= CLONE_VM;
	else return 2;
	size_t size = 1 << 20;
	char *stack = malloc(size);
	if (clone(child, stack + size, flags, NULL) < 0) return 3;
	close(open(argv[2], O_CREAT | O_WRONLY, 0644));
	for (;;) pause();
}
