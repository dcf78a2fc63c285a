"""Receiver policy on real sockets: the allowlist (554 5.7.1 at connect,
503 until QUIT, short timeout, changes without restart, IPv4 and IPv6,
expiry), connection limits (421 4.7.0), timeouts (421 4.4.2), recipients
from config (550 5.1.1), require_tls (530), strict bare LF, STARTTLS
injection (CVE-2011-0411), TLS 1.2 minimum, and 1,000 concurrent
connections."""
import os
import selectors
import socket
import ssl
import sys
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from receiver_util import Client, Serve, expect, insecure_context  # noqa: E402


def allowlist():
    conf = {"allowlist": {"clients": "127.0.0.1/32",
                          "contact": "Access rejected: contact relay-admin@gov.example"},
            "smtp": {"rejected_timeout": "2"}}
    with Serve(conf) as srv:
        c = Client(srv.port, source="127.0.0.2")
        expect(c.reply(), "554 5.7.1 Access rejected: contact relay-admin@gov.example")
        for cmd in ("EHLO x", "MAIL FROM:<a@b.example>", "RCPT TO:<c@d.example>", "DATA", "NOOP", "BOGUS"):
            c.send(cmd + "\r\n")
            expect(c.reply(), "503 5.7.1")
        c.send("quit\r\n")
        expect(c.reply(), "221 2.0.0")
        assert c.at_eof()
        # Closed after a short timeout when the client says nothing.
        c = Client(srv.port, source="127.0.0.2")
        expect(c.reply(), "554 5.7.1")
        t0 = time.time()
        r = c.reply()
        expect(r, "421 4.4.2")
        assert c.at_eof()
        assert time.time() - t0 < 5
        # Implicit TLS: the refusal comes inside TLS.
        c = Client(srv.sport, source="127.0.0.2", tls=True)
        expect(c.reply(), "554 5.7.1")
        c.close()
        # Allowed without a restart, then removed again.
        srv.cli("allowlist", "add", "127.0.0.2", "--staging", "--application", "Payroll",
                "--admin-name", "A. Admin", "--admin-email", "admin@gov.example", "--location", "DC-1",
                "--note", "test")
        c = Client(srv.port, source="127.0.0.2")
        expect(c.reply(), "220 mx.test")
        c.close()
        listing = srv.cli("allowlist", "list", "--json").stdout
        import json
        entries = json.loads(listing)
        e = [x for x in entries if x["cidr"] == "127.0.0.2/32"][0]
        assert e["staging"] and e["application"] == "Payroll" and e["expires_at"], e
        assert e["admin_email"] == "admin@gov.example" and e["location"] == "DC-1", e
        srv.cli("allowlist", "remove", "127.0.0.2/32")
        c = Client(srv.port, source="127.0.0.2")
        expect(c.reply(), "554 5.7.1")
        c.close()
        # A block: 127.0.1.0/24 lets 127.0.1.9 in.
        srv.cli("allowlist", "add", "127.0.1.0/24", "--days", "1")
        c = Client(srv.port, source="127.0.1.9")
        expect(c.reply(), "220 ")
        c.close()
        # --staging is at most 15 days; bad CIDRs are refused.
        assert srv.cli("allowlist", "add", "127.0.0.3", "--staging", "--days", "16", check=False).returncode == 64
        assert srv.cli("allowlist", "add", "127.0.0.1/8", check=False).returncode == 64
        assert srv.cli("allowlist", "remove", "10.9.9.9", check=False).returncode == 1
        # IPv6: ::1 is not on this list.
        try:
            s6 = socket.create_connection(("::1", srv.port), timeout=3)
            s6.close()
        except OSError:
            pass  # the listener is IPv4 only; nothing to check
        log = srv.read_log()
        assert "allowlist.reload" in log
    print("ok allowlist")


