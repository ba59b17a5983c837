#!/usr/bin/env bash
# test_bounce_postfix.sh - custom bounce domain through a real Postfix.
#
# Outbound: an authenticated submission from no-reply@example.com leaves
# (at smtp-sink) with the envelope sender rewritten into bounce.example.com,
# its ESMTP parameters kept and a DKIM signature that verifies; the address
# decodes back with authmilter-bounce. The null sender and a sender too long
# to encode are left alone. SPF for the new address passes against the test
# zone (our spfcheck and Debian's pyspf; alignment recomputed from the public
# suffix list), and a second authmilter in verify mode, fed the relayed
# message with milterload, reports spf, dkim and dmarc pass, and dmarc pass
# on aligned SPF alone once the signature is removed (python3-authres).
# Inbound: DSNs (and a non-null sender) to a genuine address, also in upper
# case or next to another recipient, are delivered to the original sender
# with an X-Authmilter-Bounce header; tampered, foreign-secret, expired and
# malformed addresses are refused at RCPT with 550 5.1.1, nothing delivered.
# sendmail(1) (non_smtpd_milters): the same rewrite and mapping back.
# Rotation: a new secret listed first signs, the old one keeps verifying
# until it is removed (SIGHUP each time).
# Needs root, a built daemon and tools (BUILD_DIR), python3-spf,
# python3-authres.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

it_init bounce_postfix
BOUNCE_TOOL=${BOUNCE_TOOL:-$BUILD_DIR/milter/authmilter-bounce}
SPFCHECK=${SPFCHECK:-$BUILD_DIR/test/tools/spfcheck}
MILTERLOAD=${MILTERLOAD:-$BUILD_DIR/test/bench/milterload}
it_require "$AUTHMILTER" "$BOUNCE_TOOL" "$SPFCHECK" "$MILTERLOAD"
it_plan 101
"$IT_PY" -c 'import spf, authres, dns.resolver' 2> /dev/null || {
    echo "Bail out! install the Debian packages python3-spf and python3-authres"
    exit 1
}

BD=bounce.example.com
ORIG=no-reply@example.com
# the day addresses are made (UTC); a run across midnight may see the next
DAYS="$(date -u +%Y-%m-%d)|$(date -u -d tomorrow +%Y-%m-%d)"

rsa=$(it_keygen example.com s2048 rsa 2048) || { echo "Bail out! keygen"; exit 1; }
# Relaxed alignment of bounce.example.com with example.com makes the DMARC
# tree walk (RFC 9989) ask _dmarc.com: serve an empty com zone, so that it
# gets NXDOMAIN as on the Internet, not a refusal (a temperror).
it_zone_add com "; empty: the parent of example.com for DMARC tree walks"
it_dns_start || { echo "Bail out! knotd"; exit 1; }
it_sink_start || { echo "Bail out! smtp-sink"; exit 1; }

# secret files: the one in use, the one that replaces it, a stranger's
(
    umask 077
    for k in old new other; do
        head -c 32 /dev/urandom > "$IT_DIR/keys/bounce-$k.key"
    done
)
KOLD=$IT_DIR/keys/bounce-old.key
KNEW=$IT_DIR/keys/bounce-new.key
KOTHER=$IT_DIR/keys/bounce-other.key

# write_conf SECRETS... - the daemon's conf with these bounce secrets
conf=$IT_DIR/milter/authmilter.conf
write_conf() {
    it_authmilter_conf "$conf.tmp"
    cat >> "$conf.tmp" <<EOF
bounce_secret   = $*
bounce_max_age  = 30d
message_summary = yes
domain example.com {
    key = s2048 $rsa
    bounce_domain = $BD
}
EOF
    mv "$conf.tmp" "$conf"
}
write_conf "$KOLD"
it_check "authmilter -n accepts the bounce conf" "$AUTHMILTER" -n -c "$conf"

it_milter_start_authmilter "$conf" || { echo "Bail out! authmilter"; exit 1; }
it_check "no history: a warning at load says VERP senders keep their Return-Path" \
    it_wait_logged 5 "warning: bounce_store: no history store .*: envelope senders too long for the stateless bounce address \(VERP\) keep their Return-Path"
