#!/usr/bin/env bash
# test_verify_postfix.sh - authmilter judges inbound mail through a real
# Postfix: SPF, DKIM verification, DMARC (RFC 9989) and the one
# Authentication-Results header it writes, with the policy actions.
#
# knotd serves test/zones/verify.example.zone (one sender domain per
# scenario) and the DKIM keys made here; dkimpy signs in smtpsend.py; XCLIENT
# makes each message come from an outside client (192.0.2.20 is the one
# address the zone's SPF records permit, 192.0.2.99 is permitted nowhere);
# smtp-sink receives what Postfix relays, and authres_check.py parses the
# Authentication-Results with Debian's python3-authres. Refusals are checked
# at the client, in Postfix's log and at the sink (nothing arrived). The DNS
# server is stopped mid-test to check on_dns_error.
# Needs root and a built daemon: AUTHMILTER=path, or BUILD_DIR with
# milter/authmilter in it.
# shellcheck disable=SC2317 # helpers run through it_check look unreachable
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

it_init verify_postfix
it_require "$AUTHMILTER"
it_plan 112
if ! "$IT_PY" -c 'import authres, dkim' 2> /dev/null; then
    echo "Bail out! $IT_PY lacks authres or dkim (Debian python3-authres, python3-dkim)"
    exit 1
fi
Z=verify.example
GOOD=192.0.2.20         # permitted by every SPF record of $Z
BAD=192.0.2.99          # permitted by none
# A port on which a socket swallows DNS queries and never answers.
BLACKHOLE_PORT=${IT_BLACKHOLE_PORT:-}
it_free_port BLACKHOLE_PORT

# keygen NAME DOMAIN SELECTOR TYPE - a key for DOMAIN (a name inside the
# $Z zone, not a zone of its own) with its record queued; sets $NAME
keygen() {
    local key=$IT_DIR/keys/$2.$3.pem
    (umask 077
     case $4 in
         rsa) openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$key" ;;
         ed25519) openssl genpkey -algorithm ed25519 -out "$key" ;;
     esac) 2> /dev/null || { echo "Bail out! keygen $2 $3"; exit 1; }
    it_zone_add $Z "$3._domainkey.$2. 300 IN TXT $(it_dkim_record "$key")"
    printf -v "$1" '%s' "$key"
}
keygen K_DKIMONLY dkimonly.$Z s1 rsa
keygen K_DKIMONLY_ED dkimonly.$Z e1 ed25519
keygen K_STRICT strict.$Z s1 rsa
keygen K_RELAXED relaxed.$Z s1 rsa
it_dns_start || { echo "Bail out! knotd"; exit 1; }
it_sink_start || { echo "Bail out! smtp-sink"; exit 1; }

# mkconf FILE [OPTION = VALUE]... - the harness's conf plus these options
mkconf() {
    local file=$1 opt
    shift
    it_authmilter_conf "$file"
    for opt in "$@"; do
        sed -i "/^${opt%% *}[[:space:]]*=/d" "$file"
        echo "$opt" >> "$file"
    done
}
conf=$IT_DIR/milter/verify.conf             # the defaults, and a summary line
mkconf "$conf" "message_summary = yes"
conf_hold=$IT_DIR/milter/hold.conf
mkconf "$conf_hold" "dmarc_quarantine_action = hold" \
    "dmarc_reject_action = quarantine"
conf_spf=$IT_DIR/milter/spf.conf
mkconf "$conf_spf" "spf_fail_action = reject" "received_spf_header = yes" \
    "message_summary = yes"
conf_silent=$IT_DIR/milter/silent.conf
mkconf "$conf_silent" "dns_timeout = 1s" "dns_servers = 127.0.0.1@$BLACKHOLE_PORT"
conf_accept=$IT_DIR/milter/accept.conf
mkconf "$conf_accept" "on_dns_error = accept" "dns_timeout = 1s" \
    "dns_servers = 127.0.0.1@$BLACKHOLE_PORT"

# ------------------------------------------------------------ helpers

N=0
REFUSED=()      # subjects of the messages refused: none may reach the sink
# send NAME FROM-IP SMTPSEND-ARGS... - submit from outside client FROM-IP
# (HELO helo.$Z) with a unique subject; sets IT_QID, SUBJ
send() {
    local name=$1 ip=$2
    shift 2
    N=$((N + 1))
    SUBJ="verify_postfix message [$N]"
    it_submit "$name" --xclient-addr "$ip" --helo "helo.$Z" --subject "$SUBJ" "$@"
}

