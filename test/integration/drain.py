#!/usr/bin/python3
"""drain.py - a message held open in the milter while it is told to stop.

Speaks the MTA side of milter protocol version 6 (as an authenticated
client, so the message is signed): sends the envelope, the headers, end of
headers and a first body chunk, then creates READY and waits (up to 60 s)
until GO exists; then sends the rest of the body and end of message and
prints "signed" if a DKIM-Signature was inserted, then the final reply
("reply c" for continue). The test sends SIGTERM between READY and GO, so
the message is provably in flight when the signal arrives. Usage:
    drain.py unix:/path/sock | inet:PORT@HOST QID READY GO
"""
import os
import struct
import sys
import time

from milterclient import connect, packet, reply

NR = {b"C": 0x1000, b"H": 0x2000, b"M": 0x4000, b"R": 0x8000,
      b"L": 0x80, b"N": 0x40000, b"B": 0x80000}


def main():
    spec, qid, ready, go = sys.argv[1:5]
    s = connect(spec, 60)
    s.sendall(packet(b"O", struct.pack(">III", 6, 0x1FF, 0x1FFFFF)))
    proto = struct.unpack(">I", reply(s)[9:13])[0]

    def send(cmd, data=b""):
        s.sendall(packet(cmd, data))
        if not proto & NR[cmd]:
            r = reply(s)
            if r[:1] != b"c":
                raise SystemExit("refused at %r: %r" % (cmd, r))

    send(b"C", b"client.example\0" + b"4" + struct.pack(">H", 4321)
         + b"127.0.0.1\0")
    send(b"H", b"client.example\0")
    s.sendall(packet(b"D", b"M{auth_authen}\0alice\0i\0" + qid.encode()
                     + b"\0"))
    send(b"M", b"<a@example.com>\0")
    send(b"R", b"<b@example.net>\0")
    for name, value in ((b"From", b"a@example.com"), (b"To", b"b@example.net"),
                        (b"Subject", b"held open over SIGTERM"),
                        (b"Message-ID", b"<" + qid.encode() + b"@drain>")):
        send(b"L", name + b"\0 " + value + b"\0")
    send(b"N")
    chunk = b"a line of the body held open while the milter stops\r\n" * 1000
    send(b"B", chunk)
    with open(ready, "w"):
        pass
    for _ in range(600):
        if os.path.exists(go):
            break
        time.sleep(0.1)
    else:
        raise SystemExit("no GO after 60 s")
    send(b"B", chunk)
    s.sendall(packet(b"D", b"Ei\0" + qid.encode() + b"\0"))
    s.sendall(packet(b"E"))
    signed = False
    while True:
        r = reply(s)
        if r[:1] == b"i" and r[5:].split(b"\0")[0].lower() == b"dkim-signature":
            signed = True
        elif r[:1] not in (b"h", b"m", b"e", b"+", b"-", b"2", b"i", b"q"):
            break
    if signed:
        print("signed")
    print("reply " + r[:1].decode())
    s.sendall(packet(b"Q"))


if __name__ == "__main__":
    main()
