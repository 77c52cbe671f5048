"""sci.py OUT STEPS DELAY_MS: numpy and scipy under a checkpoint.

Each step multiplies matrices (numpy's BLAS: OpenBLAS, threaded), solves a
dense system (LAPACK through numpy.linalg), runs conjugate gradients on a
sparse Poisson matrix (scipy.sparse.linalg.cg), an FFT (scipy.fft) and an
ODE step (scipy.integrate.solve_ivp), and writes one line: the step and a
SHA-256 of the bytes of the results. The same thread count gives the same
bytes on every run.
"""
import hashlib
import sys
import time

import numpy as np
import scipy.fft
import scipy.integrate
import scipy.sparse
import scipy.sparse.linalg

out, steps, delay = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = np.random.default_rng(12345)
n = 400
a = rng.standard_normal((n, n))
b = rng.standard_normal((n, n))
m = 2000
lap = scipy.sparse.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(m, m), format="csr")
rhs = np.sin(np.linspace(0.0, 3.0, m))
y = np.array([1.0, 0.0])
total = hashlib.sha256()
with open(out, "w") as f:
    for s in range(steps):
        c = a @ b + n * np.eye(n)
        x = np.linalg.solve(c, np.arange(n, dtype=float) - s)
        a[:, s % n] += x * 1e-3
        u, info = scipy.sparse.linalg.cg(lap, rhs + s * 1e-3, maxiter=200)
        spec = scipy.fft.rfft(u)
        sol = scipy.integrate.solve_ivp(lambda t, v: [v[1], -v[0]], (0.0, 0.1), y, rtol=1e-9)
        y = sol.y[:, -1]
        h = hashlib.sha256()
        for arr in (x, u, spec, y):
            h.update(np.ascontiguousarray(arr).tobytes())
        total.update(h.digest())
        f.write(f"{s} {h.hexdigest()[:16]} {info} {x[n // 2]!r}\n")
        f.flush()
        if delay:
            time.sleep(delay / 1000)
    f.write(f"done {total.hexdigest()}\n")
