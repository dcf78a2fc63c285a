"""A real PostgreSQL 15 for the tests, in a temporary directory.

    with PgServer() as pg:            # initdb + pg_ctl start
        url = pg.url                  # postgresql://postgres@127.0.0.1:PORT/postgres
        pg.restart()                  # pg_ctl restart -m fast (a PostgreSQL restart under load)
        pg.stop(); pg.start()

The cluster belongs to an unprivileged user: tests run as root, so the
server runs as the `postgres` system user (Debian's postgresql package
makes it) through runuser; run as anyone else, as that user. It listens
on a free loopback port and on a socket in its directory only, with
trust authentication for loopback (nothing else can reach it), and is
stopped and removed after (also when the test fails).

As a program, it wraps a command (tests/meson.build runs the store and
integration tests through it for their PostgreSQL rows):

    python3 pgserver.py COMMAND ARGS...

runs COMMAND with RD_TEST_DATABASE_URL set and returns its exit status.
Exit 77 (skipped) when PostgreSQL 15 is not installed.
"""
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time

PG_BIN = os.environ.get("RD_PG_BIN", "/usr/lib/postgresql/15/bin")


def available():
    return os.path.exists(os.path.join(PG_BIN, "initdb"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgServer:
    def __init__(self, fsync=False, max_connections=200):
        self.fsync = fsync
        self.max_connections = max_connections
        self.dir = None
        self.port = None

    # -- who runs it ----------------------------------------------------
    def _user_cmd(self, argv):
        if os.geteuid() != 0:
            return argv
        return ["runuser", "-u", "postgres", "--"] + argv

    def _run(self, argv, **kw):
        return subprocess.run(self._user_cmd(argv), check=True, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, **kw)

    @property
    def url(self):
        return "postgresql://postgres@127.0.0.1:%d/postgres" % self.port

    @property
    def data(self):
        return os.path.join(self.dir, "data")

    def start(self):
        if self.dir is None:
            self.dir = tempfile.mkdtemp(prefix="rd-pg-")
            os.chmod(self.dir, 0o755)
            if os.geteuid() == 0:
                pw = pwd.getpwnam("postgres")
                os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            self.port = free_port()
            self._run([os.path.join(PG_BIN, "initdb"), "-D", self.data, "-U", "postgres", "-A", "trust",
                       "-E", "UTF8", "--locale=C", "--no-sync"])
        opts = ("-c listen_addresses=127.0.0.1 -p %d -k %s -c max_connections=%d -c fsync=%s"
                " -c synchronous_commit=%s -c full_page_writes=%s -c shared_buffers=64MB"
                % (self.port, self.dir, self.max_connections, "on" if self.fsync else "off",
                   "on" if self.fsync else "off", "on" if self.fsync else "off"))
        self._run([os.path.join(PG_BIN, "pg_ctl"), "-D", self.data, "-l", os.path.join(self.dir, "log"),
                   "-o", opts, "-w", "-t", "60", "start"])
        return self

    def stop(self, mode="fast"):
        if self.dir and os.path.exists(os.path.join(self.data, "postmaster.pid")):
            self._run([os.path.join(PG_BIN, "pg_ctl"), "-D", self.data, "-m", mode, "-w", "stop"])

    def restart(self, down_seconds=0.0):
        self.stop()
        if down_seconds:
            time.sleep(down_seconds)
        self.start()

    def psql(self, sql, db="postgres"):
        """Runs @sql; returns stdout (unaligned, tuples only)."""
        r = subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1",
                            "postgresql://postgres@127.0.0.1:%d/%s" % (self.port, db), "-c", sql],
                           check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        return r.stdout

    def create_database(self, name):
        self.psql('CREATE DATABASE "%s"' % name)
        return "postgresql://postgres@127.0.0.1:%d/%s" % (self.port, name)

    def log(self):
        try:
            with open(os.path.join(self.dir, "log")) as f:
                return f.read()
        except OSError:
            return ""

    def cleanup(self):
        try:
            self.stop("immediate")
        except subprocess.CalledProcessError:
            pass
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.cleanup()
            raise

    def __exit__(self, *exc):
        self.cleanup()


def main(argv):
    if len(argv) < 2:
        print("usage: pgserver.py COMMAND [ARGS...]", file=sys.stderr)
        return 64
    if not available():
        print("1..0 # SKIP PostgreSQL 15 is not installed (%s)" % PG_BIN)
        return 77
    with PgServer() as pg:
        env = dict(os.environ, RD_TEST_DATABASE_URL=pg.url)
        r = subprocess.run(argv[1:], env=env)
        if r.returncode not in (0, 77):
            sys.stderr.write(pg.log()[-4000:])
        return r.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv))
