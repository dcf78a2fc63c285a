"""A small authoritative DNS server on loopback for the sender
authentication tests (Debian's python3-dnspython): UDP and TCP on one
free port, answers from a dict {name: [(type, text), ...]}, NXDOMAIN for
names it does not hold, NOERROR/NODATA for other types. silent=True
makes a server that reads queries and never answers (a dead resolver).
It counts the queries it got."""
import socket
import socketserver
import sys
import threading

try:
    import dns.message
    import dns.rdatatype
    import dns.rrset
    import dns.flags
    import dns.rcode
    import dns.exception
except ImportError:
    print("SKIP: python3-dnspython is not installed", file=sys.stderr)
    sys.exit(77)


def txt_rdata(text):
    """A TXT record's presentation form: strings of at most 255 octets."""
    parts = [text[i:i + 255] for i in range(0, len(text), 255)] or [""]
    return " ".join('"%s"' % p.replace("\\", "\\\\").replace('"', '\\"') for p in parts)


class DnsServer:
    def __init__(self, zone=None, silent=False):
        self.zone = {}
        self.silent = silent
        self.queries = []
        for name, records in (zone or {}).items():
            for rtype, value in records:
                self.add(name, rtype, value)
        outer = self

        class Tcp(socketserver.BaseRequestHandler):
            def handle(self):
                data = b""
                while len(data) < 2 or len(data) < 2 + int.from_bytes(data[:2], "big"):
                    chunk = self.request.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                answer = outer.answer(data[2:2 + int.from_bytes(data[:2], "big")], tcp=True)
                if answer:
                    self.request.sendall(len(answer).to_bytes(2, "big") + answer)

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        # UDP and TCP on one port: a free UDP port's TCP twin may be taken
        # (other tests on the machine); then another port.
        for attempt in range(50):
            self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.udp.bind(("127.0.0.1", 0))
            self.port = self.udp.getsockname()[1]
            try:
                self.tcp = socketserver.ThreadingTCPServer(("127.0.0.1", self.port), Tcp)
                break
            except OSError:
                self.udp.close()
                if attempt == 49:
                    raise
        self.tcp.daemon_threads = True
        self.threads = [threading.Thread(target=self._udp_loop, daemon=True),
                        threading.Thread(target=self.tcp.serve_forever, daemon=True)]
        self.stopped = False

    def add(self, name, rtype, value):
        key = (name.lower().rstrip(".") + ".", rtype.upper())
        self.zone.setdefault(key, []).append(value)

    def address(self):
        return "127.0.0.1:%d" % self.port

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def stop(self):
        self.stopped = True
        self.tcp.shutdown()
        self.tcp.server_close()
        self.udp.close()

    def _udp_loop(self):
        while not self.stopped:
            try:
                data, peer = self.udp.recvfrom(65535)
            except OSError:
                return
            answer = self.answer(data, tcp=False)
            if answer:
                try:
                    self.udp.sendto(answer, peer)
                except OSError:
                    pass

    def answer(self, wire, tcp):
        try:
            q = dns.message.from_wire(wire)
        except Exception:
            return None
        question = q.question[0]
        name = question.name.to_text().lower()
        rtype = dns.rdatatype.to_text(question.rdtype)
        self.queries.append((name, rtype))
        if self.silent:
            return None
        r = dns.message.make_response(q)
        r.flags |= dns.flags.AA
        values = self.zone.get((name, rtype))
        if values:
            texts = [txt_rdata(v) if rtype == "TXT" else v for v in values]
            r.answer.append(dns.rrset.from_text_list(question.name, 300, "IN", rtype, texts))
        elif not any(k[0] == name for k in self.zone):
            r.set_rcode(dns.rcode.NXDOMAIN)
        limit = 65535 if tcp else (1232 if q.edns >= 0 else 512)
        try:
            return r.to_wire(max_size=limit)
        except dns.exception.TooBig:
            # RFC 1035 4.2.1: over UDP, truncate and set TC; TCP gets it whole.
            r.answer = []
            r.flags |= dns.flags.TC
            return r.to_wire()
