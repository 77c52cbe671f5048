/* kobj5b_resethand: actions checked by what they do: SIGUSR2 with
 * SA_RESETHAND | SA_NODEFER | SA_SIGINFO and a mask of SIGHUP; SIGPIPE
 * with SA_ONSTACK on an alternate stack and a mask of SIGRTMIN+1; SIGALRM
 * with SA_RESTART interrupting a read of a pipe. After the restart:
 * SIGUSR2's handler runs with SIGHUP blocked and SIGUSR2 not, once, the
 * action is SIG_DFL after it; SIGPIPE's runs on the alternate stack; the
 * read is restarted, not failed with EINTR. */
#include "kobj.h"
#include <stdint.h>
#include <sys/time.h>

static char alt[65536];
static volatile int usr2_runs, usr2_hup_blocked, usr2_self_blocked, usr2_reset;
static volatile int pipe_onstack, pipe_rt_blocked, alrm_runs;

static void onusr2(int s, siginfo_t *si, void *u) {
	(void)si; (void)u;
	sigset_t cur;
	sigprocmask(SIG_BLOCK, NULL, &cur);
	usr2_runs++;
	usr2_hup_blocked = sigismember(&cur, SIGHUP);
	usr2_self_blocked = sigismember(&cur, s);
	struct sigaction now;
	sigaction(s, NULL, &now);
	usr2_reset = now.sa_handler == SIG_DFL;
}

static void onpipe(int s) {
	(void)s;
	char here;
	pipe_onstack = (uintptr_t)&here >= (uintptr_t)alt && (uintptr_t)&here < (uintptr_t)alt + sizeof alt;
	sigset_t cur;
	sigprocmask(SIG_BLOCK, NULL, &cur);
	pipe_rt_blocked = sigismember(&cur, SIGRTMIN + 1);
}

static void onalrm(int s) { (void)s; alrm_runs++; }

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = onusr2;
	sa.sa_flags = SA_RESETHAND | SA_NODEFER | SA_SIGINFO;
	sigaddset(&sa.sa_mask, SIGHUP);
	sigaction(SIGUSR2, &sa, NULL);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = onpipe;
	sa.sa_flags = SA_ONSTACK;
	sigaddset(&sa.sa_mask, SIGRTMIN + 1);
	sigaction(SIGPIPE, &sa, NULL);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = onalrm;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &sa, NULL);
	stack_t st = {.ss_sp = alt, .ss_size = sizeof alt};
	sigaltstack(&st, NULL);
	int p[2];
	if (pipe(p)) DIE("pipe");
	kobj_wait();
	raise(SIGUSR2);
	CHECK(usr2_runs == 1 && usr2_hup_blocked && !usr2_self_blocked && usr2_reset,
	      "SIGUSR2: runs %d, SIGHUP blocked %d, SIGUSR2 blocked %d, reset %d", usr2_runs, usr2_hup_blocked, usr2_self_blocked, usr2_reset);
	struct sigaction now;
	sigaction(SIGUSR2, NULL, &now);
	CHECK(now.sa_handler == SIG_DFL, "SIGUSR2 action after it ran: %p", (void *)now.sa_handler);
	raise(SIGPIPE);
	CHECK(pipe_onstack && pipe_rt_blocked, "SIGPIPE: on the alternate stack %d, SIGRTMIN+1 blocked %d", pipe_onstack, pipe_rt_blocked);
	/* The read blocks; SIGALRM interrupts it after 100 ms, then a child
	 * writes after 300 ms: SA_RESTART makes read go on. */
	pid_t c = fork();
	if (c == 0) {
		usleep(300000);
		write(p[1], "x", 1);
		_exit(0);
	}
	struct itimerval it = {.it_value = {0, 100000}};
	setitimer(ITIMER_REAL, &it, NULL);
	char b;
	ssize_t n = read(p[0], &b, 1);
	CHECK(n == 1 && b == 'x' && alrm_runs == 1, "read %zd (%s), SIGALRM runs %d", n, n < 0 ? strerror(errno) : "", alrm_runs);
	return kobj_done();
}
