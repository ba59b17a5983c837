#!/usr/bin/python3
"""dnsdrop.py - a DNS fault injector in front of the test's knotd.

Listens on 127.0.0.1:PORT (UDP and TCP) and passes every query to the
authoritative server at 127.0.0.1:UPSTREAM, except queries whose name is
listed in DROPFILE: those are swallowed, so the client sees a time-out
(the "DNS hiccup" on exactly one name). DROPFILE holds one name a line
("name" or "name TYPE", e.g. "s1._domainkey.example.com TXT"; "*" alone
stands for every name: DNS unreachable); it is looked at (stat) for every
query and read again whenever it changed, so a test changes it without a
restart. Each dropped query is appended to DROPFILE.log. Two more kinds of
line, for the scale benchmark: "delay MS" holds every answer back MS
milliseconds from the query's arrival (a far resolver), and "count"
appends every query it receives to DROPFILE.queries. A query whose
question cannot be read, or any query while DROPFILE cannot be read, is
passed on as it is. Loopback only.

UDP is one single-threaded event loop (selectors): one upstream socket,
each query sent on under a fresh 16-bit ID that maps back to the client's
address and ID, the answers of "delay" held in a timer heap, a query
upstream has not answered in 3 s forgotten; the appends to the two files
are written out at every turn of the loop. TCP (the rare retry of a
truncated answer) is served by a thread of its own, one connection at a
time per thread, as before.
Usage: dnsdrop.py PORT UPSTREAM DROPFILE
"""
import collections
import heapq
import os
import selectors
import socket
import socketserver
import struct
import sys
import threading
import time

TYPES = {1: "A", 2: "NS", 5: "CNAME", 12: "PTR", 15: "MX", 16: "TXT",
         28: "AAAA", 99: "SPF", 255: "ANY"}
UPSTREAM_TIMEOUT = 3.0   # seconds a query waits for upstream's answer
FRESH = 1.0              # a file changed this recently is read every time
BATCH = 256              # datagrams read from one socket per turn


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


class RuleSet:
    """One reading of DROPFILE: the delay, the "count" lines and the drops."""

    def __init__(self, lines):
        self.delay = 0.0        # seconds, the sum of the "delay" lines
        self.count = 0          # "count" lines: appends per query
        self.drop_all = False   # a "*" line
        self.names = set()      # "name": every type
        self.name_types = set()  # "name TYPE"
        for r in lines:
            if r[0] == "delay":
                if len(r) == 2:
                    try:
                        self.delay += float(r[1]) / 1000.0
                    except ValueError:
                        pass
            elif r[0] == "count":
                self.count += 1
            elif r[0] == "*":
                self.drop_all = True
            elif len(r) < 2:
                self.names.add(r[0].lower().rstrip("."))
            else:
                self.name_types.add((r[0].lower().rstrip("."), r[1].upper()))

    def drops(self, q):
        """True when question q = (name, type) is to be swallowed."""
        return self.drop_all or q[0] in self.names or q in self.name_types


class Rules:
    """DROPFILE, read again only when its stat (inode, size, mtime)
    changes, or while it was changed less than FRESH s ago: a second write
    in the same clock tick and of the same size keeps the stat. Shared by
    the UDP loop and the TCP threads."""

    def __init__(self, path):
        self.path = path
        self.key = None
        self.fresh_until = 0.0
        self.current = None
        self.lock = threading.Lock()

    def get(self):
        """The RuleSet in force now, or None while DROPFILE cannot be read."""
        with self.lock:
            try:
                st = os.stat(self.path)
            except OSError:
                self.key, self.current = None, None
                return None
            key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
            if key != self.key or time.time() < self.fresh_until:
                self.key = key
                self.fresh_until = st.st_mtime + FRESH
                try:
                    with open(self.path) as f:
                        self.current = RuleSet(
                            [line.split() for line in f if line.strip()])
                except OSError:
                    self.key, self.current = None, None
            return self.current


class Logs:
    """Lines for DROPFILE.log and DROPFILE.queries, kept until flush()."""

    def __init__(self, dropfile):
        self.dropped = dropfile + ".log"
        self.queries = dropfile + ".queries"
        self.lines = {}
        self.lock = threading.Lock()

    def add(self, path, q):
        """Keep the line "name TYPE" of question q for path."""
        with self.lock:
            self.lines.setdefault(path, []).append("%s %s\n" % q)

    def flush(self):
        """Append the lines kept so far to their files."""
        if not self.lines:
            return
        with self.lock:
            lines, self.lines = self.lines, {}
        for path, batch in lines.items():
            try:
                with open(path, "a") as f:
                    f.write("".join(batch))
            except OSError:
                pass


def verdict(msg, rules, logs):
    """None when msg is swallowed (logged to .log), else the seconds its
    answer is held back; logs it under "count"."""
    q = question(msg)
    if q is None:
        return 0.0
    rs = rules.get()
    if rs is None:
        return 0.0
    for _ in range(rs.count):
        logs.add(logs.queries, q)
    if rs.drops(q):
        logs.add(logs.dropped, q)
        return None
    return rs.delay


