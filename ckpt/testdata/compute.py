"""A deterministic Python computation for checkpoint/restart tests.

usage: compute.py OUTFILE STEPS
"""
import hashlib
import math
import sys
import time

out = open(sys.argv[1], "w")
h = hashlib.sha256()
data = {}
x = 0.5
for i in range(int(sys.argv[2])):
    data[i] = [j * i for j in range(200)]
    x = math.sin(x) + i * 1e-3
    h.update(repr((i, x, sum(data[i]))).encode())
    out.write("%d %.15f %s\n" % (i, x, h.hexdigest()[:16]))
    out.flush()
    time.sleep(0.01)
out.write("done %s %d\n" % (h.hexdigest(), len(data)))
out.close()
