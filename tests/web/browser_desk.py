#!/usr/bin/python3
"""The web desk in headless Chromium against a real `relaydesk serve`:
log in; mail sent over SMTP appears in the open list without a reload
(within 2 s); open it; reply with an attachment that reaches an aiosmtpd
relay intact (same SHA-256); note, assign, status, priority, tag; search;
keyboard; bulk actions; two agents on one ticket see each other and the
second reply is held back until confirmed; screenshots of the main pages
at desktop and phone width (build folder, web-screenshots/). Prints the
time to the first list and the list view's page weight.
"""
import hashlib
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from browserlib import By, DeskTestCase, Keys, SHOTS, mail, main  # noqa: E402

ALICE, BOB = "alice@desk.test", "bob@desk.test"
CUSTOMER = "carol@customer.example"
# Under the sanitizers everything is several times slower.
SLOW = 3 if os.environ.get("ASAN_OPTIONS") else 1


class BrowserDesk(DeskTestCase):
    AGENTS = ((ALICE, "Alice Agent", "admin"), (BOB, "Bob Agent", "agent"))
    # a second queue for the sidebar, and a script for the playground's screenshot
    SCRIPT = 'require ["fileinto"];\nif header :contains "subject" "invoice" {\n  fileinto "billing";\n}\n'
    state = {}

    def a(self):
        if "a" not in self.state:
            b = self.browser("alice")
            self.login(b, ALICE)
            self.state["a"] = b
        return self.state["a"]

    def row(self, b, subject):
        """The number of the list's row whose text has @subject, or None
        (read in the page at once: the list re-renders on live updates)."""
        n = b.js("""for (const tr of document.querySelectorAll('#ticket-rows tr[data-number]'))
                      if (tr.textContent.includes(arguments[0])) return Number(tr.dataset.number);
                    return null;""", subject)
        return n

    def show(self, n):
        import json
        return json.loads(self.rd("tickets", "show", str(n), "--json"))

    # ------------------------------------------------------------------------
    def test_1_login_and_live_list(self):
        b = self.a()
        self.assertEqual(b.q("#me").text, "Alice Agent")
        # A fresh load of the list with the session: time to the first list
        # and the page weight (every resource, uncompressed, the event
        # stream excepted).
        b.d.get("about:blank")      # a new document, not a hash change
        b.d.get(self.base + "/#/")
        b.wait(lambda: b.js("return document.body.dataset.firstListAt"), what="the first list")
        first = int(b.js("return document.body.dataset.firstListAt"))
        weight = b.js("""
            const n = performance.getEntriesByType('navigation')[0];
            let total = n ? n.decodedBodySize : 0;
            const seen = [];
            for (const r of performance.getEntriesByType('resource')) {
              if (r.name.includes('/api/v1/events')) continue;
              total += r.decodedBodySize; seen.push(r.name.replace(location.origin, '') + ' ' + r.decodedBodySize);
            }
            return [total, seen];""")
        print(f"\ntime to first list: {first} ms (navigation start to rows shown)\n"
              f"list view page weight: {weight[0]} bytes uncompressed ({len(weight[1])} resources: {weight[1]})",
              file=sys.stderr)
        self.assertLess(weight[0], 200 * 1024, "the list view stays under 200 KB")
        self.assertGreater(weight[0], 10000, "the weight counts the scripts and styles")
        self.assertLess(first, 5000 * SLOW)
        b.wait(lambda: "live" in b.text("#live"), what="the event stream")
        # Mail right as the stream opens: the server's change poller starts
        # with the first stream and its first look takes what exists as
        # already seen (web/events.c); the page asks again once after the
        # stream opens, so this mail shows too.
        self.send(mail(f"Carol <{CUSTOMER}>", "Early bird", "Sent as the desk opened.\n"))
        b.wait(lambda: self.row(b, "Early bird"), timeout=8 * SLOW, what="mail sent as the stream opened")
        time.sleep(1.0)   # past the poller's first look: the next mail is an event

        # New mail appears without a reload.
        b.js("window.__noReload = 42")
        self.send(mail(f"Carol <{CUSTOMER}>", "Printer on fire in room 12",
                       "The printer in room 12 is on fire.\nPlease send help.\n\n> earlier\n> quoted text\n"))
        sent = time.time()
        b.wait(lambda: self.row(b, "Printer on fire"), timeout=10 * SLOW, what="the new ticket in the open list")
        took = time.time() - sent
        print(f"new mail in the open list after {took * 1000:.0f} ms", file=sys.stderr)
        self.assertEqual(b.js("return window.__noReload"), 42, "the page was not reloaded")
        if took >= 2.0 * SLOW:
            # once more, so that a moment of load on a shared machine does
            # not decide it: the better of two must be within 2 s
            self.send(mail(f"Carol <{CUSTOMER}>", "Second printer", "The other one too.\n"))
            sent = time.time()
            b.wait(lambda: self.row(b, "Second printer"), timeout=10 * SLOW, what="the second new ticket")
            took = min(took, time.time() - sent)
            print(f"again: {took * 1000:.0f} ms", file=sys.stderr)
        self.assertLess(took, 2.0 * SLOW, "new mail is visible within 2 s")
        self.state["n"] = self.row(b, "Printer on fire")

    def test_2_open_and_reply_with_attachment(self):
        b = self.a()
        n = self.state["n"]
        b.d.get(self.base + "/#/")
        b.wait(lambda: self.row(b, "Printer on fire"), what="the list")
        # keyboard: j moves the cursor, o opens
        idx = b.js("return [...document.querySelectorAll('#ticket-rows tr[data-number]')]"
                   ".map(tr => Number(tr.dataset.number)).indexOf(arguments[0])", n)
        self.assertGreaterEqual(idx, 0)
        body = b.q("body")
        for _ in range(idx + 1):
            body.send_keys("j")
        self.assertEqual(b.js("return Number(document.querySelector('#ticket-rows tr.cursor').dataset.number)"), n)
        body.send_keys("o")
        b.wait(lambda: b.qs("#thread article.msg"), what="the ticket")
        t = self.show(n)
        self.assertIn("Printer on fire", b.text("#ticket-subject"))
        self.assertEqual(b.text("#subject-tag"), t["subject_tag"])
        self.assertEqual(b.text("#reply-address"), t["reply_address"])
        self.assertIn(CUSTOMER, b.text("#participants"))
        msg = b.q("#thread article.msg.inbound")
        self.assertIn("The printer in room 12 is on fire.", msg.text)
        # The sender mark says what the API says of the first inbound message.
        auth = [m for m in t["messages"] if m.get("direction") == "inbound"][0]["authentication"]
        self.assertIsNotNone(auth)
        self.assertEqual(msg.find_element(By.CSS_SELECTOR, ".badge.sender").text,
                         "sender verified" if auth["verified"] else "sender not verified")
        self.assertNotIn("quoted text", msg.find_element(By.CSS_SELECTOR, ".body").text, "quoted history folded")
        msg.find_element(By.CSS_SELECTOR, "details.quoted summary").click()
        self.assertIn("quoted text", msg.find_element(By.CSS_SELECTOR, "details.quoted").text)

        # r: reply; an attachment; Ctrl+Enter sends.
        blob = os.urandom(48 * 1024) + b"\x00\xff end"
        path = os.path.join(self.tmp, "diagnostics report.bin")
        with open(path, "wb") as f:
            f.write(blob)
        b.q("body").send_keys("r")
        b.wait(lambda: b.js("return document.activeElement.id") == "compose-text", what="r to focus the reply")
        b.q("#compose-files").send_keys(path)
        b.wait(lambda: b.qs("#compose-attachments li[data-upload]"), what="the upload")
        box = b.q("#compose-text")
        box.send_keys("We are on our way with an extinguisher.")
        time.sleep(0.8)   # the draft is saved as the agent types
        r, data = self.http(b, "GET", f"/api/v1/tickets/{n}/draft")
        self.assertEqual(r.status, 200, data)
        self.assertIn(b"extinguisher", data, "the draft is on the server")
        box.send_keys(Keys.CONTROL, Keys.ENTER)
        b.wait(lambda: "extinguisher" in b.text("#thread article.msg.outbound"), what="the reply in the thread")
        self.assertEqual(b.q("#compose-text").get_attribute("value"), "")

        got = self.relayed(1)
        rep = got[-1]
        self.assertIn(t["subject_tag"], rep["Subject"])
        atts = [p for p in rep.iter_attachments()]
        self.assertEqual(len(atts), 1, rep)
        self.assertEqual(atts[0].get_filename(), "diagnostics report.bin")
        self.assertEqual(hashlib.sha256(atts[0].get_content()).hexdigest(), hashlib.sha256(blob).hexdigest(),
                         "the attachment reached the relay intact")
        print("attachment sha256 at the relay:", hashlib.sha256(blob).hexdigest(), file=sys.stderr)
        # The delivery state shows on the thread (after a reload).
        def sent():
            b.d.refresh()
            b.wait(lambda: b.qs("#thread article.msg.outbound"), what="the thread")
            return b.qs("#thread article.msg.outbound .badge.d-sent")
        self.wait_for(sent, timeout=20, what="the reply shown as sent")
        # The attachment is listed on the outbound message and downloadable.
        link = b.q("#thread article.msg.outbound a.attachment")
        self.assertEqual(link.text, "diagnostics report.bin")
        r, data = self.http(b, "GET", link.get_attribute("href").replace(self.base, ""))
        self.assertEqual(r.status, 200)
        self.assertEqual(hashlib.sha256(data).digest(), hashlib.sha256(blob).digest())
        self.assertTrue(r.getheader("Content-Disposition", "").startswith("attachment"))

    def test_3_note_assign_status_priority_tag(self):
        b = self.a()
        n = self.state["n"]
        b.d.get(f"{self.base}/#/ticket/{n}")
        b.wait(lambda: b.qs("#thread article.msg"), what="the ticket")
        b.q("body").send_keys("n")
        b.wait(lambda: b.js("return document.activeElement.id") == "compose-text", what="n to focus the note")
        b.q("#compose-text").send_keys("Facilities called, fire brigade informed.", Keys.CONTROL, Keys.ENTER)
        b.wait(lambda: "fire brigade" in b.text("#thread article.msg.note"), what="the note")
        b.q("body").send_keys("a")
        self.assertEqual(b.js("return document.activeElement.id"), "assignee")
        b.q("#assignee").send_keys(BOB, Keys.ENTER)
        self.wait_for(lambda: self.show(n)["assignee"] == BOB, what="the assignee saved")
        from selenium.webdriver.support.ui import Select
        Select(b.q("#status")).select_by_value("pending")
        self.wait_for(lambda: self.show(n)["status"] == "pending", what="status pending")
        Select(b.q("#priority")).select_by_value("high")
        self.wait_for(lambda: self.show(n)["priority"] == "high", what="priority high")
        b.q("#tag-add").send_keys("hardware", Keys.ENTER)
        self.wait_for(lambda: "hardware" in self.show(n)["tags"], what="the tag")
        b.wait(lambda: "hardware" in b.text("#tags"), what="the tag shown")
        b.q("body").send_keys("c")
        self.wait_for(lambda: self.show(n)["status"] == "closed", what="c closes the ticket")
        notes = [m for m in self.show(n)["messages"] if m["direction"] == "note"]
        self.assertEqual(len(notes), 1)
        self.assertEqual(len(self.relay.messages()), 1, "a note is not mailed")

    def test_4_search(self):
        b = self.a()
        self.send(mail("Dave <dave@customer.example>", "Question about the invoice",
                       "Where is my zeppelin-shaped invoice?\n"))
        self.send(mail("Erin <erin@customer.example>", "Another question", "Nothing special here.\n"))
        self.wait_for(lambda: len(self.tickets()) >= 3, what="three tickets")
        b.d.get(self.base + "/#/")
        b.wait(lambda: self.row(b, "Another question"), what="the list")
        b.q("body").send_keys("/")
        self.assertEqual(b.js("return document.activeElement.id"), "search")
        b.q("#search").send_keys("zeppelin", Keys.ENTER)
        b.wait(lambda: "q=zeppelin" in b.d.current_url and len(b.qs("#ticket-rows tr[data-number]")) == 1,
               what="one search result")
        self.assertIn("Question about the invoice", b.text("#ticket-rows"))
        b.q("#search").clear()
        b.q("#search").send_keys("nosuchwordanywhere", Keys.ENTER)
        b.wait(lambda: "No ticket matches" in b.text("#ticket-rows"), what="an empty search")

    def test_5_bulk(self):
        b = self.a()
        b.d.get(self.base + "/#/?status=new")
        b.wait(lambda: len(b.qs("#ticket-rows tr[data-number]")) >= 2, what="two new tickets")
        nums = b.js("return [...document.querySelectorAll('#ticket-rows input.pick')].slice(0, 2).map(c => Number(c.value))")
        for x in nums:   # by value: the list may re-render between clicks
            b.js("document.querySelector(`#ticket-rows input.pick[value='${arguments[0]}']`).click()", x)
        self.assertIn("2 selected", b.text("#bulk"))
        from selenium.webdriver.support.ui import Select
        Select(b.q("#bulk-status")).select_by_value("open")
        b.q("#bulk-tag").send_keys("batch")
        b.q("#bulk-apply").click()
        b.wait(lambda: len(b.qs("#bulk-results li")) == 2, what="a result per ticket")
        self.assertEqual(len(b.qs("#bulk-results li.ok")), 2, b.text("#bulk-results"))
        for x in nums:
            t = self.show(x)
            self.assertEqual((t["status"], "batch" in t["tags"]), ("open", True), x)

    def test_5b_views_and_drafts(self):
        b = self.a()
        # A saved view: the list's filters with a count.
        b.d.get(self.base + "/#/?status=open&tag=batch")
        b.wait(lambda: b.qs("#ticket-rows tr[data-number]"), what="the filtered list")
        shown = len(b.qs("#ticket-rows tr[data-number]"))
        b.q("#save-view").click()
        b.q("#view-name").send_keys("Open batch", Keys.ENTER)
        b.wait(lambda: "Open batch" in b.text("#views"), what="the view in the sidebar")
        b.wait(lambda: f"Open batch\n{shown}" in b.text("#views") or f"Open batch {shown}" in b.text("#views"),
               what=f"the view's count ({shown})")
        b.d.get(self.base + "/#/")
        b.wait(lambda: len(b.qs("#ticket-rows tr[data-number]")) > shown, what="the whole list")
        b.click_text("#views a", "Open batch")
        b.wait(lambda: len(b.qs("#ticket-rows tr[data-number]")) == shown and "status=open" in b.d.current_url,
               what="the view's tickets")
        # A draft typed on one ticket is there when the agent comes back.
        n = int(b.q("#ticket-rows tr[data-number]").get_attribute("data-number"))
        b.d.get(f"{self.base}/#/ticket/{n}")
        b.wait(lambda: b.qs("#compose-text"), what="the composer")
        b.q("#compose-text").send_keys("Half-written answer")
        b.wait(lambda: "Draft saved" in b.text("#draft-state"), what="the draft saved")
        b.d.get("about:blank")
        b.d.get(f"{self.base}/#/ticket/{n}")
        b.wait(lambda: b.q("#compose-text").get_attribute("value") == "Half-written answer", what="the draft restored")
        self.assertIn("Draft restored", b.text("#draft-state"))
        b.q("#compose-text").clear()
        b.q("#compose-text").send_keys(" ", Keys.BACKSPACE)
        b.wait(lambda: self.http(b, "GET", f"/api/v1/tickets/{n}/draft")[1].find(b"Half-written") < 0,
               what="the emptied draft")

    def test_6_collision(self):
        a = self.a()
        bob = self.browser("bob")
        self.login(bob, BOB)
        self.send(mail(f"Carol <{CUSTOMER}>", "Collision course", "Two agents will answer this.\n"))
        n = self.wait_for(lambda: [t["number"] for t in self.tickets() if t["subject"] == "Collision course"],
                          what="the ticket")[0]
        # Bob opens it: Alice sees him on the ticket's row of her list.
        a.d.get(self.base + "/#/")
        a.wait(lambda: self.row(a, "Collision course"), what="the ticket in Alice's list")
        bob.d.get(f"{self.base}/#/ticket/{n}")
        bob.wait(lambda: bob.qs("#thread article.msg"), what="the ticket")
        a.wait(lambda: "Bob Agent" in a.text(f'[data-presence="{n}"]'), timeout=5, what="Bob on the row in Alice's list")
        a.click(f'#ticket-rows tr[data-number="{n}"] td.subject a')
        a.wait(lambda: a.qs("#thread article.msg"), what="the ticket")
        a.wait(lambda: "Bob Agent" in a.text("#presence"), what="Alice sees Bob")
        a.wait(lambda: "Printer on fire" in a.text("#requester-tickets"), what="the requester's other ticket")
        bob.wait(lambda: "Alice Agent" in bob.text("#presence"), what="Bob sees Alice")
        bob.q("#compose-text").send_keys("I am typing")
        a.wait(lambda: "replying" in a.text("#presence"), what="Alice sees Bob replying")
        before = len(self.relay.messages())
        a.q("#compose-text").send_keys("Alice answers first.", Keys.CONTROL, Keys.ENTER)
        a.wait(lambda: "Alice answers first." in a.text("#thread"), what="Alice's reply")
        bob.q("#compose-text").send_keys(" and answer second.", Keys.CONTROL, Keys.ENTER)
        bob.wait(lambda: bob.visible("#collision"), what="Bob's reply held back")
        self.assertIn("Alice answers first.", bob.text("#newer-messages"), "the newer message is shown")
        self.relayed(before + 1)
        time.sleep(1)
        self.assertEqual(len(self.relay.messages()), before + 1, "the second reply was not sent")
        self.assertEqual(len([m for m in self.show(n)["messages"] if m["direction"] == "outbound"]), 1)
        bob.q("#set-pending").click()
        bob.q("#confirm-send").click()
        bob.wait(lambda: "answer second" in bob.text("#thread"), what="Bob's confirmed reply")
        self.relayed(before + 2)
        self.assertEqual(self.show(n)["status"], "pending", "set pending with the reply")
        a.d.get(self.base + "/#/")
        bob.d.get(self.base + "/#/")
        bob.quit()

    def test_7_screenshots(self):
        b = self.a()
        n = self.state["n"]
        pages = [("list", "/#/", "#ticket-rows tr"), ("ticket", f"/#/ticket/{n}", "#thread article"),
                 ("agents", "/#/admin/agents", "#agents-table"), ("allowlist", "/#/admin/allowlist", "#allowlist-table"),
                 ("outbox", "/#/admin/outbox", "#outbox-table"), ("quarantine", "/#/admin/quarantine", "#quarantine-table"),
                 ("relay-check", "/#/admin/relay", "#relay-check"), ("rules", "/#/admin/rules", "#rule-editor"),
                 ("audit", "/#/admin/audit", "#audit-table"), ("account", "/#/account", "#password-change")]
        for width, height, kind in ((1280, 900, "desktop"), (390, 844, "phone")):
            b.d.set_window_size(width, height)
            for name, path, ready in pages:
                b.d.get(self.base + path)
                b.wait(lambda: b.qs(ready), what=name)
                if name == "relay-check":     # photographed with its steps
                    b.q("#relay-check button[type=submit]").click()
                    b.wait(lambda: b.qs("#relay-result"), timeout=20, what="the relay check")
                time.sleep(0.2)
                b.shot(f"{name}-{kind}")
            if kind == "phone":
                w = b.js("return document.documentElement.scrollWidth")
                self.assertLessEqual(w, 400, "no horizontal scrolling at phone width")
                b.d.get(self.base + "/#/")
                b.wait(lambda: b.qs("#ticket-rows tr"), what="the list")
                self.assertFalse(b.visible("#side"), "the sidebar folds away at phone width")
                b.q("#menu-toggle").click()
                b.wait(lambda: b.visible("#side") and b.visible("#topnav"), what="the menu opened")
                b.shot("menu-phone")
                b.q("#menu-toggle").click()
        b.d.set_window_size(1280, 900)
        b.q("body").send_keys("?")
        b.wait(lambda: b.visible("#help"), what="? opens the shortcuts")
        b.shot("help-desktop")
        b.q("#help button").click()
        b.q("#logout").click()
        b.wait(lambda: b.qs("#login-form"), what="the login form")
        b.shot("login-desktop")
        b.d.set_window_size(390, 844)
        b.shot("login-phone")
        self.state.pop("a").quit()
        print("screenshots in " + SHOTS, file=sys.stderr)


if __name__ == "__main__":
    main()
