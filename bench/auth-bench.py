#!/usr/bin/python3
"""Sender authentication cost per message (µs): SPF + DKIM + DMARC with
their DNS lookups against a loopback DNS server (tests/integration/rddns.py),
for unsigned, RSA-2048-signed and Ed25519-signed messages, with the DNS
cache (the default) and without it (every lookup a round trip), beside
the cost of parsing the same message (the peer, measured in the same run).
Medians of --rounds. Use a release build:
  meson setup build-rel --buildtype=release && ninja -C build-rel
  BUILD=build-rel bench/auth-bench.py [--rounds N]
"""
import argparse
import base64
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
from rddns import DnsServer  # noqa: E402
import dkim  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=500)
    a = ap.parse_args()
    build = os.environ.get("BUILD", os.path.join(HERE, "..", "build-rel"))
    rd = os.path.join(build, "app", "relaydesk")
    tmp = tempfile.mkdtemp(prefix="rd-auth-bench-")
    recs = {}
    for kind, sel in (("rsa", "s1"), ("ed25519", "e1")):
        out = subprocess.run([rd, "dkim", "keygen", "--type", kind, "--selector", sel, "--domain", "example.org",
                              "--key-file", os.path.join(tmp, kind + ".pem"), "--data-dir", tmp],
                             capture_output=True, check=True).stdout.decode()
        line = [l for l in out.splitlines() if "._domainkey." in l][0]
        recs[sel] = "".join(line.split('"')[1::2])
    dns = DnsServer({"example.org": [("TXT", "v=spf1 ip4:192.0.2.10 -all")],
                     "_dmarc.example.org": [("TXT", "v=DMARC1; p=reject")],
                     "s1._domainkey.example.org": [("TXT", recs["s1"])],
                     "e1._domainkey.example.org": [("TXT", recs["e1"])]}).start()
    body = "".join("Line %d of a support request about a broken printer.\r\n" % i for i in range(60))
    msg = ("From: Alice <alice@example.org>\r\nTo: support@desk.test\r\nSubject: printer\r\n"
           "Message-ID: <b1@example.org>\r\nDate: Mon, 01 Jan 2024 10:00:00 +0000\r\n\r\n" + body).encode()
    rsa = open(os.path.join(tmp, "rsa.pem"), "rb").read()
    ed = serialization.load_pem_private_key(open(os.path.join(tmp, "ed25519.pem"), "rb").read(), None)
    seed = base64.b64encode(ed.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                             serialization.NoEncryption()))
    files = {"unsigned.eml": msg,
             "rsa2048.eml": dkim.sign(msg, b"s1", b"example.org", rsa) + msg,
             "ed25519.eml": dkim.sign(msg, b"e1", b"example.org", seed, signature_algorithm=b"ed25519-sha256") + msg}
    paths = []
    for name, data in files.items():
        p = os.path.join(tmp, name)
        open(p, "wb").write(data)
        paths.append(p)
    subprocess.run([os.path.join(build, "bench", "auth-bench"), dns.address(), str(a.rounds), "192.0.2.10",
                    "alice@example.org", *paths], check=True)
    dns.stop()


if __name__ == "__main__":
    main()
