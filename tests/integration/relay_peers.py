"""Real SMTP servers as the relay, for the relay integration tests.

- A private Postfix instance (postfix -c TMPDIR: own config, queue and
  data directories, loopback ports picked free): a plain listener that
  offers STARTTLS, an implicit-TLS listener (smtpd_tls_wrappermode=yes),
  a test CA and server certificate made with openssl, the domain
  relay.test delivered to a Maildir the test reads, and
  check_client_access cidr refusing 127.0.0.2 at connect time with the
  554 our users' relays give to senders they have not allowlisted.
- An aiosmtpd relay (tests/integration/relay_aiosmtpd.py) that tempfails a
  number of transactions, then accepts and stores each message.
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

PYTHON = "/usr/bin/python3"
HERE = os.path.dirname(os.path.abspath(__file__))


def skip(msg):
    print("SKIP: " + msg)
    sys.exit(77)


def free_port(host="127.0.0.1"):
    s = socket.socket()
    s.bind((host, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, timeout=20.0, host="127.0.0.1"):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection((host, port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def make_ca(d):
    """A test CA and a server certificate for localhost / 127.0.0.1."""
    ca_key, ca_crt = os.path.join(d, "ca.key"), os.path.join(d, "ca.crt")
    key, csr, crt = os.path.join(d, "server.key"), os.path.join(d, "server.csr"), os.path.join(d, "server.crt")
    ext = os.path.join(d, "ext.cnf")
    with open(ext, "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n")
    run = lambda *a: subprocess.run(a, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca_crt,
        "-days", "2", "-subj", "/CN=relaydesk test CA")
    run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=localhost")
    run("openssl", "x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key, "-CAcreateserial",
        "-out", crt, "-days", "2", "-extfile", ext)
    os.chmod(key, 0o644)
    return ca_crt, crt, key


class Postfix:
    def __init__(self, tmp):
        if not os.path.exists("/usr/sbin/postfix"):
            skip("postfix is not installed (apt-get install postfix)")
        if os.geteuid() != 0:
            skip("a private Postfix instance needs root (it drops to user postfix)")
        self.dir = os.path.join(tmp, "postfix")
        os.makedirs(self.dir)
        # Postfix checks the ownership and modes of every parent of its
        # queue: world-searchable directories owned by root.
        p = self.dir
        while p not in ("/", ""):
            if os.stat(p).st_uid == 0:
                os.chmod(p, os.stat(p).st_mode | 0o755)
            p = os.path.dirname(p)
        self.conf = os.path.join(self.dir, "etc")
        self.queue = os.path.join(self.dir, "spool")
        self.data = os.path.join(self.dir, "data")
        self.maildir_base = os.path.join(self.dir, "mail")
        for d in (self.conf, self.queue, self.data, self.maildir_base):
            os.makedirs(d)
        shutil.chown(self.data, "postfix", "postfix")
        shutil.chown(self.maildir_base, "postfix", "postfix")
        self.ca, crt, key = make_ca(self.conf)
        self.port = free_port()
        self.tls_port = free_port()
        self.log = os.path.join(self.dir, "postfix.log")
        with open(os.path.join(self.conf, "allow.cidr"), "w") as f:
            f.write("127.0.0.1/32 OK\n"
                    "0.0.0.0/0 REJECT 5.7.1 Service unavailable; client rejected due to the sending MTA's poor reputation\n")
        with open(os.path.join(self.conf, "rcpt.regexp"), "w") as f:
            f.write("/^bad@/ 550 5.1.1 mailbox unavailable\n")
        with open(os.path.join(self.conf, "vmailbox"), "w") as f:
            f.write("@relay.test box/\n")
        main = f"""
