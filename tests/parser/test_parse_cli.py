#!/usr/bin/python3
"""`relaydesk parse [--json] FILE...`: JSON lines, text output, stdin,
and the exit codes for unreadable files and non-messages."""

import json
import os
import subprocess
import sys
import tempfile

RELAYDESK = os.environ["RELAYDESK"]

MSG1 = (b"From: \"Doe, Jane\" <jane@example.org>\nTo: team: a@example.org, b@example.org;\n"
        b"Subject: =?utf-8?q?caf=C3=A9?=\nDate: Mon, 1 Jan 2024 10:00:00 +0100\n"
        b"Message-ID: <m1@example.org>\nAuto-Submitted: auto-replied\n\n"
        b"Thanks!\n\nOn Sun, Dec 31, 2023 at 9:00 AM Bob <b@example.org> wrote:\n> hi\n")
MSG2 = b"Subject: second\n\nbody\n"


def run(args, stdin=None):
    return subprocess.run([RELAYDESK, "parse"] + args, input=stdin, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=60)


def main():
    with tempfile.TemporaryDirectory() as d:
        f1, f2, empty = (os.path.join(d, n) for n in ("1.eml", "2.eml", "empty.eml"))
        open(f1, "wb").write(MSG1)
        open(f2, "wb").write(MSG2)
        open(empty, "wb").close()

        p = run(["--json", f1, f2])
        assert p.returncode == 0, p
        lines = p.stdout.decode().splitlines()
        assert len(lines) == 2, lines
        a, b = (json.loads(x) for x in lines)
        assert a["file"] == f1 and b["file"] == f2
        assert a["subject"] == "café"
        assert a["from"] == [{"name": "Doe, Jane", "addr": "jane@example.org"}]
        assert [x["addr"] for x in a["to"]] == ["a@example.org", "b@example.org"]
        assert a["date"] == "2024-01-01T09:00:00Z"
        assert a["message_id"] == "m1@example.org"
        assert a["auto_submitted"] == "auto-replied" and a["is_automated"] is True
        assert a["text_new"] == "Thanks!\n\n" and a["text_quoted"].startswith("On Sun")
        assert a["text_new"] + a["text_quoted"] == a["text_body"]
        for k in ("message_id", "in_reply_to", "references", "from", "to", "cc", "reply_to", "date",
                  "subject", "body_source", "text_body", "attachments", "auto_submitted", "list_id",
                  "precedence", "is_bounce"):
            assert k in b, k

        p = run([f1])
        out = p.stdout.decode()
        assert p.returncode == 0 and "Subject:    café" in out and "Thanks!" in out, out

        p = run(["--json", "-"], stdin=MSG2)
        assert p.returncode == 0 and json.loads(p.stdout)["subject"] == "second"

        p = run(["--json", empty, f2])
        assert p.returncode == 65, p
        lines = p.stdout.decode().splitlines()
        assert json.loads(lines[0])["error"] and json.loads(lines[1])["subject"] == "second"

        p = run([os.path.join(d, "missing.eml")])
        assert p.returncode == 66, p
        p = run([])
        assert p.returncode == 64, p
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
