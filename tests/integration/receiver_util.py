"""Helpers for the receiver's integration tests: a real `relaydesk serve`
on free loopback ports in a temporary data directory, and its spool."""
import os
import signal
import socket
import sqlite3
import ssl
import subprocess
import sys
import tempfile
import time

RELAYDESK = os.environ.get("RELAYDESK")


def skip(msg):
    print("SKIP: " + msg)
    sys.exit(77)


class Serve:
    """relaydesk serve with [smtp]/[tls]/[allowlist] settings from `conf`
    (a dict of group -> dict). Ports are picked by the kernel."""

    def __init__(self, conf=None, data_dir=None, smtps=True):
        if not RELAYDESK:
            skip("RELAYDESK is not set (run under meson test)")
        self.tmp = tempfile.TemporaryDirectory(prefix="rd-recv-")
        self.dir = self.tmp.name
        self.data_dir = data_dir or os.path.join(self.dir, "data")
        self.conf = conf or {}
        self.smtps = smtps
        self.proc = None
        self.log_path = os.path.join(self.dir, "serve.log")

    def config_path(self):
        path = os.path.join(self.dir, "relaydesk.conf")
        with open(path, "w") as f:
            f.write("[relaydesk]\nhostname = mx.test\ndata_dir = %s\n" % self.data_dir)
            for group, kv in self.conf.items():
                f.write("[%s]\n" % group)
                for k, v in kv.items():
                    f.write("%s = %s\n" % (k, v))
        return path

    def start(self):
        pf = os.path.join(self.dir, "port")
        psf = os.path.join(self.dir, "sport")
        for p in (pf, psf):
            if os.path.exists(p):
                os.unlink(p)
        args = [RELAYDESK, "serve", "--config", self.config_path(),
                "--smtp", "127.0.0.1:0", "--port-file", pf]
        if self.smtps:
            args += ["--smtps", "127.0.0.1:0", "--smtps-port-file", psf]
        else:
            args += ["--smtps", "none"]
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("serve exited: %s" % self.read_log())
            if os.path.exists(pf) and (not self.smtps or os.path.exists(psf)):
                try:
                    self.port = int(open(pf).read())
                    self.sport = int(open(psf).read()) if self.smtps else None
                    return self
                except ValueError:
                    pass
            time.sleep(0.05)
        raise RuntimeError("serve did not start: %s" % self.read_log())

    def read_log(self):
        try:
            return open(self.log_path, errors="replace").read()
        except OSError:
            return ""

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.log.close()

    def stop(self):
        """SIGTERM; a clean stop exits 0 (also: no sanitizer report)."""
        code = None
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                code = self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                code = "hung"
        if self.proc:
            self.log.close()
        self.proc = None
        if code not in (None, 0):
            raise AssertionError("serve exited %s on SIGTERM:\n%s" % (code, self.read_log()[-6000:]))

    def close(self):
        self.stop()
        self.tmp.cleanup()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        if exc[0] is not None:
            sys.stderr.write("--- serve log ---\n" + self.read_log()[-8000:])
        self.close()

    def cli(self, *args, check=True):
        r = subprocess.run([RELAYDESK] + list(args) + ["--config", self.config_path()],
                           capture_output=True, text=True, timeout=60)
        if check and r.returncode != 0:
            raise AssertionError("relaydesk %s: %d %s" % (" ".join(args), r.returncode, r.stderr))
        return r

    def spool(self):
        """[(queue_id, message_id, sender, raw)] from the spool."""
        db = sqlite3.connect("file:%s?mode=ro" % os.path.join(self.data_dir, "relaydesk.db"), uri=True)
        try:
            return db.execute("SELECT queue_id, message_id, sender, raw FROM spool ORDER BY id").fetchall()
        finally:
            db.close()

    def recipients(self, queue_id):
        db = sqlite3.connect("file:%s?mode=ro" % os.path.join(self.data_dir, "relaydesk.db"), uri=True)
        try:
            return [r[0] for r in db.execute(
                "SELECT address FROM spool_recipients r JOIN spool s ON s.id = r.spool_id"
                " WHERE s.queue_id = ? ORDER BY position", (queue_id,))]
        finally:
            db.close()


class Client:
    """A raw line client: send bytes, read replies."""

    def __init__(self, port, source=None, timeout=10, tls=False):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                             source_address=(source, 0) if source else None)
        if tls:
            self.sock = insecure_context().wrap_socket(self.sock, server_hostname="mx.test")
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data if isinstance(data, bytes) else data.encode())

    def reply(self):
        """One complete (possibly multi-line) reply as text, or '' at EOF."""
        lines = []
        while True:
            while b"\r\n" not in self.buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return "\n".join(lines)
                self.buf += chunk
            line, self.buf = self.buf.split(b"\r\n", 1)
            text = line.decode("utf-8", "replace")
            lines.append(text)
            if len(text) < 4 or text[3] != "-":
                return "\n".join(lines)

    def replies(self, n):
        return [self.reply() for _ in range(n)]

    def at_eof(self, timeout=5):
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except (ConnectionResetError, ssl.SSLError):
            return True
        except socket.timeout:
            return False

    def starttls(self):
        self.sock = insecure_context().wrap_socket(self.sock, server_hostname="mx.test")

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def insecure_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def expect(got, prefix):
    if not got.startswith(prefix):
        raise AssertionError("expected %r, got %r" % (prefix, got))
    return got
