#!/usr/bin/python3
"""Threading scenarios for tickets (issue 6), driven through `relaydesk
deliver` (spools and processes synchronously) and `relaydesk tickets`.

new; follow-up by References; by reply address; by subject tag from a
participant; by subject tag from a stranger (linked ticket, or quarantine);
forged Message-ID and forged reply address; reply to a closed ticket
(reopen, or a new linked ticket); the same mail delivered twice; a DSN
(multipart/report) for an outbound reply -> failed + suppression.
"""
import email.message
import email.policy
import email.utils
import json
import os
import rdtest
import subprocess
import sys
import tempfile
import unittest

RELAYDESK = os.environ.get("RELAYDESK")


def make_mail(frm, to, subject, body, msgid=None, in_reply_to=None, references=None, cc=None):
    m = email.message.EmailMessage(policy=email.policy.SMTP)
    m["From"] = frm
    m["To"] = to
    if cc:
        m["Cc"] = cc
    m["Subject"] = subject
    m["Date"] = email.utils.formatdate()
    m["Message-ID"] = msgid or email.utils.make_msgid(domain="example.org")
    if in_reply_to:
        m["In-Reply-To"] = in_reply_to
    if references:
        m["References"] = references
    m.set_content(body)
    return m.as_bytes()


class Desk:
    def __init__(self, tmp, config_text=None):
        os.makedirs(tmp, exist_ok=True)
        self.data = os.path.join(tmp, "data")
        self.args = ["--data-dir", self.data] + rdtest.store_args(self.data)
        if config_text is not None:
            path = os.path.join(tmp, "relaydesk.conf")
            with open(path, "w") as f:
                f.write(config_text)
            self.args += ["--config", path]

    def run(self, *argv, input=None, check=True):
        p = subprocess.run([RELAYDESK, *argv, *self.args], input=input, capture_output=True, timeout=60)
        if check and p.returncode != 0:
            raise AssertionError("relaydesk %s: exit %d\n%s" % (argv, p.returncode, p.stderr.decode()))
        return p

    def deliver(self, raw, rcpt="support@desk.test", sender="alice@example.org"):
        rcpts = rcpt if isinstance(rcpt, list) else [rcpt]
        self.run("deliver", "-f", sender, *rcpts, input=raw)

    def tickets(self, *argv):
        return json.loads(self.run("tickets", *argv, "--json").stdout)

    def show(self, n):
        return self.tickets("show", str(n))

    def count(self):
        return len(self.tickets("list", "--limit", "1000"))

    def db(self):
        return rdtest.connect_store(self.data)


