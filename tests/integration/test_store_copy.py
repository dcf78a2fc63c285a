"""`relaydesk store copy --to postgresql://...` (issue 15): an SQLite store
with tickets, attachments, the spool, the outbox, the allowlist and the
secret copied into an empty PostgreSQL 15 (started by the test), checked
by the command itself (counts and SHA-256 per table) and here through the
CLI on the copy: same tickets, search works, ticket numbers go on after
the copied ones, a second copy into a non-empty database is refused.
"""
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "pg"))
import pgserver  # noqa: E402

RELAYDESK = os.environ.get("RELAYDESK", "relaydesk")


def message(i, attachment=False):
    body = "Hello, invoice number %d is wrong, zebra%d.\r\n" % (i, i)
    head = ("From: Customer %d <c%d@example.org>\r\nTo: support@desk.test\r\nSubject: copy test %d\r\n"
            "Message-ID: <copy%d@example.org>\r\n" % (i, i, i, i))
    if not attachment:
        return (head + "\r\n" + body).encode()
    pdf = base64.b64encode(b"%PDF-1.4 fake " + str(i).encode()).decode()
    return (head + 'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
            "Content-Type: text/plain\r\n\r\n" + body + "--b\r\nContent-Type: application/pdf\r\n"
            'Content-Disposition: attachment; filename="report-%d.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
            % i + pdf + "\r\n--b--\r\n").encode()


class StoreCopy(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not pgserver.available():
            raise unittest.SkipTest("PostgreSQL 15 is not installed")
        cls.pg = pgserver.PgServer().start()

    @classmethod
    def tearDownClass(cls):
        cls.pg.cleanup()

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="rd-copy-")
        self.data = os.path.join(self.tmp, "data")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def rd(self, *args, input=None, database=None, check=True):
        cmd = [RELAYDESK, *args, "--data-dir", self.data] + (["--database", database] if database else [])
        p = subprocess.run(cmd, input=input, capture_output=True, timeout=120)
        if check:
            self.assertEqual(p.returncode, 0, "%s: %s" % (cmd, p.stderr.decode(errors="replace")))
        return p

    def test_copy_sqlite_into_postgresql(self):
        for i in range(1, 31):
            self.rd("deliver", "support@desk.test", input=message(i, attachment=i % 3 == 0))
        self.rd("allowlist", "add", "192.0.2.0/24", "--application", "Payroll", "--admin-email", "a@gov.example",
                check=False)
        self.rd("queue", "inject", "--from", "support@desk.test", "--to", "c1@example.org", "--copies", "3", "-",
                input=b"From: support@desk.test\nTo: c1@example.org\nSubject: out\n\nbody\n")
        before = json.loads(self.rd("tickets", "list", "--json", "--limit", "100").stdout)
        self.assertEqual(len(before), 30)

        url = self.pg.create_database("copy1")
        p = self.rd("store", "copy", "--to", url)
        out = p.stdout.decode()
        self.assertIn("copied and verified", out)
        self.assertRegex(out, r"tickets\s+30 rows")
        self.assertRegex(out, r"attachment_blobs\s+10 rows")
        self.assertRegex(out, r"outbox\s+3 rows")

        after = json.loads(self.rd("tickets", "list", "--json", "--limit", "100", database=url).stdout)
        self.assertEqual([(t["number"], t["subject"]) for t in after], [(t["number"], t["subject"]) for t in before])
        hits = json.loads(self.rd("tickets", "search", "zebra7", "--json", database=url).stdout)
        self.assertEqual([t["subject"] for t in hits], ["copy test 7"])
        hits = json.loads(self.rd("tickets", "search", "report", "--json", database=url).stdout)
        self.assertEqual(len(hits), 10)
        # The secret came along: the same signed ids; numbers go on.
        self.rd("deliver", "support@desk.test", input=message(99), database=url)
        newest = json.loads(self.rd("tickets", "list", "--json", "--limit", "1", database=url).stdout)
        self.assertEqual(newest[0]["number"], max(t["number"] for t in before) + 1)
        # Only into an empty database.
        p = self.rd("store", "copy", "--to", url, check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"not empty", p.stderr)
        # Not into anything but PostgreSQL.
        p = self.rd("store", "copy", "--to", os.path.join(self.tmp, "elsewhere"), check=False)
        self.assertEqual(p.returncode, 65, p.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
