"""Configuration errors are never silent: every command refuses a config
with a malformed value or an unknown key, exits 78 (EX_CONFIG) and names
FILE:LINE, the group and the key on stderr; serve's SIGHUP reload refuses
such a file, logs why and keeps the config it runs with."""
import os
import re
import signal
import smtplib
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rdtest  # noqa: E402

EX_CONFIG = 78

MSG = (b"From: Alice <alice@example.com>\r\n"
       b"To: support@example.org\r\n"
       b"Subject: %s\r\n"
       b"Message-ID: <%s@example.com>\r\n"
       b"\r\n"
       b"Hello.\r\n")

MALFORMED = """# relaydesk.conf
[relaydesk]
hostname = desk.test
[smtp]
max_message_size = 25 MB
"""
MALFORMED_ERROR = 'relaydesk.conf:5: [smtp] max_message_size: "25 MB" is not a size (e.g. 25M)'

UNKNOWN_KEY = """[relaydesk]
hostname = desk.test
[desk]
defualt_queue = support
"""
UNKNOWN_KEY_ERROR = "relaydesk.conf:4: [desk] defualt_queue: unknown key (did you mean default_queue?)"

VALID = """[relaydesk]
hostname = desk.test
[smtp]
max_message_size = 25M
accept_recipients = support@example.org
[desk]
default_queue = support
queues = billing
[queue.billing]
reply_address = billing@example.org
[relay]
lifetime = 2d
"""


def message(subject):
    return MSG % (subject.encode(), subject.replace(" ", "-").encode())


