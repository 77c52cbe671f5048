/*
 * The example of DragonFly BSD's sys_checkpoint(2), on Lazarus: a signal
 * asks the program to checkpoint itself (DragonFly's SIGCKPT, sent by
 * control-E there; Linux has neither, so SIGUSR1 stands in), the handler
 * only sets a reminder and the main loop checkpoints into x.ckpt; the
 * image is resumed with the utility (restart x.ckpt, DragonFly's
 * checkpt -r x.ckpt). chkpnt(3) returns 0 in the program that goes on, 1
 * in the resumed one, which then says so and exits 0 (DragonFly's goes
 * on forever; ending makes the test finite).
 */
#include <chkpnt.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t do_ckpt;

static void ckpt_signal(int sig)
{
	(void)sig;
	do_ckpt = 1; /* a reminder: checkpoint from the main loop */
}

static void docheckpoint(long counter)
{
	int ret = chkpnt(CHKPNT_PROC, 0, NULL, "x.ckpt", CHKPNT_FORCE, 0);
	if (ret < 0) {
		printf("unable to checkpoint: %s\n", strerror(errno));
	} else if (ret == 0) {
		printf("checkpoint successful, continuing\n");
	} else if (ret == 1) {
		printf("resumed from checkpoint at %ld\n", counter);
		fflush(stdout);
		exit(0);
	}
	fflush(stdout);
}

int main(void)
{
	signal(SIGUSR1, ckpt_signal);
	printf("ready\n");
	fflush(stdout);
	for (long counter = 0;; counter++) {
		if (do_ckpt) {
			do_ckpt = 0;
			docheckpoint(counter);
		}
		usleep(10000);
	}
}
