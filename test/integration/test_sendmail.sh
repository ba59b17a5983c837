#!/usr/bin/env bash
# test_sendmail.sh - authmilter through a real Sendmail (Debian 12's 8.17,
# unpacked into the work dir by sendmail.sh), configured as
# docs/authmilter.8 shows: INPUT_MAIL_FILTER with F=T, {auth_authen} among
# the MAIL macros.
#
# What the Postfix tests check, through Sendmail: signing for an SMTP AUTH
# client and for internal clients (IPv4 and IPv6: Sendmail tags IPv6
# client addresses "IPv6:"), every signature checked by dkimpy and
# Mail::DKIM; the Return-Path rewritten into the bounce domain, also for
# 8-bit mail with BODY=8BITMIME, RET= and ENVID= (Sendmail must keep every
# MAIL parameter and send no empty AUTH=); a DSN to the rewritten address
# mapped back to the original sender, a forged one refused at RCPT; outside
# mail (from 127.0.0.2) judged: Authentication-Results, the forged one
# removed, a p=reject domain's mail refused with 550 5.7.1; sendmail -t
# through the MSP (submit.cf), and sendmail -bs on the MTA's own cf, whose
# milter connection has no client address (family L): signed as local
# submission, not refused as an outside client.
# Needs root, a built daemon and tools (BUILD_DIR), and apt-get download
# to fetch Sendmail once (kept in /var/cache/authmilter-test/sendmail).
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=sendmail.sh
. "$(dirname "$0")/sendmail.sh"

it_init sendmail
BOUNCE_TOOL=${BOUNCE_TOOL:-$BUILD_DIR/milter/authmilter-bounce}
it_require "$AUTHMILTER" "$BOUNCE_TOOL" apt-get dpkg-deb m4 cc unshare
it_plan 44

BD=bounce.example.com
ORIG=no-reply@example.com
OUTSIDE=127.0.0.2       # not in internal_hosts: an outside client

rsa=$(it_keygen example.com s2048 rsa 2048) || { echo "Bail out! keygen"; exit 1; }
# the DMARC tree walk of bounce.example.com asks _dmarc.com: NXDOMAIN
it_zone_add com "; empty: the parent of example.com for DMARC tree walks"
it_dns_start || { echo "Bail out! knotd"; exit 1; }
it_sink_start || { echo "Bail out! smtp-sink"; exit 1; }
(umask 077; head -c 32 /dev/urandom > "$IT_DIR/keys/bounce.key")
KEY=$IT_DIR/keys/bounce.key

conf=$IT_DIR/milter/authmilter.conf
it_authmilter_conf "$conf"
sed -i "s|^internal_hosts .*|internal_hosts  = 127.0.0.1/32, ::1|" "$conf"
cat >> "$conf" <<EOF
bounce_secret   = $KEY
domain example.com {
    key = s2048 $rsa
    bounce_domain = $BD
}
EOF
it_milter_start_authmilter "$conf" || { echo "Bail out! authmilter"; exit 1; }
sm_start "$IT_MILTER_SOCKET" || { echo "Bail out! sendmail"; exit 1; }

# sink_field NAME FILE - smtp-sink's envelope record NAME (X-Mail-Args, ...)
sink_field() {
    sed -n "/^\$/q; s/^$1: //p" "$2" | head -n 1
}

# envelope_sender FILE - the MAIL FROM address smtp-sink saw
envelope_sender() {
    sink_field X-Mail-Args "$1" | sed -n 's/^<\([^>]*\)>.*/\1/p'
}

# verified NAME - $IT_MSG carries a d=example.com signature that dkimpy
# and Mail::DKIM verify
verified() {
    it_check "$1: signed d=example.com, dkimpy verifies" \
        it_dkimverify --min 1 --expect-domains example.com "$IT_MSG"
    it_check "$1: signed d=example.com, Mail::DKIM verifies" \
        it_dkimverify_pl --min 1 --expect-domains example.com "$IT_MSG"
}

# shellcheck disable=SC2317  # called through it_check
# milter_logged REGEX - the milter logged a line matching REGEX
milter_logged() {
    grep -qE "$1" "$IT_DIR/log/milter.log"
}

# ---------------------------------------------------------------- signing
it_submit "(a) AUTH alice from the outside address $OUTSIDE" \
    --source-addr $OUTSIDE --auth alice@example.com:secret --from "$ORIG"
if sm_relayed "(a)"; then
    verified "(a)"
    it_check "(a) log: signed as an authenticated client, with the queue id" \
        milter_logged "$IT_QID: sign: authenticated client, domain example.com"
fi