# send_trusted NAME SMTPSEND-ARGS... - submit with a unique subject, no
# XCLIENT (127.0.0.1, internal) unless ARGS say otherwise; sets IT_QID, SUBJ
send_trusted() {
    local name=$1
    shift
    N=$((N + 1))
    SUBJ="verify_postfix message [$N]"
    it_submit "$name" --subject "$SUBJ" "$@"
}

# refused NAME STAGE CODE REGEX FROM-IP SMTPSEND-ARGS... - ok when the
# submission is refused at STAGE (MAIL, DATA) with a reply matching
# "CODE REGEX"; sets SUBJ
refused() {
    local name=$1 stage=$2 code=$3 re=$4 ip=$5 rc=0
    shift 5
    N=$((N + 1))
    SUBJ="verify_postfix message [$N]"
    REFUSED+=(-e "Subject: $SUBJ")
    it_smtpsend --xclient-addr "$ip" --helo "helo.$Z" --subject "$SUBJ" "$@" \
        > /dev/null 2> "$IT_DIR/tmp/send.err" || rc=$?
    if [ "$rc" = 2 ] && grep -Eq "$stage refused: $code $re" "$IT_DIR/tmp/send.err"; then
        it_ok "$name"
    else
        sed 's/^/#   /' "$IT_DIR/tmp/send.err"
        it_fail "$name" "expected $stage refused: $code $re (smtpsend exit $rc)"
    fi
}

# authres NAME AUTHRES_CHECK-ARGS... - check the A-R of message $IT_MSG
authres() {
    local name=$1
    shift
    it_check "$name" "$IT_PY" "$IT_LIB_DIR/authres_check.py" "$IT_MSG" "$@"
}

# has_header FILE NAME - true if FILE's header has a NAME: field
has_header() {
    awk -v n="$(echo "$2" | tr '[:upper:]' '[:lower:]')" 'BEGIN { rc = 1 }
        /^\r?$/ { exit }
        index(tolower($0), n ":") == 1 { rc = 0 }
        END { exit rc }' "$1"
}

# pf_logged REGEX - Postfix's log has a line matching REGEX
pf_logged() {
    grep -Eq "$1" "$IT_DIR/log/postfix.log"
}

# ml_logged REGEX - the milter's log has a line matching REGEX
ml_logged() {
    grep -Eq "$1" "$IT_DIR/log/milter.log"
}

# held QID - Postfix has QID in its hold queue
held() {
    postqueue -c "$IT_DIR/pf/etc" -j | grep -F "\"queue_id\": \"$1\"" \
        | grep -qF '"queue_name": "hold"'
}

# blackhole_start - a UDP and TCP socket on $BLACKHOLE_PORT that never answer
blackhole_start() {
    it__bg blackhole "$IT_DIR/log/blackhole.log" "$IT_PY" -c '
import socket, sys
port = int(sys.argv[1])
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(("127.0.0.1", port))
t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
t.bind(("127.0.0.1", port))
t.listen(16)
while True:
    u.recvfrom(4096)
' "$BLACKHOLE_PORT"
    it_wait_for 10 it__port_open "$BLACKHOLE_PORT"
}

it_check "authmilter -n accepts the test confs" sh -c "
    '$AUTHMILTER' -n -c '$conf' && '$AUTHMILTER' -n -c '$conf_hold' &&
    '$AUTHMILTER' -n -c '$conf_spf' && '$AUTHMILTER' -n -c '$conf_silent' &&
    '$AUTHMILTER' -n -c '$conf_accept'"
it_milter_start_authmilter "$conf" || { echo "Bail out! authmilter"; exit 1; }
it_postfix_start "$IT_MILTER_SOCKET" || { echo "Bail out! postfix"; exit 1; }
# An MX completes no headers for outside clients: without this, Postfix
# would add the missing From of the no-From scenario before the milter
# sees the header (the XCLIENT clients count as local here).
if ! postconf -c "$IT_DIR/pf/etc" -e "local_header_rewrite_clients =" \
    || ! it_postfix_reload; then
    echo "Bail out! postfix reload"
    exit 1
fi

# ------------------------------------------------------------ DMARC pass

# aligned SPF only: permitted client, no signature
send "spf-only: From spfonly.$Z from $GOOD, unsigned" $GOOD \
    --from a@spfonly.$Z
if it_relayed "spf-only"; then
    authres "spf-only: A-R spf=pass, helo pass, dkim=none, dmarc=pass" \
        --foreign 0 \
        --expect "spf=pass smtp.mailfrom=a@spfonly.$Z" \
        --expect "spf=pass smtp.helo=helo.$Z" \
        --expect "dkim=none" \
        --expect "dmarc=pass header.from=spfonly.$Z"
    it_check "spf-only: no Received-SPF by default" it_nomatch has_header "$IT_MSG" Received-SPF
    it_check "spf-only: no X-Authmilter-Quarantine" it_nomatch has_header "$IT_MSG" X-Authmilter-Quarantine
    it_check "spf-only: log names the queue id and the SPF alignment" \
        ml_logged "$IT_QID: verified: spf=pass .*dmarc=pass \(pass: SPF spfonly\.$Z aligned"
