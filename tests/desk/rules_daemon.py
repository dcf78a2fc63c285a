#!/usr/bin/python3
"""Sieve rules in the daemon: a config naming per-inbox and global
scripts; `relaydesk deliver` and `relaydesk serve` carry the actions out.

Checks: fileinto -> a ticket in that queue; discard -> the spooled message
marked discarded; vacation -> an outbox row (null envelope sender, RFC 3834
headers) and the response log suppressing the second reply; ticket command
-> priority/assignee/tags; a runtime error -> implicit keep recorded on the
message; SIGHUP reload where a broken script never replaces a working one;
the embedded default (no config) -> a ticket in the default queue."""
import os
import signal
import smtplib
import sqlite3
import subprocess
import sys
import tempfile
import time

RELAYDESK = os.environ["RELAYDESK"]


def msg(subject, sender="alice@example.com", to="support@example.org", extra=""):
    return (f"From: Alice <{sender}>\r\nTo: {to}\r\nSubject: {subject}\r\n"
            f"Message-ID: <{abs(hash((subject, time.time())))}@example.com>\r\n{extra}\r\n"
            f"Hello.\r\n").encode()


def deliver(conf, data, raw, sender="alice@example.com", rcpt="support@example.org", config=True):
    args = [RELAYDESK, "deliver", "--data-dir", data, "--from", sender, rcpt]
    if config:
        args[2:2] = ["--config", conf]
    p = subprocess.run(args, input=raw, capture_output=True, timeout=30)
    assert p.returncode == 0, (p.returncode, p.stderr.decode())
    return p.stderr.decode()


def db(data):
    return sqlite3.connect(os.path.join(data, "relaydesk.db"))


def check(cond, what):
    if not cond:
        print("FAIL:", what)
        sys.exit(1)
    print("ok:", what)


