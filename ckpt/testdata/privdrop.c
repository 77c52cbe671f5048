// privdrop FILE RESULT: opens FILE (only root may) read-write and RESULT,
// drops every privilege to nobody (setgroups, setgid, setuid), writes
// RESULT.ready, waits for SIGUSR1 (sent after the restart), then reads
// FILE again through its descriptor, writes to it, and writes "ok" or
// what is wrong to RESULT through the descriptor opened before the drop.
#define _GNU_SOURCE
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t go;
static void onusr1(int s) { (void)s; go = 1; }

int main(int argc, char **argv) {
	if (argc < 3) return 2;
	int fd = open(argv[1], O_RDWR);
	int out = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || out < 0) return 3;
	signal(SIGUSR1, onusr1);
	/* Blocked but inside sigsuspend: never lost between test and wait. */
	sigset_t usr1, old;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr1, &old);
	if (setgroups(0, NULL) || setgid(65534) || setuid(65534)) return 4;
	if (open(argv[1], O_RDONLY) >= 0) return 5; // nobody may not open it
	char ready[512];
	snprintf(ready, sizeof ready, "%s.ready", argv[2]);
	// RESULT's directory is root's: the descriptor says we are ready.
	dprintf(out, "dropped\n");
	while (!go) sigsuspend(&old);
	char buf[64] = {0};
	const char *msg = "ok\n";
	if (pread(fd, buf, sizeof buf - 1, 0) < 0 || strncmp(buf, "secret", 6) != 0) msg = "cannot read the file\n";
	else if (pwrite(fd, "SECRET", 6, 0) != 6) msg = "cannot write the file\n";
	else if (getuid() != 65534 || geteuid() != 65534) msg = "not nobody\n";
	ftruncate(out, 0);
	pwrite(out, msg, strlen(msg), 0);
	return 0;
}
