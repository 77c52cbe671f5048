/* pauseloop: waits for SIGUSR1 in a pause loop, the classic way: the flag
 * is tested, then pause. A signal that comes while the process is in
 * pause interrupts it; one that came between the test and the call would
 * be lost. Restarted, the process must be back in pause before anyone can
 * signal it. Writes OUT.ready, then exits 0 once signalled. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t go;
static void on(int s) { (void)s; go = 1; }

int main(int argc, char **argv) {
	if (argc < 2) return 2;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on;
	sigaction(SIGUSR1, &sa, NULL);
	char p[4096];
	snprintf(p, sizeof p, "%s.ready", argv[1]);
	FILE *f = fopen(p, "w");
	if (!f) return 3;
	fclose(f);
	while (!go) pause();
	return 0;
}
