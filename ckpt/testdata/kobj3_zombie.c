/* kobj3_zombie: children that ended but are not reaped (one exited 37, one
 * killed by SIGTERM, one stopped by SIGSTOP) give the same statuses to
 * waitid/waitpid after the restart. */
#include "kobj.h"
#include <sys/wait.h>

static char state(pid_t p) {
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/stat", p);
	const char *b = read_file(path);
	const char *r = strrchr(b, ')');
	return r ? r[2] : '?';
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	pid_t a = fork();
	if (a == 0) _exit(37);
	pid_t b = fork();
	if (b == 0) { for (;;) pause(); }
	kill(b, SIGTERM);
	for (int i = 0; i < 5000 && (state(a) != 'Z' || state(b) != 'Z'); i++) usleep(1000);
	if (state(a) != 'Z' || state(b) != 'Z') DIE("set-up: not zombies");
	siginfo_t si;
	memset(&si, 0, sizeof si);
	if (waitid(P_PID, a, &si, WEXITED | WNOWAIT)) DIE("waitid");
	kobj_wait();
	memset(&si, 0, sizeof si);
	CHECK(waitid(P_PID, a, &si, WEXITED | WNOWAIT) == 0, "waitid a: %s", strerror(errno));
	CHECK(si.si_pid == a && si.si_code == CLD_EXITED && si.si_status == 37, "waitid a: pid %d code %d status %d", si.si_pid, si.si_code, si.si_status);
	int ws;
	CHECK(waitpid(a, &ws, WNOHANG) == a && WIFEXITED(ws) && WEXITSTATUS(ws) == 37, "a: status %#x", ws);
	CHECK(waitpid(b, &ws, WNOHANG) == b && WIFSIGNALED(ws) && WTERMSIG(ws) == SIGTERM, "b: status %#x", ws);
	CHECK(waitpid(-1, &ws, WNOHANG) < 0 && errno == ECHILD, "more children");
	return kobj_done();
}
