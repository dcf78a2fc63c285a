"""The reliability campaign's harness (issue 14), stdlib only.

Shared by the fast variants under tests/reliability/ (meson test) and the
long campaign in bench/chaos/run (the same scenarios with bigger figures).

- Serve: `relaydesk serve` on a FIXED loopback port (a restarted server
  must come back where the load generator looks for it), a config file
  written from a dict, SIGKILL and restart, its peak RSS (VmHWM) and
  current RSS / open descriptors from /proc.
- Relay: the aiosmtpd relay of tests/integration/relay_aiosmtpd.py, which
  fsyncs every message it accepts to SPOOL/NNNN.eml before its 250.
- Spool/ticket/outbox checks read the SQLite database directly (read-only,
  the test's own connection): a check of the store, not of its API.
- Every scenario prints its figures as `figure NAME=VALUE` lines, which
  bench/chaos/run collects into its summary.
"""
import email
import email.policy
import os
import random
import re
import shutil
import signal
import smtplib
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

RELAYDESK = os.environ.get("RELAYDESK")
SOURCE_ROOT = os.environ.get(
    "RD_SOURCE_ROOT",
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
PYTHON = "/usr/bin/python3"
RELAY_SCRIPT = os.path.join(SOURCE_ROOT, "tests", "integration", "relay_aiosmtpd.py")

# The loopback port helpers of the integration tests, not a copy of them.
sys.path.insert(0, os.path.join(SOURCE_ROOT, "tests", "integration"))
from relay_peers import free_port, wait_port  # noqa: E402

INBOX = "support@desk.test"

# An acknowledgement for every new ticket: the outbox gets work from the
# SMTP load itself (the soak's "5% acknowledged" uses its own rule).
ACK_SCRIPT = r'''require ["vacation", "vacation-seconds", "variables", "vnd.relaydesk.ticket"];
if not followup {
  vacation :seconds 1 :handle "ack-${ticket.number}"
    :from "Desk Support <support@desk.test>"
    :subject "Re: received ${ticket.tag}"
    "Your request is now ticket ${ticket.number}.";
}
'''


def skip(msg):
    print("SKIP: " + msg)
    sys.exit(77)


def need_relaydesk():
    if not RELAYDESK:
        skip("RELAYDESK is not set (run under meson test or bench/chaos/run)")


def need_root(what):
    if os.geteuid() != 0:
        skip(what + " needs root")


_asan = None


def under_asan():
    """TRUE when the relaydesk binary is built with AddressSanitizer: its
    quarantine keeps freed memory resident (256 MB by default), so RSS
    limits are printed, not asserted."""
    global _asan
    if _asan is None:
        try:
            out = subprocess.run(["ldd", RELAYDESK], capture_output=True, text=True).stdout
        except OSError:
            out = ""
        _asan = "libasan" in out
    return _asan


def check_memory(cond, what):
    if under_asan() and not cond:
        print("not asserted under AddressSanitizer: " + what, flush=True)
        return
    check(cond, what)


def figure(name, value):
    print("figure %s=%s" % (name, value), flush=True)


def proc_status(pid):
    """{VmHWM, VmRSS} in KiB and the open descriptor count of @pid."""
    out = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmHWM", "VmRSS"):
                    out[k] = int(v.split()[0])
        out["fds"] = len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        pass
    return out


def mount_tmpfs(path, size_mb):
    os.makedirs(path, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%dm,mode=0755" % size_mb, "tmpfs", path], check=True)


def umount(path):
    subprocess.run(["umount", "-l", path], check=False)


def cpu_seconds(pid):
    """User + system CPU time of @pid so far."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Workdir:
    def __init__(self, prefix="rd-chaos-"):
        self.path = tempfile.mkdtemp(prefix=prefix)

    def join(self, *p):
        return os.path.join(self.path, *p)

    def cleanup(self):
        shutil.rmtree(self.path, ignore_errors=True)


def write_config(path, data_dir, conf):
    with open(path, "w") as f:
        f.write("[relaydesk]\nhostname = desk.test\ndata_dir = %s\n" % data_dir)
        for group, kv in conf.items():
            f.write("[%s]\n" % group)
            for k, v in kv.items():
                f.write("%s = %s\n" % (k, v))


class Serve:
    """relaydesk serve on a fixed port; restartable."""

    def __init__(self, work, conf=None, data_dir=None, port=None, env=None, preexec_fn=None):
        need_relaydesk()
        self.work = work
        self.data_dir = data_dir or work.join("data")
        self.conf_path = work.join("relaydesk.conf")
        self.conf = conf or {}
        write_config(self.conf_path, self.data_dir, self.conf)
        self.port = port or free_port()
        # No scenario may ask the machine's resolver (as in meson test).
        self.env = dict(env or os.environ)
        self.env.setdefault("RELAYDESK_DNS_SERVER", "127.0.0.1:1")
        self.preexec_fn = preexec_fn
        self.proc = None
        self.log_path = work.join("serve.log")
        self.starts = 0

    def start(self, timeout=30):
        """Starts serve and waits for its port file (written once every
        listener is served: the socket itself is bound, and accepts into
        its backlog, before serve has finished starting)."""
        self.log = open(self.log_path, "ab")
        port_file = self.work.join("serve.port")
        if os.path.exists(port_file):
            os.unlink(port_file)
        args = [RELAYDESK, "serve", "--config", self.conf_path, "--port-file", port_file,
                "--smtp", "127.0.0.1:%d" % self.port, "--smtps", "none"]
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT,
                                     env=self.env, preexec_fn=self.preexec_fn)
        self.starts += 1
        end = time.time() + timeout
        while time.time() < end:
            if self.proc.poll() is not None:
                self.log.close()
                raise RuntimeError("serve exited %s: %s" % (self.proc.returncode, self.tail()))
            if os.path.exists(port_file) and os.path.getsize(port_file) > 0:
                return self
            time.sleep(0.05)
        raise RuntimeError("serve did not start: " + self.tail())

    def tail(self, n=3000):
        try:
            with open(self.log_path, "rb") as f:
                return f.read()[-n:].decode("utf-8", "replace")
        except OSError:
            return ""

    def kill9(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        self.log.close()

    def stop(self, timeout=60):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.log.close()
        return self.proc.returncode if self.proc else None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def status(self):
        return proc_status(self.proc.pid) if self.alive() else {}

    def cpu(self):
        return cpu_seconds(self.proc.pid)

    def cli(self, *args, check=True, timeout=120, input=None):
        cmd = [RELAYDESK, *args, "--config", self.conf_path]
        p = subprocess.run(cmd, capture_output=True, timeout=timeout, input=input)
        if check and p.returncode != 0:
            raise AssertionError("%s exited %d: %s" % (cmd, p.returncode, p.stderr.decode(errors="replace")))
        return p

    def db(self):
        """A read-only connection to the store (the test's own)."""
        uri = "file:%s?mode=ro" % os.path.join(self.data_dir, "relaydesk.db")
        c = sqlite3.connect(uri, uri=True, timeout=30)
        c.execute("PRAGMA busy_timeout = 30000")
        return c

    def query(self, sql, *args):
        with self.db() as c:
            return c.execute(sql, args).fetchall()

    def integrity(self):
        c = sqlite3.connect(os.path.join(self.data_dir, "relaydesk.db"), timeout=30)
        try:
            return c.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            c.close()


class Relay:
    """The aiosmtpd relay (fsyncs each accepted message before its 250)."""

    def __init__(self, work, name="relay", tempfail=0):
        self.spool = work.join(name + "-spool")
        os.makedirs(self.spool, exist_ok=True)
        self.port = free_port()
        self.log = open(work.join(name + ".log"), "ab")
        self.proc = subprocess.Popen([PYTHON, RELAY_SCRIPT, str(self.port), self.spool, str(tempfail)],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        if not wait_port(self.port, timeout=30.0):
            raise RuntimeError("relay did not start")

    def url(self):
        return "smtp://127.0.0.1:%d" % self.port

    def message_ids(self):
        """Message-ID of every message stored, one entry per delivery."""
        ids = []
        for name in sorted(os.listdir(self.spool)):
            if not name.endswith(".eml"):
                continue
            with open(os.path.join(self.spool, name), "rb") as f:
                head = f.read(65536).split(b"\r\n\r\n", 1)[0]
            m = re.search(rb"(?im)^Message-ID:\s*(<[^>]*>)", head)
            ids.append(m.group(1).decode().strip("<>") if m else None)
        return ids

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def make_message(token, sender, size=0, extra_headers=""):
    body = "Request %s\r\n" % token
    if size > len(body):
        line = ("x" * 76) + "\r\n"
        body += line * ((size - len(body)) // len(line))
    return ("From: <%s>\r\nTo: <%s>\r\nSubject: chaos %s\r\nMessage-ID: <%s@chaos.test>\r\n"
            "Date: Sun, 06 Dec 2026 05:00:00 +0000\r\n%s\r\n%s" % (
                sender, INBOX, token, token, extra_headers, body)).encode()


class Load:
    """N SMTP clients, each sending one message per session in a loop
    until stopped, reconnecting through restarts. `acked` holds the token
    of every message answered 250 (each token is sent once: a message not
    answered is not retried under the same Message-ID, so that a spool
    entry is attributable to exactly one 250)."""

    def __init__(self, port, sessions=32, size=2000, prefix="m", pause=0.0, senders=None, headers=None,
                 limit=None):
        self.port = port
        self.sessions = sessions
        self.size = size
        self.prefix = prefix
        self.pause = pause
        self.senders = senders
        self.headers = headers      # seq -> extra header lines
        self.limit = limit          # stop after this many messages
        self.acked = set()
        self.codes = {}
        self.errors = 0
        self.lock = threading.Lock()
        self.stop_ev = threading.Event()
        self.threads = []
        self.seq = 0
        self.local = threading.local()   # the sequence number of this thread's message

    def next_token(self, i):
        with self.lock:
            self.seq += 1
            if self.limit is not None and self.seq > self.limit:
                self.stop_ev.set()
            self.local.seq = self.seq
            return "%s%d-%d" % (self.prefix, i, self.seq)

    def run_one(self, i):
        while not self.stop_ev.is_set():
            token = self.next_token(i)
            if self.stop_ev.is_set():
                break
            extra = self.headers(self.local.seq) if self.headers else ""
            sender = self.senders(i, token) if self.senders else "c%d-%s@customer.example" % (i, token)
            try:
                with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as s:
                    s.ehlo("load%d.test" % i)
                    s.sendmail(sender, [INBOX], make_message(token, sender, self.size, extra))
                with self.lock:
                    self.acked.add(token)
                    self.codes[250] = self.codes.get(250, 0) + 1
            except smtplib.SMTPResponseException as e:
                with self.lock:
                    self.codes[e.smtp_code] = self.codes.get(e.smtp_code, 0) + 1
                time.sleep(0.05)
            except (OSError, smtplib.SMTPException):
                with self.lock:
                    self.errors += 1
                time.sleep(0.05)
            if self.pause:
                time.sleep(self.pause)

    def start(self):
        for i in range(self.sessions):
            t = threading.Thread(target=self.run_one, args=(i,), daemon=True)
            t.start()
            self.threads.append(t)
        return self

    def stop(self):
        self.stop_ev.set()
        for t in self.threads:
            t.join(60)

    def snapshot(self):
        with self.lock:
            return set(self.acked)


def spool_counts(serve, tokens):
    """{token: number of spool rows} for the Message-IDs of @tokens."""
    rows = serve.query("SELECT message_id, count(*) FROM spool WHERE message_id LIKE '%@chaos.test%' "
                       "GROUP BY message_id")
    have = {}
    for mid, n in rows:
        m = re.match(r"<?([^@<>]+)@chaos\.test>?", mid or "")
        if m:
            have[m.group(1)] = n
    return {t: have.get(t, 0) for t in tokens}


def ticket_entry_counts(serve, tokens):
    """{token: number of ticket entries (messages rows) of its spool row}."""
    rows = serve.query("SELECT s.message_id, count(m.id) FROM spool s LEFT JOIN messages m ON m.spool_id = s.id "
                       "WHERE s.message_id LIKE '%@chaos.test%' GROUP BY s.id")
    have = {}
    for mid, n in rows:
        m = re.match(r"<?([^@<>]+)@chaos\.test>?", mid or "")
        if m:
            have[m.group(1)] = have.get(m.group(1), 0) + n
    return {t: have.get(t, 0) for t in tokens}


def wait_until(fn, timeout, step=0.2):
    end = time.time() + timeout
    last = None
    while time.time() < end:
        last = fn()
        if last:
            return last
        time.sleep(step)
    return last


def check(cond, what):
    if not cond:
        print("FAIL: " + what, flush=True)
        sys.exit(1)
    print("ok " + what, flush=True)
