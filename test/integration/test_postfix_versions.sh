#!/usr/bin/env bash
# test_postfix_versions.sh - authmilter through a real Postfix at each
# milter_protocol version Postfix speaks: 2, 3, 4 and 6.
#
# What Postfix 3.7 (src/milter/milter8.c) offers: every version offers the
# same actions (ADDHDRS, CHGHDRS, CHGBODY, ADDRCPT, DELRCPT, QUARANTINE,
# CHGFROM, ADDRCPT_PAR, SETSYMLIST), and takes a SETSYMLIST macro list at
# every version. The protocol steps differ: 2 offers only the NO* steps
# (NOCONNECT .. NOEOH) and sends no DATA and no UNKNOWN; 3 adds NOUNKNOWN
# (and sends UNKNOWN); 4 adds NODATA (and sends DATA); only 6 offers the
# no-reply steps (NR_*), SKIP, RCPT_REJ and HDR_LEADSPC. Below 6 Postfix
# also drops one space after each header's colon before passing the value
# on, so "Subject:x" and "Subject: x" reach the filter alike.
#
# One Postfix instance, one authmilter; between rounds milter_protocol is
# changed with postconf and "postfix reload". Each round sends an AUTH
# submission with main.cf's milter_mail_macros = i (so {auth_authen} only
# arrives through authmilter's SETSYMLIST list) and a header without a
# space after its colon, from a sender whose domain has a bounce domain
# (Return-Path rewrite with CHGFROM), and checks:
#   - the milter log names the version negotiated, and below 6 says what
#     the MTA does not offer (HDR_LEADSPC, no-reply steps) in one notice,
#     not once per connection (later ones are debug);
#   - signed as an authenticated client (the macro list reached Postfix);
#   - dkimpy and Mail::DKIM verify; the domain's simple/simple header
#     canonicalization is kept at 6 and made relaxed below 6 (a simple
#     signature over a header whose spacing the filter cannot know would
#     fail);
#   - the envelope sender at the sink is in the bounce domain.
# Version 2 also takes the sendmail(1) path (cleanup's non_smtpd_milters).
# Last, an MTA that offers no CHGFROM at all (Postfix before 2.6, Sendmail
# before 8.14; no Postfix here can be made to do that, so noquarantine.py
# speaks for it): the message is signed and passes with its sender
# unchanged, and the log says why, instead of a tempfail (with
# on_internal_error = tempfail, as this conf has, that mail would never
# leave).
# Needs root and a built daemon (AUTHMILTER or BUILD_DIR). Output is TAP.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

it_init postfix_versions
it_require "$AUTHMILTER"
VERSIONS="2 3 4 6"
it_plan 45

BD=bounce.example.com
rsa=$(it_keygen example.com s2048 rsa 2048) || { echo "Bail out! keygen"; exit 1; }
it_dns_start || { echo "Bail out! knotd"; exit 1; }
it_sink_start || { echo "Bail out! smtp-sink"; exit 1; }
( umask 077; head -c 32 /dev/urandom > "$IT_DIR/keys/bounce.key" )

conf=$IT_DIR/milter/authmilter.conf
it_authmilter_conf "$conf"
cat >> "$conf" <<EOF
bounce_secret   = $IT_DIR/keys/bounce.key
# a careful operator's choice: a failure defers the mail (so a missing
# action taken for a failure would show up as a tempfail)
on_internal_error = tempfail
domain example.com {
    key = s2048 $rsa
    bounce_domain = $BD
    canonicalization = simple/simple
}
EOF
it_milter_start_authmilter "$conf" || { echo "Bail out! authmilter"; exit 1; }
it_postfix_start "$IT_MILTER_SOCKET" || { echo "Bail out! postfix"; exit 1; }
# only the queue id: {auth_authen} must come from authmilter's own list
postconf -c "$IT_POSTFIX_CONF" -e "milter_mail_macros = i"

# sink_sender FILE - the MAIL FROM address smtp-sink saw for FILE
sink_sender() {
    sed -n '/^$/q; s/^X-Mail-Args: <\([^>]*\)>.*/\1/p' "$1" | head -n 1
}

# sig_canon FILE - the c= of the (one) DKIM-Signature in FILE
sig_canon() {
    awk '/^\r?$/ { exit } /^[^ \t]/ { h = tolower($0) ~ /^dkim-signature:/ }
         h { printf "%s", $0 }' "$1" | tr -d ' \t\r' |
        sed -n 's/.*;c=\([a-z]*\/[a-z]*\);.*/\1/p; s/.*;c=\([a-z]*\)$/\1/p'
}

# shellcheck disable=SC2317  # called through it_check
# negotiated V - this round's milter log has negotiations, all at version V
negotiated() {
    local got
    got=$(it_milter_log | sed -n 's/.*milter protocol version \([0-9]*\) negotiated.*/\1/p' |
        sort -u | tr '\n' ' ')
    echo "versions negotiated since the mark: ${got:-none}"
    [ "$got" = "$1 " ]
}