fi

# aligned DKIM only: the client is not permitted (SPF fail), signed d=From
send "dkim-only: From dkimonly.$Z from $BAD, signed d=dkimonly.$Z" $BAD \
    --from a@dkimonly.$Z --dkim "dkimonly.$Z:s1:$K_DKIMONLY"
if it_relayed "dkim-only"; then
    authres "dkim-only: A-R spf=fail, dkim=pass with d/s/a/b, dmarc=pass" \
        --dkim-b \
        --expect "spf=fail smtp.mailfrom=a@dkimonly.$Z" \
        --expect "spf=fail smtp.helo=helo.$Z" \
        --expect "dkim=pass header.d=dkimonly.$Z header.s=s1 header.a=rsa-sha256 header.b" \
        --expect "dmarc=pass header.from=dkimonly.$Z"
fi

# RSA and Ed25519 signatures on one message: one clause each
send "two signatures (Ed25519 + RSA) from $BAD" $BAD --from a@dkimonly.$Z \
    --dkim "dkimonly.$Z:s1:$K_DKIMONLY" --dkim "dkimonly.$Z:e1:$K_DKIMONLY_ED"
if it_relayed "two signatures"; then
    authres "two signatures: dkim=pass for s1 (rsa) and e1 (ed25519), distinct header.b" \
        --dkim-b \
        --expect "dkim=pass header.d=dkimonly.$Z header.s=s1 header.a=rsa-sha256 header.b" \
        --expect "dkim=pass header.d=dkimonly.$Z header.s=e1 header.a=ed25519-sha256 header.b" \
        --expect "dmarc=pass header.from=dkimonly.$Z"
    it_check "two signatures: message_summary's one line says it all" \
        ml_logged "$IT_QID: msg mode=verify client=$BAD from=dkimonly\.$Z spf=fail spf_domain=dkimonly\.$Z dkim=dkimonly\.$Z:e1:pass,dkimonly\.$Z:s1:pass dmarc=pass policy=reject action=accept ms=[0-9]+$"
fi

# body altered after signing: dkim=fail; SPF still aligns from $GOOD
send "body altered, from $GOOD" $GOOD --from a@dkimonly.$Z \
    --dkim "dkimonly.$Z:s1:$K_DKIMONLY" --tamper-body
if it_relayed "body altered"; then
    authres "body altered: dkim=fail with d/s/a/b, dmarc=pass via SPF" \
        --dkim-b \
        --expect "spf=pass smtp.mailfrom=a@dkimonly.$Z" \
        --expect "dkim=fail header.d=dkimonly.$Z header.s=s1 header.a=rsa-sha256 header.b" \
        --reject "dkim=pass" \
        --expect "dmarc=pass header.from=dkimonly.$Z"
fi
# ... and from $BAD nothing passes: p=reject
refused "body altered from $BAD: 550 5.7.1 (a failing signature is no pass)" \
    DATA 550 "5\.7\.1 rejected by the DMARC policy of dkimonly\.$Z" $BAD \
    --from a@dkimonly.$Z --dkim "dkimonly.$Z:s1:$K_DKIMONLY" --tamper-body

# ------------------------------------------------------------ DMARC fail

# p=reject; the message carries a forged A-R and Received-SPF saying pass
refused "p=reject, unauthenticated, forged pass headers: 550 5.7.1 naming the domain" \
    DATA 550 "5\.7\.1 rejected by the DMARC policy of reject\.$Z" $BAD \
    --from a@reject.$Z \
    --header "Authentication-Results: mx.test.example; spf=pass smtp.mailfrom=reject.$Z; dkim=pass header.d=reject.$Z; dmarc=pass header.from=reject.$Z" \
    --header "Received-SPF: pass (mx.test.example: forged) client-ip=$BAD; envelope-from=a@reject.$Z"
it_check "p=reject: message_summary's line: dmarc=fail, action=reject" \
    ml_logged ": msg mode=verify client=$BAD from=reject\.$Z spf=fail spf_domain=reject\.$Z dkim=- dmarc=fail policy=reject action=reject ms=[0-9]+$"
it_check "p=reject: Postfix logged the milter reject" \
    pf_logged "milter-reject: END-OF-MESSAGE from .*: 5\.7\.1 rejected by the DMARC policy of reject\.$Z"
