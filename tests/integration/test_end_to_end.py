#!/usr/bin/python3
"""The whole path, every stage real: a customer's mail over SMTP to
`relaydesk serve` (receiver) -> parser -> threading and Sieve rules
(fileinto "billing", an acknowledgement for new tickets only) -> ticket ->
outbox -> a real SMTP relay on loopback (aiosmtpd, storing each message it
accepts with its envelope); an agent's `tickets reply` through the same
relay; the customer's answer to that reply threading back onto the ticket
without a second acknowledgement; a stranger's mail quoting the ticket's
subject tag opening a new ticket instead.
"""
import email
import email.policy
import email.utils
import os
import re
import signal
import smtplib
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rdtest import RelaydeskTestCase, Serve, main  # noqa: E402
from relay_peers import Aiosmtpd  # noqa: E402


INBOX = "support@desk.test"
CUSTOMER = "alice@customer.example"
STRANGER = "mallory@elsewhere.example"

# :seconds 1 keeps vacation's own once-per-period memory out of the way:
# only the `followup` test can keep the customer's follow-up from getting a
# second acknowledgement.
SCRIPT = r'''require ["fileinto", "vacation", "vacation-seconds", "variables", "vnd.relaydesk.ticket"];

if header :contains "subject" "invoice" {
  fileinto "billing";
}
if not followup {
  vacation :seconds 1 :handle "ack-${ticket.number}"
    :from "Desk Support <support@desk.test>"
    :subject "Re: we received your request ${ticket.tag}"
    "Your request is now ticket ${ticket.number}. Keep ${ticket.tag} in the subject.";
}
'''


def mail(frm, subject, body, msgid, in_reply_to=None, to=INBOX):
    m = email.message.EmailMessage(policy=email.policy.SMTP)
    m["From"] = frm
    m["To"] = to
    m["Subject"] = subject
    m["Date"] = email.utils.formatdate()
    m["Message-ID"] = msgid
    if in_reply_to:
        m["In-Reply-To"] = in_reply_to
        m["References"] = in_reply_to
    m.set_content(body)
    return m.as_bytes()


def parse(raw):
    """(envelope sender, message) of a file the relay stored; the null
    sender as "" (relay_aiosmtpd.py writes <MAIL FROM>, and aiosmtpd gives
    the null reverse-path as "<>", so it is stored as <<>>)."""
    head, _, rest = raw.partition(b"\r\n")
    assert head.startswith(b"X-Envelope-From: <") and head.endswith(b">"), head
    sender = head[len(b"X-Envelope-From: <"):-1].decode()
    if sender == "<>":
        sender = ""
    msg = email.message_from_bytes(rest, policy=email.policy.default)
    return sender, msg


def ids(value):
    return re.findall(r"<([^<>]+)>", value or "")


