#!/usr/bin/python3
"""Free-text and RFC 3464 bounces (tests/parser/bounces/, real samples
with attribution in its README.md): `relaydesk parse --json` must give
the failed recipients with their status codes and find the original
Message-ID as expected.tsv says, and nothing for the messages that are
not bounces."""

import json
import os
import subprocess
import sys

RELAYDESK = os.environ["RELAYDESK"]
HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bounces")


def failed(dsn):
    return ",".join("%s/%s" % (r["addr"], r.get("status") or "-") for r in dsn["recipients"]
                    if r.get("addr") and (r.get("action") == "failed" or (r.get("status") or "").startswith("5"))) or "-"


def main():
    rows = [l.rstrip("\n").split("\t") for l in open(os.path.join(HERE, "expected.tsv"), encoding="utf-8")
            if l.strip() and not l.startswith("#")]
    assert len(rows) >= 20, rows
    bad = 0
    for name, want, want_mid in rows:
        p = subprocess.run([RELAYDESK, "parse", "--json", os.path.join(HERE, name)], stdout=subprocess.PIPE,
                           timeout=60, check=True)
        dsn = json.loads(p.stdout)["dsn"]
        got, got_mid = failed(dsn), "yes" if dsn.get("original_message_id") else "no"
        if (got, got_mid) != (want, want_mid):
            print("MISMATCH %s: recipients %s (want %s), message-id %s (want %s)" % (name, got, want, got_mid, want_mid))
            bad += 1
    print("%d samples, %d mismatches" % (len(rows), bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
