#!/usr/bin/python3
"""order.py - milter packets in an order no MTA sends, and the orders real
MTAs do send that look odd (issue 12, finding 9).

Speaks the MTA side of milter protocol version 6 against a running
authmilter. Usage:
    order.py SPEC case NAME   one case on a fresh connection
    order.py SPEC cases       the cases, one a line: NAME closes|answers
    order.py SPEC flood PID N N connections that each send 1 MB of headers
                              and then EOH twice; the milter's VmRSS (from
                              /proc/PID/status) must not grow by more than
                              RSS_LIMIT_KB (default 40000)
SPEC: unix:/path or inet:PORT@HOST. A "closes" case passes when the milter
closes the connection without answering the bad packet or the EOM sent
after it; an "answers" case when the EOM gets a final reply after a
DKIM-Signature insertion (the message is signed: the client authenticates
as alice and writes From: a@example.com).
"""
import os
import socket
import struct
import sys
import time

from milterclient import connect, packet, reply

# the no-reply protocol bits per command (SMFIP_NR_*)
NR = {b"C": 0x1000, b"H": 0x2000, b"M": 0x4000, b"R": 0x8000, b"T": 0x10000,
      b"U": 0x20000, b"L": 0x80, b"N": 0x40000, b"B": 0x80000}
# commands that never get a reply of their own
SILENT = (b"A", b"D", b"K", b"Q")
FINAL = (b"a", b"c", b"d", b"r", b"t", b"y")

CONNECT = (b"C", b"client.example\0" + b"4" + struct.pack(">H", 4321)
           + b"192.0.2.7\0")
HELO = (b"H", b"client.example\0")
AUTH = (b"D", b"M{auth_authen}\0alice\0i\0ORD1\0")
MAIL = (b"M", b"<a@example.com>\0")
RCPT = (b"R", b"<b@example.net>\0")
DATA = (b"T", b"")
FROM = (b"L", b"From\0 a@example.com\0")
SUBJ = (b"L", b"Subject\0 order\0")
EOH = (b"N", b"")
BODY = (b"B", b"hello\r\n")
ABORT = (b"A", b"")
OPTNEG = (b"O", struct.pack(">III", 6, 0x1FF, 0x1FFFFF))
START = [CONNECT, HELO, AUTH, MAIL, RCPT]
HEADERS = [DATA, FROM, SUBJ]

# name: (packets before the bad one, the bad one or None, expectation)
CASES = {
    "second-eoh": (START + HEADERS + [EOH], EOH, "closes"),
    "header-after-eoh": (START + HEADERS + [EOH], SUBJ, "closes"),
    "header-after-body": (START + HEADERS + [EOH, BODY], SUBJ, "closes"),
    "body-before-eoh": (START + HEADERS, BODY, "closes"),
    "eom-before-eoh": (START + HEADERS, None, "closes"),
    "eom-without-mail": ([CONNECT, HELO], None, "closes"),
    "rcpt-before-mail": ([CONNECT, HELO], RCPT, "closes"),
    "header-before-mail": ([CONNECT, HELO], FROM, "closes"),
    "eoh-before-mail": ([CONNECT, HELO], EOH, "closes"),
    "rcpt-after-header": (START + HEADERS, RCPT, "closes"),
    "data-after-eoh": (START + HEADERS + [EOH], DATA, "closes"),
    "mail-before-connect": ([], MAIL, "closes"),
    "helo-before-connect": ([], HELO, "closes"),
    "connect-twice": ([CONNECT, HELO], CONNECT, "closes"),
    "optneg-twice": ([CONNECT], OPTNEG, "closes"),
    # what Postfix and Sendmail do send
    "abort-then-mail": (START + HEADERS + [EOH, ABORT, AUTH, MAIL, RCPT]
                        + HEADERS + [EOH, BODY], None, "answers"),
    "abort-between-messages": ([CONNECT, HELO, ABORT, HELO, ABORT] + START[2:]
                               + HEADERS + [EOH], None, "answers"),
    "helo-after-mail": (START + [HELO, ABORT, AUTH, MAIL, RCPT] + HEADERS
                        + [EOH], None, "answers"),
    "helo-after-mail-no-abort": (START + [HELO, AUTH, MAIL, RCPT] + HEADERS
                                 + [EOH], None, "answers"),
    "mail-without-abort": (START + HEADERS + [AUTH, MAIL, RCPT] + HEADERS
                           + [EOH, BODY], None, "answers"),
    "rcpt-and-data-again": (START + [DATA, RCPT, DATA] + HEADERS[1:]
                            + [EOH], None, "answers"),
    "no-data-packet": (START + HEADERS[1:] + [EOH, BODY], None, "answers"),
    "helo-twice": ([CONNECT, HELO, HELO] + START[2:] + HEADERS + [EOH],
                   None, "answers"),
    "quit-nc-reuse": (START + HEADERS + [EOH, ABORT, (b"K", b"")] + START
                      + HEADERS + [EOH], None, "answers"),
}


