#!/usr/bin/python3
"""Disk full, for real (issue 14, point 2).

The data directory is on a size-limited tmpfs mounted by the test (root
only; skipped otherwise). A filler file takes the free space while serve
runs under SMTP load, processing and an outbox to a relay:

- SMTP answers 452 4.3.1 (never 451, never a crash, never 250 for a
  message that was not stored), the session goes on;
- processing and the outbox pause (their errors are retried), and an
  agent's CLI reply fails with an error instead of a half-written row;
- once the filler is removed, everything resumes by itself: SMTP accepts
  again, the spool is processed, the outbox drains;
- nothing half-written remains: PRAGMA integrity_check ok, no temporary
  files left in the data directory, every 250'd message in the spool
  exactly once and on exactly one ticket entry.

Then the first start on a full disk: the TLS key pair and the example
rule file cannot be written; serve must refuse to start with a clear
error naming the file, leave no partial key/certificate/rule file, and
start normally once there is space.

Usage: disk_full.py [--rounds N] [--size-mb N]
"""
import argparse
import os
import re
import smtplib
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import chaos  # noqa: E402
from chaos import check, figure  # noqa: E402


def fill(path):
    """Fills the filesystem of @path; returns the filler's path."""
    filler = os.path.join(path, "filler")
    with open(filler, "wb") as f:
        chunk = b"\0" * 65536
        try:
            while True:
                f.write(chunk)
                f.flush()
        except OSError:
            pass
    # The last bytes too (a partial block).
    try:
        with open(filler, "ab") as f:
            while True:
                f.write(b"\0" * 512)
                f.flush()
    except OSError:
        pass
    return filler


def send(port, token, size):
    """The final reply code to end-of-data (or None on a connection
    failure), and the reply text."""
    sender = "df-%s@customer.example" % token
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as s:
            s.sendmail(sender, [chaos.INBOX], chaos.make_message(token, sender, size))
        return 250, ""
    except smtplib.SMTPDataError as e:
        return e.smtp_code, e.smtp_error.decode(errors="replace")
    except smtplib.SMTPResponseException as e:
        return e.smtp_code, str(e.smtp_error)
    except (OSError, smtplib.SMTPException) as e:
        return None, str(e)


def leftovers(d):
    bad = []
    for root, _, files in os.walk(d):
        for f in files:
            # GLib's atomic writes leave NAME.XXXXXX behind when interrupted.
            if ".tmp" in f or re.search(r"\.(pem|sieve|port)\.[A-Za-z0-9]{6}$", f):
                bad.append(os.path.join(root, f))
    return bad


def running_round(a, work, relay, script, r, totals):
    mnt = work.join("mnt%d" % r)
    chaos.mount_tmpfs(mnt, a.size_mb)
    try:
        serve = chaos.Serve(work, {
            "desk": {"reply_address": chaos.INBOX},
            "rules": {"default": script},
            "relay": {"url": relay.url(), "starttls": "opportunistic", "retry_base": "1s", "retry_max": "2s",
                      "rate_per_minute": "0", "cap_per_hour": "0", "cap_per_day": "0"},
        }, data_dir=os.path.join(mnt, "data"))
        serve.start()
        acked = set()
        n = 0
        for i in range(20):
            n += 1
            code, _ = send(serve.port, "r%d-a%d" % (r, n), 4000)
            if code == 250:
                acked.add("r%d-a%d" % (r, n))
        check(chaos.wait_until(lambda: serve.query("SELECT count(*) FROM spool WHERE state='new'")[0][0] == 0, 60),
              "round %d: baseline processed" % r)
        # Processing and the outbox are busy when the space runs out.
        load = chaos.Load(serve.port, sessions=4, size=3000, prefix="r%d-l" % r, pause=0.02).start()
        time.sleep(1)
        filler = fill(mnt)
        time.sleep(2)
        codes = {}
        texts = set()
        for i in range(a.messages):
            n += 1
            tok = "r%d-f%d" % (r, n)
            code, text = send(serve.port, tok, 60000)
            codes[code] = codes.get(code, 0) + 1
            if code == 250:
                acked.add(tok)
            elif code is not None:
                texts.add("%d %s" % (code, text.split("\n")[0][:60]))
        cli = serve.cli("tickets", "reply", "1", "--text", "while the disk is full", check=False)
        alive = serve.alive()
        print("round %d full: codes=%s replies=%s cli_reply_exit=%d" % (r, codes, sorted(texts)[:3], cli.returncode),
              flush=True)
        totals["452"] += codes.get(452, 0)
        totals["451"] += codes.get(451, 0)
        totals["250_while_full"] += codes.get(250, 0)
        check(alive, "round %d: serve alive on a full disk" % r)
        check(codes.get(452, 0) > 0, "round %d: 452 answered on a full disk" % r)
        check(set(codes) <= {250, 452}, "round %d: only 250 (stored) or 452 4.3.1, no 451/crash: %s" % (r, codes))
        check(all(t.startswith("452 4.3.1") for t in texts), "round %d: every refusal is 452 4.3.1" % r)
        # Free the space: everything resumes by itself.
        t0 = time.time()
        os.unlink(filler)
        check(chaos.wait_until(lambda: send(serve.port, "r%d-after%d" % (r, int(time.time() * 1000)), 4000)[0] == 250,
                               60, 0.5), "round %d: SMTP accepts again once space is freed" % r)
        resume = time.time() - t0
        time.sleep(1)
        load.stop()
        acked |= load.snapshot()
        print("round %d load: codes=%s connection_errors=%d" % (r, load.codes, load.errors), flush=True)
        check(set(load.codes) <= {250, 452} and load.errors == 0,
              "round %d: the load saw only 250 and 452, no dropped connection" % r)
        for i in range(10):
            n += 1
            tok = "r%d-b%d" % (r, n)
            if send(serve.port, tok, 4000)[0] == 250:
                acked.add(tok)
        drained = chaos.wait_until(lambda: serve.query(
            "SELECT (SELECT count(*) FROM spool WHERE state='new') + "
            "(SELECT count(*) FROM outbox WHERE state IN ('queued','sending'))")[0][0] == 0, 120)
        figure("round%d_resume_seconds" % r, "%.1f" % resume)
        if not drained:
            print(serve.query("SELECT state, count(*) FROM spool GROUP BY 1"),
                  serve.query("SELECT state, count(*), max(attempts), max(last_error) FROM outbox GROUP BY 1"))
            print(serve.tail(4000))
        check(drained, "round %d: processing and outbox resumed and drained" % r)
        serve.stop()
        log = serve.tail(50 * 1024 * 1024)
        figure("round%d_processing_paused" % r, log.count("desk.process error="))
        figure("round%d_outbox_errors" % r, len([l for l in log.splitlines() if "relay." in l and "full" in l]))
        integ = serve.integrity()
        counts = chaos.spool_counts(serve, acked)
        entries = chaos.ticket_entry_counts(serve, acked)
        lost = sum(1 for t in acked if counts[t] != 1 or entries[t] != 1)
        totals["lost"] += lost
        totals["acked"] += len(acked)
        left = leftovers(serve.data_dir)
        check(integ == "ok", "round %d: integrity_check ok" % r)
        check(lost == 0, "round %d: every 250'd message in the spool once and on one ticket entry" % r)
        check(not left, "round %d: nothing half-written left (%s)" % (r, left))
        bad = serve.query("SELECT count(*) FROM outbox WHERE state = 'failed'")[0][0]
        check(bad == 0, "round %d: no outbox row failed because of the full disk" % r)
    finally:
        chaos.umount(mnt)


