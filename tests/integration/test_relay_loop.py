"""Loop safety end to end: two relaydesk instances whose rules acknowledge
every message (Sieve vacation), each relaying to the other's SMTP
listener. One message from outside starts the exchange; it must stop
after a bounded, small number of messages (RFC 3834: automatic replies go
to <> with Auto-Submitted, and nothing answers those; the relay guard
drops mail to <>, MAILER-DAEMON, our own addresses, past the caps).

Needs the rules engine's vacation wired into the desk (the `rules`
branch): skipped (77) when `relaydesk rules check` is missing, does not
accept a vacation script, or no acknowledgement reaches the outbox with
the [rules] default setting this test writes.
"""
import os
import shutil
import signal
import smtplib
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from relay_peers import RELAYDESK, Relaydesk, free_port, skip  # noqa: E402

SCRIPT = 'require ["vacation"];\nvacation :days 1 :subject "We got your message" "Thank you, we will answer soon.";\n'
BOUND = 4


def main():
    tmp = tempfile.mkdtemp(prefix="rd-relay-loop-")
    desks = []
    try:
        script = os.path.join(tmp, "ack.sieve")
        with open(script, "w") as f:
            f.write(SCRIPT)
        r = subprocess.run([RELAYDESK, "rules", "check", script], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if r.returncode == 64 and b"unknown command" in r.stdout:
            skip("`relaydesk rules check` does not exist in this build (the rules branch is not merged)")
        if r.returncode != 0:
            skip("this build's rules do not accept a vacation script: " + r.stdout.decode(errors="replace")[:300])
        pa, pb = free_port(), free_port()
        # How the desk is told to run a script: [rules] default (the rules
        # branch: the script of inboxes without their own) unless
        # RD_LOOP_RULES_CONFIG gives another config snippet ({script}).
        rules_conf = os.environ.get("RD_LOOP_RULES_CONFIG", "[rules]\ndefault = {script}\n")
        conf = """[relaydesk]
hostname = {me}.example
""" + rules_conf + """[relay]
starttls = opportunistic
retry_base = 1s
retry_max = 2s
own_addresses = support@{me}.example
"""
        a = Relaydesk(tmp, "a", conf.format(me="a", script=script))
        b = Relaydesk(tmp, "b", conf.format(me="b", script=script))
        desks += [a, b]
        a.proc = subprocess.Popen([RELAYDESK, "serve", "--data-dir", a.data, "--config", a.conf,
                                   "--smtp", "127.0.0.1:%d" % pa, "--relay", "smtp://127.0.0.1:%d" % pb],
                                  stdout=open(a.log, "a"), stderr=subprocess.STDOUT)
        b.proc = subprocess.Popen([RELAYDESK, "serve", "--data-dir", b.data, "--config", b.conf,
                                   "--smtp", "127.0.0.1:%d" % pb, "--relay", "smtp://127.0.0.1:%d" % pa],
                                  stdout=open(b.log, "a"), stderr=subprocess.STDOUT)
        from relay_peers import wait_port
        if not (wait_port(pa) and wait_port(pb)):
            raise AssertionError("serve did not listen")
        # B's helpdesk writes to A's helpdesk: both sides answer everything.
        with smtplib.SMTP("127.0.0.1", pa, timeout=10) as s:
            s.sendmail("support@b.example", ["support@a.example"],
                       b"From: support@b.example\r\nTo: support@a.example\r\nSubject: hello\r\n"
                       b"Message-ID: <seed@b.example>\r\n\r\nstart\r\n")
        # Wait for A's acknowledgement to appear, else vacation is not wired.
        end = time.time() + 15
        while time.time() < end and not a.queue():
            time.sleep(0.3)
        if not a.queue():
            skip("no acknowledgement reached the outbox: vacation is not wired into the desk in this build "
                 "(or it reads another setting than [rules] default: set RD_LOOP_RULES_CONFIG)")
        # Let the exchange run, then wait until nothing moves for 5 s.
        last, still = None, 0
        end = time.time() + 60
        while time.time() < end and still < 5:
            now = (len(a.queue()), len(b.queue()))
            still = still + 1 if now == last else 0
            last = now
            time.sleep(1)
        total = sum(len(d.queue()) for d in desks)
        sent = sum(1 for d in desks for it in d.queue() if it["state"] == "sent")
        print("outbound rows: a=%d b=%d, sent=%d" % (len(a.queue()), len(b.queue()), sent))
        if still < 5:
            raise AssertionError("the exchange did not stop within 60 s (%d rows)" % total)
        if total > BOUND:
            raise AssertionError("loop: %d outbound messages, more than %d" % (total, BOUND))
        print("ok: the exchange stopped after %d outbound messages (bound %d)" % (total, BOUND))
    finally:
        for d in desks:
            d.stop(signal.SIGTERM)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
