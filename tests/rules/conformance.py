#!/usr/bin/python3
"""Runs every Sieve conformance case of RD_SHARED_DIR/conformance/sieve
through `relaydesk rules test` and compares with `expected` as the cases'
README says (trailing white space removed per line, empty lines dropped).

The cases are read from the shared folder at test time, never copied
(six of them are LGPL-2.1, adapted from Dovecot Pigeonhole)."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sieve_cases import norm, read_envelope  # noqa: E402

shared = os.environ.get("RD_SHARED_DIR", "")
root = os.path.join(shared, "conformance", "sieve")
if not shared or not os.path.isdir(root):
    print(f"SKIP: conformance cases not found at {root!r} (set RD_SHARED_DIR)")
    sys.exit(77)
relaydesk = os.environ["RELAYDESK"]


cases = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
failed = []
for case in cases:
    d = os.path.join(root, case)
    env = read_envelope(d)
    cmd = [relaydesk, "rules", "test", "--reference",
           "--script", os.path.join(d, "script.sieve"),
           "--message", os.path.join(d, "message.eml"),
           "--from", env.get("from", "<>"), "--to", env.get("to", "")]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    with open(os.path.join(d, "expected"), encoding="utf-8") as f:
        expected = norm(f.read())
    got = norm(p.stdout)
    if p.returncode != 0 or got != expected:
        failed.append(case)
        print(f"FAIL {case} (exit {p.returncode})")
        print("  expected:", expected)
        print("  got:     ", got)
        if p.stderr:
            print("  stderr:  ", p.stderr.strip())
    else:
        print(f"ok   {case}")
print(f"{len(cases) - len(failed)}/{len(cases)} cases pass")
sys.exit(1 if failed else 0)
