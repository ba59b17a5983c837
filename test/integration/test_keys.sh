#!/usr/bin/env bash
# shellcheck disable=SC2317
# (SC2317: the helpers run through it_check, which shellcheck cannot follow)
# test_keys.sh - DKIM keys end to end: authmilter-keygen's files and DNS
# records (served by knotd, read back with kdig, verified with dkimpy), the
# publication check and the fallback it drives (a 2048-bit record truncated
# at 255 characters, a missing record, no published key with
# unpublished_keys = skip|sign), publication changes seen by the periodic
# check and by SIGHUP without a restart, a rotation scheduled with
# not_before under a fixed clock (AUTHMILTER_TEST_TIME), and
# authmilter-check's verdicts and exit status (keys, SPF lookup count,
# DMARC). test/bench/milterload plays the MTA.
# (Rotation under load and a broken conf on SIGHUP: test_milter_protocol.sh.)
#
# Output is TAP. Environment: see lib.sh. Nothing leaves 127.0.0.1.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

it_init keys

KEYGEN=$BUILD_DIR/milter/authmilter-keygen
CHECK=$BUILD_DIR/milter/authmilter-check
ML=$BUILD_DIR/test/bench/milterload
it_require "$KEYGEN" "$CHECK" "$ML" "$AUTHMILTER"
it_plan 98
K=$IT_DIR/keys
WT=$IT_DIR/tmp

# ---------------------------------------------------------------- helpers

# keygen SELECTOR DOMAIN [ARGS...] - authmilter-keygen into $K; stdout and
# stderr in $WT/keygen.SELECTOR.{out,err}
keygen() {
    local sel=$1 dom=$2
    shift 2
    "$KEYGEN" -d "$dom" -s "$sel" -D "$K" "$@" \
        > "$WT/keygen.$sel.out" 2> "$WT/keygen.$sel.err"
}

# txt_strings - the character-strings of zone-file or kdig TXT rdata on
# stdin, one per line, without the quotes (DKIM records hold no escapes)
txt_strings() {
    grep -o '"[^"]*"' | sed 's/^"//; s/"$//'
}

# txt_value - the strings of TXT rdata on stdin joined into the record value
txt_value() {
    txt_strings | tr -d '\n'
}

# pubkey_b64 PEM - the p= the record must carry, computed by openssl
pubkey_b64() {
    if openssl pkey -in "$1" -noout -text | head -n 1 | grep -q '^ED25519'; then
        openssl pkey -in "$1" -pubout -outform DER | tail -c 32 | base64 -w0
    else
        openssl pkey -in "$1" -pubout -outform DER | base64 -w0
    fi
}

# key_bits PEM - the key size openssl reports
key_bits() {
    openssl pkey -in "$1" -noout -text | head -n 1 | grep -o '[0-9]* bit' | cut -d' ' -f1
}

# strings_fit FILE - every TXT string of FILE is 1..255 octets; at least MIN
strings_fit() {
    local file=$1 min=$2 n=0 s
    while IFS= read -r s; do
        n=$((n + 1))
        if [ "${#s}" -gt 255 ] || [ "${#s}" -eq 0 ]; then
            echo "string $n has ${#s} octets"
            return 1
        fi
    done < <(txt_strings < "$file")
    echo "$n strings: $(txt_strings < "$file" | awk '{ printf "%d ", length($0) }')"
    [ "$n" -ge "$min" ]
}

# value_is GOT WANT - show both on mismatch
value_is() {
    [ "$1" = "$2" ] && return 0
    printf 'got:  %s\nwant: %s\n' "$1" "$2"
    return 1
}

# dns_value NAME - the TXT record knotd serves for NAME, strings joined
dns_value() {
    kdig @127.0.0.1 -p "$IT_DNS_PORT" +time=2 +retry=0 +short TXT "$1" | txt_value
}

# selectors_of FILE - the s= of every DKIM-Signature in FILE, in order
selectors_of() {
    awk '/^\r?$/ { exit } { print }' "$1" | tr -d '\r' \
        | sed -e ':a' -e 'N' -e '$!ba' -e 's/\n[ \t][ \t]*/ /g' \
        | grep -i '^DKIM-Signature:' \
        | grep -o ';[[:space:]]*s=[^;[:space:]]*' | sed 's/.*s=//' | tr '\n' ' ' \
        | sed 's/ $//'
}

