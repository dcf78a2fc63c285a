"""The web desk's security, each point tested against a real serve:
the authorization matrix (no session 401, another queue's ticket 404 in
every endpoint and in search, agent to admin 403), CSRF, login rate
limits per account and per address (429), session fixation, API tokens
(bearer, revoked), TOTP, attachments served as downloads with a safe
type and a sandbox CSP, hostile HTML made inert, security headers and
error bodies without internals, body limits.
"""
import base64
import hashlib
import hmac
import http.client
import json
import re
import struct
import subprocess
import time

from webdesk import WebDeskTestCase, main, q

SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>'
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")

HOSTILE_HTML = """<html><head><style>body{background:url(http://tracker.example/css.png)}</style>
<script>alert('head')</script></head>
<body onload="alert('body')"><h1>Invoice</h1>
<p>Hello <b>there</b> <img src="http://tracker.example/pixel.gif?id=42" width="1"></p>
<a href="javascript:alert('link')">click</a> <a href=" java\tscript:alert(3)">tab</a>
<a href="https://example.com/ok">fine link</a>
<img src="x" onerror="alert('img')"><iframe src="https://evil.example/"></iframe>
<form action="https://evil.example/"><input name=p></form>
<svg onload="alert('svg')"></svg><p style="background:url(http://t.example/a)">styled</p>
</body></html>"""


def hostile_message():
    b = "BOUNDARY42"
    svg64 = base64.encodebytes(SVG).decode()
    png64 = base64.encodebytes(PNG).decode()
    return ("From: Mallory <mallory@example.com>\r\nTo: support@desk.test\r\n"
            "Subject: <script>alert('subject')</script> hostile\r\nMessage-ID: <hostile.1@example.com>\r\n"
            "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=%s\r\n\r\n"
            "--%s\r\nContent-Type: multipart/alternative; boundary=ALT\r\n\r\n"
            "--ALT\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n<script>alert('body')</script> plain\r\n"
            "--ALT\r\nContent-Type: text/html; charset=utf-8\r\n\r\n%s\r\n--ALT--\r\n"
            "--%s\r\nContent-Type: image/svg+xml; name=\"<img src=x onerror=alert(1)>.svg\"\r\n"
            "Content-Disposition: attachment; filename=\"<img src=x onerror=alert(1)>.svg\"\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n%s\r\n"
            "--%s\r\nContent-Type: image/png; name=\"dot.png\"\r\nContent-Disposition: attachment; filename=\"dot.png\"\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n%s\r\n--%s--\r\n"
            % (b, b, HOSTILE_HTML.replace("\n", "\r\n"), b, svg64, b, png64, b)).encode()


