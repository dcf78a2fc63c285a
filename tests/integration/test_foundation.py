"""Foundation end to end: SMTP (swaks, smtplib) and `deliver` -> spool ->
ticket -> CLI; spool raw; clean stop; processing resumed at start."""
import os
import re
import shutil
import signal
import smtplib
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rdtest  # noqa: E402

MSG = (b"From: Alice Example <alice@example.com>\r\n"
       b"To: support@example.org\r\n"
       b"Subject: Invoice 12345 is wrong\r\n"
       b"Message-ID: <inv-12345@example.com>\r\n"
       b"Date: Mon, 15 Jan 2024 09:29:55 +0000\r\n"
       b"\r\n"
       b"Hello,\r\n"
       b".leading dot line\r\n"
       b"..two dots\r\n"
       b"\r\n"
       b"Regards, Alice\r\n")


class Foundation(rdtest.RelaydeskTestCase):
    def test_cli_help_and_version(self):
        p = subprocess.run([rdtest.RELAYDESK, "--version"], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0)
        self.assertRegex(p.stdout, r"^relaydesk \d+\.\d+\.\d+")
        p = subprocess.run([rdtest.RELAYDESK, "--help"], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0)
        for cmd in ("serve", "deliver", "tickets", "spool"):
            self.assertIn(cmd, p.stdout)
            h = subprocess.run([rdtest.RELAYDESK, cmd, "--help"], capture_output=True, text=True)
            self.assertEqual(h.returncode, 0, cmd)
            self.assertIn("--data-dir", h.stdout + subprocess.run(
                [rdtest.RELAYDESK, cmd, "list" if cmd == "tickets" else "raw" if cmd == "spool" else "--help", "--help"],
                capture_output=True, text=True).stdout)
        p = subprocess.run([rdtest.RELAYDESK, "nosuchcommand"], capture_output=True, text=True)
        self.assertEqual(p.returncode, 64)

    def test_swaks_to_ticket(self):
        if not shutil.which("swaks"):
            self.skipTest("swaks not installed")
        s = self.serve()
        p = subprocess.run(["swaks", "--server", f"127.0.0.1:{s.port}", "--from", "bob@example.net",
                            "--to", "support@example.org", "--header", "Subject: Printer on fire",
                            "--body", "It is really on fire.", "--helo", "client.example"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        m = re.search(r"<-  250 2\.0\.0 Ok: message ([0-9A-F]+) accepted", p.stdout)
        self.assertIsNotNone(m, p.stdout)
        tickets = self.wait_tickets(1)
        t = tickets[0]
        self.assertEqual(t["subject"], "Printer on fire")
        self.assertEqual(t["requester"]["addr"], "bob@example.net")
        self.assertEqual(t["status"], "new")
        self.assertEqual(t["queue"], "inbox")
        shown = self.rd_json("tickets", "show", str(t["number"]))
        self.assertEqual(shown["messages"][0]["body_text"], "It is really on fire.")
        self.assertEqual(shown["messages"][0]["direction"], "inbound")
        self.assertEqual(s.stop(), 0)
        self.assertIn("serve.stop", s.read_log())

    def test_smtplib_dot_unstuffing_and_spool_raw(self):
        s = self.serve()
        with smtplib.SMTP("127.0.0.1", s.port, timeout=30) as c:
            c.ehlo("client.example")
            self.assertIn("pipelining", c.esmtp_features)
            refused = c.sendmail("alice@example.com", ["support@example.org", "sales@example.org"], MSG)
            self.assertEqual(refused, {})
            code, _ = c.noop()
            self.assertEqual(code, 250)
        t = self.wait_tickets(1)[0]
        self.assertEqual(t["subject"], "Invoice 12345 is wrong")
        self.assertEqual(t["requester"], {"name": "Alice Example", "addr": "alice@example.com"})
        body = self.rd_json("tickets", "show", str(t["number"]))["messages"][0]["body_text"]
        # smtplib stuffed ".leading" to "..leading"; the server unstuffed it.
        self.assertEqual(body, "Hello,\n.leading dot line\n..two dots\n\nRegards, Alice")
        raw = self.rd("spool", "raw", "<inv-12345@example.com>").stdout
        self.assertEqual(raw, MSG)  # byte for byte, CRLF kept
        self.assertEqual(self.rd("spool", "raw", "inv-12345@example.com").stdout, MSG)
        p = self.rd("spool", "raw", "<nope@example.com>", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"no spooled message", p.stderr)

    def test_protocol_errors(self):
        s = self.serve()
        with smtplib.SMTP("127.0.0.1", s.port, timeout=30) as c:
            code, _ = c.docmd("MAIL FROM:<a@b.example>")
            self.assertEqual(code, 503)  # before HELO
            c.ehlo("x.example")
            code, msg = c.docmd("DATA")
            self.assertEqual(code, 503)
            code, msg = c.docmd("FROB")
            self.assertEqual(code, 500)
            code, msg = c.docmd("VRFY", "someone")
            self.assertEqual(code, 252)
            code, msg = c.docmd("MAIL FROM:<a@b.example> SIZE=999999999999")
            self.assertEqual(code, 552)
            code, msg = c.docmd("RSET")
            self.assertEqual(code, 250)

    def test_deliver(self):
        p = self.rd("deliver", "--from", "carol@example.com", "support@example.org", input=MSG.replace(b"\r\n", b"\n"))
        qid = p.stdout.decode().strip()
        self.assertRegex(qid, r"^[0-9A-F]{16}$")
        t = self.rd_json("tickets", "list")
        self.assertEqual(len(t), 1)
        self.assertEqual(t[0]["subject"], "Invoice 12345 is wrong")
        # LF input is stored with CRLF, like SMTP.
        self.assertEqual(self.rd("spool", "raw", "inv-12345@example.com").stdout, MSG)
        # Not a message -> 65; empty -> 65.
        self.assertEqual(self.rd("deliver", "x@example.org", input=b"this is not mail\n", check=False).returncode, 65)
        self.assertEqual(self.rd("deliver", "x@example.org", input=b"", check=False).returncode, 65)
        # No recipient -> 64.
        self.assertEqual(self.rd("deliver", input=MSG, check=False).returncode, 64)
        # Storage unusable (data dir below a regular file) -> 75, the MTA retries.
        blocker = os.path.join(self.tmp, "file")
        open(blocker, "w").close()
        p = self.rd("deliver", "x@example.org", input=MSG, data_dir=os.path.join(blocker, "data"), check=False)
        self.assertEqual(p.returncode, 75, p.stderr)

    def test_deliver_while_serving_and_live_reads(self):
        s = self.serve()
        self.rd("deliver", "--no-process", "support@example.org", input=MSG)
        # serve's worker picks up what `deliver` spooled.
        t = self.wait_tickets(1)
        self.assertEqual(t[0]["subject"], "Invoice 12345 is wrong")
        self.assertEqual(s.stop(), 0)

    def test_pending_processed_at_next_start(self):
        # Spool without processing while no daemon runs, then start one.
        self.rd("deliver", "--no-process", "--from", "a@example.com", "support@example.org", input=MSG)
        self.assertEqual(self.rd_json("tickets", "list"), [])
        status = self.rd("spool", "status").stdout.decode()
        self.assertRegex(status, r"new\s+1")
        self.serve()
        t = self.wait_tickets(1)
        self.assertEqual(t[0]["subject"], "Invoice 12345 is wrong")
        self.wait_for(lambda: re.search(r"processed\s+1", self.rd("spool", "status").stdout.decode()),
                      what="spool processed")

    def test_missing_ticket_and_data_dir(self):
        self.rd("deliver", "support@example.org", input=MSG)
        p = self.rd("tickets", "show", "42", check=False)
        self.assertEqual(p.returncode, 1)
        p = self.rd("tickets", "list", data_dir=os.path.join(self.tmp, "nowhere"), check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"no relaydesk database", p.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "nowhere")))

    def test_example_rules_written_and_valid(self):
        s = self.serve()
        path = os.path.join(self.data, "rules", "example.sieve")
        self.assertTrue(os.path.isfile(path))
        self.assertIn(b"not active", open(path, "rb").read())
        p = subprocess.run([rdtest.RELAYDESK, "rules", "check", path], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        eml = os.path.join(self.tmp, "m.eml")
        with open(eml, "wb") as f:
            f.write(MSG)
        p = subprocess.run([rdtest.RELAYDESK, "rules", "test", "--script", path, "--message", eml,
                            "--from", "alice@example.com", "--to", "support@example.org"],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn('fileinto "billing"', p.stdout)
        self.assertIn("vacation to=<alice@example.com>", p.stdout)
        # Not active: the embedded default still files into the inbox.
        with smtplib.SMTP("127.0.0.1", s.port, timeout=30) as c:
            c.sendmail("alice@example.com", ["support@example.org"], MSG)
        self.assertEqual(self.wait_tickets(1)[0]["queue"], "inbox")
        # Never overwritten: an edited example survives a restart.
        self.assertEqual(s.stop(), 0)
        with open(path, "a") as f:
            f.write("# edited\n")
        self.serve()
        self.assertTrue(open(path).read().endswith("# edited\n"))

    def test_sigint_stops_cleanly(self):
        s = self.serve()
        self.assertEqual(s.stop(signal.SIGINT), 0)


if __name__ == "__main__":
    rdtest.main()
