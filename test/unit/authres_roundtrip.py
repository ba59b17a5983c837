#!/usr/bin/python3
"""authres_roundtrip.py - parse Authentication-Results values with Debian's
python3-authres (an independent RFC 8601 parser) and compare each with the
results it must contain.

Input: a file of JSON lines written by test_authres, each
  {"value": "...", "id": "...", "results": [[method, result, [[ptype, property, value], ...]], ...]}
The value is folded with "\\n\\t" as authmilter hands it to the MTA; it is
checked as the MTA writes it (CRLF line ends). Run with /usr/bin/python3:
the python3 first on PATH may not see Debian's modules.
Exit status 0 when every header parses strictly, matches, and meets the
RFC 8601 grammar exactly (test/integration/rfc8601.py).
"""
import json
import os
import sys

import authres
import authres.core

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "integration"))
import rfc8601  # noqa: E402 (the strict grammar check, shared with the suite)


class StrictHeader(authres.core.AuthenticationResultsHeader):
    """A header parser that raises on a bad property instead of dropping it."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.strict = True


def parsed(value):
    """The (id, results) that authres reads from a value."""
    wire = value.replace("\n", "\r\n")
    header = StrictHeader.parse_value(authres.all_features(), wire)
    results = []
    for r in header.results:
        props = [[p.type, p.name, str(p.value)] for p in r.properties]
        results.append([r.method, r.result, props])
    return header.authserv_id, results


def main(path):
    bad = 0
    count = 0
    with open(path, encoding="ascii") as fp:
        for lineno, line in enumerate(fp, 1):
            case = json.loads(line)
            count += 1
            try:
                got_id, got = parsed(case["value"])
            except Exception as e:  # authres raises its own SyntaxError
                print("line %d: parse error %s: %r" % (lineno, e, case["value"]))
                bad += 1
                continue
            for p in rfc8601.check(" ".join(case["value"].split("\n"))):
                print("line %d: not RFC 8601: %s: %r" % (lineno, p, case["value"]))
                bad += 1
            if got_id != case["id"].lower():
                print("line %d: authserv-id %r, wanted %r" % (lineno, got_id, case["id"]))
                bad += 1
            if got != case["results"]:
                print("line %d: value %r\n  parsed   %s\n  expected %s"
                      % (lineno, case["value"], json.dumps(got), json.dumps(case["results"])))
                bad += 1
    print("authres_roundtrip: %d headers, %d mismatches" % (count, bad))
    return 1 if bad or count == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
