#!/usr/bin/python3
"""The messages the desk composes (parser/mail-format.h's RdMailDraft), read
back with Python's email package, an independent parser:

- vacation :mime (RFC 5230 4.4): the reason is a whole MIME entity, its
  header included; the autoresponse carries it as its body, with
  Auto-Submitted, In-Reply-To/References and CRLF line ends;
- vacation with a non-ASCII :from name and subject: RFC 2047 words;
- reject (RFC 5429 2.1): a multipart/report MDN (RFC 8098) with the
  human part, message/disposition-notification and the original's
  header block."""
import email
import email.policy
import os
import sqlite3
import subprocess
import sys
import tempfile

RELAYDESK = os.environ["RELAYDESK"]

MIME_SCRIPT = '''require ["vacation"];
if address :is "from" "mime@example.com" {
  vacation :mime text:
Content-Type: multipart/alternative; boundary="alt"

--alt
Content-Type: text/plain; charset=utf-8

Away until Monday.
--alt
Content-Type: text/html; charset=utf-8

<p>Away until Monday.</p>
--alt--
.
;
} else {
  vacation :from "Zo\u00eb \u00dcber <support@example.org>" :subject "Re\u00e7u" "Merci.";
}
'''

REJECT_SCRIPT = 'require ["reject"];\nreject "Not here.";\n'


def message(sender, to, subject, mid):
    return (f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\n"
            f"Message-ID: <{mid}>\r\nReferences: <older@example.com>\r\n\r\nHello.\r\n").encode()


def check(cond, what):
    if not cond:
        print("FAIL:", what)
        sys.exit(1)
    print("ok:", what)


def crlf_only(raw):
    return b"\n" not in raw.replace(b"\r\n", b"") and b"\r" not in raw.replace(b"\r\n", b"")


with tempfile.TemporaryDirectory() as tmp:
    sd = os.path.join(tmp, "sieve")
    os.makedirs(sd)
    with open(os.path.join(sd, "support.sieve"), "w", encoding="utf-8") as f:
        f.write(MIME_SCRIPT)
    with open(os.path.join(sd, "reject.sieve"), "w") as f:
        f.write(REJECT_SCRIPT)
    data = os.path.join(tmp, "data")
    conf = os.path.join(tmp, "relaydesk.conf")
    with open(conf, "w") as f:
        f.write(f"[relaydesk]\ndata_dir = {data}\nhostname = desk.example.org\n"
                f"[rules]\nscript_dir = {sd}\n"
                f"scripts = support@example.org=support.sieve; no@example.org=reject.sieve\n")
    for sender, rcpt, subject, mid in (("mime@example.com", "support@example.org", "one", "m1@example.com"),
                                       ("zed@example.com", "support@example.org", "two", "m2@example.com"),
                                       ("carl@example.com", "no@example.org", "three", "m3@example.com")):
        p = subprocess.run([RELAYDESK, "deliver", "--config", conf, "--data-dir", data, "--from", sender, rcpt],
                           input=message(sender, rcpt, subject, mid), capture_output=True, timeout=30)
        if p.returncode != 0:
            print(p.stderr.decode())
        check(p.returncode == 0, f"deliver {subject}")
    db = sqlite3.connect(os.path.join(data, "relaydesk.db"))
    rows = db.execute("SELECT o.kind, o.raw, r.address FROM outbox o"
                      " JOIN outbox_recipients r ON r.outbox_id = o.id ORDER BY o.id").fetchall()
    db.close()
    by_rcpt = {r[2]: (r[0], bytes(r[1])) for r in rows}

    kind, raw = by_rcpt["mime@example.com"]
    m = email.message_from_bytes(raw, policy=email.policy.default)
    check(kind == "autoreply" and crlf_only(raw), "vacation :mime: an autoreply with CRLF line ends")
    check(m.get_content_type() == "multipart/alternative", "vacation :mime: the entity is the body")
    parts = [p.get_content_type() for p in m.iter_parts()]
    check(parts == ["text/plain", "text/html"], f"vacation :mime: its parts {parts}")
    check(m.get_body(("plain",)).get_content().strip() == "Away until Monday.", "vacation :mime: the text")
    check(m["Auto-Submitted"] == "auto-replied" and m["MIME-Version"] == "1.0", "vacation :mime: headers")
    check(m["In-Reply-To"] == "<m1@example.com>"
          and m["References"].split() == ["<older@example.com>", "<m1@example.com>"],
          "vacation :mime: In-Reply-To and References (RFC 5322 3.6.4)")

    kind, raw = by_rcpt["zed@example.com"]
    m = email.message_from_bytes(raw, policy=email.policy.default)
    check(m["From"].addresses[0].display_name == "Zo\u00eb \u00dcber"
          and m["From"].addresses[0].addr_spec == "support@example.org", "vacation: :from name kept, encoded")
    check(m["Subject"] == "Re\u00e7u" and raw.isascii() and m.get_content().strip() == "Merci.",
          "vacation: RFC 2047 subject, 7-bit on the wire")

    kind, raw = by_rcpt["carl@example.com"]
    m = email.message_from_bytes(raw, policy=email.policy.default)
    check(kind == "reject" and crlf_only(raw), "reject: an MDN with CRLF line ends")
    check(m.get_content_type() == "multipart/report"
          and m.get_param("report-type") == "disposition-notification", "reject: multipart/report")
    parts = list(m.iter_parts())
    check([p.get_content_type() for p in parts]
          == ["text/plain", "message/disposition-notification", "text/rfc822-headers"], "reject: three parts")
    check("Not here." in parts[0].get_content() and "<no@example.org>" in parts[0].get_content(),
          "reject: the reason in the human part")
    fields = parts[1].as_bytes().decode()
    check("Final-Recipient: rfc822; no@example.org" in fields
          and "Original-Message-ID: <m3@example.com>" in fields
          and "Disposition: automatic-action/MDN-sent-automatically; deleted" in fields,
          "reject: the MDN fields (RFC 8098 3)")
    check("Subject: three" in parts[2].as_bytes().decode() and "Hello." not in parts[2].as_bytes().decode(),
          "reject: the original's header block, not its body")
    check(str(m["From"]) == "MAILER-DAEMON@desk.example.org" and m["Subject"] == "Rejected: three",
          "reject: from the mailer daemon, subject")
print("all ok")
