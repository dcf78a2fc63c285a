#!/usr/bin/python3
"""Hostile messages with bounded memory (issue 14, point 5).

Sent to one serve (processing into tickets), whose peak RSS (VmHWM) is
read from /proc after each: ten messages of 24 MB at once, a 10 MB header
line, 100,000 MIME parts, multipart nested 10,000 deep, and a base64
attachment of a gzip file that inflates to 1 GB of zeros (with --full:
also a base64 part that itself decodes to 1 GB of zeros, under a raised
max_message_size). Each message must be stored (processed into a ticket,
or quarantined with a reason) or refused with a 5xx/4xx code saying why;
serve's peak RSS must stay under LIMIT MB.

Usage: hostile_messages.py [--limit-mb N] [--full] [--only NAME,...]
"""
import argparse
import base64
import gzip
import io
import os
import smtplib
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import chaos  # noqa: E402
from chaos import check, figure  # noqa: E402

HDR = ("From: <hostile@customer.example>\r\nTo: <%s>\r\nSubject: hostile %s\r\n"
       "Message-ID: <%s@chaos.test>\r\nDate: Sun, 06 Dec 2026 05:00:00 +0000\r\n")


def big(token, size):
    line = b"y" * 998 + b"\r\n"
    head = (HDR % (chaos.INBOX, token, token)).encode() + b"\r\n"
    return head + line * ((size - len(head)) // len(line))


def long_header(token, size):
    return (HDR % (chaos.INBOX, token, token)).encode() + b"X-Long: " + b"z" * size + b"\r\n\r\nbody\r\n"


def many_parts(token, n):
    out = io.BytesIO()
    out.write((HDR % (chaos.INBOX, token, token)).encode())
    out.write(b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n')
    for i in range(n):
        out.write(b"--b\r\nContent-Type: text/plain\r\n\r\npart %d\r\n" % i)
    out.write(b"--b--\r\n")
    return out.getvalue()


def deep(token, depth):
    out = io.BytesIO()
    out.write((HDR % (chaos.INBOX, token, token)).encode())
    out.write(b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b0"\r\n\r\n')
    for i in range(1, depth):
        out.write(b'--b%d\r\nContent-Type: multipart/mixed; boundary="b%d"\r\n\r\n' % (i - 1, i))
    out.write(b"--b%d\r\nContent-Type: text/plain\r\n\r\ninnermost\r\n--b%d--\r\n" % (depth - 1, depth - 1))
    for i in range(depth - 2, -1, -1):
        out.write(b"--b%d--\r\n" % i)
    return out.getvalue()


def b64_lines(data):
    enc = base64.b64encode(data)
    return b"\r\n".join(enc[i:i + 76] for i in range(0, len(enc), 76))


def gzip_bomb(token, gigabytes=1):
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=9) as g:
        chunk = b"\0" * (1 << 20)
        for _ in range(int(gigabytes * 1024)):
            g.write(chunk)
    return ((HDR % (chaos.INBOX, token, token)).encode()
            + b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
            + b"--b\r\nContent-Type: text/plain\r\n\r\nsee attachment\r\n"
            + b'--b\r\nContent-Type: application/gzip; name="zeros.gz"\r\nContent-Transfer-Encoding: base64\r\n'
            + b'Content-Disposition: attachment; filename="zeros.gz"\r\n\r\n'
            + b64_lines(buf.getvalue()) + b"\r\n--b--\r\n")


def b64_zeros_stream(token, size):
    """Yields the message in pieces: a base64 part of @size zero bytes."""
    yield ((HDR % (chaos.INBOX, token, token)).encode()
           + b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
           + b'--b\r\nContent-Type: application/octet-stream; name="zeros.bin"\r\n'
           + b"Content-Transfer-Encoding: base64\r\n\r\n")
    line = b"A" * 76 + b"\r\n"          # 57 zero bytes per line
    block = line * 16384
    left = size // 57
    while left > 0:
        n = min(left, 16384)
        yield block if n == 16384 else line * n
        left -= n
    yield b"--b--\r\n"


def send(port, token, data, timeout=600):
    """(code, text) of the reply to end-of-data, or of the refusal."""
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=timeout) as s:
            s.ehlo("hostile.example")
            if isinstance(data, (bytes, bytearray)):
                s.sendmail("hostile@customer.example", [chaos.INBOX], data)
            else:
                code, text = s.mail("hostile@customer.example")
                code, text = s.rcpt(chaos.INBOX)
                code, text = s.docmd("DATA")
                if code != 354:
                    return code, text.decode(errors="replace")
                for piece in data:
                    s.sock.sendall(piece)
                s.sock.sendall(b".\r\n")
                code, text = s.getreply()
                if code != 250:
                    return code, text.decode(errors="replace")
        return 250, ""
    except smtplib.SMTPResponseException as e:
        return e.smtp_code, e.smtp_error.decode(errors="replace") if isinstance(e.smtp_error, bytes) else str(e.smtp_error)
    except smtplib.SMTPRecipientsRefused as e:
        code, text = list(e.recipients.values())[0]
        return code, text.decode(errors="replace")
    except (OSError, smtplib.SMTPException) as e:
        return None, str(e)


def outcome(serve, token):
    rows = serve.query("SELECT s.state, s.state_reason, count(m.id) FROM spool s LEFT JOIN messages m "
                       "ON m.spool_id = s.id WHERE s.message_id LIKE ? GROUP BY s.id", "%" + token + "@chaos.test%")
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit-mb", type=int, default=128)
    ap.add_argument("--full", action="store_true")
    ap.add_argument("--only", default="")
    a = ap.parse_args()
    chaos.need_relaydesk()
    work = chaos.Workdir("rd-hostile-")
    conf = {"desk": {"reply_address": chaos.INBOX}}
    if a.full:
        conf["smtp"] = {"max_message_size": "1500M"}
    serve = chaos.Serve(work, conf)
    only = set(filter(None, a.only.split(",")))
    cases = [
        ("ten_24mb_at_once", None),
        ("header_line_10mb", lambda t: long_header(t, 10 * 1024 * 1024)),
        ("mime_parts_100k", lambda t: many_parts(t, 100000)),
        ("nested_10k_deep", lambda t: deep(t, 10000)),
        ("gzip_1gb_zeros_b64", lambda t: gzip_bomb(t)),
    ]
    if a.full:
        cases.append(("b64_part_1gb_zeros", lambda t: b64_zeros_stream(t, 1 << 30)))
    results = []
    worst = 0
    try:
        for name, make in cases:
            if only and name not in only:
                continue
            # A serve of its own for each case: VmHWM is the peak of the
            # process's life.
            serve.start()
            t0 = time.time()
            if make is None:
                replies = []
                msgs = [big("%s-%d" % (name, i), 24 * 1000 * 1000) for i in range(10)]
                threads = [threading.Thread(target=lambda i=i: replies.append(
                    (i, send(serve.port, "%s-%d" % (name, i), msgs[i])))) for i in range(10)]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join(900)
                del msgs
                tokens = ["%s-%d" % (name, i) for i, _ in sorted(replies)]
                codes = [r for _, r in sorted(replies)]
            else:
                tokens = [name]
                codes = [send(serve.port, name, make(name))]
            # Wait for processing of what was stored.
            chaos.wait_until(lambda: serve.query("SELECT count(*) FROM spool WHERE state='new'")[0][0] == 0, 600, 0.5)
            hwm = serve.status().get("VmHWM", 0)
            worst = max(worst, hwm)
            alive = serve.alive()
            for tok, (code, text) in zip(tokens, codes):
                rows = outcome(serve, tok) if alive else []
                verdict = ("stored:%s%s" % (rows[0][0], " (%s)" % rows[0][1] if rows[0][1] else "")
                           if rows else "refused:%s %s" % (code, (text or "").strip()[:80]))
                results.append((name, tok, code, verdict, rows))
            print("%s: replies %s, %s; serve VmHWM %d KiB after %.1f s" % (
                name, sorted(set(c for c, _ in codes), key=str), results[-1][3], hwm, time.time() - t0), flush=True)
            figure("peak_rss_kib_" + name, hwm)
            check(alive, "%s: serve alive" % name)
            serve.stop(timeout=120)
        lost = 0
        for name, tok, code, verdict, rows in results:
            if code == 250 and (len(rows) != 1 or rows[0][0] == "new"):
                lost += 1
                print("LOST %s: 250 but %s" % (tok, rows))
            if code != 250 and not (code and 400 <= code < 600):
                lost += 1
                print("BAD %s: neither stored nor refused with a code (%s)" % (tok, code))
        figure("peak_rss_mb", worst // 1024)
        figure("messages_lost", lost)
        check(lost == 0, "every message stored (processed or quarantined) or refused with a code")
        chaos.check_memory(worst < a.limit_mb * 1024, "serve's peak RSS %d MB < %d MB" % (worst // 1024, a.limit_mb))
    finally:
        serve.stop(timeout=120)
        work.cleanup()


if __name__ == "__main__":
    main()
