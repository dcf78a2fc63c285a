"""What the Sieve case drivers share (conformance.py, pigeonhole.py): a
case folder's envelope and the comparison of action lists as the cases'
README says (trailing white space removed per line, empty lines
dropped)."""
import os


def norm(text):
    return [l.rstrip() for l in text.splitlines() if l.strip()]


def read_envelope(d):
    env = {}
    with open(os.path.join(d, "envelope"), encoding="utf-8") as f:
        for line in f:
            if ":" in line:
                k, v = line.split(":", 1)
                env[k.strip()] = v.strip()
    return env
