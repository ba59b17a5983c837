#!/usr/bin/python3
"""hostile.py - write malformed and hostile messages for the milter tests.

Usage: hostile.py DIR. Each file is one message that a careless parser could
choke on; the tests send each through authmilter (sign and verify mode) and
require a defined answer and a live daemon afterwards.
"""
import os
import sys

BODY = b"body line\r\n" * 20


def msg(headers, body=BODY):
    return b"".join(h + b"\r\n" for h in headers) + b"\r\n" + body


CASES = {
    "empty-from": [b"From:", b"Subject: x"],
    "from-only-spaces": [b"From:    ", b"Subject: x"],
    "from-unbalanced": [b'From: "a <b@example.com', b"Subject: x"],
    "from-nested-comments": [b"From: ((((((((((a)))))))))) a@example.com", b"Subject: x"],
    "from-group-only": [b"From: group:;", b"Subject: x"],
    "from-injection": [b"From: a@example.com;dkim=pass", b"Subject: x"],
    "from-8bit": [b"From: \xff\xfe@\xe4\xf6.example", b"Subject: x"],
    "from-huge": [b"From: " + b"a" * 60000 + b"@example.com", b"Subject: x"],
    "many-headers": [b"From: a@example.com"] + [b"X-H%d: v" % i for i in range(3000)],
    "long-folded": [b"From: a@example.com", b"Subject: " + b"\r\n\t".join([b"w" * 70] * 1500)],
    "dkim-garbage": [b"DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=; b=!!!; bh=;;;;",
                     b"From: a@example.com"],
    "dkim-huge-tags": [b"DKIM-Signature: v=1; a=rsa-sha256; d=" + b"x." * 2000 + b"com; s=s; h=from; bh=AA==; b=AA==",
                       b"From: a@example.com"],
    "dkim-many": [b"DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=s%d; h=from; bh=AA==; b=AA==" % i
                  for i in range(200)] + [b"From: a@example.com"],
    "authres-garbage": [b"Authentication-Results: ((((((", b"Authentication-Results: ;;;;",
                        b"From: a@example.com"],
    "no-body-crlf": None,
}


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for name, hdrs in CASES.items():
        if hdrs is None:
            data = b"From: a@example.com\r\nSubject: x\r\n\r\nno final newline"
        else:
            data = msg(hdrs)
        with open(os.path.join(out, name + ".eml"), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
