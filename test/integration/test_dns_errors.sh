#!/usr/bin/env bash
# test_dns_errors.sh - DMARC with unfinished DNS, through a real Postfix:
# when the SPF check or the key lookup of a signature that would align
# times out and nothing aligned passed, the message is neither passed nor
# failed (RFC 9989): A-R dmarc=temperror and 451 4.7.5 (on_dns_error =
# tempfail) or accepted (on_dns_error = accept), never the domain's 550
# or quarantine. Permerror and signatures that cannot align stay fail.
#
# knotd serves test/zones/dnserr.example.zone; test/integration/dnsdrop.py
# stands in front of it and swallows the queries for exactly one name (the
# _domainkey record, the SPF record, an include: target, the A record
# inside a:, the A record of an mx: host), so that one lookup times out
# while every other answer comes. dkimpy signs in smtpsend.py; XCLIENT
# makes each message come from an outside client; python3-authres reads
# the Authentication-Results at the sink.
# shellcheck disable=SC2317 # helpers run through it_check look unreachable
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

it_init dns_errors
[ -x "$AUTHMILTER" ] || { echo "Bail out! authmilter not built: $AUTHMILTER"; exit 1; }
it_plan 22
"$IT_PY" -c 'import authres, dkim' 2> /dev/null ||
    { echo "Bail out! $IT_PY lacks authres or dkim (python3-authres, python3-dkim)"; exit 1; }
Z=dnserr.example
GOOD=192.0.2.20         # permitted by every SPF record of $Z
BAD=192.0.2.99          # permitted by none
DROP_PORT=${IT_DROP_PORT:-}
it_free_port DROP_PORT
DROP=$IT_DIR/tmp/drop

# keygen NAME DOMAIN SELECTOR - an RSA key with its record; sets $NAME
keygen() {
    local key=$IT_DIR/keys/$2.$3.pem
    (umask 077; openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
        -out "$key") 2> /dev/null || { echo "Bail out! keygen $2"; exit 1; }
    it_zone_add "$4" "$3._domainkey.$2. 300 IN TXT $(it_dkim_record "$key")"
    printf -v "$1" '%s' "$key"
}
keygen K_DKIM dkim.$Z s1 $Z
keygen K_QUAR quar.$Z s1 $Z
keygen K_PNONE pnone.$Z s1 $Z
keygen K_BAD badkey.$Z s2 $Z        # s1 is the malformed record
keygen K_OTHER other.example s1 other.example
# the reverse zone of the permitted client, for ptr:
it_zone_add 2.0.192.in-addr.arpa "20.2.0.192.in-addr.arpa. 300 IN PTR ptrhost.$Z."
it_dns_start || { echo "Bail out! knotd"; exit 1; }
it_sink_start || { echo "Bail out! smtp-sink"; exit 1; }
: > "$DROP"
it__bg dnsdrop "$IT_DIR/log/dnsdrop.log" "$IT_PY" "$IT_LIB_DIR/dnsdrop.py" \
    "$DROP_PORT" "$IT_DNS_PORT" "$DROP"
it_wait_for 10 grep -q "^dnsdrop:" "$IT_DIR/log/dnsdrop.log" ||
    { echo "Bail out! dnsdrop.py did not start"; exit 1; }

# mkconf FILE [OPTION = VALUE]... - the harness's conf, DNS through dnsdrop
mkconf() {
    local file=$1 opt
    shift
    it_authmilter_conf "$file"
    for opt in "dns_servers = 127.0.0.1@$DROP_PORT" "dns_timeout = 1s" "$@"; do
        sed -i "/^${opt%% *}[[:space:]]*=/d" "$file"
        echo "$opt" >> "$file"
    done
}
conf=$IT_DIR/milter/tempfail.conf
mkconf "$conf"
conf_accept=$IT_DIR/milter/accept.conf
mkconf "$conf_accept" "on_dns_error = accept"
it_milter_start_authmilter "$conf" || { echo "Bail out! authmilter"; exit 1; }
it_postfix_start "$IT_MILTER_SOCKET" || { echo "Bail out! postfix"; exit 1; }

