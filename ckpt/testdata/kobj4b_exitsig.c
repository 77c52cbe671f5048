/* kobj4b_exitsig: children made by clone with an exit signal other than
 * SIGCHLD: one SIGUSR2 (a handler counts it), one 0 (no signal at all);
 * /proc/PID/stat field 38 shows it. After the restart each child's end
 * sends its own signal (or none) and waitpid(__WALL) reaps both. */
#include "kobj.h"
#include <sched.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static volatile int usr2, chld;
static void onusr2(int s) { (void)s; usr2++; }
static void onchld(int s) { (void)s; chld++; }

static int exit_signal(pid_t p) {
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/stat", p);
	const char *b = read_file(path);
	const char *q = strrchr(b, ')');
	for (int i = 2; q && i < 38; i++) q = strchr(q + 1, ' ');
	return q ? atoi(q + 1) : -1;
}

static pid_t child(int sig) {
	pid_t c = syscall(SYS_clone, sig, 0, 0, 0, 0);
	if (c == 0) {
		kobj_go = 0;
		sigset_t cur;
		sigprocmask(SIG_BLOCK, NULL, &cur);
		sigdelset(&cur, SIGUSR1);
		while (!kobj_go) sigsuspend(&cur);
		syscall(SYS_exit, 3);
	}
	return c;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	signal(SIGUSR2, onusr2);
	signal(SIGCHLD, onchld);
	pid_t a = child(SIGUSR2), b = child(0);
	if (a < 0 || b < 0) DIE("clone: %s", strerror(errno));
	if (exit_signal(a) != SIGUSR2 || exit_signal(b) != 0) DIE("exit signals %d %d", exit_signal(a), exit_signal(b));
	kobj_wait();
	CHECK(exit_signal(a) == SIGUSR2, "child A exit signal %d, want %d", exit_signal(a), SIGUSR2);
	CHECK(exit_signal(b) == 0, "child B exit signal %d, want 0", exit_signal(b));
	int st;
	pid_t r1 = waitpid(a, &st, __WALL);
	CHECK(r1 == a && WIFEXITED(st) && WEXITSTATUS(st) == 3, "A: %d %#x", r1, st);
	pid_t r2 = waitpid(b, &st, __WALL);
	CHECK(r2 == b && WIFEXITED(st) && WEXITSTATUS(st) == 3, "B: %d %#x", r2, st);
	for (int i = 0; i < 100 && !usr2; i++) usleep(10000);
	CHECK(usr2 == 1 && chld == 0, "SIGUSR2 %d SIGCHLD %d, want 1 0", usr2, chld);
	return kobj_done();
}
