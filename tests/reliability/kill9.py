#!/usr/bin/python3
"""kill -9 under mixed load (issue 14, point 1).

32 SMTP sessions send without pause; serve processes them into tickets
(an acknowledgement rule puts one outbox row per new ticket) and sends
the outbox to an aiosmtpd relay; an agent replies through the CLI
(`relaydesk tickets reply`) in a loop. At a random moment serve gets
SIGKILL, and is started again on the same data directory; ROUNDS times.

After each kill: PRAGMA integrity_check is ok and every message answered
250 so far is in the spool exactly once. At the end (load stopped, serve
left to drain): every 250'd message is on exactly one ticket entry, every
outbox row (acknowledgements and agent replies whose CLI call succeeded)
reached the relay, and the deliveries beyond one per row (sends in flight
at a kill) are counted and printed.

Usage: kill9.py [--rounds N] [--sessions N] [--min-s S] [--max-s S]
"""
import argparse
import os
import random
import re
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import chaos  # noqa: E402
from chaos import check, figure  # noqa: E402


def agent_loop(serve, stop, replies, lock):
    """Replies to a random ticket while the load runs; a reply counts when
    the CLI said it was queued (its outbox id)."""
    while not stop.is_set():
        time.sleep(0.1)
        try:
            rows = serve.query("SELECT number FROM tickets ORDER BY number DESC LIMIT 20")
        except Exception:
            continue
        if not rows:
            continue
        n = random.choice(rows)[0]
        try:
            p = serve.cli("tickets", "reply", str(n), "--text", "agent reply", check=False, timeout=60)
        except Exception:
            continue
        m = re.search(rb"\(outbox (\d+)\)", p.stdout)
        if p.returncode == 0 and m:
            with lock:
                replies.append(int(m.group(1)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--sessions", type=int, default=32)
    ap.add_argument("--min-s", type=float, default=1.0)
    ap.add_argument("--max-s", type=float, default=4.0)
    ap.add_argument("--pause", type=float, default=0.5, help="seconds between a session's messages")
    ap.add_argument("--seed", type=int, default=None)
    a = ap.parse_args()
    seed = a.seed if a.seed is not None else int(time.time())
    random.seed(seed)
    figure("seed", seed)
    chaos.need_relaydesk()
    work = chaos.Workdir("rd-kill9-")
    relay = chaos.Relay(work)
    script = work.join("ack.sieve")
    with open(script, "w") as f:
        f.write(chaos.ACK_SCRIPT)
    serve = chaos.Serve(work, {
        "desk": {"reply_address": chaos.INBOX},
        "rules": {"default": script},
        "relay": {"url": relay.url(), "starttls": "opportunistic", "retry_base": "1s", "retry_max": "2s",
                  "rate_per_minute": "0", "cap_per_hour": "0", "cap_per_day": "0"},
    })
    ok = False
    try:
        serve.start()
        load = chaos.Load(serve.port, sessions=a.sessions, pause=a.pause).start()
        stop_agent = threading.Event()
        replies, lock = [], threading.Lock()
        agent = threading.Thread(target=agent_loop, args=(serve, stop_agent, replies, lock), daemon=True)
        agent.start()
        lost_spool = dup_spool = 0
        for r in range(a.rounds):
            time.sleep(random.uniform(a.min_s, a.max_s))
            serve.kill9()
            acked = load.snapshot()
            integ = serve.integrity()
            counts = chaos.spool_counts(serve, acked)
            lost = sum(1 for n in counts.values() if n == 0)
            dup = sum(1 for n in counts.values() if n > 1)
            lost_spool += lost
            dup_spool += dup
            print("round %d: acked=%d integrity=%s missing=%d duplicated=%d" % (
                r + 1, len(acked), integ, lost, dup), flush=True)
            check(integ == "ok", "round %d integrity_check ok" % (r + 1))
            check(lost == 0 and dup == 0, "round %d every 250'd message in the spool exactly once" % (r + 1))
            serve.start()
        time.sleep(1)
        stop_agent.set()
        agent.join(120)
        load.stop()
        acked = load.snapshot()

        # Drain: spool processed, outbox sent.
        def drained():
            pend = serve.query("SELECT count(*) FROM spool WHERE state = 'new'")[0][0]
            out = serve.query("SELECT count(*) FROM outbox WHERE state IN ('queued', 'sending')")[0][0]
            return pend == 0 and out == 0
        t0 = time.time()
        check(chaos.wait_until(drained, 600), "spool processed and outbox empty after the load")
        figure("drain_seconds", "%.1f" % (time.time() - t0))
        counts = chaos.spool_counts(serve, acked)
        entries = chaos.ticket_entry_counts(serve, acked)
        bad_entries = [t for t, n in entries.items() if n != 1]
        states = dict(serve.query("SELECT state, count(*) FROM spool GROUP BY state"))
        outbox = [(i, (mid or "").strip("<>"), st, k)
                  for i, mid, st, k in serve.query("SELECT id, message_id, state, kind FROM outbox")]
        delivered = {}
        for mid in relay.message_ids():
            delivered[mid] = delivered.get(mid, 0) + 1
        lost_out = [r for r in outbox if delivered.get(r[1], 0) == 0]
        dup_sends = sum(max(0, delivered.get(r[1], 0) - 1) for r in outbox)
        outbox_ids = {r[0] for r in outbox}
        lost_replies = [x for x in replies if x not in outbox_ids]
        serve.stop()
        integ = serve.integrity()
        figure("rounds", a.rounds)
        figure("messages_250", len(acked))
        figure("smtp_errors_during_kills", load.errors)
        figure("spool_states", ",".join("%s:%d" % kv for kv in sorted(states.items())))
        figure("missing_in_spool", sum(1 for n in counts.values() if n == 0))
        figure("duplicated_in_spool", sum(1 for n in counts.values() if n > 1))
        figure("not_on_exactly_one_ticket_entry", len(bad_entries))
        figure("outbox_rows", len(outbox))
        figure("agent_replies_queued", len(replies))
        figure("outbox_lost", len(lost_out))
        figure("agent_replies_lost", len(lost_replies))
        figure("duplicate_sends", dup_sends)
        figure("messages_lost", lost_spool + len(bad_entries) + len(lost_out) + len(lost_replies))
        check(len(acked) > 0, "messages were accepted")
        check(not bad_entries, "every 250'd message on exactly one ticket entry (%s)" % bad_entries[:5])
        check(not lost_out, "no outbound message lost (%s)" % lost_out[:5])
        check(not lost_replies, "every queued agent reply in the outbox")
        check(integ == "ok", "final integrity_check ok")
        check(dup_sends <= a.rounds * 4, "duplicate sends bounded by what was in flight at the kills")
        ok = True
    finally:
        try:
            serve.stop()
        except Exception:
            pass
        relay.stop()
        if ok or not os.environ.get("RD_CHAOS_KEEP"):
            work.cleanup()
        else:
            print("kept", work.path)


if __name__ == "__main__":
    main()