it_submit "(b) internal client 127.0.0.1" --from "$ORIG"
if sm_relayed "(b)"; then
    verified "(b)"
fi

it_submit "(b6) internal client ::1 (Sendmail says IPv6:...)" --host ::1 --from "$ORIG"
if sm_relayed "(b6)"; then
    it_check "(b6) signed d=example.com, dkimpy verifies" \
        it_dkimverify --min 1 --expect-domains example.com "$IT_MSG"
    it_check "(b6) log: signed as an internal client" \
        milter_logged "$IT_QID: sign: internal client, domain example.com"
fi

# ---------------------------------------------------------------- Return-Path
# 8-bit body, BODY=8BITMIME, RET= and ENVID=: Sendmail replaces every MAIL
# parameter with those a CHGFROM carries; authmilter gives none, so all
# stay and no empty AUTH= is sent on (smtp-sink offers AUTH)
ENVID=sendmail-test-$$
printf 'From: %s\nTo: bob@dest.test.example\nSubject: 8-bit\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\nGr\303\274\303\237e aus K\303\266ln\n' \
    "$ORIG" > "$IT_DIR/tmp/8bit.eml"
it_submit "(c) AUTH alice, 8-bit, BODY=8BITMIME RET=HDRS ENVID=" \
    --source-addr $OUTSIDE --auth alice@example.com:secret --from "$ORIG" \
    --mail-param BODY=8BITMIME --mail-param RET=HDRS \
    --mail-param "ENVID=$ENVID" --file "$IT_DIR/tmp/8bit.eml"
RP=""
if sm_relayed "(c)"; then
    RP=$(envelope_sender "$IT_MSG")
    args=$(sink_field X-Mail-Args "$IT_MSG")
    it_check "(c) envelope sender ab1=...@$BD (got <$RP>)" \
        grep -qE "^ab1=[a-z2-7]{10}=no-reply=example\.com@$BD\$" <<< "$RP"
    it_check "(c) it decodes to $ORIG (authmilter-bounce)" \
        test "$("$BOUNCE_TOOL" -k "$KEY" -d "$BD" decode "$RP" 2> /dev/null)" = "$ORIG"
    for want in BODY=8BITMIME RET=HDRS "ENVID=$ENVID"; do
        it_check "(c) sink MAIL FROM keeps $want ($args)" \
            grep -qE " $want( |\$)" <<< "$args"
    done
    it_check "(c) no empty AUTH= at the sink ($args)" \
        it_nomatch grep -qE " AUTH=( |\$)" <<< "$args"
    it_check "(c) the 8-bit body arrived intact" \
        grep -q "Gr$(printf '\303\274\303\237')e aus K$(printf '\303\266')ln" "$IT_MSG"
    verified "(c)"
    it_check "(c) log: the rewrite, with the queue id" \
        milter_logged "$IT_QID: Return-Path <$ORIG> rewritten to <$RP>"
fi

# ---------------------------------------------------------------- bounces
if [ -n "$RP" ]; then
    cat > "$IT_DIR/tmp/dsn.eml" <<EOF
From: MAILER-DAEMON@elsewhere.example
To: <$RP>
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: text/plain

Your message could not be delivered.
EOF
    it_submit "(d) DSN from $OUTSIDE to the rewritten address" \
        --source-addr $OUTSIDE --from "" --to "$RP" --file "$IT_DIR/tmp/dsn.eml"
    if sm_relayed "(d)"; then
        it_check "(d) delivered to the original sender $ORIG only" \
            test "$(sed -n '/^$/q; s/^X-Rcpt-Args: \([^ ]*\).*/\1/p' "$IT_MSG")" = "<$ORIG>"
        it_check "(d) null sender kept" test "$(envelope_sender "$IT_MSG")" = ""
        it_check "(d) X-Authmilter-Bounce names the bounce address" \
            grep -qiE "^X-Authmilter-Bounce: rcpt=<${RP//./\\.}>; original=<${ORIG//./\\.}>" "$IT_MSG"
    fi
    mac=${RP:6:1}
    if [ "$mac" = a ]; then alt=b; else alt=a; fi
    tampered=${RP:0:6}$alt${RP:7}
    it_submit_refused "(e) DSN to a tampered address refused at RCPT" "550 5.1.1" \
        --source-addr $OUTSIDE --from "" --to "$tampered" --file "$IT_DIR/tmp/dsn.eml"
    it_check "(e) log: why refused" \
        milter_logged "bounce to <?$tampered>? refused: forged or tampered"
fi