def first_start_full(a, work):
    """The files serve writes at start: the database, the self-signed TLS
    key pair, the example rule file, with 0 to 128 KiB left free. Each
    start either succeeds with every file complete, or is refused with a
    disk-full error and leaves no partial key, certificate or rule file."""
    mnt = work.join("mnt-first")
    chaos.mount_tmpfs(mnt, 4)
    refused = started = 0
    try:
        data = os.path.join(mnt, "data")
        serve = chaos.Serve(work, {"tls": {"enabled": "true"}}, data_dir=data)
        for free_kib in (0, 8, 16, 24, 32, 40, 48, 64, 96, 128):
            for fresh in (True, False):
                subprocess.run(["rm", "-rf", data], check=True)
                if not fresh:
                    # A store exists; the key pair and the rule file do not.
                    serve.start()
                    serve.stop()
                    for f in ("tls-key.pem", "tls-cert.pem"):
                        os.unlink(os.path.join(data, f))
                    subprocess.run(["rm", "-rf", os.path.join(data, "rules")], check=True)
                filler = fill(mnt)
                os.truncate(filler, max(0, os.path.getsize(filler) - free_kib * 1024))
                err = None
                try:
                    serve.start(timeout=20)
                    serve.stop()
                except RuntimeError as e:
                    err = str(e)
                last = (err or "started").strip().splitlines()[-1][:200]
                print("start with %d KiB free (%s): %s" % (free_kib, "new" if fresh else "existing store", last),
                      flush=True)
                have = os.listdir(data) if os.path.isdir(data) else []
                if err is None:
                    started += 1
                    if not {"tls-key.pem", "tls-cert.pem"} <= set(have):
                        print(have, serve.tail(3000))
                    check("tls-key.pem" in have and "tls-cert.pem" in have, "started: key pair complete")
                else:
                    refused += 1
                    check("No space left" in err or "disk is full" in err, "refused with a disk-full error")
                    check(not [f for f in have if f.startswith("tls-")] or
                          {"tls-key.pem", "tls-cert.pem"} <= set(have), "no lone key or certificate")
                for f in have:
                    if f.startswith("tls-"):
                        with open(os.path.join(data, f)) as fh:
                            check("-----END" in fh.read(), "%s complete" % f)
                rules = os.path.join(data, "rules")
                for f in (os.listdir(rules) if os.path.isdir(rules) else []):
                    check(os.path.getsize(os.path.join(rules, f)) > 0, "rule file %s not empty" % f)
                check(not leftovers(mnt), "no temporary file left")
                os.unlink(filler)
        figure("starts_on_full_disk_refused", refused)
        figure("starts_on_nearly_full_disk_ok", started)
    finally:
        chaos.umount(mnt)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--size-mb", type=int, default=64)
    ap.add_argument("--messages", type=int, default=30)
    a = ap.parse_args()
    chaos.need_relaydesk()
    chaos.need_root("mounting a tmpfs")
    work = chaos.Workdir("rd-diskfull-")
    relay = chaos.Relay(work)
    script = work.join("ack.sieve")
    with open(script, "w") as f:
        f.write(chaos.ACK_SCRIPT)
    totals = {"452": 0, "451": 0, "250_while_full": 0, "lost": 0, "acked": 0}
    try:
        for r in range(1, a.rounds + 1):
            running_round(a, work, relay, script, r, totals)
        first_start_full(a, work)
        figure("rounds", a.rounds)
        figure("messages_250", totals["acked"])
        figure("answers_452", totals["452"])
        figure("answers_451", totals["451"])
        figure("stored_while_full", totals["250_while_full"])
        figure("messages_lost", totals["lost"])
    finally:
        relay.stop()
        if not os.environ.get("RD_CHAOS_KEEP"):
            work.cleanup()


if __name__ == "__main__":
    main()
