#!/usr/bin/python3
"""disconnect.py - a milter client that hangs up in the middle of a message.

Speaks just enough of the MTA side of the milter protocol (version 6) to get
a message half-way into the milter, then closes the socket without ABORT or
QUIT, as a crashing MTA or a broken network would. Usage:
    disconnect.py unix:/path/sock | inet:PORT@127.0.0.1 STAGE
STAGE: optneg, connect, header, body (where to hang up).
"""
import struct
import sys

from milterclient import connect, packet, reply


def main():
    spec, stage = sys.argv[1], sys.argv[2]
    s = connect(spec, 10)
    s.sendall(packet(b"O", struct.pack(">III", 6, 0x1FF, 0x1FFFFF)))
    opt = reply(s)
    # the milter's protocol flags: which steps it sends no reply for
    proto = struct.unpack(">I", opt[9:13])[0] if len(opt) >= 13 else 0
    if stage == "optneg":
        return
    s.sendall(packet(b"C", b"client.example\0" + b"4" + struct.pack(">H", 4321) + b"127.0.0.1\0"))
    if not proto & 0x00001000:      # SMFIP_NR_CONN
        reply(s)
    if stage == "connect":
        return
    s.sendall(packet(b"D", b"M" + b"{auth_authen}\0alice\0"))
    s.sendall(packet(b"M", b"<a@example.com>\0"))
    if not proto & 0x00004000:      # SMFIP_NR_MAIL
        reply(s)
    s.sendall(packet(b"R", b"<b@example.net>\0"))
    if not proto & 0x00008000:      # SMFIP_NR_RCPT
        reply(s)
    s.sendall(packet(b"L", b"From\0 a@example.com\0"))
    s.sendall(packet(b"L", b"Subject\0 cut off\0"))
    if stage == "header":
        return
    s.sendall(packet(b"N"))
    if not proto & 0x00040000:      # SMFIP_NR_EOH
        reply(s)
    s.sendall(packet(b"B", b"first part of the body\r\n" * 100))
    if not proto & 0x00080000:      # SMFIP_NR_BODY
        reply(s)
    # stage == "body": hang up before end of message


if __name__ == "__main__":
    main()
