"""Storage failure on a real server: the serve process runs with a file
size limit (RLIMIT_FSIZE, SIGXFSZ ignored), so SQLite's write of a big
message fails for real. The client must get 452 4.3.1 (disk full: short
write, SQLITE_FULL) or 451 4.3.0 (other I/O error), never 250; the
session and the server go on, and smaller messages are accepted again."""
import os
import resource
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import receiver_util  # noqa: E402
from receiver_util import Client, Serve, expect  # noqa: E402

LIMIT = 3 * 1024 * 1024


def limited():
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, LIMIT))


def main():
    real_popen = receiver_util.subprocess.Popen

    def popen(*a, **kw):
        kw["preexec_fn"] = limited
        return real_popen(*a, **kw)
    receiver_util.subprocess.Popen = popen
    with Serve({"smtp": {"max_message_size": "20M"}}, smtps=False) as srv:
        receiver_util.subprocess.Popen = real_popen
        c = Client(srv.port, timeout=30)
        c.reply()
        c.send("EHLO x\r\n")
        c.reply()
        big = ("x" * 998 + "\r\n") * (5 * 1024)   # ~5 MB: over the limit
        c.send("MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n")
        expect(c.reply(), "250 ")
        expect(c.reply(), "250 ")
        expect(c.reply(), "354 ")
        c.send("Subject: big\r\n\r\n" + big + ".\r\n")
        r = c.reply()
        assert r.startswith("452 4.3.1") or r.startswith("451 4.3.0"), r
        c.send("MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\nSubject: small\r\n\r\nhi\r\n.\r\n")
        rs = c.replies(4)
        expect(rs[3], "250 2.0.0 Ok: message")
        c.send("QUIT\r\n")
        expect(c.reply(), "221")
        assert all(b"Subject: big" not in row[3] for row in srv.spool())
        print("ok storage failure answered:", r)


if __name__ == "__main__":
    main()
