#!/usr/bin/python3
"""report_mime_check.py - check DMARC aggregate report messages (.eml or
smtp-sink dumps) the way RFC 7489 7.2.1.1 describes them, with the standard
email, gzip and xml.etree modules, and write each report's XML to OUTDIR.

usage: report_mime_check.py OUTDIR RECEIVER FILE...

Per message: multipart/mixed; exactly one application/gzip part, base64,
named RECEIVER!DOMAIN!BEGIN!END.xml.gz (with BEGIN <= END); the Subject
"Report Domain: DOMAIN Submitter: RECEIVER Report-ID: <ID>" with the
report_id of the XML; the gzip a valid member whose XML parses with
<feedback> at its root and DOMAIN as policy_published/domain. Prints
"DOMAIN ROWS MESSAGES" per message; exits 1 on the first problem.
"""
import email
import email.policy
import gzip
import os
import re
import sys
import xml.etree.ElementTree as ET


def fail(msg):
    print("report_mime_check: " + msg, file=sys.stderr)
    sys.exit(1)


def check(path, outdir, receiver):
    with open(path, "rb") as f:
        msg = email.message_from_binary_file(f, policy=email.policy.default)
    if msg.get_content_type() != "multipart/mixed":
        fail(f"{path}: {msg.get_content_type()}, not multipart/mixed")
    parts = [p for p in msg.walk() if p.get_content_type() == "application/gzip"]
    if len(parts) != 1:
        fail(f"{path}: {len(parts)} application/gzip parts")
    part = parts[0]
    if part.get("Content-Transfer-Encoding", "").lower() != "base64":
        fail(f"{path}: the attachment is not base64")
    name = part.get_filename() or ""
    m = re.fullmatch(re.escape(receiver) + r"!([^!]+)!(\d+)!(\d+)\.xml\.gz", name)
    if not m or int(m.group(2)) > int(m.group(3)):
        fail(f"{path}: file name {name!r}")
    domain = m.group(1)
    xml = gzip.decompress(part.get_payload(decode=True))
    root = ET.fromstring(xml)
    if root.tag != "feedback":
        fail(f"{path}: root element {root.tag}")
    if root.findtext("policy_published/domain") != domain:
        fail(f"{path}: policy domain is not {domain}")
    rid = root.findtext("report_metadata/report_id")
    want = f"Report Domain: {domain} Submitter: {receiver} Report-ID: <{rid}>"
    if str(msg["Subject"]) != want:
        fail(f"{path}: Subject {msg['Subject']!r}, wanted {want!r}")
    rows = root.findall("record")
    count = sum(int(r.findtext("row/count")) for r in rows)
    with open(os.path.join(outdir, domain + ".xml"), "wb") as f:
        f.write(xml)
    print(f"{domain} {len(rows)} {count}")


def main():
    if len(sys.argv) < 4:
        fail("usage: report_mime_check.py OUTDIR RECEIVER FILE...")
    outdir, receiver = sys.argv[1], sys.argv[2]
    os.makedirs(outdir, exist_ok=True)
    for path in sys.argv[3:]:
        check(path, outdir, receiver)


main()
