#!/usr/bin/python3
"""Database contention (issue 14, point 3).

Under SMTP load (8 sessions) with processing into tickets, another
process (this test's own SQLite connection, as a backup or an agent's CLI
would) holds

1. a long read transaction (HOLD x 2 seconds): WAL readers never block
   the writer, so every message is answered 250;
2. BEGIN EXCLUSIVE for HOLD seconds (5 s, under the spool writer's 10 s
   busy timeout): sessions wait, none is answered 451, all are stored;
3. BEGIN EXCLUSIVE for OVER seconds (past the timeout): the waiting
   messages are answered 451 4.3.0 (never 250 for a message not stored),
   then the server recovers by itself.

Afterwards every 250'd message is in the spool once and on one ticket
entry, and PRAGMA integrity_check is ok.

Usage: db_contention.py [--hold S] [--over S]
"""
import argparse
import os
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import chaos  # noqa: E402
from chaos import check, figure  # noqa: E402


def phase(serve, load, name, fn):
    before = dict(load.codes)
    t0 = time.time()
    fn()
    time.sleep(1.5)
    after = dict(load.codes)
    delta = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    print("%s: %.1f s, replies %s" % (name, time.time() - t0, delta), flush=True)
    return delta


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hold", type=float, default=5.0)
    ap.add_argument("--over", type=float, default=13.0)
    a = ap.parse_args()
    chaos.need_relaydesk()
    work = chaos.Workdir("rd-contention-")
    serve = chaos.Serve(work, {"desk": {"reply_address": chaos.INBOX}})
    try:
        serve.start()
        load = chaos.Load(serve.port, sessions=8, pause=0.05).start()
        time.sleep(1)
        db = os.path.join(serve.data_dir, "relaydesk.db")

        def long_read():
            c = sqlite3.connect(db, timeout=60, isolation_level=None)
            c.execute("BEGIN")
            c.execute("SELECT count(*) FROM spool").fetchone()
            time.sleep(a.hold * 2)
            c.execute("COMMIT")
            c.close()

        def exclusive(seconds):
            def run():
                c = sqlite3.connect(db, timeout=60, isolation_level=None)
                c.execute("BEGIN EXCLUSIVE")
                time.sleep(seconds)
                c.execute("COMMIT")
                c.close()
            return run

        d1 = phase(serve, load, "long read transaction", long_read)
        d2 = phase(serve, load, "BEGIN EXCLUSIVE for %.0f s" % a.hold, exclusive(a.hold))
        d3 = phase(serve, load, "BEGIN EXCLUSIVE for %.0f s (past the timeout)" % a.over, exclusive(a.over))
        time.sleep(2)
        before = dict(load.codes)
        time.sleep(2)
        recovered = load.codes.get(250, 0) - before.get(250, 0)
        load.stop()
        acked = load.snapshot()
        check(chaos.wait_until(lambda: serve.query("SELECT count(*) FROM spool WHERE state='new'")[0][0] == 0, 120),
              "spool processed")
        counts = chaos.spool_counts(serve, acked)
        entries = chaos.ticket_entry_counts(serve, acked)
        lost = [t for t in acked if counts[t] != 1 or entries[t] != 1]
        serve.stop()
        integ = serve.integrity()
        log = serve.tail(20 * 1024 * 1024)
        figure("read_txn_250", d1.get(250, 0))
        figure("read_txn_451", d1.get(451, 0))
        figure("exclusive_%ds_250" % a.hold, d2.get(250, 0))
        figure("exclusive_%ds_451" % a.hold, d2.get(451, 0))
        figure("exclusive_%ds_250" % a.over, d3.get(250, 0))
        figure("exclusive_%ds_451" % a.over, d3.get(451, 0))
        figure("recovered_250_per_2s", recovered)
        figure("processing_retries", log.count("desk.process error="))
        figure("messages_250", len(acked))
        figure("connection_errors", load.errors)
        figure("messages_lost", len(lost))
        check(d1.get(451, 0) == 0 and d1.get(250, 0) > 0, "a long read transaction blocks nothing")
        check(d2.get(451, 0) == 0 and d2.get(250, 0) > 0, "an exclusive lock under the timeout: no 451")
        check(d3.get(451, 0) > 0, "an exclusive lock past the timeout: 451")
        check(set(load.codes) <= {250, 451}, "only 250 and 451 (%s)" % load.codes)
        check(load.errors == 0, "no connection dropped")
        check(recovered > 0, "accepting again after the lock")
        check(not lost, "every 250'd message in the spool once and on one ticket entry")
        check(integ == "ok", "integrity_check ok")
    finally:
        try:
            serve.stop()
        except Exception:
            pass
        work.cleanup()


if __name__ == "__main__":
    main()
