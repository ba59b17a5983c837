#!/usr/bin/python3
"""spf_suite.py - the OpenSPF RFC 7208 test suite (Debian's python3-spf
ships it) for test_spf_suite.sh: DNS data for knotd, test cases through
the daemon over the milter protocol and through pyspf, and the verdicts.

Usage:
  spf_suite.py count
      number of scenarios in the suite
  spf_suite.py zone N ZONEFILE DROPFILE
      scenario N's zone data as a root zone for knotd, and the
      "name TYPE" queries dnsdrop.py must swallow (TIMEOUT entries)
  spf_suite.py milter N SOCKET
      each test case of scenario N through the milter at SOCKET (unix:PATH
      or inet:PORT@HOST): CONNECT from the case's host, HELO, MAIL FROM,
      one message; prints "id|result|Received-SPF value"
  spf_suite.py pyspf N PORT
      each test case of scenario N through pyspf asking 127.0.0.1@PORT;
      prints "id|result|explanation"
  spf_suite.py verdicts RESULTS ENGINE
      one line per test case: "ok|id|text", "known|id|text" (a listed,
      explained exception) or "fail|id|text", for ENGINE's results (the
      files RESULTS/ENGINE.N), then "total|ENGINE|passed|cases"
  spf_suite.py report RESULTS
      docs/spf-conformance.md: totals per engine and every difference
      between builtin and libspf2 with its RFC 7208 section

The zone data follows the suite's own driver (pyspf's testspf.py): SPF
records are published as type SPF and, unless the name has TXT records of
its own, as TXT too; "TXT: NONE" publishes nothing; TIMEOUT makes every
query of the name time out except those of a type listed before it.
"""
import gzip
import os
import struct
import sys

import yaml

SUITE = os.environ.get("SPF_SUITE_YML",
                       "/usr/share/doc/python3-spf/rfc7208-tests.yml.gz")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
ENGINES = ("builtin", "libspf2", "pyspf")
QTYPES = ("A", "AAAA", "MX", "PTR", "TXT", "SPF", "CNAME")

# Test cases the built-in engine does not pass, each with the reason it
# cannot pass here (a "known" verdict instead of "not ok").
KNOWN = {
}


def scenarios():
    """The suite's scenarios, in file order."""
    with gzip.open(SUITE, "rb") as f:
        return list(yaml.safe_load_all(f))


def scenario(n):
    """Scenario n (0-based)."""
    return scenarios()[int(n)]


def wants(case):
    """The acceptable results of a test case, preferred first."""
    r = case["result"]
    return list(r) if isinstance(r, list) else [r]


def oneline(text):
    """text on one line, without the field separator."""
    return " ".join(str(text).split()).replace("|", "/")


# ---------------------------------------------------------------- zone

def owner(name):
    """A domain name as an absolute zone-file name, odd octets escaped."""
    name = name.rstrip(".")
    if not name:
        return "."
    out = []
    for label in name.split("."):
        esc = ""
        for b in label.encode("utf-8"):
            c = chr(b)
            esc += c if c.isalnum() and b < 0x80 or c in "-_" else "\\%03d" % b
        out.append(esc)
    return ".".join(out) + "."


def txt_rdata(strings):
    """TXT rdata: quoted character-strings of at most 255 octets."""
    parts = []
    for s in strings:
        data = s.encode("utf-8")
        chunks = [data[i:i + 255] for i in range(0, len(data), 255)] or [b""]
        for chunk in chunks:
            q = "".join(chr(b) if 0x20 <= b < 0x7f and chr(b) not in '"\\'
                        else "\\%03d" % b for b in chunk)
            parts.append('"%s"' % q)
    return " ".join(parts) if parts else '""'


def records(name, rrs):
    """(type, rdata) of one name, and the query types TIMEOUT drops."""
    out, generated, own_txt, before, timeout = [], [], False, set(), False
    for m in rrs:
        if m == "TIMEOUT":
            timeout = True
            continue
        (t, v), = m.items()
        if t in ("TXT", "SPF") and isinstance(v, str):
            v = [v]
        if t == "TXT":
            own_txt = True
        if t == "SPF":
            generated.append(v)
        if t in ("TXT", "SPF") and v == ["NONE"]:
            continue
        if not timeout:
            before.add(t)
        if t in ("TXT", "SPF"):
            out.append((t, txt_rdata(v)))
        elif t == "MX":
            out.append((t, "%d %s" % (v[0], owner(v[1]))))
        elif t in ("PTR", "CNAME"):
            out.append((t, owner(v)))
        else:
            out.append((t, str(v)))
    if not own_txt:
        out += [("TXT", txt_rdata(v)) for v in generated]
    drops = [t for t in QTYPES if t not in before] if timeout else []
    return out, drops


