"""/metrics, /healthz, /readyz and --log-format json against a running serve.

A real scrape over HTTP (urllib) of `relaydesk serve --metrics`, real
SMTP clients (smtplib): the counters must move by exactly what was done.
"""
import json
import os
import re
import smtplib
import subprocess
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rdtest  # noqa: E402
import relay_peers  # noqa: E402


def parse_metrics(text):
    """{'name{labels}': value} of the exposition text; checks the format."""
    out = {}
    seen_type = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            assert kind in ("counter", "gauge", "histogram"), line
            seen_type.add(name)
            continue
        if line.startswith("# HELP ") or not line:
            continue
        m = re.fullmatch(r'([a-z_]+)(\{[^}]*\})? (\S+)', line)
        assert m, f"malformed sample line: {line!r}"
        base = re.sub(r'_(bucket|sum|count)$', '', m.group(1))
        assert m.group(1) in seen_type or base in seen_type, f"sample before its TYPE: {line}"
        out[m.group(1) + (m.group(2) or "")] = float(m.group(3).replace("+Inf", "inf"))
    return out


class MetricsTest(rdtest.RelaydeskTestCase):
    def start(self, *extra, config_text=None):
        self.metrics_port_file = os.path.join(self.tmp, "metrics.port")
        if os.path.exists(self.metrics_port_file):
            os.unlink(self.metrics_port_file)   # a previous serve's
        config = None
        if config_text:
            config = os.path.join(self.tmp, "relaydesk.conf")
            with open(config, "w") as f:
                f.write(config_text)
        s = self.serve("--metrics", "127.0.0.1:0", "--metrics-port-file", self.metrics_port_file,
                       *extra, config=config)
        self.wait_for(lambda: os.path.exists(self.metrics_port_file), what="metrics port file")
        with open(self.metrics_port_file) as f:
            self.mport = int(f.read())
        return s

    def get(self, path):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.mport}{path}", timeout=10) as r:
                return r.status, r.headers.get("Content-Type"), r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.headers.get("Content-Type"), e.read().decode()

    def scrape(self):
        status, ctype, body = self.get("/metrics")
        self.assertEqual(status, 200)
        self.assertEqual(ctype, "text/plain; version=0.0.4; charset=utf-8")
        return parse_metrics(body)

    def send(self, port, rcpt="support@example.org", n=1, size=100):
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as c:
            for i in range(n):
                body = (f"From: alice@example.com\r\nTo: {rcpt}\r\nSubject: metrics {i}\r\n"
                        f"Message-ID: <m{i}.{time.time()}@example.com>\r\n\r\n" + "x" * size + "\r\n")
                c.sendmail("alice@example.com", [rcpt], body)

    def test_counters_move(self):
        s = self.start(config_text="[smtp]\naccept_recipients = support@example.org\n")
        before = self.scrape()
        self.assertEqual(before["relaydesk_spool_commits_total"], 0)
        self.assertEqual(before["relaydesk_ready"], 1)
        self.assertEqual(before['relaydesk_build_info{version="0.1.0"}'], 1)

        self.send(s.port, n=3)
        # One recipient refused: 550 5.1.1.
        with smtplib.SMTP("127.0.0.1", s.port, timeout=10) as c:
            c.ehlo()
            c.mail("alice@example.com")
            code, _ = c.rcpt("nobody@example.org")
            self.assertEqual(code, 550)
        self.wait_tickets(3)
        m = self.wait_for(lambda: (lambda x: x if x.get('relaydesk_processed_total{result="ticket"}') == 3 else None)(
            self.scrape()), what="3 processed")

        self.assertEqual(m['relaydesk_smtp_connections_total{listener="smtp"}'], 2)
        self.assertEqual(m['relaydesk_messages_accepted_total{protocol="ESMTP"}'], 3)
        self.assertGreater(m["relaydesk_message_bytes_total"], 300)
        self.assertEqual(m['relaydesk_smtp_rejections_total{reason="unknown_recipient",code="550"}'], 1)
        self.assertGreaterEqual(m["relaydesk_spool_commits_total"], 1)
        self.assertEqual(m["relaydesk_spool_commit_messages_count"], m["relaydesk_spool_commits_total"])
        self.assertEqual(m["relaydesk_spool_commit_messages_sum"], 3)
        self.assertEqual(m["relaydesk_processing_seconds_count"], 3)
        self.assertEqual(m['relaydesk_processing_seconds_bucket{le="+Inf"}'], 3)
        self.assertEqual(m["relaydesk_spool_backlog"], 0)
        self.assertEqual(m['relaydesk_spool_messages{state="processed"}'], 3)
        self.assertEqual(m['relaydesk_outbox_messages{state="queued"}'], 0)
        self.assertEqual(m["relaydesk_smtp_sessions"], 0)

        status, ctype, body = self.get("/readyz")
        self.assertEqual(status, 200, body)
        self.assertEqual(ctype, "application/json")
        r = json.loads(body)
        self.assertEqual((r["ready"], r["database"], r["backlog"]), (True, "writable", 0))
        self.assertEqual(self.get("/healthz")[0::2], (200, "ok\n"))
        self.assertEqual(self.get("/nothing")[0], 404)
        self.assertEqual(s.stop(), 0)

    def test_vacation_and_quarantine(self):
        rules = os.path.join(self.tmp, "ack.sieve")
        with open(rules, "w") as f:
            f.write('require ["vacation"];\nvacation :days 1 "We got it.";\n')
        s = self.start(config_text=f"[rules]\ndefault = {rules}\n")
        self.send(s.port, n=2)   # one sender: the second is suppressed by the response log
        self.wait_tickets(2)
        m = self.wait_for(lambda: (lambda x: x if x.get('relaydesk_processed_total{result="ticket"}') == 2 else None)(
            self.scrape()), what="2 processed")
        self.assertEqual(m['relaydesk_vacation_responses_total{result="sent"}'], 1)
        self.assertEqual(m['relaydesk_vacation_responses_total{result="suppressed"}'], 1)
        self.assertEqual(m['relaydesk_outbox_messages{state="queued"}'], 1)
        self.assertGreaterEqual(m["relaydesk_outbox_oldest_queued_age_seconds"], 0)

    def test_relay_counters(self):
        relay = relay_peers.Aiosmtpd(self.tmp, tempfail=1).start()
        try:
            s = self.start("--relay", f"smtp://127.0.0.1:{relay.port}",
                           config_text="[relay]\nstarttls = opportunistic\nretry_base = 1s\n")
            msg = os.path.join(self.tmp, "out.eml")
            for n, to in ((1, "user@relay.test"), (2, "bad@relay.test")):
                with open(msg, "wb") as f:
                    f.write(relay_peers.message(n, to=to))
                self.rd("queue", "inject", msg, "--to", to, "--from", "support@desk.example")
            # 451 to the first DATA (retried a second later), 550 to bad@.
            m = self.wait_for(lambda: (lambda x: x if x.get("relaydesk_relay_sent_total") == 1
                                       and x.get('relaydesk_relay_failures_total{code="550",result="failed"}') == 1
                                       else None)(self.scrape()), timeout=60, what="relay counters")
            self.assertEqual(m['relaydesk_relay_failures_total{code="451",result="deferred"}'], 1)
            self.assertEqual(m["relaydesk_relay_send_seconds_count"], 3)
            self.assertEqual(m['relaydesk_outbox_messages{state="sent"}'], 1)
            self.assertEqual(m['relaydesk_outbox_messages{state="failed"}'], 1)
            self.assertEqual(m["relaydesk_outbox_oldest_queued_age_seconds"], 0)
            s.stop()
        finally:
            relay.stop()

    def test_readyz_backlog_and_forbidden(self):
        # max_backlog 0 is "no limit"; 1 with two messages waiting (no
        # processing: deliver --no-process) fails.
        s = self.start(config_text="[metrics]\nmax_backlog = 1\n")
        for i in range(2):
            msg = f"From: a@example.com\r\nSubject: b{i}\r\nMessage-ID: <b{i}@x>\r\n\r\nhi\r\n".encode()
            self.rd("deliver", "--no-process", "--from", "a@example.com", "support@example.org", input=msg)
        # serve processes them quickly; either way readyz must be right
        # about the backlog it reports.
        status, _, body = self.get("/readyz")
        r = json.loads(body)
        self.assertEqual(status == 200, r["ready"])
        self.assertEqual(r["ready"], r["backlog"] <= 1)
        s.stop()

        self.servers.clear()
        s = self.start(config_text="[metrics]\nclients = 192.0.2.0/24\n")
        status, ctype, body = self.get("/metrics")
        self.assertEqual((status, ctype), (403, "application/json"))
        self.assertIn("[metrics] clients", json.loads(body)["error"])

    def test_log_format_json(self):
        s = self.start("--log-format", "json")
        self.send(s.port)
        self.wait_tickets(1)
        s.stop()
        lines = [l for l in s.read_log().splitlines() if l.strip()]
        events = [json.loads(l) for l in lines]   # every line is one JSON object
        starts = [e for e in events if e["event"] == "serve.start"]
        self.assertEqual(len(starts), 1)
        self.assertEqual(starts[0]["version"], "0.1.0")
        accepted = [e for e in events if e["event"] == "smtp.message"]
        self.assertEqual(accepted[0]["result"], "accepted")
        self.assertEqual(accepted[0]["sender"], "alice@example.com")
        self.assertTrue(all(set(("ts", "level", "event")) <= set(e) for e in events))
        p = self.rd("config", "check", "--log-format", "xml", check=False)
        self.assertEqual(p.returncode, 64)


if __name__ == "__main__":
    rdtest.main()
