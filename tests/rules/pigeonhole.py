#!/usr/bin/python3
"""Differential test: every Sieve case runs through relaydesk and through
Dovecot Pigeonhole's sieve-test (Debian dovecot-sieve), and the two action
lists must agree.

Cases: RD_SHARED_DIR/conformance/sieve (read there, never copied: six are
LGPL-2.1) and tests/rules/cases (ours, MIT, written from the RFCs). A case
is a folder with script.sieve, message.eml, envelope and expected, as
described in the shared cases' README.md. Our cases' `expected` is what
the RFC says; relaydesk must produce it too.

Where relaydesk deliberately differs from Pigeonhole (the RFC wins),
tests/rules/pigeonhole-differences lists the case with its reason; the
same list is in docs/rules.md ("Differences from Pigeonhole"). The test
fails on a difference that is not listed, on a listed case that agrees
(a stale entry), and on a listed case missing from docs/rules.md.

sieve-test cannot be given the null sender (its -f wants a mailbox), so a
case whose envelope says `from: <>` is only checked against `expected`.

  pigeonhole.py [--cases DIR]... [--show CASE] [--no-shared]
Exit 77 (skip) when sieve-test is not installed."""
import argparse
import email.header
import email.parser
import email.policy
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sieve_cases import norm, read_envelope  # noqa: E402

EXTENSIONS = ("fileinto reject envelope encoded-character vacation subaddress "
              "comparator-i;ascii-numeric relational regex imap4flags copy body "
              "variables date")
ORDER = ["error:", "keep", "fileinto", "redirect", "reject", "vacation ",
         "vacation-suppressed", "discard"]

SUPPRESSED = [
    ("discarded vacation reply to <>", "null-sender"),
    ("discarded vacation reply to own address", "own-address"),
    ("discarding vacation response to mailinglist recipient", "mailing-list"),
    ("discarding vacation response to auto-submitted message", "auto-submitted"),
    ("discarding vacation response to precedence=", "precedence"),
    ("x-auto-response-suppress header", "auto-response-suppress"),
    ("not sending vacation response to system address", "system-address"),
    ("discarding vacation response for implicitly delivered message", "not-addressed"),
]


def jstr(s):
    return json.dumps(s, ensure_ascii=False)


def canonical(lines):
    def rank(l):
        for i, p in enumerate(ORDER):
            if l.startswith(p):
                return i
        return len(ORDER)
    out = []
    for l in lines:
        if l not in out:
            out.append(l)
    return sorted(out, key=lambda l: (rank(l), l.encode()))