def ipv6_allowlist():
    try:
        probe = socket.socket(socket.AF_INET6)
        probe.bind(("::1", 0))
        probe.close()
    except OSError:
        print("no IPv6 loopback: ipv6 part not run")
        return
    srv = Serve({"allowlist": {"clients": "127.0.0.1"}})
    # Listen on ::1 instead of 127.0.0.1.
    import subprocess
    pf = os.path.join(srv.dir, "p6")
    proc = subprocess.Popen([os.environ["RELAYDESK"], "serve", "--config", srv.config_path(),
                             "--smtp", "[::1]:0", "--smtps", "none", "--port-file", pf],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            if os.path.exists(pf) and open(pf).read().strip():
                break
            time.sleep(0.05)
        port = int(open(pf).read())

        def banner():
            s = socket.create_connection(("::1", port), timeout=5)
            data = s.recv(1000).decode()
            s.close()
            return data
        expect(banner(), "554 5.7.1")
        srv.cli("allowlist", "add", "::1/128")
        expect(banner(), "220 ")
        srv.cli("allowlist", "remove", "::1")
        expect(banner(), "554 5.7.1")
    finally:
        proc.terminate()
        proc.wait()
        srv.close()
    print("ok ipv6 allowlist")


def limits_and_timeouts():
    conf = {"smtp": {"max_connections_per_ip": "3", "idle_timeout": "1", "command_timeout": "2", "data_timeout": "1",
                     "accept_recipients": "support@desk.example; help.example", "max_errors": "5"}}
    with Serve(conf) as srv:
        cs = [Client(srv.port) for _ in range(3)]
        for c in cs:
            expect(c.reply(), "220 ")
        extra = Client(srv.port)
        expect(extra.reply(), "421 4.7.0")
        assert extra.at_eof()
        # Idle timeout: 421 4.4.2 and closed.
        t0 = time.time()
        expect(cs[0].reply(), "421 4.4.2 mx.test")
        assert time.time() - t0 < 4
        for c in cs:
            c.close()
        time.sleep(0.3)
        # Recipients from config, plus-addressing, postmaster.
        c = Client(srv.port)
        c.reply()
        c.send("EHLO x\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<support+billing@desk.example>\r\n"
               "RCPT TO:<sales@desk.example>\r\nRCPT TO:<anyone@help.example>\r\nRCPT TO:<postmaster@x.example>\r\n")
        r = c.replies(6)
        expect(r[2], "250 2.1.5")
        expect(r[3], "550 5.1.1")
        expect(r[4], "250 2.1.5")
        expect(r[5], "250 2.1.5")
        # Data timeout (RFC 5321 §4.5.3.2): a message that stops arriving.
        d = Client(srv.port)
        d.reply()
        d.send("EHLO x\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@help.example>\r\nDATA\r\nSubject: half\r\n")
        d.replies(4)
        expect(d.reply(), "421 4.4.2")
        assert d.at_eof()
        # Too many errors: 421 and closed.
        c.send("X\r\nX\r\nX\r\nX\r\nX\r\n")
        r = c.replies(5)
        assert r[-1].startswith("421 4.7.0"), r
        assert c.at_eof()
    print("ok limits, timeouts, recipients, errors")


def shutdown():
    """SIGTERM: open sessions get 421 4.3.2, and serve exits 0."""
    with Serve(smtps=False) as srv:
        c = Client(srv.port)
        c.reply()
        c.send("EHLO x\r\n")
        c.reply()
        srv.stop()
        expect(c.reply(), "421 4.3.2")
        assert c.at_eof()
    print("ok shutdown")


def total_limit():
    with Serve({"smtp": {"max_connections": "2"}}) as srv:
        a, b = Client(srv.port), Client(srv.port)
        a.reply(), b.reply()
        c = Client(srv.port)
        expect(c.reply(), "421 4.7.0")
        for x in (a, b, c):
            x.close()
    print("ok total connection limit")


def tls_policy():
    conf = {"smtp": {"require_tls": "true", "strict_bare_lf": "true"}}
    with Serve(conf) as srv:
        c = Client(srv.port)
        c.reply()
        c.send("EHLO x\r\nMAIL FROM:<a@b.example>\r\n")
        r = c.replies(2)
        assert "STARTTLS" in r[0]
        expect(r[1], "530 5.7.0")
        # CVE-2011-0411: the injected MAIL after STARTTLS is never run,
        # and the session starts over after the handshake.
        c.send("STARTTLS\r\nMAIL FROM:<injected@evil.example>\r\n")
        expect(c.reply(), "220 2.0.0")
        c.starttls()
        assert c.sock.version() in ("TLSv1.2", "TLSv1.3")
        c.send("RCPT TO:<x@y.example>\r\n")
        expect(c.reply(), "503 5.5.1 Error: send HELO/EHLO first")
        c.send("EHLO x\r\n")
        r = c.reply()
        assert "STARTTLS" not in r and "CHUNKING" in r
        c.send("MAIL FROM:<a@b.example>\r\nRCPT TO:<x@y.example>\r\n")
        expect(c.reply(), "250 2.1.0")
        expect(c.reply(), "250 2.1.5")
        # Strict: any bare LF is refused and the connection closed.
        c.send("NOOP\n")
        expect(c.reply(), "550 5.5.2")
        assert c.at_eof()
        # TLS below 1.2 is refused.
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx = insecure_context()
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
        try:
            ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        except ssl.SSLError:
            pass
        raw = socket.create_connection(("127.0.0.1", srv.sport), timeout=5)
        try:
            ctx.wrap_socket(raw, server_hostname="mx.test")
            raise AssertionError("TLS 1.1 handshake succeeded")
        except (ssl.SSLError, OSError):
            pass
        raw.close()
        c.close()
    print("ok require_tls, STARTTLS injection, strict bare LF, TLS 1.2 minimum")


def thousand_connections():
    n = 1000
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < n + 100:
        if hard != resource.RLIM_INFINITY and hard < n + 100:
            print("RLIMIT_NOFILE hard limit %d: 1000-connection part not run" % hard)
            return
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard if hard != resource.RLIM_INFINITY else 65536, hard))
    conf = {"smtp": {"max_connections_per_ip": "5000", "max_connections": "5000"}}
    with Serve(conf, smtps=False) as srv:
        socks = []
        sel = selectors.DefaultSelector()
        for i in range(n):
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
            s.setblocking(False)
            socks.append(s)
            sel.register(s, selectors.EVENT_READ, [b""])
        # Every connection gets its banner...
        got = 0
        deadline = time.time() + 60
        while got < n and time.time() < deadline:
            for key, _ in sel.select(timeout=1):
                buf = key.data
                buf[0] += key.fileobj.recv(1000)
                if buf[0].endswith(b"\r\n") and buf[0].startswith(b"220 "):
                    sel.unregister(key.fileobj)
                    got += 1
        assert got == n, "%d of %d banners" % (got, n)
        # ...and all of them are served at once: NOOP on every one.
        for s in socks:
            s.send(b"NOOP\r\n")
        for s in socks:
            s.setblocking(True)
            s.settimeout(30)
            assert s.recv(100).startswith(b"250 2.0.0"), "NOOP"
        for s in socks:
            s.close()
    print("ok %d concurrent connections" % n)


