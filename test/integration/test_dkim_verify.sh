#!/usr/bin/env bash
# test_dkim_verify.sh - DKIM verification (milter/auth/dkim_verify.c) against
# real DNS: knotd on loopback serves keys made at test time, Debian's
# dkimpy signs the messages, test/tools/dkimv (our verifier and resolver,
# fed the way the milter feeds them) gives one verdict per signature.
# Needs root (knotd via lib.sh) and a built dkimv: DKIMV=path, or BUILD_DIR
# with test/tools/dkimv in it.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

it_init dkim_verify
DKIMV=${DKIMV:-$BUILD_DIR/test/tools/dkimv}
it_require "$DKIMV"
it_plan 26
# A port where a socket swallows queries and never answers.
BLACKHOLE_PORT=${IT_BLACKHOLE_PORT:-}
it_free_port BLACKHOLE_PORT
D=dkimv.test

keygen() {
    it_keygen "$@" || { echo "Bail out! keygen $*"; exit 1; }
}
rsa=$(keygen $D r2048 rsa 2048)
rsa2=$(keygen $D other rsa 2048)
ed=$(keygen $D ed ed25519)
small=$(keygen $D r512 rsa 512)
revoked=$(keygen $D gone rsa 2048)
# A key whose published record is another key: signatures cannot verify.
wrong=$IT_DIR/keys/wrong.pem
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$wrong" 2>/dev/null \
    || { echo "Bail out! keygen wrong"; exit 1; }
it_zone_add $D "mismatch._domainkey.$D. 300 IN TXT $(it_dkim_record "$rsa2")"
it_zone_add $D "revoked._domainkey.$D. 300 IN TXT \"v=DKIM1; k=rsa; p=\""
it_dns_start || { echo "Bail out! knotd"; exit 1; }

# sign IN OUT KEY SELECTOR [ALG] [CANON] [LENGTH] [DOMAIN] [IDENTITY] -
# prepend a dkimpy signature to message file IN, write OUT (CRLF line ends);
# LENGTH "l" adds l=
SIGN_PY='
import base64, subprocess, sys
import dkim
src, dst, key, sel, alg, canon, length, dom, ident = sys.argv[1:10]
msg = open(src, "rb").read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
pem = open(key, "rb").read()
if alg == "ed25519-sha256":
    der = subprocess.run(["openssl", "pkey", "-outform", "DER"], input=pem,
                         capture_output=True, check=True).stdout
    pem = base64.b64encode(der[-32:])
hc, bc = canon.split("/")
sig = dkim.sign(msg, sel.encode(), dom.encode(), pem,
                canonicalize=(hc.encode(), bc.encode()),
                signature_algorithm=alg.encode(),
                include_headers=[b"from", b"to", b"subject", b"date"],
                length=(length == "l"),
                identity=ident.encode() if ident else None)
open(dst, "wb").write(sig + msg)
'
sign() {
    "$IT_PY" -c "$SIGN_PY" "$1" "$2" "$3" "$4" "${5:-rsa-sha256}" \
        "${6:-relaxed/relaxed}" "${7:-}" "${8:-$D}" "${9:-}"
}

# verify FILE [DKIMV ARGS...] - run dkimv on FILE; output in $OUT
RUN=0
verify() {
    local file=$1
    shift
    RUN=$((RUN + 1))
    OUT=$IT_DIR/tmp/dkimv.$RUN.out
    "$DKIMV" -s "127.0.0.1@$IT_DNS_PORT" -t 3000 "$@" < "$file" \
        > "$OUT" 2> "$IT_DIR/tmp/dkimv.$RUN.err"
}

# expect NAME FILE PATTERN... - ok when dkimv's output has a line matching
# each extended regexp (in order of the signatures: line N, pattern N)
expect() {
    local name=$1 file=$2 i=1 pat ok=1
    shift 2
    if ! verify "$file"; then
        ok=0
    fi
    for pat in "$@"; do
        if ! sed -n "${i}p" "$OUT" | grep -Eq -- "$pat"; then
            ok=0
        fi
        i=$((i + 1))
    done
    if [ "$ok" = 1 ]; then
        it_ok "$name"
    else
        sed 's/^/#   /' "$OUT" "$IT_DIR/tmp/dkimv.$RUN.err" | head -n 20
        it_fail "$name" "expected: $*"
    fi
}