class Milter:
    """One connection, negotiated as Postfix 3.7 does."""

    def __init__(self, spec):
        self.s = connect(spec, 10)
        self.s.sendall(packet(*OPTNEG))
        opt = reply(self.s)
        self.proto = struct.unpack(">I", opt[9:13])[0]

    def send(self, cmd, data=b""):
        """Send one packet; take its reply if it gets one."""
        self.s.sendall(packet(cmd, data))
        if cmd == b"O":
            return reply(self.s)
        if cmd in SILENT or cmd == b"E" or self.proto & NR.get(cmd, 0):
            return None
        return reply(self.s)

    def eom(self):
        """End of message: the modifications and the final reply."""
        self.s.sendall(packet(b"E"))
        mods = []
        while True:
            r = reply(self.s)
            if r[:1] in FINAL:
                return mods, r
            mods.append(r)

    def closed(self):
        """True when the milter closes without sending anything more."""
        try:
            data = self.s.recv(1)
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False
        return data == b""


def run_case(spec, name):
    before, bad, want = CASES[name]
    m = Milter(spec)
    for cmd, data in before:
        m.send(cmd, data)
    if want == "answers":
        mods, final = m.eom()
        signed = any(r[:1] == b"i" and b"DKIM-Signature\0" in r for r in mods)
        m.send(b"Q")
        if not signed or final[:1] not in (b"c", b"a"):
            raise SystemExit("%s: final reply %r, DKIM-Signature inserted: %s"
                             % (name, final[:1], signed))
        print("%s: signed, final reply %r" % (name, final[:1].decode()))
        return
    try:
        if bad is not None:
            m.s.sendall(packet(*bad))
        m.s.sendall(packet(b"E"))       # an old engine answers this
    except (BrokenPipeError, ConnectionResetError):
        pass
    m.s.settimeout(5)
    if not m.closed():
        raise SystemExit("%s: the milter answered or kept the connection "
                         "open" % name)
    print("%s: closed" % name)


def rss_kb(pid):
    with open("/proc/%s/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise SystemExit("no VmRSS for pid %s" % pid)


def flood_one(spec, big):
    """One connection: 1 MB of headers, then EOH twice (inbound, verified)."""
    m = Milter(spec)
    for cmd, data in [CONNECT, HELO, MAIL, RCPT, DATA, FROM]:
        m.send(cmd, data)
    try:
        m.s.sendall(packet(b"L", big))
        m.s.sendall(packet(*EOH))
        m.s.sendall(packet(*EOH))
        m.s.sendall(packet(b"Q"))
    except (BrokenPipeError, ConnectionResetError):
        pass
    m.s.settimeout(10)
    m.closed()          # the new engine closes; the old one waits for Q
    m.s.close()


def flood(spec, pid, n):
    """n connections of flood_one, after 5 to warm the allocator up."""
    big = b"X-Big\0 " + b"a" * (1024 * 1024) + b"\0"
    for _ in range(5):
        flood_one(spec, big)
    time.sleep(0.5)
    start = rss_kb(pid)
    for _ in range(n):
        flood_one(spec, big)
    time.sleep(1)
    end = rss_kb(pid)
    limit = int(os.environ.get("RSS_LIMIT_KB", "40000"))
    print("VmRSS %d kB before, %d kB after %d connections (limit +%d kB)"
          % (start, end, n, limit))
    if end - start > limit:
        raise SystemExit("VmRSS grew by %d kB" % (end - start))


def main():
    spec, what = sys.argv[1], sys.argv[2]
    if what == "case":
        run_case(spec, sys.argv[3])
    elif what == "cases":
        for name, case in CASES.items():
            print(name, case[2])
    elif what == "flood":
        flood(spec, sys.argv[3], int(sys.argv[4]))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
