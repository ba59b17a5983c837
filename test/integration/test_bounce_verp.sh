#!/usr/bin/env bash
# test_bounce_verp.sh - stored bounce addresses (VERP senders) through a
# real Postfix.
#
# A VERP sender too long for the stateless bounce address leaves (at
# smtp-sink) with the stored form ab2=...@bounce.example.com, the mapping
# committed in the SQLite history (read back with Python's sqlite3), and a
# DKIM signature that verifies; authmilter-bounce -c decodes it back. A DSN
# to it is delivered to the VERP sender (the sink's recipient) with the
# failed recipient in X-Authmilter-Bounce. Refused at RCPT TO with 550
# 5.1.1, like forged and expired stateless addresses: a tampered MAC, an
# unknown token with a valid MAC, a token whose mapping is older than
# bounce_max_age, a stored address made 40 days ago. (The stored-form
# addresses for these are made in Python from the format in bounce.h, not
# by our code.) A store locked longer than bounce_store_timeout: the
# message leaves with its own Return-Path, a warning and a counter say why.
# A short sender still gets the stateless form.
# Needs root, a built daemon and tools (BUILD_DIR).
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

it_init bounce_verp
BOUNCE_TOOL=${BOUNCE_TOOL:-$BUILD_DIR/milter/authmilter-bounce}
it_require "$AUTHMILTER" "$BOUNCE_TOOL"
it_plan 35

BD=bounce.example.com
VERP=bounces+newsletter-2026-12345-rcpt=john.doe=gmail.com@example.com
SHORT=no-reply@example.com
DB=$IT_DIR/milter/history.db

rsa=$(it_keygen example.com s2048 rsa 2048) || { echo "Bail out! keygen"; exit 1; }
it_zone_add com "; empty: the parent of example.com for DMARC tree walks"
it_dns_start || { echo "Bail out! knotd"; exit 1; }
it_sink_start || { echo "Bail out! smtp-sink"; exit 1; }
( umask 077; head -c 32 /dev/urandom > "$IT_DIR/keys/bounce.key" )
KEY=$IT_DIR/keys/bounce.key

conf=$IT_DIR/milter/authmilter.conf
it_authmilter_conf "$conf"
cat >> "$conf" <<EOF
history         = sqlite:$DB
bounce_secret   = $KEY
bounce_max_age  = 30d
bounce_store_timeout = 1s
message_summary = yes
domain example.com {
    key = s2048 $rsa
    bounce_domain = $BD
}
EOF
it_check "authmilter -n accepts the conf" "$AUTHMILTER" -n -c "$conf"
it_milter_start_authmilter "$conf" || { echo "Bail out! authmilter"; exit 1; }
it_postfix_start "$IT_MILTER_SOCKET" || { echo "Bail out! postfix"; exit 1; }
postconf -c "$IT_POSTFIX_CONF" -e "relay_domains = dest.test.example, $BD"
it_postfix_reload || { echo "Bail out! postfix reload"; exit 1; }

# sink_field NAME FILE - smtp-sink's envelope record NAME of FILE
sink_field() {
    sed -n "/^\$/q; s/^$1: //p" "$2" | head -n 1
}
# envelope_sender FILE - the MAIL FROM address smtp-sink saw
envelope_sender() {
    sink_field X-Mail-Args "$1" | sed -n 's/^<\([^>]*\)>.*/\1/p'
}
# envelope_rcpt FILE - the RCPT TO address smtp-sink saw
envelope_rcpt() {
    sink_field X-Rcpt-Args "$1" | sed -n 's/^<\([^>]*\)>.*/\1/p'
}

# stored.py - the oracle: stored-form addresses from the format in bounce.h,
# and the bounce_tokens table read and written with Python's sqlite3
cat > "$IT_DIR/tmp/stored.py" <<'EOF'
# stored.py make KEYFILE DOMAIN TOKEN DAY | get DB TOKEN | put DB TOKEN DOMAIN ORIGINAL CREATED
import base64, hashlib, hmac, sqlite3, struct, sys

def make(keyfile, dom, tok, day):
    key = open(keyfile, 'rb').read()
    m = b'authmilter bounce v2' + struct.pack('>q', day)
    for f in (dom.encode(), tok.encode()):
        m += struct.pack('>H', len(f)) + f
    mac = hmac.new(key, m, hashlib.sha256).digest()[:5]
    b32 = 'abcdefghijklmnopqrstuvwxyz234567'
    r = day % 1024
    return ('ab2=' + b32[r >> 5] + b32[r & 31]
            + base64.b32encode(mac).decode().lower() + tok + '@' + dom)

