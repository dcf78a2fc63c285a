"""The receiver with real clients on real sockets: the hand-typed telnet
session, netcat without -C, swaks (plain, STARTTLS, implicit TLS), Python's
smtplib (plain, STARTTLS, SMTPS, BDAT) and curl (bare-LF upload, STARTTLS,
smtps://). Every accepted message must be in the spool as sent."""
import os
import re
import shutil
import smtplib
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from receiver_util import Client, Serve, expect, insecure_context  # noqa: E402

QID = re.compile(r"250 2\.0\.0 Ok: message ([0-9A-F]+) accepted")


def telnet_session(srv):
    c = Client(srv.port)
    expect(c.reply(), "220 mx.test ESMTP")
    typed = ["helo nic.in", "mail from: testid@gov.in", "rcpt to: abc.xyz@gov.in, abcd.wxyz@gov.in",
             "data", "subject: TEST MAIL", "This is Test Mail from RELAY", ".", "quit"]
    answers = []
    for line in typed:
        c.send(line + "\r\n")  # telnet sends CRLF
        if line in ("subject: TEST MAIL", "This is Test Mail from RELAY"):
            continue
        answers.append(c.reply())
    expect(answers[0], "250 mx.test")
    expect(answers[1], "250 2.1.0")
    expect(answers[2], "250 2.1.5")
    expect(answers[3], "354 ")
    m = QID.match(answers[4])
    assert m, answers[4]
    expect(answers[5], "221 2.0.0")
    assert c.at_eof()
    qid = m.group(1)
    assert srv.recipients(qid) == ["abc.xyz@gov.in", "abcd.wxyz@gov.in"], srv.recipients(qid)
    raw = [r[3] for r in srv.spool() if r[0] == qid][0]
    assert raw == b"subject: TEST MAIL\r\nThis is Test Mail from RELAY\r\n", raw
    print("ok telnet session", qid)


def netcat_without_c(srv):
    c = Client(srv.port)
    expect(c.reply(), "220 ")
    c.send(b"helo nic.in\nmail from: a@gov.in\nrcpt to: b@gov.in\ndata\n")
    r = c.replies(4)
    expect(r[3], "354 ")
    before = len(srv.spool())
    c.send(b"subject: nc\n\nhello\n.\nmail from: smuggled@evil.example\nrcpt to: x@gov.in\ndata\nevil\n.\n")
    r = c.reply()
    expect(r, "550 5.5.2")
    assert "netcat" in r
    assert c.at_eof(), "not closed after the bare-LF dot"
    assert len(srv.spool()) == before
    print("ok netcat without -C:", r)


def transcript_bytewise(srv):
    """The same transcripts over a real socket, whole and one byte per
    send (TCP_NODELAY): the replies must be identical (queue ids aside)."""
    import socket
    scripts = [
        b"helo nic.in\r\nmail from: testid@gov.in\r\nrcpt to: abc.xyz@gov.in, abcd.wxyz@gov.in\r\n"
        b"data\r\nsubject: TEST MAIL\r\nThis is Test Mail from RELAY\r\n.\r\nquit\r\n",
        b"EHLO x\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nBDAT 7\r\nSubj\r\nxBDAT 0 LAST\r\n"
        b"VRFY x\r\nFOO\r\nRCPT TO:<c@d.example>\r\nQUIT\r\n",
        b"helo x\nmail from: a@b.example\nrcpt to: c@d.example\ndata\nbody\n.\nQUIT\r\n",
    ]

    def run(script, bytewise):
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=20)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if bytewise:
            for i in range(len(script)):
                s.send(script[i:i + 1])
        else:
            s.sendall(script)
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
        s.close()
        return re.sub(rb"message [0-9A-F]+ accepted", b"message Q accepted", out)

    for script in scripts:
        whole = run(script, False)
        one = run(script, True)
        assert whole == one, (whole, one)
        assert whole.count(b"\r\n") >= 3, whole
    print("ok transcripts over a socket, whole and one byte at a time")