# message FILE SUBJECT - a message whose Subject has no space after the colon
message() {
    printf 'From: No Reply <no-reply@example.com>\nTo: bob@elsewhere.example\nSubject:%s\nDate: %s\nMessage-ID: <%s@client.test.example>\n\nversion round\n' \
        "$2" "$(date -R)" "$2" > "$1"
}

for v in $VERSIONS; do
    postconf -c "$IT_POSTFIX_CONF" -e "milter_protocol = $v"
    it_postfix_reload 2> "$IT_DIR/tmp/reload.err" ||
        { echo "Bail out! postfix reload: $(cat "$IT_DIR/tmp/reload.err")"; exit 1; }
    it_log_mark
    msg=$IT_DIR/tmp/v$v.eml
    message "$msg" "tight-v$v"
    it_submit "v$v: AUTH submission" --xclient-addr 192.0.2.10 \
        --auth alice@example.com:secret --from no-reply@example.com \
        --to bob@elsewhere.example --file "$msg"
    if it_relayed "v$v"; then
        it_check "v$v: the milter negotiated version $v" negotiated "$v"
        if [ "$v" = 6 ]; then
            it_check "v$v: nothing reported missing" \
                it_nomatch grep -q "the MTA does not offer" <(it_milter_log)
        else
            # once per offer seen, not per connection (Postfix's port probe
            # may have made the first one before this round's mark)
            it_check "v$v: one notice: HDR_LEADSPC and NR_* are not offered" \
                test "$(grep -c "notice: milter protocol version $v negotiated; the MTA does not offer: HDR_LEADSPC NR_\*" \
                    "$IT_DIR/log/milter.log")" = 1
        fi
        it_check "v$v: signed as an authenticated client ({auth_authen} by SETSYMLIST)" \
            grep -q "$IT_QID: sign: authenticated client, domain example.com" <(it_milter_log)
        it_check "v$v: dkimpy verifies d=example.com" \
            it_dkimverify --min 1 --expect-domains example.com "$IT_MSG"
        it_check "v$v: Mail::DKIM verifies d=example.com" \
            it_dkimverify_pl --min 1 --expect-domains example.com "$IT_MSG"
        want=simple/simple
        [ "$v" = 6 ] || want=relaxed/simple
        it_check "v$v: c=$want (got $(sig_canon "$IT_MSG"))" \
            test "$(sig_canon "$IT_MSG")" = "$want"
        it_check "v$v: Subject arrived as sent" grep -q "^Subject:tight-v$v" "$IT_MSG"
        it_check "v$v: envelope sender rewritten into $BD ($(sink_sender "$IT_MSG"))" \
            sh -c "echo '$(sink_sender "$IT_MSG")' | grep -q '@$BD\$'"
    fi
    if [ "$v" = 2 ]; then
        # sendmail(1) -> pickup -> cleanup: non_smtpd_milters at version 2
        message "$IT_DIR/tmp/local.eml" "local-v2"
        it_submit_local "v2 sendmail(1)" "$IT_DIR/tmp/local.eml" \
            -f no-reply@example.com bob@elsewhere.example
        if it_relayed "v2 sendmail(1)"; then
            it_check "v2 sendmail(1): dkimpy verifies d=example.com" \
                it_dkimverify --min 1 --expect-domains example.com "$IT_MSG"
            it_check "v2 sendmail(1): envelope sender rewritten into $BD" \
                sh -c "echo '$(sink_sender "$IT_MSG")' | grep -q '@$BD\$'"
        fi
    fi
done
it_check "version 2: more negotiations than notices (later ones at debug)" \
    test "$(grep -c 'debug: milter protocol version 2 negotiated' "$IT_DIR/log/milter.log")" -ge 1

# An MTA without CHGFROM (noquarantine.py, withholding 0x40): signed, the
# sender left as it was, a warning in the log, and "continue", not tempfail
it_log_mark
nochg=$IT_DIR/tmp/nochgfrom.out
"$IT_PY" "$IT_LIB_DIR/noquarantine.py" "$IT_MILTER_SOCKET" 127.0.0.1 \
    no-reply@example.com 0x40 > "$nochg" 2>&1
sed 's/^/#   /' "$nochg"
it_check "no CHGFROM: the message passes (continue)" grep -qx "reply c" "$nochg"
it_check "no CHGFROM: signed" grep -q "^i DKIM-Signature:" "$nochg"
it_check "no CHGFROM: no sender change was sent" it_nomatch grep -qx "e" "$nochg"
it_check "no CHGFROM: the negotiation notice names CHGFROM" \
    grep -q "milter protocol version 6 negotiated; the MTA does not offer: CHGFROM" <(it_milter_log)
it_check "no CHGFROM: the message's log line says the Return-Path stays" \
    grep -q "NOQ1: Return-Path not rewritten" <(it_milter_log)

it_milter_stop
it_done