cmd = sys.argv[1]
if cmd == 'make':
    print(make(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])))
elif cmd == 'get':
    db = sqlite3.connect(sys.argv[2], timeout=10)
    for row in db.execute('SELECT bounce_domain, original, created FROM '
                          'bounce_tokens WHERE token = ?', (sys.argv[3],)):
        print(*row)
elif cmd == 'put':
    db = sqlite3.connect(sys.argv[2], timeout=10)
    db.execute('INSERT INTO bounce_tokens VALUES (?, ?, ?, ?)',
               (sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6])))
    db.commit()
elif cmd == 'lock':
    # hold the write lock until stdin closes (a store slower than the timeout)
    db = sqlite3.connect(sys.argv[2], timeout=10, isolation_level=None)
    db.execute('BEGIN IMMEDIATE')
    print('locked', flush=True)
    sys.stdin.read()
    db.execute('ROLLBACK')
EOF
stored() {
    "$IT_PY" "$IT_DIR/tmp/stored.py" "$@"
}
TODAY=$(($(date +%s) / 86400))

# ---------------------------------------------------------------- outbound
it_submit "outbound: AUTH alice, VERP sender $VERP" \
    --xclient-addr 192.0.2.10 --auth alice@example.com:secret --from "$VERP" \
    --to bob@dest.test.example
RP="" TOKEN=""
if it_relayed "outbound VERP"; then
    RP=$(envelope_sender "$IT_MSG")
    it_check "outbound VERP: envelope sender is the stored form ab2=...@$BD, 30 octets (got <$RP>)" \
        grep -qE "^ab2=[a-z2-7]{26}@$BD\$" <<< "$RP"
    TOKEN=${RP:14:16}
    it_check "outbound VERP: the log names the stored rewrite and its token" \
        grep -qF "$IT_QID: Return-Path <$VERP> rewritten to <$RP> (stored form, token $TOKEN)" \
        "$IT_DIR/log/milter.log"
    it_check "outbound VERP: the mapping is in the history's bounce_tokens (Python sqlite3)" \
        test "$(stored get "$DB" "$TOKEN" | cut -d' ' -f1,2)" = "$BD $VERP"
    it_check "outbound VERP: DKIM d=example.com verifies (dkimpy)" \
        it_dkimverify --min 1 --expect-domains example.com "$IT_MSG"
    it_check "outbound VERP: authmilter-bounce -c CONF decodes it to the VERP sender" \
        test "$("$BOUNCE_TOOL" -c "$conf" decode "$RP" 2> "$IT_DIR/tmp/dec.err")" = "$VERP"
    it_check "outbound VERP: ... and says stored form, token $TOKEN" \
        grep -qF "stored form, token $TOKEN" "$IT_DIR/tmp/dec.err"
    it_check "outbound VERP: authmilter-bounce -k without a store cannot resolve it (exit 1)" \
        it_exit 1 "$BOUNCE_TOOL" -k "$KEY" decode "$RP"
fi

it_submit "outbound: a short sender still gets the stateless form" \
    --xclient-addr 192.0.2.10 --auth alice@example.com:secret --from "$SHORT" \
    --to bob@dest.test.example
if it_relayed "outbound short"; then
    it_check "outbound short: ab1=...=no-reply=example.com@$BD" \
        grep -qE "^ab1=[a-z2-7]{10}=no-reply=example\.com@$BD\$" <<< "$(envelope_sender "$IT_MSG")"
fi

# ---------------------------------------------------------------- inbound
# dsn_file FILE RCPT - a delivery status notification to RCPT
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

Your message could not be delivered to rcpt@gmail.com.

--dsn-boundary
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.test.example

Final-Recipient: rfc822; rcpt@gmail.com
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 no such user

