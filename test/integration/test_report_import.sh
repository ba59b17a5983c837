#!/usr/bin/env bash
# shellcheck disable=SC2317
# (SC2317: the helpers run through it_check, which shellcheck cannot follow)
# test_report_import.sh - authmilter-report import, summary and html: the
# DMARC aggregate reports a customer receives, read into the history store
# and summed up. The sample reports of test/reports are packed here the
# way receivers send them (rua_pack.py): Google's as a .zip, Microsoft's
# (a namespace, envelope_to, a reason) as .xml.gz attached to a MIME
# message, Yahoo's as bare XML with whitespace around its values, a
# DMARCbis report (its namespace, np, testing, no pct), a second Google
# report with an unaligned source in a .zip attached to a message in a
# Maildir. Checked: what each import says and stores, duplicates (the same
# report again, and again in another wrapping), the summary's numbers to
# the message, its JSON (parsed by /usr/bin/python3), --since, the
# thresholds, the verdict turning when the unaligned source comes in,
# reverse names from knotd (--resolve), hostile files (malformed XML, an
# entity expansion with an external entity, zip and gzip bombs, one lying
# about its size, not a report at all) refused with a clear error and
# nothing stored, and the HTML page rendered by Debian's headless
# Chromium: its DOM holds the numbers, its screenshot is a PNG with the
# green and red of the per-day bars.
# No daemon, no Postfix. About 10 s (Chromium most of it).
#
# Output is TAP. Environment: see lib.sh. Nothing leaves 127.0.0.1.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

it_init report_import
REPORT=${AUTHMILTER_REPORT:-$BUILD_DIR/milter/authmilter-report}
CHROMIUM=${CHROMIUM:-chromium}
it_require "$REPORT" sqlite3 "$CHROMIUM"
it_plan 35
S=$IT_SRC_DIR/test/reports
PACK="$IT_PY $IT_SRC_DIR/test/integration/rua_pack.py"
W=$IT_DIR/tmp
D=customer.example
DB=$IT_DIR/milter/history.db
conf=$IT_DIR/milter/report.conf
it_authmilter_conf "$conf"
echo "history = sqlite:$DB" >> "$conf"

# reverse names for --resolve, from knotd
it_zone_add 2.0.192.in-addr.arpa "10 PTR mta1.platform.test."
it_zone_add 2.0.192.in-addr.arpa "11 PTR mta2.platform.test."
it_dns_start || { echo "Bail out! knotd"; exit 1; }

# the reports as they arrive
$PACK zip "$S/google.xml" "$W/google.zip" \
    "google.com!$D!1793491200!1793577599.xml"
$PACK gz "$S/microsoft.xml" "$W/ms.xml.gz"
$PACK mime "$W/ms.xml.gz" "$W/ms.eml" application/gzip \
    "enterprise.protection.outlook.com!$D!1793577600!1793663999.xml.gz" \
    "Report Domain: $D Submitter: enterprise.protection.outlook.com"
$PACK mime "$S/yahoo.xml" "$W/yahoo.eml" application/xml \
    "yahoo.com!$D!1793664000!1793750399.xml" "Report Domain: $D"
$PACK zip "$S/unaligned.xml" "$W/unaligned.zip" \
    "google.com!$D!1793836800!1793923199.xml"
mkdir -p "$W/Maildir/new" "$W/Maildir/cur" "$W/Maildir/tmp"
$PACK mime "$W/unaligned.zip" "$W/Maildir/new/1794000000.M1P1.mx" \
    application/zip "google.com!$D!1793836800!1793923199.zip" \
    "Report domain: $D Submitter: google.com"
cp "$W/google.zip" "$W/Maildir/cur/1793600000.M2P2.mx:2,S"
printf 'From: a@b.example\nSubject: hello\n\nno report here\n' \
    > "$W/Maildir/cur/1793600001.M3P3.mx:2,S"
