#!/usr/bin/python3
"""smtpsend.py - submit one test message over SMTP (loopback only).

Builds a message (or reads one with --file), optionally signs it with
dkimpy (--dkim) and alters its body afterwards (--tamper-body), optionally
pretends an outside client with XCLIENT, optionally authenticates with AUTH
PLAIN, sends it and
prints the queue id from the server's 250 reply to DATA.  Exits 2 with the
server's reply on stderr when a command is refused (so a test can tell a
451 from a tempfailing milter from a crash), 1 on other errors.
"""

import argparse
import email.utils
import re
import smtplib
import sys

LINE = ("The quick brown fox jumps over the lazy dog; "
        "pack my box with five dozen liquor jugs.")


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=2525)
    p.add_argument("--helo", default="client.test.example")
    p.add_argument("--source-addr", metavar="IP",
                   help="connect from this local address (e.g. 127.0.0.2)")
    p.add_argument("--pipe", metavar="COMMAND",
                   help="speak SMTP to COMMAND's stdin and stdout instead "
                   "of a server (e.g. sendmail -bs), one reply at a time")
    p.add_argument("--auth", metavar="USER:PASS",
                   help="authenticate with AUTH PLAIN")
    p.add_argument("--xclient-addr", metavar="IP",
                   help="XCLIENT ADDR=IP before the transaction")
    p.add_argument("--xclient-name", default="[UNAVAILABLE]",
                   help="XCLIENT NAME= (default [UNAVAILABLE], no DNS)")
    p.add_argument("--from", dest="mail_from", default="a@example.com",
                   help="envelope sender")
    p.add_argument("--to", action="append", help="recipient (repeatable; "
                   "default bob@dest.test.example)")
    p.add_argument("--header-from", help="From: header (default: --from)")
    p.add_argument("--mail-param", action="append", default=[],
                   metavar="KEYWORD=VALUE", help="ESMTP parameter of MAIL "
                   "FROM, e.g. SIZE=1000 or BODY=8BITMIME (repeatable)")
    p.add_argument("--no-from", action="store_true",
                   help="leave the From: header out")
    p.add_argument("--subject", default="authmilter integration test")
    p.add_argument("--header", action="append", default=[],
                   metavar="'Name: value'", help="extra header (repeatable)")
    p.add_argument("--size", type=int, default=0, metavar="BYTES",
                   help="body size in bytes (default: a few lines)")
    p.add_argument("--file", help="send this message file as is")
    p.add_argument("--dkim", action="append", default=[],
                   metavar="DOMAIN:SELECTOR:KEYFILE",
                   help="sign with dkimpy (RSA or Ed25519 PEM; repeatable, "
                   "the last one ends up on top)")
    p.add_argument("--tamper-body", action="store_true",
                   help="append a line to the body after signing")
    p.add_argument("--timeout", type=float, default=120)
    return p.parse_args()


def make_body(size):
    """Body of about SIZE bytes (CRLF lines, numbered), or a short one."""
    if size <= 0:
        return "Hello,\r\n\r\nthis is a test message.\r\n"
    out = []
    total = 0
    n = 0
    while total < size:
        line = "%08d %s\r\n" % (n, LINE)
        out.append(line)
        total += len(line)
        n += 1
    return "".join(out)


def make_message(args):
    """The message as bytes, CRLF line ends."""
    if args.file:
        with open(args.file, "rb") as f:
            data = f.read()
        return re.sub(rb"\r?\n", b"\r\n", data)
    hdrs = [] if args.no_from else [
        "From: " + (args.header_from or args.mail_from)]
    hdrs += [
        "To: " + ", ".join(args.to),
        "Subject: " + args.subject,
        "Date: " + email.utils.formatdate(localtime=True),
        "Message-ID: " + email.utils.make_msgid(domain="client.test.example"),
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=us-ascii",
    ]
    hdrs.extend(args.header)
    return ("\r\n".join(hdrs) + "\r\n\r\n" + make_body(args.size)).encode("ascii")


