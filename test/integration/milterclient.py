"""milterclient.py - the MTA side of milter protocol version 6, the little
the test clients (disconnect.py, noquarantine.py) need: framing and the
connection to a milter socket spec."""
import socket
import struct


def packet(cmd, data=b""):
    """One packet: 4-byte length, command byte, data."""
    return struct.pack(">I", len(data) + 1) + cmd + data


def _read(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            raise SystemExit("milter closed the connection")
        data += chunk
    return data


def reply(s):
    """The next packet from the milter: command byte and data."""
    n = struct.unpack(">I", _read(s, 4))[0]
    return _read(s, n)


def connect(spec, timeout):
    """A socket to unix:/path or inet:PORT@HOST."""
    if spec.startswith("unix:"):
        s = socket.socket(socket.AF_UNIX)
        s.connect(spec[5:])
    else:
        port, host = spec[5:].split("@")
        s = socket.create_connection((host, int(port)))
    s.settimeout(timeout)
    return s
