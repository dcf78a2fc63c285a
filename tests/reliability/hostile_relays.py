#!/usr/bin/python3
"""Hostile relays (issue 14, point 6).

A fake relay on loopback (this file: a small threaded SMTP server whose
behaviour is switched by the test) behind serve's outbox, fed by an
acknowledgement rule:

1. reset: the connection is reset in the middle of DATA;
2. slow: every reply comes one byte per second ([relay] timeout 5 s);
3. tempfail: 451 to every MAIL FROM for a while (an hour of the default
   backoff, scaled: retry_base 1 s, retry_max 4 s; --full: 60 s max and
   an hour's worth of steps);
4. healed: the relay accepts; the queue drains, each message delivered
   exactly once (the relay counts deliveries by Message-ID);
5. a certificate for another name (implicit TLS, and STARTTLS with
   starttls = required): refused with an error naming the certificate,
   and nothing is ever sent in clear (the relay records every command it
   reads without TLS after offering STARTTLS).

Attempts per row are checked against what the backoff allows in the time
that passed.

Usage: hostile_relays.py [--tempfail-s S] [--full]
"""
import argparse
import os
import socket
import socketserver
import ssl
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import chaos  # noqa: E402
from chaos import check, figure  # noqa: E402


class State:
    mode = "ok"
    delivered = {}          # Message-ID -> count
    plaintext_after_starttls = 0
    tls_handshakes_failed = 0
    connections = 0
    lock = threading.Lock()
    tls_ctx = None


class Handler(socketserver.StreamRequestHandler):
    implicit_tls = False
    offer_starttls = False

    def send(self, text):
        data = text.encode()
        if State.mode == "slow":
            for i in range(len(data)):
                self.wfile.write(data[i:i + 1])
                self.wfile.flush()
                time.sleep(1)
        else:
            self.wfile.write(data)
            self.wfile.flush()

    def handle(self):
        with State.lock:
            State.connections += 1
        sock = self.request
        if self.implicit_tls:
            try:
                sock = State.tls_ctx.wrap_socket(sock, server_side=True)
            except (ssl.SSLError, OSError):
                with State.lock:
                    State.tls_handshakes_failed += 1
                return
            self.rfile = sock.makefile("rb")
            self.wfile = sock.makefile("wb")
        starttls_offered = False
        in_tls = self.implicit_tls
        try:
            self.send("220 fake.relay ESMTP\r\n")
            data_mode = False
            body = []
            while True:
                line = self.rfile.readline(100000)
                if not line:
                    return
                if data_mode:
                    if line == b".\r\n":
                        data_mode = False
                        raw = b"".join(body)
                        mid = None
                        for h in raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
                            if h.lower().startswith(b"message-id:"):
                                mid = h.split(b":", 1)[1].strip().decode().strip("<>")
                        if State.mode == "ok":
                            with State.lock:
                                State.delivered[mid] = State.delivered.get(mid, 0) + 1
                            self.send("250 2.0.0 queued\r\n")
                        else:
                            self.send("451 4.3.0 try later\r\n")
                        body = []
                        continue
                    body.append(line)
                    if State.mode == "reset" and len(body) > 3:
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                        sock.close()
                        return
                    continue
                cmd = line.strip().upper()
                if starttls_offered and not in_tls and not cmd.startswith((b"EHLO", b"HELO", b"STARTTLS", b"QUIT")):
                    with State.lock:
                        State.plaintext_after_starttls += 1
                if cmd.startswith(b"EHLO"):
                    ext = "250-fake.relay\r\n250-PIPELINING\r\n"
                    if self.offer_starttls and not in_tls:
                        ext += "250-STARTTLS\r\n"
                        starttls_offered = True
                    self.send(ext + "250 8BITMIME\r\n")
                elif cmd.startswith(b"HELO"):
                    self.send("250 fake.relay\r\n")
                elif cmd == b"STARTTLS":
                    self.send("220 go ahead\r\n")
                    try:
                        sock = State.tls_ctx.wrap_socket(self.request, server_side=True)
                    except (ssl.SSLError, OSError):
                        with State.lock:
                            State.tls_handshakes_failed += 1
                        # The client must give up now; if it talks on in
                        # clear, the next reads record it.
                        self.rfile = self.request.makefile("rb")
                        self.wfile = self.request.makefile("wb")
                        continue
                    in_tls = True
                    self.rfile = sock.makefile("rb")
                    self.wfile = sock.makefile("wb")
                elif cmd.startswith(b"MAIL"):
                    if State.mode == "tempfail":
                        self.send("451 4.7.1 greylisted, come back later\r\n")
                    else:
                        self.send("250 ok\r\n")
                elif cmd.startswith(b"RCPT"):
                    self.send("250 ok\r\n")
                elif cmd == b"DATA":
                    self.send("354 go\r\n")
                    data_mode = True
                elif cmd == b"RSET" or cmd == b"NOOP":
                    self.send("250 ok\r\n")
                elif cmd == b"QUIT":
                    self.send("221 bye\r\n")
                    return
                else:
                    self.send("502 5.5.2 what\r\n")
        except (OSError, ssl.SSLError):
            return


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        pass  # a peer that aborts TLS or resets is what this relay is for


