/*
 * sleeper: threads blocked in calls the kernel restarts through its
 * restart block, for checkpoint/restart tests.
 *
 * usage: sleeper OUTFILE
 *
 * Three threads: "nanosleep" sleeps 3 s in clock_nanosleep with a
 * remainder pointer, "usleep" 2 s in nanosleep without one, "poll" waits
 * without timeout in poll on a pipe that the main thread writes to once
 * "go" appears in the working directory. Each writes "NAME: result"
 * when its call returns: 0 and whether it slept at least what it asked
 * for (CLOCK_BOOTTIME), or the error (EINTR is what a lost restart block
 * gives); poll its count of ready descriptors. The main thread exits once
 * all three have.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static FILE *out;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int p[2];

static void say(const char *name, const char *what) {
	pthread_mutex_lock(&mu);
	fprintf(out, "%s: %s\n", name, what);
	fflush(out);
	pthread_mutex_unlock(&mu);
}

static double now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_BOOTTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void result(const char *name, int r, double start, double want) {
	char buf[64];
	if (r != 0)
		snprintf(buf, sizeof buf, "%s", r == EINTR ? "EINTR" : strerror(r));
	else
		snprintf(buf, sizeof buf, "0 enough=%d", now() - start >= want);
	say(name, buf);
}

static void *t_nanosleep(void *arg) {
	(void)arg;
	struct timespec req = {3, 0}, rem;
	double s = now();
	result("nanosleep", clock_nanosleep(CLOCK_MONOTONIC, 0, &req, &rem), s, 3);
	return NULL;
}

static void *t_usleep(void *arg) {
	(void)arg;
	struct timespec req = {2, 0};
	double s = now();
	result("usleep", nanosleep(&req, NULL) == 0 ? 0 : errno, s, 2);
	return NULL;
}

static void *t_poll(void *arg) {
	(void)arg;
	struct pollfd fd = {p[0], POLLIN, 0};
	int n = poll(&fd, 1, -1);
	char buf[32];
	snprintf(buf, sizeof buf, "%s", n < 0 ? (errno == EINTR ? "EINTR" : strerror(errno)) : n == 1 ? "1" : "?");
	say("poll", buf);
	return NULL;
}

int main(int argc, char **argv) {
	if (argc < 2)
		return 2;
	out = fopen(argv[1], "a");
	pipe(p);
	pthread_t t[3];
	pthread_create(&t[0], NULL, t_nanosleep, NULL);
	pthread_create(&t[1], NULL, t_usleep, NULL);
	pthread_create(&t[2], NULL, t_poll, NULL);
	say("main", "started");
	struct stat st;
	while (stat("go", &st) != 0) {
		struct timespec ts = {0, 20 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	write(p[1], "x", 1);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	return 0;
}