# being delivered: never read
cp "$S/malformed.xml" "$W/Maildir/tmp/1794000001.M4P4.mx"
$PACK zipbomb "$W/bomb.zip" 8
$PACK zipbomb "$W/bomb-lie.zip" 8 lie
$PACK gzbomb "$W/bomb.gz" 8
printf 'just some text\nwith no header\n' > "$W/text.txt"

# run OUT ARGS... - authmilter-report -c conf ARGS, output (both streams) to OUT
run() {
    local out=$1
    shift
    "$REPORT" -c "$conf" "$@" > "$out" 2>&1
}

# imported FILE WHAT - import FILE alone: exit 0 and WHAT in its line
imported() {
    run "$W/imp.out" import "$1" || { cat "$W/imp.out"; return 1; }
    grep -F -- "$2" "$W/imp.out" || { cat "$W/imp.out"; return 1; }
}
it_check "Google's .zip imported (2 records, 900 messages)" \
    imported "$W/google.zip" "imported report 4817326250931874123 from google.com for $D (rfc7489): 2 records, 900 messages"
it_check "Microsoft's .xml.gz in a MIME message imported, namespace and all (85 messages)" \
    imported "$W/ms.eml" "imported report 9d2bd8a0c3f24a6e8f0e1d2c3b4a5968 from Enterprise Outlook for $D (rfc7489): 2 records, 85 messages"
it_check "Yahoo's bare XML imported: values trimmed, the domain lower-cased" \
    imported "$S/yahoo.xml" "imported report 1793664000.812331 from Yahoo for $D (rfc7489): 1 record, 15 messages"
it_check "a DMARCbis report imported as such" \
    imported "$S/dmarcbis.xml" "from mail.receiver.example for $D (dmarcbis): 2 records, 5 messages"
it_check "the same report again: a duplicate, nothing stored" \
    imported "$W/google.zip" "imported 0, duplicates 1, errors 0"
it_check "the same report in another wrapping (MIME, from standard input): a duplicate" \
    sh -c "'$REPORT' -c '$conf' import < '$W/yahoo.eml' | grep -F 'duplicate: report 1793664000.812331 from Yahoo'"

# q SQL - one value from the store
q() { sqlite3 "$DB" "$1"; }
stored() {
    [ "$(q 'SELECT COUNT(*) FROM rua_reports')" = 4 ] &&
    [ "$(q 'SELECT COUNT(*), SUM(count) FROM rua_rows')" = "7|1005" ] &&
    [ "$(q "SELECT source_ip, disposition, dkim, spf, reasons, envelope_to, envelope_from, header_from, auth_spf FROM rua_rows WHERE count = 5")" = \
      "198.51.100.7|none|fail|fail|forwarded|hotmail.com|lists.other.example|customer.example|lists.other.example mfrom pass" ] &&
    [ "$(q "SELECT auth_dkim FROM rua_rows WHERE count = 600")" = \
      "customer.example s1 pass; platform.example p2026 pass" ] &&
    [ "$(q "SELECT date_begin, date_end, p, sp, np, pct, testing, format FROM rua_reports WHERE org_name = 'mail.receiver.example'")" = \
      "1794614400|1794700799|none|none|none||n|dmarcbis" ] &&
    [ "$(q 'SELECT MAX(version) FROM schema_version')" = 4 ]
}
it_check "the store holds 4 reports, 7 rows, 1005 messages, each field as reported (schema 4: the received reports are migration 3)" stored

# hostile and broken files: a clear error each, exit 1, nothing stored
refused() {
    local file=$1 want=$2
    shift 2
    it_exit 1 run "$W/bad.out" import "$@" "$file" || { cat "$W/bad.out"; return 1; }
    grep -F -- "$want" "$W/bad.out" || { cat "$W/bad.out"; return 1; }
    grep -F "imported 0, duplicates 0, errors 1" "$W/bad.out" &&
    [ "$(q 'SELECT COUNT(*) FROM rua_reports')" = 4 ]
}
it_check "malformed XML refused with its line" \
    refused "$S/malformed.xml" "malformed.xml: XML: line 26: unclosed token"
