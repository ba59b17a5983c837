#!/usr/bin/python3
"""authres_check.py - check the Authentication-Results a message arrived with.

Reads a message file (an smtp-sink dump, a postcat dump or a plain message),
finds every Authentication-Results header field and parses the one that
claims --authserv-id with Debian's python3-authres (RFC 8601).  Exit 0 only
if all of these hold:
  - exactly one A-R field claims our authserv-id (after comments, case and
    a trailing dot are discounted), it is the topmost A-R field, authres
    parses it and it meets the RFC 8601 grammar exactly (rfc8601.py);
  - each --expect 'METHOD=RESULT [PTYPE.PROP[=VALUE]]...' matches one result
    clause of it (a property without "=" only has to be present);
  - no --reject clause matches;
  - --foreign N: exactly N other A-R fields (other authserv-ids) are there;
  - --dkim-b: every dkim clause's header.b is a prefix (8 characters or
    more) of the b= of a DKIM-Signature in the message with the same d= and s=;
  - --received-spf 'RESULT [KEY=VALUE]...': exactly one Received-SPF field,
    with that result and those key-value pairs (RFC 7208 9.1).
With --several, milters in a chain that each add their own A-R field with
our authserv-id (OpenDKIM then OpenDMARC) are fine: every such field must
parse, none need be topmost, and an --expect may match a clause of any.
With --lenient, other implementations' A-R are only parsed (authres), not
held to the RFC 8601 grammar; what rfc8601.py finds is printed as NOTE.
With --none: exit 0 only if the message has no A-R field at all (no other
check is made).  Prints what it found, so a failing check explains itself.
"""

import argparse
import re
import sys

import authres  # Debian's python3-authres: only /usr/bin/python3 has it

import rfc8601


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("file")
    p.add_argument("--authserv-id", default="mx.test.example")
    p.add_argument("--expect", action="append", default=[],
                   metavar="'METHOD=RESULT PROP=VALUE...'")
    p.add_argument("--reject", action="append", default=[],
                   metavar="'METHOD=RESULT PROP=VALUE...'",
                   help="a clause that must not be there")
    p.add_argument("--foreign", type=int, metavar="N",
                   help="number of A-R fields with another authserv-id")
    p.add_argument("--dkim-b", action="store_true",
                   help="header.b values are prefixes of the signatures' b=")
    p.add_argument("--received-spf", metavar="'RESULT KEY=VALUE...'")
    p.add_argument("--several", action="store_true",
                   help="A-R fields of a chain of milters, all with our "
                   "authserv-id")
    p.add_argument("--lenient", action="store_true",
                   help="the RFC 8601 grammar check only prints notes")
    p.add_argument("--none", action="store_true",
                   help="the message must have no A-R field at all")
    return p.parse_args()


def header_fields(path):
    """[(name, unfolded value)] of the message's header, top to bottom."""
    with open(path, "rb") as f:
        data = f.read().decode("utf-8", "replace")
    fields = []
    for line in re.split(r"\r?\n", data):
        if line == "":
            break
        if line[0] in " \t" and fields:
            fields[-1][1] += " " + line.strip()
        elif ":" in line:
            name, value = line.split(":", 1)
            fields.append([name.strip(), value.strip()])
    return [(n, v) for n, v in fields]


def strip_comments(s):
    """S without RFC 5322 comments (nested, with quoted-pairs)."""
    out, depth, i = [], 0, 0
    while i < len(s):
        c = s[i]
        if c == "\\" and depth > 0:
            i += 2
            continue
        if c == "(":
            depth += 1
        elif c == ")" and depth > 0:
            depth -= 1
        elif depth == 0:
            out.append(c)
        i += 1
    return "".join(out)


def authserv_id_of(value):
    """The authserv-id an A-R value claims, lower case, no trailing dot."""
    v = strip_comments(value).strip()
    m = re.match(r'"((?:[^"\\]|\\.)*)"|([^\s;]+)', v)
    if not m:
        return ""
    ident = m.group(1) if m.group(1) is not None else m.group(2)
    return ident.replace("\\", "").lower().rstrip(".")


def parse_spec(spec):
    """'dkim=pass header.d=x header.s' -> ("dkim", "pass", [(prop, value|None)])."""
    words = spec.split()
    method, _, result = words[0].partition("=")
    props = []
    for w in words[1:]:
        name, eq, value = w.partition("=")
        props.append((name.lower(), value if eq else None))
    return method.lower(), result.lower(), props


def clause_props(res):
    """{ 'header.d': value, ... } of a parsed result clause (first wins)."""
    out = {}
    for p in getattr(res, "properties", []):
        out.setdefault("%s.%s" % (p.type, p.name), str(p.value or ""))
    return out


