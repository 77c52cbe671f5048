"""pool.py OUT STEPS DELAY_MS: Python multiprocessing under a checkpoint.

A Pool of 3 workers made by fork (its task and result queues: pipes and
POSIX semaphores in /dev/shm), a Manager (a server process, reached over a
unix socket) holding a dict and a list, a multiprocessing.Lock and Value
(a semaphore and shared memory) and a Process fed through a
multiprocessing.Queue. Each step maps work over the pool, updates the
manager's dict and the shared value, and writes one line: the step and a
hash of everything, the same on every run.
"""
import hashlib
import multiprocessing as mp
import sys
import time


def work(args):
    step, i = args
    h = hashlib.sha256(f"{step}:{i}".encode())
    for _ in range(2000):
        h = hashlib.sha256(h.digest())
    return i, h.hexdigest()[:12]


def echo(q_in, q_out):
    while True:
        item = q_in.get()
        if item is None:
            return
        q_out.put(hashlib.sha256(item.encode()).hexdigest()[:8])


def main():
    out, steps, delay = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    ctx = mp.get_context("fork")
    lock = ctx.Lock()
    counter = ctx.Value("q", 0, lock=False)
    q_in, q_out = ctx.Queue(), ctx.Queue()
    helper = ctx.Process(target=echo, args=(q_in, q_out))
    helper.start()
    with ctx.Manager() as mgr, ctx.Pool(3) as pool:
        d, lst = mgr.dict(), mgr.list()
        total = hashlib.sha256()
        with open(out, "w") as f:
            for s in range(steps):
                res = pool.map(work, [(s, i) for i in range(6)], chunksize=1)
                # In flight while the pool works: a task on its queue.
                pending = pool.apply_async(work, ((s, 99),))
                for i, v in res:
                    d[i] = v
                lst.append(res[0][1])
                with lock:
                    counter.value += len(res)
                q_in.put(res[-1][1])
                echoed = q_out.get()
                line = f"{s} {pending.get()[1]} {echoed} {counter.value} {len(lst)} {sorted(d.items())[-1][1]}"
                total.update(line.encode())
                f.write(line + "\n")
                f.flush()
                if delay:
                    time.sleep(delay / 1000)
            f.write(f"done {total.hexdigest()}\n")
    q_in.put(None)
    helper.join()


if __name__ == "__main__":
    main()
