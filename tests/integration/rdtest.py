"""Shared harness for relaydesk integration tests (stdlib only).

Starts `relaydesk serve` on a free loopback port with a temporary data
dir, runs CLI commands, waits for conditions. Every process started is
stopped in tearDown, even when a test fails.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

RELAYDESK = os.environ.get("RELAYDESK", "relaydesk")
SHARED = os.environ.get("RD_SHARED_DIR", "")
SOURCE_ROOT = os.environ.get("RD_SOURCE_ROOT", os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def skip_unless_shared(sub):
    path = os.path.join(SHARED, sub)
    if not SHARED or not os.path.isdir(path):
        print(f"SKIP: shared test data {path!r} is absent", file=sys.stderr)
        sys.exit(77)
    return path


class Serve:
    """A running `relaydesk serve`."""

    def __init__(self, data_dir, extra_args=(), config=None, env=None):
        self.data_dir = data_dir
        self.port_file = os.path.join(data_dir, "..", os.path.basename(data_dir) + ".port")
        if os.path.exists(self.port_file):
            os.unlink(self.port_file)
        self.log_path = data_dir.rstrip("/") + ".log"
        # No SMTPS listener unless a test asks for one: parallel tests must
        # not compete for the default port 2465.
        args = [RELAYDESK, "serve", "--data-dir", data_dir, "--smtp", "127.0.0.1:0",
                "--port-file", self.port_file]
        if "--smtps" not in extra_args:
            args += ["--smtps", "none"]
        if config:
            args += ["--config", config]
        args += list(extra_args)
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT,
                                     env=env or os.environ.copy())
        self.port = self._wait_port()

    def _wait_port(self, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"serve exited with {self.proc.returncode}: {self.read_log()}")
            try:
                with open(self.port_file) as f:
                    text = f.read().strip()
                if text:
                    return int(text.split()[0])
            except (FileNotFoundError, ValueError):
                pass
            time.sleep(0.05)
        raise RuntimeError("serve did not start: " + self.read_log())

    def read_log(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


class RelaydeskTestCase(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="rd-it-")
        self.data = os.path.join(self.tmp, "data")
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            s.stop(signal.SIGKILL)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def serve(self, *args, data_dir=None, config=None):
        s = Serve(data_dir or self.data, args, config=config)
        self.servers.append(s)
        return s

    def rd(self, *args, input=None, data_dir=None, check=True, timeout=60):
        cmd = [RELAYDESK, *args[:1], *args[1:]]
        if data_dir is not False:
            cmd += ["--data-dir", data_dir or self.data]
        p = subprocess.run(cmd, input=input, capture_output=True, timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError(f"{cmd} exited {p.returncode}: {p.stderr.decode(errors='replace')}")
        return p

    def rd_json(self, *args, **kw):
        p = self.rd(*args, "--json", **kw)
        return json.loads(p.stdout)

    def wait_for(self, fn, timeout=20, what="condition"):
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            last = fn()
            if last:
                return last
            time.sleep(0.1)
        self.fail(f"timed out waiting for {what}; last value {last!r}")

    def wait_tickets(self, n, timeout=20):
        return self.wait_for(lambda: (lambda t: t if len(t) >= n else None)(
            self.rd_json("tickets", "list")), timeout, f"{n} tickets")


def main():
    unittest.main(verbosity=2)