def slow_client():
    """A client stalled mid-command and one stalled mid-DATA (and one that
    never reads) do not delay anybody else."""
    with Serve(smtps=False) as srv:
        stalled = Client(srv.port)
        stalled.reply()
        stalled.send("EHLO half")        # no CRLF, ever
        mid_data = Client(srv.port)
        mid_data.reply()
        mid_data.send("EHLO x\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\nSubject: slow\r\n")
        deaf = socket.create_connection(("127.0.0.1", srv.port))
        deaf.sendall(b"EHLO x\r\n" + b"NOOP\r\n" * 20000)   # never reads the replies
        t0 = time.time()
        for i in range(20):
            c = Client(srv.port, timeout=5)
            c.reply()
            c.send("EHLO x\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\nhi\r\n.\r\nQUIT\r\n")
            r = c.replies(6)
            expect(r[4], "250 2.0.0 Ok: message")
            c.close()
        assert time.time() - t0 < 10
        for x in (stalled, mid_data):
            x.close()
        deaf.close()
    print("ok slow and hostile clients do not delay others")


def main():
    slow_client()
    allowlist()
    ipv6_allowlist()
    limits_and_timeouts()
    total_limit()
    shutdown()
    tls_policy()
    thousand_connections()


if __name__ == "__main__":
    main()
