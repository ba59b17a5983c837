#!/usr/bin/python3
"""nodelay.py PID PORT - does process PID serve a TCP connection to
127.0.0.1:PORT without Nagle's delay (TCP_NODELAY on its accepted socket)?

Opens one connection, finds the daemon's end of it (/proc/net/tcp and
/proc/PID/fd), takes a copy of that descriptor (pidfd_getfd, root) and reads
the option there. Exit 0 if set, 1 if not, 2 if the socket was not found.
"""
import ctypes
import os
import socket
import sys
import time

SYS_PIDFD_GETFD = 438


def inode_of(local_port, remote_port):
    """The inode of the established socket 127.0.0.1:local -> :remote."""
    want_l = "0100007F:%04X" % local_port
    want_r = "0100007F:%04X" % remote_port
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            cols = line.split()
            if cols[1] == want_l and cols[2] == want_r:
                return cols[9]
    return None


def fd_of(pid, inode):
    """The descriptor number of socket inode in process pid."""
    base = "/proc/%d/fd" % pid
    for name in os.listdir(base):
        try:
            if os.readlink(os.path.join(base, name)) == "socket:[%s]" % inode:
                return int(name)
        except OSError:
            continue
    return None


def main():
    pid, port = int(sys.argv[1]), int(sys.argv[2])
    client = socket.create_connection(("127.0.0.1", port), timeout=10)
    cport = client.getsockname()[1]
    target = None
    for _ in range(50):     # until the daemon has accepted it
        inode = inode_of(port, cport)
        target = fd_of(pid, inode) if inode else None
        if target is not None:
            break
        time.sleep(0.1)
    if target is None:
        print("no accepted socket for port %d in process %d" % (cport, pid))
        return 2
    libc = ctypes.CDLL(None, use_errno=True)
    pidfd = os.pidfd_open(pid)
    fd = libc.syscall(SYS_PIDFD_GETFD, pidfd, target, 0)
    if fd < 0:
        print("pidfd_getfd: %s" % os.strerror(ctypes.get_errno()))
        return 2
    s = socket.socket(fileno=fd)
    on = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    s.detach()
    os.close(fd)
    client.close()
    print("TCP_NODELAY %d on descriptor %d" % (on, target))
    return 0 if on else 1


if __name__ == "__main__":
    sys.exit(main())