it_check "p=reject: milter log: rejected, policy p=reject from reject.$Z" \
    ml_logged "rejected: 550 5\.7\.1 rejected by the DMARC policy of reject\.$Z"

# p=quarantine (dmarc_quarantine_action = header)
send "p=quarantine from $BAD" $BAD --from a@quar.$Z
if it_relayed "p=quarantine"; then
    authres "p=quarantine: A-R dmarc=fail policy.dmarc=quarantine" \
        --expect "spf=fail smtp.mailfrom=a@quar.$Z" \
        --expect "dmarc=fail header.from=quar.$Z policy.dmarc=quarantine"
    it_check "p=quarantine: X-Authmilter-Quarantine names the domain" \
        grep -q "^X-Authmilter-Quarantine: DMARC policy of quar\.$Z: quarantine" "$IT_MSG"
fi

# sp= for an existing subdomain, np= for a non-existent one, p= for the org
send "sp: From sub.org.$Z (exists) from $BAD" $BAD --from a@sub.org.$Z
if it_relayed "sp"; then
    authres "sp: dmarc=fail policy.dmarc=quarantine (sp=, not p=none)" \
        --expect "dmarc=fail header.from=sub.org.$Z policy.dmarc=quarantine"
    it_check "sp: X-Authmilter-Quarantine" has_header "$IT_MSG" X-Authmilter-Quarantine
    it_check "sp: milter log: policy sp=quarantine from org.$Z" \
        ml_logged "$IT_QID: verified: .*policy sp=quarantine from org\.$Z"
fi
refused "np: From ghost.org.$Z (NXDOMAIN) from $BAD: np=reject, 550" \
    DATA 550 "5\.7\.1 rejected by the DMARC policy of ghost\.org\.$Z" $BAD \
    --from a@ghost.org.$Z
it_check "np: milter log: policy np=reject from org.$Z" \
    ml_logged "verified: .*dmarc=fail .*policy np=reject from org\.$Z"
send "p at the org: From org.$Z from $BAD (p=none)" $BAD --from a@org.$Z
if it_relayed "p=none"; then
    authres "p=none: dmarc=fail policy.dmarc=none, delivered unmarked" \
        --expect "dmarc=fail header.from=org.$Z policy.dmarc=none"
    it_check "p=none: no X-Authmilter-Quarantine" it_nomatch has_header "$IT_MSG" X-Authmilter-Quarantine
fi

# strict alignment: SPF pass for strict.$Z and DKIM pass d=strict.$Z, but
# From sub.strict.$Z; relaxed (the default) aligns the same identifiers
send "strict: From sub.strict.$Z, SPF and DKIM pass for strict.$Z" $GOOD \
    --from a@strict.$Z --header-from a@sub.strict.$Z \
    --dkim "strict.$Z:s1:$K_STRICT"
if it_relayed "strict"; then
    authres "strict: spf=pass, dkim=pass d=strict.$Z, yet dmarc=fail (adkim=s aspf=s)" \
        --expect "spf=pass smtp.mailfrom=a@strict.$Z" \
        --expect "dkim=pass header.d=strict.$Z" \
        --expect "dmarc=fail header.from=sub.strict.$Z policy.dmarc=quarantine"
    it_check "strict: X-Authmilter-Quarantine" has_header "$IT_MSG" X-Authmilter-Quarantine
fi
send "strict: From strict.$Z exactly, DKIM d=strict.$Z, from $BAD" $BAD \
    --from a@strict.$Z --dkim "strict.$Z:s1:$K_STRICT"
if it_relayed "strict exact"; then
    authres "strict exact: dmarc=pass" --expect "dmarc=pass header.from=strict.$Z"
fi
send "relaxed: From sub.relaxed.$Z, DKIM d=relaxed.$Z, from $BAD" $BAD \
    --from a@sub.relaxed.$Z --dkim "relaxed.$Z:s1:$K_RELAXED"
if it_relayed "relaxed"; then
    authres "relaxed: spf=none, dkim=pass d=relaxed.$Z, dmarc=pass" \
        --expect "spf=none smtp.mailfrom=a@sub.relaxed.$Z" \
        --expect "dkim=pass header.d=relaxed.$Z" \
        --expect "dmarc=pass header.from=sub.relaxed.$Z"
fi

# tree walk: the only record is at _dmarc.walk.$Z
send "tree walk: From a.b.c.walk.$Z, SPF pass for walk.$Z" $GOOD \
    --from a@walk.$Z --header-from a@a.b.c.walk.$Z