class UDPProxy:
    """The UDP event loop: the client socket, one upstream socket, the
    queries upstream has yet to answer and the answers held back."""

    def __init__(self, port, upstream, rules, logs):
        self.upstream = ("127.0.0.1", upstream)
        self.rules, self.logs = rules, logs
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", port))
        self.up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.up.bind(("127.0.0.1", 0))
        for s in (self.sock, self.up):
            s.setblocking(False)
            for opt in (socket.SO_RCVBUF, socket.SO_SNDBUF):
                s.setsockopt(socket.SOL_SOCKET, opt, 1 << 21)
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.sock, selectors.EVENT_READ, self.from_clients)
        self.sel.register(self.up, selectors.EVENT_READ, self.from_upstream)
        ids = list(range(65536))
        # any order: a late answer of a forgotten query seldom meets its ID
        start = int.from_bytes(os.urandom(2), "big")
        self.free_ids = collections.deque(ids[start:] + ids[:start])
        # upstream ID -> (client address, client ID, due, arrival); in
        # arrival order, as each ID comes in anew
        self.pending = {}
        self.held = []          # heap of (due, seq, client address, answer)
        self.seq = 0

    def from_clients(self):
        """Read the clients' queries: swallow, or send on upstream."""
        for _ in range(BATCH):
            try:
                msg, addr = self.sock.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                continue
            if len(msg) < 12:
                continue
            delay = verdict(msg, self.rules, self.logs)
            if delay is None or not self.free_ids:
                continue
            now = time.monotonic()
            uid = self.free_ids.popleft()
            try:
                self.up.sendto(struct.pack(">H", uid) + msg[2:], self.upstream)
            except OSError:
                self.free_ids.append(uid)
                continue
            self.pending[uid] = (addr, msg[:2], now + delay, now)

    def from_upstream(self):
        """Read upstream's answers: pass each on now or hold it back."""
        for _ in range(BATCH):
            try:
                ans, src = self.up.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                continue
            if src != self.upstream or len(ans) < 12:
                continue
            uid = struct.unpack(">H", ans[:2])[0]
            p = self.pending.pop(uid, None)
            if p is None:
                continue
            self.free_ids.append(uid)
            addr, cid, due, _ = p
            ans = cid + ans[2:]
            if due <= time.monotonic():
                self.answer(addr, ans)
            else:
                self.seq += 1
                heapq.heappush(self.held, (due, self.seq, addr, ans))

    def answer(self, addr, ans):
        """Send an answer to its client (lost if the socket is full)."""
        try:
            self.sock.sendto(ans, addr)
        except OSError:
            pass

    def timers(self):
        """Send the held answers that are due, forget the queries upstream
        left unanswered too long; the seconds until the next such event, or
        None."""
        now = time.monotonic()
        while self.held and self.held[0][0] <= now:
            _, _, addr, ans = heapq.heappop(self.held)
            self.answer(addr, ans)
        while self.pending:
            uid, p = next(iter(self.pending.items()))
            if now - p[3] < UPSTREAM_TIMEOUT:
                break
            del self.pending[uid]
            self.free_ids.append(uid)
        nxt = []
        if self.held:
            nxt.append(self.held[0][0] - now)
        if self.pending:
            nxt.append(next(iter(self.pending.values()))[3] +
                       UPSTREAM_TIMEOUT - now)
        return max(0.0, min(nxt)) if nxt else None

    def serve_forever(self):
        """The loop: wait, read, send what is due, write the logs."""
        while True:
            for key, _ in self.sel.select(self.timers()):
                key.data()
            self.logs.flush()


def recv_all(s, n):
    """Exactly n bytes from s (fewer only at EOF)."""
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


def tcp_query(upstream, msg):
    """Upstream's TCP answer to msg, or None."""
    try:
        with socket.create_connection(upstream, timeout=UPSTREAM_TIMEOUT) as s:
            s.sendall(struct.pack(">H", len(msg)) + msg)
            n = struct.unpack(">H", recv_all(s, 2))[0]
            return recv_all(s, n)
    except (OSError, struct.error):
        return None


class TCPHandler(socketserver.BaseRequestHandler):
    """The queries of one TCP connection, one after the other."""

    def handle(self):
        """Read each query; swallow it, or answer it from upstream (after
        the delay, counted from its arrival)."""
        srv = self.server
        while True:
            head = recv_all(self.request, 2)
            if len(head) < 2:
                return
            msg = recv_all(self.request, struct.unpack(">H", head)[0])
            t0 = time.monotonic()
            delay = verdict(msg, srv.rules, srv.logs)
            srv.logs.flush()
            if delay is None:
                continue
            ans = tcp_query(srv.upstream, msg)
            if ans is None:
                continue
            left = t0 + delay - time.monotonic()
            if left > 0:
                time.sleep(left)
            self.request.sendall(struct.pack(">H", len(ans)) + ans)


class TCPServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    """A thread per TCP connection."""
    daemon_threads = True
    allow_reuse_address = True


def main():
    """Bind UDP and TCP on PORT, say so on stdout, serve until killed."""
    port, upstream, dropfile = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    rules, logs = Rules(dropfile), Logs(dropfile)
    udp = UDPProxy(port, upstream, rules, logs)
    tcp = TCPServer(("127.0.0.1", port), TCPHandler)
    tcp.upstream, tcp.rules, tcp.logs = ("127.0.0.1", upstream), rules, logs
    threading.Thread(target=tcp.serve_forever, daemon=True).start()
    sys.stdout.write("dnsdrop: 127.0.0.1:%d -> %d (pid %d)\n"
                     % (port, upstream, os.getpid()))
    sys.stdout.flush()
    udp.serve_forever()


if __name__ == "__main__":
    main()