class EndToEnd(RelaydeskTestCase):
    def setUp(self):
        super().setUp()
        self.relay = Aiosmtpd(self.tmp, name="relay").start()
        script = os.path.join(self.tmp, "inbox.sieve")
        with open(script, "w") as f:
            f.write(SCRIPT)
        self.conf = os.path.join(self.tmp, "relaydesk.conf")
        with open(self.conf, "w") as f:
            f.write(f"""[relaydesk]
hostname = desk.test
[desk]
reply_address = {INBOX}
from_name = Desk Support
[rules]
default = {script}
[relay]
url = smtp://127.0.0.1:{self.relay.port}
starttls = opportunistic
retry_base = 1s
retry_max = 2s
""")

    def tearDown(self):
        self.relay.stop()
        super().tearDown()

    # helpers ---------------------------------------------------------------
    def cli(self, *args):
        return self.rd(*args, "--config", self.conf)

    def cli_json(self, *args):
        return self.rd_json(*args)

    def send(self, frm, raw, to=INBOX):
        with smtplib.SMTP("127.0.0.1", self.server.port, timeout=30) as s:
            refused = s.sendmail(frm, [to], raw)
        self.assertEqual(refused, {})

    def relayed(self, n, what):
        """The first n messages the relay stored, waiting for them."""
        got = self.wait_for(lambda: (lambda m: m if len(m) >= n else None)(self.relay.messages()),
                            timeout=60, what=what)
        return [parse(raw) for raw in got]

    def rd_json(self, *args, **kw):
        # every CLI call reads the same config as serve (the reply address
        # and subject tag are derived from it)
        return super().rd_json(*args, "--config", self.conf, **kw)

    def show(self, n):
        return self.cli_json("tickets", "show", str(n))

    # the path --------------------------------------------------------------
    def test_whole_path(self):
        self.server = Serve(self.data, ("--config", self.conf, "--smtps", "none"))
        self.servers.append(self.server)

        # 3. The customer writes; a ticket in billing and an acknowledgement.
        first_id = email.utils.make_msgid(domain="customer.example")
        self.send(CUSTOMER, mail(f"Alice <{CUSTOMER}>", "Question about invoice 2024-117",
                                 "Why was I charged twice?\n", first_id))
        tickets = self.wait_tickets(1)
        self.assertEqual(len(tickets), 1)
        t = tickets[0]
        num, tag, reply_addr = t["number"], t["subject_tag"], t["reply_address"]
        self.assertEqual(t["queue"], "billing", "fileinto \"billing\" decided the queue")
        self.assertEqual(t["requester"]["addr"], CUSTOMER)
        self.assertEqual(tag, f"[RD #{num}]")

        (ack_from, ack), = self.relayed(1, "the acknowledgement at the relay")
        self.assertEqual(ack_from, "", "an acknowledgement goes out with the null sender (RFC 3834)")
        self.assertEqual(ack["Auto-Submitted"], "auto-replied")
        self.assertEqual(ids(ack["In-Reply-To"]), ids(first_id))
        self.assertRegex(ids(ack["Message-ID"])[0], rf"^rd-{num}-[a-z2-7]+-[a-z2-7]+@desk\.test$",
                         "the acknowledgement's Message-ID is signed for the ticket")
        self.assertIn(tag, ack["Subject"], "${ticket.tag} filled in for a new ticket")
        self.assertIn(f"ticket {num}.", ack.get_content(), "${ticket.number} filled in the reason")
        self.assertEqual(email.utils.parseaddr(ack["To"])[1], CUSTOMER)

        # 4. The agent replies through the CLI; it reaches the relay.
        body = os.path.join(self.tmp, "reply.txt")
        with open(body, "w") as f:
            f.write("You were charged once; the second line is a pre-authorisation.\n")
        reply = self.cli_json("tickets", "reply", str(num), "--body-file", body, "--as", "agent1")
        self.assertEqual(reply["number"], num)
        self.assertEqual(reply["recipients"], [CUSTOMER] if isinstance(reply["recipients"], list)
                         else CUSTOMER)

        got = self.relayed(2, "the agent's reply at the relay")
        self.assertEqual(len(got), 2)
        rep_from, rep = got[1]
        rep_id = ids(rep["Message-ID"])
        self.assertEqual(len(rep_id), 1)
        rep_id = rep_id[0]
        self.assertEqual(rep_id, reply["message_id"].strip("<>"))
        self.assertRegex(rep_id, rf"^rd-{num}-[a-z2-7]+-[a-z2-7]+@desk\.test$",
                         "a signed Message-ID naming the ticket")
        self.assertEqual(email.utils.parseaddr(rep["To"])[1], CUSTOMER)
        self.assertEqual(email.utils.parseaddr(rep["Reply-To"])[1], reply_addr,
                         "Reply-To is the ticket's signed reply address")
        self.assertIn(tag, rep["Subject"])
        ticket_ids = [m["message_id"] for m in self.show(num)["messages"]
                               if m["message_id"] and m["direction"] != "note"]
        self.assertIn(ids(rep["In-Reply-To"])[0], ticket_ids, "In-Reply-To names a message of the thread")
        self.assertEqual(ids(rep["In-Reply-To"]), ids(first_id), "the newest message of the thread: the customer's")
        self.assertIn(first_id.strip("<>"), ids(rep["References"]), "References carry the customer's id")
        self.assertEqual(rep_from, INBOX, "envelope sender: the queue's address")
        self.assertIn(rep["Auto-Submitted"], (None, "no"), "an agent's reply is not automatic")

        rows = self.cli_json("queue", "list")
        mine = [r for r in rows if r["kind"] == "reply"]
        self.assertEqual(len(mine), 1, rows)
        self.assertEqual(mine[0]["state"], "sent")
        self.assertEqual(mine[0]["ticket"], num)
        self.assertEqual(mine[0]["message_id"].strip("<>"), rep_id)
        self.assertEqual(mine[0]["relay_reply"], "250 2.0.0 Ok: queued as Q0002",
                         "the relay's 250 text (and queue id) recorded")
        outbound = [m for m in self.show(num)["messages"] if m["direction"] == "outbound"]
        self.assertEqual([m["delivery_status"] for m in outbound], ["sent"],
                         "the ticket shows the reply as sent once the relay took it")

        # 5. The customer answers the agent's reply as a mail client does:
        # to its Reply-To (the signed reply address), In-Reply-To its
        # Message-ID. A follow-up, and no new acknowledgement.
        time.sleep(1.5)   # past the vacation period: only `followup` may suppress the ack
        self.send(CUSTOMER, mail(f"Alice <{CUSTOMER}>", "Re: " + rep["Subject"],
                                 "Thanks, understood.\n",
                                 email.utils.make_msgid(domain="customer.example"),
                                 in_reply_to=f"<{rep_id}>", to=reply_addr), to=reply_addr)
        shown = self.wait_for(lambda: (lambda s: s if len([m for m in s["messages"] if m["direction"] == "inbound"]) >= 2
                                       else None)(self.show(num)), timeout=30, what="the follow-up on the ticket")
        dirs = [m["direction"] for m in shown["messages"] if m["direction"] != "note"]
        self.assertGreaterEqual(len(dirs), 3)
        self.assertEqual([d for i, d in enumerate(dirs) if i == 0 or d != dirs[i - 1]],
                         ["inbound", "outbound", "inbound"], dirs)
        self.assertEqual(len(self.rd_json("tickets", "list")), 1, "no new ticket for the follow-up")
        time.sleep(1)   # an acknowledgement would be queued with the follow-up; give the worker time to send it
        acks = [r for r in self.cli_json("queue", "list") if r["kind"] == "autoreply"]
        self.assertEqual(len(acks), 1, "no second acknowledgement for the follow-up: %s" % acks)
        self.assertEqual(acks[0]["ticket"], num, "the acknowledgement is recorded against the ticket")
        # Threaded by the signed Message-ID of the agent's reply (rule 1),
        # not merely by the subject tag of a participant.
        how = [a["old"] for a in shown["audit"] if a["action"] == "followup"]
        self.assertEqual(how, ["references"], shown["audit"])
        self.assertEqual(len(self.relay.messages()), 2, "nothing more reached the relay")

        # 6. A stranger quotes the subject tag: a new ticket, linked, not attached.
        self.send(STRANGER, mail(f"Mallory <{STRANGER}>", f"Re: invoice {tag}",
                                 "Let me in on this one.\n",
                                 email.utils.make_msgid(domain="elsewhere.example")))
        tickets = self.wait_tickets(2)
        new = [x for x in tickets if x["number"] != num]
        self.assertEqual(len(new), 1, tickets)
        self.assertEqual(new[0]["requester"]["addr"], STRANGER)
        self.assertNotEqual(new[0]["subject_tag"], tag)
        stranger_ticket = self.show(new[0]["number"])
        self.assertIn(num, stranger_ticket["links"], "the new ticket links the one it named")
        first = self.show(num)
        self.assertEqual([m["direction"] for m in first["messages"] if m["direction"] != "note"], dirs,
                         "nothing attached to the customer's ticket")
        self.assertNotIn(STRANGER, first["participants"])

        # The stranger's new ticket is acknowledged with its own tag; the
        # customer's follow-up never was: exactly two acknowledgements.
        got = self.relayed(3, "the stranger's acknowledgement")
        self.assertIn(new[0]["subject_tag"], got[2][1]["Subject"])
        self.assertEqual(email.utils.parseaddr(got[2][1]["To"])[1], STRANGER)
        time.sleep(2)   # let a wrongly made second acknowledgement show up
        acks = [r for r in self.cli_json("queue", "list") if r["kind"] == "autoreply"]
        self.assertEqual(len(acks), 2, acks)
        self.assertEqual(len(self.relay.messages()), 3)

        # 7. The customer answers the acknowledgement from another address of
        # theirs (not a participant; its subject keeps the tag): it names a
        # Message-ID relaydesk made for ticket 1, so it continues ticket 1
        # (docs/tickets.md, threading rule 1), like an answer to an agent's
        # reply, and is not a stranger's new ticket.
        alias = "a.smith@customer.example"
        self.send(alias, mail(f"Alice Smith <{alias}>", "Re: " + ack["Subject"],
                              "One more thing about that invoice.\n",
                              email.utils.make_msgid(domain="customer.example"),
                              in_reply_to=ack["Message-ID"]))
        shown = self.wait_for(lambda: (lambda s: s if len(s["messages"]) > len(dirs) else None)(self.show(num)),
                              timeout=30, what="the answer to the acknowledgement on ticket %d (tickets: %s)"
                              % (num, [(x["number"], x["subject"]) for x in self.rd_json("tickets", "list")]))
        self.assertEqual(shown["messages"][-1]["from"]["addr"], alias)
        self.assertEqual([a["old"] for a in shown["audit"] if a["action"] == "followup"],
                         ["references", "references"])
        self.assertEqual(len(self.rd_json("tickets", "list")), 2)
        time.sleep(1)
        self.assertEqual(len([r for r in self.cli_json("queue", "list") if r["kind"] == "autoreply"]), 2,
                         "no acknowledgement for a follow-up")

        if os.environ.get("RD_E2E_DUMP"):
            import json
            print(json.dumps(first, indent=1), json.dumps(stranger_ticket, indent=1), self.cli_json("queue", "list"))
            for raw in self.relay.messages():
                print(raw.decode(errors="replace"))
        # A clean stop (exit 0: under ASan, no leak and no error).
        self.assertEqual(self.server.stop(signal.SIGTERM), 0, self.server.read_log()[-3000:])


if __name__ == "__main__":
    main()