# send NAME FROMDOMAIN [MILTERLOAD ARGS...] - one authenticated message
# from FROMDOMAIN through the milter into $WT/NAME/1-1.eml; the
# milterload report is in $WT/NAME.txt
send() {
    local name=$1 dom=$2
    shift 2
    rm -rf "${WT:?}/$name"
    mkdir -p "$WT/$name"
    "$ML" -S "$IT_MILTER_SOCKET" -a alice -F "$dom" -m 1 -o "$WT/$name" "$@" \
        > "$WT/$name.txt" 2>&1
}

# signs_with NAME DOMAIN "SELECTORS" - check: a message from DOMAIN is signed
# with exactly these selectors, in this order, and dkimpy verifies them all
signs_with() {
    local name=$1 dom=$2 want=$3 got n
    n=$(echo "$want" | wc -w)
    if ! send "$name" "$dom" -e 1; then
        sed 's/^/#   /' "$WT/$name.txt"
        it_fail "$name: $dom signed with $want" "milterload failed"
        it_fail "$name: signature verifies with dkimpy" "not signed"
        return
    fi
    got=$(selectors_of "$WT/$name/1-1.eml")
    it_check "$name: $dom signed with $want" value_is "$got" "$want"
    it_check "$name: signature verifies with dkimpy (DNS from knotd)" \
        it_dkimverify --min "$n" --expect-domains "$dom" "$WT/$name/1-1.eml"
}

# logged PATTERN - this milter run logged a line matching PATTERN (grep -E)
logged() {
    it_milter_log | grep -E "$1"
}

# conf_keys FILE DOMAIN "KEYLINE"... - append a domain block to FILE
conf_keys() {
    local f=$1 dom=$2 line
    shift 2
    {
        echo "domain $dom {"
        for line in "$@"; do
            echo "    key = $line"
        done
        echo "}"
    } >> "$f"
}

# run_check NAME CONF DOMAIN... - authmilter-check; output in $WT/NAME.chk,
# exit status in CHECK_RC (shown by chk_line when a line is missing)
run_check() {
    local name=$1 conf=$2
    shift 2
    CHECK_RC=0
    "$CHECK" -c "$conf" "$@" > "$WT/$name.chk" 2>&1 || CHECK_RC=$?
}

# chk_line NAME PATTERN - authmilter-check's output NAME has a line PATTERN
chk_line() {
    grep -E "$2" "$WT/$1.chk" || { cat "$WT/$1.chk"; return 1; }
}

# ---------------------------------------------------------------- 1. keygen
# Three keys in three sizes and types, plus one made for a DNS host that
# takes 255-octet strings at most.
it_check "keygen: RSA-2048 by default" keygen g2048 example.com
it_check "keygen: RSA-1024 with -b 1024" keygen g1024 small.example.com -b 1024
it_check "keygen: Ed25519 with -t ed25519" keygen ged example.com -t ed25519
it_check "keygen: --txt-max 255 succeeds" keygen g255 tiny.example.com --txt-max 255

it_check "keygen g2048: 2048-bit key" test "$(key_bits "$K/g2048.pem")" = 2048
it_check "keygen g1024: 1024-bit key" test "$(key_bits "$K/g1024.pem")" = 1024
it_check "keygen --txt-max 255: falls back to a 1024-bit key" \
    test "$(key_bits "$K/g255.pem")" = 1024
it_check "keygen --txt-max 255: says so, naming the limit and the size" \
    grep -E '255 octets.*1024-bit' "$WT/keygen.g255.err"
it_check "keygen --txt-max 255: the whole value fits one 255-octet string" \
    test "$(txt_value < "$K/g255.txt" | wc -c)" -le 255
it_check "keygen: private key has mode 0600" test "$(stat -c %a "$K/g2048.pem")" = 600
sum=$(md5sum < "$K/g2048.pem")
it_check "keygen: refuses to overwrite an existing key" \
    it_exit 1 "$KEYGEN" -d example.com -s g2048 -D "$K"
it_check "keygen: the existing key is untouched" test "$(md5sum < "$K/g2048.pem")" = "$sum"

it_check "keygen g2048: record split, every TXT string at most 255 octets" \
    strings_fit "$K/g2048.txt" 2
for sel in g1024 ged g255; do
    it_check "keygen $sel: every TXT string at most 255 octets" \
        strings_fit "$K/$sel.txt" 1
