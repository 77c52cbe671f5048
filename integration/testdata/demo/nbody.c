/*
 * nbody: a small deterministic gravitational N-body simulation, the demo's
 * "long computation" (and the batch tests'). It advances BODIES bodies
 * (default 600) with a leapfrog integrator and appends, every REPORT steps,
 * the step number and the total energy to OUTFILE; the last line holds a
 * checksum of every position. The output depends on STEPS and BODIES only:
 * a run checkpointed, killed and restarted writes the very bytes of an
 * uninterrupted one.
 *
 * usage: nbody OUTFILE STEPS [BODIES]
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXBODIES 4000
#define REPORT 20

static int BODIES = 600;
static double px[MAXBODIES], py[MAXBODIES], pz[MAXBODIES];
static double vx[MAXBODIES], vy[MAXBODIES], vz[MAXBODIES], m[MAXBODIES];

static double energy(void) {
	double e = 0;
	for (int i = 0; i < BODIES; i++) {
		e += 0.5 * m[i] * (vx[i] * vx[i] + vy[i] * vy[i] + vz[i] * vz[i]);
		for (int j = i + 1; j < BODIES; j++) {
			double dx = px[i] - px[j], dy = py[i] - py[j], dz = pz[i] - pz[j];
			e -= m[i] * m[j] / sqrt(dx * dx + dy * dy + dz * dz + 0.01);
		}
	}
	return e;
}

int main(int argc, char **argv) {
	if (argc < 3) {
		fprintf(stderr, "usage: nbody OUTFILE STEPS [BODIES]\n");
		return 2;
	}
	long steps = atol(argv[2]);
	if (argc > 3)
		BODIES = atoi(argv[3]);
	if (BODIES < 2 || BODIES > MAXBODIES) {
		fprintf(stderr, "nbody: BODIES must be from 2 to %d\n", MAXBODIES);
		return 2;
	}
	FILE *out = fopen(argv[1], "w");
	if (!out) {
		perror(argv[1]);
		return 1;
	}
	uint64_t seed = 42;
	for (int i = 0; i < BODIES; i++) {
		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		double a = (seed >> 11) * 0x1p-53 * 6.283185307179586;
		double r = 1.0 + (i % 17) * 0.1;
		px[i] = r * cos(a);
		py[i] = r * sin(a);
		pz[i] = ((i % 7) - 3) * 0.01;
		vx[i] = -sin(a) * 0.3;
		vy[i] = cos(a) * 0.3;
		vz[i] = 0;
		m[i] = 1.0 / BODIES;
	}
	const double dt = 0.001;
	double *ax = calloc(BODIES, sizeof *ax), *ay = calloc(BODIES, sizeof *ay), *az = calloc(BODIES, sizeof *az);
	for (long s = 0; s < steps; s++) {
		memset(ax, 0, BODIES * sizeof *ax);
		memset(ay, 0, BODIES * sizeof *ay);
		memset(az, 0, BODIES * sizeof *az);
		for (int i = 0; i < BODIES; i++)
			for (int j = 0; j < BODIES; j++) {
				if (i == j)
					continue;
				double dx = px[j] - px[i], dy = py[j] - py[i], dz = pz[j] - pz[i];
				double d2 = dx * dx + dy * dy + dz * dz + 0.01;
				double f = m[j] / (d2 * sqrt(d2));
				ax[i] += f * dx;
				ay[i] += f * dy;
				az[i] += f * dz;
			}
		for (int i = 0; i < BODIES; i++) {
			vx[i] += ax[i] * dt;
			vy[i] += ay[i] * dt;
			vz[i] += az[i] * dt;
			px[i] += vx[i] * dt;
			py[i] += vy[i] * dt;
			pz[i] += vz[i] * dt;
		}
		if ((s + 1) % REPORT == 0) {
			fprintf(out, "step %6ld energy %.15e\n", s + 1, energy());
			fflush(out);
		}
	}
	uint64_t h = 1469598103934665603ULL;
	for (int i = 0; i < BODIES; i++) {
		uint64_t b;
		memcpy(&b, &px[i], 8);
		h = (h ^ b) * 1099511628211ULL;
		memcpy(&b, &py[i], 8);
		h = (h ^ b) * 1099511628211ULL;
	}
	fprintf(out, "done after %ld steps: checksum %016llx\n", steps, (unsigned long long)h);
	fclose(out);
	return 0;
}
