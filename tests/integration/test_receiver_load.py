"""The receiver under load: Postfix's smtp-source with 50 concurrent
sessions (zero errors, every message spooled), and the crash test: kill -9
while clients are sending, restart, and every message that got a 250 is in
the spool exactly once."""
import collections
import os
import re
import shutil
import smtplib
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from receiver_util import Serve  # noqa: E402

SMTP_SOURCE = shutil.which("smtp-source") or "/usr/sbin/smtp-source"


def smtp_source():
    if not os.path.exists(SMTP_SOURCE):
        print("smtp-source missing (package postfix): not run")
        return
    n = 500
    conf = {"smtp": {"max_connections_per_ip": "200"}}
    with Serve(conf, smtps=False) as srv:
        t0 = time.time()
        r = subprocess.run([SMTP_SOURCE, "-s", "50", "-m", str(n), "-l", "4096", "-f", "load@gov.in",
                            "-t", "desk@gov.in", "127.0.0.1:%d" % srv.port],
                           capture_output=True, text=True, timeout=240)
        dt = time.time() - t0
        assert r.returncode == 0, (r.returncode, r.stderr)
        assert r.stderr.strip() == "", r.stderr
        count = len(srv.spool())
        assert count == n, "%d spooled of %d" % (count, n)
        # Same with several messages per connection (-m over -s sessions, pipelined RSET).
        r = subprocess.run([SMTP_SOURCE, "-s", "50", "-m", str(n), "-r", "10", "-l", "1000",
                            "-f", "load@gov.in", "-t", "desk@gov.in", "127.0.0.1:%d" % srv.port],
                           capture_output=True, text=True, timeout=240)
        assert r.returncode == 0 and r.stderr.strip() == "", r.stderr
        assert len(srv.spool()) == 2 * n
    print("ok smtp-source 50 sessions, %d messages, zero errors (%.0f msg/s)" % (n, n / dt))


def crash():
    conf = {"smtp": {"max_connections_per_ip": "200"}}
    srv = Serve(conf, smtps=False)
    acked = {}           # message-id -> queue id from the 250
    lock = threading.Lock()
    stop = threading.Event()
    qid_re = re.compile(rb"Ok: message ([0-9A-F]+) accepted")

    def client(k):
        i = 0
        while not stop.is_set():
            try:
                with smtplib.SMTP("127.0.0.1", srv.port, timeout=10) as s:
                    s.ehlo("crash.test")
                    for _ in range(5):
                        i += 1
                        mid = "<c%d.%d@crash.test>" % (k, i)
                        s.mail("a@gov.in")
                        s.rcpt("b@gov.in")
                        code, text = s.data("Message-ID: %s\r\nSubject: crash\r\n\r\n%s\r\n" % (mid, "x" * 2000))
                        if code == 250:
                            m = qid_re.search(text)
                            with lock:
                                acked[mid.strip("<>")] = m.group(1).decode()
            except (OSError, smtplib.SMTPException):
                if stop.is_set():
                    return
                time.sleep(0.05)

    srv.start()
    try:
        threads = [threading.Thread(target=client, args=(k,)) for k in range(16)]
        for t in threads:
            t.start()
        time.sleep(2.0)
        srv.kill9()
        stop.set()
        for t in threads:
            t.join(30)
        assert len(acked) > 20, "only %d messages acknowledged before the kill" % len(acked)
        srv.start()  # recovery: the same data directory
        rows = srv.spool()
        by_mid = collections.Counter(r[1] for r in rows)
        qids = {r[1]: r[0] for r in rows}
        missing = [m for m in acked if by_mid[m] == 0]
        dup = [m for m, n in by_mid.items() if n > 1]
        wrong = [m for m in acked if by_mid[m] == 1 and qids[m] != acked[m]]
        assert not missing, "acknowledged but lost: %s" % missing[:5]
        assert not dup, "stored twice: %s" % dup[:5]
        assert not wrong, "queue id differs: %s" % wrong[:5]
        print("ok crash: %d acknowledged before kill -9, all in the spool exactly once (%d rows)"
              % (len(acked), len(rows)))
    finally:
        stop.set()
        srv.close()


def main():
    smtp_source()
    crash()


if __name__ == "__main__":
    main()