done
for sel in g2048 g1024 g255; do
    it_check "keygen $sel: strings reassemble to the key (openssl pkey -pubout)" \
        value_is "$(txt_value < "$K/$sel.txt")" "v=DKIM1; k=rsa; p=$(pubkey_b64 "$K/$sel.pem")"
done
it_check "keygen ged: strings reassemble to the raw Ed25519 key" \
    value_is "$(txt_value < "$K/ged.txt")" "v=DKIM1; k=ed25519; p=$(pubkey_b64 "$K/ged.pem")"
it_check "keygen: stdout gives the conf line" \
    grep -qx "key = g2048 $K/g2048.pem" "$WT/keygen.g2048.out"

# The zone lines go into knotd's zone as written.
for sel in g2048 g1024 ged g255; do it_zone_add example.com "$(cat "$K/$sel.txt")"; done

# ---------------------------------------------------------------- zones
# fb: the 2048-bit record cut at 255 characters, the 1024 intact.
keygen s2048 fb.example.com || exit 1
keygen s1024 fb.example.com -b 1024 || exit 1
cut255=$(txt_value < "$K/s2048.txt" | cut -c1-255)
it_zone_add example.com "s2048._domainkey.fb.example.com. 300 IN TXT \"$cut255\""
it_zone_add example.com "$(cat "$K/s1024.txt")"
# miss: no record for the 2048-bit key. none: no record for either key.
keygen m2048 miss.example.com || exit 1
keygen m1024 miss.example.com -b 1024 || exit 1
keygen n1 none.example.com || exit 1
keygen n2 none.example.com || exit 1
it_zone_add example.com "$(cat "$K/m1024.txt")"
# pub: truncated first, published correctly later (periodic check). TTL 1:
# the daemon's resolver caches answers for their TTL like any resolver.
keygen p2048 pub.example.com || exit 1
keygen p1024 pub.example.com -b 1024 || exit 1
it_zone_add example.com "p2048._domainkey.pub.example.com. 1 IN TXT \"$(txt_value < "$K/p2048.txt" | cut -c1-255)\""
it_zone_add example.com "$(cat "$K/p1024.txt")"
# hup: h1 missing at first, published later (SIGHUP re-check).
keygen h1 hup.example.com || exit 1
keygen h2 hup.example.com || exit 1
it_zone_add example.com "$(cat "$K/h2.txt")"
# sched: both published; the conf schedules the switch.
keygen new sched.example.com || exit 1
keygen old sched.example.com || exit 1
it_zone_add example.com "$(cat "$K/new.txt")"
it_zone_add example.com "$(cat "$K/old.txt")"

# authmilter-check domains: one published key c1 each; SPF and DMARC vary.
keygen c1 check.test || exit 1
spfchain() {    # spfchain DOMAIN N - an SPF record costing N includes
    local d=$1 n=$2 i
    it_zone_add "$d" "@ TXT \"v=spf1 include:i1.$d -all\""
    for ((i = 1; i < n; i++)); do
        it_zone_add "$d" "i$i TXT \"v=spf1 include:i$((i + 1)).$d -all\""
    done
    it_zone_add "$d" "i$n TXT \"v=spf1 ip4:192.0.2.1 -all\""
}
for d in good.test spf10.test spf11.test dmarc2.test nodmarc.test; do
    it_zone_add "$d" "c1._domainkey TXT $(it_dkim_record "$K/c1.pem")"
    case $d in
        spf10.test) spfchain "$d" 10 ;;
        spf11.test) spfchain "$d" 11 ;;
        *)
            it_zone_add "$d" "@ TXT \"v=spf1 mx include:_spf.$d -all\""
            it_zone_add "$d" "_spf TXT \"v=spf1 ip4:192.0.2.0/24 -all\""
            it_zone_add "$d" "@ MX 10 mx.$d."
            it_zone_add "$d" "mx A 192.0.2.1"
            ;;
    esac
    case $d in
        nodmarc.test) ;;
        dmarc2.test)
            it_zone_add "$d" "_dmarc TXT \"v=DMARC1; p=reject\""
            it_zone_add "$d" "_dmarc TXT \"v=DMARC1; p=none\""
            ;;
        *) it_zone_add "$d" "_dmarc TXT \"v=DMARC1; p=reject; rua=mailto:d@$d\"" ;;
    esac
done

it_dns_start || { echo "Bail out! knotd"; exit 1; }