def totp(secret, t=None):
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    counter = int((t or time.time()) // 30)
    mac = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    off = mac[-1] & 0x0F
    return "%06d" % ((struct.unpack(">I", mac[off:off + 4])[0] & 0x7FFFFFFF) % 1000000)


class SecurityTest(WebDeskTestCase):
    CONFIG = "[http]\nmax_upload = 4K\nlogin_failures_account = 3\nlogin_failures_address = 6\n"
    AGENTS = WebDeskTestCase.AGENTS + (("carol@desk.test", "Carol", "agent", ("inbox",)),
                                       ("dave@desk.test", "Dave", "agent", ("inbox",)))

    def test_security(self):
        self.start()
        admin = self.client("admin@desk.test")
        alice = self.client("alice@desk.test")   # queue inbox
        bob = self.client("bob@desk.test")       # queue billing
        anon = self.client()

        self.send_mail(raw=hostile_message(), sender="mallory@example.com")
        t = self.wait_ticket(alice, "<script>alert('subject')</script> hostile")
        n = t["number"]
        view = alice.get("/api/v1/tickets/%d" % n).json
        atts = {a["filename"]: a for m in view["messages"] for a in m["attachments"]}
        svg = atts["<img src=x onerror=alert(1)>.svg"]
        png = atts["dot.png"]
        msg_id = view["messages"][0]["id"]

        # ---- no session: 401 everywhere ----
        for method, path in [("GET", "/api/v1/session"), ("GET", "/api/v1/tickets"), ("GET", "/api/v1/queues"),
                             ("GET", "/api/v1/tickets/%d" % n), ("GET", "/api/v1/attachments/%d" % svg["id"]),
                             ("GET", "/api/v1/tickets/%d/html" % n), ("GET", "/api/v1/events"),
                             ("GET", "/api/v1/views"), ("POST", "/api/v1/tickets/%d/notes" % n),
                             ("GET", "/api/v1/agents"), ("GET", "/api/v1/rules"), ("POST", "/api/v1/uploads")]:
            r = anon.request(method, path, body={} if method == "POST" else None)
            self.assertEqual(r.status, 401, (method, path, r))
            self.assertEqual(r.json["code"], "unauthenticated")

        # ---- another queue's ticket: 404, like a missing one, everywhere ----
        missing = alice.get("/api/v1/tickets/999999")
        for method, path, body in [
                ("GET", "/api/v1/tickets/%d" % n, None), ("PATCH", "/api/v1/tickets/%d" % n, {"status": "open"}),
                ("POST", "/api/v1/tickets/%d/notes" % n, {"text": "x"}),
                ("POST", "/api/v1/tickets/%d/reply" % n, {"text": "x"}),
                ("GET", "/api/v1/tickets/%d/draft" % n, None), ("PUT", "/api/v1/tickets/%d/draft" % n, {"text": "x"}),
                ("GET", "/api/v1/tickets/%d/html" % n, None),
                ("POST", "/api/v1/tickets/%d/presence" % n, {"state": "viewing"}),
                ("GET", "/api/v1/attachments/%d" % svg["id"], None)]:
            r = bob.request(method, path, body=body)
            self.assertEqual(r.status, 404, (method, path, r))
            self.assertEqual(r.json["code"], "not_found")
        self.assertEqual(missing.status, 404)
        self.assertEqual(bob.get("/api/v1/tickets").json["tickets"], [])
        self.assertEqual(bob.get("/api/v1/tickets?q=hostile").json["tickets"], [], "search leaks nothing")
        self.assertEqual(bob.get("/api/v1/tickets?queue=inbox").json["total"], 0)
        self.assertEqual(bob.get("/api/v1/requesters/%s/tickets" % q("mallory@example.com")).json["tickets"], [])
        r = bob.post("/api/v1/tickets/bulk", {"numbers": [n], "set": {"status": "closed"}})
        self.assertEqual(r.json["results"][0]["code"], "not_found")
        self.assertEqual([x["name"] for x in bob.get("/api/v1/queues").json["queues"]], ["billing"])
        self.assertEqual(alice.get("/api/v1/tickets/%d" % n).json["status"], "new", "nothing changed")
        self.assertEqual(len(alice.get("/api/v1/tickets?q=hostile").json["tickets"]), 1)

        # ---- agent to admin endpoints: 403 ----
        for method, path in [("GET", "/api/v1/agents"), ("POST", "/api/v1/agents"), ("GET", "/api/v1/allowlist"),
                             ("GET", "/api/v1/outbox"), ("GET", "/api/v1/spool/quarantine"),
                             ("POST", "/api/v1/relay/check"), ("GET", "/api/v1/rules"),
                             ("POST", "/api/v1/rules/check"), ("GET", "/api/v1/audit"),
                             ("DELETE", "/api/v1/agents/%s" % q("bob@desk.test"))]:
            r = alice.request(method, path, body={} if method == "POST" else None)
            self.assertEqual(r.status, 403, (method, path, r))
            self.assertEqual(r.json["code"], "forbidden")
        self.assertEqual(admin.get("/api/v1/agents").status, 200)

        # ---- CSRF: the session's token on every state change ----
        r = alice.post("/api/v1/tickets/%d/notes" % n, {"text": "no token"}, csrf=False)
        self.assertEqual((r.status, r.json["code"]), (403, "csrf"))
        r = alice.post("/api/v1/tickets/%d/notes" % n, {"text": "wrong"}, headers={"X-CSRF-Token": "x" * 43})
        self.assertEqual((r.status, r.json["code"]), (403, "csrf"))
        r = alice.post("/api/v1/tickets/%d/notes" % n, {"text": "other session's token"},
                       headers={"X-CSRF-Token": admin.csrf})
        self.assertEqual(r.status, 403)
        r = alice.request("POST", "/api/v1/tickets/%d/notes" % n, raw=b"text=form", content_type="application/x-www-form-urlencoded")
        self.assertEqual(r.status, 415, "a cross-site form cannot post JSON")
        self.assertEqual(alice.get("/api/v1/tickets/%d/notes" % n).status, 405, "no state change over GET")

        # ---- session fixation: a cookie the client brings is never adopted ----
        fix = self.client()
        fix.cookie = "attacker-chosen-value"
        self.assertEqual(fix.get("/api/v1/session").status, 401)
        fix.login("carol@desk.test")
        self.assertNotEqual(fix.cookie, "attacker-chosen-value")
        first = fix.cookie
        fix.login("carol@desk.test")
        self.assertNotEqual(fix.cookie, first, "a new session at every login")
        stale = self.client()
        stale.cookie = first
        self.assertEqual(stale.get("/api/v1/session").status, 401, "the session it replaced ended")
        r = self.client().login("carol@desk.test")
        cookie = r.header("Set-Cookie")
        for attr in ("HttpOnly", "SameSite=Strict", "Path=/", "Max-Age="):
            self.assertIn(attr, cookie)
        self.assertNotIn("Secure", cookie, "plain HTTP: no Secure (TLS adds it)")
        self.assertTrue(re.match(r"rd_session=[A-Za-z0-9_-]{43};", cookie))
        db = self.data + "/relaydesk.db"
        token = cookie.split(";")[0].split("=", 1)[1]
        rows = subprocess.run(["sqlite3", db, "SELECT token_hash FROM agent_sessions"], capture_output=True,
                              text=True).stdout.split()
        self.assertIn(hashlib.sha256(token.encode()).hexdigest(), rows, "stored hashed")
        self.assertNotIn(token, rows)
        hashes = subprocess.run(["sqlite3", db, "SELECT password_hash FROM agents"], capture_output=True,
                                text=True).stdout.split()
        self.assertTrue(all(h.startswith("$argon2id$") for h in hashes), hashes)

        # ---- API tokens: bearer, no CSRF, revocable ----
        p = self.rd("agents", "token", "alice@desk.test", "--label", "script", "--config", self.config)
        lines = p.stdout.decode().splitlines()
        self.assertEqual(len(lines), 1)
        tok = lines[0]
        script = self.client(bearer=tok)
        self.assertEqual(script.get("/api/v1/session").json["agent"]["email"], "alice@desk.test")
        self.assertEqual(script.post("/api/v1/tickets/%d/notes" % n, {"text": "from a script"}).status, 201)
        self.assertEqual(self.client(bearer=tok + "x").get("/api/v1/tickets").status, 401)
        listed = self.rd_json("agents", "tokens", "alice@desk.test", "--config", self.config)[0]
        self.assertIsNotNone(listed["last_used_at"])
        self.assertEqual(listed["label"], "script")
        self.assertNotIn(tok, json.dumps(listed))
        tid = listed["id"]
        self.rd("agents", "revoke", str(tid), "--config", self.config)
        self.assertEqual(script.get("/api/v1/tickets").status, 401)

        # ---- TOTP second factor ----
        out = self.rd_json("agents", "totp", "dave@desk.test", "--config", self.config)
        d = self.client()
        r = d.login("dave@desk.test", expect=401)
        self.assertEqual(r.json["code"], "totp_required")
        r = d.login("dave@desk.test", totp="000000" if totp(out["secret"]) != "000000" else "111111", expect=401)
        self.assertEqual(r.json["code"], "login_failed")
        d.login("dave@desk.test", totp=totp(out["secret"]))
        self.assertEqual(d.get("/api/v1/session").json["agent"]["totp"], True)

        # ---- attachments: downloads, safe types, sandbox ----
        r = alice.get("/api/v1/attachments/%d" % svg["id"])
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, SVG)
        self.assertEqual(r.header("Content-Type"), "application/octet-stream", "SVG never renders on the desk")
        self.assertTrue(r.header("Content-Disposition").startswith("attachment;"))
        self.assertIn("filename*=UTF-8''", r.header("Content-Disposition"))
        self.assertIn("sandbox", r.header("Content-Security-Policy"))
        self.assertEqual(r.header("X-Content-Type-Options"), "nosniff")
        r = alice.get("/api/v1/attachments/%d" % png["id"])
        self.assertEqual((r.header("Content-Type"), r.body), ("image/png", PNG))
        self.assertEqual(r.header("X-Relaydesk-SHA256"), hashlib.sha256(PNG).hexdigest())

        # ---- HTML mail: inert, remote images held back ----
        r = alice.get("/api/v1/tickets/%d/html?message=%d" % (n, msg_id))
        self.assertEqual(r.status, 200)
        html = r.body.decode()
        for bad in ("<script", "onload", "onerror", "javascript:", "java\tscript", "<iframe", "<form", "<input",
                    "<svg", "tracker.example", "evil.example", "<style", "url("):
            self.assertNotIn(bad, html, bad)
        self.assertIn("<h1>Invoice</h1>", html)
        self.assertIn('href="https://example.com/ok"', html)
        self.assertIn('rel="noopener noreferrer"', html)
        self.assertEqual(r.header("X-Relaydesk-Blocked-Images"), "1")
        csp = r.header("Content-Security-Policy")
        self.assertIn("sandbox", csp)
        self.assertIn("default-src 'none'", csp)
        self.assertNotIn("http:", csp)
        r = alice.get("/api/v1/tickets/%d/html?message=%d&images=1" % (n, msg_id))
        self.assertIn("http://tracker.example/pixel.gif", r.body.decode())
        self.assertIn("img-src data: https: http:", r.header("Content-Security-Policy"))
        self.assertNotIn("<script", r.body.decode())

        # ---- headers on every response; errors without internals ----
        for path in ("/", "/api/v1/tickets", "/api/v1/nowhere", "/app.js", "/healthz"):
            r = alice.get(path)
            if path == "/healthz":
                continue
            self.assertEqual(r.header("X-Content-Type-Options"), "nosniff", path)
            csp = r.header("Content-Security-Policy")
            self.assertIn("default-src 'self'", csp, path)
            self.assertIn("frame-ancestors 'none'", csp, path)
            self.assertNotIn("unsafe-inline", csp, path)
            self.assertEqual(r.header("X-Frame-Options"), "DENY", path)
        r = alice.get("/api/v1/nowhere")
        self.assertEqual((r.status, set(r.json)), (404, {"error", "code"}))
        r = alice.request("POST", "/api/v1/tickets/%d/notes" % n, raw=b"{not json", content_type="application/json")
        self.assertEqual((r.status, set(r.json)), (400, {"error", "code"}))
        self.assertNotIn("sqlite", r.body.decode().lower())

        # ---- bodies: Content-Length required, [http] max_upload ----
        r = alice.request("POST", "/api/v1/uploads?filename=big.bin", raw=b"x" * (80 * 1024),
                          content_type="application/octet-stream")
        self.assertEqual(r.status, 413)
        r = alice.request("POST", "/api/v1/uploads?filename=mid.bin", raw=b"x" * 5000,
                          content_type="application/octet-stream")
        self.assertEqual((r.status, r.json["code"]), (413, "too_large"))
        c = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=10)
        c.putrequest("POST", "/api/v1/uploads")
        c.putheader("Cookie", "rd_session=" + alice.cookie)
        c.putheader("Transfer-Encoding", "chunked")
        c.endheaders()
        c.send(b"5\r\nhello\r\n0\r\n\r\n")
        self.assertEqual(c.getresponse().status, 411)
        c.close()
        r = alice.request("POST", "/api/v1/uploads?filename=../../etc/passwd", raw=b"hi", content_type="text/html")
        self.assertEqual(r.status, 201, r)
        self.assertEqual((r.json["filename"], r.json["content_type"]), ("passwd", "text/html"))

        # ---- live events only for the agent's queues ----
        conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=10)
        conn.request("GET", "/api/v1/events", headers={"Cookie": "rd_session=" + bob.cookie})
        stream = conn.getresponse()
        self.assertEqual(stream.status, 200)
        time.sleep(1.2)
        self.send_mail(subject="Inbox only", body="for alice's queue")
        secret = self.wait_ticket(alice, "Inbox only")["number"]
        time.sleep(2.5)
        self.assertEqual(admin.patch("/api/v1/tickets/%d" % secret, {"queue": "billing"}).status, 200)
        got = []
        deadline = time.time() + 6
        while time.time() < deadline:
            line = stream.fp.readline()
            if line.startswith(b"event: "):
                kind = line[7:].strip().decode()
            elif line.startswith(b"data: "):
                got.append((kind, json.loads(line[6:]).get("ticket", {}).get("queue")))
                if got[-1] == ("ticket.updated", "billing"):
                    break
        conn.close()
        self.assertEqual(got[-1:], [("ticket.updated", "billing")], got)
        self.assertNotIn("inbox", [q for _, q in got], "no event of another queue's ticket")

        # ---- login rate limits: per account, then per address ----
        rl = self.client()
        for i in range(3):
            self.assertEqual(rl.login("bob@desk.test", "wrong password %d" % i, expect=None).status, 401)
        r = rl.login("bob@desk.test", expect=None)
        self.assertEqual((r.status, r.json["code"]), (429, "rate_limited"), "even the right password waits")
        self.assertTrue(int(r.header("Retry-After")) > 0)
        for i in range(3):
            rl.login("nobody%d@desk.test" % i, "wrong password", expect=None)
        r = rl.login("carol@desk.test", expect=None)
        self.assertEqual(r.status, 429, "too many failures from this address")


class TlsTest(WebDeskTestCase):
    CONFIG = "[http]\ncert_file = @TMP@/web-cert.pem\nkey_file = @TMP@/web-key.pem\n"

    def test_https_hsts_secure_cookie(self):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                        "/CN=127.0.0.1", "-keyout", self.tmp + "/web-key.pem", "-out", self.tmp + "/web-cert.pem"],
                       check=True, capture_output=True)
        self.start()
        c = self.client(tls=True)
        r = c.login("alice@desk.test")
        self.assertIn("; Secure", r.header("Set-Cookie"))
        self.assertTrue(r.header("Strict-Transport-Security").startswith("max-age="))
        self.assertEqual(c.get("/api/v1/session").status, 200)
        plain = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=10)
        try:
            plain.request("GET", "/api/v1/session")
            status = plain.getresponse().status
        except (http.client.HTTPException, OSError):
            status = None
        self.assertNotEqual(status, 200, "no plain HTTP on the TLS listener")


if __name__ == "__main__":
    main()
