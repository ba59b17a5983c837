#!/usr/bin/python3
"""notifysock.py PATH OUT - the systemd side of sd_notify(3): receive the
daemon's datagrams on the unix socket PATH and append each to OUT as one
line, its newlines shown as "|" (READY=1|STATUS=20 domains). Prints
"notifysock: ready" once bound. Runs until killed."""
import os
import socket
import sys


def main():
    path, out = sys.argv[1], sys.argv[2]
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    os.chmod(path, 0o777)       # the daemon sends after dropping root
    print("notifysock: ready", flush=True)
    with open(out, "a", encoding="utf-8") as f:
        while True:
            data = sock.recv(65536)
            f.write(data.decode("utf-8", "replace").replace("\n", "|") + "\n")
            f.flush()


if __name__ == "__main__":
    main()
