"""A tiny authoritative DNS server on 127.0.0.1 for tests: real DNS messages
over UDP, parsed and built by dnspython, answering from a zone dict.

    zone = {
        "example.com": {"MX": ["10 mx.example.com."], "A": ["127.0.0.1"]},
        "_imaps._tcp.example.com": {"SRV": ["0 1 993 imap.example.com."]},
    }
    with DnsServer(zone, silent={"slow.example"}) as server:
        resolver = server.resolver()
        resolver.resolve("example.com", "MX", lifetime=1)

A name in the zone without the asked type, or a name that only exists as the
parent of a zone name, answers NOERROR with no records (dnspython: NoAnswer);
any other name answers NXDOMAIN. Names in ``silent`` (and their subdomains)
never get an answer, as behind a dead server (dnspython: a timeout).
"""

import socket
import threading

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.resolver
import dns.rrset

from .local_server import LocalServer


def _name(text):
    return dns.name.from_text(text.rstrip(".") + ".")


class DnsServer(LocalServer):
    """A running UDP DNS server. Use as a context manager or call start()/stop()."""

    thread_name = "test-dns"
    poll = 0.1

    def __init__(self, zone=None, silent=(), ttl=60, host="127.0.0.1", port=0):
        super().__init__(host, port)
        self.ttl = ttl
        self.zone = {}
        for owner, records in (zone or {}).items():
            self.zone[_name(owner)] = {
                dns.rdatatype.from_text(rdtype): list(values) for rdtype, values in records.items()
            }
        self.silent = {_name(owner) for owner in silent}
        self.queries = []  # (name without final dot, type), in arrival order
        self._lock = threading.Lock()

    def _listen(self):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((self.host, self.port))
        return sock

    def resolver(self):
        """A dnspython resolver that asks only this server (no system configuration)."""
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [self.host]
        resolver.port = self.port
        resolver.cache = None
        return resolver

    def asked(self, name=None, rdtype=None):
        """The queries received so far, optionally only for one name and/or type."""
        with self._lock:
            return [
                (qname, qtype)
                for qname, qtype in self.queries
                if (name is None or qname == name.rstrip(".").lower()) and (rdtype is None or qtype == rdtype)
            ]

    def _serve(self):
        while not self._stop.is_set():
            try:
                wire, client = self._sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                reply = self._answer(wire)
            except Exception:  # noqa: BLE001, S112 - a malformed query gets no answer, like from a real server
                continue
            if reply is not None:
                try:
                    self._sock.sendto(reply, client)
                except OSError:
                    continue

    def _answer(self, wire):
        query = dns.message.from_wire(wire)
        question = query.question[0]
        qname, qtype = question.name, question.rdtype
        with self._lock:
            self.queries.append((qname.to_text(omit_final_dot=True).lower(), dns.rdatatype.to_text(qtype)))
        if any(qname.is_subdomain(name) for name in self.silent):
            return None
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        records = self._lookup(qname)
        if records is None:
            response.set_rcode(dns.rcode.NXDOMAIN)
        elif qtype in records:
            rrset = dns.rrset.from_text_list(qname, self.ttl, dns.rdataclass.IN, qtype, records[qtype])
            response.answer.append(rrset)
        return response.to_wire()

    def _lookup(self, qname):
        """The records of ``qname`` ({} for an empty non-terminal), or None."""
        lowered = _name(qname.to_text().lower())
        if lowered in self.zone:
            return self.zone[lowered]
        if any(name.is_subdomain(lowered) for name in self.zone):
            return {}
        return None
