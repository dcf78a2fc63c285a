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


class Rules(DeskTestCase):
    SCRIPT = ORIGINAL

    def queue_of(self, subject):
        return self.wait_for(lambda: [t["queue"] for t in self.tickets() if t["subject"] == subject],
                             what=f"the ticket {subject!r}")[0]

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
        self.assertIn(str(n), b.text("#dry-effect"), "the effect names the ticket the message threads to")
        print("dry run:", b.text("#dry-actions"), "|", b.text("#dry-effect").replace("\n", " "), file=sys.stderr)
        self.assertEqual([t["queue"] for t in self.tickets() if t["number"] == n], ["billing"],
                         "a dry run changes nothing")

        # Save and activate; the next mail follows it.
        b.q("#rule-save").click()
        b.wait(lambda: "Saved" in b.text("#toast"), what="saved")
        b.wait(lambda: len(b.qs("#rule-versions li button")) >= 1, what="an earlier version to restore")
        self.send(mail("Carol <carol@customer.example>", "invoice 44 now", "And 44.\n"))
        self.assertEqual(self.queue_of("invoice 44 now"), "accounts", "the saved script is active")

        # Restore the first version.
        b.qs("#rule-versions li button")[-1].click()
        b.wait(lambda: 'fileinto "billing"' in (b.q("#rule-editor").get_attribute("value") or ""),
               what="the restored script in the editor")
        time.sleep(0.3)
        self.send(mail("Carol <carol@customer.example>", "invoice 45 back", "And 45.\n"))
        self.assertEqual(self.queue_of("invoice 45 back"), "billing", "the restored version is active")
        b.shot("rules-playground-desktop")


if __name__ == "__main__":
    main()
