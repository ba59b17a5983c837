#!/usr/bin/python3
"""noquarantine.py - an MTA that does not grant the QUARANTINE action (or
other actions: an older MTA).

Speaks the MTA side of milter protocol version 6, offering every action but
SMFIF_QUARANTINE (or but those in the mask WITHHELD, e.g. 0x40 for
SMFIF_CHGFROM, as Postfix before 2.6 and Sendmail before 8.14), sends one message from CLIENT_IP with MAIL FROM and From
both FROM, and prints each modification of the end-of-message reply on a
line of its own ("i NAME: VALUE" for an inserted header, "q REASON" for a
quarantine, "e" for a changed sender, then the final reply code). Usage:
    noquarantine.py unix:/path/sock | inet:PORT@127.0.0.1 CLIENT_IP FROM [WITHHELD]
"""
import struct
import sys

from milterclient import connect, packet, reply

SMFIF_QUARANTINE = 0x20


def main():
    spec, ip, sender = sys.argv[1], sys.argv[2], sys.argv[3]
    withheld = int(sys.argv[4], 16) if len(sys.argv) > 4 else SMFIF_QUARANTINE
    s = connect(spec, 30)
    s.sendall(packet(b"O", struct.pack(">III", 6, 0x1FF & ~withheld,
                                       0x1FFFFF)))
    opt = reply(s)
    actions = struct.unpack(">I", opt[5:9])[0]
    proto = struct.unpack(">I", opt[9:13])[0]
    if actions & withheld:
        raise SystemExit("the milter asked for an action it was not offered")
    nr = {b"C": 0x1000, b"H": 0x2000, b"M": 0x4000, b"R": 0x8000,
          b"L": 0x80, b"N": 0x40000, b"B": 0x80000}

    def send(cmd, data=b""):
        s.sendall(packet(cmd, data))
        if not proto & nr[cmd]:
            r = reply(s)
            if r[:1] != b"c":
                raise SystemExit("refused at %r: %r" % (cmd, r))

    send(b"C", b"client.example\0" + b"4" + struct.pack(">H", 4321)
         + ip.encode() + b"\0")
    send(b"H", b"client.example\0")
    s.sendall(packet(b"D", b"Mi\0NOQ1\0"))
    send(b"M", b"<" + sender.encode() + b">\0")
    send(b"R", b"<bob@dest.test.example>\0")
    send(b"L", b"From\0 " + sender.encode() + b"\0")
    send(b"L", b"To\0 bob@dest.test.example\0")
    send(b"L", b"Subject\0 no quarantine here\0")
    send(b"L", b"Message-ID\0 <noq1@client.example>\0")
    send(b"N")
    send(b"B", b"hello\r\n")
    s.sendall(packet(b"E"))
    while True:
        r = reply(s)
        cmd = r[:1]
        if cmd == b"i":
            name, value = r[5:].split(b"\0")[:2]
            print("i %s:%s" % (name.decode(), value.decode()))
        elif cmd == b"q":
            print("q " + r[1:].split(b"\0")[0].decode())
        elif cmd in (b"h", b"m", b"e", b"+", b"-", b"2"):
            print(cmd.decode())
        else:
            print("reply " + cmd.decode())
            break
    s.sendall(packet(b"Q"))


if __name__ == "__main__":
    main()