it_check "an entity expansion (and an external entity) refused: no DOCTYPE" \
    refused "$S/entities.xml" "XML: a DOCTYPE is not allowed in a report"
it_check "a zip bomb refused by its declared size" \
    refused "$W/bomb.zip" "bomb.zip: zip: the report says it unpacks to 8388618 bytes, over the limit of 1048576" --max-size 1m
it_check "a zip bomb lying about its size stops inflating at the limit" \
    refused "$W/bomb-lie.zip" "bomb-lie.zip: decompressed report over the limit of 1048576 bytes" --max-size 1m
it_check "a gzip bomb stops at the limit" \
    refused "$W/bomb.gz" "bomb.gz: decompressed report over the limit of 1048576 bytes" --max-size 1m
it_check "a gzip bomb stops at the default limit too (64 MiB: the 8 MiB one is read, then refused as XML)" \
    refused "$W/bomb.gz" "bomb.gz: XML:"
it_check "a file that is no report at all" \
    refused "$W/text.txt" "text.txt: neither a report (XML, gzip, zip) nor a mail message"

# summary S ARGS... - the text summary into $W/sum.out
summary() { run "$W/sum.out" summary --domain "$D" "$@"; }
has() { grep -F -- "$1" "$W/sum.out" || { cat "$W/sum.out"; return 1; }; }
totals() {
    summary && has "domain $D: 4 reports from google.com, Enterprise Outlook, Yahoo, mail.receiver.example, 2026-11-01 to 2026-11-14" &&
    has "messages 1005: DMARC pass 1000 (99.5%), DKIM aligned pass 1000 (99.5%), SPF aligned pass 699 (69.5%)"
}
it_check "summary: 1005 messages, DMARC 99.5%, DKIM aligned 99.5%, SPF aligned 69.5%" totals
it_check "summary: safe to move p=none → quarantine (defaults 98%, 14 days, 100 messages)" \
    has "verdict: safe to move p=none → quarantine: 99.5% of 1005 messages pass DMARC over 14 days; unaligned: 1 source, 0.4%"
# the source lines after the table's header, in order
sources() { sed -n '/^source /,$p' "$W/sum.out" | awk 'NR > 1 && $1 ~ /[.:]/ { print $1, $2, $6 }' | tr '\n' ' '; }
order1() {
    [ "$(sources)" = "198.51.100.7 5 NO 192.0.2.10 699 yes 192.0.2.11 300 yes 2001:db8::25 1 yes " ] ||
        { echo "got: $(sources)"; return 1; }
}
it_check "summary: the unaligned source first, then by volume" order1
reporters() { has "192.0.2.10                                    699 100.0% 100.0% 100.0%  yes       google.com, Enterprise Outlook, Yahoo, mail.receiver.example"; }
it_check "summary: which reporters saw each source" reporters

json_check() {
    run "$W/sum.json" summary --domain "$D" --json || { cat "$W/sum.json"; return 1; }
    "$IT_PY" - "$W/sum.json" "$@" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
want = json.loads(sys.argv[2])
def get(path):
    v = j
    for k in path.split("."):
        v = v[int(k)] if isinstance(v, list) else v[k]
    return v
bad = [(k, get(k), v) for k, v in want.items() if get(k) != v]
if bad:
    sys.exit("JSON mismatch: %r" % bad)
PY
}
it_check "--json parses: totals, rates, verdict, per day, sources" json_check '{
 "domain": "customer.example", "reports": 4, "messages": 1005,
 "dmarc_pass": 1000, "dkim_aligned_pass": 1000, "spf_aligned_pass": 699,
 "dmarc_pass_rate": 99.5, "spf_aligned_rate": 69.5, "days": 14,
 "first": "2026-11-01", "last": "2026-11-14", "policy.p": "none",
 "unaligned.sources": 1, "unaligned.messages": 5, "unaligned.rate": 0.4,
 "verdict.safe": true, "verdict.from": "none", "verdict.to": "quarantine",
 "verdict.thresholds.min_pass": 98.0, "verdict.thresholds.min_days": 14,
 "per_day.0.day": "2026-11-01", "per_day.0.messages": 900,
 "per_day.1.messages": 85, "per_day.1.dmarc_pass": 80,
 "per_day.3.day": "2026-11-14",
 "sources.0.ip": "198.51.100.7", "sources.0.aligned": false,
 "sources.0.reporters": ["Enterprise Outlook"],
 "sources.1.ip": "192.0.2.10", "sources.1.messages": 699,
 "sources.1.reporters": ["google.com", "Enterprise Outlook", "Yahoo", "mail.receiver.example"],
 "sources.3.ip": "2001:db8::25", "sources.3.header_from": ["customer.example"]}'
