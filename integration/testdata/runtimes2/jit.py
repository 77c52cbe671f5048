"""jit.py OUT STEPS DELAY_MS: numba under a checkpoint.

Kernels compiled at run time by LLVM (machine code in memory the JIT
mapped executable, written while the run goes on: fold is compiled for a
new type at steps 11, 21, 31 and 41), one of them parallel (prange over
NUMBA_NUM_THREADS threads of numba's threading layer). Integer arithmetic,
so that the parallel reduction's order cannot change the result: one line
per step, the same on every run.
"""
import hashlib
import sys
import time

import numpy as np
from numba import njit, prange


@njit(cache=False)
def mix(h):
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xFF51AFD7ED558CCD)
    h ^= h >> np.uint64(33)
    return h


@njit(parallel=True, cache=False)
def kernel(a, step):
    s = np.uint64(0)
    for i in prange(a.shape[0]):
        h = np.uint64(step) * np.uint64(1000003) + np.uint64(i)
        for _ in range(64):
            h = mix(h)
        a[i] = h
        s += h >> np.uint64(16)
    return s


@njit(cache=False)
def fold(a, k):
    s = a[0] * 0
    for x in a:
        s = s * k + x
    return s


def main():
    out, steps, delay = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    a = np.zeros(1 << 18, dtype=np.uint64)
    total = hashlib.sha256()
    with open(out, "w") as f:
        for s in range(steps):
            sm = kernel(a, s)
            kinds = (np.uint64, np.int64, np.float64, np.uint32, np.int32)
            b = a[:4096].astype(kinds[(s // 10) % len(kinds)]) if s % 10 else a[:4096]
            fd = fold(b[:64] % 1000 if b.dtype.kind != "f" else b[:64] / 1e18, 3)
            line = f"{s} {int(sm):x} {hashlib.md5(a.tobytes()).hexdigest()[:12]} {fd!r} {len(fold.signatures)}"
            total.update(line.encode())
            f.write(line + "\n")
            f.flush()
            if delay:
                time.sleep(delay / 1000)
        f.write(f"done {total.hexdigest()}\n")


if __name__ == "__main__":
    main()