def dkim_sign(msg, spec):
    """MSG with a dkimpy signature per SPEC "DOMAIN:SELECTOR:KEYFILE" on top."""
    import base64
    import subprocess
    import dkim  # Debian's python3-dkim: only /usr/bin/python3 has it
    domain, selector, keyfile = spec.split(":", 2)
    with open(keyfile, "rb") as f:
        pem = f.read()
    alg = b"rsa-sha256"
    text = subprocess.run(["openssl", "pkey", "-noout", "-text"], input=pem,
                          capture_output=True, check=True).stdout
    if text.startswith(b"ED25519"):
        # dkimpy wants the raw 32-byte seed, base64: the DER's last 32 bytes
        der = subprocess.run(["openssl", "pkey", "-outform", "DER"], input=pem,
                             capture_output=True, check=True).stdout
        pem = base64.b64encode(der[-32:])
        alg = b"ed25519-sha256"
    sig = dkim.sign(msg, selector.encode(), domain.encode(), pem,
                    canonicalize=(b"relaxed", b"relaxed"),
                    signature_algorithm=alg,
                    include_headers=[b"from", b"to", b"subject", b"date",
                                     b"message-id"])
    return sig.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n") + msg


def pipe_session(args):
    """An SMTP session with the command ARGS.pipe over a socket pair: its
    stdin and stdout are one end; we wait for each reply before the next
    command (sendmail -bs refuses a client that talks first)."""
    import shlex
    import socket
    import subprocess
    ours, theirs = socket.socketpair()
    proc = subprocess.Popen(shlex.split(args.pipe), stdin=theirs,
                            stdout=theirs)
    theirs.close()
    ours.settimeout(args.timeout)
    s = smtplib.SMTP(local_hostname=args.helo, timeout=args.timeout)
    s.sock = ours
    code, reply = s.getreply()
    if code != 220:
        refused("greeting", code, reply)
    return s, proc


def refused(what, code, msg):
    """Report a refused command and exit 2."""
    if isinstance(msg, bytes):
        msg = msg.decode("utf-8", "replace")
    print("smtpsend: %s refused: %s %s" % (what, code, msg), file=sys.stderr)
    sys.exit(2)


def main():
    args = parse_args()
    if not args.to:
        args.to = ["bob@dest.test.example"]
    msg = make_message(args)
    for spec in args.dkim:
        msg = dkim_sign(msg, spec)
    if args.tamper_body:
        msg += b"P.S. added after signing.\r\n"

    if args.pipe:
        s, proc = pipe_session(args)
    else:
        proc = None
        src = (args.source_addr, 0) if args.source_addr else None
        s = smtplib.SMTP(args.host, args.port, local_hostname=args.helo,
                         timeout=args.timeout, source_address=src)
    code, reply = s.ehlo()
    if code != 250:
        refused("EHLO", code, reply)
    if args.xclient_addr:
        if not s.has_extn("xclient"):
            refused("XCLIENT", 0, "not offered (smtpd_authorized_xclient_hosts)")
        code, reply = s.docmd("XCLIENT", "ADDR=%s NAME=%s"
                              % (args.xclient_addr, args.xclient_name))
        if code != 220:
            refused("XCLIENT", code, reply)
        # XCLIENT restarts the session: greet again.
        code, reply = s.ehlo()
        if code != 250:
            refused("EHLO after XCLIENT", code, reply)
    if args.auth:
        user, _, password = args.auth.partition(":")
        if not s.has_extn("auth"):
            refused("AUTH", 0, "not offered")
        s.user, s.password = user, password
        try:
            s.auth("PLAIN", s.auth_plain)
        except smtplib.SMTPAuthenticationError as e:
            refused("AUTH", e.smtp_code, e.smtp_error)

    code, reply = s.mail(args.mail_from, args.mail_param)
    if code != 250:
        refused("MAIL", code, reply)
    for rcpt in args.to:
        code, reply = s.rcpt(rcpt)
        if code not in (250, 251):
            refused("RCPT " + rcpt, code, reply)
    try:
        code, reply = s.data(msg)
    except smtplib.SMTPDataError as e:
        refused("DATA", e.smtp_code, e.smtp_error)
    if code != 250:
        refused("DATA", code, reply)
    s.quit()
    if proc is not None:
        proc.wait(timeout=args.timeout)

    # Postfix: "... queued as QID"; Sendmail: "2.0.0 QID Message accepted"
    m = (re.search(rb"queued as (\S+)", reply)
         or re.match(rb"\d\.\d\.\d (\S+) Message accepted", reply))
    print(m.group(1).decode() if m else reply.decode("utf-8", "replace"))


if __name__ == "__main__":
    try:
        main()
    except (OSError, smtplib.SMTPException) as e:
        print("smtpsend: %s" % e, file=sys.stderr)
        sys.exit(1)