it_postfix_start "$IT_MILTER_SOCKET" || { echo "Bail out! postfix"; exit 1; }
# Outside clients may send to the bounce domain (else RCPT never reaches
# the milter: "Relay access denied"); relayhost takes it to the sink.
postconf -c "$IT_POSTFIX_CONF" -e "relay_domains = dest.test.example, $BD"
it_postfix_reload || { echo "Bail out! postfix reload"; exit 1; }

# bounce - authmilter-bounce with the given options
bounce() {
    "$BOUNCE_TOOL" "$@"
}

# sink_field - the value of smtp-sink's envelope record NAME (X-Mail-Args,
# X-Rcpt-Args, ...) at the top of sink FILE
sink_field() {
    sed -n "/^\$/q; s/^$1: //p" "$2" | head -n 1
}

# sink_rcpts FILE... - the RCPT TO addresses smtp-sink saw for the FILEs,
# sorted, on one line (Postfix adds ORCPT= after each: not shown)
sink_rcpts() {
    local f
    for f in "$@"; do
        sed -n '/^$/q; s/^X-Rcpt-Args: \([^ ]*\).*/\1/p' "$f"
    done | sort | tr '\n' ' ' | sed 's/ $//'
}

# sink_files QID - every sink file of queue id QID (one per transaction:
# Postfix delivers to each transport, smtp and relay, separately)
sink_files() {
    grep -l -E "[[:space:]]id $1([^0-9A-Za-z]|\$)" "$IT_DIR"/sink/*.* 2>/dev/null
}

# shellcheck disable=SC2317  # called through it_wait_for
# qid_sent_at_least QID N - Postfix logged N deliveries of QID to the sink
qid_sent_at_least() {
    [ "$(grep -c " $1: to=<.*, relay=127.0.0.1\[127.0.0.1\]:$IT_SINK_PORT,.* status=sent " \
        "$IT_DIR/log/postfix.log")" -ge "$2" ]
}

# envelope_sender - the MAIL FROM address smtp-sink saw for FILE
envelope_sender() {
    sink_field X-Mail-Args "$1" | sed -n 's/^<\([^>]*\)>.*/\1/p'
}

# shellcheck disable=SC2317  # called from milter_hup and reloads_more_than
# milter_reloads - how many reloads the daemon has logged
milter_reloads() {
    grep -c 'configuration reloaded from' "$IT_DIR/log/milter.log"
}

# shellcheck disable=SC2317  # called through it_check
# milter_hup - SIGHUP the daemon and wait for its reload to be logged
milter_hup() {
    local before
    before=$(milter_reloads)
    kill -HUP "$(cat "$IT_DIR/tmp/milter.pid")" || return 1
    it_wait_for 10 reloads_more_than "$before"
}

# shellcheck disable=SC2317  # called through it_wait_for
# reloads_more_than - true once more than N reloads are logged
reloads_more_than() {
    [ "$(milter_reloads)" -gt "$1" ]
}

# ---------------------------------------------------------------- outbound
# smtp-sink offers DSN and 8BITMIME but not SIZE, so Postfix passes on
# RET, ENVID and BODY, and no SIZE (it checked ours against its limit).
ENVID=bounce-test-$$
it_submit "outbound: AUTH alice, MAIL FROM:<$ORIG> SIZE= BODY= RET= ENVID=" \
    --xclient-addr 192.0.2.10 --auth alice@example.com:secret --from "$ORIG" \
    --mail-param SIZE=2000 --mail-param BODY=8BITMIME --mail-param RET=HDRS \
    --mail-param "ENVID=$ENVID" --to bob@dest.test.example
OUT_QID=$IT_QID
RP=""
if it_relayed "outbound"; then
    OUT_MSG=$IT_MSG
    RP=$(envelope_sender "$OUT_MSG")
    it_check "outbound: sink envelope sender is ab1=...@$BD (got <$RP>)" \
        grep -qE "^ab1=[a-z2-7]{10}=no-reply=example\.com@$BD\$" <<< "$RP"
    args=$(sink_field X-Mail-Args "$OUT_MSG")
    for want in BODY=8BITMIME RET=HDRS "ENVID=$ENVID"; do
        it_check "outbound: sink MAIL FROM keeps $want ($args)" \
            grep -qE " $want( |\$)" <<< "$args"
    done
    it_check "outbound: DKIM d=example.com verifies (dkimpy)" \
        it_dkimverify --min 1 --expect-domains example.com "$OUT_MSG"
    it_check "outbound: log names the rewrite, with the queue id" \
        grep -qF "$OUT_QID: Return-Path <$ORIG> rewritten to <$RP>" \
        "$IT_DIR/log/milter.log"
    it_check "outbound: authmilter-bounce decode says valid (exit 0)" \
        bounce -k "$KOLD" -d "$BD" decode "$RP"
    it_check "outbound: decode prints exactly $ORIG on stdout" \
        test "$(bounce -k "$KOLD" -d "$BD" decode "$RP" 2> /dev/null)" = "$ORIG"
    it_check "outbound: decode with another secret says forged (exit 1)" \
        it_exit 1 bounce -k "$KOTHER" -d "$BD" decode "$RP"