def fake_relay(implicit_tls=False, offer_starttls=False):
    h = type("H", (Handler,), {"implicit_tls": implicit_tls, "offer_starttls": offer_starttls})
    srv = Server(("127.0.0.1", 0), h)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def wrong_name_cert(d):
    """A CA, and a server certificate for wrong.example signed by it."""
    run = lambda *a: subprocess.run(a, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ca_key, ca_crt = os.path.join(d, "ca.key"), os.path.join(d, "ca.crt")
    key, csr, crt = os.path.join(d, "srv.key"), os.path.join(d, "srv.csr"), os.path.join(d, "srv.crt")
    ext = os.path.join(d, "ext.cnf")
    with open(ext, "w") as f:
        f.write("subjectAltName=DNS:wrong.example\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", ca_key, "-out", ca_crt, "-days", "2", "-subj", "/CN=chaos test CA")
    run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key,
        "-out", csr, "-subj", "/CN=wrong.example")
    run("openssl", "x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key, "-CAcreateserial", "-out", crt,
        "-days", "2", "-extfile", ext)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(crt, key)
    return ca_crt, ctx


def max_attempts(seconds, base, cap):
    """Attempts a row may make in @seconds when every wait is the
    shortest the backoff allows (d - d/2, at least 1 s), plus the first."""
    n, t, d = 1, 0.0, base
    while True:
        w = max(1, d - d // 2)
        if t + w > seconds:
            return n
        t += w
        n += 1
        d = min(d * 2, cap)


def send_some(serve, n, tag):
    for i in range(n):
        tok = "%s%d-%d" % (tag, i, int(time.time() * 1000))
        sender = "hr-%s@customer.example" % tok
        import smtplib
        with smtplib.SMTP("127.0.0.1", serve.port, timeout=30) as s:
            s.sendmail(sender, [chaos.INBOX], chaos.make_message(tok, sender, 500))


def rows(serve):
    return serve.query("SELECT id, message_id, state, attempts, last_error FROM outbox ORDER BY id")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tempfail-s", type=float, default=20)
    ap.add_argument("--full", action="store_true")
    a = ap.parse_args()
    # --full: the default cap of the backoff scaled by 1/60 (1 h -> 60 s),
    # for the scaled hour's worth of attempts (10 min).
    retry_max = 60 if a.full else 4
    tempfail_s = 600 if a.full else a.tempfail_s
    chaos.need_relaydesk()
    work = chaos.Workdir("rd-hrelay-")
    relay = fake_relay()
    ca, State.tls_ctx = wrong_name_cert(work.path)
    tls_relay = fake_relay(implicit_tls=True)
    starttls_relay = fake_relay(offer_starttls=True)
    script = work.join("ack.sieve")
    with open(script, "w") as f:
        f.write(chaos.ACK_SCRIPT)
    relay_conf = {"url": "smtp://127.0.0.1:%d" % relay.server_address[1], "starttls": "opportunistic",
                  "retry_base": "1s", "retry_max": "%ds" % retry_max, "timeout": "5", "lifetime": "5d",
                  "rate_per_minute": "0", "cap_per_hour": "0", "cap_per_day": "0"}
    conf = {"desk": {"reply_address": chaos.INBOX}, "rules": {"default": script}, "relay": relay_conf}
    serve = chaos.Serve(work, conf)
    try:
        serve.start()
        results = {}
        for mode, secs in (("reset", 8), ("slow", 12), ("tempfail", tempfail_s)):
            State.mode = mode
            before = {r[0]: r[3] for r in rows(serve)}
            t0 = time.time()
            send_some(serve, 3, mode)
            time.sleep(secs)
            elapsed = time.time() - t0
            rs = rows(serve)
            queued = [r for r in rs if r[2] in ("queued", "sending")]
            attempts = max((r[3] - before.get(r[0], 0) for r in rs), default=0)
            bound = max_attempts(elapsed, 1, retry_max)
            errs = sorted(set((r[4] or "")[:70] for r in queued))
            print("%s for %.0f s: %d rows waiting, most attempts %d (backoff allows %d), delivered %d, errors %s" % (
                mode, elapsed, len(queued), attempts, bound, sum(State.delivered.values()), errs), flush=True)
            results[mode] = (len(queued), attempts, bound)
            figure(mode + "_most_attempts", attempts)
            figure(mode + "_backoff_bound", bound)
            check(sum(State.delivered.values()) == 0, "%s: nothing delivered" % mode)
            check(len(queued) == len(rs), "%s: every row still queued (none failed or lost)" % mode)
            check(attempts <= bound, "%s: retries bounded by the backoff" % mode)
        # Healed.
        State.mode = "ok"
        t0 = time.time()
        drained = chaos.wait_until(lambda: all(r[2] == "sent" for r in rows(serve)), 60 + retry_max * 2)
        figure("drain_seconds_after_heal", "%.1f" % (time.time() - t0))
        rs = rows(serve)
        dups = sum(n - 1 for n in State.delivered.values() if n > 1)
        missing = [r for r in rs if State.delivered.get((r[1] or "").strip("<>"), 0) == 0]
        figure("rows", len(rs))
        figure("delivered", sum(State.delivered.values()))
        figure("duplicate_deliveries", dups)
        check(drained, "the queue drains once the relay heals")
        check(not missing and dups == 0, "each row delivered exactly once (%d missing, %d duplicates)" % (
            len(missing), dups))
        serve.stop()

        # A certificate for another name: implicit TLS, then STARTTLS.
        tls_lost = 0
        for name, url, extra in (
                ("implicit_tls", "smtps://localhost:%d" % tls_relay.server_address[1], {}),
                ("starttls", "smtp://localhost:%d" % starttls_relay.server_address[1], {"starttls": "required"})):
            rc = dict(relay_conf, url=url, ca_file=ca, **extra)
            serve = chaos.Serve(work, dict(conf, relay=rc), data_dir=work.join("data-" + name))
            serve.start()
            State.delivered.clear()
            send_some(serve, 2, name)
            time.sleep(6)
            rs = rows(serve)
            errs = sorted(set((r[4] or "") for r in rs))
            print("%s with a certificate for wrong.example: %s; handshakes failed %d, commands in clear %d" % (
                name, [e[:120] for e in errs], State.tls_handshakes_failed, State.plaintext_after_starttls), flush=True)
            figure(name + "_wrong_cert_delivered", sum(State.delivered.values()))
            figure(name + "_commands_in_clear", State.plaintext_after_starttls)
            check(sum(State.delivered.values()) == 0, "%s: nothing delivered to a relay with the wrong name" % name)
            check(State.plaintext_after_starttls == 0, "%s: nothing sent in clear" % name)
            check(all(r[2] in ("queued", "sending") for r in rs), "%s: rows kept for retry" % name)
            check(any("certificate" in e.lower() or "verif" in e.lower() or "ssl" in e.lower() or "tls" in e.lower()
                      for e in errs), "%s: the error names the certificate problem" % name)
            # Healed: the right relay.
            serve.stop()
            serve.conf = dict(conf, relay=dict(relay_conf))
            chaos.write_config(serve.conf_path, serve.data_dir, serve.conf)
            serve.start()
            ok = chaos.wait_until(lambda: all(r[2] == "sent" for r in rows(serve)), 60)
            tls_lost += 0 if ok else len(rows(serve))
            check(ok, "%s: delivered once pointed at a relay with the right certificate" % name)
            serve.stop()
        figure("messages_lost", len(missing) + tls_lost)
    finally:
        try:
            serve.stop()
        except Exception:
            pass
        for s in (relay, tls_relay, starttls_relay):
            s.shutdown()
        work.cleanup()


if __name__ == "__main__":
    main()
