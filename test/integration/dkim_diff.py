#!/usr/bin/python3
"""dkim_diff.py - one message, three DKIM verifiers: authmilter's builtin
verifier and its libopendkim engine (both through test/tools/dkimv) and
dkimpy.

Prints one line: "same NAME: RESULTS" when the two engines give the same
line for every signature (domain, selector, algorithm, b=, i=, key bits,
DNSSEC state, unsigned bytes, result and reason) and dkimpy agrees with
the verdict, or "diff NAME: ..." saying what differs. dkimpy agrees when
it verifies exactly the signatures we call pass or policy (policy: l=
left content unsigned, yet the signature verifies). dkimpy has no verdict
where it does not look: rsa-sha1 (RFC 8301 makes it fail for us, dkimpy
accepts it), x= (dkimpy passes an expired signature), the key's t=s and
h= (dkimpy ignores both).

    dkim_diff.py DKIMV PORT NAME FILE [BUILTIN_REGEX]

With BUILTIN_REGEX the engines may differ (a difference we chose, see
docs/authmilter.8): the builtin engine's line must match it instead.
Keys are looked up only at the test's DNS server.
"""

import re
import subprocess
import sys

import dkim
import dns.resolver


def dkimv(tool, port, engine, path):
    with open(path, "rb") as f:
        out = subprocess.run([tool, "-s", "127.0.0.1@%s" % port, "-t", "3000",
                              "-e", engine], stdin=f, capture_output=True,
                             check=False)
    return out.returncode, out.stdout.decode("ascii", "replace").splitlines()


def dkimpy(port, path):
    res = dns.resolver.Resolver(configure=False)
    res.nameservers = ["127.0.0.1"]
    res.port = int(port)
    res.lifetime = 3

    def txt(name, timeout=3):
        try:
            ans = res.resolve(name.decode().rstrip("."), "TXT")
        except Exception:
            return None
        return b"".join(b"".join(r.strings) for r in ans)

    msg = open(path, "rb").read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    d = dkim.DKIM(msg, minkey=1024)
    n = sum(1 for h in d.headers if h[0].lower() == b"dkim-signature")
    verdicts = []
    for i in range(n):
        try:
            verdicts.append(bool(d.verify(idx=i, dnsfunc=txt)))
        except Exception:
            verdicts.append(False)
    return verdicts


# our reasons where dkimpy does not check what we checked
NO_VERDICT = ("rsa-sha1 not accepted", "signature expired",
              "unauthorized subdomain", "signature-key hash mismatch")


def main():
    tool, port, name, path = sys.argv[1:5]
    allowed = sys.argv[5] if len(sys.argv) > 5 else None
    rb, ours = dkimv(tool, port, "builtin", path)
    ro, lib = dkimv(tool, port, "libopendkim", path)
    py = dkimpy(port, path)
    short = " | ".join(l.split(" result=", 1)[-1] for l in ours)
    if rb != 0 or ro != 0:
        print("diff %s: dkimv exit %d / %d" % (name, rb, ro))
        return
    if allowed is not None:
        if ours == lib or not re.search(allowed, "\n".join(ours)):
            print("diff %s: expected the builtin engine alone to give /%s/" % (name, allowed))
            for a, b in zip(ours, lib):
                print("#   builtin:     %s\n#   libopendkim: %s" % (a, b))
            return
    elif ours != lib:
        print("diff %s: builtin and libopendkim differ" % name)
        for a, b in zip(ours + [""] * len(lib), lib + [""] * len(ours)):
            if a != b:
                print("#   builtin:     %s\n#   libopendkim: %s" % (a, b))
        return
    sigs = [l for l in ours if l.startswith("d=")]
    if len(sigs) != len(py):
        print("diff %s: %d results, dkimpy saw %d signatures" % (name, len(sigs), len(py)))
        return
    for line, ok in zip(sigs, py):
        if any(r in line for r in NO_VERDICT):
            continue
        good = " result=pass " in line or " result=policy " in line
        if good != ok:
            print("diff %s: dkimpy says %s for: %s" % (name, "pass" if ok else "fail", line))
            return
    print("same %s: %s (dkimpy: %s)%s" % (name, short,
                                         " ".join("pass" if v else "fail" for v in py),
                                         "; libopendkim: " + " | ".join(
                                             l.split(" result=", 1)[-1] for l in lib)
                                         if allowed is not None else ""))


if __name__ == "__main__":
    main()
