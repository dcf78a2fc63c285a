#!/usr/bin/python3
"""The admin pages in headless Chromium against a real serve: agents
(add with a one-time password, change role and queues, reset the
password, remove), the allowlist's relay request
form (staging at most 15 days), the outbox (a reply the relay refused:
retry, drop), the spool's quarantine (the reason; reprocess) and the
relay check with its steps. An agent who is not an admin gets no admin
links and a refusal; their account page (password change, API tokens);
a login with a TOTP second factor.
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from browserlib import PASSWORD, DeskTestCase, Keys, main, mail  # noqa: E402


class Admin(DeskTestCase):
    AGENTS = (("alice@desk.test", "Alice Agent", "admin"), ("bob@desk.test", "Bob Agent", "agent"))
    # a stranger quoting a ticket's tag is held in the quarantine
    DESK_CONF = "stranger_tag = quarantine\n"

    def cli_json(self, *args):
        return json.loads(self.rd(*args, "--json"))

    def test_admin_pages(self):
        b = self.browser("alice")
        self.login(b)

        # Agents: add one (a one-time password is shown once), remove it.
        b.d.get(self.base + "/#/admin/agents")
        b.wait(lambda: "bob@desk.test" in b.text("#agents-table"), what="the agents")
        f = b.q("#agent-add")
        f.find_element("name", "email").send_keys("carl@desk.test")
        f.find_element("name", "name").send_keys("Carl <b>New</b>")
        f.find_element("name", "queues").send_keys("inbox, billing")
        f.find_element("css selector", "button[type=submit]").click()
        b.wait(lambda: "One-time password for carl@desk.test" in b.text("#agent-password"), what="the one-time password")
        self.assertIn("Carl <b>New</b>", b.text("#agents-table"), "names shown as text")
        self.assertEqual(sorted(a["email"] for a in self.cli_json("agents", "list")),
                         ["alice@desk.test", "bob@desk.test", "carl@desk.test"])
        # change Carl: role and queues; reset his password
        from selenium.webdriver.support.ui import Select
        Select(b.q("#agent-edit-email")).select_by_value("carl@desk.test")
        self.assertEqual(sorted(b.q("#agent-edit-queues").get_attribute("value").split(", ")), ["billing", "inbox"])
        b.q("#agent-edit-queues").clear()
        b.q("#agent-edit-queues").send_keys("tech")
        Select(b.q("#agent-edit-role")).select_by_value("admin")
        b.q("#agent-edit button[type=submit]").click()
        self.wait_for(lambda: [a for a in self.cli_json("agents", "list") if a["email"] == "carl@desk.test"
                               and a["queues"] == ["tech"] and a["role"] == "admin"], what="Carl changed")
        b.d.execute_script("window.confirm = () => true")
        b.click('button[aria-label="Reset the password of carl@desk.test"]')
        b.wait(lambda: b.text("#agent-password").startswith("One-time password for carl@desk.test: "),
               what="a new one-time password")
        b.click('button[aria-label="Remove agent carl@desk.test"]')
        b.wait(lambda: "carl@desk.test" not in b.text("#agents-table"), what="the agent removed")

        # The audit log names the admin who changed Carl.
        b.d.get(self.base + "/#/admin/audit")
        b.wait(lambda: "carl@desk.test" in b.text("#audit-table"), what="the audit log")
        self.assertIn("alice@desk.test", b.text("#audit-table"))

        # Allowlist: the relay request form; staging lasts at most 15 days.
        b.d.get(self.base + "/#/admin/allowlist")
        b.wait(lambda: b.qs("#allowlist-table"), what="the allowlist")
        f = b.q("#allowlist-add")
        for name, value in (("cidr", "192.0.2.10/32"), ("application", "Billing app"), ("admin_name", "Dana Admin"),
                            ("admin_email", "dana@example.org"), ("location", "Rack 4, Berlin")):
            f.find_element("name", name).send_keys(value)
        b.q("#al-staging").click()
        days = b.q("#al-days")
        days.clear()
        days.send_keys("16")
        f.find_element("css selector", "button[type=submit]").click()
        time.sleep(0.3)
        self.assertNotIn("192.0.2.10", b.text("#allowlist-table"), "16 staging days are refused")
        days.clear()
        days.send_keys("15")
        f.find_element("css selector", "button[type=submit]").click()
        b.wait(lambda: "192.0.2.10/32" in b.text("#allowlist-table"), what="the new entry")
        row = [r for r in b.qs("#allowlist-table tbody tr") if "192.0.2.10/32" in r.text][0]
        for text in ("Billing app", "Dana Admin", "Rack 4, Berlin", "yes"):
            self.assertIn(text, row.text)
        entry = [e for e in self.cli_json("allowlist", "list") if e["cidr"] == "192.0.2.10/32"][0]
        self.assertTrue(entry["staging"])
        self.assertEqual((entry["application"], entry["admin_email"], entry["location"]),
                         ("Billing app", "dana@example.org", "Rack 4, Berlin"))

        # Outbox: a reply the relay refuses (550) is failed; retry, then drop.
        self.send(mail("Bad <bad@customer.example>", "Please answer", "Hello\n"))
        n = self.wait_for(lambda: [t["number"] for t in self.tickets() if t["subject"] == "Please answer"],
                          what="the ticket")[0]
        body = os.path.join(self.tmp, "reply.txt")
        with open(body, "w") as fh:
            fh.write("An answer the relay will refuse.\n")
        self.rd("tickets", "reply", str(n), "--body-file", body, "--as", "alice@desk.test")
        self.wait_for(lambda: [r for r in self.cli_json("queue", "list") if r["state"] == "failed"],
                      timeout=30, what="the reply failed at the relay")
        b.d.get(self.base + "/#/admin/outbox")
        b.wait(lambda: "failed" in b.text("#outbox-table"), what="the failed reply")
        self.assertIn("550", b.text("#outbox-table"), "the relay's answer is shown")
        item = [r for r in self.cli_json("queue", "list") if r["state"] == "failed"][0]
        b.click(f'button[aria-label="Retry {item["id"]}"]')
        self.wait_for(lambda: [r for r in self.cli_json("queue", "list") if r["id"] == item["id"]
                               and (r["attempts"] > item["attempts"] or r["state"] in ("queued", "sending"))],
                      timeout=30, what="the reply queued again")
        self.wait_for(lambda: [r for r in self.cli_json("queue", "list") if r["id"] == item["id"] and r["state"] == "failed"],
                      timeout=30, what="refused again")
        b.d.refresh()
        b.wait(lambda: b.qs(f'button[aria-label="Drop {item["id"]}"]'), what="the drop button")
        b.d.execute_script("window.confirm = () => true")
        b.click(f'button[aria-label="Drop {item["id"]}"]')
        self.wait_for(lambda: [r for r in self.cli_json("queue", "list") if r["id"] == item["id"] and r["state"] == "dropped"],
                      what="the reply dropped")
        b.wait(lambda: "dropped" in b.text("#outbox-table"), what="dropped shown")
        b.click(f'button[aria-label="Details of {item["id"]}"]')
        b.wait(lambda: len(b.qs("#outbox-events li")) >= 2, what="the delivery attempts")
        print("outbox events:", b.text("#outbox-events").replace("\n", " | "), file=sys.stderr)
        self.assertIn("550", b.text("#outbox-events"))
        # ... and on the ticket's thread, with the relay's answer
        b.d.get(f"{self.base}/#/ticket/{n}")
        b.wait(lambda: b.qs("#thread article.msg.outbound .badge.d-dropped"), what="the reply shown as dropped")

        # Quarantine: a stranger quoting the ticket's tag is held; the
        # page shows why; reprocess takes it through again.
        tag = self.tickets()[0]["subject_tag"]
        self.send(mail("Mallory <mallory@elsewhere.example>", f"Re: Please answer {tag}", "Let me in.\n"))
        b.d.get(self.base + "/#/admin/quarantine")
        def held():
            b.d.refresh()
            b.wait(lambda: b.qs("#quarantine-table"), what="the quarantine")
            return "mallory@elsewhere.example" in b.text("#quarantine-table")
        self.wait_for(held, timeout=20, what="the quarantined message")
        self.assertTrue(b.text("#quarantine-table .reason").strip(), "a reason is shown")
        print("quarantine reason:", b.text("#quarantine-table .reason"), file=sys.stderr)
        qid = b.q("#quarantine-table tbody tr").get_attribute("data-id")
        b.click(f'button[aria-label="Reprocess {qid}"]')
        b.wait(lambda: "Queued for processing" in b.text("#toast"), what="reprocess accepted")

        # Relay check: the steps, each with its result.
        b.d.get(self.base + "/#/admin/relay")
        b.wait(lambda: b.qs("#relay-check"), what="the relay check page")
        b.q("#relay-check button[type=submit]").click()
        b.wait(lambda: b.qs("#relay-result"), timeout=20, what="the relay check")
        steps = b.text("#relay-steps") + "\n" + b.text("#relay-verdict")
        print("relay check:", steps.replace("\n", " | "), file=sys.stderr)
        for step in ("connect", "EHLO"):
            self.assertIn(step, steps)
        self.assertIn("The relay accepts us.", steps)

        # An agent: no admin links, and the pages say no.
        bob = self.browser("bob")
        self.login(bob, "bob@desk.test")
        self.assertFalse(bob.q("#admin-links").is_displayed())
        bob.d.get(self.base + "/#/admin/outbox")
        bob.wait(lambda: "Not allowed" in bob.text("main"), what="403 for an agent")

        # The agent's own account: a password change needs the current
        # password; an API token is shown once, works, and is revoked.
        bob.q("#me").click()
        bob.wait(lambda: bob.qs("#password-change"), what="the account page")
        f = bob.q("#password-change")
        f.find_element("name", "current").send_keys("not my password")
        f.find_element("name", "new").send_keys("a brand new password 42")
        f.find_element("css selector", "button[type=submit]").click()
        bob.wait(lambda: "current password is wrong" in bob.text("#toast"), what="refused without the current password")
        bob.q("#token-add input[name=label]").send_keys("report script", Keys.ENTER)
        bob.wait(lambda: "Bearer" in bob.text("#token-value"), what="the token shown once")
        token = bob.text("#token-value").rsplit(" ", 1)[1]
        import http.client
        def with_token():
            c = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=5)
            c.request("GET", "/api/v1/tickets", headers={"Authorization": "Bearer " + token})
            r = c.getresponse()
            r.read()
            return r.status
        self.assertEqual(with_token(), 200)
        bob.click('button[aria-label="Revoke report script"]')
        bob.wait(lambda: "(revoked)" in bob.text("#tokens") or not bob.qs('button[aria-label="Revoke report script"]'),
                 what="the token revoked")
        self.assertEqual(with_token(), 401)

        # A second factor: the login form asks for the code.
        import json as _json
        from test_api_security import totp
        secret = _json.loads(self.rd("agents", "totp", "bob@desk.test", "--json"))["secret"]
        bob.q("#logout").click()
        bob.wait(lambda: bob.qs("#login-form"), what="the login form")
        bob.q('#login-form input[autocomplete="username"]').send_keys("bob@desk.test")
        bob.q('#login-form input[autocomplete="current-password"]').send_keys(PASSWORD, Keys.ENTER)
        bob.wait(lambda: bob.visible("#login-totp"), what="the one-time code field")
        self.assertIn("one-time code", bob.text("#login-error"))
        bob.q("#login-totp").send_keys(totp(secret), Keys.ENTER)
        bob.wait(lambda: bob.qs("#ticket-rows"), what="the list after the second factor")


if __name__ == "__main__":
    main()
