/* omp OUT STEPS DELAY_MS: OpenMP under a checkpoint, built to run on
 * LLVM's libomp (compiled by gcc -fopenmp, linked with -lomp: libomp
 * implements the GOMP entry points gcc emits). Each step a parallel
 * region (OMP_NUM_THREADS threads, more than the cores) runs a static
 * loop with an integer reduction, a dynamic loop, tasks, a critical
 * section and barriers; libomp's threads spin (KMP_BLOCKTIME) and then
 * sleep on futexes between regions. Integer arithmetic only, so that the
 * reduction's order cannot change the result: one line per step, the
 * same on every run. */
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define N (1 << 20)

static uint64_t mix(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	return h ^ (h >> 33);
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: omp OUT STEPS DELAY_MS\n");
		return 2;
	}
	FILE *f = fopen(argv[1], "w");
	if (!f) {
		perror(argv[1]);
		return 1;
	}
	int steps = atoi(argv[2]), delay = atoi(argv[3]);
	uint64_t *a = malloc(N * sizeof *a), total = 0;
	if (!a)
		return 1;
	for (int s = 0; s < steps; s++) {
		uint64_t sum = 0, x = 0, tasks = 0;
		int nthreads = 0;
#pragma omp parallel
		{
#pragma omp single
			nthreads = omp_get_num_threads();
#pragma omp for schedule(static) reduction(+ : sum)
			for (long i = 0; i < N; i++) {
				a[i] = mix((uint64_t)s * N + i);
				sum += a[i] >> 8;
			}
#pragma omp for schedule(dynamic, 4096) reduction(^ : x)
			for (long i = 0; i < N; i++) {
				uint64_t h = a[i];
				for (int k = 0; k < 8; k++)
					h = mix(h + k);
				x ^= h;
			}
#pragma omp single
			for (int t = 0; t < 64; t++) {
#pragma omp task firstprivate(t)
				{
					uint64_t h = mix(s * 64 + t);
					for (int k = 0; k < 20000; k++)
						h = mix(h);
#pragma omp critical
					tasks += h % 1000003;
				}
			}
#pragma omp barrier
		}
		total = mix(total ^ sum ^ x ^ tasks);
		fprintf(f, "%d %d %016llx %016llx %llu %016llx\n", s, nthreads, (unsigned long long)sum, (unsigned long long)x,
			(unsigned long long)tasks, (unsigned long long)total);
		fflush(f);
		if (delay) {
			struct timespec ts = {delay / 1000, (delay % 1000) * 1000000L};
			nanosleep(&ts, NULL);
		}
	}
	fprintf(f, "done %016llx\n", (unsigned long long)total);
	fclose(f);
	return 0;
}
