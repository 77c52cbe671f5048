// dbfile DB RESULT: holds DB open read-write as a database does, writes
// RESULT.ready, waits for SIGUSR1 (sent after the restart), then writes to
// RESULT the first bytes it reads through its descriptor.
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

static volatile sig_atomic_t go;
static void onusr1(int s) { (void)s; go = 1; }

int main(int argc, char **argv) {
	if (argc < 3) return 2;
	int fd = open(argv[1], O_RDWR);
	if (fd < 0) return 3;
	signal(SIGUSR1, onusr1);
	/* Blocked but inside sigsuspend: a SIGUSR1 between the test of go
	 * and the wait is never lost (with pause it would be, and a restored
	 * wait returns once, as after a signal, and goes round the loop). */
	sigset_t usr1, old;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr1, &old);
	char p[512];
	snprintf(p, sizeof p, "%s.ready", argv[2]);
	close(open(p, O_CREAT | O_WRONLY, 0644));
	while (!go) sigsuspend(&old);
	char buf[16] = {0};
	pread(fd, buf, 15, 0);
	FILE *f = fopen(argv[2], "w");
	fprintf(f, "%s\n", buf);
	fclose(f);
	return 0;
}
