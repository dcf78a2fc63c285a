"""Harness for the web desk's API tests (stdlib only): a real `relaydesk
serve` with its web listener on a free loopback port, a real SQLite data
dir, agents made with the CLI, and an HTTP client that keeps the session
cookie and the CSRF token as a browser's page would.
"""
import http.client
import json
import os
import smtplib
import sys
import time
import unittest
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import rdtest  # noqa: E402

PASSWORD = "correct horse battery"


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def header(self, name):
        return self.headers.get(name.lower())

    def headers_all(self, name):
        return self.headers.get("__all__", {}).get(name.lower(), [])

    @property
    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return "<%d %r>" % (self.status, self.body[:300])


class Client:
    """One browser: the rd_session cookie, the CSRF token of its session."""

    def __init__(self, port, bearer=None, tls=False):
        self.port = port
        self.tls = tls
        self.cookie = None
        self.csrf = None
        self.bearer = bearer

    def request(self, method, path, body=None, headers=None, raw=None, csrf=True, content_type=None):
        h = dict(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        elif raw is not None:
            data = raw
            if content_type:
                h["Content-Type"] = content_type
        if self.cookie:
            h["Cookie"] = "rd_session=" + self.cookie
        if self.bearer:
            h["Authorization"] = "Bearer " + self.bearer
        if csrf and self.csrf and method not in ("GET", "HEAD"):
            h.setdefault("X-CSRF-Token", self.csrf)
        if data is None and method in ("POST", "PUT", "PATCH", "DELETE"):
            data = b""
        if self.tls:
            import ssl
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            c = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=30, context=ctx)
        else:
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        c.request(method, path, body=data, headers=h)
        r = c.getresponse()
        payload = r.read()
        hs = {k.lower(): v for k, v in r.getheaders()}
        allh = {}
        for k, v in r.getheaders():
            allh.setdefault(k.lower(), []).append(v)
        hs["__all__"] = allh
        c.close()
        for sc in allh.get("set-cookie", []):
            first = sc.split(";", 1)[0]
            if first.startswith("rd_session="):
                self.cookie = first[len("rd_session="):] or None
        return Response(r.status, hs, payload)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body=body if body is not None else ({} if "raw" not in kw else None), **kw)

    def put(self, path, body=None, **kw):
        return self.request("PUT", path, body=body, **kw)

    def patch(self, path, body=None, **kw):
        return self.request("PATCH", path, body=body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def login(self, email, password=PASSWORD, totp=None, expect=200):
        body = {"email": email, "password": password}
        if totp:
            body["totp"] = totp
        r = self.post("/api/v1/session", body, csrf=False)
        if expect is not None and r.status != expect:
            raise AssertionError("login %s: %r" % (email, r))
        if r.status == 200:
            self.csrf = r.json["csrf"]
        return r


def q(s):
    return urllib.parse.quote(s, safe="")


class WebDeskTestCase(rdtest.RelaydeskTestCase):
    """A data dir with agents; serve started by start()."""

    CONFIG = ""
    AGENTS = (("admin@desk.test", "Ada Admin", "admin", ()),
              ("alice@desk.test", "Alice", "agent", ("inbox",)),
              ("bob@desk.test", "Bob", "agent", ("billing",)))

    def setUp(self):
        super().setUp()
        self.config = os.path.join(self.tmp, "relaydesk.conf")
        with open(self.config, "w") as f:
            f.write("[relaydesk]\nhostname = desk.test\n" + self.CONFIG.replace("@TMP@", self.tmp))
        pw = os.path.join(self.tmp, "pw")
        with open(pw, "w") as f:
            f.write(PASSWORD + "\n")
        for email, name, role, queues in self.AGENTS:
            args = ["agents", "add", email, "--name", name, "--role", role, "--password-file", pw,
                    "--config", self.config]
            for qn in queues:
                args += ["--queue", qn]
            self.rd(*args)

    def start(self, *extra):
        self.http_port_file = os.path.join(self.tmp, "http.port")
        self.server = self.serve("--http", "127.0.0.1:0", "--http-port-file", self.http_port_file, *extra,
                                 config=self.config)
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                with open(self.http_port_file) as f:
                    t = f.read().strip()
                if t:
                    self.http_port = int(t)
                    return self.server
            except FileNotFoundError:
                pass
            time.sleep(0.05)
        self.fail("no web port: " + self.server.read_log())

    def client(self, email=None, **kw):
        c = Client(self.http_port, **kw)
        if email:
            c.login(email)
        return c

    def send_mail(self, subject="Help", body="Please help.", sender="customer@example.com",
                  to="support@desk.test", raw=None):
        with smtplib.SMTP("127.0.0.1", self.server.port, timeout=30) as s:
            if raw is None:
                raw = ("From: Customer <%s>\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%s.%f@example.com>\r\n"
                       "\r\n%s\r\n" % (sender, to, subject, subject.replace(" ", "-")[:20], time.time(), body)).encode()
            s.sendmail(sender, [to], raw)

    def wait_ticket(self, client, subject, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            r = client.get("/api/v1/tickets?per_page=200")
            for t in r.json.get("tickets", []):
                if t["subject"] == subject:
                    return t
            time.sleep(0.1)
        self.fail("no ticket %r" % subject)


main = rdtest.main
