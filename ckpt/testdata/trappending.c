/*
 * trappending: a SIGTRAP handler with a SIGTRAP blocked and pending, for
 * checkpoint/restart tests.
 *
 * usage: trappending OUTFILE
 *
 * Once ready, and after "go" appears in its working directory, writes
 * "trap: handler=H pending=P": whether its handler is still installed and
 * SIGTRAP still pending; then unblocks SIGTRAP and writes "ran: N", the
 * number of times its handler ran (1), and exits.
 */
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t ran;
static void on_trap(int sig) { (void)sig; ran++; }

static void report(FILE *out) {
	struct sigaction sa;
	sigaction(SIGTRAP, NULL, &sa);
	sigset_t p;
	sigpending(&p);
	fprintf(out, "trap: handler=%d pending=%d\n", sa.sa_handler == on_trap, sigismember(&p, SIGTRAP));
	fflush(out);
}

int main(int argc, char **argv) {
	if (argc < 2)
		return 2;
	FILE *out = fopen(argv[1], "a");
	struct sigaction sa = {0};
	sa.sa_handler = on_trap;
	sigaction(SIGTRAP, &sa, NULL);
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGTRAP);
	sigprocmask(SIG_BLOCK, &s, NULL);
	raise(SIGTRAP);
	report(out);
	struct stat st;
	while (stat("go", &st) != 0) {
		struct timespec ts = {0, 20 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	report(out);
	sigprocmask(SIG_UNBLOCK, &s, NULL);
	fprintf(out, "ran: %d\n", ran);
	fclose(out);
	return 0;
}