# ---------------------------------------------------------------- inbound
it_submit "(f) outside mail from $OUTSIDE, a forged A-R and a foreign one" \
    --source-addr $OUTSIDE --helo helo.outside.example --from a@example.com \
    --dkim "example.com:s2048:$rsa" \
    --header "Authentication-Results: mx.test.example; dmarc=pass header.from=FORGED.example" \
    --header "Authentication-Results: other.example; spf=pass smtp.mailfrom=kept@other.example"
if sm_relayed "(f)"; then
    it_check "(f) A-R: spf, dkim and dmarc pass, one foreign A-R kept" \
        "$IT_PY" "$IT_LIB_DIR/authres_check.py" "$IT_MSG" --foreign 1 --dkim-b \
        --expect "spf=pass smtp.mailfrom=a@example.com" \
        --expect "dkim=pass header.d=example.com" \
        --expect "dmarc=pass header.from=example.com"
    it_check "(f) the forged A-R is gone" it_nomatch grep -q "FORGED\.example" "$IT_MSG"
    it_check "(f) not signed by us (verify mode): one signature, the sender's" \
        test "$(it_dkim_count "$IT_MSG")" = 1
    it_check "(f) log: verified, with the queue id" \
        milter_logged "$IT_QID: verify: client $OUTSIDE is neither authenticated nor in internal_hosts"
fi

it_submit_refused "(g) From a p=reject domain, SPF fails from $OUTSIDE: 550 5.7.1" \
    "550 5.7.1" --source-addr $OUTSIDE --from a@reject.verify.example \
    --subject "sendmail test: must be refused"
it_check "(g) nothing of it reached the sink" \
    it_nomatch grep -rq "sendmail test: must be refused" "$IT_DIR/sink"
it_check "(g) Sendmail logged the milter's reject" \
    grep -q "Milter: data, reject=550 5.7.1" "$SM_LOG"

# ---------------------------------------------------------------- sendmail(1)
# sendmail -t through the MSP: submit.cf relays to the MTA on 127.0.0.1
printf 'From: %s\nTo: bob@dest.test.example\nSubject: msp\n\nsent with sendmail -t\n' \
    "$ORIG" > "$IT_DIR/tmp/msp.eml"
before=$(wc -l < "$SM_LOG")
IT_QID=""
IT_SUBMIT_FAILED=""
if sm_run -C "$SM_SUBMIT_CF" -t -f "$ORIG" < "$IT_DIR/tmp/msp.eml" > "$IT_DIR/tmp/msp.out" 2>&1; then
    # the MSP logs the MTA's queue id in its delivery status
    IT_QID=$(tail -n "+$((before + 1))" "$SM_LOG" |
        sed -n 's/.* stat=Sent (\([0-9A-Za-z]*\) Message accepted for delivery).*/\1/p' | tail -n 1)
fi
if [ -n "$IT_QID" ]; then
    it_ok "(h) sendmail -t through the MSP: accepted by the MTA as $IT_QID"
else
    IT_SUBMIT_FAILED=1
    sed 's/^/#   /' "$IT_DIR/tmp/msp.out"
    sm_show_log
    it_fail "(h) sendmail -t through the MSP: accepted" "no queue id of the MTA"
fi
if sm_relayed "(h)"; then
    verified "(h)"
fi

# sendmail -bs on the MTA's cf: the milter's CONNECT has family L and no
# address; a local submission, signed (before: verified as an outside
# client and refused by example.com's p=reject)
it_submit "(i) sendmail -bs, 8-bit, BODY=8BITMIME RET=FULL ENVID=" \
    --pipe "$SM_DIR/ns $SM_BIN -C $SM_CF -bs" --from "$ORIG" \
    --mail-param BODY=8BITMIME --mail-param RET=FULL \
    --mail-param "ENVID=$ENVID-bs" --file "$IT_DIR/tmp/8bit.eml"
if sm_relayed "(i)"; then
    verified "(i)"
    it_check "(i) log: signed as a local client, with the queue id" \
        milter_logged "$IT_QID: sign: local client, domain example.com"
    args=$(sink_field X-Mail-Args "$IT_MSG")
    it_check "(i) envelope sender rewritten, BODY=8BITMIME kept ($args)" \
        grep -qE "^<ab1=[a-z2-7]{10}=no-reply=example\.com@$BD> .*BODY=8BITMIME" <<< "$args"
    it_check "(i) RET=FULL and ENVID=$ENVID-bs kept ($args)" \
        grep -qE " RET=FULL .*ENVID=$ENVID-bs( |\$)| ENVID=$ENVID-bs .*RET=FULL( |\$)" <<< "$args"
fi

it_milter_stop
it_done
