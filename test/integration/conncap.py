#!/usr/bin/python3
"""conncap.py - MTA connections against the milter's connection cap.

Usage:
    conncap.py cap SPEC N      N connections are served; one more is closed
                               at once; the N still finish a message each;
                               after one of them closes a new one is served
    conncap.py flood SPEC N    N idle connections, then one more must get an
                               answer or be closed within 3 s, never hang
SPEC: unix:/path/sock or inet:PORT@HOST. Prints what it saw; exit 0 when
the milter behaved, 1 (with the reason) when not.
"""
import socket
import struct
import sys
import time

from milterclient import connect, packet, reply

NR = {b"C": 0x1000, b"H": 0x2000, b"M": 0x4000, b"R": 0x8000,
      b"L": 0x80, b"N": 0x40000, b"B": 0x80000}


def optneg(s):
    """Negotiate; the milter's protocol flags."""
    s.sendall(packet(b"O", struct.pack(">III", 6, 0x1FF, 0x1FFFFF)))
    opt = reply(s)
    return struct.unpack(">I", opt[9:13])[0] if len(opt) >= 13 else 0


def message(s, proto, n):
    """One small message from an internal client; the final reply byte."""
    def send(cmd, data=b""):
        s.sendall(packet(cmd, data))
        if not proto & NR[cmd]:
            reply(s)

    send(b"C", b"client.example\0" + b"4" + struct.pack(">H", 4321)
         + b"127.0.0.1\0")
    s.sendall(packet(b"D", b"Mi\0CAP%d\0" % n))
    send(b"M", b"<a@example.com>\0")
    send(b"R", b"<b@example.net>\0")
    send(b"L", b"From\0 a@example.com\0")
    send(b"L", b"Subject\0 cap %d\0" % n)
    send(b"N")
    send(b"B", b"hello\r\n")
    s.sendall(packet(b"E"))
    while True:
        r = reply(s)
        if r[:1] in (b"a", b"c", b"r", b"t", b"d", b"y"):
            return r[:1].decode()


def closed_at_once(spec, secs):
    """True if a new connection is closed by the milter within secs."""
    s = connect(spec, secs)
    t0 = time.monotonic()
    try:
        s.sendall(packet(b"O", struct.pack(">III", 6, 0x1FF, 0x1FFFFF)))
        data = s.recv(4)
    except (ConnectionResetError, BrokenPipeError):
        data = b""
    except socket.timeout:
        print("# no answer and no close after %.1f s" % secs)
        return False
    finally:
        s.close()
    print("# extra connection: %s after %.2f s" %
          ("closed" if not data else "answered", time.monotonic() - t0))
    return not data


def cap(spec, n):
    conns = []
    for _ in range(n):
        s = connect(spec, 10)
        conns.append((s, optneg(s)))
    print("# %d connections negotiated" % n)
    if not closed_at_once(spec, 3):
        return "connection %d was not closed at once" % (n + 1)
    for i, (s, proto) in enumerate(conns):
        print("# connection %d: message answered %s" % (i + 1, message(s, proto, i)))
    conns[0][0].close()
    for _ in range(50):     # the milter notices the close
        time.sleep(0.1)
        s = connect(spec, 10)
        try:
            proto = optneg(s)
        except (SystemExit, ConnectionResetError):
            s.close()
            continue
        print("# after one closed: new connection served, message %s"
              % message(s, proto, n))
        return None
    return "no new connection served after one of %d closed" % n


def flood(spec, n):
    conns = []
    for _ in range(n):
        conns.append(connect(spec, 10))
    print("# %d idle connections open" % n)
    s = connect(spec, 3)
    t0 = time.monotonic()
    try:
        s.sendall(packet(b"O", struct.pack(">III", 6, 0x1FF, 0x1FFFFF)))
        data = s.recv(4)
    except (ConnectionResetError, BrokenPipeError):
        data = b""
    except socket.timeout:
        return "connection %d hangs: no answer, no close in 3 s" % (n + 1)
    print("# connection %d: %s after %.2f s" % (
        n + 1, "answered" if data else "closed", time.monotonic() - t0))
    return None


def main():
    mode, spec, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    why = cap(spec, n) if mode == "cap" else flood(spec, n)
    if why:
        print("# " + why)
        sys.exit(1)


if __name__ == "__main__":
    main()
