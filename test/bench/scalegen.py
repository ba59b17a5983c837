#!/usr/bin/python3
"""scalegen.py - the many-customer layout the scale benchmark runs on.

From a cache of K distinct keys (kI.pem, kI.rdata: the zone-file rdata of
its DKIM record), write for N customer domains dI.scale.test (I < N):
  WORK/keys/dI.scale.test/s1.pem     its own key file (a copy of key I mod K)
  WORK/domains.d/dI.conf             its block (layout "include": key = s1
                                     under key_dir), or one WORK/domains.conf
                                     holding every block with full key paths
                                     (layout "flat", what older builds read);
                                     layout "shared": dI.conf names
                                     WORK/shared/kJ.pem (J = I mod K), so N
                                     blocks share K key files
  WORK/scale.test.records            the zone's s1._domainkey records
  WORK/opendkim/{KeyTable,SigningTable}  the same domains for OpenDKIM
Usage: scalegen.py CACHE K WORK N include|flat|shared [FIRST]
FIRST (default 0) starts the numbering, to add domains to a layout.
"""
import os
import shutil
import sys


def main():
    cache, k, work, n, layout = sys.argv[1], int(sys.argv[2]), sys.argv[3], \
        int(sys.argv[4]), sys.argv[5]
    first = int(sys.argv[6]) if len(sys.argv) > 6 else 0
    rdata = [open(os.path.join(cache, "k%d.rdata" % i)).read().strip()
             for i in range(k)]
    for d in ("keys", "domains.d", "opendkim", "shared"):
        os.makedirs(os.path.join(work, d), exist_ok=True)
    mode = "a" if first else "w"
    flat = open(os.path.join(work, "domains.conf"), mode)
    zone = open(os.path.join(work, "scale.test.records"), mode)
    ktab = open(os.path.join(work, "opendkim", "KeyTable"), mode)
    stab = open(os.path.join(work, "opendkim", "SigningTable"), mode)
    old = os.umask(0o077)
    for i in range(first, first + n):
        dom = "d%d.scale.test" % i
        if layout == "shared":
            key = os.path.join(work, "shared", "k%d.pem" % (i % k))
            if not os.path.exists(key):
                shutil.copyfile(os.path.join(cache, "k%d.pem" % (i % k)), key)
        else:
            kdir = os.path.join(work, "keys", dom)
            os.makedirs(kdir, exist_ok=True)
            key = os.path.join(kdir, "s1.pem")
            shutil.copyfile(os.path.join(cache, "k%d.pem" % (i % k)), key)
        if layout == "shared":
            with open(os.path.join(work, "domains.d", "d%d.conf" % i), "w") as f:
                f.write("domain %s {\n    key = s1 %s\n}\n" % (dom, key))
        elif layout == "include":
            with open(os.path.join(work, "domains.d", "d%d.conf" % i), "w") as f:
                f.write("domain %s {\n    key = s1\n}\n" % dom)
        else:
            flat.write("domain %s {\n    key = s1 %s\n}\n" % (dom, key))
        zone.write("s1._domainkey.%s. 300 IN TXT %s\n" % (dom, rdata[i % k]))
        ktab.write("s1._domainkey.%s %s:s1:%s\n" % (dom, dom, key))
        stab.write("%s s1._domainkey.%s\n" % (dom, dom))
    os.umask(old)
    for f in (flat, zone, ktab, stab):
        f.close()


if __name__ == "__main__":
    main()
