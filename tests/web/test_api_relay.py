"""A reply from the API reaches a real relay (aiosmtpd) with its
attachment intact (the same SHA-256 as uploaded), threaded on the
ticket; a reply or note written against an older version of the ticket
is refused with 409 and the newer messages until the agent confirms.
"""
import email
import email.policy
import hashlib
import os
import sys
import time

from webdesk import HERE, WebDeskTestCase, main, q

sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from relay_peers import Aiosmtpd  # noqa: E402


class RelayTest(WebDeskTestCase):
    CONFIG = "[relay]\nstarttls = opportunistic\nretry_base = 1s\nretry_max = 2s\n"

    def test_reply_with_attachment_and_collision(self):
        relay = Aiosmtpd(self.tmp).start()
        self.addCleanup(relay.stop)
        self.start("--relay", "smtp://127.0.0.1:%d" % relay.port)
        alice = self.client("alice@desk.test")
        admin = self.client("admin@desk.test")
        self.send_mail(subject="Need the form", body="Please send me the form.")
        t = self.wait_ticket(alice, "Need the form")
        n = t["number"]
        seen = alice.get("/api/v1/tickets/%d" % n).json["version"]

        # ---- upload, then reply with it ----
        payload = os.urandom(3000) + b"\x00\xff binary"
        r = alice.request("POST", "/api/v1/uploads", raw=payload, content_type="application/pdf",
                          headers={"X-Filename": q("formulär.pdf")})
        self.assertEqual(r.status, 201, r)
        up = r.json
        self.assertEqual((up["filename"], up["size"], up["sha256"]),
                         ("formulär.pdf", len(payload), hashlib.sha256(payload).hexdigest()))
        # The browser's way: multipart/form-data with one file part.
        mp = (b"--XyZ\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nignored\r\n"
              b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"pic.png\"\r\n"
              b"Content-Type: image/png\r\n\r\n" + payload + b"\r\n--XyZ--\r\n")
        r = alice.request("POST", "/api/v1/uploads", raw=mp, content_type="multipart/form-data; boundary=XyZ")
        self.assertEqual(r.status, 201, r)
        self.assertEqual((r.json["filename"], r.json["content_type"], r.json["sha256"]),
                         ("pic.png", "image/png", up["sha256"]), "the same bytes, stored once")
        self.assertEqual(admin.post("/api/v1/tickets/%d/reply" % n,
                                    {"text": "x", "attachments": [up["id"]]}).status, 404,
                         "an upload is its agent's own")
        alice.put("/api/v1/tickets/%d/draft" % n, {"text": "Here it is"})
        r = alice.post("/api/v1/tickets/%d/reply" % n, {"text": "Here is the form.", "attachments": [up["id"]]},
                       headers={"If-Match": '"v%d"' % seen})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json["recipients"], ["customer@example.com"])
        self.assertIsNone(alice.get("/api/v1/tickets/%d/draft" % n).json["text"], "sent: the draft is gone")

        # ---- the relay got it, attachment intact ----
        deadline = time.time() + 20
        while time.time() < deadline and not relay.messages():
            time.sleep(0.1)
        msgs = relay.messages()
        self.assertEqual(len(msgs), 1)
        m = email.message_from_bytes(msgs[0].split(b"\r\n", 2)[2], policy=email.policy.default)
        self.assertIn("[RD #%d]" % n, m["Subject"])
        parts = [p for p in m.iter_attachments()]
        self.assertEqual(len(parts), 1)
        self.assertEqual(parts[0].get_filename(), "formulär.pdf")
        self.assertEqual(hashlib.sha256(parts[0].get_content()).hexdigest(), up["sha256"])
        self.assertEqual(m.get_body(("plain",)).get_content().strip(), "Here is the form.")
        view = alice.get("/api/v1/tickets/%d" % n).json
        out = [x for x in view["messages"] if x["direction"] == "outbound"]
        self.assertEqual(out[0]["author"], "alice@desk.test")
        self.assertEqual(out[0]["attachments"][0]["sha256"], up["sha256"])
        deadline = time.time() + 10
        while time.time() < deadline and out[0]["delivery_status"] != "sent":
            time.sleep(0.2)
            out = [x for x in alice.get("/api/v1/tickets/%d" % n).json["messages"] if x["direction"] == "outbound"]
        self.assertEqual(out[0]["delivery_status"], "sent")

        # ---- collision: admin opened the ticket before alice's reply ----
        r = admin.post("/api/v1/tickets/%d/reply" % n, {"text": "Me too!", "version": seen})
        self.assertEqual(r.status, 409, r)
        self.assertEqual(r.json["code"], "conflict")
        self.assertEqual([x["body_text"].strip() for x in r.json["messages"]], ["Here is the form."])
        newer = r.json["version"]
        self.assertGreater(newer, seen)
        r = admin.post("/api/v1/tickets/%d/notes" % n, {"text": "note"}, headers={"If-Match": '"v%d"' % seen})
        self.assertEqual(r.status, 409, "notes too")
        self.assertEqual(len(relay.messages()), 1, "nothing was sent")
        r = admin.post("/api/v1/tickets/%d/reply" % n, {"text": "Sent after reading.", "version": newer})
        self.assertEqual(r.status, 201, r)
        r = alice.post("/api/v1/tickets/%d/reply" % n, {"text": "Confirmed anyway.", "version": seen,
                                                       "confirm": True})
        self.assertEqual(r.status, 201, "confirm sends despite the newer messages")


if __name__ == "__main__":
    main()
