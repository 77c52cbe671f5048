/*
 * Figure 3-1 of the CONVEX Checkpoint Restart Guide (C Programming
 * Example), adapted only where Linux differs:
 *  - sigblock/sigmask/sigunblock/sigpause (4.2BSD) are sigprocmask and
 *    sigsuspend; glibc's sigpause(0) is System V's and would not wait;
 *  - restart() takes its signo argument: restart("ex1", 0, 0);
 *  - ANSI prototypes, and the headers strerror, exit, fork and waitpid
 *    need.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/types.h>
#include <chkpnt.h>
#include <sys/wait.h>
#include <unistd.h>

void do_child(void);
void do_parent(pid_t kid);
void sighandler(int s);

int main(void)
{
	pid_t pid; /* Process-id of forked child */
	sigset_t cont;

	sigemptyset(&cont);
	sigaddset(&cont, SIGCONT);
	sigprocmask(SIG_BLOCK, &cont, NULL); /* Block delivery of SIGCONT until */
					     /* the sigsuspend call in do_child(). */

	pid = fork(); /* Create a child process */
	if (pid < 0) {
		perror("unable to fork child process");
		exit(1);
	}

	if (pid == 0)
		do_child();
	else
		do_parent(pid);
	return 0;
}

/*
 * Wait for the parent to checkpoint and restart.
 */
void do_child(void)
{
	sigset_t none;

	signal(SIGCONT, sighandler);
	printf("Before checkpoint.\n");
	sigemptyset(&none);
	sigsuspend(&none); /* Wait for restart */
	printf("After restart.\n");
	exit(0);
}

/*
 * Checkpoint and restart child process.
 */
void do_parent(pid_t kid)
{
	pid_t rpid; /* Pid of restarted proc */
	sigset_t cont;

	sigemptyset(&cont);
	sigaddset(&cont, SIGCONT);
	sigprocmask(SIG_UNBLOCK, &cont, NULL);

	if (chkpnt(CHKPNT_PROC, kid, NULL, "ex1", CHKPNT_SIGROOT | CHKPNT_FORCE, SIGKILL) < 0) {
		fprintf(stderr, "chkpnt failed: %s\n", strerror(errno));
		/* Kill the child because the checkpoint failed */
		kill(kid, SIGKILL);
		exit(1);
	}

	/*
	 * We just killed child with the chkpnt(). We must wait
	 * for it to exit.
	 */
	if (waitpid(kid, (int *)0, 0) < 0) {
		fprintf(stderr, "waitpid failed: %s\n", strerror(errno));
		exit(1);
	}

	/*
	 * Restart child from the checkpoint file. A SIGCONT will
	 * be sent. This will end the child's sigsuspend call and cause
	 * it to exit.
	 */
	if ((rpid = restart("ex1", 0, 0)) < 0) {
		fprintf(stderr, "restart failed: %s\n", strerror(errno));
		exit(1);
	}

	/*
	 * Wait for the restarted child to exit.
	 */
	if (waitpid(rpid, (int *)0, 0) < 0) {
		fprintf(stderr, "waitpid failed: %s\n", strerror(errno));
		exit(1);
	}

	exit(0);
}

/*
 * Signal handler for SIGCONT.
 */
void sighandler(int s)
{
	printf("Got signal %d.\n", s);
}
