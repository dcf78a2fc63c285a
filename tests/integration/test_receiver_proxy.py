"""The receiver behind a load balancer and at its limits, on real sockets:

- the PROXY protocol (v1 and v2) from [smtp] proxy_trusted only: raw
  headers naming clients on and off the allowlist (the allowlist, the
  logs and the spool see the client, not the proxy), a trusted proxy
  that sends no header or a malformed one (refused), a header from an
  untrusted address (554 5.7.0, on the plain and the TLS port);
- real HAProxy (Debian `haproxy`) in front of serve on loopback with
  send-proxy (plain port) and send-proxy-v2 (TLS port, passed through),
  swaks and openssl s_client as clients;
- over the connection limit on the implicit-TLS port: 421 after the
  handshake, as on port 25;
- [allowlist] clients = (empty): only stored entries; `allowlist remove`
  of a config entry names [allowlist] clients; `allowlist list` marks it.
"""
import json
import os
import shutil
import socket
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from receiver_util import Client, Serve, expect, insecure_context  # noqa: E402

V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def v1(src, sport=51234, dst="127.0.0.1", dport=25):
    fam = "TCP6" if ":" in src else "TCP4"
    return ("PROXY %s %s %s %d %d\r\n" % (fam, src, dst, sport, dport)).encode()


def v2(src, sport=51234, dst="127.0.0.1", dport=465, command=1):
    if command == 0:
        return V2_SIG + bytes([0x20, 0x00, 0, 0])
    body = socket.inet_pton(socket.AF_INET, src) + socket.inet_pton(socket.AF_INET, dst) + struct.pack(">HH", sport, dport)
    return V2_SIG + bytes([0x21, 0x11]) + struct.pack(">H", len(body)) + body


def raw(port, data, source=None, tls=False):
    """Connects (from @source), sends @data first, returns a Client."""
    c = Client.__new__(Client)
    c.sock = socket.create_connection(("127.0.0.1", port), timeout=10,
                                      source_address=(source, 0) if source else None)
    c.buf = b""
    c.sock.sendall(data)
    if tls:
        c.sock = insecure_context().wrap_socket(c.sock, server_hostname="mx.test")
    return c


def spool_clients(srv):
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(srv.data_dir, "relaydesk.db"), uri=True)
    try:
        return [r[0] for r in db.execute("SELECT client_addr FROM spool ORDER BY id")]
    finally:
        db.close()


def send_message(c, rcpt="support@desk.example"):
    c.send("EHLO client.example\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<%s>\r\nDATA\r\n" % rcpt)
    r = c.replies(4)
    expect(r[3], "354")
    c.send("Subject: via proxy\r\n\r\nhello\r\n.\r\nQUIT\r\n")
    expect(c.reply(), "250 2.0.0 Ok: message")
    expect(c.reply(), "221")


def raw_proxy_headers():
    conf = {"smtp": {"proxy_trusted": "127.0.0.1/32", "command_timeout": "2"},
            "allowlist": {"clients": "198.51.100.0/24"}}
    with Serve(conf) as srv:
        # v1 on the plain port: an allowlisted client behind the proxy
        c = raw(srv.port, v1("198.51.100.7"))
        expect(c.reply(), "220 mx.test")
        send_message(c)
        # a client off the allowlist is refused: the client's address decides
        # (the proxy's own, 127.0.0.1, is not on the list either)
        c = raw(srv.port, v1("192.0.2.66"))
        expect(c.reply(), "554 5.7.1")
        c.close()
        # pipelined with the header: the command after it is read
        c = raw(srv.port, v1("198.51.100.8") + b"NOOP\r\n")
        expect(c.reply(), "220 ")
        expect(c.reply(), "250 2.0.0")
        c.close()
        # v2 on the TLS port, the ClientHello right behind the header
        c = raw(srv.sport, v2("198.51.100.9"), tls=True)
        expect(c.reply(), "220 mx.test")
        send_message(c)
        # v2 LOCAL (a health check): the proxy's own address, not allowlisted
        c = raw(srv.port, v2("0.0.0.0", command=0))
        expect(c.reply(), "554 5.7.1")
        c.close()
        # a trusted proxy must send a header
        c = raw(srv.port, b"EHLO x\r\n")
        expect(c.reply(), "421 4.7.0 mx.test Error: PROXY protocol header required")
        assert c.at_eof()
        c = raw(srv.port, b"PROXY TCP4 198.51.100.7 127.0.0.1 051234 25\r\n")
        expect(c.reply(), "421 4.7.0")
        assert c.at_eof()
        # ... within command_timeout
        c = raw(srv.port, b"PROXY TCP4 198.51")
        t0 = time.time()
        assert c.at_eof(timeout=6)
        assert time.time() - t0 < 5
        # the spool records the client behind the proxy
        assert spool_clients(srv) == ["198.51.100.7", "198.51.100.9"], spool_clients(srv)
        log = srv.read_log()
        assert "smtp.proxy client=198.51.100.7 port=51234 proxy=127.0.0.1 version=1" in log, log
        assert "smtp.proxy client=198.51.100.9 port=51234 proxy=127.0.0.1 version=2" in log, log
        assert "client=192.0.2.66 result=rejected reason=allowlist" in log
    print("ok PROXY v1/v2 from a trusted proxy: the client's address for allowlist, logs, spool")


