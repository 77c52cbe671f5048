"""wal.py OUT DB STEPS DELAY_MS: SQLite in WAL mode under a checkpoint.

The database DB is opened once, in journal_mode=WAL (its DB-wal log and
the DB-shm index, a shared mapping of that file, with POSIX locks on
both), by two connections: a writer thread and the main thread reading.
Each step the writer inserts rows in one transaction and the reader
queries aggregates over the steps so far; every 10 steps the WAL is
checkpointed into the database. The writes are keyed by step (INSERT OR
REPLACE): a run restarted from a checkpoint taken before rows it wrote
once writes the same rows again. One line per step: the step and the
query results, the same on every run.
"""
import hashlib
import os
import sqlite3
import sys
import threading
import time


def main():
    out, db, steps, delay = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.unlink(db + suffix)
    w = sqlite3.connect(db, check_same_thread=False, isolation_level=None)
    w.execute("PRAGMA journal_mode=WAL")
    w.execute("PRAGMA synchronous=NORMAL")
    w.execute("CREATE TABLE t (step INTEGER, i INTEGER, v TEXT, n INTEGER, PRIMARY KEY (step, i))")
    w.execute("CREATE INDEX t_n ON t (n)")
    r = sqlite3.connect(db, isolation_level=None)
    mode = r.execute("PRAGMA journal_mode").fetchone()[0]
    total = hashlib.sha256()

    def write(step):
        w.execute("BEGIN IMMEDIATE")
        for i in range(400):
            h = hashlib.sha256(f"{step}:{i}".encode()).hexdigest()
            w.execute("INSERT OR REPLACE INTO t VALUES (?, ?, ?, ?)", (step, i, h * 4, int(h[:8], 16)))
        w.execute("COMMIT")
        if step % 10 == 9:
            w.execute("PRAGMA wal_checkpoint(PASSIVE)")

    with open(out, "w") as f:
        for s in range(steps):
            t = threading.Thread(target=write, args=(s,))
            t.start()
            t.join()
            n, sm = r.execute("SELECT count(*), sum(n % 1000003) FROM t WHERE step <= ?", (s,)).fetchone()
            top = r.execute("SELECT v FROM t WHERE step <= ? ORDER BY n DESC LIMIT 1", (s,)).fetchone()[0][:12]
            line = f"{s} {mode} {n} {sm} {top}"
            total.update(line.encode())
            f.write(line + "\n")
            f.flush()
            if delay:
                time.sleep(delay / 1000)
        ok = r.execute("PRAGMA integrity_check").fetchone()[0]
        f.write(f"done {ok} {total.hexdigest()}\n")
    r.close()
    w.close()


if __name__ == "__main__":
    main()
