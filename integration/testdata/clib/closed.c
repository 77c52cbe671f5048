/*
 * closed: a program without standard input and output (closed, so the
 * library's pipe gets descriptors 0 and 1) checkpoints itself; prints
 * "closed RET ERRNO" on standard error. Restarted, it prints the same
 * with RET 1.
 */
#include <chkpnt.h>
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

int main(void)
{
	close(0);
	close(1);
	int r = chkpnt(CHKPNT_PROC, 0, NULL, "closed.img", 0, 0);
	fprintf(stderr, "closed %d %d\n", r, r < 0 ? errno : 0);
	return 0;
}
