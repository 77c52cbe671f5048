"""shm.py OUT STEPS DELAY_MS: multiprocessing by forkserver and spawn with
shared_memory.

A SharedMemory block (a file in /dev/shm, mapped shared by every process,
its name registered with the resource tracker process) is filled each step
by a Pool of 3 workers of the forkserver context (forked by the forkserver
process, reached over a unix socket) and summed by a Process of the spawn
context (a fresh interpreter) fed by a spawn Queue. One line per step: the
step, the block's hash and the spawned process's answer, the same on every
run.
"""
import hashlib
import multiprocessing as mp
import sys
import time
from multiprocessing import shared_memory

SIZE = 1 << 20
PARTS = 6

_shm = None


def attach(name):
    global _shm
    _shm = shared_memory.SharedMemory(name=name)


def fill(args):
    step, part = args
    n = SIZE // PARTS
    h = hashlib.sha256(f"{step}.{part}".encode()).digest()
    chunk = (h * (n // len(h) + 1))[:n]
    _shm.buf[part * n:(part + 1) * n] = chunk
    return part


def summer(name, q_in, q_out):
    shm = shared_memory.SharedMemory(name=name)
    while True:
        item = q_in.get()
        if item is None:
            break
        q_out.put((item, hashlib.md5(bytes(shm.buf[:SIZE])).hexdigest()[:12]))
    shm.close()


def main():
    out, steps, delay = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    fs, sp = mp.get_context("forkserver"), mp.get_context("spawn")
    shm = shared_memory.SharedMemory(create=True, size=SIZE)
    try:
        q_in, q_out = sp.Queue(), sp.Queue()
        summ = sp.Process(target=summer, args=(shm.name, q_in, q_out))
        summ.start()
        total = hashlib.sha256()
        with fs.Pool(3, initializer=attach, initargs=(shm.name,)) as pool, open(out, "w") as f:
            for s in range(steps):
                done = pool.map(fill, [(s, p) for p in range(PARTS)], chunksize=1)
                q_in.put(s)
                step, summed = q_out.get(timeout=60)
                mine = hashlib.sha256(bytes(shm.buf[:SIZE])).hexdigest()[:12]
                line = f"{s} {step} {len(done)} {mine} {summed}"
                total.update(line.encode())
                f.write(line + "\n")
                f.flush()
                if delay:
                    time.sleep(delay / 1000)
            f.write(f"done {total.hexdigest()}\n")
        q_in.put(None)
        summ.join()
    finally:
        shm.close()
        shm.unlink()


if __name__ == "__main__":
    main()