fi

# The null sender is never rewritten; neither is one too long to encode.
it_submit "outbound: AUTH alice, MAIL FROM:<> (From: $ORIG)" \
    --xclient-addr 192.0.2.10 --auth alice@example.com:secret --from "" \
    --header-from "$ORIG" --to bob@dest.test.example
if it_relayed "outbound null sender"; then
    it_check "outbound null sender: still <> at the sink" \
        test "$(sink_field X-Mail-Args "$IT_MSG" | cut -d' ' -f1)" = "<>"
    it_check "outbound null sender: signed all the same (dkimpy)" \
        it_dkimverify --min 1 --expect-domains example.com "$IT_MSG"
fi
LONG=notifications-for-the-accounting-department-2026@example.com
it_submit "outbound: AUTH alice, a sender too long to encode" \
    --xclient-addr 192.0.2.10 --auth alice@example.com:secret --from "$LONG" \
    --to bob@dest.test.example
if it_relayed "outbound long sender"; then
    it_check "outbound long sender: envelope sender kept" \
        test "$(envelope_sender "$IT_MSG")" = "$LONG"
    it_check "outbound long sender: a warning says why, with the queue id" \
        grep -qF "warning: $IT_QID: Return-Path <$LONG> kept, not rewritten into $BD:" "$IT_DIR/log/milter.log"
fi

# ---------------------------------------------------------------- SPF
# Our resolver and SPF code, then Debian's pyspf asking the same knotd; the
# relaxed alignment the DMARC verdict rests on is recomputed from the
# public suffix list, independently of authmilter's RFC 9989 tree walk.
if [ -n "$RP" ]; then
    "$SPFCHECK" -s "127.0.0.1@$IT_DNS_PORT" -i 127.0.0.1 -f "$RP" \
        -h mx.example.com > "$IT_DIR/tmp/spf.out" 2>&1
    it_check "spf: spfcheck says pass for $RP from 127.0.0.1" \
        grep -q '^mailfrom=pass' "$IT_DIR/tmp/spf.out"
    it_check "spf: spfcheck evaluated the bounce domain's record" \
        grep -qx "mailfrom-domain: $BD" "$IT_DIR/tmp/spf.out"
    cat > "$IT_DIR/tmp/pyspf.py" <<'EOF'
# pyspf.py PORT IP SENDER HELO: pyspf's result, asking only our knotd
import sys
import dns.resolver
import spf

r = dns.resolver.Resolver(configure=False)
r.nameservers = ['127.0.0.1']
r.port = int(sys.argv[1])
dns.resolver.default_resolver = r
res, expl = spf.check2(i=sys.argv[2], s=sys.argv[3], h=sys.argv[4], querytime=20)
print(res, expl)
sys.exit(0 if res == 'pass' else 1)
EOF
    it_check "spf: pyspf agrees (pass)" \
        "$IT_PY" "$IT_DIR/tmp/pyspf.py" "$IT_DNS_PORT" 127.0.0.1 "$RP" mx.example.com
    it_check "spf: pyspf says fail from another address (the record ends in -all)" \
        grep -q '^fail ' <("$IT_PY" "$IT_DIR/tmp/pyspf.py" "$IT_DNS_PORT" 192.0.2.99 "$RP" mx.example.com)
    psl=/usr/share/publicsuffix/public_suffix_list.dat
    if [ -f "$psl" ]; then
        cat > "$IT_DIR/tmp/orgdomain.py" <<'EOF'
# orgdomain.py PSL DOMAIN...: each domain's organizational domain (the
# public suffix, longest rule first, plus one label)
import sys

