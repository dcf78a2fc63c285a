"""relay against aiosmtpd (a real third-party SMTP server): a relay that
tempfails then accepts (backoff, then sent once), 5xx fails at once, the
relay down while relaydesk restarts then up (every message reaches the
relay's spool exactly once), a crash (SIGKILL) in the middle of a batch
(nothing lost; at most the one message in the 250-to-commit window twice),
the rate limit, per-recipient caps, the suppression list, and several
messages over one connection."""
import os
import shutil
import signal
import sqlite3
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from relay_peers import Aiosmtpd, Relaydesk, free_port, header, message  # noqa: E402

BASE = """[relaydesk]
hostname = desk.example
[relay]
starttls = opportunistic
retry_base = 1s
retry_max = 2s
"""


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    print("ok:", what)


def msgids(relay):
    return [header(m, "Message-ID") for m in relay.messages()]


def main():
    tmp = tempfile.mkdtemp(prefix="rd-relay-aio-")
    servers = []
    desks = []
    try:
        # --- tempfail, then accept ----------------------------------------
        relay = Aiosmtpd(tmp, tempfail=2, name="tempfail").start()
        servers.append(relay)
        rd = Relaydesk(tmp, "tempfail", BASE)
        desks.append(rd)
        row = rd.inject(message(1), "a@example.net")[0]
        rd.serve("--relay", "smtp://127.0.0.1:%d" % relay.port)
        rd.wait_states(lambda s: s.get("sent") == 1, timeout=30)
        rd.stop()
        it = rd.show(row)
        ev = [e["event"] for e in it["events"]]
        check(it["attempts"] == 3 and ev.count("deferred") == 2, "451 twice, then sent on the 3rd attempt (%s)" % ev)
        check("451" in [e for e in it["events"] if e["event"] == "deferred"][0]["detail"], "the 451 text is recorded")
        check(it["relay_reply"] == "250 2.0.0 Ok: queued as Q0001", "the final 250 and queue id are kept")
        check(msgids(relay) == ["<m1.relaytest@desk.example>"], "the relay got it exactly once")

        # --- STARTTLS required but not offered: deferred, never in clear --
        rd = Relaydesk(tmp, "needtls", BASE.replace("opportunistic", "required"))
        desks.append(rd)
        row = rd.inject(message(50), "a@example.net")[0]
        out = rd.run("queue", "flush", "--relay", "smtp://127.0.0.1:%d" % relay.port).stdout.decode()
        it = rd.show(row)
        check(it["state"] == "queued" and ("SSL" in it["last_error"] or "STARTTLS" in it["last_error"]),
              "starttls = required and no STARTTLS: deferred (%s)" % it["last_error"])
        r = rd.run("relay", "check", "--relay", "smtp://127.0.0.1:%d" % relay.port, check=False)
        check(r.returncode == 1 and "✗ STARTTLS" in r.stdout.decode(), "relay check: STARTTLS required, not offered")

        # --- lifetime: 4xx until the lifetime is over, then failed ----------
        forever = Aiosmtpd(tmp, tempfail=1000, name="forever").start()
        servers.append(forever)
        rd = Relaydesk(tmp, "lifetime", BASE + "lifetime = 4s\n")
        desks.append(rd)
        row = rd.inject(message(51), "a@example.net")[0]
        t0 = time.time()
        rd.serve("--relay", "smtp://127.0.0.1:%d" % forever.port)
        rd.wait_states(lambda s: s.get("failed") == 1, timeout=30)
        rd.stop()
        it = rd.show(row)
        check(it["attempts"] >= 2 and "gave up" in it["last_error"] and "451" in it["last_error"],
              "after the lifetime (4 s) the 4xx row failed: %d attempts in %.1f s: %s"
              % (it["attempts"], time.time() - t0, it["last_error"]))
        defs = [e for e in it["events"] if e["event"] in ("sending", "deferred")]
        check(len(defs) >= 4, "each attempt is in the history")

        # --- AUTH ---------------------------------------------------------
        authrelay = Aiosmtpd(tmp, name="auth", auth="desk:s3cret").start()
        servers.append(authrelay)
        # aiosmtpd does not answer a failed two-step AUTH PLAIN (libcurl's way):
        # a short timeout keeps that case quick.
        rd = Relaydesk(tmp, "auth", BASE + "timeout = 3\nusername = desk\npassword = wrong\n")
        desks.append(rd)
        r = rd.run("relay", "check", "--relay", "smtp://127.0.0.1:%d" % authrelay.port, check=False)
        check(r.returncode == 1 and "✗ AUTH" in r.stdout.decode(), "relay check: a wrong password fails AUTH")
        row = rd.inject(message(52), "a@example.net")[0]
        rd.run("queue", "flush", "--relay", "smtp://127.0.0.1:%d" % authrelay.port)
        it = rd.show(row)
        check(it["state"] == "queued", "AUTH refused: the message stays queued (%s)" % it["last_error"])
        rd.write_config(BASE + "username = desk\npassword = s3cret\n")
        r = rd.run("relay", "check", "--relay", "smtp://127.0.0.1:%d" % authrelay.port,
                   "--send-test", "t@example.net", check=False)
        out = r.stdout.decode()
        check(r.returncode == 0 and "✓ AUTH" in out and "queue id Q0001" in out, "relay check: AUTH and send-test pass")
        time.sleep(2.1)
        rd.run("queue", "flush", "--relay", "smtp://127.0.0.1:%d" % authrelay.port)
        check(rd.show(row)["state"] == "sent", "with the right password the message goes")

        # --- 5xx fails at once; dot-stuffing; one connection ----------------
        rd = Relaydesk(tmp, "perm", BASE)
        desks.append(rd)
        bad = rd.inject(message(2), "bad@example.net")[0]
        rd.inject(message(3, extra="X-Dots: yes\r\n") + b".leading dot\r\n..two dots\r\n", "b@example.net")
        rd.inject(message(4), "c@example.net", copies=3)
        out = rd.run("queue", "flush", "--relay", "smtp://127.0.0.1:%d" % relay.port).stdout.decode()
        check("sent=4" in out and "failed=1" in out, "550 fails at once, the rest go (%s)" % out.strip())
        check("connections=" in out and int(out.split("connections=")[1].split()[0]) <= 2,
              "one connection for the good messages (a new one after the 550)")
        it = rd.show(bad)
        check(it["state"] == "failed" and it["attempts"] == 1 and "550" in it["last_error"], "5xx: failed after one attempt")
        body = [m for m in relay.messages() if b"X-Dots" in m][0]
        check(b"\r\n.leading dot\r\n..two dots\r\n" in body, "dot-stuffing round-trips")

        # --- relay down while relaydesk restarts, then up -------------------
        port = free_port()
        rd = Relaydesk(tmp, "restart", BASE)
        desks.append(rd)
        for n in range(100, 110):
            rd.inject(message(n), "r%d@example.net" % n)
        rd.serve("--relay", "smtp://127.0.0.1:%d" % port)
        time.sleep(2.5)
        check(rd.states().get("sent", 0) == 0, "relay down: nothing sent")
        rd.stop()
        it = rd.queue()
        check(all(i["state"] == "queued" for i in it), "all kept after a stop with the relay down")
        check(any(i["last_error"] and ("connect" in i["last_error"].lower() or "refused" in i["last_error"].lower())
                  for i in it), "the connection failure is recorded")
        for n in range(110, 120):
            rd.inject(message(n), "r%d@example.net" % n)
        rd.serve("--relay", "smtp://127.0.0.1:%d" % port)
        time.sleep(1.0)
        up = Aiosmtpd(tmp, port=port, name="restart").start()
        servers.append(up)
        rd.wait_states(lambda s: s.get("sent") == 20, timeout=60)
        rd.stop()
        ids = msgids(up)
        check(len(ids) == 20 and len(set(ids)) == 20, "relay up again: all 20 arrived, each exactly once")

        # --- crash (SIGKILL) in the middle of a batch -----------------------
        relay2 = Aiosmtpd(tmp, name="crash").start()
        servers.append(relay2)
        rd = Relaydesk(tmp, "crash", BASE + "rate_per_minute = 0\n")
        desks.append(rd)
        n_msgs = 300
        for n in range(1000, 1000 + n_msgs):
            rd.inject(message(n), "k@example.net")
        rd.serve("--relay", "smtp://127.0.0.1:%d" % relay2.port)
        end = time.time() + 30
        while len(relay2.messages()) < 40 and time.time() < end:
            time.sleep(0.01)
        rd.stop(signal.SIGKILL)
        mid = rd.states()
        print("after SIGKILL:", mid, "relay has", len(relay2.messages()))
        rd.serve("--relay", "smtp://127.0.0.1:%d" % relay2.port)
        rd.wait_states(lambda s: s.get("sent") == n_msgs, timeout=120)
        rd.stop()
        ids = msgids(relay2)
        dups = len(ids) - len(set(ids))
        check(len(set(ids)) == n_msgs, "after a crash and restart every message reached the relay")
        check(dups <= 1, "at most the one message in the 250-to-commit window went twice (%d)" % dups)

        # --- rate limit -----------------------------------------------------
        rd = Relaydesk(tmp, "rate", BASE + "rate_per_minute = 3\n")
        desks.append(rd)
        for n in range(200, 206):
            rd.inject(message(n), "rate%d@example.net" % n)
        t0 = time.time()
        rd.serve("--relay", "smtp://127.0.0.1:%d" % relay2.port)
        rd.wait_states(lambda s: s.get("sent") == 3, timeout=30)
        time.sleep(3)
        st = rd.states()
        rd.stop()
        check(st.get("sent") == 3 and st.get("queued") == 3,
              "rate_per_minute = 3: 3 sent, 3 wait for the next minute (%s after %.1f s)" % (st, time.time() - t0))
        # a restart does not reset the window
        rd.serve("--relay", "smtp://127.0.0.1:%d" % relay2.port)
        time.sleep(3)
        st = rd.states()
        rd.stop()
        check(st.get("sent") == 3, "the rate limit holds across a restart (%s)" % st)

        # --- relay check: DNS and connection failures explained ------------
        r = rd.run("relay", "check", "--relay", "smtp://no-such-host.invalid:25", check=False)
        out = r.stdout.decode()
        check(r.returncode == 1 and "✗ resolve" in out and "no-such-host.invalid" in out, "relay check: DNS error shown")
        r = rd.run("relay", "check", "--relay", "smtp://127.0.0.1:%d" % free_port(), check=False)
        out = r.stdout.decode()
        check(r.returncode == 1 and "✗ connect" in out and "port" in out, "relay check: refused connection, port named")

        # --- caps and the suppression list ----------------------------------
        rd = Relaydesk(tmp, "caps", BASE + "cap_per_hour = 2\ncap_per_day = 3\n")
        desks.append(rd)
        rd.inject(message(300), "storm@example.net", kind="autoreply")
        rd.run("queue", "flush", "--relay", "smtp://127.0.0.1:%d" % relay2.port)
        rd.inject(message(301), "storm@example.net", kind="autoreply")
        rd.run("queue", "flush", "--relay", "smtp://127.0.0.1:%d" % relay2.port)
        third = rd.inject(message(302), "Storm@Example.net", kind="autoreply")[0]
        reply = rd.inject(message(303), "storm@example.net", kind="reply")[0]
        rd.inject(message(304), "gone@example.net", kind="reply")
        db = sqlite3.connect(os.path.join(rd.data, "relaydesk.db"))
        db.execute("INSERT INTO suppressions (address, reason, created_at) VALUES ('gone@example.net', 'bounced 5.1.1', 0)")
        db.commit()
        db.close()
        rd.run("queue", "flush", "--relay", "smtp://127.0.0.1:%d" % relay2.port)
        q = {i["id"]: i for i in rd.queue()}
        check(q[third]["state"] == "dropped" and "cap_per_hour" in q[third]["last_error"],
              "3rd autoreply within the hour dropped by the cap: %s" % q[third]["last_error"])
        check(q[reply]["state"] == "sent", "agent replies are not capped")
        gone = [i for i in q.values() if i["recipients"] == ["gone@example.net"]][0]
        check(gone["state"] == "dropped" and "suppressed" in gone["last_error"], "suppressed address dropped")
    finally:
        for d in desks:
            d.stop(signal.SIGKILL)
        for s in servers:
            s.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
