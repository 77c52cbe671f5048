/*
 * omp: chkpnt(3) called from within an OpenMP parallel region fails with
 * EINVAL (the guide: it "cannot be called from within a multithreaded
 * region"); restart(3) after the region runs the utility (ENOENT for a
 * missing file). Prints "parallel RET ERRNO" and "serial RET ERRNO".
 */
#include <chkpnt.h>
#include <errno.h>
#include <omp.h>
#include <stdio.h>

int main(void)
{
	int r = 0, e = 0;
#pragma omp parallel num_threads(2)
	{
#pragma omp master
		{
			r = chkpnt(CHKPNT_PROC, 0, NULL, "omp.img", 0, 0);
			e = r < 0 ? errno : 0;
		}
	}
	printf("parallel %d %d\n", r, e);
	errno = 0;
	r = (int)restart("no-such.img", 0, 0);
	printf("serial %d %d\n", r, r < 0 ? errno : 0);
	return 0;
}
