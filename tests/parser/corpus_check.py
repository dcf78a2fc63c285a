#!/usr/bin/python3
"""Reference check: `relaydesk parse --json` over the shared corpus,
compared with corpus/expected/ by the rules of corpus/README.md.

Prints agreement per field and per category, writes a report of every
disagreement (--report FILE), and fails (exit 1) when agreement over the
contract fields drops below the target (--target, default 0.99), counted
over messages whose reference has no error. Disagreements listed in
tests/parser/corpus-disagreements.tsv (file, field, cause) are explained
ones: still counted against the target, but reported as known; any other
disagreement is printed as NEW.

Exit 77 (skip) when the corpus is absent (RD_SHARED_DIR/corpus).
"""

import argparse
import difflib
import json
import os
import re
import subprocess
import sys
import unicodedata

FIELDS = ["message_id", "in_reply_to", "references", "from", "to", "cc", "reply_to",
          "date", "subject", "body_source", "text_body", "attachments",
          "auto_submitted", "list_id", "precedence", "is_bounce"]
ADDR_FIELDS = ("from", "to", "cc", "reply_to")
FFFD = "\ufffd"


def nfc(s):
    return None if s is None else unicodedata.normalize("NFC", s)


def ws(s):
    return None if s is None else re.sub(r"\s+", " ", s).strip()


def normalise_text(s):
    s = s.replace("\r\n", "\n").replace("\r", "\n")
    s = "\n".join(line.rstrip(" \t\f\v") for line in s.split("\n"))
    return s.rstrip("\n")


def has_fffd(v):
    return FFFD in json.dumps(v, ensure_ascii=False)


def compare(field, exp, got):
    """Returns (ok, note): note is 'whitespace' for a whitespace-only
    difference of subject/text, 'similar' for html ratio passes."""
    e, g = exp.get(field), got.get(field)
    if field in ("message_id", "in_reply_to", "references", "date", "body_source",
                 "list_id", "is_bounce"):
        return e == g, None
    if field in ("auto_submitted", "precedence"):
        n = lambda v: None if v is None else v.strip().lower()
        return n(e) == n(g), None
    if field in ADDR_FIELDS:
        if e is None or g is None or len(e) != len(g):
            return e == g, None
        for a, b in zip(e, g):
            if a["addr"] != b["addr"]:
                return False, None
            if ws(nfc(a["name"])) != ws(nfc(b["name"])):
                return False, None
        return True, None
    if field == "subject":
        if nfc(e) == nfc(g):
            return True, None
        if e is not None and g is not None and ws(nfc(e)) == ws(nfc(g)):
            return False, "whitespace"
        return False, None
    if field == "text_body":
        if e is None or g is None:
            return e == g, None
        gn = nfc(normalise_text(g))
        en = nfc(e)
        if exp.get("body_source") == "html":
            if ws(en) == ws(gn):
                return True, None
            r = difflib.SequenceMatcher(None, en.split(), gn.split(), autojunk=False).ratio()
            return r >= 0.9, ("similar %.2f" % r)
        if en == gn:
            return True, None
        if ws(en) == ws(gn):
            return False, "whitespace"
        return False, None
    if field == "attachments":
        if e is None or g is None or len(e) != len(g):
            return e == g, None
        for a, b in zip(e, g):
            if a["content_type"] != b["content_type"]:
                return False, None
            if nfc(a["filename"]) != nfc(b["filename"]):
                return False, None
            for k in ("size", "sha256"):
                if a[k] is not None and a[k] != b.get(k):
                    return False, None
        return True, None
    raise KeyError(field)


def category(name):
    parts = name.split("-")
    return parts[1] if len(parts) > 1 else "?"


