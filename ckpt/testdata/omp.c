/*
 * omp: an OpenMP reduction loop for checkpoint tests.
 * usage: omp OUTFILE ROUNDS
 */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv) {
	if (argc < 3)
		return 2;
	FILE *out = fopen(argv[1], "w");
	int rounds = atoi(argv[2]);
	double total = 0;
	for (int r = 0; r < rounds; r++) {
		double s = 0;
#pragma omp parallel for reduction(+ : s) schedule(static) num_threads(4)
		for (int i = 0; i < 400000; i++)
			s += sin(i * 0.001 + r);
		total += s;
		fprintf(out, "round %d sum %.9f\n", r, total);
		fflush(out);
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	fclose(out);
	return 0;
}
