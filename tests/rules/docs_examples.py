#!/usr/bin/python3
"""Checks every example of docs/rules.md: each ```sieve block whose first
line is "# example: NAME" is extracted from the document, compiled with
`relaydesk rules check` and run with `relaydesk rules test` on the messages
below; the output must be what the example promises. An example in the
document without cases here (or the reverse) is a failure."""
import os
import re
import subprocess
import sys
import tempfile

RELAYDESK = os.environ["RELAYDESK"]
DOC = os.path.join(os.environ["RD_SOURCE_ROOT"], "docs", "rules.md")


def message(subject="Hello", frm="alice@example.com", to="support@example.org", extra=""):
    return (f"From: {frm}\r\nTo: {to}\r\nSubject: {subject}\r\n"
            f"Date: Wed, 17 Jan 2024 10:00:00 +0000\r\nMessage-ID: <x1@example.com>\r\n"
            f"{extra}\r\nHello.\r\n")


# name -> list of (message, extra rules-test args, expected lines or a
# predicate on the lines)
CASES = {
    "queues": [
        (message(to="billing@example.org"), ["--to", "billing@example.org"], ['fileinto "billing"']),
        (message(to="sales@example.org"), ["--to", "sales@example.org"], ['fileinto "sales"']),
        (message(), ["--to", "support+security@example.org"], ['fileinto "security"']),
        (message("Refund for order 7"), [], ['fileinto "billing"']),
        (message("Site is DOWN"), [], ['fileinto "incidents"']),
        (message("A question"), [], ["keep"]),
    ],
    "acknowledge": [
        (message("Help"), [], lambda l: l[0] == "keep" and len(l) == 2 and l[1].startswith(
            'vacation to=<alice@example.com> from=<support@example.org> subject="Re: we received your request')),
        (message("Re: Help"), ["--followup", "--ticket-number", "42", "--ticket-tag", "[RD #42]"], ["keep"]),
        (message("Help", extra="Precedence: bulk\r\n"), [], ["keep", "vacation-suppressed reason=precedence"]),
        (message("Help"), ["--from", "<>"], ["keep", "vacation-suppressed reason=null-sender"]),
    ],
    "out-of-hours": [
        (message("Help"), ["--now", "2024-01-20T12:00:00Z"],   # Saturday
         lambda l: l[0] == "keep" and l[1].startswith('vacation to=<alice@example.com> from=<support@example.org> '
                                                      'subject="Outside office hours [RD #1]"')),  # no database: a first ticket
        (message("Help"), ["--now", "2024-01-17T10:00:00Z"], ["keep"]),          # Wednesday 11:00 +0100
        (message("Help"), ["--now", "2024-01-17T17:30:00Z"],                     # Wednesday 18:30 +0100
         lambda l: len(l) == 2 and l[1].startswith("vacation ")),
        (message("Help"), ["--now", "2024-01-17T06:30:00Z"],                     # Wednesday 07:30 +0100
         lambda l: len(l) == 2 and l[1].startswith("vacation ")),
        (message("Re: Help"), ["--now", "2024-01-20T12:00:00Z", "--followup"], ["keep"]),
    ],
    "spam": [
        (message(extra="X-Spam-Flag: YES\r\n"), [], ["discard"]),
        (message(extra="X-Spam-Score: 9\r\n"), [], ["discard"]),
        (message(extra="X-Spam-Score: 6\r\n"), [], ['fileinto "suspect"']),
        (message(extra="X-Spam-Score: 2\r\n"), [], ["keep"]),
    ],
    "vip": [
        (message(frm="Dana <dana@bigcorp.example>"), [], ["keep", "ticket priority=high tags=[vip]"]),
        (message(frm="ceo@bigcorp.example"), [],
         ["keep flags=[$escalated]", "ticket priority=urgent assign=team-lead tags=[vip]"]),
        (message(frm="someone@elsewhere.example"), [], ["keep"]),
    ],
    "forward-copy": [
        (message("Outage in EU"), [], ['fileinto "incidents"', 'redirect "oncall@example.net"']),
        (message("Question"), [], ["keep"]),
    ],
}


def extract(doc):
    examples = {}
    for m in re.finditer(r"```sieve\n(.*?)```", doc, re.S):
        body = m.group(1)
        first = body.splitlines()[0] if body else ""
        mm = re.match(r"# example: (\S+)", first)
        if mm:
            examples[mm.group(1)] = body
    return examples


def main():
    with open(DOC, encoding="utf-8") as f:
        examples = extract(f.read())
    failed = 0
    if set(examples) != set(CASES):
        print("FAIL: examples in the document", sorted(examples), "cases here", sorted(CASES))
        failed += 1
    with tempfile.TemporaryDirectory() as tmp:
        for name, script in sorted(examples.items()):
            path = os.path.join(tmp, name + ".sieve")
            with open(path, "w", encoding="utf-8") as f:
                f.write(script)
            p = subprocess.run([RELAYDESK, "rules", "check", path], capture_output=True, text=True)
            if p.returncode != 0 or p.stdout != f"{path}: ok\n":
                print(f"FAIL {name}: rules check: {p.stdout}{p.stderr}")
                failed += 1
                continue
            for i, (msg, args, want) in enumerate(CASES.get(name, [])):
                mpath = os.path.join(tmp, f"{name}-{i}.eml")
                with open(mpath, "w", encoding="utf-8", newline="") as f:
                    f.write(msg)
                cmd = [RELAYDESK, "rules", "test", "--script", path, "--message", mpath,
                       "--from", "alice@example.com", "--to", "support@example.org"] + args
                p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
                lines = [l.rstrip() for l in p.stdout.splitlines() if l.strip()]
                ok = want(lines) if callable(want) else lines == want
                if not ok or p.returncode != 0:
                    print(f"FAIL {name} case {i}: got {lines} {p.stderr.strip()}")
                    failed += 1
                else:
                    print(f"ok   {name} case {i}: {lines}")
    sys.exit(1 if failed else 0)


main()