compatibility_level = 3.6
config_directory = {self.conf}
queue_directory = {self.queue}
data_directory = {self.data}
meta_directory = /etc/postfix
maillog_file = {self.log}
maillog_file_prefixes = {self.dir}
myhostname = relay.localhost
mydomain = localhost
inet_interfaces = loopback-only
inet_protocols = ipv4
mydestination =
relayhost =
mynetworks = 127.0.0.0/8
default_transport = discard:
relay_transport = discard:
virtual_mailbox_domains = relay.test
virtual_mailbox_base = {self.maildir_base}
virtual_mailbox_maps = hash:{self.conf}/vmailbox
virtual_uid_maps = static:{os.stat(self.maildir_base).st_uid}
virtual_gid_maps = static:{os.stat(self.maildir_base).st_gid}
virtual_minimum_uid = 1
smtpd_delay_reject = no
smtpd_client_restrictions = check_client_access cidr:{self.conf}/allow.cidr
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_recipient_restrictions = check_recipient_access regexp:{self.conf}/rcpt.regexp
smtpd_tls_cert_file = {crt}
smtpd_tls_key_file = {key}
smtpd_tls_security_level = may
smtpd_forbid_bare_newline = yes
smtputf8_enable = no
alias_maps =
alias_database =
biff = no
"""
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            f.write(main)
        master = f"""
