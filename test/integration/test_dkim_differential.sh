#!/usr/bin/env bash
# test_dkim_differential.sh - the builtin DKIM verifier against its oracles:
# a corpus of messages, signed at test time by our signer (test/tools/dkims,
# sign.c) and by Debian's dkimpy, in every canonicalization pair, with l=,
# several signatures, over-signed fields, altered bodies and fields, x= in
# the past, t= in the future, revoked, t=s, t=y, sha1-only and non-email
# keys, Ed25519, rsa-sha1, RSA-1024 and RSA-512, one key for two
# signatures, large 8-bit bodies, blank bodies, repeated fields, is verified by both
# engines of test/tools/dkimv (dkim_verifier = builtin and libopendkim)
# against the same knotd. Each message passes when both engines give the
# same line for every signature (result, reason, tags, key size) and
# dkimpy agrees with the verdict (test/integration/dkim_diff.py).
# Needs root (knotd via lib.sh), built dkimv and dkims (BUILD_DIR).
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

it_init dkim_differential
DKIMV=${DKIMV:-$BUILD_DIR/test/tools/dkimv}
DKIMS=${DKIMS:-$BUILD_DIR/test/tools/dkims}
it_require "$DKIMV" "$DKIMS"
D=diff.test
m=$IT_DIR/tmp/corpus
mkdir -p "$m"
NAMES=()

keygen() {
    it_keygen "$@" || { echo "Bail out! keygen $*"; exit 1; }
}
rsa=$(keygen $D r2048 rsa 2048)
rsa1k=$(keygen $D r1024 rsa 1024)
small=$(keygen $D r512 rsa 512)
ed=$(keygen $D ed ed25519)
revoked=$(keygen $D gone rsa 2048)
# Records that say more than v=, k=, p=: the same key under other selectors.
it_rec() {   # SELECTOR KEY TAGS - publish KEY's record with TAGS before p=
    it_zone_add $D "$1._domainkey.$D. 300 IN TXT $(it_dkim_record "$2" |
        sed "s/\"v=DKIM1; k=\\([a-z0-9]*\\); \"/\"v=DKIM1; k=\\1; $3 \"/")"
}
it_rec strict "$rsa" "t=s;"
it_rec testing "$rsa" "t=y;"
it_rec sha1only "$rsa" "h=sha1;"
it_rec web "$rsa" "s=web;"
it_rec edstrict "$ed" "t=s:y;"
it_zone_add $D "revoked._domainkey.$D. 300 IN TXT \"v=DKIM1; k=rsa; p=\""
it_zone_add $D "wrongtype._domainkey.$D. 300 IN TXT $(it_dkim_record "$ed" | sed 's/k=ed25519/k=rsa/')"
it_dns_start || { echo "Bail out! knotd"; exit 1; }

cat > "$m/plain.eml" <<EOF
From: Alice <alice@$D>
To: Bob <bob@dest.example>
Subject: differential test with a folded
 subject line
Date: Tue, 24 Nov 2026 10:00:00 +0000
Message-ID: <d1@$D>

Hello Bob,
this  line has   runs of    spaces and a trailing tab	
and a few empty lines follow.
EOF

# ours IN OUT KEY SELECTOR [DKIMS ARGS...] - sign with our signer
ours() {
    local in=$1 out=$2 key=$3 sel=$4
    shift 4
    "$DKIMS" -d $D -s "$sel" -k "$key" "$@" < "$in" > "$out.tmp" &&
        mv "$out.tmp" "$out" || echo "# dkims failed for $out"
}

# py IN OUT KEY SELECTOR [ALG] [CANON] [LENGTH] [IDENTITY] [HEADERS] - sign
# with dkimpy; HEADERS colon-separated (repeat a name to over-sign)
PY_SIGN='
import base64, subprocess, sys
import dkim
src, dst, key, sel, dom, alg, canon, length, ident, hdrs = sys.argv[1:11]
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
                include_headers=[h.encode() for h in hdrs.split(":")],
                length=(length == "l"),
                identity=ident.encode() if ident else None)
