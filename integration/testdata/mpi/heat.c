/*
 * heat: a 2-D heat equation on an N x N grid split in rows over the ranks
 * of MPI_COMM_WORLD, for the MPI checkpoint tests (integration/mpi_test.go).
 *
 * usage: heat OUTFILE STEPS DELAY_MS [MIB_PER_RANK]
 *
 * Each step exchanges the halo rows with both neighbours by non-blocking
 * sends and receives (MPI_Isend/MPI_Irecv), does a Jacobi update, passes a
 * checksum around the ring with MPI_Sendrecv and reduces the largest change
 * and the checksums with MPI_Allreduce. Rank 0 writes one line per step to
 * OUTFILE (flushed), then every rank sleeps DELAY_MS milliseconds so a
 * test can checkpoint the job midway. The values depend on STEPS and the
 * number of ranks only (the reductions are MAX and integer sums, exact in
 * any order), so a run that was checkpointed, killed and restarted must
 * write the very bytes of an uninterrupted run. The last line is
 * "done HASH". MIB_PER_RANK (default 0) more MiB of heap are filled and
 * mixed into the hash at the end, for the benchmark.
 */
#define _GNU_SOURCE
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define N 256

static uint64_t mix(uint64_t h, uint64_t v) {
	return h ^ (v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2));
}

int main(int argc, char **argv) {
	MPI_Init(&argc, &argv);
	int rank, size;
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	if (argc < 4) {
		if (rank == 0)
			fprintf(stderr, "usage: heat OUTFILE STEPS DELAY_MS [MIB_PER_RANK]\n");
		MPI_Abort(MPI_COMM_WORLD, 2);
	}
	int steps = atoi(argv[2]), delay = atoi(argv[3]);
	size_t ballast = argc > 4 ? (size_t)atol(argv[4]) << 20 : 0;
	int rows = N / size;
	int up = rank > 0 ? rank - 1 : MPI_PROC_NULL;
	int down = rank < size - 1 ? rank + 1 : MPI_PROC_NULL;
	/* rows+2: one halo row above and one below. */
	double *u = calloc((size_t)(rows + 2) * N, sizeof *u);
	double *v = calloc((size_t)(rows + 2) * N, sizeof *v);
	for (int i = 1; i <= rows; i++)
		for (int j = 0; j < N; j++) {
			int gi = rank * rows + i - 1;
			u[i * N + j] = (gi > N / 4 && gi < N / 2 && j > N / 3 && j < N / 2) ? 100.0 : 0.0;
		}
	uint64_t *big = NULL;
	if (ballast) {
		big = malloc(ballast);
		for (size_t k = 0; k < ballast / 8; k++)
			big[k] = mix(k, (uint64_t)rank);
	}
	FILE *out = NULL;
	if (rank == 0 && !(out = fopen(argv[1], "w"))) {
		perror(argv[1]);
		MPI_Abort(MPI_COMM_WORLD, 2);
	}
	struct timespec ts = {delay / 1000, (long)(delay % 1000) * 1000000L};
	for (int s = 1; s <= steps; s++) {
		MPI_Request req[4];
		MPI_Status st[4];
		MPI_Irecv(&u[0], N, MPI_DOUBLE, up, 1, MPI_COMM_WORLD, &req[0]);
		MPI_Irecv(&u[(rows + 1) * N], N, MPI_DOUBLE, down, 2, MPI_COMM_WORLD, &req[1]);
		MPI_Isend(&u[1 * N], N, MPI_DOUBLE, up, 2, MPI_COMM_WORLD, &req[2]);
		MPI_Isend(&u[rows * N], N, MPI_DOUBLE, down, 1, MPI_COMM_WORLD, &req[3]);
		MPI_Waitall(4, req, st);
		double change = 0;
		for (int i = 1; i <= rows; i++) {
			int gi = rank * rows + i - 1;
			for (int j = 0; j < N; j++) {
				double c = u[i * N + j];
				if (gi == 0 || gi == N - 1 || j == 0 || j == N - 1) {
					v[i * N + j] = c;
					continue;
				}
				double n = 0.25 * (u[(i - 1) * N + j] + u[(i + 1) * N + j] + u[i * N + j - 1] + u[i * N + j + 1]);
				v[i * N + j] = n;
				if (n - c > change)
					change = n - c;
				if (c - n > change)
					change = c - n;
			}
		}
		double *t = u;
		u = v;
		v = t;
		/* The checksum of this rank's rows, exact: the bits of the doubles. */
		uint64_t h = (uint64_t)s;
		for (int i = 1; i <= rows; i++)
			for (int j = 0; j < N; j++) {
				uint64_t b;
				memcpy(&b, &u[i * N + j], sizeof b);
				h = mix(h, b);
			}
		/* The ring: each rank hands its checksum to the next one. */
		uint64_t from;
		MPI_Sendrecv(&h, 1, MPI_UINT64_T, (rank + 1) % size, 3, &from, 1, MPI_UINT64_T,
			     (rank + size - 1) % size, 3, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
		uint64_t pair[2] = {h >> 32, mix(from, h) & 0xffffffffULL}, sum[2];
		double maxchange;
		MPI_Allreduce(&change, &maxchange, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
		MPI_Allreduce(pair, sum, 2, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
		if (rank == 0) {
			fprintf(out, "step %d change %.17g sum %016llx %016llx\n", s, maxchange,
				(unsigned long long)sum[0], (unsigned long long)sum[1]);
			fflush(out);
		}
		if (delay)
			nanosleep(&ts, NULL);
	}
	uint64_t h = 0;
	for (size_t k = 0; k < ballast / 8; k += 512)
		h = mix(h, big[k]);
	for (int i = 1; i <= rows; i++)
		for (int j = 0; j < N; j++) {
			uint64_t b;
			memcpy(&b, &u[i * N + j], sizeof b);
			h = mix(h, b);
		}
	uint64_t total;
	MPI_Reduce(&h, &total, 1, MPI_UINT64_T, MPI_SUM, 0, MPI_COMM_WORLD);
	if (rank == 0) {
		fprintf(out, "done %016llx\n", (unsigned long long)total);
		fclose(out);
	}
	free(big);
	free(u);
	free(v);
	MPI_Finalize();
	return 0;
}
