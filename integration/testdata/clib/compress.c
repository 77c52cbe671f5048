/*
 * chkpnt(3) with CHKPNT_COMPRESS: the program fills 8 MiB with text,
 * checkpoints itself compressed into z.ckpt and ends; restarted from it,
 * chkpnt returns 1 and the program checks its memory.
 */
#include <chkpnt.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void)
{
	size_t n = 8 << 20;
	char *p = malloc(n);
	if (p == NULL)
		return 2;
	for (size_t i = 0; i < n; i++)
		p[i] = "compressible memory of a simulation\n"[i % 36];
	int ret = chkpnt(CHKPNT_PROC, 0, NULL, "z.ckpt", CHKPNT_COMPRESS | CHKPNT_FORCE, 0);
	if (ret < 0) {
		printf("unable to checkpoint: %s\n", strerror(errno));
		return 1;
	}
	if (ret == 0) {
		printf("checkpointed\n");
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		if (p[i] != "compressible memory of a simulation\n"[i % 36]) {
			printf("memory differs at %zu\n", i);
			return 1;
		}
	printf("resumed, memory intact\n");
	return 0;
}
