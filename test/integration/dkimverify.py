#!/usr/bin/python3
"""dkimverify.py - verify every DKIM-Signature of messages with dkimpy.

Keys are looked up only at the given DNS server (the test's knotd on
loopback), never through the system resolver.  Prints one line per
signature, "d=DOMAIN s=SELECTOR a=ALGORITHM pass|fail (reason)", then a
summary (with several files, each line starts with the file's name).
Exit 0 only if, in every file, there are at least --min signatures, every
one verifies, every domain of --expect-domains has a passing signature,
and every signature's h= lists each --oversigned header name once more
than the message has fields of that name (RFC 6376 8.15: no such field
can be added after signing).  One process for many files keeps checking
thousands of messages fast.
Accepts smtp-sink dump files (LF line ends, extra X- headers on top).
"""

import argparse
import logging
import re
import sys
import traceback

import dkim
import dkim.util
import dns.exception
import dns.resolver


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("files", nargs="+", metavar="file")
    p.add_argument("--dns-host", default="127.0.0.1")
    p.add_argument("--dns-port", type=int, default=5353)
    p.add_argument("--min", type=int, default=1,
                   help="least number of signatures required (default 1)")
    p.add_argument("--expect-domains", default="",
                   help="comma-separated d= values that must all pass")
    p.add_argument("--minkey", type=int, default=1024,
                   help="smallest RSA key accepted (default 1024)")
    p.add_argument("--oversigned", action="append", default=[],
                   metavar="NAME", help="header every signature must list "
                   "in h= once more than the message has (repeatable)")
    return p.parse_args()


def make_dnsfunc(host, port):
    """A dkimpy dnsfunc asking only HOST:PORT for TXT records."""
    res = dns.resolver.Resolver(configure=False)
    res.nameservers = [host]
    res.port = port
    res.search = []

    cache = {}

    def lookup(name, timeout):
        res.lifetime = timeout
        try:
            answer = res.resolve(name, "TXT", search=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return None
        except (dns.exception.Timeout, dns.resolver.NoNameservers) as e:
            raise dkim.DnsTimeoutError(str(e))
        return b"".join(answer[0].strings)

    def txt(name, timeout=5):
        if isinstance(name, bytes):
            name = name.decode("ascii")
        if name.lower() in cache:         # one query per key, not per file
            return cache[name.lower()]
        cache[name.lower()] = lookup(name, timeout)
        return cache[name.lower()]
    return txt


class Collect(logging.Handler):
    """Keeps dkimpy's log messages: they hold the reason of a failure."""

    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def oversign_problems(tags, headers, names):
    """What is wrong with the oversigning of NAMES in one signature's h=."""
    listed = [h.strip().lower() for h in tags.get(b"h", b"").split(b":")]
    out = []
    for name in names:
        n = name.lower().encode("ascii")
        present = sum(1 for k, _ in headers if k.strip().lower() == n)
        got = listed.count(n)
        if got != present + 1:
            out.append("h= lists %s %d times, the message has %d (want %d)"
                       % (name, got, present, present + 1))
    return out


def verify_file(path, args, dnsfunc, prefix):
    """Check one message; print its lines; True if everything holds."""
    with open(path, "rb") as f:
        msg = re.sub(rb"\r?\n", b"\r\n", f.read())

    headers, _ = dkim.rfc822_parse(msg)
    sigs = [v for k, v in headers if k.lower() == b"dkim-signature"]
    passed = set()
    failed = 0
    for idx, value in enumerate(sigs):
        try:
            tags = dkim.util.parse_tag_value(value)
        except dkim.util.InvalidTagValueList as e:
            print("%ssignature %d: unparsable (%s) fail" % (prefix, idx, e))
            failed += 1
            continue
        dom = tags.get(b"d", b"?").decode("ascii", "replace")
        desc = "d=%s s=%s a=%s" % (dom,
                                   tags.get(b"s", b"?").decode("ascii", "replace"),
                                   tags.get(b"a", b"?").decode("ascii", "replace"))
        log = logging.getLogger("dkimverify.%d" % idx)
        log.propagate = False
        log.handlers = []
        handler = Collect()
        log.addHandler(handler)
        log.setLevel(logging.DEBUG)
        d = dkim.DKIM(msg, logger=log, minkey=args.minkey)
        try:
            ok = d.verify(idx=idx, dnsfunc=dnsfunc)
            why = "" if ok else (handler.lines[-1] if handler.lines else "")
        except dkim.DKIMException as e:
            ok, why = False, str(e)
        over = oversign_problems(tags, headers, args.oversigned)
        if ok and not over:
            passed.add(dom.lower())
            print(prefix + desc, "pass")
        elif ok:
            failed += 1
            print(prefix + desc, "pass, but", "; ".join(over), "fail")
        else:
            failed += 1
            print(prefix + desc, "fail", "(%s)" % why if why else "")

    ok = True
    if len(sigs) < args.min:
        print("%sdkimverify: %d signature(s), at least %d required"
              % (prefix, len(sigs), args.min))
        ok = False
    if failed:
        ok = False
    for want in filter(None, args.expect_domains.lower().split(",")):
        if want not in passed:
            print("%sdkimverify: no passing signature with d=%s" % (prefix, want))
            ok = False
    print("%sdkimverify: %d signature(s), %d pass, %d fail"
          % (prefix, len(sigs), len(sigs) - failed, failed))
    return ok


def main():
    args = parse_args()
    dnsfunc = make_dnsfunc(args.dns_host, args.dns_port)
    bad = 0
    for path in args.files:
        prefix = path + ": " if len(args.files) > 1 else ""
        if not verify_file(path, args, dnsfunc, prefix):
            bad += 1
    if len(args.files) > 1:
        print("dkimverify: %d file(s), %d verified, %d not"
              % (len(args.files), len(args.files) - bad, bad))
    return 0 if bad == 0 else 1


if __name__ == "__main__":
    # 1 means "does not verify": anything else that goes wrong is 2, so
    # that a test expecting a failure cannot pass on a crash
    try:
        sys.exit(main())
    except Exception:               # pylint: disable=broad-except
        traceback.print_exc()
        sys.exit(2)
