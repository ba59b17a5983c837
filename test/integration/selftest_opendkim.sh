#!/usr/bin/env bash
# selftest_opendkim.sh - the harness checked against a known-good milter.
#
# Runs scenarios (a)-(e) of test_sign_postfix.sh with Debian's opendkim as
# the milter: real knotd, Postfix with Cyrus SASL, XCLIENT, sendmail(1) and
# smtp-sink. If this passes and test_sign_postfix.sh fails, look at
# authmilter, not at the harness.
set -u
. "$(dirname "$0")/lib.sh"

it_init selftest_opendkim
it_require opendkim

key=$(it_keygen example.com s2048 rsa 2048) || { echo "Bail out! keygen"; exit 1; }
it_dns_start || { echo "Bail out! knotd"; exit 1; }
it_sink_start || { echo "Bail out! smtp-sink"; exit 1; }
it_milter_start_opendkim example.com s2048 "$key" || { echo "Bail out! opendkim"; exit 1; }
it_postfix_start "$IT_MILTER_SOCKET" || { echo "Bail out! postfix"; exit 1; }

it_check "knotd serves the 2048-bit key record in several strings" \
    sh -c "kdig @127.0.0.1 -p $IT_DNS_PORT +short TXT s2048._domainkey.example.com | grep -q '\" \"'"

sent=0
# deliver NAME QID_VAR ARGS... - submit with smtpsend; remember the queue id
deliver() {
    local name=$1 qid
    shift
    if qid=$(it_smtpsend "$@" 2> "$IT_DIR/tmp/send.err"); then
        sent=$((sent + 1))
        it_ok "$name: accepted as $qid"
        QID=$qid
    else
        sed 's/^/#   /' "$IT_DIR/tmp/send.err"
        it_fail "$name: submission refused"
        QID=""
    fi
}

# relayed NAME - wait for the last message at the sink; set MSG to its file
relayed() {
    MSG=""
    if [ -n "$QID" ] && it_wait_for_sink "$sent" 30 && MSG=$(it_sink_file "$QID") \
        && [ -n "$MSG" ]; then
        return 0
    fi
    it_fail "$1: relayed to the sink" "queue id ${QID:-none} not found"
    return 1
}

# (a) authenticated client from an outside address
deliver "(a) AUTH alice from 192.0.2.10" --xclient-addr 192.0.2.10 \
    --auth alice@example.com:secret --from a@example.com --to bob@elsewhere.example
if relayed "(a)"; then
    it_check "(a) signed d=example.com, dkimpy verifies" \
        it_dkimverify --min 1 --expect-domains example.com "$MSG"
    it_check "(a) Mail::DKIM verifies" \
        it_dkimverify_pl --min 1 --expect-domains example.com "$MSG"
fi

# (b) unauthenticated from the internal address 127.0.0.1
deliver "(b) internal client 127.0.0.1" --from a@example.com
if relayed "(b)"; then
    it_check "(b) signed d=example.com, dkimpy verifies" \
        it_dkimverify --min 1 --expect-domains example.com "$MSG"
fi

# (c) outside client, not authenticated: relayed to our relay domain unsigned
deliver "(c) outside client 192.0.2.10 (XCLIENT)" --xclient-addr 192.0.2.10 \
    --from a@example.com --to bob@dest.test.example
if relayed "(c)"; then
    it_check "(c) no DKIM-Signature" test "$(it_dkim_count "$MSG")" = 0
    it_check "(c) sink saw the outside address in Postfix's Received" \
        grep -q '192.0.2.10' "$MSG"
fi

# (d) local submission with sendmail(1): non_smtpd_milters
printf 'From: a@example.com\nTo: bob@dest.test.example\nSubject: local submission\n\nsent with sendmail\n' \
    > "$IT_DIR/tmp/local.eml"
if QID=$(it_sendmail -f a@example.com bob@dest.test.example \
        < "$IT_DIR/tmp/local.eml" 2> "$IT_DIR/tmp/send.err"); then
    sent=$((sent + 1))
    it_ok "(d) sendmail -C accepted as $QID"
else
    sed 's/^/#   /' "$IT_DIR/tmp/send.err"
    it_fail "(d) sendmail -C accepted"
    QID=""
fi
if relayed "(d)"; then
    it_check "(d) signed d=example.com, dkimpy verifies" \
        it_dkimverify --min 1 --expect-domains example.com "$MSG"
fi

# (e) a 20 MB message
deliver "(e) 20 MB message" --from a@example.com --size $((20 * 1024 * 1024))
if relayed "(e)"; then
    it_check "(e) 20 MB message is 20 MB at the sink" \
        test "$(stat -c %s "$MSG")" -gt $((20 * 1024 * 1024))
    it_check "(e) signed d=example.com, dkimpy verifies" \
        it_dkimverify --min 1 --expect-domains example.com "$MSG"
fi

it_done
