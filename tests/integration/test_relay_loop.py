"""Loop safety end to end: two relaydesk instances, each relaying to the
other's SMTP listener, whose rules (1) acknowledge every message (Sieve
vacation), then (2) redirect every message to the other. One message from
outside starts each exchange; it must stop after a bounded, small number
of messages. (1) stops by RFC 3834 (automatic replies go to <> with
Auto-Submitted, and nothing answers those); (2) only by the relay guard:
a message that already carries our own X-Relaydesk-Loop marker is not
sent again.

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
        # How the desk is told to run a script: [rules] default (the rules
        # branch: the script of inboxes without their own) unless
        # RD_LOOP_RULES_CONFIG gives another config snippet ({script}).
        rules_conf = os.environ.get("RD_LOOP_RULES_CONFIG", "[rules]\ndefault = {script}\n")
        # 1. both acknowledge everything (vacation);
        # 2. both redirect everything to the other (no RFC 3834 help: only
        #    the relay guard's loop marker stops it).
        scenarios = [
            ("ack", {"a": SCRIPT, "b": SCRIPT}),
            ("redirect", {"a": 'redirect "loop@b.example";\n',
                          "b": 'redirect "loop@a.example";\n'}),
        ]
        for name, scripts in scenarios:
            run_pair(tmp, name, scripts, rules_conf, desks)
    finally:
        for d in desks:
            d.stop(signal.SIGTERM)
        shutil.rmtree(tmp, ignore_errors=True)


def run_pair(tmp, name, scripts, rules_conf, desks):
    pa, pb = free_port(), free_port()
    conf = """[relaydesk]
hostname = {me}.example
""" + rules_conf + """[relay]
starttls = opportunistic
retry_base = 1s
retry_max = 2s
own_addresses = support@{me}.example
"""
    inst = {}
    for me, port, other in (("a", pa, pb), ("b", pb, pa)):
        path = os.path.join(tmp, "%s-%s.sieve" % (name, me))
        with open(path, "w") as f:
            f.write(scripts[me])
        d = Relaydesk(tmp, "%s-%s" % (name, me), conf.format(me=me, script=path))
        desks.append(d)
        d.proc = subprocess.Popen([RELAYDESK, "serve", "--data-dir", d.data, "--config", d.conf,
                                   "--smtp", "127.0.0.1:%d" % port, "--relay", "smtp://127.0.0.1:%d" % other],
                                  stdout=open(d.log, "a"), stderr=subprocess.STDOUT)
        inst[me] = d
    a, b = inst["a"], inst["b"]
    from relay_peers import wait_port
    if not (wait_port(pa) and wait_port(pb)):
        raise AssertionError("serve did not listen")
    # B's helpdesk writes to A's helpdesk: both sides answer everything.
    with smtplib.SMTP("127.0.0.1", pa, timeout=10) as s:
        s.sendmail("support@b.example", ["support@a.example"],
                   b"From: support@b.example\r\nTo: support@a.example\r\nSubject: hello\r\n"
                   b"Message-ID: <seed." + name.encode() + b"@b.example>\r\n\r\nstart\r\n")
    # Wait for A's answer to appear, else the rules are not wired.
    end = time.time() + 15
    while time.time() < end and not a.queue():
        time.sleep(0.3)
    if not a.queue():
        skip("%s: nothing reached the outbox: the rules are not wired into the desk in this build "
             "(or it reads another setting than [rules] default: set RD_LOOP_RULES_CONFIG)" % name)
    # Let the exchange run, then wait until nothing moves for 5 s.
    last, still = None, 0
    end = time.time() + 60
    while time.time() < end and still < 5:
        now = (len(a.queue()), len(b.queue()))
        still = still + 1 if now == last else 0
        last = now
        time.sleep(1)
    rows = a.queue() + b.queue()
    total = len(rows)
    print("%s: outbound rows a=%d b=%d: %s" % (name, len(a.queue()), len(b.queue()),
                                             ", ".join("%s %s%s" % (r["kind"], r["state"],
                                                       " (%s)" % r["last_error"] if r["state"] == "dropped" else "")
                                                       for r in rows)))
    if still < 5:
        raise AssertionError("%s: the exchange did not stop within 60 s (%d rows)" % (name, total))
    if total > BOUND:
        raise AssertionError("%s: loop: %d outbound messages, more than %d" % (name, total, BOUND))
    print("ok: %s: the exchange stopped after %d outbound messages (bound %d)" % (name, total, BOUND))
    a.stop()
    b.stop()


if __name__ == "__main__":
    main()