N=0
# drop NAME [TYPE] - from now on, queries for NAME (of TYPE) time out;
# no argument: nothing is dropped. Each test drops a name no earlier
# message made the daemon's resolver cache.
drop() {
    if [ $# = 0 ]; then : > "$DROP"; else echo "$*" > "$DROP"; fi
}

# was_dropped NAME - dnsdrop swallowed at least one query for NAME
was_dropped() {
    grep -qi "^$1 " "$DROP.log" 2> /dev/null
}

# refused NAME CODE REGEX FROM-IP SMTPSEND-ARGS... - refused at DATA with
# "CODE REGEX"
refused() {
    local name=$1 code=$2 re=$3 ip=$4 rc=0
    shift 4
    N=$((N + 1))
    it_smtpsend --xclient-addr "$ip" --helo "helo.$Z" \
        --subject "dns_errors message [$N]" "$@" \
        > /dev/null 2> "$IT_DIR/tmp/send.err" || rc=$?
    if [ "$rc" = 2 ] && grep -Eq "DATA refused: $code $re" "$IT_DIR/tmp/send.err"; then
        it_ok "$name"
    else
        sed 's/^/#   /' "$IT_DIR/tmp/send.err"
        it_fail "$name" "expected DATA refused: $code $re (smtpsend exit $rc)"
    fi
}

# accepted NAME FROM-IP SMTPSEND-ARGS... - accepted and relayed; IT_MSG
accepted() {
    local name=$1 ip=$2
    shift 2
    N=$((N + 1))
    it_submit "$name" --xclient-addr "$ip" --helo "helo.$Z" \
        --subject "dns_errors message [$N]" "$@"
    it_relayed "$name"
}

# authres NAME AUTHRES_CHECK-ARGS... - the A-R of $IT_MSG
authres() {
    local name=$1
    shift
    it_check "$name" "$IT_PY" "$IT_LIB_DIR/authres_check.py" "$IT_MSG" "$@"
}

TEMP='4\.7\.5 DMARC check of'

# ------------------------------------------------ the DKIM key lookup
drop s1._domainkey.dkim.$Z TXT
refused "DKIM key lookup times out, SPF fails, p=reject: 451 4.7.5, not 550" \
    451 "$TEMP dkim\.$Z" $BAD --from a@dkim.$Z --dkim "dkim.$Z:s1:$K_DKIM"
it_check "... the key query was the one dropped" was_dropped "s1._domainkey.dkim.$Z"
it_check "... the milter logs the lookup that timed out, with the server it asked" \
    grep -qE "info: dns: s1\._domainkey\.dkim\.${Z//./\\.}/16: timed out \(asked 127\.0\.0\.1@$DROP_PORT" \
    "$IT_DIR/log/milter.log"
drop
accepted "same message once the key answers: accepted" $BAD --from a@dkim.$Z \
    --dkim "dkim.$Z:s1:$K_DKIM" &&
    authres "... A-R dkim=pass dmarc=pass" --expect "dkim=pass header.d=dkim.$Z" \
        --expect "dmarc=pass header.from=dkim.$Z"

drop s1._domainkey.quar.$Z TXT
refused "DKIM key times out, p=quarantine: 451 4.7.5, not held" \
    451 "$TEMP quar\.$Z" $BAD --from a@quar.$Z --dkim "quar.$Z:s1:$K_QUAR"

drop s1._domainkey.pnone.$Z TXT
accepted "DKIM key times out, p=none: nothing at stake, accepted" $BAD \
    --from a@pnone.$Z --dkim "pnone.$Z:s1:$K_PNONE" &&
    authres "... A-R dkim=temperror dmarc=temperror" \
        --expect "dkim=temperror header.d=pnone.$Z" \
        --expect "dmarc=temperror header.from=pnone.$Z"

drop s1._domainkey.other.example TXT
refused "a signature that cannot align times out: still 550 (DMARC fail)" \
    550 "5\.7\.1 rejected by the DMARC policy of unaligned\.$Z" $BAD \
    --from a@unaligned.$Z --dkim "other.example:s1:$K_OTHER"

drop
refused "a malformed key record (permerror) stays a DMARC fail: 550" \
    550 "5\.7\.1 rejected by the DMARC policy of badkey\.$Z" $BAD \
    --from a@badkey.$Z --dkim "badkey.$Z:s1:$K_BAD"

# ------------------------------------------------ SPF
drop spf.$Z TXT
refused "SPF record times out, aligned, no signature: 451 4.7.5, not 550" \
    451 "$TEMP spf\.$Z" $GOOD --from a@spf.$Z
it_check "... the SPF query was the one dropped" was_dropped "spf.$Z"
drop inc.$Z TXT
refused "include: target times out: 451 4.7.5" 451 "$TEMP incl\.$Z" $GOOD \
    --from a@incl.$Z
drop host.$Z A
refused "A record inside a: times out: 451 4.7.5" 451 "$TEMP amech\.$Z" $GOOD \
    --from a@amech.$Z
drop mx1.$Z A
refused "A record of an mx: host times out: 451 4.7.5" 451 "$TEMP mxmech\.$Z" \
    $GOOD --from a@mxmech.$Z
# ptr: a name whose address lookup times out is skipped (RFC 7208 5.5), so
# ptr cannot match: SPF fail, DMARC fail, the domain's 550 (no temperror)
drop ptrhost.$Z A
refused "A record of a ptr: name times out: the name is skipped, 550" 550 \
    "5\.7\.1 rejected by the DMARC policy of ptrmech\.$Z" $GOOD --from a@ptrmech.$Z
drop
accepted "ptr: with the A answering, the name validates: accepted" $GOOD --from a@ptrmech.$Z
drop
accepted "the same SPF domains answer again: accepted" $GOOD --from a@amech.$Z &&
    authres "... A-R spf=pass dmarc=pass" --expect "spf=pass smtp.mailfrom=a@amech.$Z" \
        --expect "dmarc=pass header.from=amech.$Z"

# ------------------------------------------------ on_dns_error = accept
it_milter_stop
it_milter_start_authmilter "$conf_accept" || it_fail "authmilter starts with on_dns_error = accept"
keygen K_DKIM2 dkim.$Z s9 $Z
it_dns_reload || it_fail "knotd reloads"
drop s9._domainkey.dkim.$Z TXT
accepted "on_dns_error = accept: key times out, p=reject: accepted" $BAD \
    --from a@dkim.$Z --dkim "dkim.$Z:s9:$K_DKIM2" &&
    authres "... A-R dkim=temperror dmarc=temperror, no policy applied" \
        --expect "dkim=temperror header.d=dkim.$Z" \
        --expect "dmarc=temperror header.from=dkim.$Z" \
        --reject "dmarc=fail"
it_check "milter log: the temperror names the unfinished signature" \
    grep -q "did not finish" "$IT_DIR/log/milter.log"

it_milter_stop
it_done
