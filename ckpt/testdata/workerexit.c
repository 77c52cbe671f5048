/* A pool that forks short-lived workers without end: each starts three
 * threads and returns from main (exit_group) while they run, and the
 * parent reaps it a moment later. A checkpoint may catch a worker with
 * its main thread dead and its threads not gone yet. Writes OUT.ready
 * once the first worker has been reaped. */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void *spin(void *arg) {
	(void)arg;
	for (volatile unsigned long i = 0;; i++)
		;
	return NULL;
}

int main(int argc, char **argv) {
	if (argc < 2) return 2;
	char ready[4096];
	snprintf(ready, sizeof ready, "%s.ready", argv[1]);
	for (int n = 0;; n++) {
		pid_t c = fork();
		if (c < 0) return 1;
		if (c == 0) {
			pthread_t t;
			for (int i = 0; i < 3; i++) pthread_create(&t, NULL, spin, NULL);
			struct timespec ts = {0, 200000};
			nanosleep(&ts, NULL);
			return 0; /* exit_group: the spinning threads are killed */
		}
		struct timespec ts = {0, 300000};
		nanosleep(&ts, NULL);
		int st;
		if (waitpid(c, &st, 0) != c || !WIFEXITED(st)) return 1;
		if (n == 0) close(open(ready, O_CREAT | O_WRONLY, 0644));
	}
}
