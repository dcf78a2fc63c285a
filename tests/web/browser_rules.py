#!/usr/bin/python3
"""The rule playground in headless Chromium: the active Sieve script
opens in the editor; an error typed at line 4 is flagged at line 4 (and
its column) while typing; a broken script cannot be saved; the fixed
script dry-runs against a message stored on a ticket (its actions and the
effect on the ticket); save and activate; the next mail follows the new
script; an earlier version is restored.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from browserlib import DeskTestCase, Keys, main, mail  # noqa: E402

ORIGINAL = """require ["fileinto"];

if header :contains "subject" "invoice" {
  fileinto "billing";
}
"""
BROKEN = ORIGINAL.replace('  fileinto "billing";', '  filein "billing";')
FIXED = ORIGINAL.replace('fileinto "billing";', 'fileinto "accounts";')
LATER = ORIGINAL.replace('fileinto "billing";', 'fileinto "escalations";')


class Rules(DeskTestCase):
    SCRIPT = ORIGINAL
    # the test's mail has no DMARC pass: let the subject tag thread it
    DESK_CONF = "subject_tag_auth = any\n"

    def queue_of(self, subject):
        return self.wait_for(lambda: [t["queue"] for t in self.tickets() if t["subject"] == subject],
                             what=f"the ticket {subject!r}")[0]

    def show(self, n):
        import json
        return json.loads(self.rd("tickets", "show", str(n), "--json"))

    def effect(self, b):
        """The dry run's effect on the ticket, as the page shows it."""
        if not b.qs("#dry-effect"):
            return {}
        dts = [e.text for e in b.qs("#dry-effect dt")]
        dds = [e.text for e in b.qs("#dry-effect dd")]
        return dict(zip(dts, dds))

    def set_editor(self, b, text):
        ed = b.q("#rule-editor")
        ed.send_keys(Keys.CONTROL, "a")
        ed.send_keys(Keys.DELETE)
        ed.send_keys(text)

    def test_playground(self):
        self.send(mail("Carol <carol@customer.example>", "invoice 42 is wrong", "Please check invoice 42.\n"))
        self.assertEqual(self.queue_of("invoice 42 is wrong"), "billing")
        n = [t["number"] for t in self.tickets() if t["subject"] == "invoice 42 is wrong"][0]

        b = self.browser("alice")
        self.login(b)
        b.d.get(self.base + "/#/admin/rules")
        b.wait(lambda: 'fileinto "billing"' in (b.q("#rule-editor").get_attribute("value") or ""),
               what="the active script in the editor")
        b.wait(lambda: "compiles" in b.text("#rule-check-state"), what="the script checked")

        # An error at line 4, flagged as one types.
        self.set_editor(b, BROKEN)
        b.wait(lambda: b.qs("#rule-diagnostics li.error"), timeout=5, what="a diagnostic while typing")
        d = b.q("#rule-diagnostics li.error")
        print("diagnostic:", d.text, file=sys.stderr)
        self.assertEqual(d.get_attribute("data-line"), "4", d.text)
        self.assertEqual(d.get_attribute("data-column"), "3", d.text)
        self.assertIn("line 4", d.text)
        self.assertEqual([e.get_attribute("data-line") for e in b.qs("#rule-gutter .err")], ["4"])

        # A broken script is not saved.
        b.q("#rule-save").click()
        b.wait(lambda: "Not saved" in b.text("#toast"), what="the refusal")
        self.send(mail("Carol <carol@customer.example>", "invoice 43 too", "And 43.\n"))
        self.assertEqual(self.queue_of("invoice 43 too"), "billing", "the working script still runs")

        # The fix, dry-run against the stored message of ticket n.
        self.set_editor(b, FIXED)
        b.wait(lambda: not b.qs("#rule-diagnostics li.error") and "compiles" in b.text("#rule-check-state"),
               timeout=5, what="the diagnostics gone")
        b.q("#dry-ticket").send_keys(str(n), Keys.TAB)
        b.wait(lambda: b.qs("#dry-message option[value]:not([value=''])"), what="the ticket's messages")
        b.q("#dry-submit").click()
        b.wait(lambda: b.qs("#dry-actions li"), what="the dry-run actions")
        self.assertIn('fileinto "accounts"', b.text("#dry-actions"))
        effect = self.effect(b)
        print("dry run (a first message):", b.text("#dry-actions"), "|", effect, file=sys.stderr)
        self.assertEqual((effect["number"], effect["followup"], effect["queue"]),
                         (str(len(self.tickets()) + 1), "false", "accounts"),
                         "a message that threads nowhere: the next number, in the queue the script picks")
        # The customer's answer threads to ticket n: ${ticket.*} are n's.
        first = self.show(n)["messages"][0]["message_id"]
        m = mail("Carol <carol@customer.example>", f"Re: invoice 42 is wrong [RD #{n}]", "Any news on invoice 42?\n")
        m["In-Reply-To"] = first if first.startswith("<") else f"<{first}>"
        self.send(m)
        self.wait_for(lambda: len([x for x in self.show(n)["messages"] if x["direction"] == "inbound"]) == 2,
                      what="the follow-up on the ticket")
        b.q("#dry-ticket").clear()
        b.q("#dry-ticket").send_keys(str(n), Keys.TAB)
        b.wait(lambda: len(b.qs("#dry-message option")) == 2, what="both messages of the ticket")
        from selenium.webdriver.support.ui import Select
        Select(b.q("#dry-message")).select_by_index(1)
        b.q("#dry-submit").click()
        b.wait(lambda: self.effect(b).get("followup") == "true", what="the follow-up's dry run")
        effect = self.effect(b)
        print("dry run (a follow-up):", b.text("#dry-actions"), "|", effect, file=sys.stderr)
        self.assertEqual((effect["number"], effect["tag"]), (str(n), f"[RD #{n}]"))
        self.assertEqual([t["queue"] for t in self.tickets() if t["number"] == n], ["billing"],
                         "a dry run changes nothing")

        # Save and activate; the next mail follows it.
        b.q("#rule-save").click()
        b.wait(lambda: "Saved" in b.text("#toast"), what="saved")
        b.wait(lambda: len(b.qs("#rule-versions li[data-version]")) == 1, what="the saved version listed")
        self.send(mail("Carol <carol@customer.example>", "invoice 44 now", "And 44.\n"))
        self.assertEqual(self.queue_of("invoice 44 now"), "accounts", "the saved script is active")

        # A second version, then back to the first.
        self.set_editor(b, LATER)
        b.wait(lambda: "compiles" in b.text("#rule-check-state"), timeout=5, what="the check")
        b.q("#rule-save").click()
        b.wait(lambda: len(b.qs("#rule-versions li[data-version]")) == 2, what="two versions")
        self.send(mail("Carol <carol@customer.example>", "invoice 45 later", "And 45.\n"))
        self.assertEqual(self.queue_of("invoice 45 later"), "escalations")
        b.click("#rule-versions li[data-version] button")     # the older one
        b.wait(lambda: 'fileinto "accounts"' in (b.q("#rule-editor").get_attribute("value") or ""),
               what="the restored script in the editor")
        b.wait(lambda: "restored" in b.text("#toast"), what="restored")
        self.send(mail("Carol <carol@customer.example>", "invoice 46 restored", "And 46.\n"))
        self.assertEqual(self.queue_of("invoice 46 restored"), "accounts", "the restored version is active")
        with open(os.path.join(self.tmp, "default.sieve")) as f:
            self.assertEqual(f.read(), FIXED, "the file on disk is the restored version")
        b.shot("rules-playground-desktop")


if __name__ == "__main__":
    main()
