#!/usr/bin/python3
"""dnsdrop.py - a DNS fault injector in front of the test's knotd.

Listens on 127.0.0.1:PORT (UDP and TCP) and passes every query to the
authoritative server at 127.0.0.1:UPSTREAM, except queries whose name is
listed in DROPFILE: those are swallowed, so the client sees a time-out
(the "DNS hiccup" on exactly one name). DROPFILE holds one name a line
("name" or "name TYPE", e.g. "s1._domainkey.example.com TXT"; "*" alone
stands for every name: DNS unreachable); it is read
again for every query, so a test changes it without a restart. Each
dropped query is appended to DROPFILE.log. Two more kinds of line, for
the scale benchmark: "delay MS" holds every answer back MS milliseconds (a
far resolver), and "count" appends every query passed on to
DROPFILE.queries. Loopback only.
Usage: dnsdrop.py PORT UPSTREAM DROPFILE
"""
import os
import socket
import socketserver
import struct
import sys
import threading
import time

TYPES = {1: "A", 2: "NS", 5: "CNAME", 12: "PTR", 15: "MX", 16: "TXT",
         28: "AAAA", 99: "SPF", 255: "ANY"}


def question(msg):
    """(name, type name) of a query's first question, or None."""
    try:
        i, labels = 12, []
        while msg[i]:
            n = msg[i]
            if n & 0xC0:
                return None
            labels.append(msg[i + 1:i + 1 + n].decode("ascii", "replace"))
            i += 1 + n
        qtype = struct.unpack(">H", msg[i + 1:i + 3])[0]
    except (IndexError, struct.error):
        return None
    return ".".join(labels).lower(), TYPES.get(qtype, str(qtype))


def dropped(msg, dropfile):
    """True when the query's name (and type, if listed) is in dropfile;
    else waits out a "delay" line and logs the query under "count"."""
    q = question(msg)
    if q is None:
        return False
    try:
        with open(dropfile) as f:
            rules = [line.split() for line in f if line.strip()]
    except OSError:
        return False
    for r in rules:
        if r[0] == "delay" and len(r) == 2:
            time.sleep(int(r[1]) / 1000.0)
        elif r[0] == "count":
            with open(dropfile + ".queries", "a") as log:
                log.write("%s %s\n" % q)
    for r in rules:
        if r[0] in ("delay", "count"):
            continue
        if r[0] == "*" or (r[0].lower().rstrip(".") == q[0] and
                           (len(r) < 2 or r[1].upper() == q[1])):
            with open(dropfile + ".log", "a") as log:
                log.write("%s %s\n" % q)
            return True
    return False


class Proxy:
    """The upstream address and the drop list."""

    def __init__(self, upstream, dropfile):
        self.upstream = ("127.0.0.1", upstream)
        self.dropfile = dropfile

    def udp_query(self, msg):
        """Upstream's UDP answer to msg, or None."""
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(3)
        try:
            s.sendto(msg, self.upstream)
            return s.recv(65535)
        except OSError:
            return None
        finally:
            s.close()

    def tcp_query(self, msg):
        """Upstream's TCP answer to msg, or None."""
        try:
            with socket.create_connection(self.upstream, timeout=3) as s:
                s.sendall(struct.pack(">H", len(msg)) + msg)
                n = struct.unpack(">H", recv_all(s, 2))[0]
                return recv_all(s, n)
        except (OSError, struct.error):
            return None


def recv_all(s, n):
    """Exactly n bytes from s (fewer only at EOF)."""
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


class UDPHandler(socketserver.BaseRequestHandler):
    """One UDP query."""

    def handle(self):
        msg, sock = self.request
        proxy = self.server.proxy
        if dropped(msg, proxy.dropfile):
            return
        ans = proxy.udp_query(msg)
        if ans is not None:
            sock.sendto(ans, self.client_address)


class TCPHandler(socketserver.BaseRequestHandler):
    """The queries of one TCP connection."""

    def handle(self):
        proxy = self.server.proxy
        while True:
            head = recv_all(self.request, 2)
            if len(head) < 2:
                return
            msg = recv_all(self.request, struct.unpack(">H", head)[0])
            if dropped(msg, proxy.dropfile):
                continue
            ans = proxy.tcp_query(msg)
            if ans is not None:
                self.request.sendall(struct.pack(">H", len(ans)) + ans)


class UDPServer(socketserver.ThreadingMixIn, socketserver.UDPServer):
    daemon_threads = True


class TCPServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    port, upstream, dropfile = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    proxy = Proxy(upstream, dropfile)
    udp = UDPServer(("127.0.0.1", port), UDPHandler)
    tcp = TCPServer(("127.0.0.1", port), TCPHandler)
    udp.proxy = tcp.proxy = proxy
    threading.Thread(target=tcp.serve_forever, daemon=True).start()
    sys.stdout.write("dnsdrop: 127.0.0.1:%d -> %d (pid %d)\n"
                     % (port, upstream, os.getpid()))
    sys.stdout.flush()
    udp.serve_forever()


if __name__ == "__main__":
    main()