rules, wild, exc = set(), set(), set()
with open(sys.argv[1], encoding='utf-8') as f:
    for line in f:
        w = line.split()
        if not w or w[0].startswith('//'):
            continue
        r = w[0].lower()
        if r.startswith('!'):
            exc.add(r[1:])
        elif r.startswith('*.'):
            wild.add(r[2:])
        else:
            rules.add(r)
for d in sys.argv[2:]:
    labels = d.lower().rstrip('.').split('.')
    n = 1                       # no rule matches: the TLD is the suffix
    for i in range(len(labels)):
        name, parent = '.'.join(labels[i:]), '.'.join(labels[i + 1:])
        if name in exc:
            n = len(labels) - i - 1
            break
        if name in rules or (i + 1 < len(labels) and parent in wild):
            n = len(labels) - i
            break
    print('.'.join(labels[max(0, len(labels) - n - 1):]))
EOF
        orgs=$("$IT_PY" "$IT_DIR/tmp/orgdomain.py" "$psl" "$BD" example.com | tr '\n' ' ')
        it_check "spf: relaxed alignment, by the public suffix list: $BD and example.com are both under $orgs" \
            test "$orgs" = "example.com example.com "
    else
        it_fail "spf: relaxed alignment by the public suffix list" "no $psl (Debian package publicsuffix)"
    fi
fi
# ---------------------------------------------------------------- DMARC
# A second authmilter verifies the relayed message as an outside MX would
# (nothing is internal), fed by milterload from 127.0.0.1 with the
# rewritten envelope sender; authres_check.py reads its A-R (python3-authres).

# verify_with_milter NAME FILE - run FILE through the verifier, which must
# accept it (milterload exits 0 also when the milter rejects, and then
# writes no message); sets VMSG to the message it returned, or to a path
# that does not exist, so that every check of it fails
verify_with_milter() {
    local name=$1 file=$2 out=$IT_DIR/tmp/verified/$1
    mkdir -p "$out"
    # shellcheck disable=SC2016  # the inner shell expands them
    it_check "dmarc: the verifier accepts the $name message (milterload writes it back)" \
        sh -c '"$@" && ls "$0"/*.eml' "$out" \
        "$MILTERLOAD" -S "unix:$IT_DIR/milter/verify.sock" -q -M "$file" \
        -f "<$RP>" -r "<bob@dest.test.example>" -i 127.0.0.1 -o "$out"
    VMSG=$(find "$out" -name '*.eml' | head -n 1)
    VMSG=${VMSG:-$out/no-message-accepted.eml}
}

if [ -n "$RP" ]; then
    vconf=$IT_DIR/milter/verify.conf
    it_authmilter_conf "$vconf"
    sed -i -e "s|^socket .*|socket          = unix:$IT_DIR/milter/verify.sock|" \
        -e "s|^pidfile .*|pidfile         = $IT_DIR/milter/verify.pid|" \
        -e "s|^internal_hosts .*|internal_hosts  = 10.255.255.254/32|" "$vconf"
    echo "received_spf_header = yes" >> "$vconf"
    rm -f "$IT_DIR/milter/verify.sock"
    it__bg verifier "$IT_DIR/log/verifier.log" "$AUTHMILTER" -f -c "$vconf"
    if it__wait_socket "unix:$IT_DIR/milter/verify.sock" "$IT_LAST_PID"; then
        # the message as relayed, without smtp-sink's envelope records
        sed '1,/^$/{/^X-[A-Za-z-]*-Args: /d; /^X-Client-[A-Za-z]*: /d}' \
            "$OUT_MSG" > "$IT_DIR/tmp/relayed.eml"
        verify_with_milter relayed "$IT_DIR/tmp/relayed.eml"
        it_check "dmarc: verifier's A-R: spf, dkim and dmarc pass for the rewritten sender" \
            "$IT_PY" "$IT_LIB_DIR/authres_check.py" "$VMSG" --foreign 0 --dkim-b \
            --expect "spf=pass smtp.mailfrom=$RP" \
            --expect "dkim=pass header.d=example.com" \
            --expect "dmarc=pass header.from=example.com" \
            --received-spf "pass envelope-from=$RP client-ip=127.0.0.1"
        # without the signature DMARC can only pass through SPF alignment
        awk 'BEGIN { h = 1 }
             h && /^$/ { h = 0 }
             h && /^[^ \t]/ { skip = tolower($0) ~ /^dkim-signature:/ }
             !(h && skip) { print }' "$IT_DIR/tmp/relayed.eml" > "$IT_DIR/tmp/nodkim.eml"
        verify_with_milter unsigned "$IT_DIR/tmp/nodkim.eml"
        it_check "dmarc: signature removed, dmarc still passes on aligned SPF" \
            "$IT_PY" "$IT_LIB_DIR/authres_check.py" "$VMSG" --foreign 0 \
            --expect "spf=pass smtp.mailfrom=$RP" \
            --expect "dkim=none" \
            --expect "dmarc=pass header.from=example.com"
        it_check "dmarc: verifier logs the relaxed SPF alignment" \
            grep -qF "dmarc=pass (pass: SPF $BD aligned (relaxed) with example.com)" \
            "$IT_DIR/log/verifier.log"
    else
        it_fail "dmarc: verify-mode authmilter starts" "see log/verifier.log"
    fi
    it__stop verifier
    if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' \
            "$IT_DIR/log/verifier.log"; then
        it_fail "dmarc: verifier log has no sanitizer report" "see log/verifier.log"
    fi
