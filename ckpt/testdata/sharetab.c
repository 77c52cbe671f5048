// sharetab MODE READY: a child made by clone(2) shares with its parent
// its descriptor table (MODE files: CLONE_FILES), its fs struct (fs:
// CLONE_FS) or its memory (vm: CLONE_VM); with MODE siblings a forked
// child clones a second one with CLONE_PARENT|CLONE_FILES: two siblings
// share a table their parent does not. All then wait.
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
	size_t size = 1 << 20;
	char *stack = malloc(size);
	if (strcmp(argv[1], "siblings") == 0) {
		int p[2];
		char c;
		if (pipe(p) < 0) return 3;
		if (fork() == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (clone(child, stack + size, CLONE_PARENT | CLONE_FILES, NULL) < 0) _exit(3);
			write(p[1], "c", 1);
			for (;;) pause();
		}
		if (read(p[0], &c, 1) != 1) return 3;
		close(open(argv[2], O_CREAT | O_WRONLY, 0644));
		for (;;) pause();
	}
	if (strcmp(argv[1], "files") == 0) flags |= CLONE_FILES;
	else if (strcmp(argv[1], "fs") == 0) flags |= CLONE_FS;
	else if (strcmp(argv[1], "vm") == 0) flags |= CLONE_VM;
	else return 2;
	if (clone(child, stack + size, flags, NULL) < 0) return 3;
	close(open(argv[2], O_CREAT | O_WRONLY, 0644));
	for (;;) pause();
}