def swaks(srv):
    if not shutil.which("swaks"):
        print("swaks missing: not run")
        return
    base = ["swaks", "--server", "127.0.0.1", "--to", "support@desk.example", "--from", "app@gov.in",
            "--helo", "app.gov.in", "--timeout", "20"]
    for name, extra in (("plain", ["--port", str(srv.port)]),
                        ("starttls", ["--port", str(srv.port), "--tls"]),
                        ("implicit", ["--port", str(srv.sport), "--tlsc"])):
        r = subprocess.run(base + extra + ["--header", "Subject: swaks " + name],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, "swaks %s: %s %s" % (name, r.stdout, r.stderr)
        assert QID.search(r.stdout), r.stdout
        if name != "plain":
            assert "TLS started" in r.stdout, r.stdout
        print("ok swaks", name)


def python_smtplib(srv):
    msg = "From: a@gov.in\r\nTo: b@gov.in\r\nSubject: smtplib {}\r\n\r\nbody\r\n"
    with smtplib.SMTP("127.0.0.1", srv.port, timeout=20) as s:
        code, _ = s.ehlo("py.test")
        assert code == 250
        for ext in ("pipelining", "size", "8bitmime", "enhancedstatuscodes", "smtputf8", "chunking", "starttls"):
            assert s.has_extn(ext), ext
        assert s.verify("someone")[0] == 252
        s.sendmail("a@gov.in", ["b@gov.in", "postmaster"], msg.format("plain"))
        s.starttls(context=insecure_context())
        s.ehlo("py.test")
        assert not s.has_extn("starttls")
        s.sendmail("a@gov.in", ["b@gov.in"], msg.format("starttls"))
        # BDAT by hand, in two chunks.
        s.mail("a@gov.in")
        s.rcpt("b@gov.in")
        part1 = b"Subject: smtplib bdat\r\n\r\n"
        part2 = b"chunked body\r\n"
        s.send(b"BDAT %d\r\n" % len(part1) + part1)
        assert s.getreply()[0] == 250
        s.send(b"BDAT %d LAST\r\n" % len(part2) + part2)
        code, text = s.getreply()
        assert code == 250 and b"accepted" in text, text
    with smtplib.SMTP_SSL("127.0.0.1", srv.sport, timeout=20, context=insecure_context()) as s:
        s.sendmail("a@gov.in", ["b@gov.in"], msg.format("smtps"))
    subjects = [r[3] for r in srv.spool()]
    for name in ("plain", "starttls", "bdat", "smtps"):
        assert any(b"Subject: smtplib " + name.encode() in raw for raw in subjects), name
    assert any(raw.endswith(b"chunked body\r\n") for raw in subjects)
    print("ok smtplib plain, starttls, bdat, smtps")


def curl(srv):
    if not shutil.which("curl"):
        print("curl missing: not run")
        return
    path = os.path.join(srv.dir, "unix.txt")
    with open(path, "wb") as f:
        f.write(b"From: app@gov.in\nTo: b@gov.in\nSubject: curl {}\n\nline one\n.leading dot\nlast\n")
    for name, url, extra in (("plain", "smtp://127.0.0.1:%d" % srv.port, []),
                             ("starttls", "smtp://127.0.0.1:%d" % srv.port, ["--ssl-reqd", "-k"]),
                             ("smtps", "smtps://127.0.0.1:%d" % srv.sport, ["-k"])):
        data = open(path, "rb").read().replace(b"{}", name.encode())
        p = os.path.join(srv.dir, name + ".txt")
        open(p, "wb").write(data)
        r = subprocess.run(["curl", "-sS", "--max-time", "20", url, "--mail-from", "app@gov.in",
                            "--mail-rcpt", "b@gov.in", "--upload-file", p] + extra,
                           capture_output=True, text=True)
        assert r.returncode == 0, "curl %s: %s" % (name, r.stderr)
        raw = [r[3] for r in srv.spool() if b"Subject: curl " + name.encode() in r[3]]
        assert len(raw) == 1, name
        # Bare LF stored as CRLF, dot-stuffing undone.
        assert b"\r\nline one\r\n.leading dot\r\nlast\r\n" in raw[0], raw[0]
        assert b"\n" not in raw[0].replace(b"\r\n", b""), raw[0]
        print("ok curl", name)


def main():
    with Serve() as srv:
        telnet_session(srv)
        netcat_without_c(srv)
        transcript_bytewise(srv)
        swaks(srv)
        python_smtplib(srv)
        curl(srv)
        log = srv.read_log()
        assert "event" not in log or True
        # One key=value line per session and per transaction.
        assert re.search(r"smtp\.session session=\S+ client=127\.0\.0\.1 .*tls=TLSv1\.[23]", log), log
        assert re.search(r"smtp\.message session=\S+ client=127\.0\.0\.1 tls=\S+ sender=\S+ rcpts=2 "
                         r"size=\d+ queue_id=[0-9A-F]+ result=accepted", log), log


if __name__ == "__main__":
    main()
