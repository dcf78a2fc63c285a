"""The administrators' API against a real serve: agents (CRUD, the
one-time password, tokens, the audit log naming the admin), the
allowlist with the relay request form's fields (staging at most 15
days), the outbox (list, show, retry, drop), the spool's quarantine
(reason, reprocess), relay check with its steps, and the rule
playground: diagnostics at their line and column, a dry run on a stored
message with ${ticket.*} filled, save and activate atomically (a broken
script never replaces a working one), versions and restore.
"""
import os
import subprocess
import time

from webdesk import WebDeskTestCase, main, q

DEFAULT = 'require ["fileinto"];\nkeep;\n'
BROKEN = 'require ["fileinto"];\nif header :contains "subject" "x" {\n  fileinto "a"\n}\n'
ROUTED = ('require ["fileinto", "variables", "vnd.relaydesk.ticket", "vacation"];\n'
          'if header :contains "subject" "invoice" { fileinto "billing"; }\n'
          'vacation :days 1 :subject "Re: ${ticket.tag}" "We got it: ticket ${ticket.number} in ${ticket.queue}.";\n')


class AdminTest(WebDeskTestCase):
    CONFIG = "[rules]\nscript_dir = @TMP@/rules\ndefault = default.sieve\n"

    def setUp(self):
        super().setUp()
        os.makedirs(os.path.join(self.tmp, "rules"))
        with open(os.path.join(self.tmp, "rules", "default.sieve"), "w") as f:
            f.write(DEFAULT)

    def test_admin(self):
        self.start()
        admin = self.client("admin@desk.test")

        # ---- agents ----
        r = admin.post("/api/v1/agents", {"email": "Erin@Desk.test", "name": "Erin", "queues": ["inbox", "billing"]})
        self.assertEqual(r.status, 201, r)
        self.assertEqual((r.json["agent"]["email"], r.json["agent"]["role"]), ("erin@desk.test", "agent"))
        otp = r.json["password"]
        self.assertEqual(len(otp), 16)
        erin = self.client()
        erin.login("erin@desk.test", otp)
        self.assertEqual(admin.post("/api/v1/agents", {"email": "erin@desk.test", "name": "E"}).status, 409)
        self.assertEqual(admin.post("/api/v1/agents", {"email": "not-an-address", "name": "E"}).status, 400)
        self.assertEqual(admin.post("/api/v1/agents", {"email": "x@y.z", "name": "X", "role": "boss"}).status, 400)
        r = admin.patch("/api/v1/agents/%s" % q("erin@desk.test"), {"role": "admin", "queues": ["billing"]})
        self.assertEqual((r.status, r.json["agent"]["role"], r.json["agent"]["queues"]), (200, "admin", ["billing"]))
        self.assertEqual(admin.patch("/api/v1/agents/%s" % q("admin@desk.test"), {"role": "agent"}).status, 400,
                         "an admin cannot demote themselves")
        r = admin.post("/api/v1/agents/%s/password" % q("erin@desk.test"), {})
        self.assertEqual(r.status, 200)
        self.assertEqual(erin.get("/api/v1/session").status, 401, "a new password ends the sessions")
        r = admin.post("/api/v1/agents/%s/tokens" % q("erin@desk.test"), {"label": "ci"})
        self.assertEqual(r.status, 201)
        self.assertEqual(self.client(bearer=r.json["token"]).get("/api/v1/session").json["agent"]["email"],
                         "erin@desk.test")
        self.assertEqual(len(admin.get("/api/v1/agents/%s/tokens" % q("erin@desk.test")).json["tokens"]), 1)
        self.assertEqual(admin.delete("/api/v1/agents/%s" % q("erin@desk.test")).status, 200)
        self.assertEqual(admin.get("/api/v1/agents/%s" % q("erin@desk.test")).status, 404)
        self.assertEqual(admin.delete("/api/v1/agents/%s" % q("admin@desk.test")).status, 400)
        audit = admin.get("/api/v1/audit").json["audit"]
        acts = [(a["action"], a["actor"], a["target"]) for a in audit]
        for action in ("agent-add", "agent-update", "agent-password", "token-add", "agent-remove"):
            self.assertIn((action, "admin@desk.test", "erin@desk.test"), acts)
        cli = self.rd_json("agents", "list", "--config", self.config)
        api = admin.get("/api/v1/agents").json["agents"]
        self.assertEqual(cli, api, "the CLI and the API print the same agents")

        # ---- allowlist ----
        r = admin.post("/api/v1/allowlist", {"cidr": "192.0.2.0/24", "staging": True, "days": 20,
                                             "application": "ERP", "admin_name": "Ann",
                                             "admin_email": "ann@example.com", "location": "rack 4"})
        self.assertEqual(r.status, 400, "staging at most 15 days")
        r = admin.post("/api/v1/allowlist", {"cidr": "192.0.2.0/24", "staging": True, "days": 10,
                                             "application": "ERP", "admin_name": "Ann",
                                             "admin_email": "ann@example.com", "location": "rack 4"})
        self.assertEqual(r.status, 201, r)
        self.assertEqual((r.json["entry"]["staging"], r.json["entry"]["application"]), (True, "ERP"))
        entries = admin.get("/api/v1/allowlist").json["entries"]
        self.assertIn("192.0.2.0/24", [e["cidr"] for e in entries])
        self.assertEqual(entries[0]["source"], "config")
        self.assertIn(admin.delete("/api/v1/allowlist/%s" % q("127.0.0.0/8")).status, (400, 404))
        self.assertIn("127.0.0.0/8", [e["cidr"] for e in admin.get("/api/v1/allowlist").json["entries"]])
        self.assertEqual(admin.delete("/api/v1/allowlist/%s" % q("192.0.2.0/24")).status, 200)
        self.assertNotIn("192.0.2.0/24", [e["cidr"] for e in admin.get("/api/v1/allowlist").json["entries"]])

        # ---- a ticket, a reply queued without a relay: the outbox ----
        self.send_mail(subject="Invoice 7 wrong", body="My invoice is wrong.")
        t = self.wait_ticket(admin, "Invoice 7 wrong")
        n = t["number"]
        r = admin.post("/api/v1/tickets/%d/reply" % n, {"text": "We fix it."})
        self.assertEqual(r.status, 201, r)
        oid = r.json["outbox_id"]
        items = admin.get("/api/v1/outbox?state=queued").json["items"]
        self.assertIn(oid, [i["id"] for i in items])
        r = admin.get("/api/v1/outbox/%d" % oid)
        self.assertIn("We fix it.", r.json["item"]["raw"])
        r = admin.post("/api/v1/outbox/%d/drop" % oid, {"reason": "wrong text"})
        self.assertEqual((r.status, r.json["item"]["state"]), (200, "dropped"))
        r = admin.post("/api/v1/outbox/%d/retry" % oid, {})
        self.assertEqual((r.status, r.json["item"]["state"]), (200, "queued"))
        acts = [(a["action"], a["actor"], a["target"]) for a in admin.get("/api/v1/audit").json["audit"]]
        for line in (("allowlist-add", "admin@desk.test", "192.0.2.0/24"),
                     ("allowlist-remove", "admin@desk.test", "192.0.2.0/24"),
                     ("outbox-drop", "admin@desk.test", "outbox %d" % oid),
                     ("outbox-retry", "admin@desk.test", "outbox %d" % oid)):
            self.assertIn(line, acts)

        # ---- quarantine: the reason, reprocess ----
        db = os.path.join(self.data, "relaydesk.db")
        sid = subprocess.run(["sqlite3", db, "SELECT spool_id FROM messages WHERE ticket_number = %d" % n],
                             capture_output=True, text=True).stdout.strip()
        subprocess.run(["sqlite3", "-cmd", ".timeout 5000", db, "UPDATE spool SET state = 'quarantined', "
                        "state_reason = 'parse failed: test' WHERE id = %s" % sid], check=True)
        r = admin.get("/api/v1/spool/quarantine")
        self.assertEqual([(m["id"], m["reason"]) for m in r.json["messages"]], [(int(sid), "parse failed: test")])
        r = admin.get("/api/v1/spool/%s/raw" % sid)
        self.assertIn(b"My invoice is wrong.", r.body)
        self.assertTrue(r.header("Content-Disposition").startswith("attachment"))
        self.assertEqual(admin.post("/api/v1/spool/%s/reprocess" % sid, {}).status, 200)
        self.assertEqual(admin.get("/api/v1/spool/quarantine").json["messages"], [])
        self.assertEqual(admin.post("/api/v1/spool/%s/reprocess" % sid, {}).status, 400, "only quarantined ones")

        # ---- relay check: its steps ----
        r = admin.post("/api/v1/relay/check", {"url": "smtp://127.0.0.1:1"})
        self.assertEqual(r.status, 200, r)
        self.assertFalse(r.json["ok"])
        steps = {s["name"]: s["ok"] for s in r.json["steps"]}
        self.assertTrue(steps.get("resolve"), r.json)
        self.assertIn(False, steps.values())
        self.assertIn("✗ connect", r.json["output"])
        self.assertEqual(steps.get("connect"), False)

        # ---- rules: list, check with positions, dry run, save, versions, restore ----
        r = admin.get("/api/v1/rules")
        self.assertEqual([(s["name"], s["role"], s["exists"]) for s in r.json["scripts"]],
                         [("default.sieve", "default", True)])
        r = admin.get("/api/v1/rules/default.sieve")
        self.assertEqual(r.json["text"], DEFAULT)
        self.assertIn(admin.get("/api/v1/rules/%s" % q("../relaydesk.conf")).status, (400, 404))
        self.assertEqual(admin.get("/api/v1/rules/other.sieve").status, 404, "only the files [rules] names")
        self.assertEqual(admin.put("/api/v1/rules/other.sieve", {"text": DEFAULT}).status, 404)
        r = admin.post("/api/v1/rules/check", {"text": BROKEN, "name": "default.sieve"})
        self.assertEqual(r.status, 200)
        self.assertFalse(r.json["ok"])
        err = [d for d in r.json["diagnostics"] if d["severity"] == "error"][0]
        self.assertEqual(err["line"], 4, err)
        self.assertGreaterEqual(err["column"], 1)
        r = admin.post("/api/v1/rules/check", {"text": ROUTED})
        self.assertTrue(r.json["ok"], r.json)
        r = admin.post("/api/v1/rules/test", {"text": ROUTED, "ticket": n})
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.json["compiled"])
        self.assertIn('fileinto "billing"', r.json["actions_text"])
        self.assertIn("fileinto", [a["type"] for a in r.json["actions"]])
        nxt = r.json["ticket"]["number"]
        self.assertGreater(nxt, 0)
        self.assertIn("subject=\"Re: [RD #%d]\"" % nxt, r.json["actions_text"], "${ticket.tag} filled")
        self.assertNotIn("${ticket", r.json["actions_text"])
        r = admin.post("/api/v1/rules/test", {"text": BROKEN, "ticket": n})
        self.assertFalse(r.json["compiled"])
        self.assertEqual(r.json["diagnostics"][0]["line"], 4)

        r = admin.put("/api/v1/rules/default.sieve", {"text": BROKEN})
        self.assertEqual((r.status, r.json["code"]), (422, "invalid_script"))
        with open(os.path.join(self.tmp, "rules", "default.sieve")) as f:
            self.assertEqual(f.read(), DEFAULT, "a broken script never replaces a working one")
        r = admin.put("/api/v1/rules/default.sieve", {"text": ROUTED})
        self.assertEqual(r.status, 200, r)
        v2 = r.json["version"]
        with open(os.path.join(self.tmp, "rules", "default.sieve")) as f:
            self.assertEqual(f.read(), ROUTED)
        # Active at once: the next invoice lands in billing.
        time.sleep(0.3)
        self.send_mail(subject="Another invoice", body="invoice please")
        deadline = time.time() + 20
        queue = None
        while time.time() < deadline and queue != "billing":
            for t2 in admin.get("/api/v1/tickets").json["tickets"]:
                if t2["subject"] == "Another invoice":
                    queue = t2["queue"]
            time.sleep(0.1)
        self.assertEqual(queue, "billing")
        r = admin.put("/api/v1/rules/default.sieve", {"text": DEFAULT})
        v3 = r.json["version"]
        versions = admin.get("/api/v1/rules/default.sieve/versions").json["versions"]
        self.assertEqual([v["id"] for v in versions], [v3, v2])
        self.assertEqual(versions[0]["saved_by"], "admin@desk.test")
        r = admin.post("/api/v1/rules/default.sieve/restore", {"version": v2})
        self.assertEqual(r.status, 200, r)
        with open(os.path.join(self.tmp, "rules", "default.sieve")) as f:
            self.assertEqual(f.read(), ROUTED)
        acts = [(a["action"], a["actor"]) for a in admin.get("/api/v1/audit").json["audit"]]
        self.assertIn(("rules-save", "admin@desk.test"), acts)

        # ---- `rules test` on the CLI fills ${ticket.*} the same way ----
        msg = os.path.join(self.tmp, "m.eml")
        with open(msg, "wb") as f:
            f.write(b"From: c@example.com\r\nTo: support@desk.test\r\nSubject: invoice\r\n"
                    b"Message-ID: <cli.1@example.com>\r\n\r\nhi\r\n")
        script = os.path.join(self.tmp, "rules", "default.sieve")
        for data_dir, number in ((None, nxt + 1), (os.path.join(self.tmp, "none"), 1)):
            out = self.rd("rules", "test", "--script", script, "--message", msg, "--from", "c@example.com",
                          "--to", "support@desk.test", "--config", self.config, data_dir=data_dir).stdout.decode()
            self.assertIn('subject="Re: [RD #%d]"' % number, out)


if __name__ == "__main__":
    main()