msgdir=$IT_DIR/tmp
cat > "$msgdir/plain.eml" <<EOF
From: Alice <alice@$D>
To: Bob <bob@dest.test.example>
Subject: verification test with a folded
 subject line
Date: Tue, 24 Nov 2026 10:00:00 +0000
Message-ID: <t1@$D>

Hello Bob,
this  line has   runs of    spaces and a trailing tab	
and a few empty lines follow.



EOF

m=$msgdir
sign "$m/plain.eml" "$m/rsa.eml" "$rsa" r2048
expect "good RSA-2048 signature passes" "$m/rsa.eml" \
    "^d=$D s=r2048 a=rsa-sha256 b=[A-Za-z0-9+/=]{344} .*bits=2048 .*result=pass "

sign "$m/plain.eml" "$m/rsa-simple.eml" "$rsa" r2048 rsa-sha256 simple/simple
expect "good RSA signature, simple/simple, passes" "$m/rsa-simple.eml" "result=pass "

sign "$m/plain.eml" "$m/ed.eml" "$ed" ed ed25519-sha256
expect "good Ed25519 signature passes" "$m/ed.eml" \
    "^d=$D s=ed a=ed25519-sha256 .*bits=256 .*result=pass "

sed 's/^Hello Bob,/Hello Eve,/' "$m/rsa.eml" > "$m/body-altered.eml"
expect "body altered: fail (body hash mismatch)" "$m/body-altered.eml" \
    'result=fail reason="body hash mismatch"'

sed 's/^Subject: verification test/Subject: forged test/' "$m/rsa.eml" > "$m/hdr-altered.eml"
expect "header altered: fail (signature did not verify)" "$m/hdr-altered.eml" \
    'result=fail reason="signature did not verify"'

sign "$m/plain.eml" "$m/nokey.eml" "$rsa" nosuchselector
expect "missing key (NXDOMAIN): permerror (no key)" "$m/nokey.eml" \
    'result=permerror reason="no key"'

sign "$m/plain.eml" "$m/revoked.eml" "$revoked" revoked
expect "revoked key (empty p=): fail (key revoked)" "$m/revoked.eml" \
    'result=fail reason="key revoked"'

sign "$m/plain.eml" "$m/sha1.eml" "$rsa" r2048 rsa-sha1
expect "rsa-sha1: fail (RFC 8301)" "$m/sha1.eml" \
    'a=rsa-sha1 .*result=fail reason="rsa-sha1 not accepted \(RFC 8301\)"'

sign "$m/plain.eml" "$m/small.eml" "$small" r512
expect "512-bit RSA key: fail (key too short)" "$m/small.eml" \
    'bits=512 .*result=fail reason="key too short \(512 bits\)"'

