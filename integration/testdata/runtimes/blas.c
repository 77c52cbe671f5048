// blas OUT STEPS DELAY_MS [N]: an OpenBLAS loop for a checkpoint, threaded
// (OpenBLAS's pthreads or OpenMP build, chosen at link time; its thread
// count from OPENBLAS_NUM_THREADS or OMP_NUM_THREADS). Each step multiplies
// two N×N matrices (dgemm), solves a system with the product (dgesv: LU
// with partial pivoting, LAPACK from OpenBLAS), feeds the solution back
// into the matrices and writes one line: the step and an FNV-1a hash of
// the bytes of the solution. A given thread count gives the same bytes on
// every run, so a restarted run's output is byte-identical to an
// uninterrupted one's.
#include <cblas.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void dgesv_(const int *n, const int *nrhs, double *a, const int *lda, int *ipiv, double *b, const int *ldb, int *info);

static uint64_t fnv(const void *p, size_t n, uint64_t h) {
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ULL;
	return h;
}

int main(int argc, char **argv) {
	if (argc < 4) {
		fprintf(stderr, "usage: blas OUT STEPS DELAY_MS [N]\n");
		return 2;
	}
	int steps = atoi(argv[2]), delay = atoi(argv[3]);
	int n = argc > 4 ? atoi(argv[4]) : 300;
	FILE *out = fopen(argv[1], "w");
	if (!out) {
		perror(argv[1]);
		return 1;
	}
	double *a = malloc(sizeof(double) * n * n), *b = malloc(sizeof(double) * n * n);
	double *c = malloc(sizeof(double) * n * n), *x = malloc(sizeof(double) * n);
	int *ipiv = malloc(sizeof(int) * n);
	uint64_t seed = 88172645463325252ULL;
	for (int i = 0; i < n * n; i++) {
		seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
		a[i] = (double)(seed % 1000) / 1000.0 - 0.5;
		seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
		b[i] = (double)(seed % 1000) / 1000.0 - 0.5;
	}
	uint64_t total = 14695981039346656037ULL;
	for (int s = 0; s < steps; s++) {
		cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0, a, n, b, n, 0.0, c, n);
		for (int i = 0; i < n; i++) c[i * n + i] += n; // diagonally dominant: well conditioned
		for (int i = 0; i < n; i++) x[i] = (double)((i * 7 + s) % 13) - 6.0;
		int one = 1, info = 0;
		dgesv_(&n, &one, c, &n, ipiv, x, &n, &info);
		if (info != 0) {
			fprintf(out, "dgesv info %d\n", info);
			return 1;
		}
		for (int i = 0; i < n; i++) {
			a[i * n + (s % n)] += x[i] * 1e-3;
			b[((s * 31) % n) * n + i] -= x[i] * 1e-3;
		}
		uint64_t h = fnv(x, sizeof(double) * n, 14695981039346656037ULL);
		total = fnv(&h, sizeof h, total);
		fprintf(out, "%d %016llx %.17g\n", s, (unsigned long long)h, x[n / 2]);
		fflush(out);
		if (delay > 0) nanosleep(&(struct timespec){delay / 1000, (delay % 1000) * 1000000L}, NULL);
	}
	fprintf(out, "done %016llx\n", (unsigned long long)total);
	fclose(out);
	return 0;
}
