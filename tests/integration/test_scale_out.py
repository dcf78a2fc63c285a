"""Several `relaydesk serve` nodes on one PostgreSQL (issue 15).

A real PostgreSQL 15 is started for the module (tests/pg/pgserver.py);
each test gets a database of its own and two serve nodes (each with its
own data directory: certificate, example rules) sharing it. What must
hold, each checked by Message-ID in the database:

- two nodes, 2,000 messages over SMTP split across both, plus messages
  delivered to both nodes: one ticket entry per message, none twice;
- kill -9 of a node mid-run: every message it answered 250 for becomes
  a ticket entry (the other node takes over its leases);
- PostgreSQL restarted under load: 451 while it is down, nothing that
  got a 250 lost, both nodes accept again by themselves;
- the outbox with two nodes and one aiosmtpd relay: every message
  delivered; duplicates counted (0 expected without a crash).
"""
import os
import signal
import smtplib
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "pg"))
import pgserver  # noqa: E402

RELAYDESK = os.environ.get("RELAYDESK", "relaydesk")
PG = None


def setUpModule():
    global PG
    if not pgserver.available():
        raise unittest.SkipTest("PostgreSQL 15 is not installed")
    PG = pgserver.PgServer(fsync=False, max_connections=300).start()


def tearDownModule():
    if PG:
        PG.cleanup()


def mail(i, tag="m", subject=None):
    mid = "%s%d@scale.test" % (tag, i)
    return mid, ("From: sender%d@example.org\r\nTo: support@desk.test\r\nSubject: %s\r\n"
                 "Message-ID: <%s>\r\nDate: Sun, 06 Dec 2026 05:00:00 +0000\r\n\r\nbody %d\r\n"
                 % (i, subject or "scale %s %d" % (tag, i), mid, i)).encode()


class Node:
    def __init__(self, tmp, name, url, relay=None):
        self.dir = os.path.join(tmp, name)
        os.makedirs(self.dir, exist_ok=True)
        self.port_file = os.path.join(tmp, name + ".port")
        self.log_path = os.path.join(tmp, name + ".log")
        conf = os.path.join(tmp, name + ".conf")
        with open(conf, "w") as f:
            f.write("[store]\nurl = %s\nlease = 3\n[relay]\nrate_per_minute = 0\nretry_base = 1s\nstarttls = opportunistic\n"
                    "[desk]\nsubject_tag_auth = any\n" % url)
        args = [RELAYDESK, "serve", "--data-dir", self.dir, "--config", conf, "--smtp", "127.0.0.1:0",
                "--smtps", "none", "--port-file", self.port_file]
        if relay:
            args += ["--relay", relay]
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        self.port = None
        while time.time() < deadline and self.port is None:
            if self.proc.poll() is not None:
                raise RuntimeError("serve exited: " + self.read_log())
            try:
                with open(self.port_file) as f:
                    self.port = int(f.read().split()[0])
            except (OSError, ValueError, IndexError):
                time.sleep(0.05)
        if self.port is None:
            raise RuntimeError("serve did not start: " + self.read_log())

    def read_log(self):
        self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


class Sender(threading.Thread):
    """Sends its messages over one SMTP session (reconnecting after a
    failure); records the Message-IDs answered 250. With @retry, a 4xx or
    a lost connection is retried after a pause, as an MTA would."""

    def __init__(self, port, messages, retry=0.0, deadline=None):
        super().__init__(daemon=True)
        self.port, self.messages, self.retry = port, messages, retry
        self.deadline = deadline
        self.accepted, self.temp_failures, self.failed = [], 0, []
        self.temp_replies = set()

    def run(self):
        s = None
        for mid, raw in self.messages:
            while True:
                try:
                    if s is None:
                        s = smtplib.SMTP("127.0.0.1", self.port, timeout=30)
                    s.sendmail("sender@example.org", ["support@desk.test"], raw)
                    self.accepted.append(mid)
                    break
                except (smtplib.SMTPException, OSError) as e:
                    code = getattr(e, "smtp_code", None)
                    if code is None and isinstance(e, smtplib.SMTPRecipientsRefused):
                        code = list(e.recipients.values())[0][0]
                    if code is not None and 400 <= code < 500:
                        self.temp_failures += 1
                        text = getattr(e, "smtp_error", b"") or b""
                        self.temp_replies.add((code, text[:5].decode(errors="replace")))
                    try:
                        if s is not None:
                            s.close()
                    except Exception:
                        pass
                    s = None
                    if not self.retry or (self.deadline and time.time() > self.deadline):
                        self.failed.append((mid, repr(e)))
                        break
                    time.sleep(self.retry)
        if s is not None:
            try:
                s.quit()
            except Exception:
                pass


def split(messages, n):
    return [messages[i::n] for i in range(n)]