for canon in relaxed/relaxed simple/simple; do
    c=${canon%%/*}
    sign "$m/plain.eml" "$m/len-$c.eml" "$rsa" r2048 rsa-sha256 "$canon" l
    expect "l= covering the whole body ($canon): pass" "$m/len-$c.eml" \
        'unsigned=0 result=pass '
    { cat "$m/len-$c.eml"; printf 'Appended by a forwarder: click here\n'; } > "$m/len-$c-app.eml"
    expect "l= with appended content ($canon): policy, not pass" "$m/len-$c-app.eml" \
        'unsigned=43 result=policy reason="l= leaves 43 bytes unsigned"'
done

# Two signatures: the top one made with a key other than the one published.
sign "$m/rsa.eml" "$m/two.eml" "$wrong" mismatch
expect "two signatures, one bad: two results in order" "$m/two.eml" \
    "s=mismatch .*result=fail " "s=r2048 .*result=pass "

cp "$m/plain.eml" "$m/many.eml"
for i in $(seq 1 12); do
    # a distinct i= makes each signature distinct
    sign "$m/many.eml" "$m/many.tmp" "$rsa" r2048 rsa-sha256 relaxed/relaxed "" $D "u$i@$D" &&
        mv "$m/many.tmp" "$m/many.eml"
done
verify "$m/many.eml"
twelve=$OUT
if [ "$(grep -c 'result=pass' "$OUT")" = 10 ] &&
   grep -q '^# 12 signatures, 10 verified' "$OUT"; then
    it_ok "12 signatures: capped at 10 results"
else
    sed 's/^/#   /' "$OUT"
    it_fail "12 signatures: capped at 10 results"
fi
verify "$m/many.eml" -m 3
if [ "$(grep -c 'result=pass' "$OUT")" = 3 ]; then
    it_ok "max signatures 3: 3 results"
else
    sed 's/^/#   /' "$OUT"
    it_fail "max signatures 3: 3 results"
fi

# header.b must tell signatures apart even when their b= start alike.
if [ "$(sed -n 's/.* b=\([^ ]*\) .*/\1/p' "$twelve" | sort -u | wc -l)" = 10 ]; then
    it_ok "header.b values are distinct"
else
    it_fail "header.b values are distinct"
fi

cat > "$m/malformed.eml" <<EOF
DKIM-Signature: v=1; a=rsa-sha256; d=$D; c=relaxed/relaxed;
 h=from:to; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=AAAA
$(cat "$m/plain.eml")
EOF
expect "malformed signature (no s=): neutral" "$m/malformed.eml" \
    'result=neutral reason="malformed signature: selector tag missing"'

expect "unsigned message: none" "$m/plain.eml" '^none$'

# DNSSEC: a second knotd signs zone sec.test; with its KSK as trust
# anchor the key record validates (dnssec=secure), with a wrong anchor the
# answer is bogus (temperror).
SEC_PORT=${IT_SEC_PORT:-}
it_free_port SEC_PORT
sec=$IT_DIR/knot-sec
mkdir -p "$sec/zones" "$sec/run" "$sec/db"
seckey=$IT_DIR/keys/sec.pem
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$seckey" 2>/dev/null
cat > "$sec/zones/sec.test.zone" <<EOF
\$ORIGIN sec.test.
\$TTL 300
@ SOA ns1.sec.test. hostmaster.sec.test. ( 1 3600 600 86400 300 )
@ NS ns1.sec.test.
ns1 A 127.0.0.1
s1._domainkey 300 IN TXT $(it_dkim_record "$seckey")
EOF
cat > "$sec/knot.conf" <<EOF
server:
    rundir: "$sec/run"
    listen: 127.0.0.1@$SEC_PORT
log:
  - target: "$IT_DIR/log/knot-sec.log"
    any: info
database:
    storage: "$sec/db"
template:
  - id: default
    storage: "$sec/zones"
    file: "%s.zone"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
    dnssec-signing: on
zone:
  - domain: sec.test
EOF
ksk() {
    kdig @127.0.0.1 -p "$SEC_PORT" +time=1 +retry=0 +short DNSKEY sec.test | grep '^257 '
}
it__bg knotsec "$IT_DIR/log/knot-sec.log" knotd -c "$sec/knot.conf"
if it_wait_for 10 ksk; then
    read -r flags proto alg k <<< "$(ksk)"
    echo "sec.test. 300 IN DNSKEY $flags $proto $alg $k" > "$sec/anchor"
    # The same key with one character changed: no DNSKEY of the zone matches.
    if [ "${k:8:1}" = A ]; then c=B; else c=A; fi
    echo "sec.test. 300 IN DNSKEY $flags $proto $alg ${k:0:8}$c${k:9}" > "$sec/wrong-anchor"
    sign "$m/plain.eml" "$m/sec.eml" "$seckey" s1 rsa-sha256 relaxed/relaxed "" sec.test
    OUT=$IT_DIR/tmp/sec.out
    "$DKIMV" -s "127.0.0.1@$SEC_PORT" -a "$sec/anchor" < "$m/sec.eml" > "$OUT" 2>&1
    if grep -q 'dnssec=secure .*result=pass ' "$OUT"; then
        it_ok "DNSSEC-signed key record: pass, dnssec=secure"
    else
        sed 's/^/#   /' "$OUT"
        it_fail "DNSSEC-signed key record: pass, dnssec=secure"
    fi
    "$DKIMV" -s "127.0.0.1@$SEC_PORT" < "$m/sec.eml" > "$OUT" 2>&1
    if grep -q 'dnssec=unknown .*result=pass ' "$OUT"; then
        it_ok "no trust anchor: pass, dnssec=unknown"
    else
        sed 's/^/#   /' "$OUT"
        it_fail "no trust anchor: pass, dnssec=unknown"
    fi
    "$DKIMV" -s "127.0.0.1@$SEC_PORT" -a "$sec/wrong-anchor" < "$m/sec.eml" > "$OUT" 2>&1
    if grep -q 'result=temperror reason="key lookup failed"' "$OUT"; then
        it_ok "DNSSEC bogus answer: temperror"
    else
        sed 's/^/#   /' "$OUT"
        it_fail "DNSSEC bogus answer: temperror"
    fi
else
    it_fail "signing knotd serves DNSKEY sec.test" "see $IT_DIR/log/knot-sec.log"
fi
it__stop knotsec

# DNS server that takes queries and never answers: temperror, in time.
it__bg blackhole "$IT_DIR/log/blackhole.log" "$IT_PY" -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
t.bind(("127.0.0.1", int(sys.argv[1])))
t.listen(16)
time.sleep(600)
' "$BLACKHOLE_PORT"
# the UDP socket is bound before the TCP one listens
it_wait_for 10 it__port_open "$BLACKHOLE_PORT" ||
    it_fail "the blackhole listens on $BLACKHOLE_PORT"
start=$(date +%s%N)
OUT=$IT_DIR/tmp/blackhole.out
"$DKIMV" -s "127.0.0.1@$BLACKHOLE_PORT" -t 2000 < "$m/rsa.eml" > "$OUT" 2>&1
ms=$((($(date +%s%N) - start) / 1000000))
if grep -q 'result=temperror reason="key lookup failed"' "$OUT" && [ "$ms" -lt 5000 ]; then
    it_ok "DNS server not answering: temperror after ${ms} ms (timeout 2000)"
else
    sed 's/^/#   /' "$OUT"
    it_fail "DNS server not answering: temperror within the timeout" "${ms} ms"
fi
# Three signatures, each needing a lookup, and a budget of one timeout.
sign "$m/rsa.eml" "$m/three.tmp" "$ed" ed ed25519-sha256
sign "$m/three.tmp" "$m/three.eml" "$rsa2" other
start=$(date +%s%N)
"$DKIMV" -s "127.0.0.1@$BLACKHOLE_PORT" -t 1500 -b 1000 < "$m/three.eml" > "$OUT" 2>&1
ms=$((($(date +%s%N) - start) / 1000000))
if [ "$(grep -c 'reason="DNS time budget exhausted"' "$OUT")" = 2 ] && [ "$ms" -lt 4000 ]; then
    it_ok "time budget: later lookups skipped (${ms} ms)"
else
    sed 's/^/#   /' "$OUT"
    it_fail "time budget: later lookups skipped" "${ms} ms"
fi
it__stop blackhole

# Memory does not grow with the body: 20 MB against 1 MB.
big_body() {
    "$IT_PY" -c '
import sys
n = int(sys.argv[1])
line = b"0123456789 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789\n"
out = sys.stdout.buffer
out.write(open(sys.argv[2], "rb").read().split(b"\n\n", 1)[0] + b"\n\n")
for _ in range(n // len(line)):
    out.write(line)
' "$1" "$m/plain.eml"
}
big_body 1000000 > "$m/1m.tmp" && sign "$m/1m.tmp" "$m/1m.eml" "$rsa" r2048
big_body 20000000 > "$m/20m.tmp" && sign "$m/20m.tmp" "$m/20m.eml" "$rsa" r2048
verify "$m/1m.eml" -r
rss1=$(sed -n 's/^maxrss_kb=//p' "$OUT")
grep -q 'result=pass' "$OUT" || rss1=""
verify "$m/20m.eml" -r
rss20=$(sed -n 's/^maxrss_kb=//p' "$OUT")
grep -q 'result=pass' "$OUT" || rss20=""
if [ -n "$rss1" ] && [ -n "$rss20" ] && [ "$rss20" -lt $((rss1 + 4096)) ]; then
    it_ok "20 MB message streams: passes, max RSS ${rss20} kB vs ${rss1} kB for 1 MB"
else
    sed 's/^/#   /' "$OUT"
    it_fail "20 MB message streams without memory growth" "RSS ${rss20:-?} kB vs ${rss1:-?} kB"
fi

# No sanitizer report from any dkimv run.
if grep -lE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' \
    "$IT_DIR"/tmp/*.err "$IT_DIR"/tmp/*.out > /dev/null 2>&1; then
    it_fail "dkimv runs have no sanitizer report"
else
    it_ok "dkimv runs have no sanitizer report"
fi

it_done