since() {
    summary --since 2026-11-03 && has "domain $D: 2 reports from Yahoo, mail.receiver.example" &&
    has "messages 20: DMARC pass 20 (100.0%)" &&
    has "not yet safe to move p=none → quarantine: 100.0% of 20 messages pass DMARC over 12 days; unaligned: 0 sources, 0.0% (needs reports over 14 days)"
}
it_check "--since 2026-11-03: the last two reports only, too few days to judge" since
it_check "--min-days 15: the same reports are not yet enough" \
    sh -c "'$REPORT' -c '$conf' summary --domain '$D' --min-days 15 | grep -F 'not yet safe to move p=none → quarantine: 99.5% of 1005 messages pass DMARC over 14 days; unaligned: 1 source, 0.4% (needs reports over 15 days)'"
it_check "--min-pass 99.9: 99.5% is not enough" \
    sh -c "'$REPORT' -c '$conf' summary --domain '$D' --min-pass 99.9 | grep -F '(needs 99.9% passing): align or authorise the unaligned sources first'"
it_check "another domain: no reports, nothing to judge by" \
    sh -c "'$REPORT' -c '$conf' summary --domain other.example | grep -F 'verdict: no aggregate reports for other.example: nothing to judge by'"
alldomains() {
    run "$W/all.json" summary --json &&
    "$IT_PY" -c 'import json, sys
j = json.load(open(sys.argv[1]))
assert isinstance(j, list) and [d["domain"] for d in j] == ["customer.example"], j
assert j[0]["messages"] == 1005, j[0]["messages"]' "$W/all.json"
}
it_check "summary without --domain: every domain (JSON: an array)" alldomains
noresolve() { summary && it_nomatch grep -q "platform.test" "$W/sum.out"; }
it_check "without --resolve no reverse name (no DNS asked)" noresolve
resolve() {
    summary --resolve && has "mta1.platform.test." && has "mta2.platform.test."
}
it_check "--resolve: reverse names from the DNS of the conf (knotd)" resolve

# a Maildir: new/ imported, cur/'s copy a duplicate, a message without a
# report an error, tmp/ never read
maildir() {
    it_exit 1 run "$W/md.out" import "$W/Maildir" || { cat "$W/md.out"; return 1; }
    grep -F "imported 1, duplicates 1, errors 1" "$W/md.out" &&
    grep -F "1793600001.M3P3.mx:2,S: MIME: no report attached" "$W/md.out" &&
    it_nomatch grep -F "M4P4" "$W/md.out"
}
it_check "a Maildir: the new report in, the known one a duplicate, a plain message an error, tmp/ skipped" maildir
it_check "the unaligned source turns the verdict: not yet safe" \
    sh -c "'$REPORT' -c '$conf' summary --domain '$D' | grep -F 'verdict: not yet safe to move p=none → quarantine: 95.6% of 1045 messages pass DMARC over 14 days; unaligned: 2 sources, 4.3% (needs 98.0% passing)'"
it_check "the new unaligned source (most failing messages) is listed first" \
    sh -c "'$REPORT' -c '$conf' summary --domain '$D' | sed -n '/^source /{n;p}' | grep -E '^203\\.0\\.113\\.50 +40 +0\\.0%'"