class Threading(unittest.TestCase):
    def setUp(self):
        self.tmpdir = tempfile.TemporaryDirectory()
        self.desk = Desk(self.tmpdir.name, "[relaydesk]\nhostname = desk.test\n"
                         "[desk]\nreply_address = support@desk.test\nsubject_tag_prefix = RD\n"
                         # The threading rules here; that the subject tag also needs a
                         # DMARC-verified From domain is test_auth.py's (the default).
                         "subject_tag_auth = any\n")
        self.first_id = "<first-1@example.org>"
        self.desk.deliver(make_mail("Alice <alice@example.org>", "support@desk.test",
                                    "Printer broken", "My printer is broken.\n", msgid=self.first_id,
                                    cc="Bob <bob@example.org>"))

    def tearDown(self):
        self.tmpdir.cleanup()

    def reply(self, n, text="We are looking into it."):
        return json.loads(self.desk.run("tickets", "reply", str(n), "--text", text, "--json").stdout)

    def test_new_ticket(self):
        t = self.desk.show(1)
        self.assertEqual(t["status"], "new")
        self.assertEqual(t["requester"]["addr"], "alice@example.org")
        self.assertEqual(t["subject_tag"], "[RD #1]")
        self.assertTrue(t["reply_address"].startswith("support+1-"))
        self.assertTrue(t["reply_address"].endswith("@desk.test"))
        # Participants: From/To/Cc minus our own addresses.
        self.assertEqual(t["participants"], ["alice@example.org", "bob@example.org"])
        self.assertEqual([m["direction"] for m in t["messages"]], ["inbound"])
        self.assertEqual(t["messages"][0]["message_id"], "first-1@example.org")

    def test_followup_by_references(self):
        r = self.reply(1)
        ours = "<%s>" % r["message_id"]
        self.desk.deliver(make_mail("Alice <alice@example.org>", "support@desk.test",
                                    "Re: whatever the client made of it", "Thanks!\n",
                                    in_reply_to=ours, references=self.first_id + " " + ours))
        self.assertEqual(self.desk.count(), 1)
        t = self.desk.show(1)
        self.assertEqual([m["direction"] for m in t["messages"]], ["inbound", "outbound", "inbound"])
        self.assertEqual(t["messages"][1]["message_id"], r["message_id"])

    def test_followup_by_references_from_anyone_with_signed_id(self):
        # Only a signed id counts, but a signed id is proof enough (the mail
        # went to the thread): a colleague of the requester may answer.
        r = self.reply(1)
        self.desk.deliver(make_mail("Carol <carol@example.org>", "support@desk.test", "Fwd",
                                    "Adding myself.\n", references="<%s>" % r["message_id"]))
        self.assertEqual(self.desk.count(), 1)

    def test_followup_by_reply_address(self):
        addr = self.desk.show(1)["reply_address"]
        self.desk.deliver(make_mail("Alice <alice@example.org>", addr, "a fresh subject",
                                    "Another detail.\n"), rcpt=addr)
        self.assertEqual(self.desk.count(), 1)
        self.assertEqual(len(self.desk.show(1)["messages"]), 2)

    def test_followup_by_subject_tag_from_participant(self):
        self.desk.deliver(make_mail("Bob <BOB@example.org>", "support@desk.test",
                                    "Re: Printer broken [RD #1]", "Same here.\n"))
        self.assertEqual(self.desk.count(), 1)
        self.assertEqual(len(self.desk.show(1)["messages"]), 2)

    def test_subject_tag_from_stranger_opens_linked_ticket(self):
        self.desk.deliver(make_mail("Mallory <mallory@evil.example>", "support@desk.test",
                                    "Re: Printer broken [RD #1]", "Let me in.\n"),
                          sender="mallory@evil.example")
        self.assertEqual(self.desk.count(), 2)
        self.assertEqual(len(self.desk.show(1)["messages"]), 1)
        t2 = self.desk.show(2)
        self.assertEqual(t2["requester"]["addr"], "mallory@evil.example")
        self.assertEqual(t2["links"], [1])
        self.assertEqual(self.desk.show(1)["links"], [2])

    def test_subject_tag_from_stranger_quarantined(self):
        desk = Desk(self.tmpdir.name + "/q", "[desk]\nstranger_tag = quarantine\n")
        desk.deliver(make_mail("Alice <alice@example.org>", "support@desk.test", "Hello", "Hi\n"))
        desk.deliver(make_mail("Mallory <mallory@evil.example>", "support@desk.test",
                               "Re: Hello [RD #1]", "Let me in.\n"))
        self.assertEqual(desk.count(), 1)
        with desk.db() as db:
            states = [r[0] for r in db.execute("SELECT state FROM spool ORDER BY id")]
        self.assertEqual(states, ["processed", "quarantined"])

    def test_forged_message_id(self):
        r = self.reply(1)
        real = r["message_id"]
        # Same shape, same ticket number, wrong signature.
        local, domain = real.split("@")
        parts = local.split("-")
        parts[-1] = "a" * len(parts[-1]) if parts[-1] != "a" * len(parts[-1]) else "b" * len(parts[-1])
        forged = "<%s@%s>" % ("-".join(parts), domain)
        self.desk.deliver(make_mail("Mallory <mallory@evil.example>", "support@desk.test",
                                    "Re: something", "Let me in.\n", in_reply_to=forged, references=forged))
        # Another ticket's number in an otherwise valid-looking id.
        forged2 = "<rd-1-abcdefgh-%s@desk.test>" % ("c" * 16)
        self.desk.deliver(make_mail("Mallory <mallory@evil.example>", "support@desk.test",
                                    "Re: something", "Let me in.\n", references=forged2))
        self.assertEqual(self.desk.count(), 3)
        self.assertEqual([m["direction"] for m in self.desk.show(1)["messages"]], ["inbound", "outbound"])

    def test_forged_reply_address(self):
        forged = "support+1-%s@desk.test" % ("x" * 16)
        self.desk.deliver(make_mail("Mallory <mallory@evil.example>", forged, "hi", "Let me in.\n"),
                          rcpt=forged)
        self.assertEqual(self.desk.count(), 2)

    def test_reply_to_closed_ticket_reopens(self):
        r = self.reply(1)
        self.desk.run("tickets", "status", "1", "closed")
        self.desk.deliver(make_mail("Alice <alice@example.org>", "support@desk.test", "Re: Printer broken",
                                    "It broke again.\n", in_reply_to="<%s>" % r["message_id"]))
        self.assertEqual(self.desk.count(), 1)
        t = self.desk.show(1)
        self.assertEqual(t["status"], "open")
        self.assertIn(("status", "closed", "open"), [(a["action"], a["old"], a["new"]) for a in t["audit"]])

    def test_reply_to_closed_ticket_opens_linked_ticket(self):
        desk = Desk(self.tmpdir.name + "/c", "[desk]\nclosed_followup = reopen\n"
                    "[queue.inbox]\nclosed_followup = new\n")
        desk.deliver(make_mail("Alice <alice@example.org>", "support@desk.test", "Hello", "Hi\n"))
        r = json.loads(desk.run("tickets", "reply", "1", "--text", "Done.", "--json").stdout)
        desk.run("tickets", "status", "1", "resolved")
        desk.deliver(make_mail("Alice <alice@example.org>", "support@desk.test", "Re: Hello [RD #1]",
                               "Not done.\n", in_reply_to="<%s>" % r["message_id"]))
        self.assertEqual(desk.count(), 2)
        self.assertEqual(desk.show(1)["status"], "resolved")
        self.assertEqual(desk.show(2)["links"], [1])

    def test_same_mail_delivered_twice(self):
        raw = make_mail("Dave <dave@example.org>", "support@desk.test, sales@desk.test", "Quote please",
                        "How much?\n", msgid="<twice@example.org>")
        # Once per recipient (as an MTA's pipe transport does), then an MTA
        # retry with a trace header added in front.
        self.desk.deliver(raw, rcpt="support@desk.test")
        self.desk.deliver(raw, rcpt="sales@desk.test")
        self.desk.deliver(b"Received: from mx2 by desk.test; retry\r\n" + raw, rcpt="support@desk.test")
        self.assertEqual(self.desk.count(), 2)
        t = self.desk.show(2)
        self.assertEqual(len(t["messages"]), 1)
        with self.desk.db() as db:
            rows = db.execute("SELECT state, state_reason FROM spool WHERE message_id = 'twice@example.org'"
                              " ORDER BY id").fetchall()
        self.assertEqual(len(rows), 3)
        self.assertEqual(rows[0], ("processed", None))
        for state, reason in rows[1:]:
            self.assertEqual(state, "processed")
            self.assertTrue(reason.startswith("duplicate of message"), reason)

    def test_same_message_id_different_body_is_not_a_duplicate(self):
        self.desk.deliver(make_mail("Alice <alice@example.org>", "support@desk.test", "Printer broken",
                                    "Something else entirely.\n", msgid=self.first_id))
        self.assertEqual(self.desk.count(), 2)

    def test_dsn_for_outbound_reply(self):
        r = self.reply(1)
        original = "<%s>" % r["message_id"]
        status = ("Reporting-MTA: dns; mx.example.org\r\n"
                  "Arrival-Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n\r\n"
                  "Final-Recipient: rfc822; alice@example.org\r\n"
                  "Original-Recipient: rfc822;alice@example.org\r\n"
                  "Action: failed\r\nStatus: 5.1.1\r\n"
                  "Diagnostic-Code: smtp; 550 5.1.1 <alice@example.org>: user unknown\r\n")
        third = ("Content-Type: text/rfc822-headers\r\n\r\n"
                 "From: Support <support@desk.test>\r\nTo: alice@example.org\r\n"
                 "Subject: Re: Printer broken [RD #1]\r\nMessage-ID: %s\r\n" % original)
        raw_dsn = make_dsn(status, third)
        self.desk.deliver(raw_dsn, sender="")
        self.desk.deliver(raw_dsn, sender="")  # delivered twice: one entry
        self.assertEqual(self.desk.count(), 1)
        t = self.desk.show(1)
        self.assertEqual([m["direction"] for m in t["messages"]], ["inbound", "outbound", "inbound"])
        out = t["messages"][1]
        self.assertEqual(out["delivery_status"], "failed")
        self.assertEqual(out["delivery_code"], "5.1.1")
        with self.desk.db() as db:
            sup = db.execute("SELECT address FROM suppressions").fetchall()
        self.assertEqual(sup, [("alice@example.org",)])
        # Every outbound path respects the suppression list: the reply to
        # the requester alone is refused (65), reply-all skips her.
        p = self.desk.run("tickets", "reply", "1", "--text", "Hello?", check=False)
        self.assertEqual(p.returncode, 65, p.stderr)
        r2 = json.loads(self.desk.run("tickets", "reply", "1", "--text", "Bob?", "--all", "--json").stdout)
        self.assertEqual(r2["recipients"], ["bob@example.org"])
        self.assertEqual(r2["suppressed"], ["alice@example.org"])

    def test_dsn_with_message_rfc822_and_temporary_failure(self):
        r = self.reply(1)
        status = ("Reporting-MTA: dns; mx.example.org\r\n\r\n"
                  "Final-Recipient: rfc822; alice@example.org\r\n"
                  "Action: failed\r\nStatus: 4.4.1 (timeout)\r\n")
        third = ("Content-Type: message/rfc822\r\n\r\n"
                 "From: support@desk.test\r\nTo: alice@example.org\r\nSubject: Re: x\r\n"
                 "Message-ID: <%s>\r\n\r\nWe are looking into it.\r\n" % r["message_id"])
        self.desk.deliver(make_dsn(status, third), sender="")
        t = self.desk.show(1)
        self.assertEqual(t["messages"][1]["delivery_status"], "failed")
        self.assertEqual(t["messages"][1]["delivery_code"], "4.4.1")
        with self.desk.db() as db:
            self.assertEqual(db.execute("SELECT count(*) FROM suppressions").fetchone()[0], 0)

    def test_dsn_about_unknown_mail_is_an_ordinary_message(self):
        status = ("Reporting-MTA: dns; mx.example.org\r\n\r\n"
                  "Final-Recipient: rfc822; zed@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n")
        third = "Content-Type: text/rfc822-headers\r\n\r\nMessage-ID: <not-ours@example.org>\r\n"
        self.desk.deliver(make_dsn(status, third), sender="")
        self.assertEqual(self.desk.count(), 2)
        with self.desk.db() as db:
            self.assertEqual(db.execute("SELECT count(*) FROM suppressions").fetchone()[0], 0)


def make_dsn(status_fields, third_part):
    """A real RFC 3464 report: multipart/report; report-type=delivery-status
    with a human part, message/delivery-status, and the original (headers)."""
    b = "dsn-boundary-42"
    return ("From: Mail Delivery System <MAILER-DAEMON@mx.example.org>\r\n"
            "To: support@desk.test\r\n"
            "Subject: Undelivered Mail Returned to Sender\r\n"
            "Message-ID: <%s@mx.example.org>\r\n"
            "Auto-Submitted: auto-replied\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: multipart/report; report-type=delivery-status; boundary=\"%s\"\r\n\r\n"
            "--%s\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
            "I'm sorry to have to inform you that your message could not be delivered.\r\n\r\n"
            "--%s\r\nContent-Type: message/delivery-status\r\n\r\n%s\r\n"
            "--%s\r\n%s\r\n"
            "--%s--\r\n" % (email.utils.make_msgid().strip("<>").split("@")[0], b, b, b, status_fields,
                              b, third_part, b)).encode()

if __name__ == "__main__":
    if not RELAYDESK:
        print("RELAYDESK not set", file=sys.stderr)
        sys.exit(77)
    unittest.main(verbosity=2)