fi

# ---------------------------------------------------------------- inbound
# dsn_file FILE RCPT - write a delivery status notification to RCPT
dsn_file() {
    cat > "$1" <<EOF
From: MAILER-DAEMON@mx.test.example
To: <$2>
Subject: Undelivered Mail Returned to Sender
Date: $(date -R)
Message-ID: <dsn.$RANDOM.$$@mx.test.example>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
 boundary="dsn-boundary"

--dsn-boundary
Content-Type: text/plain; charset=us-ascii

Your message could not be delivered to bob@elsewhere.example.

--dsn-boundary
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.test.example

Final-Recipient: rfc822; bob@elsewhere.example
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 no such user

--dsn-boundary
Content-Type: text/rfc822-headers

From: $ORIG
To: bob@elsewhere.example
Subject: authmilter integration test

--dsn-boundary--
EOF
}

# expect_bounce_delivered NAME RCPT [OTHER...] - IT_QID (sent to RCPT)
# reached the sink for $ORIG and the recipients OTHER ("<addr>") only,
# with one X-Authmilter-Bounce header naming RCPT (and, unless DSN_TAIL
# is set, the failed recipient and status of dsn_file's report; DSN_TAIL=""
# for a body that is no report)
expect_bounce_delivered() {
    local name=$1 rcpt=$2 want hdr
    shift 2
    want=$(printf '%s\n' "<$ORIG>" "$@" | sort | tr '\n' ' ' | sed 's/ $//')
    it_relayed "$name" || return 1
    it_wait_for 30 qid_sent_at_least "$IT_QID" "$(wc -w <<< "$want")"
    # shellcheck disable=SC2046  # one sink file per line, no spaces
    it_check "$name: sink recipients are $want" \
        test "$(sink_rcpts $(sink_files "$IT_QID"))" = "$want"
    hdr=$(sed -n '/^$/q; s/^X-Authmilter-Bounce: //p' "$IT_MSG")
    it_check "$name: X-Authmilter-Bounce rcpt/original/issued${DSN_TAIL+ (no DSN)}${DSN_TAIL-/failed/status} ($hdr)" \
        grep -qxE "rcpt=<$rcpt>; original=<$ORIG>; issued=($DAYS)${DSN_TAIL-; failed=<bob@elsewhere\.example>; status=5\.1\.1}" <<< "$hdr"
    it_check "$name: Postfix delivered nothing to the bounce address" \
        it_nomatch grep -qiF " $IT_QID: to=<$rcpt>" "$IT_DIR/log/postfix.log"
    # (sendmail's recipients reach the milter without angle brackets)
    it_check "$name: log says delivered to the original sender, with the queue id" \
        grep -qiE "$IT_QID: bounce to <?${rcpt//./\\.}>? delivered to <${ORIG//./\\.}>" \
        "$IT_DIR/log/milter.log"
}

# expect_refused NAME RCPT WHY - a DSN to RCPT is refused with 550 5.1.1
expect_refused() {
    local name=$1 rcpt=$2 why=$3
    dsn_file "$IT_DIR/tmp/dsn-refused.eml" "$rcpt"
    it_submit_refused "$name: refused with 550 5.1.1" "550 5.1.1" \
        --xclient-addr 192.0.2.10 --from "" --to "$rcpt" --file "$IT_DIR/tmp/dsn-refused.eml"
    it_check "$name: milter logs why ($why)" \
        grep -qF "bounce to <$rcpt> refused: $why" "$IT_DIR/log/milter.log"
}

