#!/usr/bin/python3
"""The agents' CLI (`relaydesk tickets ...`, issue 6): list filters, sorting
and paging; show (folded quotes, attachments, audit log); search over
subjects, bodies, addresses and attachment names; reply (RFC 5322 message
queued in the outbox with threading headers); note, assign, tag, status,
priority; attachment get; --json fields and exit codes; and all of it
against the live database of a running `relaydesk serve` fed over SMTP.
"""
import base64
import email
import email.message
import email.policy
import email.utils
import hashlib
import json
import os
import smtplib
import rdtest
import subprocess
import sys
import tempfile
import time
import unittest

RELAYDESK = os.environ.get("RELAYDESK")
PDF = b"%PDF-1.4\n" + bytes(range(256)) * 8 + b"\n%%EOF\n"


def mail(frm, subject, body, attach=None, msgid=None, to="support@desk.test"):
    m = email.message.EmailMessage(policy=email.policy.SMTP)
    m["From"] = frm
    m["To"] = to
    m["Subject"] = subject
    m["Date"] = email.utils.formatdate()
    m["Message-ID"] = msgid or email.utils.make_msgid(domain="example.org")
    m.set_content(body)
    for name, data, ctype in attach or []:
        main, sub = ctype.split("/")
        m.add_attachment(data, maintype=main, subtype=sub, filename=name)
    return m.as_bytes()


