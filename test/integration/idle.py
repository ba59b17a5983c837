#!/usr/bin/python3
"""idle.py - MTA connections that fall silent: the milter parks them and
must resume each where it was.

Speaks the MTA side of milter protocol version 6 (as milterclient.py) as
an authenticated client (so messages are signed). Usage:
    idle.py midmsg SPEC OUT PAUSE     one message paused PAUSE s after the
                                      end of headers, then body and end;
                                      the message as relayed to OUT
    idle.py closeparked SPEC N PAUSE  N connections greeted (OPTNEG,
                                      CONNECT, HELO), silent PAUSE s, then
                                      closed by us
    idle.py reload SPEC READY GO OUT1 OUT2
                                      one connection: a message (to OUT1),
                                      READY created, silent until GO exists,
                                      a second message (to OUT2)
    idle.py hold SPEC N READY         N connections greeted, READY created,
                                      then wait (30 s at most) until the
                                      milter closes each one
Prints what it saw ("signed", "reply c", "closed K of N"); exit 0 when the
milter behaved, else a reason.
"""
import os
import select
import struct
import sys
import time

from milterclient import connect, packet, reply

NR = {b"C": 0x1000, b"H": 0x2000, b"M": 0x4000, b"R": 0x8000,
      b"L": 0x80, b"N": 0x40000, b"B": 0x80000}
HEADERS = ((b"From", b"a@example.com"), (b"To", b"b@example.net"),
           (b"Subject", b"parked and resumed"), (b"Date",
           b"Mon, 7 Dec 2026 12:00:00 +0000"))
BODY = b"a line of a message whose connection fell silent\r\n" * 40


class Conn:
    """One MTA connection, negotiated."""

    def __init__(self, spec):
        self.s = connect(spec, 30)
        self.s.sendall(packet(b"O", struct.pack(">III", 6, 0x1FF, 0x1FFFFF)))
        self.proto = struct.unpack(">I", reply(self.s)[9:13])[0]

    def send(self, cmd, data=b""):
        """A command; its reply (when not negotiated away) must be continue."""
        self.s.sendall(packet(cmd, data))
        if not self.proto & NR[cmd]:
            r = reply(self.s)
            if r[:1] != b"c":
                raise SystemExit("refused at %r: %r" % (cmd, r))

    def greet(self):
        self.send(b"C", b"client.example\0" + b"4" + struct.pack(">H", 4321)
                  + b"127.0.0.1\0")
        self.send(b"H", b"client.example\0")

    def message(self, qid, out, pause=0.0):
        """One message; pause after EOH; the relayed message to out."""
        self.s.sendall(packet(b"D", b"M{auth_authen}\0alice\0i\0"
                              + qid.encode() + b"\0"))
        self.send(b"M", b"<a@example.com>\0")
        self.send(b"R", b"<b@example.net>\0")
        hdrs = list(HEADERS) + [(b"Message-ID", b"<" + qid.encode() + b"@idle>")]
        for name, value in hdrs:
            self.send(b"L", name + b"\0 " + value + b"\0")
        self.send(b"N")
        if pause:
            time.sleep(pause)
        self.send(b"B", BODY)
        self.s.sendall(packet(b"D", b"Ei\0" + qid.encode() + b"\0"))
        self.s.sendall(packet(b"E"))
        added = []
        while True:
            r = reply(self.s)
            if r[:1] == b"i":
                fields = r[5:].split(b"\0")
                added.append((struct.unpack(">I", r[1:5])[0], fields[0],
                              fields[1]))
            elif r[:1] not in (b"h", b"m", b"e", b"+", b"-", b"2", b"q"):
                break
        lines = [(n, b" " + v) for n, v in hdrs]
        for idx, name, value in sorted(added):
            lines.insert(idx, (name, value))
        with open(out, "wb") as f:
            for name, value in lines:
                f.write(name + b":" + value.replace(b"\r\n", b"\n")
                        .replace(b"\n", b"\r\n") + b"\r\n")
            f.write(b"\r\n" + BODY)
        if any(n.lower() == b"dkim-signature" for _, n, _ in added):
            print("signed")
        print("reply " + r[:1].decode())
        return r[:1] == b"c"


def wait_file(path, secs):
    for _ in range(int(secs * 10)):
        if os.path.exists(path):
            return True
        time.sleep(0.1)
    return False


def main():
    mode, spec = sys.argv[1], sys.argv[2]
    if mode == "midmsg":
        c = Conn(spec)
        c.greet()
        if not c.message("MID1", sys.argv[3], float(sys.argv[4])):
            raise SystemExit("no continue after the pause")
        c.s.sendall(packet(b"Q"))
    elif mode == "closeparked":
        conns = [Conn(spec) for _ in range(int(sys.argv[3]))]
        for c in conns:
            c.greet()
        time.sleep(float(sys.argv[4]))
        for c in conns:
            c.s.close()
        print("closed %d" % len(conns))
    elif mode == "reload":
        ready, go, out1, out2 = sys.argv[3:7]
        c = Conn(spec)
        c.greet()
        c.message("RELOAD1", out1)
        open(ready, "w").close()
        if not wait_file(go, 60):
            raise SystemExit("no GO after 60 s")
        c.message("RELOAD2", out2)
        c.s.sendall(packet(b"Q"))
    elif mode == "hold":
        conns = [Conn(spec) for _ in range(int(sys.argv[3]))]
        for c in conns:
            c.greet()
        open(sys.argv[4], "w").close()
        left = {c.s.fileno(): c.s for c in conns}
        t_end = time.monotonic() + 30
        while left and time.monotonic() < t_end:
            r, _, _ = select.select(list(left), [], [], 1)
            for fd in r:
                try:
                    data = left[fd].recv(1)
                except OSError:
                    data = b""
                if not data:
                    del left[fd]
        print("closed %d of %d" % (len(conns) - len(left), len(conns)))
        if left:
            raise SystemExit("%d connections still open after 30 s" % len(left))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