class Pigeonhole:
    """sieve-test with a private configuration: no dovecot service, a
    throw-away Maildir per run, privileges dropped to nobody."""

    def __init__(self, exe):
        self.exe = exe
        self.tmp = tempfile.mkdtemp(prefix="rd-pigeonhole-")
        os.chmod(self.tmp, 0o777)
        uid = 65534 if os.getuid() == 0 else os.getuid()
        gid = 65534 if os.getuid() == 0 else os.getgid()
        self.conf = os.path.join(self.tmp, "dovecot.conf")
        with open(self.conf, "w") as f:
            f.write(f"base_dir = {self.tmp}/run\nstate_dir = {self.tmp}/state\n"
                    f"mail_uid = {uid}\nmail_gid = {gid}\n"
                    f"mail_home = {self.tmp}/home\n"
                    f"mail_location = maildir:{self.tmp}/home/Maildir:LAYOUT=fs\n"
                    "ssl = no\nrecipient_delimiter = +\n"
                    "postmaster_address = postmaster@example.invalid\n")
        for sub in ("run", "state"):
            os.makedirs(os.path.join(self.tmp, sub))
            os.chmod(os.path.join(self.tmp, sub), 0o777)

    def close(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def _prepare(self, d, folders=()):
        home = os.path.join(self.tmp, "home")
        shutil.rmtree(home, ignore_errors=True)
        for f in ("",) + tuple(x for x in folders if ".." not in x.split("/")):
            for s in ("cur", "new", "tmp"):
                os.makedirs(os.path.join(home, "Maildir", f, s), exist_ok=True)
        for root, dirs, files in os.walk(home):
            for x in dirs:
                os.chmod(os.path.join(root, x), 0o777)
        os.chmod(home, 0o777)
        script = os.path.join(self.tmp, "script.sieve")
        shutil.copyfile(os.path.join(d, "script.sieve"), script)
        msg = os.path.join(self.tmp, "message.eml")
        shutil.copyfile(os.path.join(d, "message.eml"), msg)
        for p in (script, msg):
            os.chmod(p, 0o644)
        svbin = os.path.join(self.tmp, "script.svbin")
        if os.path.exists(svbin):
            os.unlink(svbin)
        return script, msg

    def _run(self, d, env, execute, folders=()):
        script, msg = self._prepare(d, folders)
        cmd = [self.exe, "-c", self.conf, "-C", "-x", EXTENSIONS,
               "-f", env.get("from", ""), "-a", env.get("to", ""),
               "-r", env.get("to", "")]
        if execute:
            cmd.append("-e")
        cmd += [script, msg]
        return subprocess.run(cmd, capture_output=True, timeout=30,
                              env=dict(os.environ, TZ="UTC"), cwd=self.tmp)

    def actions(self, d):
        env = read_envelope(d)
        p = self._run(d, env, False)
        out = p.stdout.decode("utf-8", "replace")
        err = p.stderr.decode("utf-8", "replace")
        if "failed to compile" in err or p.returncode == 89:
            return ["error: compile"], out + err
        lines = []
        if "final result: failed" in err or "final result: failed" in out:
            lines.append("error: runtime")
            lines.append("keep")
            return canonical(lines), out + err
        stores = []  # [name, flags]
        vacation = None
        cur = None
        for raw in out.split("\n"):
            l = raw.rstrip("\r")
            m = re.match(r"^ \* store message in folder: (.*)$", l)
            if m:
                cur = [m.group(1), []]
                stores.append(cur)
                continue
            m = re.match(r"^\s+\+ (?:add|set) IMAP flags: (.*)$", l)
            if m and cur is not None:
                cur[1] += m.group(1).split()
                continue
            cur = None
            m = re.match(r"^ \* redirect message to: <(.*)>$", l)
            if m:
                addr = m.group(1)
                at = addr.rfind("@")
                lines.append("redirect " + jstr(addr[:at] + addr[at:].lower()))
                continue
            m = re.match(r"^ \* reject message with reason: (.*)$", l)
            if m:
                lines.append(("reject", m.group(1)))
                continue
            if l.startswith(" * send vacation message"):
                vacation = {}
                continue
        # The reason as sent (the dry run prints line ends as "??").
        fixed = []
        for l in lines:
            if isinstance(l, tuple):
                p = self._run(d, env, True, [n for n, _ in stores if n.upper() != "INBOX"])
                sent = p.stdout.decode("utf-8", "replace")
                m = re.search(r"was automatically rejected:\r?\n(.*?)\r?\n--", sent, re.S)
                reason = m.group(1) if m else l[1]
                fixed.append("reject " + jstr(reason.replace("\r\n", "\n").rstrip()))
            else:
                fixed.append(l)
        lines = fixed
        for name, flags in stores:
            fl = sorted(set(f.lower() for f in flags), key=lambda s: s.encode())
            suffix = f" flags=[{' '.join(fl)}]" if fl else ""
            if name.upper() == "INBOX":
                lines.append("keep" + suffix)
            else:
                lines.append("fileinto " + jstr(name) + suffix)
        if vacation is not None:
            lines += self._vacation(d, env, out, [n for n, _ in stores if n.upper() != "INBOX"])
        if not any(l.split(" ")[0] in ("keep", "fileinto", "redirect", "reject") for l in lines):
            lines.append("discard")
        return canonical(lines), out + err

    def _vacation(self, d, env, dry, folders):
        m = re.search(r"START MESSAGE\n(.*?)\nEND MESSAGE", dry, re.S)
        reason = m.group(1) if m else ""
        reason = reason.replace("\r\n", "\n").rstrip()
        mime = bool(re.search(r"handle\s*:.*<MIME>", dry))
        p = self._run(d, env, True, folders)
        out = p.stdout.decode("utf-8", "replace")
        err = p.stderr.decode("utf-8", "replace")
        for needle, cls in SUPPRESSED:
            if needle in err:
                return [f"vacation-suppressed reason={cls}"]
        # The reply: the block whose Auto-Submitted says vacation.
        for m in re.finditer(r"X-Sieve: [^\n]*\n(.*?)\n\n", out, re.S):
            hdr = m.group(1)
            if "auto-replied (vacation)" not in hdr:
                continue
            msg = email.parser.Parser(policy=email.policy.compat32).parsestr(hdr + "\n\n", headersonly=True)
            subj = str(email.header.make_header(email.header.decode_header(msg.get("Subject", ""))))
            def addr(v):
                v = v or ""
                m = re.search(r"<([^>]*)>", v)
                return m.group(1) if m else v.strip()
            line = (f"vacation to=<{addr(msg.get('To'))}> from=<{addr(msg.get('From'))}> "
                    f"subject={jstr(subj)} reason-sha1={hashlib.sha1(reason.encode()).hexdigest()}")
            return [line + (" mime" if mime else "")]
        return ["vacation-suppressed reason=unknown"]


def relaydesk_actions(relaydesk, d):
    env = read_envelope(d)
    cmd = [relaydesk, "rules", "test", "--script", os.path.join(d, "script.sieve"),
           "--message", os.path.join(d, "message.eml"),
           "--from", env.get("from", "<>"), "--to", env.get("to", "")]
    if not os.path.exists(os.path.join(d, "all-extensions")):
        cmd.insert(3, "--reference")
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=30,
                       env=dict(os.environ, TZ="UTC"))
    return norm(p.stdout), p.returncode, p.stderr