with tempfile.TemporaryDirectory() as tmp:
    sd = os.path.join(tmp, "sieve")
    os.makedirs(sd)
    data = os.path.join(tmp, "data")
    with open(os.path.join(sd, "before.sieve"), "w") as f:
        f.write('require ["imap4flags", "duplicate"];\n'
                'if header :contains "x-spam-flag" "YES" { discard; stop; }\n'
                'if duplicate { discard; stop; }\n')
    with open(os.path.join(sd, "support.sieve"), "w") as f:
        f.write('require ["fileinto", "vacation", "vnd.relaydesk.ticket", "variables", "imap4flags"];\n'
                'if header :contains "subject" "invoice" { fileinto "billing"; }\n'
                'if address :is "from" "vip@example.com" {\n'
                '  ticket :priority "urgent" :assign "carol" :tags ["vip"];\n'
                '  addflag "$important";\n'
                '}\n'
                'if header :contains "subject" "boom" { set "a" "not an address"; redirect "${a}"; }\n'
                'if not followup {\n'
                '  vacation :days 1 :from "Support <support@example.org>"\n'
                '    :subject "Received [#${ticket.number}]" "We got it: ticket ${ticket.number}.";\n'
                '}\n')
    with open(os.path.join(sd, "other.sieve"), "w") as f:
        f.write('require ["reject"];\n'
                'if header :contains "subject" "reject me" { reject "No thanks."; }\n'
                'else { redirect "fwd@Example.NET"; }\n')
    conf = os.path.join(tmp, "relaydesk.conf")
    with open(conf, "w") as f:
        f.write(f"[relaydesk]\ndata_dir = {data}\nhostname = desk.example.org\n"
                f"[rules]\nscript_dir = {sd}\nbefore = before.sieve\n"
                f"scripts = support@example.org=support.sieve; other@example.org=other.sieve\n")

    deliver(conf, data, msg("Question about my invoice"))
    deliver(conf, data, msg("Cheap pills", extra="X-Spam-Flag: YES\r\n"))
    deliver(conf, data, msg("Another invoice question"))
    deliver(conf, data, msg("Hi", sender="vip@example.com"), sender="vip@example.com")
    deliver(conf, data, msg("boom"), sender="bob@example.com")

    deliver(conf, data, msg("please reject me", to="other@example.org"), sender="carl@example.com",
            rcpt="other@example.org")
    deliver(conf, data, msg("forward me", to="other@example.org"), sender="dora@example.com",
            rcpt="other@example.org")

    # The same Message-ID with another body: not the byte-identical
    # redelivery that the desk collapses before the rules run (tickets
    # dedupe), so the Sieve duplicate test decides.
    dup = (b"From: eve@example.com\r\nTo: support@example.org\r\nSubject: twice\r\n"
           b"Message-ID: <same-id@example.com>\r\n\r\nHello.\r\n")
    deliver(conf, data, dup, sender="eve@example.com")
    deliver(conf, data, dup.replace(b"Hello.", b"Hello again."), sender="eve@example.com")

    c = db(data)
    twice = c.execute("SELECT state FROM spool WHERE message_id = 'same-id@example.com' ORDER BY id").fetchall()
    check(twice == [("processed",), ("discarded",)], "duplicate: the second copy is discarded (ids kept in SQLite)")
    rows = c.execute("SELECT number, queue, priority, assignee, subject FROM tickets ORDER BY number").fetchall()
    print(rows)
    check(rows[0][1] == "billing", "fileinto -> ticket in queue billing")
    check(rows[1][1] == "billing", "second message -> billing too")
    check(len([r for r in rows if r[4] != "twice"]) == 4, "spam discarded: 4 tickets for 5 messages")
    spam = c.execute("SELECT state, state_reason FROM spool WHERE message_id IS NOT NULL ORDER BY id").fetchall()
    check(spam[1] == ("discarded", "rules: discard"), "discard -> spool state discarded")
    vip = rows[2]
    check(vip[1] == "inbox" and vip[2] == "urgent" and vip[3] == "carol", "ticket :priority/:assign on the ticket")
    tags = [r[0] for r in c.execute("SELECT tag FROM ticket_tags WHERE ticket_number = ? ORDER BY tag", (vip[0],))]
    check(tags == ["$important", "vip"], "ticket :tags and imap4flags -> ticket tags")
    boom = c.execute("SELECT s.state, s.state_reason FROM spool s JOIN messages m ON m.spool_id = s.id"
                     " WHERE m.subject = 'boom'").fetchone()
    check(boom[0] == "processed" and boom[1].startswith("rules runtime error, implicit keep"),
          "runtime error -> implicit keep, recorded in spool.state_reason")
    out = c.execute("SELECT o.kind, o.sender, o.raw, r.address, o.ticket_number FROM outbox o"
                    " JOIN outbox_recipients r ON r.outbox_id = o.id ORDER BY o.id").fetchall()
    auto = [o for o in out if o[0] == "autoreply"]
    print([(o[0], o[1], o[3]) for o in out])
    # alice: one reply for two messages (response log); vip: one; bob: none
    # (runtime error drops all actions).
    to_alice = [o for o in auto if o[3] == "alice@example.com"]
    check(len(to_alice) == 1 and len(auto) == 3,
          "vacation: one autoreply to alice for two messages (the response log), one each to vip and eve")
    a = to_alice[0]
    raw = a[2].decode() if isinstance(a[2], bytes) else a[2]
    print(raw)
    check(a[1] == "" and a[3] == "alice@example.com", "autoreply: envelope sender <> and recipient the sender")
    check("\r\nAuto-Submitted: auto-replied\r\n" in raw, "autoreply: Auto-Submitted: auto-replied")
    check("\r\nIn-Reply-To: <" in raw and "\r\nReferences: <" in raw, "autoreply: In-Reply-To and References")
    check(f"Subject: Received [#{rows[0][0]}]" in raw and f"ticket {rows[0][0]}." in raw,
          "${ticket.number} of a new ticket expanded after it was opened")
    rej = [o for o in out if o[0] == "reject"]
    check(len(rej) == 1 and rej[0][1] == "" and rej[0][3] == "carl@example.com"
          and b"multipart/report" in bytes(rej[0][2]) and b"No thanks." in bytes(rej[0][2]),
          "reject -> a rejection notice (MDN) from <> to the sender in the outbox")
    red = [o for o in out if o[0] == "redirect"]
    check(len(red) == 1 and red[0][1] == "dora@example.com" and red[0][3] == "fwd@example.net"
          and b"Subject: forward me" in bytes(red[0][2]),
          "redirect -> the message unchanged in the outbox, envelope sender kept")
    states = dict(c.execute("SELECT state_reason, state FROM spool WHERE state = 'discarded'").fetchall())
    check(states.get("rules: reject") == "discarded" and states.get("rules: redirect") == "discarded",
          "reject and redirect-only -> no ticket, spool marked")
    log = c.execute("SELECT inbox, sender FROM rules_responses ORDER BY sender").fetchall()
    check(("support@example.org", "alice@example.com") in log, "response log row for alice")
    c.close()

    # The embedded default: no config -> every message a ticket in "inbox".
    data2 = os.path.join(tmp, "data2")
    deliver(None, data2, msg("invoice but no rules"), config=False)
    c = db(data2)
    check(c.execute("SELECT queue FROM tickets").fetchall() == [("inbox",)], "no config: ticket in the default queue")
    c.close()

    # A broken script at start-up is a config error.
    bad = os.path.join(sd, "bad.sieve")
    with open(bad, "w") as f:
        f.write('fileinto "x";\n')
    badconf = os.path.join(tmp, "bad.conf")
    with open(badconf, "w") as f:
        f.write(f"[relaydesk]\ndata_dir = {data}\n[rules]\nscript_dir = {sd}\ndefault = bad.sieve\n")
    p = subprocess.run([RELAYDESK, "deliver", "--config", badconf, "--from", "a@b.example", "x@y.example"],
                       input=msg("x"), capture_output=True, timeout=30)
    check("bad.sieve:1:1" in p.stderr.decode(), "deliver logs the compile error with FILE:LINE:COL")

    # serve + SIGHUP: a broken script never replaces a working one.
    data3 = os.path.join(tmp, "data3")
    sconf = os.path.join(tmp, "serve.conf")
    with open(os.path.join(sd, "serve.sieve"), "w") as f:
        f.write('require "fileinto"; fileinto "first";\n')
    with open(sconf, "w") as f:
        f.write(f"[relaydesk]\ndata_dir = {data3}\n[rules]\nscript_dir = {sd}\n"
                f"scripts = support@example.org=serve.sieve\n")
    port_file = os.path.join(tmp, "port")
    log_path = os.path.join(tmp, "serve.log")
    logf = open(log_path, "w")
    srv = subprocess.Popen([RELAYDESK, "serve", "--config", sconf, "--smtp", "127.0.0.1:0", "--port-file", port_file],
                           stdout=logf, stderr=subprocess.STDOUT)
    try:
        for _ in range(100):
            if os.path.exists(port_file) and open(port_file).read().strip():
                break
            time.sleep(0.1)
        port = int(open(port_file).read())

        def send(subject):
            with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
                s.sendmail("alice@example.com", ["support@example.org"], msg(subject))

        def queues():
            c = db(data3)
            try:
                return [r[0] for r in c.execute("SELECT queue FROM tickets ORDER BY number")]
            finally:
                c.close()

        def wait_for(n):
            for _ in range(100):
                q = queues()
                if len(q) >= n:
                    return q
                time.sleep(0.1)
            return queues()

        send("one")
        check(wait_for(1) == ["first"], "serve: fileinto first")
        with open(os.path.join(sd, "serve.sieve"), "w") as f:
            f.write('fileinto "broken";\n')
        srv.send_signal(signal.SIGHUP)
        time.sleep(1.0)
        send("two")
        check(wait_for(2) == ["first", "first"], "SIGHUP with a broken script keeps the working one")
        with open(os.path.join(sd, "serve.sieve"), "w") as f:
            f.write('require "fileinto"; fileinto "second";\n')
        srv.send_signal(signal.SIGHUP)
        time.sleep(1.0)
        send("three")
        check(wait_for(3) == ["first", "first", "second"], "SIGHUP with a good script replaces it")
    finally:
        srv.send_signal(signal.SIGTERM)
        try:
            srv.wait(timeout=10)
        except subprocess.TimeoutExpired:
            srv.kill()
            srv.wait()
        logf.close()
    text = open(log_path).read()
    check("rules.reload" in text and "kept-previous" in text and "serve.sieve:1:1" in text,
          "the reload error is logged with FILE:LINE:COL")
print("all ok")