if it_relayed "tree walk"; then
    authres "tree walk: SPF walk.$Z aligns (relaxed) with a.b.c.walk.$Z: dmarc=pass" \
        --expect "spf=pass smtp.mailfrom=a@walk.$Z" \
        --expect "dmarc=pass header.from=a.b.c.walk.$Z"
fi
refused "tree walk: From a.b.c.walk.$Z from $BAD: the record's p=reject, 550" \
    DATA 550 "5\.7\.1 rejected by the DMARC policy of a\.b\.c\.walk\.$Z" $BAD \
    --from a@a.b.c.walk.$Z
refused "tree walk: 11-label From under walk.$Z from $BAD: 550" \
    DATA 550 "5\.7\.1 rejected by the DMARC policy of x\.a\.b\.c\.d\.e\.f\.g\.walk\.$Z" $BAD \
    --from a@x.a.b.c.d.e.f.g.walk.$Z
it_check "tree walk: milter log: a.b.c.walk.$Z gets the policy of walk.$Z" \
    ml_logged "identifier for a\.b\.c\.walk\.$Z; policy (sp|p)=reject from walk\.$Z;"
it_check "tree walk: milter log: so does the 11-label name" \
    ml_logged "identifier for x\.a\.b\.c\.d\.e\.f\.g\.walk\.$Z; policy (sp|p)=reject from walk\.$Z;"

# null sender (a bounce): SPF checks postmaster@HELO, and that is the SPF
# identity DMARC aligns
send "null sender, From helo.$Z, from $GOOD" $GOOD --from "" --header-from a@helo.$Z
if it_relayed "null sender"; then
    authres "null sender: spf=pass smtp.mailfrom=postmaster@helo.$Z, dmarc=pass" \
        --expect "spf=pass smtp.mailfrom=postmaster@helo.$Z" \
        --expect "dmarc=pass header.from=helo.$Z"
fi
refused "null sender, From spfonly.$Z: the HELO domain does not align, 550" \
    DATA 550 "5\.7\.1 rejected by the DMARC policy of spfonly\.$Z" $GOOD \
    --from "" --header-from a@spfonly.$Z

# ------------------------------------------------------------ bad From

refused "two From headers: 550 5.7.1" DATA 550 "5\.7\.1 message must have exactly one From" \
    $GOOD --from a@spfonly.$Z --header "From: b@spfonly.$Z"
refused "no From header: 550 5.7.1" DATA 550 "5\.7\.1 message must have exactly one From" \
    $GOOD --from a@spfonly.$Z --no-from
refused "From with two addresses: 550 5.7.1" DATA 550 "5\.7\.1 message must have exactly one From" \
    $GOOD --from a@spfonly.$Z --header-from "a@spfonly.$Z, b@spfonly.$Z"

# ------------------------------------------------------------ forged A-R

# two forgeries claiming our authserv-id around a foreign A-R: deleting
# front to back would delete #1, then the foreign one (now #2)... not #3
send "forged A-R x2 + foreign A-R, from $GOOD" $GOOD --from a@spfonly.$Z \
    --header "Authentication-Results: mx.test.example; dkim=pass header.d=spfonly.$Z header.b=FORGED01" \
    --header "Authentication-Results: other.example; spf=pass smtp.mailfrom=kept@other.example" \
    --header "Authentication-Results: (forged) MX.TEST.EXAMPLE; dkim=pass header.d=forged.example"
if it_relayed "forged A-R"; then
    authres "forged A-R: one of ours (genuine: dkim=none), the foreign one kept" \
        --foreign 1 \
        --expect "spf=pass smtp.mailfrom=a@spfonly.$Z" \
        --expect "dkim=none" --reject "dkim=pass" \
        --expect "dmarc=pass header.from=spfonly.$Z"
    it_check "forged A-R: both forgeries gone" it_nomatch grep -Eq "FORGED01|forged\.example" "$IT_MSG"
    it_check "forged A-R: the foreign A-R arrived intact" \
        grep -q "^Authentication-Results: other\.example; spf=pass smtp\.mailfrom=kept@other\.example" "$IT_MSG"
    it_check "forged A-R: milter log: one summary line for both" \
        sh -c "[ \$(grep -c '$IT_QID: removed forged' '$IT_DIR/log/milter.log') = 1 ] &&
               grep -q '$IT_QID: removed forged header fields: 2 Authentication-Results' '$IT_DIR/log/milter.log'"
fi

# the other spellings of our authserv-id: quoted, with a trailing dot, on
# the folded continuation line, under a lower-case field name
send "forged A-R in other spellings, from $GOOD" $GOOD --from a@spfonly.$Z \
    --header "Authentication-Results: \"mx.test.example\"; dkim=pass header.d=FORGED02.example" \
    --header "Authentication-Results: mx.test.example.; dkim=pass header.d=FORGED03.example" \
    --header $'Authentication-Results:\r\n\tmx.test.example (folded); dkim=pass header.d=FORGED04.example' \
    --header "authentication-results: Mx.Test.Example; dkim=pass header.d=FORGED05.example"