it_check "--json: safe false, 2 unaligned sources, 45 messages" json_check '{
 "messages": 1045, "dmarc_pass_rate": 95.6, "verdict.safe": false,
 "unaligned.sources": 2, "unaligned.messages": 45, "unaligned.rate": 4.3,
 "sources.0.ip": "203.0.113.50", "sources.0.messages": 40}'

# the HTML page
HTML=$IT_DIR/tmp/report.html
html() {
    run "$W/html.out" html --domain "$D" -o "$HTML" --resolve || { cat "$W/html.out"; return 1; }
    grep -F "wrote $HTML: not yet safe" "$W/html.out"
}
it_check "html: the page written" html
selfcontained() {
    grep -q "<svg" "$HTML" && grep -q "&rarr;" "$HTML" &&
    it_nomatch grep -Eiq "<script|<link|<img|src=|url\\(|https?:" "$HTML"
}
it_check "html: self-contained (inline SVG, no script, no external asset)" selfcontained
it_check "html: a report's text is escaped" \
    sh -c "! grep -q '<b>Enterprise' '$HTML' && grep -q 'Enterprise Outlook' '$HTML'"

export HOME=$IT_DIR/tmp    # Chromium's profile and caches, not root's
chrome() {
    timeout 90 "$CHROMIUM" --headless --no-sandbox --disable-gpu \
        --no-first-run --disable-extensions --user-data-dir="$IT_DIR/tmp/chromium" "$@"
}
dom() {
    chrome --dump-dom "file://$HTML" > "$W/dom.html" 2> "$W/chrome.log" ||
        { tail "$W/chrome.log"; return 1; }
    for want in "DMARC aggregate reports for customer.example" "1045" \
        "1000 (95.6%)" "699 (66.8%)" "203.0.113.50" "198.51.100.7" \
        "2001:db8::25" "mta1.platform.test." "2026-11-14" \
        "not yet safe to move p=none → quarantine: 95.6% of 1045 messages"; do
        grep -qF -- "$want" "$W/dom.html" || { echo "DOM lacks: $want"; return 1; }
    done
}
it_check "Chromium's DOM of the page holds the numbers, sources and verdict" dom
shot() {
    chrome --screenshot="$W/page.png" --window-size=1200,1400 "file://$HTML" \
        > "$W/chrome2.log" 2>&1 || { tail "$W/chrome2.log"; return 1; }
    "$IT_PY" - "$W/page.png" <<'PY'
# decode the PNG (8-bit RGB or RGBA, non-interlaced) with zlib alone
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
pos, idat, w = 8, b"", 0
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b"IHDR":
        w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
        assert depth == 8 and ctype in (2, 6) and interlace == 0, (depth, ctype)
        bpp = 3 if ctype == 2 else 4
    elif kind == b"IDAT":
        idat += body
    pos += 12 + n
raw, stride = zlib.decompress(idat), w * bpp
prev, colours, i = bytearray(stride), set(), 0
for y in range(h):
    f, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
    i += 1 + stride
    for x in range(stride):
        a = line[x - bpp] if x >= bpp else 0
        b, c = prev[x], prev[x - bpp] if x >= bpp else 0
        if f == 1: line[x] = (line[x] + a) & 255
        elif f == 2: line[x] = (line[x] + b) & 255
        elif f == 3: line[x] = (line[x] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    colours.update(bytes(line[x:x + 3]) for x in range(0, stride, bpp * 4))
    prev = line
green, red = bytes((0x33, 0xaa, 0x33)), bytes((0xcc, 0x33, 0x33))
print("%dx%d, %d colours sampled" % (w, h, len(colours)))
assert len(colours) > 20, "a blank page"
assert green in colours and red in colours, "no green and red bars"
PY
}
it_check "Chromium's screenshot is a PNG, not blank, with the green and red bars" shot

it_done