def untrusted_header():
    # 127.0.0.1 may send mail but is no proxy: its PROXY header is refused
    conf = {"smtp": {"proxy_trusted": "192.0.2.1"}, "allowlist": {"clients": "127.0.0.0/8"}}
    with Serve(conf) as srv:
        c = raw(srv.port, v1("198.51.100.7"))
        expect(c.reply(), "220 ")  # the banner went out before the header was read
        expect(c.reply(), "554 5.7.0 Error: PROXY protocol header from an address not in [smtp] proxy_trusted")
        assert c.at_eof()
        c = raw(srv.port, v2("198.51.100.7"))
        expect(c.reply(), "220 ")
        expect(c.reply(), "554 5.7.0")
        assert c.at_eof()
        c = raw(srv.sport, v1("198.51.100.7"))
        expect(c.reply(), "554 5.7.0")
        assert c.at_eof()
        c = raw(srv.sport, v2("198.51.100.7"))
        expect(c.reply(), "554 5.7.0")
        assert c.at_eof()
        # nothing was taken as a client address
        assert "198.51.100.7" not in srv.read_log().replace("PROXY TCP4 198.51.100.7", "")
        # a PROXY line later in a session is refused too
        c = Client(srv.port)
        c.reply()
        c.send("EHLO x\r\n")
        c.reply()
        c.send(v1("198.51.100.7").decode())
        expect(c.reply(), "554 5.7.0")
        assert c.at_eof()
    print("ok PROXY header from an untrusted address refused (plain and TLS port)")


def tls_port_limits():
    with Serve({"smtp": {"max_connections_per_ip": "1"}}) as srv:
        a = Client(srv.sport, tls=True)
        expect(a.reply(), "220 mx.test")
        b = Client(srv.sport, tls=True)   # the handshake succeeds...
        expect(b.reply(), "421 4.7.0 mx.test Error: too many connections from your address")
        assert b.at_eof()
        a.close()
        time.sleep(0.3)
        c = Client(srv.sport, tls=True)
        expect(c.reply(), "220 mx.test")
        c.close()
    with Serve({"smtp": {"max_connections": "1"}}) as srv:
        a = Client(srv.sport, tls=True)
        expect(a.reply(), "220 mx.test")
        b = Client(srv.sport, tls=True)
        expect(b.reply(), "421 4.7.0 mx.test Error: too many connections, try again later")
        assert b.at_eof()
        p = Client(srv.port)              # the plain port as before
        expect(p.reply(), "421 4.7.0")
        a.close()
        # openssl s_client sees the 421 too
        time.sleep(0.3)
        a = Client(srv.sport, tls=True)
        a.reply()
        if shutil.which("openssl"):
            r = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % srv.sport, "-quiet",
                                "-verify_quiet"], input=b"", capture_output=True, timeout=30)
            assert b"421 4.7.0" in r.stdout, r
        a.close()
        log = srv.read_log()
        assert "result=refused reason=total_limit" in log
    print("ok 421 after the TLS handshake over the connection limits")