127.0.0.1:{self.port} inet n - n - 20 smtpd
127.0.0.1:{self.tls_port} inet n - n - 20 smtpd -o smtpd_tls_wrappermode=yes -o smtpd_tls_security_level=encrypt
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
postlog   unix-dgram n  -       n       -       1       postlogd
"""
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            f.write(master)
        env = dict(os.environ, MAIL_CONFIG=self.conf)
        self.env = env
        subprocess.run(["postmap", f"hash:{self.conf}/vmailbox"], check=True, env=env)
        subprocess.run(["postfix", "-c", self.conf, "check"], check=True, env=env)
        r = subprocess.run(["postfix", "-c", self.conf, "start"], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if r.returncode != 0:
            raise RuntimeError("postfix start failed: " + r.stdout)
        self.started = True
        if not (wait_port(self.port) and wait_port(self.tls_port)):
            self.stop()
            raise RuntimeError("postfix did not listen")

    def stop(self):
        if getattr(self, "started", False):
            subprocess.run(["postfix", "-c", self.conf, "stop"], env=self.env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            # postfix stop returns before master is gone
            pidf = os.path.join(self.queue, "pid", "master.pid")
            end = time.time() + 10
            while os.path.exists(pidf) and time.time() < end:
                time.sleep(0.1)
            self.started = False

    def maildir_messages(self, wait_for=0, timeout=30.0):
        """Messages delivered to the relay.test Maildir (bytes)."""
        box = os.path.join(self.maildir_base, "box", "new")
        end = time.time() + timeout
        while True:
            files = sorted(os.listdir(box)) if os.path.isdir(box) else []
            if len(files) >= wait_for or time.time() > end:
                out = []
                for n in files:
                    with open(os.path.join(box, n), "rb") as f:
                        out.append(f.read())
                return out
            time.sleep(0.1)

    def log_text(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except OSError:
            return ""


class Aiosmtpd:
    """aiosmtpd with tests/integration/relay_aiosmtpd.py as the handler."""

    def __init__(self, tmp, tempfail=0, port=None, name="aiosmtpd", auth=None):
        self.auth = auth
        self.spool = os.path.join(tmp, name + "-spool")
        os.makedirs(self.spool, exist_ok=True)
        self.port = port or free_port()
        self.tempfail = tempfail
        self.name = name
        self.tmp = tmp
        self.proc = None

    def start(self):
        log = open(os.path.join(self.tmp, self.name + ".log"), "a")
        self.proc = subprocess.Popen([PYTHON, os.path.join(HERE, "relay_aiosmtpd.py"), str(self.port), self.spool,
                                      str(self.tempfail)] + ([self.auth] if self.auth else []), stdout=log, stderr=subprocess.STDOUT)
        log.close()
        if not wait_port(self.port):
            raise RuntimeError("aiosmtpd did not listen")
        return self

    def stop(self):
        if self.proc:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    def messages(self):
        out = []
        for n in sorted(os.listdir(self.spool)):
            if n.endswith(".eml"):
                with open(os.path.join(self.spool, n), "rb") as f:
                    out.append(f.read())
        return out


RELAYDESK = os.environ.get("RELAYDESK", "relaydesk")


def message(n, to="user@relay.test", subject=None, extra=""):
    return ("From: Support <support@desk.example>\r\nTo: <%s>\r\nSubject: %s\r\n"
            "Message-ID: <m%s.relaytest@desk.example>\r\n%s\r\nbody of message %s\r\n"
            % (to, subject or "message %s" % n, n, extra, n)).encode()


class Relaydesk:
    """One relaydesk data dir + config, driven through the CLI."""

    def __init__(self, tmp, name="rd", config=""):
        self.dir = os.path.join(tmp, name)
        os.makedirs(self.dir, exist_ok=True)
        self.data = os.path.join(self.dir, "data")
        self.conf = os.path.join(self.dir, "relaydesk.conf")
        self.write_config(config)
        self.proc = None
        self.log = os.path.join(self.dir, "serve.log")

    def write_config(self, text):
        with open(self.conf, "w") as f:
            f.write(text)

    def run(self, *args, check=True, input=None, timeout=120):
        r = subprocess.run([RELAYDESK, args[0], args[1], "--data-dir", self.data, "--config", self.conf, *args[2:]],
                           input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError("%s failed (%d): %s %s" % (args, r.returncode, r.stdout.decode(errors="replace"),
                                                             r.stderr.decode(errors="replace")))
        return r

    def inject(self, raw, to, sender="support@desk.example", kind="reply", ticket=None, copies=1):
        args = ["queue", "inject", "--kind", kind, "--from", sender, "--copies", str(copies)]
        for t in ([to] if isinstance(to, str) else to):
            args += ["--to", t]
        if ticket:
            args += ["--ticket", str(ticket)]
        args.append("-")
        r = self.run(*args, input=raw)
        return [int(x) for x in r.stdout.split()]

    def queue(self, state=None):
        import json
        args = ["queue", "list", "--json", "--limit", "100000"]
        if state:
            args += ["--state", state]
        return json.loads(self.run(*args).stdout)

    def show(self, row):
        import json
        return json.loads(self.run("queue", "show", str(row), "--json").stdout)

    def states(self):
        out = {}
        for it in self.queue():
            out[it["state"]] = out.get(it["state"], 0) + 1
        return out

    def serve(self, *extra):
        port_file = os.path.join(self.dir, "port")
        if os.path.exists(port_file):
            os.unlink(port_file)
        log = open(self.log, "a")
        self.proc = subprocess.Popen([RELAYDESK, "serve", "--data-dir", self.data, "--config", self.conf,
                                      "--smtp", "127.0.0.1:0", "--port-file", port_file, *extra],
                                     stdout=log, stderr=subprocess.STDOUT)
        log.close()
        end = time.time() + 20
        while not os.path.exists(port_file) or os.path.getsize(port_file) == 0:
            if self.proc.poll() is not None or time.time() > end:
                raise AssertionError("serve did not start: " + self.log_text()[-2000:])
            time.sleep(0.05)
        with open(port_file) as f:
            self.smtp_port = int(f.read())
        return self

    def stop(self, sig=signal.SIGTERM):
        if self.proc:
            if self.proc.poll() is None:
                self.proc.send_signal(sig)
            try:
                rc = self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                rc = self.proc.wait()
            self.proc = None
            # a clean stop exits 0 (and under ASan: no leak, no error)
            if sig == signal.SIGTERM and rc != 0:
                raise AssertionError("serve exited %d after SIGTERM: %s" % (rc, self.log_text()[-3000:]))
            return rc
        return None

    def wait_states(self, pred, timeout=60.0):
        end = time.time() + timeout
        while True:
            st = self.states()
            if pred(st):
                return st
            if time.time() > end:
                raise AssertionError("timeout waiting; states now %s; log tail: %s" % (st, self.log_text()[-3000:]))
            time.sleep(0.2)

    def log_text(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except OSError:
            return ""


def header(raw, name):
    """First header field value (unfolded) of raw bytes, or None."""
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0].decode(errors="replace")
    lines = head.replace("\r\n", "\n").split("\n")
    val = None
    for ln in lines:
        if val is not None and ln[:1] in (" ", "\t"):
            val += " " + ln.strip()
            continue
        if val is not None:
            return val
        if ln.lower().startswith(name.lower() + ":"):
            val = ln.split(":", 1)[1].strip()
    return val