def cmd_zone(n, zonefile, dropfile):
    """Write scenario n as a root zone and its drop list."""
    sc = scenario(n)
    with open(zonefile, "w") as z, open(dropfile, "w") as d:
        z.write("$TTL 300\n"
                ". SOA ns. hostmaster. ( %d 3600 600 86400 300 )\n"
                ". NS ns.\nns. A 127.0.0.1\n" % (int(n) + 1))
        for name, rrs in sc["zonedata"].items():
            recs, drops = records(name, rrs)
            for t, rdata in recs:
                z.write("%s 300 IN %s %s\n" % (owner(name), t, rdata))
            for t in drops:
                d.write("%s %s\n" % (name.lower().rstrip("."), t))


# ---------------------------------------------------------------- milter

NR = {b"C": 0x1000, b"H": 0x2000, b"M": 0x4000, b"R": 0x8000,
      b"L": 0x80, b"N": 0x40000, b"B": 0x80000}


def milter_case(spec, n, case):
    """One test case through the milter: the Received-SPF value or None."""
    from milterclient import connect, packet, reply

    s = connect(spec, 60)
    s.sendall(packet(b"O", struct.pack(">III", 6, 0x1FF, 0x1FFFFF)))
    proto = struct.unpack(">I", reply(s)[9:13])[0]
    refused = []

    def send(cmd, data=b""):
        s.sendall(packet(cmd, data))
        if not proto & NR[cmd]:
            r = reply(s)
            if r[:1] != b"c":
                refused.append("%s: %r" % (cmd.decode(), r))

    host = str(case["host"])
    fam = b"6" if ":" in host else b"4"
    send(b"C", b"client.suite.test\0" + fam + struct.pack(">H", 25)
         + host.encode() + b"\0")
    send(b"H", str(case["helo"]).encode() + b"\0")
    s.sendall(packet(b"D", b"Mi\0SPF%d\0" % n))
    send(b"M", b"<" + str(case["mailfrom"]).encode() + b">\0")
    send(b"R", b"<rcpt@dest.suite.test>\0")
    send(b"L", b"From\0 sender@from.suite.test\0")
    send(b"L", b"Subject\0 RFC 7208 suite\0")
    send(b"N")
    send(b"B", b"hello\r\n")
    s.sendall(packet(b"E"))
    value = None
    while True:
        r = reply(s)
        if r[:1] == b"i":
            name, val = r[5:].split(b"\0")[:2]
            if name.decode().lower() == "received-spf":
                value = val.decode("utf-8", "replace").strip()
        elif r[:1] in (b"h", b"m", b"e", b"+", b"-", b"2", b"q"):
            continue
        else:
            break
    s.sendall(packet(b"Q"))
    s.close()
    return value, refused


def cmd_milter(n, spec):
    """Every case of scenario n through the milter at spec."""
    for tid, case in scenario(n)["tests"].items():
        value, refused = milter_case(spec, int(n), case)
        res = value.split()[0] if value else "no-header"
        note = value or "; ".join(refused) or "no Received-SPF"
        print("%s|%s|%s" % (tid, res, oneline(note)))
        sys.stdout.flush()


# ---------------------------------------------------------------- pyspf

def cmd_pyspf(n, port):
    """Every case of scenario n through pyspf, asking our DNS server."""
    import dns.resolver
    import spf

    r = dns.resolver.Resolver(configure=False)
    r.nameservers = ["127.0.0.1"]
    r.port = int(port)
    r.timeout = r.lifetime = 1.5
    dns.resolver.default_resolver = r
    old = {"unknown": "permerror", "error": "temperror"}
    for tid, case in scenario(n)["tests"].items():
        q = spf.query(i=str(case["host"]), s=str(case["mailfrom"]),
                      h=str(case["helo"]), strict=True, timeout=1.5)
        res, _, exp = q.check()
        print("%s|%s|%s" % (tid, old.get(res, res), oneline(exp)))
        sys.stdout.flush()


# ---------------------------------------------------------------- verdicts

def results(resdir, engine):
    """{(scenario, test id): (result, note)} of one engine's runs."""
    out = {}
    for n in range(len(scenarios())):
        path = os.path.join(resdir, "%s.%d" % (engine, n))
        if not os.path.exists(path):
            continue
        with open(path) as f:
            for line in f:
                fields = line.rstrip("\n").split("|", 2)
                if len(fields) == 3:
                    out[(n, fields[0])] = (fields[1], fields[2])
    return out


def cases():
    """(scenario index, scenario, test id, case) of the whole suite."""
    for n, sc in enumerate(scenarios()):
        for tid, case in sc["tests"].items():
            yield n, sc, tid, case


