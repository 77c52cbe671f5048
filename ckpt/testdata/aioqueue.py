"""asyncio with a queue, and a unix socket pair with bytes queued in it,
for checkpoint tests. usage: aioqueue.py OUTFILE"""
import asyncio, sys, socket
out = open(sys.argv[1], "w")
async def producer(q):
    for i in range(100):
        await q.put(i * i)
        await asyncio.sleep(0.01)
    await q.put(None)
async def consumer(q):
    total = 0
    while True:
        v = await q.get()
        if v is None: break
        total += v
        out.write("got %d total %d\n" % (v, total)); out.flush()
    out.write("done %d\n" % total)
a, b = socket.socketpair()
a.send(b"queued-bytes")
async def main():
    q = asyncio.Queue()
    await asyncio.gather(producer(q), consumer(q))
    out.write("socket %s\n" % b.recv(100).decode())
asyncio.run(main())
out.close()