if it_relayed "forged A-R spellings"; then
    authres "forged A-R spellings: exactly one of ours, nothing foreign" \
        --foreign 0 --expect "dkim=none" --reject "dkim=pass"
    it_check "forged A-R spellings: all four gone" it_nomatch grep -q "FORGED0" "$IT_MSG"
fi

# as many forgeries as max_forged_headers (10) allows: all removed
many=()
for i in $(seq 1 10); do
    many+=(--header "Authentication-Results: mx.test.example; dkim=pass header.d=forged$i.example")
done
send "10 forged A-R (the limit), from $GOOD" $GOOD --from a@spfonly.$Z "${many[@]}"
if it_relayed "10 forged A-R"; then
    authres "10 forged A-R: exactly one of ours left, genuine" \
        --foreign 0 --expect "dkim=none" --reject "dkim=pass"
    it_check "10 forged A-R: none of the 10 arrived" it_nomatch grep -Eq "forged[0-9]+\.example" "$IT_MSG"
fi
# one more: refused whole, not edited field by field
many+=(--header "Authentication-Results: mx.test.example; dmarc=pass header.from=forged11.example")
refused "11 forged A-R: refused 550 5.7.1, not edited" DATA 550 \
    "5\.7\.1 message carries more than 10 header fields forged in the name of mx\.test\.example" \
    $GOOD --from a@spfonly.$Z "${many[@]}"
it_check "11 forged A-R: message_summary's line says why" \
    ml_logged ": msg mode=verify client=$GOOD from=- spf=pass spf_domain=spfonly\.$Z reason=forged_headers action=reject ms=[0-9]+$"
# 12,000 forged A-R (564 KB): one delete each made Postfix's cleanup abort
# ("too many reverse jump records") and master stop cleanup for 60 s
"$IT_PY" - "$IT_DIR/tmp/flood.eml" "spfonly.$Z" <<'PY'
import sys
path, dom = sys.argv[1], sys.argv[2]
with open(path, "w") as f:
    f.write("From: a@%s\nTo: bob@dest.test.example\nSubject: flood\n" % dom)
    for i in range(12000):
        f.write("Authentication-Results: mx.test.example; dmarc=pass header.from=v%d.example\n" % i)
    f.write("\nbody\n")
PY
t0=$(date +%s)
refused "12,000 forged A-R: refused 550 5.7.1" DATA 550 "5\.7\.1 message carries more than 10" \
    $GOOD --from a@spfonly.$Z --file "$IT_DIR/tmp/flood.eml"
send "the next message after the flood" $GOOD --from a@spfonly.$Z
it_relayed "after the flood" 20 && it_ok "after the flood: delivered in $(($(date +%s) - t0)) s (Postfix's cleanup not stalled)"
it_check "flood: no cleanup abort in Postfix's log" it_nomatch pf_logged "too many reverse jump|cleanup.*signal 6"
it_check "flood: one log line for the refusal, none per field" \
    sh -c "[ \$(grep -c 'forged' '$IT_DIR/log/milter.log') -lt 20 ]"

# forged X-Authmilter-* from outside: removed (a bounce processor trusts them)
send "forged X-Authmilter-Bounce and -Quarantine from outside" $GOOD --from a@spfonly.$Z \
    --header "X-Authmilter-Bounce: rcpt=<x@b.example>; original=<victim@bank.example>; issued=2026-01-01" \
    --header "X-Authmilter-Quarantine: none" --header "x-authmilter-whatever: 1"
if it_relayed "forged X-Authmilter"; then
    it_check "forged X-Authmilter-*: all three removed" \
        it_nomatch grep -iq "^X-Authmilter-" "$IT_MSG"
    it_check "forged X-Authmilter-*: one summary log line" \
        grep -q "$IT_QID: removed forged header fields: 0 Authentication-Results claiming our authserv-id, 3 X-Authmilter-\*" "$IT_DIR/log/milter.log"
fi

# a header larger than the 8 MB the milter keeps: not one unchecked field
# (here a forged dmarc=pass after it) gets through
"$IT_PY" - "$IT_DIR/tmp/big.eml" "spfonly.$Z" <<'PY'
import sys
path, dom = sys.argv[1], sys.argv[2]
with open(path, "w") as f:
    f.write("From: a@%s\nTo: bob@dest.test.example\nSubject: big header\n" % dom)
    for i in range(8800):
        f.write("X-Filler-%d: %s\n" % (i, "x" * 960))
    f.write("Authentication-Results: mx.test.example; dmarc=pass header.from=victim.example\n")
    f.write("\nbody\n")