def read_differences(path):
    diffs = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            case, reason = line.split(":", 1)
            diffs[case.strip()] = reason.strip()
    return diffs


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", action="append", default=[])
    ap.add_argument("--no-shared", action="store_true")
    ap.add_argument("--differences", default=os.path.join(here, "pigeonhole-differences"))
    ap.add_argument("--docs", default=os.path.join(os.environ.get("RD_SOURCE_ROOT", os.path.join(here, "..", "..")), "docs", "rules.md"))
    ap.add_argument("--show", help="print both engines' raw output for this case")
    ap.add_argument("--relaydesk", default=os.environ.get("RELAYDESK"))
    args = ap.parse_args()

    exe = shutil.which("sieve-test")
    if exe is None:
        print("SKIP: sieve-test not installed (Debian dovecot-sieve)")
        return 77
    roots = list(args.cases)
    if not roots:
        roots.append(os.path.join(here, "cases"))
        shared = os.environ.get("RD_SHARED_DIR", "")
        if shared and not args.no_shared and os.path.isdir(os.path.join(shared, "conformance", "sieve")):
            roots.insert(0, os.path.join(shared, "conformance", "sieve"))
    cases = []
    for r in roots:
        cases += sorted(os.path.join(r, c) for c in os.listdir(r)
                        if os.path.isfile(os.path.join(r, c, "script.sieve")))
    diffs = read_differences(args.differences)
    with open(args.docs, encoding="utf-8") as f:
        docs = f.read()
    ph = Pigeonhole(exe)
    problems = []
    agree = total = 0
    try:
        for d in cases:
            name = os.path.basename(d)
            if args.show and args.show != name:
                continue
            rd, rc, rerr = relaydesk_actions(args.relaydesk, d)
            with open(os.path.join(d, "expected"), encoding="utf-8") as f:
                expected = norm(f.read())
            if rc != 0 or rd != expected:
                problems.append(name)
                print(f"FAIL {name}: relaydesk differs from expected (exit {rc})")
                print("  expected: ", expected)
                print("  relaydesk:", rd)
                if rerr.strip():
                    print("  stderr:   ", rerr.strip())
            if read_envelope(d).get("from") == "<>":
                print(f"--   {name}: null sender, not run on Pigeonhole")
                continue
            total += 1
            ph_lines, raw = ph.actions(d)
            if args.show:
                print(raw)
            same = ph_lines == rd
            agree += same
            if name in diffs:
                if same:
                    problems.append(name)
                    print(f"FAIL {name}: listed in {os.path.basename(args.differences)} but both agree")
                elif name not in docs:
                    problems.append(name)
                    print(f"FAIL {name}: listed difference missing from docs/rules.md")
                else:
                    print(f"diff {name}: {diffs[name]}")
            elif not same:
                problems.append(name)
                print(f"FAIL {name}: Pigeonhole and relaydesk differ")
                print("  pigeonhole:", ph_lines)
                print("  relaydesk: ", rd)
            else:
                print(f"ok   {name}")
    finally:
        ph.close()
    print(f"agreement with Pigeonhole: {agree}/{total} cases; "
          f"{len(set(diffs) & set(os.path.basename(c) for c in cases))} listed differences; "
          f"{len(set(problems))} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