def matches(res, spec):
    """Does result clause RES match the parsed SPEC?"""
    method, result, props = spec
    if getattr(res, "method", None) != method or res.result != result:
        return False
    have = clause_props(res)
    for name, value in props:
        if name not in have or have[name] == "":
            return False
        if value is not None and have[name].lower() != value.lower():
            return False
    return True


def dkim_signatures(fields):
    """[(d, s, b)] of the DKIM-Signature fields, b without white space."""
    out = []
    for name, value in fields:
        if name.lower() != "dkim-signature":
            continue
        tags = {}
        for part in value.split(";"):
            k, eq, v = part.partition("=")
            if eq:
                tags[k.strip().lower()] = re.sub(r"\s+", "", v)
        out.append((tags.get("d", "").lower(), tags.get("s", "").lower(),
                    tags.get("b", "")))
    return out


def check_received_spf(fields, spec, problems):
    """Exactly one Received-SPF, with the result and pairs SPEC names."""
    values = [v for n, v in fields if n.lower() == "received-spf"]
    print("Received-SPF fields: %d" % len(values))
    for v in values:
        print("  Received-SPF: %s" % v)
    if len(values) != 1:
        problems.append("%d Received-SPF fields, expected 1" % len(values))
        return
    words = spec.split()
    v = values[0]
    result = v.split(None, 1)[0].lower() if v.strip() else ""
    if result != words[0].lower():
        problems.append("Received-SPF result %r, expected %r" % (result, words[0]))
    pairs = {}
    for m in re.finditer(r'([A-Za-z][A-Za-z0-9-]*)=("(?:[^"\\]|\\.)*"|[^;\s]+)',
                         strip_comments(v)):
        pairs.setdefault(m.group(1).lower(), m.group(2).strip('"'))
    for w in words[1:]:
        k, _, want = w.partition("=")
        if pairs.get(k.lower(), None) != want:
            problems.append("Received-SPF %s=%r, expected %r"
                            % (k, pairs.get(k.lower()), want))


def main():
    args = parse_args()
    ours_id = args.authserv_id.lower().rstrip(".")
    fields = header_fields(args.file)
    ars = [v for n, v in fields if n.lower() == "authentication-results"]
    print("Authentication-Results fields: %d" % len(ars))
    for v in ars:
        print("  Authentication-Results: %s" % v)
    if args.none:
        return 0 if not ars else 1

    problems = []
    ours = [i for i, v in enumerate(ars) if authserv_id_of(v) == ours_id]
    foreign = len(ars) - len(ours)
    if len(ours) != 1 and not (args.several and ours):
        problems.append("%d A-R fields claim %s, expected exactly 1"
                        % (len(ours), ours_id))
    elif ours[0] != 0 and not args.several:
        problems.append("ours is A-R field #%d, not the topmost" % (ours[0] + 1))
    if args.foreign is not None and foreign != args.foreign:
        problems.append("%d foreign A-R fields, expected %d" % (foreign, args.foreign))

    results = []
    for i in ours if args.several else ours[:1]:
        # python3-authres is lenient; every A-R we write must also meet
        # the RFC 8601 grammar exactly
        for p in rfc8601.check(ars[i]):
            if args.lenient:
                print("NOTE: not RFC 8601: %s" % p)
            else:
                problems.append("not RFC 8601: %s" % p)
        try:
            header = authres.all_features().parse_value(ars[i])
        except authres.AuthResError as e:
            problems.append("authres cannot parse ours: %s" % e)
            continue
        print("parsed: authserv-id=%s" % header.authserv_id)
        for r in header.results:
            print("  %s" % r)
        results.extend(header.results)
    if ours:
        for spec in args.expect:
            if not any(matches(r, parse_spec(spec)) for r in results):
                problems.append("no clause matches %r" % spec)
        for spec in args.reject:
            if any(matches(r, parse_spec(spec)) for r in results):
                problems.append("a clause matches %r" % spec)
        if args.dkim_b:
            sigs = dkim_signatures(fields)
            for r in results:
                if getattr(r, "method", None) != "dkim":
                    continue
                p = clause_props(r)
                b = p.get("header.b", "")
                ok = len(b) >= 8 and any(
                    d == p.get("header.d", "").lower()
                    and s == p.get("header.s", "").lower() and sb.startswith(b)
                    for d, s, sb in sigs)
                if not ok:
                    problems.append("header.b %r of d=%s s=%s is not a prefix "
                                    "of that signature's b=" % (
                                        b, p.get("header.d"), p.get("header.s")))
    if args.received_spf is not None:
        check_received_spf(fields, args.received_spf, problems)

    for p in problems:
        print("PROBLEM: %s" % p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
