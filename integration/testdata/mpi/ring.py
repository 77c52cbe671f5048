# A ring of mpi4py ranks: each step, a pickled dict goes around the ring
# (sendrecv), a numpy-free buffer (array module) is summed with Allreduce,
# rank 0's state is broadcast, and all meet at a Barrier; rank 0 prints
# one line a step. What it prints depends only on the steps made.
import array
import sys
import time

from mpi4py import MPI

comm = MPI.COMM_WORLD
rank, size = comm.Get_rank(), comm.Get_size()
steps = 120
state = {"rank": rank, "acc": rank + 1, "hist": []}
buf = array.array("d", [0.0] * 64)
for step in range(steps):
    right, left = (rank + 1) % size, (rank - 1) % size
    got = comm.sendrecv(state, dest=right, source=left)
    state["acc"] = (state["acc"] * 31 + got["acc"] + step) % 1000003
    state["hist"] = (state["hist"] + [got["rank"]])[-8:]
    for i in range(len(buf)):
        buf[i] = float((state["acc"] + i * step) % 977)
    out = array.array("d", [0.0] * len(buf))
    comm.Allreduce([buf, MPI.DOUBLE], [out, MPI.DOUBLE], op=MPI.SUM)
    seed = comm.bcast(state["acc"] if rank == 0 else None, root=0)
    comm.Barrier()
    if rank == 0:
        print("ring %d %d %d %.1f" % (step, state["acc"], seed, sum(out)), flush=True)
    time.sleep(0.05)
if rank == 0:
    print("ring done %d" % state["acc"], flush=True)
