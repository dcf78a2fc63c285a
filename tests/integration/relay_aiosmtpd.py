"""An aiosmtpd relay for tests: relay_aiosmtpd.py PORT SPOOLDIR TEMPFAIL [USER:PASS]

With USER:PASS, AUTH is required (PLAIN/LOGIN, allowed without TLS here).

RCPT TO:<bad@...> gets "550 5.1.1 mailbox unavailable". The first TEMPFAIL transactions get "451 4.3.0 try again later" to DATA;
after that each message is written to SPOOLDIR/NNNN.eml (with the envelope
as X-Envelope-* lines in front) and answered "250 2.0.0 Ok: queued as
QNNNN", the queue id a real relay would give. RELAY_DELAY (seconds, in
the environment) holds every DATA that long first, as a slow relay.
"""
import asyncio
import os
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

port, spool, tempfail = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
creds = sys.argv[4].encode().split(b":", 1) if len(sys.argv) > 4 else None


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and [auth_data.login, auth_data.password] == creds
    return AuthResult(success=ok)
state = {"seen": 0}
DELAY = float(os.environ.get("RELAY_DELAY", "0"))


class Handler:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("bad@"):
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if DELAY:
            await asyncio.sleep(DELAY)
        state["seen"] += 1
        if state["seen"] <= tempfail:
            return "451 4.3.0 try again later"
        n = len([x for x in os.listdir(spool) if x.endswith(".eml")]) + 1
        path = os.path.join(spool, "%04d.eml" % n)
        head = "X-Envelope-From: <%s>\r\nX-Envelope-To: %s\r\n" % (
            envelope.mail_from, ", ".join("<%s>" % r for r in envelope.rcpt_tos))
        with open(path + ".tmp", "wb") as f:
            f.write(head.encode() + envelope.original_content)
            f.flush()
            os.fsync(f.fileno())
        os.rename(path + ".tmp", path)
        return "250 2.0.0 Ok: queued as Q%04d" % n


async def main():
    kw = {}
    if creds:
        kw = dict(authenticator=authenticator, auth_required=True, auth_require_tls=False)
    c = Controller(Handler(), hostname="127.0.0.1", port=port, **kw)
    c.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    import signal
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    await stop.wait()
    c.stop()


asyncio.run(main())