class ConfigErrors(rdtest.RelaydeskTestCase):
    def setUp(self):
        super().setUp()
        self.conf = os.path.join(self.tmp, "relaydesk.conf")
        self.script = os.path.join(self.tmp, "keep.sieve")
        with open(self.script, "w") as f:
            f.write("keep;\n")
        self.eml = os.path.join(self.tmp, "m.eml")
        with open(self.eml, "wb") as f:
            f.write(message("hello"))

    def write(self, text):
        with open(self.conf, "w") as f:
            f.write(text)

    def commands(self):
        """Every command, as the operator would run it with --config."""
        return [
            (["serve", "--smtp", "127.0.0.1:0", "--smtps", "none"], None),
            (["deliver", "--from", "alice@example.com", "support@example.org"], message("deliver")),
            (["tickets", "list"], None),
            (["tickets", "show", "1"], None),
            (["spool", "status"], None),
            (["queue", "list"], None),
            (["allowlist", "list"], None),
            (["relay", "check", "--relay", "smtp://127.0.0.1:1"], None),
            (["parse", self.eml], None),
            (["rules", "check", self.script], None),
            (["rules", "test", "--script", self.script, "--message", self.eml], None),
        ]

    def expect_refused(self, text, error):
        self.write(text)
        for args, stdin in self.commands():
            with self.subTest(command=" ".join(args[:2])):
                p = self.rd(*args, "--config", self.conf, input=stdin, check=False, timeout=30)
                stderr = p.stderr.decode(errors="replace")
                self.assertEqual(p.returncode, EX_CONFIG, f"{args}: {stderr}")
                self.assertIn(error, stderr)
                self.assertTrue(stderr.startswith("relaydesk: " + self.conf), stderr)

    def test_malformed_value(self):
        self.expect_refused(MALFORMED, MALFORMED_ERROR)

    def test_unknown_key(self):
        self.expect_refused(UNKNOWN_KEY, UNKNOWN_KEY_ERROR)

    def test_every_problem_reported(self):
        self.write(MALFORMED + "[smpt]\nlisten = 127.0.0.1:25\n[rules]\nmax_nesting = 0\n")
        p = self.rd("tickets", "list", "--config", self.conf, check=False)
        self.assertEqual(p.returncode, EX_CONFIG)
        lines = p.stderr.decode().splitlines()
        self.assertEqual(lines, [
            "relaydesk: " + self.conf + ":5: [smtp] max_message_size: \"25 MB\" is not a size (e.g. 25M)",
            "relaydesk: " + self.conf + ":6: [smpt]: unknown group (did you mean [smtp]?)",
            "relaydesk: " + self.conf + ":9: [rules] max_nesting: \"0\" is out of range (1..1024)",
        ])

    def test_valid_config_accepted(self):
        self.write(VALID)
        self.rd("deliver", "--config", self.conf, "--from", "alice@example.com", "support@example.org",
                input=message("valid"))
        tickets = self.rd_json("tickets", "list", "--config", self.conf)
        self.assertEqual([t["queue"] for t in tickets], ["support"])
        self.rd("rules", "check", self.script, "--config", self.conf)

    def test_documented_examples_load(self):
        """The config examples in README.md and docs/ are valid files."""
        sources = [os.path.join(rdtest.SOURCE_ROOT, "README.md")]
        docs = os.path.join(rdtest.SOURCE_ROOT, "docs")
        sources += [os.path.join(docs, n) for n in sorted(os.listdir(docs)) if n.endswith(".md")]
        found = 0
        for path in sources:
            with open(path) as f:
                text = f.read()
            blocks = re.findall(r"```ini\n(.*?)```", text, re.S)
            blocks += [re.sub(r"^    ", "", b, flags=re.M)
                       for b in re.findall(r"\n((?:    \[[a-z.]+\]\n(?:    .*\n|\n)+))", text)]
            for block in blocks:
                found += 1
                with self.subTest(doc=os.path.basename(path), block=block[:40]):
                    self.write(block)
                    p = self.rd("rules", "check", self.script, "--config", self.conf, check=False)
                    self.assertEqual(p.returncode, 0, p.stderr.decode(errors="replace"))
        self.assertGreaterEqual(found, 4)

    def test_sighup_refuses_malformed_file(self):
        sd = os.path.join(self.tmp, "sieve")
        os.makedirs(sd)
        for name in ("first", "second"):
            with open(os.path.join(sd, name + ".sieve"), "w") as f:
                f.write('require "fileinto"; fileinto "%s";\n' % name)
        rules = "[rules]\nscript_dir = %s\nscripts = support@example.org=%%s.sieve\n" % sd
        self.write("[relaydesk]\nhostname = desk.test\n" + rules % "first")
        srv = self.serve(config=self.conf)

        def send(subject):
            with smtplib.SMTP("127.0.0.1", srv.port, timeout=10) as s:
                s.sendmail("alice@example.com", ["support@example.org"], message(subject))

        def queues(n):
            tickets = self.wait_tickets(n)
            return [t["queue"] for t in sorted(tickets, key=lambda t: t["number"])]

        send("one")
        self.assertEqual(queues(1), ["first"])

        # A file that names the second script but has a malformed value:
        # refused as a whole, the first script stays.
        self.write("[relaydesk]\nhostname = desk.test\n" + rules % "second" + "[smtp]\nmax_message_size = 25 MB\n")
        srv.proc.send_signal(signal.SIGHUP)
        self.wait_for(lambda: "max_message_size" in srv.read_log(), what="the reload error in the log")
        log = srv.read_log()
        self.assertIn("rules.reload result=kept-previous", log)
        self.assertIn(':7: [smtp] max_message_size: \\"25 MB\\" is not a size', log)
        self.assertIsNone(srv.proc.poll(), "serve keeps running")
        send("two")
        self.assertEqual(queues(2), ["first", "first"])

        # The same file corrected: reloaded.
        self.write("[relaydesk]\nhostname = desk.test\n" + rules % "second")
        srv.proc.send_signal(signal.SIGHUP)
        self.wait_for(lambda: "rules.reload result=ok" in srv.read_log(), what="a good reload")
        send("three")
        self.assertEqual(queues(3), ["first", "first", "second"])
        self.assertEqual(srv.stop(), 0)


if __name__ == "__main__":
    rdtest.main()
