#!/usr/bin/env bash
# test_from_postfix.sh - a From header that parsers can read as different
# authors ("Composition Kills" class, issue 12) is refused through a real
# Postfix, and ordinary From headers still pass DMARC.
#
# knotd serves test/zones/from.example.zone: attacker.from.example permits
# the client 192.0.2.20 (so DMARC passes for it), victim.from.example
# permits nobody and publishes p=reject. Each attack sends MAIL FROM the
# attacker's domain from 192.0.2.20 (XCLIENT) with a From header that other
# parsers read as ceo@victim.from.example, or as nothing; the old lenient
# parser read the attacker's domain and accepted the message with
# dmarc=pass. reject_bad_from = yes is the default: each must be refused
# with 550 5.7.1 and reach nobody. smtp-sink receives what Postfix relays;
# authres_check.py reads the Authentication-Results of what arrives.
# Needs root and a built daemon: AUTHMILTER=path, or BUILD_DIR with
# milter/authmilter in it.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

it_init from_postfix
it_require "$AUTHMILTER"
it_plan 21
if ! "$IT_PY" -c 'import authres' 2> /dev/null; then
    echo "Bail out! $IT_PY lacks authres (Debian python3-authres)"
    exit 1
fi
Z=from.example
A=attacker.$Z           # DMARC passes for it from $GOOD
V=victim.$Z             # p=reject, permits nobody
GOOD=192.0.2.20
it_dns_start || { echo "Bail out! knotd"; exit 1; }
it_sink_start || { echo "Bail out! smtp-sink"; exit 1; }
conf=$IT_DIR/milter/from.conf
it_authmilter_conf "$conf"

N=0
REFUSED=()      # subjects of the messages refused: none may reach the sink

# send NAME SMTPSEND-ARGS... - submit from $GOOD, MAIL FROM a@$A, with a
# unique subject; sets IT_QID
send() {
    local name=$1
    shift
    N=$((N + 1))
    it_submit "$name" --xclient-addr $GOOD --helo "helo.$Z" --from "a@$A" \
        --subject "from_postfix message [$N]" "$@"
}

# refused NAME REGEX SMTPSEND-ARGS... - ok when the message (from $GOOD,
# MAIL FROM a@$A) is refused after DATA with "550 5.7.1 REGEX"
refused() {
    local name=$1 re=$2 subj rc=0
    shift 2
    N=$((N + 1))
    subj="from_postfix message [$N]"
    REFUSED+=(-e "Subject: $subj")
    it_smtpsend --xclient-addr $GOOD --helo "helo.$Z" --from "a@$A" \
        --subject "$subj" "$@" > /dev/null 2> "$IT_DIR/tmp/send.err" || rc=$?
    if [ "$rc" = 2 ] && grep -Eq "DATA refused: 550 5\.7\.1 $re" "$IT_DIR/tmp/send.err"; then
        it_ok "$name"
    else
        sed 's/^/#   /' "$IT_DIR/tmp/send.err"
        it_fail "$name" "expected DATA refused: 550 5.7.1 $re (smtpsend exit $rc)"
    fi
}

# authres NAME AUTHRES_CHECK-ARGS... - check the A-R of message $IT_MSG
authres() {
    local name=$1
    shift
    it_check "$name" "$IT_PY" "$IT_LIB_DIR/authres_check.py" "$IT_MSG" "$@"
}

it_check "reject_bad_from is on by default" \
    sh -c "'$AUTHMILTER' -n -c '$conf' | grep -Eq '^reject_bad_from[[:space:]]*=[[:space:]]*yes'"
it_milter_start_authmilter "$conf" || { echo "Bail out! authmilter"; exit 1; }
it_postfix_start "$IT_MILTER_SOCKET" || { echo "Bail out! postfix"; exit 1; }
# An MX rewrites no headers of outside clients: without this, Postfix's
# cleanup would rewrite the From addresses (the XCLIENT clients count as
# local here) before the milter sees them.
if ! postconf -c "$IT_DIR/pf/etc" -e "local_header_rewrite_clients =" \
    || ! it_postfix_reload; then
    echo "Bail out! postfix reload"
    exit 1
fi

# ------------------------------------------------------------ the set-up works

send "plain From $A: accepted"
if it_relayed "plain From"; then
    authres "plain From: dmarc=pass header.from=$A" \
        --expect "spf=pass smtp.mailfrom=a@$A" --expect "dmarc=pass header.from=$A"
fi
refused "From ceo@$V from the attacker's client: DMARC p=reject, 550" \
    "rejected by the DMARC policy of victim\.from\.example" --header-from "ceo@$V"

# ------------------------------------------------------------ issue 12

BAD="message must have exactly one From header with one address \(malformed From header\)"
refused "addr-spec then angle-addr: ceo@$V<a@$A>: 550 5.7.1" "$BAD" \
    --header-from "ceo@$V<a@$A>"
refused "quote-hiding comments: (\")ceo@$V(\") a@$A: 550 5.7.1" "$BAD" \
    --header-from "(\")ceo@$V(\") a@$A"
refused "two at-signs: ceo@$V@$A: 550 5.7.1" "$BAD" \
    --header-from "ceo@$V@$A"
refused "escaped at-sign: ceo\\@$V@$A: 550 5.7.1" "$BAD" \
    --header-from "ceo\\@$V@$A"
refused "angle-addr then addr-spec: <a@$A>ceo@$V: 550 5.7.1" "$BAD" \
    --header-from "<a@$A>ceo@$V"
it_check "milter log: five malformed From headers, refused" \
    sh -c "[ \"\$(grep -c 'malformed From header' '$IT_DIR/log/milter.log')\" -ge 5 ]"
# and two of the neighbours: a second author, a missing angle
refused "two authors: ceo@$V, a@$A: 550 5.7.1" \
    "message must have exactly one From header with one address \(From header with several addresses\)" \
    --header-from "ceo@$V, a@$A"
refused "missing closing angle: CEO <a@$A: 550 5.7.1" "$BAD" \
    --header-from "CEO <a@$A"

# ------------------------------------------------------------ ordinary From headers

send "display name: Eve Example <a@$A>" --header-from "Eve Example <a@$A>"
if it_relayed "display name"; then
    authres "display name: dmarc=pass header.from=$A" --expect "dmarc=pass header.from=$A"
fi
send "folded, quoted name with a comma, comments" \
    --header-from $'"Example, Eve" (sales)\r\n\t<a(her account)@'"$A"$'>\r\n (Eve)'
if it_relayed "folded"; then
    authres "folded: dmarc=pass header.from=$A" --expect "dmarc=pass header.from=$A"
fi
send "an address as the display name is only a name: \"ceo@$V\" <a@$A>" \
    --header-from "\"ceo@$V\" <a@$A>"
if it_relayed "address as display name"; then
    authres "address as display name: DMARC judges $A, not $V" \
        --expect "dmarc=pass header.from=$A" --reject "dmarc=pass header.from=$V"
fi
send "obs-route: <@$V:a@$A> is mail from $A" --header-from "<@$V:a@$A>"
if it_relayed "obs-route"; then
    authres "obs-route: dmarc=pass header.from=$A" --expect "dmarc=pass header.from=$A"
fi

# ------------------------------------------------------------ nothing else

it_check "none of the $((${#REFUSED[@]} / 2)) refused messages reached the sink" \
    it_nomatch grep -rlqF "${REFUSED[@]}" "$IT_DIR/sink"
it_milter_stop
it_done
