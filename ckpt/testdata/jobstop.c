// jobstop: a parent whose child is stopped by job control.
//
// The child counts heartbeats into DIR/beat. The parent stops it with SIGTSTP,
// collects the stop with waitpid(WUNTRACED), writes "stopped SIG" to
// DIR/events, then appends one line per further wait report: "stop SIG" or
// "cont". A checkpoint must leave the child stopped, a restart must bring it
// back stopped without a second stop report, and a SIGCONT must resume it
// and be reported as "cont".
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void line(const char *dir, const char *text) {
	char path[4096];
	snprintf(path, sizeof path, "%s/events", dir);
	FILE *f = fopen(path, "a");
	if (!f)
		exit(2);
	fprintf(f, "%s\n", text);
	fclose(f);
}

int main(int argc, char **argv) {
	if (argc != 2)
		return 2;
	const char *dir = argv[1];
	// The child leads a process group of its own, as a shell's job does:
	// its parent, outside the group but in the session, keeps the group
	// from being orphaned, where the kernel would discard SIGTSTP.
	pid_t c = fork();
	if (c == 0) {
		setpgid(0, 0);
		char path[4096];
		snprintf(path, sizeof path, "%s/beat", dir);
		for (long n = 0;; n++) {
			FILE *f = fopen(path, "w");
			if (f) {
				fprintf(f, "%ld\n", n);
				fclose(f);
			}
			usleep(20000);
		}
	}
	setpgid(c, c);
	kill(c, SIGTSTP);
	int st;
	char buf[64];
	if (waitpid(c, &st, WUNTRACED) != c || !WIFSTOPPED(st))
		return 3;
	snprintf(buf, sizeof buf, "stopped %d", WSTOPSIG(st));
	line(dir, buf);
	for (;;) {
		pid_t w = waitpid(c, &st, WUNTRACED | WCONTINUED);
		if (w != c)
			continue;
		if (WIFSTOPPED(st))
			snprintf(buf, sizeof buf, "stop %d", WSTOPSIG(st));
		else if (WIFCONTINUED(st))
			snprintf(buf, sizeof buf, "cont");
		else
			snprintf(buf, sizeof buf, "ended %d", st);
		line(dir, buf);
	}
}
