/*
 * cktree: a parent and one child, for the interactive modes of chkpnt and
 * restart. Usage: cktree OUT DATA STEPS. The parent opens OUT for
 * appending (fd 3) and DATA read-only (fd 4), forks a child that waits in
 * pause(), then writes "step N" to OUT every 50 ms; at the end it writes
 * "data=" and DATA's first line read through fd 4, and exits 7.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc != 4)
		return 2;
	int out = open(argv[1], O_WRONLY | O_APPEND | O_CREAT, 0644);
	int data = open(argv[2], O_RDONLY);
	if (out != 3 || data != 4)
		return 2;
	if (fork() == 0) {
		for (;;)
			pause();
	}
	int steps = atoi(argv[3]);
	char buf[128];
	for (int i = 0; i < steps; i++) {
		int n = snprintf(buf, sizeof buf, "step %d\n", i);
		if (write(3, buf, n) < 0)
			return 3;
		usleep(50000);
	}
	char line[64] = {0};
	ssize_t n = pread(4, line, sizeof line - 1, 0);
	if (n < 0)
		return 4;
	char *nl = strchr(line, '\n');
	if (nl)
		*nl = '\0';
	int m = snprintf(buf, sizeof buf, "data=%s\n", line);
	if (write(3, buf, m) < 0)
		return 3;
	return 7;
}
