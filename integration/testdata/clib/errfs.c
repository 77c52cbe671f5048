/*
 * errfs FULL RO: checkpoints a child of its own into directory FULL (a
 * file system too small for the image: ENOSPC) and RO (a read-only one:
 * EROFS); prints "CASE RESULT ERRNO".
 */
#include <chkpnt.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	/* A child with memory to save: more than the small file system holds. */
	int p[2];
	if (pipe(p) < 0)
		return 2;
	pid_t kid = fork();
	if (kid == 0) {
		size_t n = 4 << 20;
		volatile char *m = malloc(n);
		for (size_t i = 0; i < n; i += 4096)
			m[i] = (char)(i / 4096 + 1);
		close(p[0]);
		if (write(p[1], "x", 1) != 1)
			_exit(1);
		close(p[1]);
		for (;;)
			pause();
	}
	close(p[1]);
	char c;
	if (read(p[0], &c, 1) != 1)
		return 2;
	close(p[0]);
	int r = chkpnt(CHKPNT_PROC, kid, argv[1], "full.img", 0, 0);
	printf("enospc %d %d\n", r, r < 0 ? errno : 0);
	r = chkpnt(CHKPNT_PROC, kid, argv[2], "ro.img", 0, 0);
	printf("erofs %d %d\n", r, r < 0 ? errno : 0);
	kill(kid, SIGKILL);
	waitpid(kid, NULL, 0);
	return 0;
}
