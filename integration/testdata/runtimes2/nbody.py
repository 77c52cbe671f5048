"""nbody.py OUT STEPS DELAY_MS: a JIT-compiling Python (PyPy) under a
checkpoint.

The n-body benchmark's pure-Python loops, traced and compiled to machine
code by PyPy's JIT while the run goes on (and its generational GC moving
objects), with 3 threads doing integer work of their own beside the main
thread (the GIL handed between them). The float arithmetic runs in one
thread in a fixed order: one line per step, the same on every run.
"""
import sys
import threading
import time

PI = 3.14159265358979323
SOLAR_MASS = 4 * PI * PI
DAYS_PER_YEAR = 365.24

BODIES = [
    ([0.0, 0.0, 0.0], [0.0, 0.0, 0.0], SOLAR_MASS),
    ([4.84143144246472090e+00, -1.16032004402742839e+00, -1.03622044471123109e-01],
     [1.66007664274403694e-03 * DAYS_PER_YEAR, 7.69901118419740425e-03 * DAYS_PER_YEAR, -6.90460016972063023e-05 * DAYS_PER_YEAR],
     9.54791938424326609e-04 * SOLAR_MASS),
    ([8.34336671824457987e+00, 4.12479856412430479e+00, -4.03523417114321381e-01],
     [-2.76742510726862411e-03 * DAYS_PER_YEAR, 4.99852801234917238e-03 * DAYS_PER_YEAR, 2.30417297573763929e-05 * DAYS_PER_YEAR],
     2.85885980666130812e-04 * SOLAR_MASS),
    ([1.28943695621391310e+01, -1.51111514016986312e+01, -2.23307578892655734e-01],
     [2.96460137564761618e-03 * DAYS_PER_YEAR, 2.37847173959480950e-03 * DAYS_PER_YEAR, -2.96589568540237556e-05 * DAYS_PER_YEAR],
     4.36624404335156298e-05 * SOLAR_MASS),
    ([1.53796971148509165e+01, -2.59193146099879641e+01, 1.79258772950371181e-01],
     [2.68067772490389322e-03 * DAYS_PER_YEAR, 1.62824170038242295e-03 * DAYS_PER_YEAR, -9.51592254519715870e-05 * DAYS_PER_YEAR],
     5.15138902046611451e-05 * SOLAR_MASS),
]


def advance(bodies, dt, n):
    pairs = [(bodies[i], bodies[j]) for i in range(len(bodies)) for j in range(i + 1, len(bodies))]
    for _ in range(n):
        for ((r1, v1, m1), (r2, v2, m2)) in pairs:
            dx, dy, dz = r1[0] - r2[0], r1[1] - r2[1], r1[2] - r2[2]
            mag = dt * ((dx * dx + dy * dy + dz * dz) ** -1.5)
            b1, b2 = m1 * mag, m2 * mag
            v1[0] -= dx * b2
            v1[1] -= dy * b2
            v1[2] -= dz * b2
            v2[0] += dx * b1
            v2[1] += dy * b1
            v2[2] += dz * b1
        for (r, v, m) in bodies:
            r[0] += dt * v[0]
            r[1] += dt * v[1]
            r[2] += dt * v[2]


def energy(bodies):
    e = 0.0
    for i, (r1, v1, m1) in enumerate(bodies):
        e += m1 * (v1[0] * v1[0] + v1[1] * v1[1] + v1[2] * v1[2]) / 2.0
        for (r2, v2, m2) in bodies[i + 1:]:
            dx, dy, dz = r1[0] - r2[0], r1[1] - r2[1], r1[2] - r2[2]
            e -= (m1 * m2) / ((dx * dx + dy * dy + dz * dz) ** 0.5)
    return e


def churn(seed, n):
    h, d = seed, {}
    for i in range(n):
        h = (h * 6364136223846793005 + 1442695040888963407) & 0xFFFFFFFFFFFFFFFF
        d[i & 1023] = (h >> 17, str(h)[-3:])
    return h, len(d)


def main():
    out, steps, delay = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    bodies = [(list(r), list(v), m) for r, v, m in BODIES]
    px = py = pz = 0.0
    for (r, v, m) in bodies:
        px -= v[0] * m
        py -= v[1] * m
        pz -= v[2] * m
    v0 = bodies[0][1]
    v0[0], v0[1], v0[2] = px / SOLAR_MASS, py / SOLAR_MASS, pz / SOLAR_MASS
    with open(out, "w") as f:
        for s in range(steps):
            res = [None] * 3

            def run(i):
                res[i] = churn(s * 3 + i, 30000)

            threads = [threading.Thread(target=run, args=(i,)) for i in range(3)]
            for t in threads:
                t.start()
            advance(bodies, 0.01, 10000)
            for t in threads:
                t.join()
            f.write("%d %.12f %s\n" % (s, energy(bodies), " ".join("%x/%d" % r for r in res)))
            f.flush()
            if delay:
                time.sleep(delay / 1000.0)
        f.write("done %.12f\n" % energy(bodies))


if __name__ == "__main__":
    main()