def cmd_verdicts(resdir, engine):
    """A verdict line per case for engine, then its total."""
    got = results(resdir, engine)
    ran = set(n for n, _ in got)
    passed = total = 0
    for n, sc, tid, case in cases():
        if n not in ran and os.environ.get("SPF_SUITE_ONLY"):
            continue
        total += 1
        res, note = got.get((n, tid), ("missing", "not run"))
        text = "%s: %s (want %s; %s)" % (sc["description"], tid,
                                         "/".join(wants(case)), res)
        if res in wants(case):
            passed += 1
            print("ok|%s|%s" % (tid, text))
        elif tid in KNOWN and engine == "builtin":
            print("known|%s|%s # %s" % (tid, text, KNOWN[tid]))
        else:
            print("fail|%s|%s: %s" % (tid, text, note))
    print("total|%s|%d|%d" % (engine, passed, total))


def fault(case, res):
    """What an engine that gave res for case got wrong, in a few words."""
    want = wants(case)
    if res in want:
        return "-"
    if want == ["permerror"]:
        return "accepts a syntax error"
    if res == "permerror":
        return "refuses a valid record"
    if res == "temperror":
        return "fails on a DNS error it must skip"
    return "evaluates it otherwise"


def cmd_report(resdir):
    """docs/spf-conformance.md on stdout."""
    got = {e: results(resdir, e) for e in ENGINES}
    all_cases = list(cases())
    w = sys.stdout.write
    w("# SPF conformance: the OpenSPF RFC 7208 test suite\n\n"
      "Produced by `SPF_SUITE_REPORT=docs/spf-conformance.md "
      "test/integration/test_spf_suite.sh`\n"
      "(the suite of Debian's python3-spf, %s, %d test cases in %d "
      "scenarios).\n\n" % (os.path.basename(SUITE), len(all_cases),
                            len(scenarios())))
    w("Each scenario's DNS data is served by knotd on loopback (one root "
      "zone), behind\ntest/integration/dnsdrop.py for the TIMEOUT entries. "
      "builtin and libspf2 run in\nthe real daemon (`spf_engine = builtin` "
      "or `libspf2`), over the milter protocol:\nCONNECT from the case's "
      "host, HELO, MAIL FROM, one message; the result is the\nfirst word of "
      "the Received-SPF header the daemon inserts. pyspf (calibration)\n"
      "asks the same DNS server. A case passes when the result is one the "
      "suite\naccepts.\n\n")
    w("| engine | passed | of |\n|---|---|---|\n")
    for e in ENGINES:
        n = sum(1 for sn, _, tid, c in all_cases
                if got[e].get((sn, tid), ("",))[0] in wants(c))
        w("| %s | %d | %d |\n" % (e, n, len(all_cases)))
    w("\n## Cases the built-in engine does not pass\n\n")
    fails = [(sn, sc, tid, c) for sn, sc, tid, c in all_cases
             if got["builtin"].get((sn, tid), ("",))[0] not in wants(c)]
    if not fails:
        w("None.\n")
    for sn, sc, tid, c in fails:
        w("- `%s` (%s): wants %s, gives %s. %s\n" % (
            tid, sc["description"], "/".join(wants(c)),
            got["builtin"].get((sn, tid), ("missing",))[0],
            KNOWN.get(tid, "Not explained.")))
    w("\n## Where builtin and libspf2 differ\n\n"
      "Every case whose result differs between the two engines; the RFC "
      "7208 section\nis the suite's own reference for the case (section/"
      "paragraph). The expected\nresult is the suite's.\n\n"
      "| case | scenario | RFC 7208 | expected | builtin | libspf2 | pyspf | "
      "libspf2's fault | what it tests |\n"
      "|---|---|---|---|---|---|---|---|---|\n")
    kinds = {}
    for sn, sc, tid, c in all_cases:
        b = got["builtin"].get((sn, tid), ("missing",))[0]
        lib = got["libspf2"].get((sn, tid), ("missing",))[0]
        if b == lib:
            continue
        kinds[fault(c, lib)] = kinds.get(fault(c, lib), 0) + 1
        py = got["pyspf"].get((sn, tid), ("missing",))[0]
        what = " ".join(str(c.get("description") or "").split()) or "-"
        w("| `%s` | %s | %s | %s | %s | %s | %s | %s | %s |\n" % (
            tid, sc["description"], c.get("spec", "-"),
            "/".join(wants(c)), b, lib, py, fault(c, lib),
            what.replace("|", "/")))
    w("\n%d differences: %s.\n" % (sum(kinds.values()), ", ".join(
        "%d where libspf2 %s" % (v, k) for k, v in sorted(kinds.items()))))


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "count":
        print(len(scenarios()))
    elif cmd == "zone":
        cmd_zone(*args)
    elif cmd == "milter":
        cmd_milter(*args)
    elif cmd == "pyspf":
        cmd_pyspf(*args)
    elif cmd == "verdicts":
        cmd_verdicts(*args)
    elif cmd == "report":
        cmd_report(*args)
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