def load_known(path):
    known = {}
    if path and os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            for line in f:
                if not line.strip() or line.startswith("#"):
                    continue
                cols = line.rstrip("\n").split("\t")
                if len(cols) >= 3:
                    known[(cols[0], cols[1])] = cols[2]
    return known


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--relaydesk", default=os.environ.get("RELAYDESK"))
    ap.add_argument("--corpus", default=os.path.join(os.environ.get("RD_SHARED_DIR", ""), "corpus"))
    ap.add_argument("--target", type=float, default=0.99)
    ap.add_argument("--report", help="write every disagreement here")
    ap.add_argument("--known", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                    "corpus-disagreements.tsv"))
    ap.add_argument("--verbose", "-v", action="store_true")
    args = ap.parse_args()

    msgdir = os.path.join(args.corpus, "messages")
    expdir = os.path.join(args.corpus, "expected")
    if not os.path.isdir(msgdir) or not os.path.isdir(expdir):
        print("SKIP: shared corpus not found at %s (set RD_SHARED_DIR or -Dshared_dir)" % args.corpus)
        return 77
    if not args.relaydesk:
        print("RELAYDESK not set")
        return 2
    files = sorted(f for f in os.listdir(msgdir) if f.endswith(".eml"))
    got = {}
    for i in range(0, len(files), 100):
        chunk = files[i:i + 100]
        p = subprocess.run([args.relaydesk, "parse", "--json"] + [os.path.join(msgdir, f) for f in chunk],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600)
        if p.returncode not in (0, 65):
            print("relaydesk parse failed (exit %d): %s" % (p.returncode, p.stderr.decode(errors="replace")[:2000]))
            return 1
        for line in p.stdout.decode("utf-8").splitlines():
            obj = json.loads(line)
            got[os.path.basename(obj["file"])] = obj
    known = load_known(args.known)

    per_field = {f: [0, 0] for f in FIELDS}
    per_cat = {}
    total = [0, 0]
    fffd = 0
    skipped_err = 0
    ws_only = 0
    lines = []
    new = 0
    for f in files:
        stem = f[:-4]
        with open(os.path.join(expdir, stem + ".json"), encoding="utf-8") as fh:
            exp = json.load(fh)
        g = got.get(f)
        cat = category(f)
        pc = per_cat.setdefault(cat, [0, 0, 0])
        if exp.get("error"):
            pc[2] += 1
        for field in FIELDS:
            if field in exp.get("errors", {}):
                skipped_err += 1
                continue
            if exp.get("error"):
                # Target counted over messages where the reference has no error.
                continue
            if g is None or "error" in g and "message_id" not in g:
                ok, note = False, "parse failed"
            else:
                ok, note = compare(field, exp, g)
            if not ok and has_fffd(exp.get(field)):
                fffd += 1
                lines.append("%s\t%s\tREFERENCE-FFFD\t%s" % (f, field, known.get((f, field), "")))
                continue
            per_field[field][1] += 1
            pc[1] += 1
            total[1] += 1
            if ok:
                per_field[field][0] += 1
                pc[0] += 1
                total[0] += 1
                continue
            if note == "whitespace":
                ws_only += 1
            cause = known.get((f, field))
            tag = "known" if cause else "NEW"
            if not cause:
                new += 1
            lines.append("%s\t%s\t%s\t%s%s" % (f, field, tag, cause or "", (" [" + note + "]") if note else ""))
            if args.verbose and not cause:
                print("--- %s %s %s" % (f, field, note or ""))
                print("  expected: %s" % json.dumps(exp.get(field), ensure_ascii=False)[:600])
                print("  got:      %s" % json.dumps(g.get(field) if g else None, ensure_ascii=False)[:600])

    print("%-16s %8s %8s %8s" % ("field", "agree", "total", "rate"))
    for field in FIELDS:
        a, t = per_field[field]
        print("%-16s %8d %8d %7.2f%%" % (field, a, t, 100.0 * a / t if t else 100.0))
    print()
    print("%-16s %8s %8s %8s %6s" % ("category", "agree", "total", "rate", "refErr"))
    for cat in sorted(per_cat):
        a, t, e = per_cat[cat]
        print("%-16s %8d %8d %7.2f%% %6d" % (cat, a, t, 100.0 * a / t if t else 100.0, e))
    rate = total[0] / total[1] if total[1] else 1.0
    print()
    print("messages: %d  contract fields compared: %d  agree: %d  rate: %.3f%%  (target %.1f%%)"
          % (len(files), total[1], total[0], 100 * rate, 100 * args.target))
    print("not counted: %d fields where the reference has U+FFFD (could not decode), "
          "%d fields the reference failed on" % (fffd, skipped_err))
    print("disagreements: %d (whitespace-only: %d, not explained in %s: %d)"
          % (total[1] - total[0], ws_only, os.path.basename(args.known), new))
    # Not a contract field: how many of the bounces give what desk/ needs
    # to fail the outbound message (docs/tickets.md "Bounces").
    bounces = [got.get(f) or {} for f in files if category(f) == "bounce"]

    def failed(obj):
        return [r for r in (obj.get("dsn") or {}).get("recipients", [])
                if r.get("addr") and (r.get("action") == "failed" or (r.get("status") or "").startswith("5"))]
    print("bounces: %d  with a failed recipient: %d  with the original Message-ID too: %d"
          % (len(bounces), sum(1 for b in bounces if failed(b)),
             sum(1 for b in bounces if failed(b) and (b.get("dsn") or {}).get("original_message_id"))))
    if args.report:
        with open(args.report, "w", encoding="utf-8") as fh:
            fh.write("# file\tfield\tstatus\tcause\n")
            fh.write("\n".join(lines) + "\n")
    for ln in lines:
        if "\tNEW\t" in ln:
            print("NEW: " + ln)
    listed = {(ln.split("\t")[0], ln.split("\t")[1]) for ln in lines}
    for key in sorted(set(known) - listed):
        print("STALE (agrees now, remove from %s): %s\t%s" % (os.path.basename(args.known), key[0], key[1]))
    if rate < args.target:
        print("FAIL: agreement %.3f%% below target %.1f%%" % (100 * rate, 100 * args.target))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