for sel in g2048:example.com:rsa g1024:small.example.com:rsa \
    ged:example.com:ed25519 g255:tiny.example.com:rsa; do
    IFS=: read -r sel dom type <<< "$sel"
    it_check "kdig: $sel._domainkey.$dom reassembles to the key (openssl)" \
        value_is "$(dns_value "$sel._domainkey.$dom")" \
        "v=DKIM1; k=$type; p=$(pubkey_b64 "$K/$sel.pem")"
done
it_check "kdig: the 2048-bit record is served as several strings" \
    test "$(kdig @127.0.0.1 -p "$IT_DNS_PORT" +short TXT g2048._domainkey.example.com \
        | txt_strings | wc -l)" -ge 2
it_check "kdig: fb's s2048 record is the 255-character cut" \
    value_is "$(dns_value s2048._domainkey.fb.example.com)" "$cut255"

# ------------------------------------------ daemon A: skip, checks every 2 s
confA=$IT_DIR/milter/a.conf
it_authmilter_conf "$confA"
# knotd is on loopback: a query it does not answer is a lost cause after 1 s
sed -i 's/^dns_timeout .*/dns_timeout     = 1s/' "$confA"
cat >> "$confA" <<EOF
unpublished_keys   = skip
key_check_interval = 2s
EOF
conf_keys "$confA" example.com "g2048 $K/g2048.pem" "ged $K/ged.pem"
conf_keys "$confA" small.example.com "g1024 $K/g1024.pem"
conf_keys "$confA" tiny.example.com "g255 $K/g255.pem"
conf_keys "$confA" fb.example.com "s2048 $K/s2048.pem" "s1024 $K/s1024.pem"
conf_keys "$confA" miss.example.com "m2048 $K/m2048.pem" "m1024 $K/m1024.pem"
conf_keys "$confA" none.example.com "n1 $K/n1.pem" "n2 $K/n2.pem"
conf_keys "$confA" pub.example.com "p2048 $K/p2048.pem" "p1024 $K/p1024.pem"
it_milter_start_authmilter "$confA" || { echo "Bail out! authmilter"; exit 1; }
pidA=$IT_LAST_PID
# the records are looked up in the background: wait for that pass
it_check "start: the background key check pass ends" \
    it_wait_logged 10 'key check: pass done in'

# 1. keygen's keys sign, and their records verify
signs_with keygen example.com "g2048 ged"
signs_with keygen-1024 small.example.com g1024
signs_with keygen-txtmax tiny.example.com g255
it_check "start: keygen's records logged published" \
    logged 'key g2048 of example.com \(2048 bits\): record published'

# 2. fallback from a truncated 2048-bit record
it_check "fallback: truncated 2048-bit record logged at start" \
    logged 'key s2048 of fb\.example\.com \(2048 bits\): record truncated \(.*first 237 of 392'
signs_with fallback fb.example.com s1024
it_check "fallback: the skip is logged with the message" \
    logged 'fb\.example\.com: selector s2048 skipped: record truncated'
run_check fallback "$confA" fb.example.com
it_check "authmilter-check fallback: exits 1" test "$CHECK_RC" = 1
it_check "authmilter-check fallback: FAIL for s2048, truncated" \
    chk_line fallback '^FAIL DKIM s2048\._domainkey .*truncated'
it_check "authmilter-check fallback: OK for s1024" \
    chk_line fallback '^OK +DKIM s1024\._domainkey .*published.*1024-bit'
it_check "authmilter-check fallback: domain verdict FAIL" \
    chk_line fallback '^FAIL fb\.example\.com$'

# 3. missing records
it_check "missing: missing 2048-bit record logged" \
    logged 'key m2048 of miss\.example\.com \(2048 bits\): record missing'
signs_with missing miss.example.com m1024
send none-skip none.example.com
it_check "unpublished_keys = skip: no key published, message not signed" \
    grep -qx 'signed 0' "$WT/none-skip.txt"
it_check "unpublished_keys = skip: message accepted all the same" \
    grep -q 'accepted 1 ' "$WT/none-skip.txt"
it_check "unpublished_keys = skip: no DKIM-Signature in the message" \
    test "$(it_dkim_count "$WT/none-skip/1-1.eml")" = 0
it_check "unpublished_keys = skip: logged as not signing" \
    logged 'none\.example\.com: selector n1 skipped: record missing; selector n2 skipped: record missing \(no published key: not signing\)'