def allowlist_config_entries():
    with Serve({"allowlist": {"clients": ""}}) as srv:
        c = Client(srv.port)
        expect(c.reply(), "554 5.7.1")   # no built-in loopback entry
        c.close()
        assert json.loads(srv.cli("allowlist", "list", "--json").stdout) == []
        srv.cli("allowlist", "add", "127.0.0.1")
        c = Client(srv.port)
        expect(c.reply(), "220 ")       # only the stored entry
        c.close()
    with Serve({"allowlist": {"clients": "127.0.0.1; 192.0.2.0/24"}}) as srv:
        r = srv.cli("allowlist", "remove", "192.0.2.0/24", check=False)
        assert r.returncode != 0 and "[allowlist] clients" in r.stderr and "config" in r.stderr, r
        r = srv.cli("allowlist", "remove", "192.0.2.9", check=False)
        assert r.returncode == 1 and "no allowlist entry" in r.stderr, r
        out = srv.cli("allowlist", "list").stdout
        assert "config" in out and "192.0.2.0/24" in out and "[allowlist] clients" in out, out
        entries = json.loads(srv.cli("allowlist", "list", "--json").stdout)
        assert [e["source"] for e in entries] == ["config", "config"], entries
    print("ok [allowlist] clients empty, config entries marked and not removable")


HAPROXY_CFG = """global
    log stdout format raw local0 info
defaults
    mode tcp
    timeout connect 5s
    timeout client 30s
    timeout server 30s
    log global
frontend plain
    bind 127.0.0.1:{fplain}
    default_backend relay_plain
backend relay_plain
    server serve1 127.0.0.1:{plain} send-proxy
frontend tls
    bind 127.0.0.1:{ftls}
    default_backend relay_tls
backend relay_tls
    server serve1 127.0.0.1:{tls} send-proxy-v2
"""


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def haproxy():
    exe = shutil.which("haproxy") or ("/usr/sbin/haproxy" if os.path.exists("/usr/sbin/haproxy") else None)
    if exe is None:
        print("haproxy is not installed (Debian: haproxy): HAProxy part not run")
        return
    conf = {"smtp": {"proxy_trusted": "127.0.0.1"}, "allowlist": {"clients": "127.0.0.2"}}
    with Serve(conf) as srv, tempfile.TemporaryDirectory(prefix="rd-haproxy-") as d:
        fplain, ftls = free_port(), free_port()
        cfg = os.path.join(d, "haproxy.cfg")
        open(cfg, "w").write(HAPROXY_CFG.format(fplain=fplain, ftls=ftls, plain=srv.port, tls=srv.sport))
        hlog = open(os.path.join(d, "haproxy.log"), "wb")
        proc = subprocess.Popen([exe, "-db", "-f", cfg], stdout=hlog, stderr=subprocess.STDOUT)
        try:
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", ftls), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.1)
            # the real client, 127.0.0.2, is allowlisted; HAProxy's own 127.0.0.1 is not
            c = Client(fplain, source="127.0.0.2")
            expect(c.reply(), "220 mx.test")
            send_message(c)
            c = Client(fplain, source="127.0.0.3")
            expect(c.reply(), "554 5.7.1")
            c.close()
            c = Client(ftls, source="127.0.0.2", tls=True)
            expect(c.reply(), "220 mx.test")
            send_message(c)
            if shutil.which("swaks"):
                for port, tls in ((fplain, []), (ftls, ["--tls-on-connect"])):
                    r = subprocess.run(["swaks", "--server", "127.0.0.1", "--port", str(port),
                                        "--local-interface", "127.0.0.2", "--to", "support@desk.example",
                                        "--from", "a@b.example", "--header", "Subject: swaks via haproxy"] + tls,
                                       capture_output=True, text=True, timeout=60)
                    assert r.returncode == 0 and "250 2.0.0 Ok: message" in r.stdout, r.stdout + r.stderr
            if shutil.which("openssl"):
                r = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % ftls, "-quiet",
                                    "-verify_quiet"], input=b"QUIT\r\n", capture_output=True, timeout=30)
                assert b"554 5.7.1" in r.stdout, r   # from 127.0.0.1, which is not allowlisted
            clients = spool_clients(srv)
            assert clients[:2] == ["127.0.0.2", "127.0.0.2"] and set(clients) == {"127.0.0.2"}, clients
            log = srv.read_log()
            assert "client=127.0.0.2" in log and "proxy=127.0.0.1 version=1" in log and "version=2" in log, log
            assert "client=127.0.0.3 result=rejected reason=allowlist" in log
        finally:
            proc.terminate()
            proc.wait(timeout=10)
            hlog.close()
    print("ok HAProxy send-proxy and send-proxy-v2 in front of serve (swaks, openssl s_client)")


def main():
    raw_proxy_headers()
    untrusted_header()
    tls_port_limits()
    allowlist_config_entries()
    haproxy()


if __name__ == "__main__":
    main()