--dsn-boundary--
EOF
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
    it_submit "inbound: DSN (MAIL FROM:<>) to $RP" \
        --xclient-addr 192.0.2.10 --from "" --to "$RP" --file "$IT_DIR/tmp/dsn.eml"
    if it_relayed "inbound DSN"; then
        it_check "inbound DSN: delivered to the VERP sender (sink RCPT TO <$(envelope_rcpt "$IT_MSG")>)" \
            test "$(envelope_rcpt "$IT_MSG")" = "$VERP"
        hdr=$(sed -n '/^$/q; s/^X-Authmilter-Bounce: //p' "$IT_MSG")
        it_check "inbound DSN: X-Authmilter-Bounce names the original and the failed recipient ($hdr)" \
            grep -qE "^rcpt=<$RP>; original=<${VERP//+/\\+}>; issued=[0-9-]+; failed=<rcpt@gmail\.com>; status=5\.1\.1\$" <<< "$hdr"
        it_check "inbound DSN: log says genuine at RCPT TO" \
            grep -qF "bounce to <$RP>: genuine, returns to <$VERP>" "$IT_DIR/log/milter.log"
        it_check "inbound DSN: Postfix delivered nothing to the bounce address" \
            it_nomatch grep -qiF " $IT_QID: to=<$RP>" "$IT_DIR/log/postfix.log"
    fi
    it_submit "inbound: DSN to the address in upper case" \
        --xclient-addr 192.0.2.10 --from "" --to "$(tr '[:lower:]' '[:upper:]' <<< "$RP")" \
        --file "$IT_DIR/tmp/dsn.eml"
    if it_relayed "inbound upper case"; then
        it_check "inbound upper case: delivered to the VERP sender" \
            test "$(envelope_rcpt "$IT_MSG")" = "$VERP"
    fi

    # the MAC's first character changed
    c=${RP:6:1}
    if [ "$c" = a ]; then alt=b; else alt=a; fi
    expect_refused "forged: tampered MAC" "${RP:0:6}$alt${RP:7}" "forged or tampered"
    it_check "forged: message_summary says bounce_refused, action=reject" \
        grep -qE "msg mode=verify client=192\.0\.2\.10 from=- .*reason=bounce_refused action=reject" \
        "$IT_DIR/log/milter.log"
    unknown=$(stored make "$KEY" "$BD" aaaaaaaaaaaaaaaa "$TODAY")
    expect_refused "unknown token (valid MAC)" "$unknown" \
        "forged or tampered (MAC does not verify with any secret): unknown token"
    stored put "$DB" bbbbbbbbbbbbbbbb "$BD" "$VERP" $(($(date +%s) - 40 * 86400))
    old=$(stored make "$KEY" "$BD" bbbbbbbbbbbbbbbb "$TODAY")
    expect_refused "expired: mapping stored 40 days ago" "$old" \
        "expired (or dated in the future): token older than bounce_max_age"
    stale=$(stored make "$KEY" "$BD" "$TOKEN" $((TODAY - 40)))
    expect_refused "expired: the address made 40 days ago" "$stale" "expired"
    it_check "refused bounces: nothing reached the sink for them" \
        it_nomatch grep -rqlE "aaaaaaaaaaaaaaaa|bbbbbbbbbbbbbbbb|$stale" "$IT_DIR/sink"
fi

# ---------------------------------------------------------------- store down
# A writer holds the database's lock past bounce_store_timeout (1 s): the
# message must leave at once with its own Return-Path.
VERP2=bounces+newsletter-2026-777-rcpt=someone.else=example.net@example.com
coproc LOCK { "$IT_PY" "$IT_DIR/tmp/stored.py" lock "$DB"; }
read -r -t 10 locked <&"${LOCK[0]}" || locked=""
it_check "store down: a Python writer holds the lock" test "$locked" = locked
it_submit "store down: VERP sender while the store is locked" \
    --xclient-addr 192.0.2.10 --auth alice@example.com:secret --from "$VERP2" \
    --to bob@dest.test.example
exec {LOCK[1]}>&-
wait "$LOCK_PID" 2> /dev/null
if it_relayed "store down"; then
    it_check "store down: Return-Path kept" test "$(envelope_sender "$IT_MSG")" = "$VERP2"
    it_check "store down: a warning says the bounce store failed, with the queue id" \
        grep -qE "warning: $IT_QID: Return-Path <${VERP2//+/\\+}> kept, not rewritten into $BD: too long for the stateless form and the bounce store failed" \
        "$IT_DIR/log/milter.log"
fi
it_submit "store back: the next VERP sender gets the stored form again" \
    --xclient-addr 192.0.2.10 --auth alice@example.com:secret --from "$VERP2" \
    --to bob@dest.test.example
if it_relayed "store back"; then
    it_check "store back: ab2=...@$BD" \
        grep -qE "^ab2=[a-z2-7]{26}@$BD\$" <<< "$(envelope_sender "$IT_MSG")"
fi

it_milter_stop
it_check "store down: exactly one message logged as kept for the store" \
    test "$(grep -c 'the bounce store failed' "$IT_DIR/log/milter.log")" = 1
it_done