# 4. a record corrected in DNS is seen by the periodic check
signs_with periodic-before pub.example.com p1024
sed -i '/^p2048\._domainkey\.pub\.example\.com\./d' "$IT_DIR/zones/example.com.records"
it_zone_add example.com "$(sed 's/\tIN\t/\t1\tIN\t/' "$K/p2048.txt")"
it_dns_reload || { echo "Bail out! knotd reload"; exit 1; }
it_check "periodic: corrected record now served" \
    value_is "$(dns_value p2048._domainkey.pub.example.com)" "$(txt_value < "$K/p2048.txt")"
it_check "periodic: key_check_interval = 2s logs p2048 published, no restart" \
    it_wait_logged 10 'key p2048 of pub\.example\.com \(2048 bits\): record published'
signs_with periodic-after pub.example.com p2048
it_check "periodic: no reload happened (same process, no reload logged)" \
    sh -c "kill -0 $pidA && ! grep -q 'configuration reloaded' '$IT_DIR/log/milter.log'"
it_milter_stop

# --------------------------------- daemon B: sign, no periodic check (0)
confB=$IT_DIR/milter/b.conf
it_authmilter_conf "$confB"
cat >> "$confB" <<EOF
unpublished_keys   = sign
key_check_interval = 0
EOF
conf_keys "$confB" none.example.com "n1 $K/n1.pem" "n2 $K/n2.pem"
conf_keys "$confB" hup.example.com "h1 $K/h1.pem" "h2 $K/h2.pem"
conf_keys "$confB" fb.example.com "s2048 $K/s2048.pem" "s1024 $K/s1024.pem"
# a reload with DNS down waits dns_timeout per key
sed -i 's/^dns_timeout .*/dns_timeout     = 1s/' "$confB"
it_milter_start_authmilter "$confB" || { echo "Bail out! authmilter"; exit 1; }
pidB=$IT_LAST_PID
it_check "start B: the background key check pass ends" \
    it_wait_logged 10 'key check: pass done in'

# 3 (cont.). no key published, unpublished_keys = sign: the first one signs
send none-sign none.example.com -e 1
it_check "unpublished_keys = sign: signed with the first key, n1" \
    test "$(selectors_of "$WT/none-sign/1-1.eml")" = n1
it_check "unpublished_keys = sign: logged (the message at debug; the states at warning, once)" \
    logged 'none\.example\.com: .*\(no published key: signing with the first anyway\)'

# 4 (cont.). SIGHUP re-checks the records
signs_with hup-before hup.example.com h2
it_zone_add example.com "$(cat "$K/h1.txt")"
it_dns_reload || { echo "Bail out! knotd reload"; exit 1; }
send hup-nocheck hup.example.com -e 1
it_check "SIGHUP: without a check the daemon keeps h2 (key_check_interval = 0)" \
    test "$(selectors_of "$WT/hup-nocheck/1-1.eml")" = h2
it_check "SIGHUP: the h2 signature verifies with dkimpy" \
    it_dkimverify --min 1 --expect-domains hup.example.com "$WT/hup-nocheck/1-1.eml"
it_log_mark
kill -HUP "$pidB"
it_check "SIGHUP: reload logged" it_wait_logged 5 'configuration reloaded'
it_check "SIGHUP: h1 re-checked and logged published" \
    it_wait_logged 2 'key h1 of hup\.example\.com \(2048 bits\): record published'
signs_with hup-after hup.example.com h1
unset IT_LOG_FROM

# "On unknown, keep the current choice" across a reload: fb's s2048 is
# known truncated; a SIGHUP while DNS does not answer must not forget that
# and sign with the cut key.
signs_with hup-fb fb.example.com s1024
it__stop knot
it_log_mark
kill -HUP "$pidB"
it_check "SIGHUP, DNS down: reload done at once, the known states carried over" \
    it_wait_logged 5 'configuration reloaded from .*: 3 domains loaded, 0 failed;.* 6 key states carried over;'
it_check "SIGHUP, DNS down: s2048 (not published) looked up again, no answer, truncated kept" \
    it_wait_logged 10 'key s2048 of fb\.example\.com: s2048\._domainkey\.fb\.example\.com: DNS [a-z]*; keeping "truncated"'
unset IT_LOG_FROM
send hup-fb-dnsdown fb.example.com -e 1
it_check "SIGHUP, DNS down: still signed with s1024, not the truncated s2048" \
    test "$(selectors_of "$WT/hup-fb-dnsdown/1-1.eml")" = s1024