class Cli(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.data = os.path.join(cls.tmp.name, "data")
        conf = os.path.join(cls.tmp.name, "relaydesk.conf")
        with open(conf, "w") as f:
            f.write("[relaydesk]\nhostname = desk.test\n[desk]\nreply_address = support@desk.test\n"
                    "from_name = Example Support\n")
        cls.common = ["--data-dir", cls.data, "--config", conf] + rdtest.store_args(cls.data)
        cls.deliver(mail("Alice <alice@example.org>", "Printer broken",
                         "My printer prints zebras.\n\nOn Mon, Bob wrote:\n> old text\n> more old text\n",
                         attach=[("invoice-2024.pdf", PDF, "application/pdf")]))
        cls.deliver(mail("Bob <bob@example.org>", "VPN down", "The VPN is down since 9:00.\n",
                         attach=[("same.pdf", PDF, "application/pdf")]))
        cls.deliver(mail("Carol <carol@example.net>", "Invoice question", "Where is my invoice?\n"))

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    @classmethod
    def deliver(cls, raw):
        p = subprocess.run([RELAYDESK, "deliver", *cls.common, "support@desk.test"], input=raw,
                           capture_output=True, timeout=60)
        assert p.returncode == 0, p.stderr

    def run_cli(self, *argv, input=None):
        # Options first, so that "--" in argv ends them.
        return subprocess.run([RELAYDESK, "tickets", argv[0], *self.common, *argv[1:]], input=input,
                              capture_output=True, timeout=60)

    def js(self, *argv):
        p = self.run_cli(argv[0], "--json", *argv[1:])
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        return json.loads(p.stdout)

    def numbers(self, *argv):
        return [t["number"] for t in self.js("list", *argv)]

    def test_list_filters_sort_paging(self):
        self.assertEqual(self.numbers(), [3, 2, 1])
        self.assertEqual(self.numbers("--sort", "created"), [1, 2, 3])
        self.assertEqual(self.numbers("--limit", "1", "--offset", "1"), [2])
        self.js("assign", "2", "dana", "--as", "lead")
        self.js("tag", "3", "billing", "+VIP")
        self.js("status", "1", "pending")
        self.assertEqual(self.numbers("--assignee", "dana"), [2])
        self.assertEqual(self.numbers("--assignee", "-"), [3, 1])
        self.assertEqual(self.numbers("--tag", "vip"), [3])
        self.assertEqual(self.numbers("--status", "pending"), [1])
        self.assertEqual(self.numbers("--queue", "inbox", "--status", "new"), [3, 2])
        self.assertEqual(self.numbers("--queue", "nope"), [])
        self.assertEqual(self.numbers("--since", "1d"), [3, 2, 1])
        self.assertEqual(self.numbers("--since", "2999-01-01"), [])
        self.assertEqual(sorted(self.numbers("--sort", "updated")), [1, 2, 3])
        t = self.js("show", "2")
        self.assertEqual(t["assignee"], "dana")
        self.assertIn({"actor": "lead", "action": "assignee", "old": None, "new": "dana"},
                      [{k: a[k] for k in ("actor", "action", "old", "new")} for a in t["audit"]])
        self.assertEqual(self.js("show", "3")["tags"], ["billing", "vip"])
        self.js("tag", "3", "--remove", "billing")
        self.assertEqual(self.js("show", "3")["tags"], ["vip"])
        self.js("tag", "3", "x1", "--", "-vip")
        self.assertEqual(self.js("show", "3")["tags"], ["x1"])
        self.js("priority", "3", "urgent")
        self.assertEqual(self.js("show", "3")["priority"], "urgent")

    def test_json_fields(self):
        t = self.js("show", "1")
        for key in ("number", "queue", "status", "priority", "assignee", "tags", "requester", "subject",
                    "subject_tag", "reply_address", "participants", "links", "messages", "audit",
                    "created_at", "updated_at", "message_count"):
            self.assertIn(key, t)
        m = t["messages"][0]
        for key in ("id", "direction", "message_id", "from", "to", "cc", "subject", "body_text",
                    "body_unquoted", "attachments", "created_at", "delivery_status"):
            self.assertIn(key, m)
        self.assertEqual(t["subject_tag"], "[RD #1]")
        lst = self.js("list")[0]
        for key in ("number", "queue", "status", "priority", "assignee", "tags", "requester", "subject",
                    "subject_tag", "reply_address"):
            self.assertIn(key, lst)

    def test_show_folds_quotes_and_lists_attachments(self):
        p = self.run_cli("show", "1")
        out = p.stdout.decode()
        self.assertEqual(p.returncode, 0)
        self.assertIn("My printer prints zebras.", out)
        self.assertNotIn("old text", out)
        self.assertIn("quoted lines folded", out)
        self.assertIn("invoice-2024.pdf (application/pdf", out)
        self.assertIn("old text", self.run_cli("show", "1", "--full").stdout.decode())
        m = self.js("show", "1")["messages"][0]
        self.assertEqual(m["body_unquoted"].strip(), "My printer prints zebras.")

    def test_attachments_stored_once_and_retrievable(self):
        a1 = self.js("show", "1")["messages"][0]["attachments"][0]
        a2 = self.js("show", "2")["messages"][0]["attachments"][0]
        self.assertEqual(a1["sha256"], hashlib.sha256(PDF).hexdigest())
        self.assertEqual(a1["sha256"], a2["sha256"])
        with rdtest.connect_store(self.data) as db:
            self.assertEqual(db.execute("SELECT count(*) FROM attachment_blobs").fetchone()[0], 1)
        p = self.run_cli("attachment", "get", str(a1["id"]))
        self.assertEqual(p.returncode, 0)
        self.assertEqual(p.stdout, PDF)
        out = os.path.join(self.tmp.name, "out.pdf")
        self.assertEqual(self.run_cli("attachment", "get", str(a2["id"]), "-o", out).returncode, 0)
        with open(out, "rb") as f:
            self.assertEqual(f.read(), PDF)
        j = self.js("attachment", "get", str(a1["id"]))
        self.assertEqual(base64.b64decode(j["content_base64"]), PDF)
        self.assertEqual(j["filename"], "invoice-2024.pdf")

    def test_search(self):
        self.assertEqual([t["number"] for t in self.js("search", "zebras")], [1])
        self.assertEqual([t["number"] for t in self.js("search", "VPN")], [2])
        self.assertEqual([t["number"] for t in self.js("search", "carol@example.net")], [3])
        self.assertEqual([t["number"] for t in self.js("search", "invoice")], [3, 1])  # body + file name
        self.assertEqual([t["number"] for t in self.js("search", "invoice", "carol")], [3])
        self.assertEqual(self.js("search", "nothing-matches-this"), [])
        # FTS syntax is searched for, not obeyed.
        self.assertEqual(self.run_cli("search", "\"unbalanced", "OR", "NEAR(").returncode, 0)

    def test_reply_composes_and_queues(self):
        p = self.run_cli("reply", "3", "--body-file", "-", "--json", "--as", "erin",
                         input="Your invoice is attached to your account. Grüße\n".encode())
        self.assertEqual(p.returncode, 0, p.stderr)
        r = json.loads(p.stdout)
        t = self.js("show", "3")
        out = t["messages"][-1]
        self.assertEqual(out["direction"], "outbound")
        self.assertEqual(out["message_id"], r["message_id"])
        self.assertEqual(out["delivery_status"], "queued")
        self.assertEqual(out["author"], "erin")
        with rdtest.connect_store(self.data) as db:
            raw, state, kind, sender = db.execute(
                "SELECT raw, state, kind, sender FROM outbox WHERE id = ?", (r["outbox_id"],)).fetchone()
            rcpts = [x[0] for x in db.execute("SELECT address FROM outbox_recipients WHERE outbox_id = ?",
                                               (r["outbox_id"],))]
        self.assertEqual((state, kind, sender), ("queued", "reply", "support@desk.test"))
        self.assertEqual(rcpts, ["carol@example.net"])
        self.assertIn(b"\r\n", raw)
        self.assertNotIn(b"\n", raw.replace(b"\r\n", b""))
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        self.assertEqual(msg["Message-ID"], "<%s>" % r["message_id"])
        first = t["messages"][0]["message_id"]
        self.assertEqual(msg["In-Reply-To"], "<%s>" % first)
        self.assertIn("<%s>" % first, msg["References"])
        self.assertEqual(msg["Subject"], "Re: Invoice question [RD #3]")
        self.assertEqual(msg["Reply-To"].addresses[0].addr_spec, t["reply_address"])
        self.assertEqual(msg["From"].addresses[0].addr_spec, "support@desk.test")
        self.assertEqual(msg["From"].addresses[0].display_name, "Example Support")
        self.assertIn("Grüße", msg.get_content())
        self.assertTrue(any(a["action"] == "reply" and a["actor"] == "erin" for a in t["audit"]))

    def test_reply_text_from_editor(self):
        script = os.path.join(self.tmp.name, "editor.sh")
        with open(script, "w") as f:
            f.write("#!/bin/sh\nprintf 'Written in the editor.\\n' > \"$1\"\n")
        os.chmod(script, 0o755)
        env = dict(os.environ, EDITOR=script)
        env.pop("VISUAL", None)
        p = subprocess.run([RELAYDESK, "tickets", "reply", "1", "--json", *self.common], env=env,
                           capture_output=True, stdin=subprocess.DEVNULL, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        t = self.js("show", "1")
        self.assertEqual(t["messages"][-1]["body_text"].strip(), "Written in the editor.")
        env["EDITOR"] = "false"
        p = subprocess.run([RELAYDESK, "tickets", "reply", "1", *self.common], env=env, capture_output=True,
                           stdin=subprocess.DEVNULL, timeout=60)
        self.assertEqual(p.returncode, 65)

    def test_references_capped(self):
        # Many follow-ups: References stays near 1.5 KB, newest kept.
        ids = []
        for i in range(40):
            r = json.loads(self.run_cli("reply", "2", "--text", "ping %d" % i, "--json").stdout)
            ids.append(r["message_id"])
        with rdtest.connect_store(self.data) as db:
            raw = db.execute("SELECT raw FROM outbox WHERE message_id = ?", (ids[-1],)).fetchone()[0]
        msg = email.message_from_bytes(raw, policy=email.policy.compat32)
        refs = " ".join(msg["References"].split())
        self.assertLessEqual(len(refs), 1500)
        self.assertIn(ids[-2], refs)
        self.assertNotIn(self.js("show", "2")["messages"][0]["message_id"], refs)

    def outbox_rows(self):
        with rdtest.connect_store(self.data) as db:
            return db.execute("SELECT count(*) FROM outbox").fetchone()[0]

    def test_note(self):
        before = self.outbox_rows()
        j = self.js("note", "1", "--text", "Customer called, internal only.", "--as", "frank")
        self.assertEqual(j["direction"], "note")
        t = self.js("show", "1")
        self.assertEqual(t["messages"][-1]["direction"], "note")
        self.assertEqual(t["messages"][-1]["author"], "frank")
        self.assertEqual(self.outbox_rows(), before)  # a note is never sent

    def test_exit_codes(self):
        self.assertEqual(self.run_cli("show", "999").returncode, 1)
        self.assertEqual(self.run_cli("attachment", "get", "999").returncode, 1)
        self.assertEqual(self.run_cli("show").returncode, 64)
        self.assertEqual(self.run_cli("list", "--sort", "sideways").returncode, 64)
        self.assertEqual(self.run_cli("status", "1", "sleeping").returncode, 65)
        self.assertEqual(self.run_cli("tag", "1", "bad tag!").returncode, 65)
        self.assertEqual(self.run_cli("reply", "1", "--text", "   ").returncode, 65)
        self.assertEqual(self.run_cli("reply", "999", "--text", "hi").returncode, 1)
        p = subprocess.run([RELAYDESK, "tickets", "list", "--data-dir", os.path.join(self.tmp.name, "none")],
                           capture_output=True)
        self.assertEqual(p.returncode, 1)
        self.assertEqual(subprocess.run([RELAYDESK, "tickets", "frobnicate"], capture_output=True).returncode, 64)


class LiveServe(unittest.TestCase):
    """The CLI against the database of a running serve (WAL)."""

    def test_cli_against_running_serve(self):
        with tempfile.TemporaryDirectory() as tmp:
            data = os.path.join(tmp, "data")
            port_file = os.path.join(tmp, "port")
            serve = subprocess.Popen([RELAYDESK, "serve", "--data-dir", data, "--smtp", "127.0.0.1:0",
                                      "--port-file", port_file],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                port = 0
                for _ in range(200):
                    if os.path.exists(port_file):
                        with open(port_file) as f:
                            text = f.read().strip()
                        if text:
                            port = int(text)
                            break
                    time.sleep(0.05)
                self.assertNotEqual(port, 0, "serve did not start")
                with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
                    for i in range(5):
                        s.sendmail("user%d@example.org" % i, ["support@desk.test"],
                                   mail("User %d <user%d@example.org>" % (i, i), "Live %d" % i,
                                        "live body %d\n" % i))
                deadline = time.time() + 30
                tickets = []
                while time.time() < deadline:
                    p = subprocess.run([RELAYDESK, "tickets", "list", "--json", "--data-dir", data],
                                       capture_output=True)
                    self.assertEqual(p.returncode, 0, p.stderr)
                    tickets = json.loads(p.stdout)
                    if len(tickets) == 5:
                        break
                    time.sleep(0.2)
                self.assertEqual(len(tickets), 5)
                # Writes while serve runs.
                for argv in (["assign", "1", "gina"], ["status", "1", "pending"], ["tag", "1", "live"],
                             ["reply", "1", "--text", "hello from the CLI"], ["note", "1", "--text", "n"]):
                    p = subprocess.run([RELAYDESK, "tickets", *argv, "--data-dir", data], capture_output=True)
                    self.assertEqual(p.returncode, 0, p.stderr)
                p = subprocess.run([RELAYDESK, "tickets", "search", "live", "--json", "--data-dir", data],
                                   capture_output=True)
                self.assertEqual(len(json.loads(p.stdout)), 5)
            finally:
                serve.terminate()
                serve.wait(timeout=30)


if __name__ == "__main__":
    if not RELAYDESK:
        print("RELAYDESK not set", file=sys.stderr)
        sys.exit(77)
    unittest.main(verbosity=2)
