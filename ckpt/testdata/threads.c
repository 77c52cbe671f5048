/*
 * threads: a pthreads computation for checkpoint tests.
 *
 * usage: threads OUTFILE NTHREADS ROUNDS
 * NTHREADS workers meet at a barrier every round; each adds a
 * deterministic function of its chunk into a mutex-protected total, and the
 * last to arrive writes the round's total. A waiter thread blocks on a
 * condition variable until the end; a sleeper loops in nanosleep. The
 * result does not depend on scheduling, so a restart must reproduce it.
 */
#define _GNU_SOURCE
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static pthread_barrier_t barrier;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int finished;
static uint64_t total;
static int nthreads, rounds;
static FILE *out;
static __thread uint64_t tls_count;

static void *worker(void *arg) {
	long id = (long)arg;
	for (int r = 0; r < rounds; r++) {
		double acc = 0;
		for (int i = 0; i < 20000; i++)
			acc += sin((double)(id * 7919 + r * 104729 + i)) * 1000.0;
		tls_count++;
		pthread_mutex_lock(&mu);
		total += (uint64_t)(int64_t)acc + tls_count;
		pthread_mutex_unlock(&mu);
		if (pthread_barrier_wait(&barrier) == PTHREAD_BARRIER_SERIAL_THREAD) {
			fprintf(out, "round %d total %llu\n", r, (unsigned long long)total);
			fflush(out);
			struct timespec ts = {0, 10 * 1000 * 1000};
			nanosleep(&ts, NULL);
		}
		pthread_barrier_wait(&barrier);
	}
	return NULL;
}

static void *waiter(void *arg) {
	(void)arg;
	pthread_mutex_lock(&mu);
	while (!finished)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	return (void *)42;
}

static void *sleeper(void *arg) {
	(void)arg;
	for (;;) {
		struct timespec ts = {0, 3 * 1000 * 1000};
		nanosleep(&ts, NULL);
		pthread_mutex_lock(&mu);
		int f = finished;
		pthread_mutex_unlock(&mu);
		if (f)
			return (void *)7;
	}
}

int main(int argc, char **argv) {
	if (argc < 4)
		return 2;
	out = fopen(argv[1], "w");
	nthreads = atoi(argv[2]);
	rounds = atoi(argv[3]);
	pthread_barrier_init(&barrier, NULL, nthreads);
	pthread_t *t = calloc(nthreads, sizeof *t), w, s;
	pthread_create(&w, NULL, waiter, NULL);
	pthread_create(&s, NULL, sleeper, NULL);
	for (long i = 0; i < nthreads; i++)
		pthread_create(&t[i], NULL, worker, (void *)i);
	for (int i = 0; i < nthreads; i++)
		pthread_join(t[i], NULL);
	pthread_mutex_lock(&mu);
	finished = 1;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	void *wr, *sr;
	pthread_join(w, &wr);
	pthread_join(s, &sr);
	fprintf(out, "done total %llu waiter %ld sleeper %ld\n", (unsigned long long)total, (long)wr, (long)sr);
	fclose(out);
	return 0;
}