open(dst, "wb").write((sig + msg).replace(b"\r\n", b"\n"))
'
py() {
    "$IT_PY" -c "$PY_SIGN" "$1" "$2" "$3" "$4" $D "${5:-rsa-sha256}" \
        "${6:-relaxed/relaxed}" "${7:-}" "${8:-}" "${9:-from:to:subject:date}" ||
        echo "# dkimpy failed for $2"
}

# add NAME - the message $m/NAME.eml is part of the corpus
add() { NAMES+=("$1"); }
# differs NAME REGEX - the engines differ on NAME by design: builtin gives REGEX
declare -A DIFFERS
differs() { DIFFERS[$1]=$2; }

now=$(date +%s)
p=$m/plain.eml
# both signers: four canonicalization pairs, Ed25519, keys of each size
for c in relaxed/relaxed simple/simple relaxed/simple simple/relaxed; do
    n=ours-${c/\//-}
    ours "$p" "$m/$n.eml" "$rsa" r2048 -c "$c"; add "$n"
    n=py-${c/\//-}
    py "$p" "$m/$n.eml" "$rsa" r2048 rsa-sha256 "$c"; add "$n"
done
ours "$p" "$m/ours-ed.eml" "$ed" ed; add ours-ed
py "$p" "$m/py-ed.eml" "$ed" ed ed25519-sha256 relaxed/simple; add py-ed
ours "$p" "$m/ours-1024.eml" "$rsa1k" r1024; add ours-1024
py "$p" "$m/py-512.eml" "$small" r512; add py-512
py "$p" "$m/py-sha1.eml" "$rsa" r2048 rsa-sha1; add py-sha1
# over-signed fields: a Subject added after signing breaks them
ours "$p" "$m/ours-over.eml" "$rsa" r2048 -o from:subject:to; add ours-over
{ echo "Subject: added later"; cat "$m/ours-over.eml"; } > "$m/ours-over-added.eml"; add ours-over-added
py "$p" "$m/py-over.eml" "$rsa" r2048 rsa-sha256 relaxed/relaxed "" "" \
    from:from:to:subject:subject:date:reply-to; add py-over
{ echo "Subject: added later"; cat "$m/py-over.eml"; } > "$m/py-over-added.eml"; add py-over-added
# not over-signed: a field added on top is taken instead (fail)
{ echo "Subject: added on top"; cat "$m/ours-relaxed-relaxed.eml"; } > "$m/ours-added.eml"; add ours-added
# altered body and header; whitespace changes that relaxed forgives
sed 's/^Hello Bob,/Hello Eve,/' "$m/py-relaxed-relaxed.eml" > "$m/py-body-altered.eml"; add py-body-altered
sed 's/^Date: Tue/Date: Wed/' "$m/ours-relaxed-relaxed.eml" > "$m/ours-hdr-altered.eml"; add ours-hdr-altered
for c in relaxed-relaxed simple-simple relaxed-simple simple-relaxed; do
    sed 's/^this  line has/this line  has /; s/^Subject: differential test/Subject:  differential   test/' \
        "$m/ours-$c.eml" > "$m/ours-$c-wsp.eml"; add "ours-$c-wsp"
done
# l=: whole body, content appended, body cut short
for c in relaxed/relaxed simple/simple; do
    n=py-len-${c%%/*}
    py "$p" "$m/$n.eml" "$rsa" r2048 rsa-sha256 "$c" l; add "$n"
    { cat "$m/$n.eml"; printf 'Appended by a list: unsubscribe here\n'; } > "$m/$n-app.eml"; add "$n-app"
    head -n -5 "$m/$n.eml" > "$m/$n-cut.eml"; add "$n-cut"
done
# times: x= in the past, t= in the future, both fine
ours "$p" "$m/ours-expired.eml" "$rsa" r2048 -t $((now - 7200)) -x 3600; add ours-expired
ours "$p" "$m/ours-future.eml" "$rsa" r2048 -t $((now + 86400)) -x 86400; add ours-future
ours "$p" "$m/ours-timed.eml" "$rsa" r2048 -t $((now - 60)) -x 86400; add ours-timed
# key records: revoked, missing, t=s, t=y, h=sha1, s=web, k= wrong
ours "$p" "$m/ours-revoked.eml" "$revoked" revoked; add ours-revoked
ours "$p" "$m/ours-nokey.eml" "$rsa" nosuchkey; add ours-nokey
ours "$p" "$m/ours-strict-ok.eml" "$rsa" strict -i "alice@$D"; add ours-strict-ok
ours "$p" "$m/ours-strict-sub.eml" "$rsa" strict -i "alice@mail.$D"; add ours-strict-sub
py "$p" "$m/py-strict-sub.eml" "$ed" edstrict ed25519-sha256 relaxed/relaxed "" "alice@mail.$D"; add py-strict-sub
ours "$p" "$m/ours-sub-ok.eml" "$rsa" r2048 -i "alice@mail.$D"; add ours-sub-ok
ours "$p" "$m/ours-testing.eml" "$rsa" testing; add ours-testing
ours "$p" "$m/ours-sha1only.eml" "$rsa" sha1only; add ours-sha1only
ours "$p" "$m/ours-web.eml" "$rsa" web; add ours-web
# an Ed25519 key published as k=rsa: libopendkim takes the key type from
# a= and passes; RFC 6376 3.6.1 makes k= the key type (and dkimpy fails it)
ours "$p" "$m/ours-wrongtype.eml" "$ed" wrongtype; add ours-wrongtype
differs ours-wrongtype 'result=permerror reason="bad key: unable to apply public key"'
# a tag twice (RFC 6376 3.2: the tag-list is invalid): libopendkim takes
# the last one and goes on (to "did not verify": the field was changed);
# we call the signature malformed, without a key lookup
sed '1s/^DKIM-Signature: v=1;/DKIM-Signature: v=1; s=r2048;/' "$m/ours-relaxed-relaxed.eml" \
    > "$m/ours-dup-tag.eml"; add ours-dup-tag
differs ours-dup-tag 'result=neutral reason="malformed signature: duplicate tag"'

# several signatures: canonicalizations and l= mixed, then broken
py "$m/ours-ed.eml" "$m/multi.eml" "$rsa" r2048 rsa-sha256 simple/simple l
ours "$m/multi.eml" "$m/multi.tmp" "$rsa1k" r1024 -c relaxed/relaxed && mv "$m/multi.tmp" "$m/multi.eml"
py "$m/multi.eml" "$m/multi.tmp" "$rsa" r2048 rsa-sha256 relaxed/relaxed l && mv "$m/multi.tmp" "$m/multi.eml"
add multi
sed 's/^this  line has   runs/this line has runs/' "$m/multi.eml" > "$m/multi-wsp.eml"; add multi-wsp
{ cat "$m/multi.eml"; echo "PS: appended"; } > "$m/multi-app.eml"; add multi-app
# an empty body, a body without a final line end
printf 'From: Alice <alice@%s>\nTo: bob@dest.example\nSubject: empty\n\n' $D > "$m/empty.eml"
for c in simple/simple relaxed/relaxed; do
    n=ours-empty-${c%%/*}
    ours "$m/empty.eml" "$m/$n.eml" "$rsa" r2048 -c "$c" -h from:to:subject; add "$n"
    n=py-empty-${c%%/*}
    py "$m/empty.eml" "$m/$n.eml" "$rsa" r2048 rsa-sha256 "$c" "" "" from:to:subject; add "$n"
done
{ cat "$m/py-relaxed-relaxed.eml"; printf 'no final newline  '; } > "$m/py-nofinal.eml"; add py-nofinal
# one key for two signatures (looked up once), other tags and spacing
ours "$m/ours-simple-simple.eml" "$m/two-same-key.eml" "$rsa" r2048 -c relaxed/relaxed; add two-same-key
sed '1s/^DKIM-Signature: v=1;/DKIM-Signature:   v=1 ;  z=x ;/' "$m/ours-relaxed-relaxed.eml" \
    > "$m/ours-extra-tag.eml"; add ours-extra-tag    # read alike, then it fails: the field changed
# a large 8-bit body with long lines (canonical runs hashed in place), with
# l= and 3 KB appended, and bodies of blank lines and WSP only
{ head -n 7 "$p"; echo
  for i in $(seq 1 400); do
      printf 'Line %d \303\251t\303\251  \t%s  \n' "$i" "$(printf '%*s' $((i * 7 % 1500)) '' | tr ' ' 'x')"
  done; } > "$m/big.eml"
for c in relaxed/relaxed simple/simple; do
    n=py-big-${c%%/*}
    py "$m/big.eml" "$m/$n.eml" "$rsa" r2048 rsa-sha256 "$c"; add "$n"
    n=py-big-len-${c%%/*}
    py "$m/big.eml" "$m/$n.eml" "$rsa" r2048 rsa-sha256 "$c" l
    { cat "$m/$n.eml"; printf 'tail %s\n' "$(printf '%*s' 3000 '' | tr ' ' 'y')"; } > "$m/$n.tmp" &&
        mv "$m/$n.tmp" "$m/$n.eml"; add "$n"
done
{ head -n 7 "$p"; printf '\n\n \t \n\n  \n'; } > "$m/blank.eml"
for c in relaxed/relaxed simple/simple; do
    n=ours-blank-${c%%/*}
    ours "$m/blank.eml" "$m/$n.eml" "$rsa" r2048 -c "$c"; add "$n"
done
# Received three times, two signed (bottom up), one added later on top
{ printf 'Received: from a by b; Tue, 24 Nov 2026 10:00:01 +0000\nReceived: from c by d; Tue, 24 Nov 2026 10:00:02 +0000\n'
  cat "$p"; } > "$m/received.eml"
# (dkimpy refuses to sign Received: our signer does)
ours "$m/received.eml" "$m/ours-received.eml" "$rsa" r2048 -c relaxed/simple \
    -h from:to:subject:date:received:received; add ours-received
{ printf 'Received: from e by f; Tue, 24 Nov 2026 10:00:03 +0000\n'; cat "$m/ours-received.eml"; } \
    > "$m/ours-received-more.eml"; add ours-received-more

it_plan $((${#NAMES[@]} + 1))
for n in "${NAMES[@]}"; do
    line=$("$IT_PY" "$(dirname "$0")/dkim_diff.py" "$DKIMV" "$IT_DNS_PORT" "$n" "$m/$n.eml" \
        ${DIFFERS[$n]:+"${DIFFERS[$n]}"} 2>&1)
    case $line in
        same*) it_ok "${line#same }" ;;
        *) echo "$line" | sed 's/^/# /'; it_fail "$n: the verifiers disagree" ;;
    esac
done
# The corpus must reach every verdict, or it proves little.
all=$(for n in "${NAMES[@]}"; do "$DKIMV" -s "127.0.0.1@$IT_DNS_PORT" -e builtin < "$m/$n.eml"; done)
missing=""
for r in pass fail policy permerror; do
    echo "$all" | grep -q "result=$r " || missing="$missing $r"
done
for reason in "body hash mismatch" "signature did not verify" "key revoked" "no key" \
    "rsa-sha1 not accepted" "key too short" "signature expired" "length tag value exceeds" \
    "unauthorized subdomain" "l= leaves" "key in testing mode" "signature-key hash mismatch" \
    "not an e-mail key" "unable to apply public key" "timestamp in the future"; do
    echo "$all" | grep -q "reason=\"[^\"]*$reason" || missing="$missing [$reason]"
done
if [ -z "$missing" ]; then
    it_ok "the corpus reaches every verdict and reason listed"
else
    it_fail "the corpus reaches every verdict and reason listed" "missing:$missing"
fi
it_done