PY
refused "8.6 MB header: refused 552 5.3.4, never delivered unchecked" DATA 552 \
    "5\.3\.4 message header exceeds 8388608 bytes" $GOOD --from a@spfonly.$Z \
    --file "$IT_DIR/tmp/big.eml"

# ------------------------------------------------------------ not judged

send_trusted "AUTH alice from 192.0.2.10, From reject.$Z unsigned" \
    --xclient-addr 192.0.2.10 --auth alice@example.com:secret --from a@reject.$Z
if it_relayed "AUTH"; then
    it_check "AUTH: not judged: no A-R" "$IT_PY" "$IT_LIB_DIR/authres_check.py" --none "$IT_MSG"
    it_check "AUTH: no X-Authmilter-Quarantine" it_nomatch has_header "$IT_MSG" X-Authmilter-Quarantine
fi
send_trusted "AUTH alice with a forged A-R claiming our id" \
    --xclient-addr 192.0.2.10 --auth alice@example.com:secret --from a@reject.$Z \
    --header "Authentication-Results: mx.test.example; dmarc=pass header.from=bank.example" \
    --header "Authentication-Results: other.example; spf=pass smtp.mailfrom=x@other.example"
if it_relayed "AUTH forged"; then
    it_check "AUTH: the forged A-R is removed from our own users' mail too" \
        it_nomatch grep -q "dmarc=pass header.from=bank.example" "$IT_MSG"
    it_check "AUTH: a foreign A-R is kept" grep -q "other.example; spf=pass" "$IT_MSG"
fi
send_trusted "AUTH alice with an X-Authmilter-Bounce header" \
    --xclient-addr 192.0.2.10 --auth alice@example.com:secret --from a@reject.$Z \
    --header "X-Authmilter-Bounce: rcpt=<x@b.example>; original=<a@reject.$Z>; issued=2026-01-01"
if it_relayed "AUTH X-Authmilter"; then
    it_check "AUTH: our own users' X-Authmilter-* fields are kept" \
        grep -q "^X-Authmilter-Bounce: rcpt=<x@b.example>" "$IT_MSG"
fi
send_trusted "internal 127.0.0.1, From reject.$Z unsigned" --from a@reject.$Z
if it_relayed "internal"; then
    it_check "internal: not judged: no A-R" "$IT_PY" "$IT_LIB_DIR/authres_check.py" --none "$IT_MSG"
fi

# ------------------------------------------------------------ quarantine: hold

it_milter_stop
it_milter_start_authmilter "$conf_hold" || it_fail "authmilter starts with dmarc_quarantine_action = hold"
send "hold: p=quarantine from $BAD" $BAD --from a@quar.$Z
hold_qid=$IT_QID hold_subj=$SUBJ
it_check "hold: Postfix logged the milter hold" \
    it_wait_for 10 pf_logged "$hold_qid: milter-hold: END-OF-MESSAGE from .*\[$BAD\]: milter triggers HOLD action"
it_check "hold: the message is in the hold queue" it_wait_for 10 held "$hold_qid"
postcat -c "$IT_DIR/pf/etc" -h -q "$hold_qid" > "$IT_DIR/tmp/held.eml" 2>&1
IT_MSG=$IT_DIR/tmp/held.eml
authres "hold: the held message has our A-R, dmarc=fail policy.dmarc=quarantine" \
    --expect "dmarc=fail header.from=quar.$Z policy.dmarc=quarantine"
send "hold: dmarc_reject_action = quarantine: p=reject from $BAD is held" $BAD \
    --from a@reject.$Z
hold2_qid=$IT_QID hold2_subj=$SUBJ
it_check "hold: the p=reject message is held, not refused" it_wait_for 10 held "$hold2_qid"
send "hold: a passing message still goes through" $GOOD --from a@spfonly.$Z
it_relayed "hold: passing message" && it_ok "hold: passing message relayed"
it_check "hold: neither held message reached the sink" \
    it_nomatch grep -rlqF -e "Subject: $hold_subj" -e "Subject: $hold2_subj" "$IT_DIR/sink"
# an MTA that does not grant QUARANTINE: the message is marked instead
"$IT_PY" "$IT_LIB_DIR/noquarantine.py" "$IT_MILTER_SOCKET" "$BAD" "a@quar.$Z" \
    > "$IT_DIR/tmp/noq.out" 2>&1
it_check "hold, MTA without QUARANTINE: the message is accepted" \
    grep -qx "reply c" "$IT_DIR/tmp/noq.out"
