/*
 * ttyprog: an interactive program for terminal checkpoint tests.
 *
 * It turns echo off on its terminal, counts SIGWINCH, prints "ready", then
 * answers each input line with what it sees of its terminal:
 *   line=TEXT fg=(its group is the foreground group) echo=(ECHO on) winch=N
 * It exits 3 on "quit", 4 at end of input.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

static volatile sig_atomic_t winch;
static void on_winch(int s) { (void)s; winch++; }

int main(void) {
	struct sigaction sa = {0};
	sa.sa_handler = on_winch;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGWINCH, &sa, NULL);
	struct termios t;
	tcgetattr(0, &t);
	t.c_lflag &= ~ECHO;
	tcsetattr(0, TCSANOW, &t);
	setvbuf(stdout, NULL, _IONBF, 0);
	printf("ready\n");
	char line[256];
	while (fgets(line, sizeof line, stdin)) {
		line[strcspn(line, "\r\n")] = 0;
		if (strcmp(line, "quit") == 0)
			return 3;
		tcgetattr(0, &t);
		printf("line=%s fg=%d echo=%d winch=%d\n", line, tcgetpgrp(0) == getpgrp(), (t.c_lflag & ECHO) != 0, (int)winch);
	}
	return 4;
}
