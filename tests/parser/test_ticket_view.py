#!/usr/bin/python3
"""The ticket path uses the parser's view: a message delivered with
`relaydesk deliver` becomes a ticket whose message shows the decoded body
(here: HTML-only, quoted-printable, windows-1252, rendered to text) and
lists its attachments (name decoded from RFC 2231, size and sha256 of the
decoded bytes, an attached message with its subject)."""

import hashlib
import json
import os
import subprocess
import sys
import tempfile

RELAYDESK = os.environ["RELAYDESK"]

MESSAGE = (
    b"From: =?utf-8?q?Zo=C3=AB?= <zoe@example.org>\r\n"
    b"To: help@example.com\r\n"
    b"Subject: =?iso-8859-1?q?Probl=E8me?= with invoice\r\n"
    b"Message-ID: <view-test-1@example.org>\r\n"
    b"Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
    b"\r\n"
    b"--b1\r\n"
    b"Content-Type: text/html; charset=windows-1252\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n"
    b"\r\n"
    b"<html><head><style>p{}</style></head><body><p>The invoice =93A-17=94 is wrong.</p>"
    b"<p>See <a href=3D\"http://x.example\">the portal</a>.</p><script>x()</script></body></html>\r\n"
    b"--b1\r\n"
    b"Content-Type: application/pdf\r\n"
    b"Content-Disposition: attachment; filename*=utf-8''facture%20%C3%A9t%C3%A9.pdf\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n"
    b"JVBERi0xLjQKJcOkw7zDtsOfCg==\r\n"
    b"--b1\r\n"
    b"Content-Type: message/rfc822\r\n"
    b"\r\n"
    b"Subject: the original\r\nFrom: a@b\r\n\r\nold text\r\n"
    b"--b1--\r\n")


def main():
    with tempfile.TemporaryDirectory() as data:
        p = subprocess.run([RELAYDESK, "deliver", "--data-dir", data, "--from", "zoe@example.org", "help@example.com"], input=MESSAGE,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        if p.returncode != 0:
            print("deliver failed:", p.returncode, p.stderr.decode())
            return 1
        p = subprocess.run([RELAYDESK, "tickets", "show", "--data-dir", data, "--json", "1"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        if p.returncode != 0:
            print("tickets show failed:", p.returncode, p.stderr.decode())
            return 1
        t = json.loads(p.stdout)
        assert t["subject"] == "Problème with invoice", t["subject"]
        assert t["requester"]["name"] == "Zoë", t["requester"]
        m = t["messages"][0]
        assert m["body_text"] == "The invoice \u201cA-17\u201d is wrong.\n\nSee the portal.", repr(m["body_text"])
        atts = m["attachments"]
        assert len(atts) == 2, atts
        pdf = b"%PDF-1.4\n%\xc3\xa4\xc3\xbc\xc3\xb6\xc3\x9f\n"
        assert atts[0]["filename"] == "facture été.pdf", atts[0]
        assert atts[0]["content_type"] == "application/pdf"
        assert atts[0]["size"] == len(pdf), atts[0]
        assert atts[0]["sha256"] == hashlib.sha256(pdf).hexdigest()
        assert atts[1]["content_type"] == "message/rfc822", atts[1]
        assert b"Subject: the original" in subprocess.run(
            [RELAYDESK, "tickets", "attachment", "get", "--data-dir", data, str(atts[1]["id"])],
            stdout=subprocess.PIPE, timeout=60).stdout
        p = subprocess.run([RELAYDESK, "tickets", "show", "--data-dir", data, "1"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        text = p.stdout.decode()
        assert "Attachment %d: facture été.pdf (application/pdf, %d bytes)" % (atts[0]["id"], len(pdf)) in text, text
        assert "Attachment %d: " % atts[1]["id"] in text and "(message/rfc822, " in text, text
        assert "The invoice \u201cA-17\u201d is wrong." in text, text
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
