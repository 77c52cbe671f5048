/* kobj4b_stopsig: two stopped children: A stopped by SIGTSTP whose stop the
 * parent already collected (waitpid WUNTRACED), B stopped by SIGTTIN not
 * collected yet. After the restart A is still stopped with nothing to
 * report, B reports its stop once with WSTOPSIG SIGTTIN; SIGCONT makes
 * each report WCONTINUED and run again. Each child leads a process group
 * of its own: the kernel discards SIGTSTP and SIGTTIN in an orphaned
 * group, which the test's may be. */
#include "kobj.h"
#include <sys/wait.h>

static char state(pid_t p) {
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/stat", p);
	const char *b = read_file(path);
	const char *r = strrchr(b, ')');
	return r ? r[2] : '?';
}

static pid_t child(void) {
	pid_t c = fork();
	if (c == 0) {
		setpgid(0, 0);
		signal(SIGUSR1, SIG_IGN);
		for (;;) pause();
	}
	setpgid(c, c);
	return c;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	pid_t a = child(), b = child();
	int st;
	kill(a, SIGTSTP);
	if (waitpid(a, &st, WUNTRACED) != a || !WIFSTOPPED(st) || WSTOPSIG(st) != SIGTSTP) DIE("A did not stop: %#x", st);
	kill(b, SIGTTIN);
	for (int i = 0; i < 500 && state(b) != 'T'; i++) usleep(10000);
	if (state(b) != 'T') DIE("B did not stop");
	kobj_wait();
	CHECK(state(a) == 'T', "A in state %c, want T", state(a));
	CHECK(state(b) == 'T', "B in state %c, want T", state(b));
	st = 0;
	pid_t r = waitpid(a, &st, WUNTRACED | WNOHANG);
	CHECK(r == 0, "A reported again: %d status %#x", r, st);
	r = waitpid(b, &st, WUNTRACED | WNOHANG);
	CHECK(r == b && WIFSTOPPED(st) && WSTOPSIG(st) == SIGTTIN, "B: %d status %#x, want stopped by SIGTTIN", r, st);
	r = waitpid(b, &st, WUNTRACED | WNOHANG);
	CHECK(r == 0, "B reported twice: %d %#x", r, st);
	kill(a, SIGCONT);
	kill(b, SIGCONT);
	r = waitpid(a, &st, WCONTINUED);
	CHECK(r == a && WIFCONTINUED(st), "A after SIGCONT: %d %#x", r, st);
	r = waitpid(b, &st, WCONTINUED);
	CHECK(r == b && WIFCONTINUED(st), "B after SIGCONT: %d %#x", r, st);
	for (int i = 0; i < 500 && (state(a) == 'T' || state(b) == 'T'); i++) usleep(10000);
	CHECK(state(a) != 'T' && state(b) != 'T', "still stopped after SIGCONT: %c %c", state(a), state(b));
	kill(a, SIGKILL);
	kill(b, SIGKILL);
	waitpid(a, &st, 0);
	waitpid(b, &st, 0);
	return kobj_done();
}
