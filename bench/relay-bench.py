#!/usr/bin/python3
"""Outbox throughput toward a real relay: messages/s of `relaydesk queue
flush` over ONE connection (libcurl connection reuse, the default) versus
ONE CONNECTION PER MESSAGE (reuse_connection = false), against a private
Postfix instance on loopback (implicit TLS on its smtps port and STARTTLS
on its smtp port). Each message is committed 'sending' before and 'sent'
after the relay's 250 (two durable SQLite commits per message), as in
production. Runs are interleaved; medians of --runs.

usage: RELAYDESK=build/app/relaydesk bench/relay-bench.py [--messages N] [--runs R] [--size BYTES]
"""
import argparse
import os
import shutil
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
from relay_peers import Postfix, Relaydesk  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=200)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--size", type=int, default=4096)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="rd-relay-bench-")
    os.chmod(tmp, 0o755)
    pf = Postfix(tmp)
    body = ("x" * 76 + "\r\n") * max(1, a.size // 78)
    raw = ("From: support@desk.example\r\nTo: <bench@relay.test>\r\nSubject: bench\r\n"
           "Message-ID: <bench@desk.example>\r\n\r\n" + body).encode()
    modes = [("smtps", "reuse"), ("smtps", "per-message"), ("starttls", "reuse"), ("starttls", "per-message")]
    res = {m: [] for m in modes}
    conns = {}
    try:
        for run in range(a.runs):
            for tls, reuse in modes:
                url = ("smtps://localhost:%d" % pf.tls_port) if tls == "smtps" else ("smtp://localhost:%d" % pf.port)
                rd = Relaydesk(tmp, "b-%d-%s-%s" % (run, tls, reuse),
                               "[relay]\nrate_per_minute = 0\nreuse_connection = %s\n"
                               % ("true" if reuse == "reuse" else "false"))
                rd.inject(raw, "bench@relay.test", copies=a.messages)
                out = rd.run("queue", "flush", "--relay", url, "--relay-ca", pf.ca).stdout.decode()
                kv = dict(x.split("=") for x in out.split())
                assert int(kv["sent"]) == a.messages, out
                res[(tls, reuse)].append(a.messages / float(kv["seconds"]))
                conns[(tls, reuse)] = int(kv["connections"])
                shutil.rmtree(rd.dir, ignore_errors=True)
        print("relay: Postfix %s on loopback; %d messages of %d bytes per run; median of %d runs"
              % ("3.7", a.messages, len(raw), a.runs))
        for tls in ("smtps", "starttls"):
            r = statistics.median(res[(tls, "reuse")])
            p = statistics.median(res[(tls, "per-message")])
            print("%-9s one connection: %7.1f msg/s (%d connections)   one per message: %7.1f msg/s (%d connections)"
                  "   ratio %.2fx" % (tls, r, conns[(tls, "reuse")], p, conns[(tls, "per-message")], r / p))
            print("          runs: reuse %s  per-message %s" % (["%.1f" % x for x in res[(tls, "reuse")]],
                                                                  ["%.1f" % x for x in res[(tls, "per-message")]]))
    finally:
        pf.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
