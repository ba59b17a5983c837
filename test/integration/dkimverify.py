#!/usr/bin/python3
"""dkimverify.py - verify every DKIM-Signature of a message with dkimpy.

Keys are looked up only at the given DNS server (the test's knotd on
loopback), never through the system resolver.  Prints one line per
signature, "d=DOMAIN s=SELECTOR a=ALGORITHM pass|fail (reason)", then a
summary.  Exit 0 only if there are at least --min signatures, every one
verifies, and every domain of --expect-domains has a passing signature.
Accepts smtp-sink dump files (LF line ends, extra X- headers on top).
"""

import argparse
import logging
import re
import sys

import dkim
import dkim.util
import dns.exception
import dns.resolver


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("file")
    p.add_argument("--dns-host", default="127.0.0.1")
    p.add_argument("--dns-port", type=int, default=5353)
    p.add_argument("--min", type=int, default=1,
                   help="least number of signatures required (default 1)")
    p.add_argument("--expect-domains", default="",
                   help="comma-separated d= values that must all pass")
    p.add_argument("--minkey", type=int, default=1024,
                   help="smallest RSA key accepted (default 1024)")
    return p.parse_args()


def make_dnsfunc(host, port):
    """A dkimpy dnsfunc asking only HOST:PORT for TXT records."""
    res = dns.resolver.Resolver(configure=False)
    res.nameservers = [host]
    res.port = port
    res.search = []

    def txt(name, timeout=5):
        if isinstance(name, bytes):
            name = name.decode("ascii")
        res.lifetime = timeout
        try:
            answer = res.resolve(name, "TXT", search=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return None
        except (dns.exception.Timeout, dns.resolver.NoNameservers) as e:
            raise dkim.DnsTimeoutError(str(e))
        return b"".join(answer[0].strings)
    return txt


class Collect(logging.Handler):
    """Keeps dkimpy's log messages: they hold the reason of a failure."""

    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def main():
    args = parse_args()
    with open(args.file, "rb") as f:
        msg = re.sub(rb"\r?\n", b"\r\n", f.read())
    dnsfunc = make_dnsfunc(args.dns_host, args.dns_port)

    headers, _ = dkim.rfc822_parse(msg)
    sigs = [v for k, v in headers if k.lower() == b"dkim-signature"]
    passed = set()
    failed = 0
    for idx, value in enumerate(sigs):
        try:
            tags = dkim.util.parse_tag_value(value)
        except dkim.util.InvalidTagValueList as e:
            print("signature %d: unparsable (%s) fail" % (idx, e))
            failed += 1
            continue
        dom = tags.get(b"d", b"?").decode("ascii", "replace")
        desc = "d=%s s=%s a=%s" % (dom,
                                   tags.get(b"s", b"?").decode("ascii", "replace"),
                                   tags.get(b"a", b"?").decode("ascii", "replace"))
        log = logging.getLogger("dkimverify.%d" % idx)
        log.propagate = False
        handler = Collect()
        log.addHandler(handler)
        log.setLevel(logging.DEBUG)
        d = dkim.DKIM(msg, logger=log, minkey=args.minkey)
        try:
            ok = d.verify(idx=idx, dnsfunc=dnsfunc)
            why = "" if ok else (handler.lines[-1] if handler.lines else "")
        except dkim.DKIMException as e:
            ok, why = False, str(e)
        if ok:
            passed.add(dom.lower())
            print(desc, "pass")
        else:
            failed += 1
            print(desc, "fail", "(%s)" % why if why else "")

    ok = True
    if len(sigs) < args.min:
        print("dkimverify: %d signature(s), at least %d required"
              % (len(sigs), args.min))
        ok = False
    if failed:
        ok = False
    for want in filter(None, args.expect_domains.lower().split(",")):
        if want not in passed:
            print("dkimverify: no passing signature with d=%s" % want)
            ok = False
    print("dkimverify: %d signature(s), %d pass, %d fail"
          % (len(sigs), len(sigs) - failed, failed))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
