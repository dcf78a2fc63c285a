"""The web desk against the attacks of the security review
(notes/web-review.md), each against a real serve and SQLite: a JSON body
nested deep enough to overflow a parser's stack, an event stream that
outlives its session or its queues, request bodies outside the API, a
password change used as a password oracle.
"""
import http.client
import socket
import threading
import time

from webdesk import PASSWORD, WebDeskTestCase, main


class EventStream:
    """GET /api/v1/events on a raw socket, read on a thread."""

    def __init__(self, port, cookie=None, bearer=None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.buf = b""
        self.closed = False
        self.lock = threading.Lock()
        head = "GET /api/v1/events HTTP/1.1\r\nHost: desk.test\r\n"
        if cookie:
            head += "Cookie: rd_session=%s\r\n" % cookie
        if bearer:
            head += "Authorization: Bearer %s\r\n" % bearer
        self.sock.sendall((head + "\r\n").encode())
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        try:
            while True:
                d = self.sock.recv(65536)
                if not d:
                    break
                with self.lock:
                    self.buf += d
        except OSError:
            pass
        self.closed = True

    def text(self):
        with self.lock:
            return self.buf.decode(errors="replace")

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class SecurityReviewTest(WebDeskTestCase):
    CONFIG = "[http]\nlogin_failures_account = 5\nlogin_failures_address = 50\n"

    def alive(self):
        """serve still answers on both listeners."""
        self.assertIsNone(self.server.proc.poll(), "serve died: " + self.server.read_log()[-2000:])
        c = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=10)
        c.request("GET", "/healthz")
        self.assertEqual(c.getresponse().status, 200)
        c.close()

    def test_deeply_nested_json_is_refused(self):
        """H1: 100,000 nested brackets crashed the process (json-glib
        recursion on a pool thread); now 400 before parsing."""
        self.start()
        anon = self.client()
        alice = self.client("alice@desk.test")
        for depth in (100000, 65):
            for client, path in ((anon, "/api/v1/session"), (alice, "/api/v1/views")):
                r = client.request("POST", path, raw=b"[" * depth + b"]" * depth, content_type="application/json")
                self.assertEqual((r.status, r.json["code"]), (400, "invalid"), (depth, path, r))
                self.alive()
        # Brackets inside strings do not count; ordinary nesting works.
        r = anon.request("POST", "/api/v1/session", raw=(
            b'{"email": "alice@desk.test", "password": "' + PASSWORD.encode() + b'", "x": "' + b"[" * 5000
            + b'", "y": [[[[{"z": [1]}]]]]}'), content_type="application/json")
        self.assertEqual(r.status, 200, r)
        self.alive()


if __name__ == "__main__":
    main()
