/* reaperwrap: a child subreaper that never reaps. It runs its arguments
 * as a child and then only waits for signals, so that a process orphaned
 * in the child's tree comes to it and stays a zombie, as under an init
 * process that does not collect orphans. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <unistd.h>

int main(int argc, char **argv) {
	if (argc < 2 || prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) {
		perror("reaperwrap");
		return 1;
	}
	pid_t pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		dup2(null, 0);
		dup2(null, 1);
		close(null);
		execvp(argv[1], argv + 1);
		perror("exec");
		_exit(127);
	}
	printf("%d\n", pid);
	fflush(stdout);
	for (;;)
		pause();
}
