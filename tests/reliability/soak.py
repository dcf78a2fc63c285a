#!/usr/bin/python3
"""Soak (issue 14, point 7): MESSAGES through the whole path (SMTP ->
spool -> ticket; every 20th message asks for an acknowledgement, which
goes out through an aiosmtpd relay), at a steady rate. serve's RSS, open
descriptors and the data directory's size are sampled every SAMPLE
messages and printed; at the end every 250'd message is on exactly one
ticket entry and every acknowledgement reached the relay, and RSS and
descriptors did not grow beyond the first sample's (plus a margin), since
the stored data lives on disk, not in serve.

Usage: soak.py [--messages N] [--sample N] [--sessions N] [--pause S]
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import chaos  # noqa: E402
from chaos import check, figure  # noqa: E402

RULE = r'''require ["vacation", "vacation-seconds", "variables", "vnd.relaydesk.ticket"];
if header :is "x-chaos-ack" "yes" {
  vacation :seconds 1 :handle "ack-${ticket.number}" :from "Desk <support@desk.test>"
    :subject "Re: received ${ticket.tag}" "Ticket ${ticket.number}.";
}
'''


def du(path):
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.path.getsize(os.path.join(root, f))
            except OSError:
                pass
    return total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--sample", type=int, default=None)
    ap.add_argument("--sessions", type=int, default=8)
    ap.add_argument("--pause", type=float, default=0.0)
    a = ap.parse_args()
    sample = a.sample or (10000 if a.messages >= 100000 else max(100, a.messages // 10))
    chaos.need_relaydesk()
    work = chaos.Workdir("rd-soak-")
    relay = chaos.Relay(work)
    script = work.join("ack.sieve")
    with open(script, "w") as f:
        f.write(RULE)
    serve = chaos.Serve(work, {
        "desk": {"reply_address": chaos.INBOX},
        "rules": {"default": script},
        "relay": {"url": relay.url(), "starttls": "opportunistic", "retry_base": "1s", "retry_max": "4s",
                  "rate_per_minute": "0", "cap_per_hour": "0", "cap_per_day": "0"},
    })
    try:
        serve.start()
        t0 = time.time()
        load = chaos.Load(serve.port, sessions=a.sessions, size=3000, prefix="s", pause=a.pause,
                          headers=lambda seq: "X-Chaos-Ack: yes\r\n" if seq % 20 == 0 else "",
                          limit=a.messages).start()
        samples = []
        next_mark = sample
        print("%10s %8s %9s %6s %10s %10s" % ("messages", "seconds", "rss_kib", "fds", "db_mib", "processed"))
        while True:
            done = len(load.acked)
            finished = all(not t.is_alive() for t in load.threads)
            if done >= next_mark or finished:
                st = serve.status()
                processed = serve.query("SELECT count(*) FROM spool WHERE state != 'new'")[0][0]
                row = (done, time.time() - t0, st.get("VmRSS", 0), st.get("fds", 0), du(serve.data_dir) / 2**20,
                       processed)
                samples.append(row)
                print("%10d %8.0f %9d %6d %10.1f %10d" % row, flush=True)
                next_mark += sample
            if finished:
                break
            time.sleep(0.2)
        load.stop()
        acked = load.snapshot()
        drained = chaos.wait_until(lambda: serve.query(
            "SELECT (SELECT count(*) FROM spool WHERE state='new') + "
            "(SELECT count(*) FROM outbox WHERE state IN ('queued','sending'))")[0][0] == 0, 600, 1)
        elapsed = time.time() - t0
        entries = chaos.ticket_entry_counts(serve, acked)
        bad = [t for t, n in entries.items() if n != 1]
        outbox = [(mid or "").strip("<>") for (mid,) in serve.query("SELECT message_id FROM outbox")]
        delivered = set(relay.message_ids())
        lost_out = [m for m in outbox if m not in delivered]
        st = serve.status()
        serve.stop(timeout=120)
        figure("messages_250", len(acked))
        figure("rate_msg_per_s", "%.1f" % (len(acked) / elapsed))
        figure("acknowledgements", len(outbox))
        figure("rss_kib_first_sample", samples[0][2])
        figure("rss_kib_last_sample", samples[-1][2])
        figure("rss_kib_after_drain", st.get("VmRSS", 0))
        figure("fds_first_sample", samples[0][3])
        figure("fds_last_sample", samples[-1][3])
        figure("db_mib_end", "%.1f" % samples[-1][4])
        figure("smtp_errors", load.errors + sum(n for c, n in load.codes.items() if c != 250))
        figure("messages_lost", len(bad) + len(lost_out))
        check(drained, "spool and outbox drained")
        check(not bad, "every 250'd message on exactly one ticket entry (%d not)" % len(bad))
        check(not lost_out, "every acknowledgement delivered (%d not)" % len(lost_out))
        chaos.check_memory(samples[-1][2] <= samples[0][2] + 64 * 1024, "RSS did not grow beyond 64 MB over the first sample")
        check(samples[-1][3] <= samples[0][3] + 16, "descriptors did not grow")
    finally:
        try:
            serve.stop()
        except Exception:
            pass
        relay.stop()
        work.cleanup()


if __name__ == "__main__":
    main()
