"""The web desk's API for agents, against a real serve and SQLite:
login and session, queues with counts, the ticket list (filters, sort,
paging, search, total), a ticket (fields of `tickets show --json`,
version and ETag), notes, changes and the audit log naming the agent,
bulk changes with a result per ticket, drafts, saved views, the
requester's tickets, live events (new mail within 2 s) and presence.
"""
import http.client
import json
import signal
import time

from webdesk import WebDeskTestCase, main, q


class ApiTest(WebDeskTestCase):
    def test_agent_flows(self):
        self.start()
        admin = self.client("admin@desk.test")
        alice = self.client("alice@desk.test")

        # ---- session ----
        r = alice.get("/api/v1/session")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json["agent"]["email"], "alice@desk.test")
        self.assertEqual(r.json["agent"]["queues"], ["inbox"])
        self.assertEqual(r.json["agent"]["role"], "agent")
        self.assertEqual(r.json["csrf"], alice.csrf)
        self.assertNotIn("password_hash", r.body.decode())

        # ---- mail arrives; the list, filters, search ----
        for i in range(3):
            self.send_mail(subject="Printer %d broken" % i, body="The printer number %d is jammed." % i)
        self.send_mail(subject="Invoice question", body="Where is my invoice kumquat?", sender="payer@example.com")
        t3 = self.wait_ticket(alice, "Invoice question")
        for i in range(3):
            self.wait_ticket(alice, "Printer %d broken" % i)
        r = alice.get("/api/v1/tickets")
        self.assertEqual(r.status, 200)
        body = r.json
        self.assertEqual(body["total"], 4)
        self.assertEqual([t["number"] for t in body["tickets"]], sorted([t["number"] for t in body["tickets"]], reverse=True))
        for field in ("number", "queue", "status", "priority", "assignee", "tags", "subject", "requester",
                      "subject_tag", "reply_address", "created_at", "updated_at", "message_count"):
            self.assertIn(field, body["tickets"][0])
        # The same JSON as the CLI's --json.
        cli = self.rd_json("tickets", "list", "--config", self.config)
        self.assertEqual(sorted(cli[0].keys()), sorted(body["tickets"][0].keys()))
        r = alice.get("/api/v1/tickets?per_page=2&page=2&sort=created")
        self.assertEqual((r.json["page"], r.json["per_page"], len(r.json["tickets"]), r.json["has_more"]), (2, 2, 2, False))
        self.assertLess(r.json["tickets"][0]["number"], r.json["tickets"][1]["number"])
        r = alice.get("/api/v1/tickets?q=kumquat")
        self.assertEqual([t["number"] for t in r.json["tickets"]], [t3["number"]])
        r = alice.get("/api/v1/tickets?q=printer&status=new&per_page=2")
        self.assertEqual((len(r.json["tickets"]), r.json["total"], r.json["has_more"]), (2, 3, True))
        self.assertEqual(alice.get("/api/v1/tickets?status=bogus").status, 400)
        self.assertEqual(alice.get("/api/v1/tickets?per_page=5000").status, 400)

        # ---- queues with counts ----
        r = alice.get("/api/v1/queues")
        self.assertEqual(r.json["queues"], [{"name": "inbox", "counts": {"new": 4, "open": 0, "pending": 0,
                                                                        "resolved": 0, "closed": 0}, "total": 4}])

        # ---- one ticket ----
        n = t3["number"]
        r = alice.get("/api/v1/tickets/%d" % n)
        self.assertEqual(r.status, 200)
        view = r.json
        cli = self.rd_json("tickets", "show", str(n), "--config", self.config)
        self.assertEqual(sorted(set(view) - {"version", "presence"}), sorted(cli.keys()))
        self.assertEqual(view["messages"][0]["body_text"].strip(), "Where is my invoice kumquat?")
        self.assertEqual(r.header("ETag"), '"v%d"' % view["version"])
        self.assertEqual(r.header("Cache-Control"), "no-store")

        # ---- note, changes, audit names the agent ----
        r = alice.post("/api/v1/tickets/%d/notes" % n, {"text": "Called the customer.", "version": view["version"]})
        self.assertEqual(r.status, 201, r)
        r = alice.patch("/api/v1/tickets/%d" % n, {"status": "open", "priority": "high", "assignee": "alice@desk.test",
                                                  "tags_add": ["vip", "billing-q"]})
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json["status"], r.json["priority"], r.json["assignee"], r.json["tags"]),
                         ("open", "high", "alice@desk.test", ["billing-q", "vip"]))
        r = alice.patch("/api/v1/tickets/%d" % n, {"tags_remove": ["vip"], "status": "bogus"})
        self.assertEqual(r.status, 400)
        r = alice.get("/api/v1/tickets/%d" % n)
        self.assertEqual(r.json["tags"], ["billing-q", "vip"], "a refused change changes nothing")
        actors = {(a["action"], a["actor"]) for a in r.json["audit"]}
        for action in ("status", "priority", "assignee", "tag-add", "note"):
            self.assertIn((action, "alice@desk.test"), actors)
        self.assertEqual(r.json["messages"][-1]["direction"], "note")
        r = alice.patch("/api/v1/tickets/%d" % n, {"queue": "billing"})
        self.assertEqual(r.status, 403, "an agent moves a ticket only into their own queues")
        r = alice.get("/api/v1/tickets?status=open&priority=high&tag=vip&assignee=alice@desk.test")
        self.assertEqual([t["number"] for t in r.json["tickets"]], [n])
        r = alice.get("/api/v1/tickets?assignee=-")
        self.assertNotIn(n, [t["number"] for t in r.json["tickets"]])

        # ---- bulk: a result per ticket ----
        numbers = [t["number"] for t in alice.get("/api/v1/tickets").json["tickets"]]
        r = alice.post("/api/v1/tickets/bulk", {"numbers": numbers + [99999], "set": {"status": "pending",
                                                                                      "tags_add": ["batch"]}})
        self.assertEqual(r.status, 200)
        res = {x["number"]: x for x in r.json["results"]}
        self.assertTrue(all(res[x]["ok"] for x in numbers))
        self.assertEqual((res[99999]["ok"], res[99999]["code"]), (False, "not_found"))
        self.assertEqual(r.json["failed"], 1)
        self.assertEqual(alice.get("/api/v1/queues").json["queues"][0]["counts"]["pending"], 4)

        # ---- drafts ----
        self.assertIsNone(alice.get("/api/v1/tickets/%d/draft" % n).json["text"])
        r = alice.put("/api/v1/tickets/%d/draft" % n, {"text": "Dear customer,"})
        self.assertEqual((r.status, r.json["text"]), (200, "Dear customer,"))
        self.assertEqual(alice.get("/api/v1/tickets/%d/draft" % n).json["text"], "Dear customer,")
        self.assertIsNone(admin.get("/api/v1/tickets/%d/draft" % n).json["text"], "a draft is the agent's own")
        self.assertEqual(alice.delete("/api/v1/tickets/%d/draft" % n).status, 200)
        self.assertIsNone(alice.get("/api/v1/tickets/%d/draft" % n).json["text"])

        # ---- saved views with counts ----
        r = alice.post("/api/v1/views", {"name": "Pending", "filters": {"status": "pending", "junk": "x"}})
        self.assertEqual(r.status, 201, r)
        vid = r.json["id"]
        alice.post("/api/v1/views", {"name": "VIP", "filters": {"tag": "vip"}})
        views = {v["name"]: v for v in alice.get("/api/v1/views").json["views"]}
        self.assertEqual((views["Pending"]["count"], views["VIP"]["count"]), (4, 1))
        self.assertEqual(views["Pending"]["filters"], {"status": "pending"})
        self.assertEqual(admin.get("/api/v1/views").json["views"], [])
        self.assertEqual(alice.post("/api/v1/views", {"name": "Bad", "filters": {"status": "nope"}}).status, 400)
        self.assertEqual(admin.delete("/api/v1/views/%d" % vid).status, 404, "another agent's view")
        self.assertEqual(alice.delete("/api/v1/views/%d" % vid).status, 200)

        # ---- the requester's other tickets ----
        r = alice.get("/api/v1/requesters/%s/tickets" % q("CUSTOMER@example.com"))
        self.assertEqual(len(r.json["tickets"]), 3)

        # ---- live: new mail within 2 s, presence ----
        conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=10)
        conn.request("GET", "/api/v1/events", headers={"Cookie": "rd_session=" + alice.cookie})
        resp = conn.getresponse()
        self.assertEqual(resp.status, 200)
        self.assertTrue(resp.getheader("Content-Type").startswith("text/event-stream"))
        time.sleep(1.2)  # the poller has seen the current state
        self.send_mail(subject="Live one", body="arrives live")
        t0 = time.time()  # the 250: the mail has arrived
        events = []
        buf = b""
        while time.time() - t0 < 8:
            line = resp.fp.readline()
            buf += line
            if line == b"\n" and buf.strip():
                ev = {}
                for l in buf.decode().splitlines():
                    if l.startswith("event: "):
                        ev["event"] = l[7:]
                    elif l.startswith("data: "):
                        ev["data"] = json.loads(l[6:])
                buf = b""
                if "event" in ev:
                    events.append((time.time() - t0, ev))
                    if ev["event"] == "ticket.new" and ev["data"]["ticket"]["subject"] == "Live one":
                        break
        new = [(dt, e) for dt, e in events if e["event"] == "ticket.new"]
        self.assertTrue(new, events)
        self.assertLess(new[0][0], 2.5, "new mail appears within 2 s of its 250 (a little slack for loaded CI)")
        live = new[0][1]["data"]["ticket"]["number"]

        # presence: alice views, admin replies; alice's stream sees it
        r = admin.post("/api/v1/tickets/%d/presence" % live, {"state": "replying"})
        self.assertEqual(r.status, 200, r)
        r = alice.post("/api/v1/tickets/%d/presence" % live, {"state": "viewing"})
        self.assertEqual({(p["email"], p["state"]) for p in r.json["presence"]},
                         {("admin@desk.test", "replying"), ("alice@desk.test", "viewing")})
        got = False
        deadline = time.time() + 5
        while time.time() < deadline and not got:
            line = resp.fp.readline()
            if line.startswith(b"data: ") and b'"presence"' in line:
                d = json.loads(line[6:])
                got = d["number"] == live and any(p["email"] == "admin@desk.test" for p in d["presence"])
        self.assertTrue(got, "the presence event reaches the other agent")
        conn.close()
        view = alice.get("/api/v1/tickets/%d" % live).json
        self.assertIn("admin@desk.test", [p["email"] for p in view["presence"]])
        lst = alice.get("/api/v1/tickets").json
        self.assertIn(str(live), lst["presence"])
        self.assertEqual(admin.post("/api/v1/tickets/%d/presence" % live, {"state": "dancing"}).status, 400)
        admin.post("/api/v1/tickets/%d/presence" % live, {"state": "left"})
        view = alice.get("/api/v1/tickets/%d" % live).json
        self.assertNotIn("admin@desk.test", [p["email"] for p in view["presence"]])

        # ---- password change needs the current password; logout ----
        r = alice.post("/api/v1/session/password", {"current": "wrong password!", "new": "a new password 1"})
        self.assertEqual(r.status, 403)
        r = alice.post("/api/v1/session/password", {"current": "correct horse battery", "new": "a new password 1"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(alice.get("/api/v1/session").status, 200, "the current session stays")
        other = self.client()
        other.login("alice@desk.test", expect=401)
        other.login("alice@desk.test", "a new password 1")
        self.assertEqual(alice.delete("/api/v1/session").status, 200)
        self.assertEqual(alice.get("/api/v1/tickets").status, 401)

        # ---- a clean stop with a stream open and a poll queued ----
        conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=10)
        conn.request("GET", "/api/v1/events", headers={"Cookie": "rd_session=" + admin.cookie})
        self.assertEqual(conn.getresponse().status, 200)
        time.sleep(1.5)
        self.assertEqual(self.server.stop(signal.SIGTERM), 0, self.server.read_log()[-2000:])
        conn.close()


if __name__ == "__main__":
    main()
