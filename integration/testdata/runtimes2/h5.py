"""h5.py OUT H5 STEPS DELAY_MS: HDF5 (h5py) with its file open across a
checkpoint.

The file H5 is created at the start and kept open to the end: a fixed
(STEPS, 4096) float64 dataset, a chunked, gzip-compressed dataset grown
by one row a step (resize) and an attribute rewritten each step. Each
step writes its rows (numpy from a seeded generator), flushes the file
and reads back a window of past rows. One line per step: the step and
figures of what was read back, the same on every run. Rows are written at
positions given by the step, so a run restarted from a checkpoint taken
before rows it wrote once writes the same rows again.
"""
import hashlib
import sys
import time

import h5py
import numpy as np


def main():
    out, path, steps, delay = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    rng = np.random.default_rng(20261203)
    total = hashlib.sha256()
    with h5py.File(path, "w") as h5, open(out, "w") as f:
        fixed = h5.create_dataset("fixed", (steps, 4096), dtype="f8")
        grown = h5.create_dataset("grown", (0, 1024), maxshape=(None, 1024), dtype="i8", chunks=(4, 1024), compression="gzip")
        for s in range(steps):
            row = rng.standard_normal(4096)
            fixed[s] = row
            grown.resize((s + 1, 1024))
            grown[s] = (np.arange(1024, dtype="i8") * (s + 1)) ^ int(abs(row[0]) * 1e6)
            h5.attrs["step"] = s
            h5.flush()
            lo = max(0, s - 7)
            back = fixed[lo:s + 1]
            g = grown[lo:s + 1]
            line = f"{s} {back.sum():.12e} {int(g.sum())} {hashlib.md5(back.tobytes()).hexdigest()[:12]} {int(h5.attrs['step'])} {grown.shape[0]}"
            total.update(line.encode())
            f.write(line + "\n")
            f.flush()
            if delay:
                time.sleep(delay / 1000)
        f.write(f"done {total.hexdigest()}\n")


if __name__ == "__main__":
    main()