class ScaleOut(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="rd-scale-")
        self.db = "t_%s" % self._testMethodName.lower()
        self.url = PG.create_database(self.db)
        self.nodes = []

    def tearDown(self):
        for n in self.nodes:
            n.kill()
            n.log.close()
        subprocess.run(["rm", "-rf", self.tmp])

    def node(self, name, relay=None):
        n = Node(self.tmp, name, self.url, relay)
        self.nodes.append(n)
        return n

    def q(self, sql):
        return PG.psql(sql, db=self.db).strip()

    def qint(self, sql):
        return int(self.q(sql) or 0)

    def wait_processed(self, timeout=120):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.qint("SELECT count(*) FROM spool WHERE state = 'new'") == 0:
                return
            time.sleep(0.3)
        self.fail("spool not processed: %s" % self.q("SELECT state, count(*) FROM spool GROUP BY state"))

    def assert_each_once(self, mids):
        """Every Message-ID in @mids is on exactly one ticket entry."""
        dup = self.q("SELECT message_id, count(*) FROM messages WHERE direction = 'inbound'"
                     " GROUP BY message_id HAVING count(*) > 1 LIMIT 5")
        self.assertEqual(dup, "", "duplicate ticket entries")
        have = set(self.q("SELECT message_id FROM messages WHERE direction = 'inbound'").split())
        missing = [m for m in mids if m not in have]
        self.assertEqual(missing[:5], [], "%d accepted messages lost" % len(missing))

    def test_two_nodes_share_the_work(self):
        a, b = self.node("a"), self.node("b")
        msgs = [mail(i) for i in range(2000)]
        # The same 50 messages to both nodes (an MTA's retry, two MX).
        twice = [mail(i, "twice") for i in range(50)]
        senders = [Sender(n.port, part) for n, part in zip([a, b] * 4, split(msgs, 8))]
        senders += [Sender(a.port, twice), Sender(b.port, twice)]
        t0 = time.time()
        for s in senders:
            s.start()
        for s in senders:
            s.join(180)
        accepted = [m for s in senders for m in s.accepted]
        self.assertEqual(len(accepted), 2100, [s.failed[:2] for s in senders if s.failed])
        sent_s = time.time() - t0
        self.wait_processed()
        self.assert_each_once(set(accepted))
        self.assertEqual(self.qint("SELECT count(*) FROM messages WHERE direction = 'inbound'"), 2050)
        self.assertEqual(self.qint("SELECT count(*) FROM tickets"), 2050)
        # Ticket numbers: unique (the key) and drawn from one sequence.
        self.assertEqual(self.qint("SELECT count(DISTINCT number) FROM tickets"), 2050)
        # Both nodes claimed work.
        owners = self.qint("SELECT count(DISTINCT lease_owner) FROM spool")
        self.assertEqual(owners, 2, self.q("SELECT lease_owner, count(*) FROM spool GROUP BY 1"))
        print("2 nodes: 2100 accepted in %.1fs, all processed after %.1fs" % (sent_s, time.time() - t0),
              file=sys.stderr)

    def test_nodes_migrate_together(self):
        """Four processes opening the empty database at once: one migrates
        (under pg_advisory_lock), the others wait and find it done."""
        procs = [subprocess.Popen([RELAYDESK, "verify", "--data-dir", os.path.join(self.tmp, "m%d" % i),
                                   "--database", self.url], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                 for i in range(4)]
        outs = [p.communicate(timeout=60) for p in procs]
        for p, (out, err) in zip(procs, outs):
            self.assertEqual(p.returncode, 0, err.decode(errors="replace")[-2000:])
            self.assertIn(b"no problems found", out)
        self.assertEqual(self.qint("SELECT count(*) FROM schema_migrations"),
                         self.qint("SELECT count(DISTINCT name) FROM schema_migrations"))

    def test_follow_ups_on_both_nodes_thread_to_one_ticket(self):
        a, b = self.node("a"), self.node("b")
        mid, raw = mail(0, "root", "Printer on fire")
        s = Sender(a.port, [(mid, raw)])
        s.run()
        self.wait_processed()
        number = self.qint("SELECT number FROM tickets")
        replies = []
        for i in range(40):
            rid = "reply%d@scale.test" % i
            replies.append((rid, ("From: sender0@example.org\r\nTo: support@desk.test\r\n"
                                  "Subject: Re: [RD #%d] Printer on fire\r\nMessage-ID: <%s>\r\nIn-Reply-To: <%s>\r\n"
                                  "References: <%s>\r\n\r\nstill burning %d\r\n" % (number, rid, mid, mid, i)).encode()))
        senders = [Sender(a.port, replies[0::2]), Sender(b.port, replies[1::2])]
        for x in senders:
            x.start()
        for x in senders:
            x.join(60)
        self.wait_processed()
        self.assertEqual(self.qint("SELECT count(*) FROM tickets"), 1)
        self.assertEqual(self.qint("SELECT count(*) FROM messages"), 41)

    def test_kill_9_one_node_the_other_finishes(self):
        a, b = self.node("a"), self.node("b")
        msgs = [mail(i) for i in range(600)]
        senders = [Sender(a.port, part) for part in split(msgs, 4)]
        for s in senders:
            s.start()
        deadline = time.time() + 60
        while sum(len(s.accepted) for s in senders) < 300 and time.time() < deadline:
            time.sleep(0.01)
        a.kill()
        for s in senders:
            s.join(60)
        accepted = [m for s in senders for m in s.accepted]
        self.assertGreaterEqual(len(accepted), 300)
        # b takes over a's claims when their lease (3 s) runs out.
        self.wait_processed(timeout=60)
        self.assert_each_once(accepted)
        print("kill -9: %d accepted by the killed node, all processed by the other" % len(accepted),
              file=sys.stderr)

    def test_postgresql_restart_under_load(self):
        a, b = self.node("a"), self.node("b")
        msgs = [mail(i) for i in range(1200)]
        end = time.time() + 60
        senders = [Sender(n.port, part, retry=0.2, deadline=end) for n, part in zip([a, b] * 3, split(msgs, 6))]
        for s in senders:
            s.start()
        while sum(len(s.accepted) for s in senders) < 200:
            time.sleep(0.01)
        PG.restart(down_seconds=1.0)
        for s in senders:
            s.join(90)
        accepted = [m for s in senders for m in s.accepted]
        temp = sum(s.temp_failures for s in senders)
        failed = [f for s in senders for f in s.failed]
        self.assertEqual(failed[:3], [], "messages never accepted after the restart")
        self.assertEqual(len(accepted), 1200)
        self.wait_processed(timeout=60)
        self.assert_each_once(accepted)
        self.assertGreater(temp, 0, "no 4xx while PostgreSQL was down: did the restart happen?")
        replies = set().union(*(s.temp_replies for s in senders))
        self.assertIn((451, "4.3.0"), replies)
        print("restart: %d accepted, %d temporary failures while down" % (len(accepted), temp), file=sys.stderr)

    def start_relay(self):
        port = pgserver.free_port()
        spool = os.path.join(self.tmp, "relay-spool")
        os.makedirs(spool)
        py = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable  # with aiosmtpd
        relay = subprocess.Popen([py, os.path.join(HERE, "relay_aiosmtpd.py"), str(port), spool, "0"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.addCleanup(lambda: (relay.kill(), relay.wait(), relay.stderr.close()))
        deadline = time.time() + 20
        while True:
            try:
                smtplib.SMTP("127.0.0.1", port, timeout=5).quit()
                return "smtp://127.0.0.1:%d" % port, spool
            except OSError:
                if relay.poll() is not None or time.time() > deadline:
                    self.fail("the aiosmtpd relay did not start: %s" % relay.stderr.read())
                time.sleep(0.1)

    def inject(self, node, copies):
        raw = b"From: support@desk.test\nTo: customer@example.net\nSubject: hello\n\nhi\n"
        p = subprocess.run([RELAYDESK, "queue", "inject", "--data-dir", node.dir, "--database", self.url,
                            "--from", "support@desk.test", "--to", "customer@example.net",
                            "--copies", str(copies), "-"], input=raw, capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)

    def wait_sent(self, n, node):
        deadline = time.time() + 90
        while time.time() < deadline:
            if self.qint("SELECT count(*) FROM outbox WHERE state <> 'sent'") == 0:
                break
            time.sleep(0.3)
        self.assertEqual(self.q("SELECT state, count(*) FROM outbox GROUP BY state"), "sent|%d" % n,
                         node.read_log()[-3000:])

    def test_outbox_two_nodes_one_relay(self):
        relay, spool = self.start_relay()
        a = self.node("a", relay=relay)
        self.node("b", relay=relay)
        self.inject(a, 300)
        self.wait_sent(300, a)
        # The copies are alike (no Message-ID of their own): the relay's
        # count against the rows says whether one went out twice.
        files = [f for f in os.listdir(spool) if f.endswith(".eml")]
        dups = len(files) - 300
        self.assertGreaterEqual(len(files), 300, "every message delivered")
        self.assertEqual(self.q("SELECT max(attempts) FROM outbox"), "1")
        senders = self.qint("SELECT count(DISTINCT lease_owner) FROM outbox")
        print("outbox: 300 delivered by %d nodes, %d duplicates" % (senders, dups), file=sys.stderr)
        self.assertEqual(dups, 0)

    def test_outbox_node_killed_while_sending(self):
        """A node killed while sending: its row is sent again by the other
        node once the lease (3 s) ends: at most the one message it had
        handed to the relay goes out twice (measured and printed)."""
        relay, spool = self.start_relay()
        a = self.node("a", relay=relay)
        self.inject(a, 400)
        deadline = time.time() + 60
        while len(os.listdir(spool)) < 100 and time.time() < deadline:
            time.sleep(0.01)
        a.kill()
        b = self.node("b", relay=relay)
        self.wait_sent(400, b)
        files = [f for f in os.listdir(spool) if f.endswith(".eml")]
        dups = len(files) - 400
        taken = self.qint("SELECT count(*) FROM outbox_events WHERE event = 'recovered'")
        print("outbox, node killed while sending: 400 delivered, %d duplicates, %d rows taken over"
              % (dups, taken), file=sys.stderr)
        self.assertGreaterEqual(dups, 0)
        self.assertLessEqual(dups, 1)

if __name__ == "__main__":
    unittest.main(verbosity=2)
