"""relay against a real Postfix (private instance on loopback):
delivery over implicit TLS (the worker in `serve`) and over STARTTLS
(`queue flush`), automatic mail with <> and Auto-Submitted, the loop
marker, certificate verification, a 5xx to RCPT failing at once with a
note on the ticket, and a relay that answers 554 at connect to a source
address it has not allowlisted: `relay check` explains it with the source
address, and the outbox keeps the message until the path is fixed."""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from relay_peers import Postfix, Relaydesk, header, message  # noqa: E402

CONF = """[relaydesk]
hostname = desk.example
[relay]
retry_base = 1s
retry_max = 2s
own_addresses = support@desk.example
"""


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    print("ok:", what)


def main():
    tmp = tempfile.mkdtemp(prefix="rd-relay-pf-")
    os.chmod(tmp, 0o755)
    pf = Postfix(tmp)
    rd = None
    try:
        # --- implicit TLS, through the worker in serve --------------------
        rd = Relaydesk(tmp, "tls", CONF)
        ids = rd.inject(message(1), "alice@relay.test")
        ids += rd.inject(message(2, extra="In-Reply-To: <x@y>\r\n"), "bob@relay.test",
                         kind="autoreply", sender="support@desk.example")
        ids += rd.inject(message(3), ["carol@relay.test", "MAILER-DAEMON@relay.test"], kind="notification")
        ids += rd.inject(message(4), "noreply@relay.test", kind="autoreply")
        ids += rd.inject(message(5), "support@desk.example", kind="autoreply")
        rd.serve("--relay", "smtps://localhost:%d" % pf.tls_port, "--relay-ca", pf.ca)
        st = rd.wait_states(lambda s: s.get("sent", 0) == 3 and s.get("dropped", 0) == 2)
        rd.stop()
        check(st == {"sent": 3, "dropped": 2}, "implicit TLS: 3 sent, 2 dropped by the guard (%s)" % st)
        mails = pf.maildir_messages(wait_for=3)
        check(len(mails) == 3, "3 messages arrived in the relay's Maildir")
        by_subject = {header(m, "Subject"): m for m in mails}
        m1, m2, m3 = by_subject["message 1"], by_subject["message 2"], by_subject["message 3"]
        check("ESMTPS" in header(m1, "Received"), "delivered over TLS (Received says ESMTPS)")
        check(header(m1, "Return-Path") == "<support@desk.example>", "agent reply keeps its envelope sender")
        check(header(m2, "Return-Path") == "<>", "autoreply goes out with envelope sender <>")
        check(header(m2, "Auto-Submitted") == "auto-replied", "autoreply carries Auto-Submitted: auto-replied")
        check(header(m3, "Auto-Submitted") == "auto-generated", "notification carries Auto-Submitted: auto-generated")
        check(header(m3, "Delivered-To") == "carol@relay.test", "MAILER-DAEMON recipient removed, carol kept")
        loop = [header(m, "X-Relaydesk-Loop") for m in mails]
        check(len(set(loop)) == 1 and loop[0] and len(loop[0]) == 24, "every message carries our loop marker")
        q = {it["id"]: it for it in rd.queue()}
        check("queued as" in q[ids[0]]["relay_reply"], "relay reply with queue id kept: %s" % q[ids[0]]["relay_reply"])
        check(q[ids[3]]["state"] == "dropped" and "noreply" in q[ids[3]]["last_error"], "noreply address dropped")
        check(q[ids[4]]["state"] == "dropped" and "own" in q[ids[4]]["last_error"], "own address dropped")
        qid = q[ids[0]]["relay_reply"].rsplit(" ", 1)[1]
        check(qid in pf.log_text(), "the queue id is in the relay's own log")
        ev = [e["event"] for e in rd.show(ids[2])["events"]]
        check("skipped" in ev and "guard" in ev, "history records the skipped recipient and the <> rewrite: %s" % ev)

        # --- STARTTLS (required), through queue flush, with a 5xx ---------
        rd2 = Relaydesk(tmp, "starttls", CONF)
        # a ticket, so that the failure can be noted on it
        subprocess.run([os.environ["RELAYDESK"], "deliver", "--data-dir", rd2.data, "--config", rd2.conf,
                        "--from", "a@relay.test", "support@desk.example"],
                       input=message(9, to="support@desk.example"), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        have_ticket = rd2.run("tickets", "show", "1", check=False).returncode == 0
        check(have_ticket, "a ticket to note failures on")
        rd2.inject(message(6), "dave@relay.test")
        bad = rd2.inject(message(7), "bad@relay.test", ticket=1 if have_ticket else None)[0]
        out = rd2.run("queue", "flush", "--relay", "smtp://localhost:%d" % pf.port, "--relay-ca", pf.ca).stdout.decode()
        check("sent=1" in out and "failed=1" in out and "connections=1" in out,
              "STARTTLS flush: one sent, the 5xx one failed at once, one connection (%s)" % out.strip())
        mails = pf.maildir_messages(wait_for=4)
        m6 = [m for m in mails if header(m, "Subject") == "message 6"]
        check(len(m6) == 1 and "ESMTPS" in header(m6[0], "Received"), "STARTTLS delivery arrived encrypted")
        failed = rd2.show(bad)
        check(failed["state"] == "failed" and "550" in failed["last_error"] and failed["attempts"] == 1,
              "550 to RCPT fails at once: %s" % failed["last_error"])
        if have_ticket:
            t = rd2.run("tickets", "show", "1").stdout.decode()
            check("failed" in t and "550" in t, "the failure is noted on the ticket")
        r = rd2.run("queue", "retry", str(failed["id"]))
        check(rd2.show(bad)["state"] == "queued", "operator retry queues a failed message again")
        r = rd2.run("queue", "drop", str(bad), "--reason", "user gone")
        check(rd2.show(bad)["state"] == "dropped", "operator drop")
        sent = [it for it in rd2.queue() if it["state"] == "sent"][0]
        r = rd2.run("queue", "retry", str(sent["id"]), check=False)
        check(r.returncode == 1 and b"accepted" in r.stderr, "a sent message cannot be retried")

        # --- certificate verification stays on ----------------------------
        rd3 = Relaydesk(tmp, "noca", CONF)
        r = rd3.run("relay", "check", "--relay", "smtps://localhost:%d" % pf.tls_port, check=False)
        out = r.stdout.decode()
        check(r.returncode == 1 and "✗ TLS" in out and "verif" in out, "relay check: untrusted certificate refused")
        rd3.inject(message(8), "erin@relay.test")
        out = rd3.run("queue", "flush", "--relay", "smtps://localhost:%d" % pf.tls_port).stdout.decode()
        check("deferred=1" in out, "no CA: the message is deferred, not sent (%s)" % out.strip())

        # --- 554 at connect to a non-allowlisted source --------------------
        rd4 = Relaydesk(tmp, "deny", CONF + "source_address = 127.0.0.2\n")
        r = rd4.run("relay", "check", "--relay", "smtp://127.0.0.1:%d" % pf.port, "--relay-ca", pf.ca, check=False)
        out = r.stdout.decode()
        print(out)
        check(r.returncode == 1 and "✗ banner" in out and "554" in out and "poor reputation" in out,
              "relay check shows the 554 greeting")
        check("127.0.0.2" in out and "allowlisted" in out, "relay check names our source address and allowlisting")
        row = rd4.inject(message(10), "frank@relay.test")[0]
        out = rd4.run("queue", "flush", "--relay", "smtp://127.0.0.1:%d" % pf.port, "--relay-ca", pf.ca).stdout.decode()
        it = rd4.show(row)
        check(it["state"] == "queued" and "554" in it["last_error"], "the outbox keeps the message after the 554")
        rd4.write_config(CONF + "source_address = 127.0.0.1\n")
        import time
        time.sleep(2.1)  # the row's backoff (retry_max = 2s)
        r = rd4.run("relay", "check", "--relay", "smtp://127.0.0.1:%d" % pf.port, "--relay-ca", pf.ca,
                    "--send-test", "check@relay.test", "--from", "support@desk.example")
        out = r.stdout.decode()
        print(out)
        check(r.returncode == 0 and "queue id" in out and "✗" not in out, "relay check passes once allowlisted")
        out = rd4.run("queue", "flush", "--relay", "smtp://127.0.0.1:%d" % pf.port, "--relay-ca", pf.ca).stdout.decode()
        check(rd4.show(row)["state"] == "sent", "the kept message goes out once the path is fixed")
        mails = pf.maildir_messages(wait_for=6)
        subjects = [header(m, "Subject") for m in mails]
        check(subjects.count("message 10") == 1, "message 10 arrived exactly once")
        check(len(mails) == 6, "the relay received exactly the 6 expected messages (%d)" % len(mails))
    finally:
        if rd:
            rd.stop()
        pf.stop()
        import shutil
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
