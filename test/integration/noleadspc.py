#!/usr/bin/python3
"""noleadspc.py - an MTA that does not offer SMFIP_HDR_LEADSPC.

Speaks the MTA side of milter protocol version 6 offering every protocol
step but HDR_LEADSPC, so header values go to the milter without the white
space after the colon (as Postfix and Sendmail send them to filters that do
not ask for it), and writes messages back the way those MTAs do,
"Name: value". Two modes:
    noleadspc.py SOCKET sign OUTFILE
        an authenticated client sends a message From a@example.com; the
        message as the MTA would relay it (inserted headers on top) goes to
        OUTFILE, for an independent verifier
    noleadspc.py SOCKET verify KEYFILE
        a message signed here by dkimpy with simple/simple canonicalization
        (d=example.com s=s1, KEYFILE) comes from an outside client; prints
        the Authentication-Results value the milter inserts
"""
import struct
import sys

import dkim

from milterclient import connect, packet, reply

LEADSPC = 0x100000
NR = {b"C": 0x1000, b"H": 0x2000, b"M": 0x4000, b"R": 0x8000,
      b"L": 0x80, b"N": 0x40000, b"B": 0x80000}
HEADERS = [(b"From", b"a@example.com"), (b"To", b"b@example.net"),
           (b"Subject", b"header values without their leading space"),
           (b"Date", b"Sun, 06 Dec 2026 12:00:00 +0000"),
           (b"Message-ID", b"<noleadspc@example.com>")]
BODY = b"A body line.\r\nAnother one.\r\n"


def session(spec, auth, ip, headers, body):
    """One message through the milter; its inserted headers, final reply."""
    s = connect(spec, 30)
    s.sendall(packet(b"O", struct.pack(">III", 6, 0x1FF, 0x1FFFFF & ~LEADSPC)))
    proto = struct.unpack(">I", reply(s)[9:13])[0]
    if proto & LEADSPC:
        raise SystemExit("the milter asked for HDR_LEADSPC, not offered")

    def send(cmd, data=b""):
        s.sendall(packet(cmd, data))
        if not proto & NR[cmd]:
            r = reply(s)
            if r[:1] != b"c":
                raise SystemExit("refused at %r: %r" % (cmd, r))

    send(b"C", b"client.example\0" + b"4" + struct.pack(">H", 4321)
         + ip + b"\0")
    send(b"H", b"client.example\0")
    macros = b"M" + (b"{auth_authen}\0" + auth + b"\0" if auth else b"")
    s.sendall(packet(b"D", macros + b"i\0NOLS1\0"))
    send(b"M", b"<a@example.com>\0")
    send(b"R", b"<b@example.net>\0")
    for name, value in headers:
        # what the MTA sends without HDR_LEADSPC: the value, space stripped
        send(b"L", name + b"\0" + value.lstrip(b" \t") + b"\0")
    send(b"N")
    send(b"B", body)
    s.sendall(packet(b"E"))
    inserted = []
    while True:
        r = reply(s)
        if r[:1] == b"i":
            name, value = r[5:].split(b"\0")[:2]
            inserted.append((name, value))
        elif r[:1] not in (b"h", b"m", b"e", b"+", b"-", b"2", b"q"):
            break
    s.sendall(packet(b"Q"))
    return inserted, r[:1]


def main():
    spec, mode, path = sys.argv[1], sys.argv[2], sys.argv[3]
    if mode == "sign":
        ins, rc = session(spec, b"alice", b"127.0.0.1", HEADERS, BODY)
        if rc != b"c":
            raise SystemExit("final reply %r" % rc)
        # the MTA writes "Name:" + " " + value for what it is given
        lines = [n + b": " + v for n, v in ins] + \
            [n + b": " + v for n, v in HEADERS]
        with open(path, "wb") as f:
            f.write(b"\r\n".join(lines) + b"\r\n\r\n" + BODY)
        return
    with open(path, "rb") as f:
        key = f.read()
    msg = b"\r\n".join(n + b": " + v for n, v in HEADERS) + b"\r\n\r\n" + BODY
    sig = dkim.sign(msg, b"s1", b"example.com", key,
                    canonicalize=(b"simple", b"simple"),
                    include_headers=[n for n, _ in HEADERS])
    name, value = sig.split(b":", 1)
    headers = [(name, value.rstrip(b"\r\n"))] + HEADERS
    ins, rc = session(spec, None, b"192.0.2.55", headers, BODY)
    for n, v in ins:
        if n.lower() == b"authentication-results":
            print(v.decode().strip())


if __name__ == "__main__":
    main()
