/*
 * avx: a floating-point loop whose accumulators live in AVX registers for
 * long stretches, so a checkpoint lands while the upper halves of the YMM
 * registers hold state. A restore that lost the extended FPU state changes
 * the result.
 *
 * usage: avx OUTFILE ROUNDS
 */
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
	if (argc < 3)
		return 2;
	FILE *out = fopen(argv[1], "w");
	int rounds = atoi(argv[2]);
	__m256d a0 = _mm256_set_pd(1.0, 2.0, 3.0, 4.0);
	__m256d a1 = _mm256_set_pd(0.5, 0.25, 0.125, 0.0625);
	__m256d a2 = _mm256_set1_pd(1.5);
	__m256d a3 = _mm256_set1_pd(-0.75);
	const __m256d m = _mm256_set1_pd(0.999999);
	const __m256d c = _mm256_set_pd(1e-9, 2e-9, 3e-9, 4e-9);
	for (int r = 0; r < rounds; r++) {
		for (long i = 0; i < 20000000; i++) {
			a0 = _mm256_add_pd(_mm256_mul_pd(a0, m), c);
			a1 = _mm256_add_pd(_mm256_mul_pd(a1, m), a0);
			a2 = _mm256_sub_pd(_mm256_mul_pd(a2, m), c);
			a3 = _mm256_add_pd(_mm256_mul_pd(a3, m), a2);
		}
		double v[4], w[4];
		_mm256_storeu_pd(v, _mm256_add_pd(a0, a1));
		_mm256_storeu_pd(w, _mm256_add_pd(a2, a3));
		fprintf(out, "round %d %.17g %.17g %.17g %.17g %.17g %.17g %.17g %.17g\n", r,
			v[0], v[1], v[2], v[3], w[0], w[1], w[2], w[3]);
		fflush(out);
	}
	fclose(out);
	return 0;
}