it_dns_start || { echo "Bail out! knotd restart"; exit 1; }
it_check "SIGHUP, DNS down: the s1024 signature verifies once DNS is back" \
    it_dkimverify --min 1 --expect-domains fb.example.com "$WT/hup-fb-dnsdown/1-1.eml"
it_milter_stop

# ---------------------------------------------- 5. scheduled switch (clock)
# A date two days back, so that signatures made "now" verify; the daemon's
# clock is set around it.
day=$(date -u -d '2 days ago' +%Y-%m-%d)
switch=$(date -u -d "${day}T08:00Z" +%s)
confC=$IT_DIR/milter/c.conf
it_authmilter_conf "$confC"
conf_keys "$confC" sched.example.com "new $K/new.pem not_before=${day}T08:00Z" \
    "old $K/old.pem"
sched_run() {   # sched_run NAME TIME WANT - TIME empty: the real clock
    local name=$1 t=$2 want=$3
    if [ -n "$t" ]; then
        AUTHMILTER_TEST_TIME=$t it_milter_start_authmilter "$confC" \
            || { it_fail "$name: authmilter starts"; return; }
    else
        it_milter_start_authmilter "$confC" || { it_fail "$name: authmilter starts"; return; }
    fi
    signs_with "$name" sched.example.com "$want"
    it_milter_stop
}
sched_run "not_before: a day before" $((switch - 86400)) old
sched_run "not_before: one second before" $((switch - 1)) old
sched_run "not_before: at the moment" "$switch" new
sched_run "not_before: real clock, two days after" "" new

# ------------------------------------------------------ 6. authmilter-check
confD=$IT_DIR/milter/d.conf
it_authmilter_conf "$confD"
for d in good.test spf10.test spf11.test dmarc2.test nodmarc.test; do
    conf_keys "$confD" "$d" "c1 $K/c1.pem"
done

run_check good "$confD" good.test
it_check "check good.test: exit 0" test "$CHECK_RC" = 0
it_check "check good.test: DKIM OK, published 2048-bit split record" \
    chk_line good '^OK +DKIM c1\._domainkey +published: rsa 2048-bit key; record 410 chars in [2-9] string'
it_check "check good.test: SPF OK with 2 lookups" chk_line good '^OK +SPF +2 of 10 DNS lookups'
it_check "check good.test: DMARC OK p=reject" chk_line good '^OK +DMARC _dmarc +p=reject'
it_check "check good.test: no WARN or FAIL" it_nomatch grep -qE '^(WARN|FAIL)' "$WT/good.chk"

run_check spf10 "$confD" spf10.test
it_check "check spf10.test: 10 lookups is within the limit (exit 0)" test "$CHECK_RC" = 0
it_check "check spf10.test: SPF OK, 10 of 10" chk_line spf10 '^OK +SPF +10 of 10 DNS lookups'

run_check spf11 "$confD" spf11.test
it_check "check spf11.test: exit 1" test "$CHECK_RC" = 1
it_check "check spf11.test: SPF FAIL naming 11 lookups" chk_line spf11 '^FAIL SPF +11 of 10 DNS lookups'

run_check dmarc2 "$confD" dmarc2.test
it_check "check dmarc2.test: exit 1" test "$CHECK_RC" = 1
it_check "check dmarc2.test: DMARC FAIL, 2 records" chk_line dmarc2 '^FAIL DMARC _dmarc +2 DMARC records'

run_check nodmarc "$confD" nodmarc.test
it_check "check nodmarc.test: WARN only, exit 0" test "$CHECK_RC" = 0
it_check "check nodmarc.test: DMARC WARN, no record" chk_line nodmarc '^WARN DMARC _dmarc +no DMARC record'

run_check all "$confD"
it_check "check, all domains: exit 1 when any fails" test "$CHECK_RC" = 1
it_check "check, all domains: one verdict line per domain" \
    test "$(grep -cE '^(OK  |WARN|FAIL) [a-z0-9]+\.test$' "$WT/all.chk")" = 5
run_check unknown "$confD" nosuch.test
it_check "check: a domain without a block is a FAIL, exit 1" \
    sh -c "[ $CHECK_RC = 1 ] && grep -q '^FAIL nosuch.test' '$WT/unknown.chk'"

it_done
