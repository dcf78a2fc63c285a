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
# Set in a test's PostgreSQL row (tests/pg/pgserver.py): every data
# directory gets its own schema of that server, passed as --database.
PG_URL = os.environ.get("RD_TEST_DATABASE_URL", "")
_pg_schemas = {}


def store_url(data_dir):
    """The --database URL for @data_dir in a PostgreSQL row, else None."""
    if not PG_URL:
        return None
    key = os.path.realpath(data_dir)
    if key not in _pg_schemas:
        import hashlib
        schema = "t_" + hashlib.sha1(key.encode()).hexdigest()[:20]
        subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", PG_URL, "-c",
                        "SET client_min_messages = warning; CREATE SCHEMA IF NOT EXISTS " + schema],
                       check=True, capture_output=True)
        sep = "&" if "?" in PG_URL else "?"
        _pg_schemas[key] = PG_URL + sep + "options=-csearch_path%3D" + schema
    return _pg_schemas[key]


def store_args(data_dir):
    url = store_url(data_dir)
    return ["--database", url] if url else []
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
        args += store_args(data_dir)
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
            cmd += ["--data-dir", data_dir or self.data] + store_args(data_dir or self.data)
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


class _Rows:
    def __init__(self, rows):
        self.rows = rows

    def fetchall(self):
        return self.rows

    def fetchone(self):
        return self.rows[0] if self.rows else None

    def __iter__(self):
        return iter(self.rows)


class _PgStore:
    """The few sqlite3 calls tests make (execute with ? parameters,
    fetchone/fetchall, iteration, `with`), through psql. Integers come
    back as int, bytea as bytes, NULL as None."""

    def __init__(self, url):
        self.url = url

    @staticmethod
    def _literal(v):
        if v is None:
            return "NULL"
        if isinstance(v, (int, float)):
            return str(v)
        if isinstance(v, bytes):
            return "'\\x%s'::bytea" % v.hex()
        return "'" + str(v).replace("'", "''") + "'"

    def execute(self, sql, params=()):
        import csv
        import io
        import re
        parts = sql.split("?")
        text = parts[0] + "".join(self._literal(p) + rest for p, rest in zip(params, parts[1:]))
        out = subprocess.run(["psql", "-X", "-q", "--csv", "-t", "-v", "ON_ERROR_STOP=1", "-P", "null=\x01",
                              self.url, "-c", text], check=True, capture_output=True, text=True).stdout
        rows = []
        for r in csv.reader(io.StringIO(out)):
            row = []
            for v in r:
                if v == "\x01":
                    row.append(None)
                elif re.fullmatch(r"-?\d+", v):
                    row.append(int(v))
                elif v.startswith("\\x") and re.fullmatch(r"\\x[0-9a-f]*", v):
                    row.append(bytes.fromhex(v[2:]))
                else:
                    row.append(v)
            rows.append(tuple(row))
        return _Rows(rows)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def connect_store(data_dir):
    """The store of @data_dir for a test's own queries: its SQLite file, or
    its PostgreSQL schema in a PostgreSQL row."""
    url = store_url(data_dir)
    if url:
        return _PgStore(url)
    import sqlite3
    return sqlite3.connect(os.path.join(data_dir, "relaydesk.db"))
