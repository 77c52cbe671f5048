/*
 * fdsig: descriptors with signal owners, a signal and a lease, for
 * checkpoint/restart tests.
 *
 * usage: fdsig OUTFILE LEASEFILE
 *
 * The read end of a pipe is O_ASYNC, owned by the second thread
 * (F_SETOWN_EX F_OWNER_TID) and signals with SIGRTMIN+1 (F_SETSIG); one
 * end of a socketpair is owned by the process (F_SETOWN); LEASEFILE,
 * opened read-only, has a read lease (F_SETLEASE F_RDLCK).
 *
 * Once ready, and every 50 ms after "go" appears in its working
 * directory until "stop" appears, it writes lines "NAME: what":
 *   pipe: owner type, whether the owner is the second thread, the signal
 *   sock: owner is the process or not
 *   lease: F_GETLEASE
 *   sigio: which thread got the signal when the main thread wrote to the
 *     pipe, and for which descriptor (si_fd)
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static FILE *out;
static int p[2], sv[2], lfd;
static volatile pid_t second_tid, got_tid;
static volatile int got_fd;

static int exists(const char *path) {
	struct stat st;
	return stat(path, &st) == 0;
}

static void nap(long ms) {
	struct timespec ts = {0, ms * 1000 * 1000};
	nanosleep(&ts, NULL);
}

static void on_sig(int sig, siginfo_t *si, void *uc) {
	(void)sig, (void)uc;
	got_tid = syscall(SYS_gettid);
	got_fd = si->si_fd;
}

static void *second(void *arg) {
	(void)arg;
	second_tid = syscall(SYS_gettid);
	for (;;)
		pause();
	return NULL;
}

static void report(void) {
	struct f_owner_ex o;
	fcntl(p[0], F_GETOWN_EX, &o);
	fprintf(out, "pipe: type=%d second=%d sig=%d\n", o.type, o.pid == second_tid, fcntl(p[0], F_GETSIG) - SIGRTMIN);
	fprintf(out, "sock: owner-is-me=%d\n", fcntl(sv[0], F_GETOWN) == getpid());
	fprintf(out, "lease: %d\n", fcntl(lfd, F_GETLEASE));
	got_tid = 0;
	char c = 'x';
	write(p[1], &c, 1);
	for (int i = 0; i < 1000 && !got_tid; i++)
		nap(1);
	read(p[0], &c, 1);
	fprintf(out, "sigio: second=%d fd-is-pipe=%d\n", got_tid == second_tid, got_fd == p[0]);
	fflush(out);
}

int main(int argc, char **argv) {
	if (argc < 3)
		return 2;
	out = fopen(argv[1], "a");
	struct sigaction sa = {0};
	sa.sa_sigaction = on_sig;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigaction(SIGRTMIN + 1, &sa, NULL);
	pthread_t th;
	pthread_create(&th, NULL, second, NULL);
	while (!second_tid)
		nap(1);
	if (pipe(p) != 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		return 2;
	struct f_owner_ex o = {F_OWNER_TID, second_tid};
	if (fcntl(p[0], F_SETOWN_EX, &o) != 0 || fcntl(p[0], F_SETSIG, SIGRTMIN + 1) != 0 ||
	    fcntl(p[0], F_SETFL, O_ASYNC | O_NONBLOCK) != 0 || fcntl(sv[0], F_SETOWN, getpid()) != 0) {
		perror("fcntl");
		return 2;
	}
	lfd = open(argv[2], O_RDONLY);
	if (lfd < 0 || fcntl(lfd, F_SETLEASE, F_RDLCK) != 0) {
		perror("lease");
		return 2;
	}
	report();
	while (!exists("go"))
		nap(20);
	while (!exists("stop")) {
		report();
		nap(50);
	}
	return 0;
}
