"""relaydesk backup / restore / verify.

A backup taken while four SMTP clients keep sending is restored into a
fresh directory: every ticket that existed when the backup began and every
message acknowledged with 250 before it began are there (the copy is one
snapshot, taken after those commits). restore refuses a live store;
verify says what is wrong in words.
"""
import json
import os
import smtplib
import sqlite3
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rdtest  # noqa: E402


class Load:
    """SMTP clients sending until stopped; remembers when each 250 came."""

    def __init__(self, port, clients=4):
        self.port = port
        self.stop = threading.Event()
        self.acked = []          # (monotonic time of the 250, message id)
        self.lock = threading.Lock()
        self.errors = []
        self.threads = [threading.Thread(target=self.run, args=(i,)) for i in range(clients)]
        for t in self.threads:
            t.start()

    def run(self, n):
        i = 0
        try:
            with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as c:
                while not self.stop.is_set() and i < 2000:
                    mid = f"load-{n}-{i}@example.com"
                    msg = (f"From: client{n}@example.com\r\nTo: support@example.org\r\n"
                           f"Subject: load {n} {i}\r\nMessage-ID: <{mid}>\r\n\r\n" + "body\r\n" * 20)
                    c.sendmail(f"client{n}@example.com", ["support@example.org"], msg)
                    with self.lock:
                        self.acked.append((time.monotonic(), mid))
                    i += 1
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.errors.append(repr(e))

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(60)


class BackupTest(rdtest.RelaydeskTestCase):
    def test_backup_under_load_and_restore(self):
        s = self.serve()
        load = Load(s.port)
        try:
            self.wait_for(lambda: len(load.acked) >= 100, timeout=60, what="100 messages accepted")
            tickets_before = {t["number"] for t in self.rd_json("tickets", "list", "--limit", "1000")}
            t0 = time.monotonic()
            with load.lock:
                acked_before = [mid for (t, mid) in load.acked if t < t0]
            dest = os.path.join(self.tmp, "backup")
            out = self.rd_json("backup", dest)
            t1 = time.monotonic()
            with load.lock:
                during = sum(1 for (t, _) in load.acked if t0 <= t < t1)
        finally:
            load.finish()
        self.assertEqual(load.errors, [])
        self.assertEqual(sorted(out["files"]), ["MANIFEST", "relaydesk.db", "tls-cert.pem", "tls-key.pem"])
        self.assertEqual(os.stat(dest).st_mode & 0o777, 0o700)
        for f in out["files"]:
            self.assertEqual(os.stat(os.path.join(dest, f)).st_mode & 0o777, 0o600, f)
        s.stop()
        print(f"backup took {t1 - t0:.3f} s: {len(acked_before)} messages acknowledged before it, "
              f"{during} while it ran, {len(load.acked)} in all; {len(tickets_before)} tickets before it")

        # Restore into a fresh data directory.
        fresh = os.path.join(self.tmp, "restored")
        p = self.rd("restore", dest, data_dir=fresh)
        self.assertIn(f"restored {fresh}/relaydesk.db", p.stdout.decode())
        con = sqlite3.connect(os.path.join(fresh, "relaydesk.db"))
        spooled = {r[0] for r in con.execute("SELECT message_id FROM spool")}
        missing = [m for m in acked_before if m not in spooled]
        self.assertEqual(missing, [], "acknowledged before the backup but not in it")
        numbers = {r[0] for r in con.execute("SELECT number FROM tickets")}
        self.assertEqual(tickets_before - numbers, set())
        # The secret that signs Message-IDs came along, and the TLS key.
        orig = sqlite3.connect(os.path.join(self.data, "relaydesk.db"))
        q = "SELECT secret FROM desk_secret WHERE id = 1"
        self.assertEqual(con.execute(q).fetchone(), orig.execute(q).fetchone())
        with open(os.path.join(self.data, "tls-key.pem"), "rb") as a, open(os.path.join(fresh, "tls-key.pem"), "rb") as b:
            self.assertEqual(a.read(), b.read())
        con.close()
        orig.close()
        v = self.rd_json("verify", data_dir=fresh)
        self.assertEqual((v["ok"], v["problems"]), (True, []))

        # The restored store serves: the spooled-but-unprocessed messages
        # are processed at start and every acknowledged message is a
        # ticket's.
        s2 = self.serve(data_dir=fresh)
        self.wait_for(lambda: self.spool_new(fresh) == 0, timeout=60, what="restored spool processed")
        for mid in acked_before[:20]:
            self.rd("spool", "raw", f"<{mid}>", data_dir=fresh)
        s2.stop()

        # Never over a live store.
        p = self.rd("restore", dest, data_dir=fresh, check=False)
        self.assertEqual(p.returncode, 65)
        self.assertIn("restore never overwrites a store", p.stderr.decode())
        # A damaged backup is refused before anything is written.
        with open(os.path.join(dest, "tls-cert.pem"), "ab") as f:
            f.write(b"x")
        p = self.rd("restore", dest, data_dir=os.path.join(self.tmp, "third"), check=False)
        self.assertEqual(p.returncode, 65)
        self.assertIn("the backup is damaged", p.stderr.decode())
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "third", "relaydesk.db")))

    def spool_new(self, data_dir):
        con = sqlite3.connect(os.path.join(data_dir, "relaydesk.db"), timeout=10)
        try:
            return con.execute("SELECT count(*) FROM spool WHERE state = 'new'").fetchone()[0]
        finally:
            con.close()

    def test_verify_in_words(self):
        s = self.serve()
        with smtplib.SMTP("127.0.0.1", s.port, timeout=10) as c:
            c.sendmail("alice@example.com", ["support@example.org"],
                       "From: alice@example.com\r\nSubject: one\r\n\r\nhi\r\n")
        self.wait_tickets(1)
        s.stop()
        p = self.rd("verify")
        self.assertIn("no problems found", p.stdout.decode())
        # A message row pointing at a ticket that is gone (written with the
        # foreign keys off, as a broken tool would).
        con = sqlite3.connect(os.path.join(self.data, "relaydesk.db"))
        con.execute("PRAGMA foreign_keys=OFF")
        row = con.execute("SELECT id FROM messages LIMIT 1").fetchone()[0]
        con.execute("UPDATE messages SET ticket_number = 999 WHERE id = ?", (row,))
        con.commit()
        con.close()
        p = self.rd("verify", check=False)
        self.assertEqual(p.returncode, 65)
        self.assertIn(f"table messages, row {row}: refers to a row of tickets that does not exist",
                      p.stdout.decode())
        v = json.loads(self.rd("verify", "--json", check=False).stdout)
        self.assertFalse(v["ok"])


if __name__ == "__main__":
    rdtest.main()