if [ -n "$RP" ]; then
    dsn_file "$IT_DIR/tmp/dsn.eml" "$RP"
    it_submit "inbound: DSN (MAIL FROM:<>) from 192.0.2.10 to $RP" \
        --xclient-addr 192.0.2.10 --from "" --to "$RP" --file "$IT_DIR/tmp/dsn.eml"
    if expect_bounce_delivered "inbound DSN" "$RP"; then
        it_check "inbound DSN: null sender kept" test "$(envelope_sender "$IT_MSG")" = ""
        it_check "inbound DSN: still a multipart/report" \
            grep -qi '^Content-Type: multipart/report' "$IT_MSG"
        # at RCPT Postfix has no queue id yet: NOQUEUE
        it_check "inbound DSN: log says genuine at RCPT" \
            grep -qE "bounce to <$RP>: genuine, returns to <$ORIG> \([01] days old\)" "$IT_DIR/log/milter.log"
        it_check "inbound DSN: verified as usual (A-R of mx.test.example)" \
            "$IT_PY" "$IT_LIB_DIR/authres_check.py" "$IT_MSG" --expect "dmarc=none"
    fi

    it_submit "inbound: non-null sender from 192.0.2.10 to $RP" \
        --xclient-addr 192.0.2.10 --from someone@test.example --to "$RP"
    DSN_TAIL="" expect_bounce_delivered "inbound non-null sender" "$RP"

    # a bounce MTA that upper-cases the address (the local part is
    # case-insensitive to the decoder)
    UP=$(tr '[:lower:]' '[:upper:]' <<< "$RP")
    dsn_file "$IT_DIR/tmp/dsn-upper.eml" "$UP"
    it_submit "inbound: DSN to the address in upper case" \
        --xclient-addr 192.0.2.10 --from "" --to "$UP" --file "$IT_DIR/tmp/dsn-upper.eml"
    expect_bounce_delivered "inbound upper case" "$UP"

    dsn_file "$IT_DIR/tmp/dsn-two.eml" "$RP"
    it_submit "inbound: DSN to $RP and bob@dest.test.example" \
        --xclient-addr 192.0.2.10 --from "" --to "$RP" --to bob@dest.test.example \
        --file "$IT_DIR/tmp/dsn-two.eml"
    expect_bounce_delivered "inbound with another recipient" "$RP" "<bob@dest.test.example>"

    # the MAC's first character changed
    mac=${RP:6:1}
    if [ "$mac" = a ]; then alt=b; else alt=a; fi
    tampered=${RP:0:6}$alt${RP:7}
    expect_refused "forged: tampered MAC" "$tampered" "forged or tampered"
    it_check "forged: message_summary's line for the refusal" \
        grep -qE "msg mode=verify client=192\.0\.2\.10 from=- spf=[a-z]+ spf_domain=[^ ]+ reason=bounce_refused action=reject ms=[0-9]+$" \
        "$IT_DIR/log/milter.log"
    foreign=$(bounce -k "$KOTHER" -d "$BD" encode "$ORIG")
    expect_refused "forged: made with another secret" "$foreign" "forged or tampered"
    past=$(($(date +%s) - 40 * 86400))
    expired=$(bounce -k "$KOLD" -d "$BD" --now "$past" encode "$ORIG")
    expect_refused "expired: made 40 days ago" "$expired" "expired"
    expect_refused "malformed: truncated address" "${RP%%=no-reply*}=no-reply@$BD" "malformed"
    it_check "refused bounces: nothing reached the sink for them" \
        it_nomatch grep -rqlE "$tampered|$foreign|$expired" "$IT_DIR/sink"
    # in a bounce domain, nothing but a genuine address gets through: not a
    # quoted spelling of one (Postfix delivers it unquoted), not an escaped
    # one, not a prefix without a version, not a random local part
    lp=${RP%@*}
    expect_refused "quoted genuine address" "\"$lp\"@$BD" \
        "not an address this bounce domain issues: quoted or escaped local part"
    expect_refused "escaped genuine address" "${lp:0:3}\\${lp:3}@$BD" \
        "not an address this bounce domain issues: quoted or escaped local part"
    expect_refused "ab= without a version" "ab=${lp#ab1=}@$BD" \
        "not an address this bounce domain issues"
    expect_refused "a random local part" "someone@$BD" \
        "not an address this bounce domain issues"

    it_submit "inbound: postmaster@$BD is not a bounce address, relayed as is" \
        --xclient-addr 192.0.2.10 --from someone@test.example --to "postmaster@$BD"
    if it_relayed "inbound postmaster"; then
        it_check "inbound postmaster: recipient unchanged" \
            test "$(sink_rcpts "$IT_MSG")" = "<postmaster@$BD>"
        it_check "inbound postmaster: no X-Authmilter-Bounce header" \
            it_nomatch grep -q '^X-Authmilter-Bounce:' "$IT_MSG"
    fi
    it_submit "inbound: abuse@$BD (bounce_pass_local) relayed as is" \
        --xclient-addr 192.0.2.10 --from someone@test.example --to "abuse@$BD"
    if it_relayed "inbound abuse"; then
        it_check "inbound abuse: recipient unchanged" \
            test "$(sink_rcpts "$IT_MSG")" = "<abuse@$BD>"
    fi
