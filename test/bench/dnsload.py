#!/usr/bin/python3
"""dnsload.py - DNS query load over UDP: answered queries/s and latency.

Sends N queries (TXT by default) to 127.0.0.1:PORT over one UDP socket,
keeping C of them in flight: each answer (or time-out) sends the next.
The names are FORMAT % (i mod NAMES), i = 0..N-1 (default
"s1._domainkey.d%d.example"; the scale benchmark's zone is
"s1._domainkey.d%d.scale.test"). Prints one line:
  dnsload: N sent, A answered (RCODE counts), L lost in T s: Q q/s,
  latency p50 X ms p99 Y ms
where q/s is the answers over the time until the last one and the
latencies are those of the answers (a lost query waited TIMEOUT). -j
prints the same as one JSON line. Measures test/integration/dnsdrop.py
(with and without its "delay" line) or a DNS server on its own: e.g.
knotd serving the names, dnsdrop.py in front of it, and
  dnsload.py -n 20000 -c 32 DNSDROP_PORT
Loopback only; it stops by itself (each query waits TIMEOUT at most).
Exit status 1 when no query was answered.
Usage: dnsload.py [-n N] [-c C] [-k NAMES] [-f FORMAT] [-q TYPE]
                  [-t TIMEOUT] [-j] PORT
"""
import argparse
import collections
import json
import os
import selectors
import socket
import struct
import sys
import time

TYPES = {"A": 1, "NS": 2, "MX": 15, "TXT": 16, "AAAA": 28}
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN",
          4: "NOTIMP", 5: "REFUSED"}


def query(qid, name, qtype):
    """The wire form of a query for name/qtype with ID qid (RD set)."""
    wire = b"".join(bytes([len(label)]) + label.encode("ascii")
                    for label in name.rstrip(".").split(".")) + b"\0"
    return struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + wire + \
        struct.pack(">HH", qtype, 1)


def percentile(sorted_values, p):
    """The p-th percentile (0..100) of an ascending list, nearest rank."""
    if not sorted_values:
        return 0.0
    i = max(0, min(len(sorted_values) - 1,
                   int(round(p / 100.0 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[i]


def run(args):
    """Send the queries; return the result as a dict."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
    sock.connect(("127.0.0.1", args.port))
    sock.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(sock, selectors.EVENT_READ)
    qtype = TYPES.get(args.type.upper()) or int(args.type)
    pending = {}            # ID -> send time, oldest first
    # a random start, so that a late answer of an earlier run does not match
    start_id = int.from_bytes(os.urandom(2), "big")
    free_ids = collections.deque((start_id + i) & 0xFFFF for i in range(65536))
    sent = lost = 0
    rcodes = {}
    lat = []
    t0 = t_last = time.monotonic()

    def send_next():
        """Send query number `sent` under a free ID."""
        nonlocal sent
        qid = free_ids.popleft()
        name = args.format % (sent % args.names)
        try:
            sock.send(query(qid, name, qtype))
        except (BlockingIOError, ConnectionRefusedError):
            pass            # counted lost at its time-out
        pending[qid] = time.monotonic()
        sent += 1

    while sent < args.n and len(pending) < args.c:
        send_next()
    while pending:
        # the oldest query's time-out bounds the wait
        oldest = next(iter(pending.values()))
        wait = max(0.0, oldest + args.timeout - time.monotonic())
        for _key, _ev in sel.select(wait):
            while True:
                try:
                    ans = sock.recv(65535)
                except (BlockingIOError, ConnectionRefusedError):
                    break
                if len(ans) < 12:
                    continue
                qid, flags = struct.unpack(">HH", ans[:4])
                t = pending.pop(qid, None)
                if t is None:
                    continue
                t_last = time.monotonic()
                lat.append(t_last - t)
                rc = RCODES.get(flags & 0xF, str(flags & 0xF))
                rcodes[rc] = rcodes.get(rc, 0) + 1
                free_ids.append(qid)
                if sent < args.n:
                    send_next()
        now = time.monotonic()
        while pending:
            qid, t = next(iter(pending.items()))
            if now - t < args.timeout:
                break
            del pending[qid]
            free_ids.append(qid)
            lost += 1
            if sent < args.n:
                send_next()
    secs = time.monotonic() - t0
    lat.sort()
    # q/s up to the last answer: a lost query's time-out is no work done
    busy = t_last - t0
    return {"sent": sent, "answered": len(lat), "lost": lost,
            "rcodes": rcodes, "secs": round(secs, 3),
            "qps": round(len(lat) / busy, 1) if busy > 0 else 0.0,
            "p50_ms": round(percentile(lat, 50) * 1000, 2),
            "p99_ms": round(percentile(lat, 99) * 1000, 2)}


def main():
    """Parse the arguments, run, print the result line."""
    p = argparse.ArgumentParser(description="DNS query load over UDP")
    p.add_argument("port", type=int, help="the server's port on 127.0.0.1")
    p.add_argument("-n", type=int, default=20000, help="queries (20000)")
    p.add_argument("-c", type=int, default=32, help="in flight (32)")
    p.add_argument("-k", "--names", type=int, default=2000,
                   help="distinct names, cycled (2000)")
    p.add_argument("-f", "--format", default="s1._domainkey.d%d.example",
                   help="the name, %%d the name's number")
    p.add_argument("-q", "--type", default="TXT", help="query type (TXT)")
    p.add_argument("-t", "--timeout", type=float, default=3.0,
                   help="seconds a query waits for its answer (3)")
    p.add_argument("-j", "--json", action="store_true",
                   help="print the result as one JSON line")
    args = p.parse_args()
    if not 1 <= args.c <= 60000:
        p.error("-c must be 1..60000")
    r = run(args)
    if args.json:
        print(json.dumps(r, sort_keys=True))
    else:
        rc = ", ".join("%s %d" % kv for kv in sorted(r["rcodes"].items()))
        print("dnsload: %d sent, %d answered (%s), %d lost in %.2f s: "
              "%.0f q/s, latency p50 %.2f ms p99 %.2f ms"
              % (r["sent"], r["answered"], rc or "none", r["lost"], r["secs"],
                 r["qps"], r["p50_ms"], r["p99_ms"]))
    sys.exit(0 if r["answered"] else 1)


if __name__ == "__main__":
    main()
