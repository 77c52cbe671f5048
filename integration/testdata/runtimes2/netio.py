"""netio.py OUT STEPS DELAY_MS: Python threads and asyncio over TCP.

An asyncio server on 127.0.0.1 (an ephemeral port) runs its event loop
(epoll) in a thread of its own; 4 client threads keep one TCP connection
each to it, open across the checkpoint, and an asyncio client on that
loop keeps a fifth; a ThreadPoolExecutor of 3 threads hashes beside them.
Each step every client sends a request and reads the answer (the server
answers after an asyncio.sleep, so requests are in flight on the loop),
and the main thread writes one line: the step and the answers in client
order, the same on every run.
"""
import asyncio
import concurrent.futures
import hashlib
import socket
import sys
import threading
import time


async def handle(reader, writer):
    while True:
        line = await reader.readline()
        if not line:
            break
        await asyncio.sleep(0.002)
        writer.write(hashlib.sha256(line).hexdigest()[:16].encode() + b"\n")
        await writer.drain()
    writer.close()


def digest(step, i):
    h = hashlib.sha256(f"{step}/{i}".encode())
    for _ in range(20000):
        h = hashlib.sha256(h.digest())
    return h.hexdigest()[:10]


def client(port, i, requests, answers):
    s = socket.create_connection(("127.0.0.1", port))
    f = s.makefile("rwb")
    while True:
        step = requests.get()
        if step is None:
            break
        f.write(f"{step}:{i}:{'x' * (step % 50)}\n".encode())
        f.flush()
        answers.put((i, f.readline().strip().decode()))
    s.close()


async def aclient(port, requests, answers):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    while True:
        step = await requests.get()
        if step is None:
            break
        writer.write(f"{step}:async\n".encode())
        await writer.drain()
        answers.put((4, (await reader.readline()).strip().decode()))
    writer.close()


def main():
    import queue

    out, steps, delay = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    loop = asyncio.new_event_loop()
    started = threading.Event()
    holder = {}

    def serve():
        asyncio.set_event_loop(loop)
        server = loop.run_until_complete(asyncio.start_server(handle, "127.0.0.1", 0))
        holder["port"] = server.sockets[0].getsockname()[1]
        holder["aq"] = asyncio.Queue()
        started.set()
        loop.run_forever()

    threading.Thread(target=serve, daemon=True).start()
    started.wait()
    port = holder["port"]
    answers = queue.Queue()
    reqs = [queue.Queue() for _ in range(4)]
    threads = [threading.Thread(target=client, args=(port, i, reqs[i], answers)) for i in range(4)]
    for t in threads:
        t.start()
    aq = holder["aq"]
    afut = asyncio.run_coroutine_threadsafe(aclient(port, aq, answers), loop)
    total = hashlib.sha256()
    with concurrent.futures.ThreadPoolExecutor(3) as pool, open(out, "w") as f:
        for s in range(steps):
            for q in reqs:
                q.put(s)
            loop.call_soon_threadsafe(aq.put_nowait, s)
            hashes = list(pool.map(digest, [s] * 6, range(6)))
            got = dict(answers.get(timeout=60) for _ in range(5))
            line = f"{s} {' '.join(got[i] for i in range(5))} {hashes[-1]}"
            total.update(line.encode())
            f.write(line + "\n")
            f.flush()
            if delay:
                time.sleep(delay / 1000)
        f.write(f"done {total.hexdigest()}\n")
    for q in reqs:
        q.put(None)
    for t in threads:
        t.join()
    loop.call_soon_threadsafe(aq.put_nowait, None)
    afut.result(timeout=60)
    loop.call_soon_threadsafe(loop.stop)


if __name__ == "__main__":
    main()