fi

# ---------------------------------------------------------------- sendmail(1)
# Local submission goes through non_smtpd_milters: the same rewrite, and a
# genuine bounce handed to sendmail is mapped back too.
if [ -n "$RP" ]; then
    printf 'From: %s\nTo: bob@dest.test.example\nSubject: local\n\nsent with sendmail\n' \
        "$ORIG" > "$IT_DIR/tmp/local.eml"
    it_submit_local "sendmail: outbound from $ORIG" "$IT_DIR/tmp/local.eml" \
        -f "$ORIG" bob@dest.test.example
    if it_relayed "sendmail outbound"; then
        it_check "sendmail outbound: envelope sender rewritten into $BD" \
            bounce -k "$KOLD" -d "$BD" decode "$(envelope_sender "$IT_MSG")"
        it_check "sendmail outbound: DKIM d=example.com verifies (dkimpy)" \
            it_dkimverify --min 1 --expect-domains example.com "$IT_MSG"
    fi
    dsn_file "$IT_DIR/tmp/dsn-local.eml" "$RP"
    it_submit_local "sendmail: DSN to $RP" "$IT_DIR/tmp/dsn-local.eml" -f "" "$RP"
    expect_bounce_delivered "sendmail DSN" "$RP"
fi

# ---------------------------------------------------------------- rotation
if [ -n "$RP" ]; then
    # 1. the new secret first: it signs, the old one still verifies
    write_conf "$KNEW" "$KOLD"
    it_check "rotation: SIGHUP with bounce_secret = new old reloads" milter_hup
    it_submit "rotation: outbound after adding the new secret" \
        --auth alice@example.com:secret --xclient-addr 192.0.2.10 --from "$ORIG"
    RP2=""
    if it_relayed "rotation outbound"; then
        RP2=$(envelope_sender "$IT_MSG")
        it_check "rotation: new Return-Path verifies with the new secret alone" \
            bounce -k "$KNEW" -d "$BD" decode "$RP2"
        it_check "rotation: new Return-Path does not verify with the old one" \
            it_exit 1 bounce -k "$KOLD" -d "$BD" decode "$RP2"
        it_check "rotation outbound: DKIM d=example.com verifies (dkimpy)" \
            it_dkimverify --min 1 --expect-domains example.com "$IT_MSG"
    fi
    dsn_file "$IT_DIR/tmp/dsn-old.eml" "$RP"
    it_submit "rotation: DSN to the old-secret address still accepted" \
        --xclient-addr 192.0.2.10 --from "" --to "$RP" --file "$IT_DIR/tmp/dsn-old.eml"
    expect_bounce_delivered "rotation old-secret DSN" "$RP"

    # 2. the old secret removed: its addresses are refused, new ones work
    write_conf "$KNEW"
    it_check "rotation: SIGHUP with bounce_secret = new reloads" milter_hup
    expect_refused "rotation: old secret removed" "$RP" "forged or tampered"
    if [ -n "$RP2" ]; then
        dsn_file "$IT_DIR/tmp/dsn-new.eml" "$RP2"
        it_submit "rotation: DSN to the new-secret address accepted" \
            --xclient-addr 192.0.2.10 --from "" --to "$RP2" --file "$IT_DIR/tmp/dsn-new.eml"
        expect_bounce_delivered "rotation new-secret DSN" "$RP2"
    fi
fi

it_milter_stop
it_done
