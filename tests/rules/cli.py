#!/usr/bin/python3
"""`relaydesk rules check` and `rules test` as a rule author sees them."""
import os
import subprocess
import sys
import tempfile

RELAYDESK = os.environ["RELAYDESK"]
failed = 0


def check(cond, what):
    global failed
    print(("ok:   " if cond else "FAIL: ") + what)
    if not cond:
        failed += 1


with tempfile.TemporaryDirectory() as tmp:
    bad = os.path.join(tmp, "bad.sieve")
    with open(bad, "w") as f:
        f.write('require "fileinto";\nfileinto "a";\nfrobnicate;\nif header :is "subject" { keep; }\n'
                'if true { stop; keep; }\n')
    good = os.path.join(tmp, "good.sieve")
    with open(good, "w") as f:
        f.write('require "fileinto";\nif true { stop; keep; }\n')
    p = subprocess.run([RELAYDESK, "rules", "check", bad, good], capture_output=True, text=True)
    out = p.stdout.splitlines()
    print(p.stdout)
    check(p.returncode == 1, "check: exit 1 on an error")
    check(f"{bad}:3:1: error: unknown command 'frobnicate'" in out, "check: FILE:LINE:COL: error: text")
    check(any(l.startswith(f"{bad}:4:4: error: header: missing argument") for l in out),
          "check: every error, not just the first")
    check(any(l.startswith(f"{good}:2:17: warning:") for l in out), "check: warnings likewise")
    check(f"{bad}: ok" not in out and f"{good}: ok" in out, "check: FILE: ok for a script that compiles")
    p = subprocess.run([RELAYDESK, "rules", "check", good], capture_output=True, text=True)
    check(p.returncode == 0, "check: exit 0 with warnings only")
    clean = os.path.join(tmp, "clean.sieve")
    with open(clean, "w") as f:
        f.write('require "fileinto";\nfileinto "Billing";\n')
    p = subprocess.run([RELAYDESK, "rules", "check", clean], capture_output=True, text=True)
    check(p.returncode == 0 and p.stdout == f"{clean}: ok\n", "check: only FILE: ok for a clean script")
    word = os.path.join(tmp, "word.sieve")
    with open(word, "w") as f:
        f.write('require "fileinto";\nfileinto Billing;\n')
    p = subprocess.run([RELAYDESK, "rules", "check", word], capture_output=True, text=True)
    check(p.returncode == 1 and p.stdout == f'{word}:2:10: error: fileinto: a string is expected, not the bare '
          f'word Billing; did you mean "Billing"?\n', "check: a bare word: a string is expected, with the suggestion")
    ext = os.path.join(tmp, "ext.sieve")
    with open(ext, "w") as f:
        f.write('require ["fileinto", "mailbox"];\n')
    p = subprocess.run([RELAYDESK, "rules", "check", ext], capture_output=True, text=True)
    check(p.returncode == 1 and 'unsupported extension "mailbox" (supported: body, ' in p.stdout
          and "fileinto" in p.stdout and "vnd.relaydesk.ticket)" in p.stdout,
          "check: an unknown extension names the supported ones")
    syn = os.path.join(tmp, "syntax.sieve")
    with open(syn, "w") as f:
        f.write('keep;\nif true {\n  discard\n}\n')
    p = subprocess.run([RELAYDESK, "rules", "check", syn], capture_output=True, text=True)
    check(p.returncode == 1 and p.stdout.startswith(f"{syn}:4:1: error: syntax error"), "check: syntax error position")

    msg = os.path.join(tmp, "m.eml")
    with open(msg, "w", newline="") as f:
        f.write("From: a@b.example\r\nTo: support@example.org\r\nSubject: hi\r\n\r\nbody\r\n")
    p = subprocess.run([RELAYDESK, "rules", "test", "--script", bad, "--message", msg], capture_output=True, text=True)
    check(p.stdout == "error: compile\n" and p.returncode == 0, "test: error: compile")
    t = os.path.join(tmp, "t.sieve")
    with open(t, "w") as f:
        f.write('require ["vnd.relaydesk.ticket", "variables"];\n'
                'ticket :assign "Jane Doe" :tags ["a b", "c"];\n'
                'if followup { ticket :status "open"; }\n')
    p = subprocess.run([RELAYDESK, "rules", "test", "--script", t, "--message", msg, "--from", "<>",
                        "--to", "support@example.org", "--followup"], capture_output=True, text=True)
    check(p.stdout == 'keep\nticket assign="Jane Doe" status=open tags=["a b" c]\n', "test: the ticket line")
    p = subprocess.run([RELAYDESK, "rules", "test", "--script", t], capture_output=True, text=True)
    check(p.returncode == 64, "test: usage error without --message")
sys.exit(1 if failed else 0)