it_check "hold, MTA without QUARANTINE: X-Authmilter-Quarantine inserted instead" \
    grep -q "^i X-Authmilter-Quarantine: DMARC policy of quar\.$Z: quarantine" "$IT_DIR/tmp/noq.out"
it_check "hold, MTA without QUARANTINE: no quarantine request sent" \
    it_nomatch grep -q '^q ' "$IT_DIR/tmp/noq.out"

# ------------------------------------------------------------ SPF reject, Received-SPF

it_milter_stop
it_milter_start_authmilter "$conf_spf" || it_fail "authmilter starts with spf_fail_action = reject"
refused "spf_fail_action = reject: SPF fail refused at MAIL FROM, 550 5.7.23" \
    MAIL 550 "5\.7\.23 SPF check failed: reject\.$Z does not allow" $BAD \
    --from a@reject.$Z
it_check "spf reject: Postfix logged the milter reject at MAIL FROM" \
    pf_logged "milter-reject: MAIL from .*\[$BAD\]: 550 5\.7\.23 SPF check failed: reject\.$Z"
it_check "spf reject: message_summary's line says why" \
    ml_logged ": msg mode=verify client=$BAD from=- spf=fail spf_domain=reject\.$Z reason=spf_fail action=reject ms=[0-9]+$"
send "received_spf_header = yes: from $GOOD" $GOOD --from a@spfonly.$Z
if it_relayed "Received-SPF"; then
    authres "Received-SPF: pass, client-ip, envelope-from; A-R on top" \
        --received-spf "pass client-ip=$GOOD envelope-from=a@spfonly.$Z helo=helo.$Z" \
        --expect "spf=pass smtp.mailfrom=a@spfonly.$Z"
    it_check "Received-SPF: a space after the colon, like every other field" \
        grep -q "^Received-SPF: pass (mx\.test\.example: " "$IT_MSG"
fi
send "spf=none is not refused" $BAD --from a@sub.relaxed.$Z \
    --dkim "relaxed.$Z:s1:$K_RELAXED"
it_relayed "spf=none" && it_ok "spf=none: relayed"
send_trusted "internal client with an SPF-failing sender is not refused" --from a@reject.$Z
if it_relayed "internal, spf reject conf"; then
    it_check "internal: no Received-SPF" it_nomatch has_header "$IT_MSG" Received-SPF
fi

# ------------------------------------------------------------ DNS outage

it_milter_stop
it_milter_start_authmilter "$conf" || it_fail "authmilter starts again with the defaults"
it__stop knot
refused "DNS down, on_dns_error = tempfail: 451 4.7.5" DATA 451 "4\.7\.5 " $GOOD \
    --from a@dnsdown.$Z
it_check "DNS down: Postfix logged the milter tempfail" \
    pf_logged "milter-reject: END-OF-MESSAGE from .*: 4\.7\.5 DMARC check of dnsdown\.$Z could not"
it_dns_start || it_fail "knotd restarts"
send "DNS back: the same sender is accepted again (same milter process)" $GOOD \
    --from a@dnsdown.$Z
if it_relayed "DNS back"; then
    authres "DNS back: spf=pass, dmarc=pass" \
        --expect "spf=pass smtp.mailfrom=a@dnsdown.$Z" \
        --expect "dmarc=pass header.from=dnsdown.$Z"
fi

it_milter_stop
blackhole_start || it_fail "blackhole DNS socket on $BLACKHOLE_PORT"
it_milter_start_authmilter "$conf_silent" || it_fail "authmilter starts with a silent DNS server"
refused "DNS silent, on_dns_error = tempfail: 451 4.7.5" DATA 451 "4\.7\.5 " $GOOD \
    --from a@dnsdown2.$Z
it_milter_stop
it_milter_start_authmilter "$conf_accept" || it_fail "authmilter starts with on_dns_error = accept"
send "DNS silent, on_dns_error = accept: accepted" $GOOD --from a@dnsdown2.$Z
if it_relayed "DNS silent"; then
    authres "DNS silent: A-R spf=temperror, dmarc=temperror" \
        --expect "spf=temperror smtp.mailfrom=a@dnsdown2.$Z" \
        --expect "dmarc=temperror header.from=dnsdown2.$Z"
fi
it_milter_stop
it__stop blackhole

# ------------------------------------------------------------ nothing else

it_check "none of the $((${#REFUSED[@]} / 2)) refused messages reached the sink" \
    it_nomatch grep -rlqF "${REFUSED[@]}" "$IT_DIR/sink"
it_check "every accepted message was relayed (none deferred or bounced)" \
    it_nomatch pf_logged "status=(deferred|bounced)"

it_done
