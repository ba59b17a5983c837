#!/usr/bin/env bash
# shellcheck disable=SC2317
# (SC2317: the helpers run through it_check, which shellcheck cannot follow)
# test_keycheck.sh - the key publication checks run in the background and
# never hold up serving or stopping: with DNS unreachable (dnsdrop.py
# swallowing every query) the first message is signed at once, not after
# dns_timeout x keys; the states fill in once DNS answers again; the
# states file (state_dir) carries them across a restart, so a record known
# missing is not used while DNS is down; key_check = no looks nothing up;
# SIGTERM while the checks wait on DNS, right after a SIGHUP, and while a
# reload waits for its keys (the key reader held with SIGSTOP) ends the
# daemon in seconds, with a message in flight (drain.py) still finished.
# Times are asserted loosely: well under what waiting for DNS would take.
# test/bench/milterload plays the MTA.
#
# Output is TAP. Environment: see lib.sh. Nothing leaves 127.0.0.1.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

it_init keycheck

ML=$BUILD_DIR/test/bench/milterload
it_require "$ML" "$AUTHMILTER"
it_plan 32
WT=$IT_DIR/tmp
STATE=$IT_DIR/state
DROP=$IT_DIR/tmp/drop
NKEYS=8         # d1..d8.kc.test, one published key each

# ---------------------------------------------------------------- helpers

# send NAME FROMDOMAIN [MILTERLOAD ARGS...] - one authenticated message
# from FROMDOMAIN through the milter into $WT/NAME/1-1.eml
send() {
    local name=$1 dom=$2
    shift 2
    rm -rf "${WT:?}/$name"
    mkdir -p "$WT/$name"
    "$ML" -S "$IT_MILTER_SOCKET" -a alice -F "$dom" -m 1 -o "$WT/$name" "$@" \
        > "$WT/$name.txt" 2>&1
}

# selector_of FILE - the s= of the first DKIM-Signature in FILE
selector_of() {
    tr -d '\r' < "$1" | sed -e ':a' -e 'N' -e '$!ba' -e 's/\n[ \t][ \t]*/ /g' \
        | grep -i '^DKIM-Signature:' | head -n 1 \
        | grep -o ';[[:space:]]*s=[^;[:space:]]*' | sed 's/.*s=//'
}

# within SECS T0 - less than SECS seconds passed since T0 (date +%s.%N)
within() {
    awk -v now="$(date +%s.%N)" -v t0="$2" -v limit="$1" 'BEGIN {
        printf "%.2f s (limit %s s)\n", now - t0, limit; exit !(now - t0 < limit) }'
}

# reloaded_here - this milter run logged a reload
reloaded_here() {
    it_milter_log | grep -q 'configuration reloaded'
}

# states_published N - the states file lists N keys as published
states_published() {
    [ "$(grep -c ' published$' "$STATE/keystates" 2>/dev/null)" = "$1" ]
}

# mkconf FILE [OPTION = VALUE]... - the harness's conf with DNS through
# dnsdrop, the state dir, the options given, and the domain blocks
mkconf() {
    local file=$1 i opt
    shift
    it_authmilter_conf "$file"
    sed -i "s/^dns_servers .*/dns_servers     = 127.0.0.1@$DROP_PORT/" "$file"
    for opt in "state_dir = $STATE" "unpublished_keys = skip" "$@"; do
        if grep -q "^${opt%% *} " "$file"; then
            sed -i "s|^${opt%% *} .*|$opt|" "$file"
        else
            echo "$opt" >> "$file"
        fi
    done
    {
        for ((i = 1; i <= NKEYS; i++)); do
            printf 'domain d%d.kc.test {\n    key = s1 %s\n}\n' "$i" "${KEY[$i]}"
        done
        printf 'domain miss.kc.test {\n    key = m1 %s\n    key = m2 %s\n}\n' \
            "$MISS1" "$MISS2"
    } >> "$file"
}

# ---------------------------------------------------------------- set-up
declare -a KEY
for ((i = 1; i <= NKEYS; i++)); do
    KEY[i]=$(it_keygen "d$i.kc.test" s1 ed25519) || exit 1
done
# miss: m1 has no record, m2 has one
MISS1=$(it_keygen miss.kc.test m1 ed25519) || exit 1
: > "$IT_DIR/zones/miss.kc.test.records"
MISS2=$(it_keygen miss.kc.test m2 ed25519) || exit 1
# big: a record of some 1,700 bytes (notes in n=): knotd truncates it over
# UDP (EDNS 1232), the checker asks again over TCP
BIG=$IT_DIR/keys/big.kc.test.b1.pem
(umask 077 && openssl genpkey -algorithm ed25519 -out "$BIG") 2>/dev/null || exit 1
pad=$(printf '%0250d' 0 | tr 0 x)
it_zone_add big.kc.test "b1._domainkey.big.kc.test. 300 IN TXT ( \"v=DKIM1; k=ed25519; n=\" $(for _ in 1 2 3 4 5 6; do printf '"%s" ' "$pad"; done)\"; p=$(openssl pkey -in "$BIG" -pubout -outform DER | tail -c 32 | base64 -w0)\" )"
mkdir -p "$STATE"
it_dns_start || { echo "Bail out! knotd"; exit 1; }
it_free_port DROP_PORT
echo '*' > "$DROP"
it__bg dnsdrop "$IT_DIR/log/dnsdrop.log" "$IT_PY" "$IT_LIB_DIR/dnsdrop.py" \
    "$DROP_PORT" "$IT_DNS_PORT" "$DROP"
it_wait_for 10 grep -q "^dnsdrop:" "$IT_DIR/log/dnsdrop.log" ||
    { echo "Bail out! dnsdrop.py did not start"; exit 1; }

# ------------------------------------ 1. DNS unreachable at start: serve now
# Nine keys, 3 s per query, two at a time: the old start-up check would
# have taken 27 s before the first reply.
conf=$IT_DIR/milter/a.conf
mkconf "$conf" "dns_timeout = 3s" "key_check_concurrency = 2" \
    "key_check_interval = 3s"
t0=$(date +%s.%N)
it_milter_start_authmilter "$conf" || { echo "Bail out! authmilter"; exit 1; }
send first d1.kc.test -e 1
it_check "DNS unreachable at start: the first message is signed (s1)" \
    test "$(selector_of "$WT/first/1-1.eml")" = s1
it_check "DNS unreachable at start: ... within 8 s of the start, not 27 s" \
    within 8 "$t0"
it_check "the start logs the background pass: 10 keys, 2 at a time" \
    it_wait_logged 5 'key check: 10 keys, 10 to look up now, 2 at a time, at most 2000 a second, asking the DNS servers directly'
it_check "the lookups were sent (and swallowed by dnsdrop)" \
    it_wait_for 5 grep -q '_domainkey.*TXT' "$DROP.log"
# unknown keys behave as unchecked: m1 (no record) is still used
send miss-unknown miss.kc.test -e 1
it_check "DNS unreachable: miss's m1, not checked yet, signs as unchecked keys do" \
    test "$(selector_of "$WT/miss-unknown/1-1.eml")" = m1

# ------------------------------------------- 2. DNS back: states fill in
: > "$DROP"
it_check "DNS back: every key's state known within 20 s (states file: 9 published)" \
    it_wait_for 20 states_published $((NKEYS + 1))
it_check "DNS back: m1 logged missing" \
    it_wait_logged 10 'key m1 of miss\.kc\.test \(256 bits\): record missing'
it_check "DNS back: the states file lists m1 as missing" \
    it_wait_for 10 grep -q '^miss\.kc\.test m1 [0-9a-f]\{32\} missing$' "$STATE/keystates"
send miss-known miss.kc.test -e 1
it_check "DNS back: miss now signs with m2 (m1 known missing)" \
    test "$(selector_of "$WT/miss-known/1-1.eml")" = m2
it_milter_stop
it_check "no temporary states file left behind" test ! -e "$STATE/keystates.tmp"

# ----------------------------- 3. a restart begins from the states file
echo '*' > "$DROP"
it_milter_start_authmilter "$conf" || { echo "Bail out! authmilter"; exit 1; }
it_check "restart: states restored from the file" \
    it_wait_logged 5 "key states: 10 restored from $STATE/keystates"
send miss-restored miss.kc.test -e 1
it_check "restart, DNS unreachable: miss signs with m2 (m1 missing, from the file)" \
    test "$(selector_of "$WT/miss-restored/1-1.eml")" = m2

# ----------------------- 4. SIGTERM while the checks wait on DNS (30 s)
it_milter_stop
: > "$DROP.log"
conf=$IT_DIR/milter/b.conf
mkconf "$conf" "dns_timeout = 30s" "key_check_concurrency = 4"
# drain.py writes From: a@example.com
printf 'domain example.com {\n    key = s1 %s\n}\n' "${KEY[1]}" >> "$conf"
it_milter_start_authmilter "$conf" || { echo "Bail out! authmilter"; exit 1; }
pid=$IT_LAST_PID
it_wait_for 5 grep -q '_domainkey.*TXT' "$DROP.log"
# 11 lookups, 4 at a time, each unanswered for seconds: the pass is under
# way while the message is held and the signal comes
rm -f "$WT/ready" "$WT/go"
"$IT_PY" "$IT_LIB_DIR/drain.py" "$IT_MILTER_SOCKET" DRAIN1 "$WT/ready" "$WT/go" \
    > "$WT/drain.txt" 2>&1 &
drain=$!
it_check "mid-check: a message is served and held open at once (within 5 s)" \
    it_wait_for 5 test -e "$WT/ready"
it_check "mid-check: the start-up pass is not over" \
    it_nomatch grep -q 'key check: pass done' <(it_milter_log)
t0=$(date +%s.%N)
kill -TERM "$pid"
it_check "SIGTERM mid-check: the stop is logged at once" \
    it_wait_logged 2 'stopping; letting messages in flight finish'
touch "$WT/go"
wait "$drain"
rc=$?
sed 's/^/#   /' "$WT/drain.txt"
it_check "SIGTERM mid-check: the message in flight finished and was signed" \
    sh -c "[ $rc = 0 ] && grep -qx signed '$WT/drain.txt'"
it_check "SIGTERM mid-check: exited within 5 s" \
    it_wait_for 5 it_not it__alive "$pid"
it_check "... measured from the signal" within 6 "$t0"
it_milter_stop

# ------------------------- 5. SIGTERM right after a SIGHUP, DNS down
: > "$DROP.log"
it_milter_start_authmilter "$conf" || { echo "Bail out! authmilter"; exit 1; }
pid=$IT_LAST_PID
it_wait_for 5 grep -q '_domainkey.*TXT' "$DROP.log"
# a new key: the reload has something to look up
sed -i "s|key = m2 .*|key = m2 ${KEY[1]}|" "$conf"
kill -HUP "$pid"
sleep 0.3
t0=$(date +%s.%N)
kill -TERM "$pid"
it_check "SIGTERM after SIGHUP: exited within 5 s" \
    it_wait_for 5 it_not it__alive "$pid"
it_check "... measured from the signal" within 6 "$t0"
it_milter_stop

# ------------------------------------------------ 6. key_check = no
echo '*' > "$DROP"
: > "$DROP.log"
conf=$IT_DIR/milter/c.conf
mkconf "$conf" "key_check = no"
rm -f "$STATE/keystates"
it_milter_start_authmilter "$conf" || { echo "Bail out! authmilter"; exit 1; }
send off miss.kc.test -e 1
sleep 1
it_check "key_check = no: not one key record looked up" \
    it_nomatch grep -q '_domainkey' "$DROP.log"
it_milter_stop

# ------------------------- 7. SIGTERM while a reload waits for its keys
# With a run-as user a reload reads the keys through the root key reader;
# stopping that process (SIGSTOP) holds the reload mid-way for as long as
# we like. (A daemon that reloads in its signal thread never sees SIGTERM.)
conf=$IT_DIR/milter/d.conf
mkconf "$conf" "user = nobody" "key_check = no"
sed -i '/^state_dir /d' "$conf"
it_milter_start_authmilter "$conf" || { echo "Bail out! authmilter"; exit 1; }
pid=$IT_LAST_PID
reader=$(pgrep -P "$pid" | head -n 1)
it_check "user = nobody: the root key reader runs" test -n "$reader"
kill -STOP "$reader"
kill -HUP "$pid"
sleep 0.5
t0=$(date +%s.%N)
kill -TERM "$pid"
it_check "SIGTERM mid-reload: exited within 5 s, the reload still waiting" \
    it_wait_for 5 it_not it__alive "$pid"
it_check "... measured from the signal" within 6 "$t0"
it_check "SIGTERM mid-reload: the reload is abandoned, said so" \
    it_wait_logged 1 'a reload is under way: it will not be installed'
it_check "SIGTERM mid-reload: no configuration was installed" it_nomatch reloaded_here
kill -CONT "$reader" 2>/dev/null
it_check "the key reader ends with the daemon" it_wait_for 5 it_not it__alive "$reader"
kill -9 "$reader" 2>/dev/null
it_milter_stop

# -------------- 8. straight to knotd: a record too big for UDP, and DNSSEC
# The checker's stub asks knotd itself; big.kc.test's answer comes back
# truncated and is asked again through libunbound (TCP).
conf=$IT_DIR/milter/e.conf
mkconf "$conf" "key_check_interval = 0"
sed -i "s/^dns_servers .*/dns_servers     = 127.0.0.1@$IT_DNS_PORT/" "$conf"
printf 'domain big.kc.test {\n    key = b1 %s\n}\n' "$BIG" >> "$conf"
rm -f "$STATE/keystates"
it_milter_start_authmilter "$conf" || { echo "Bail out! authmilter"; exit 1; }
it_check "DNS servers named, no DNSSEC: the checker asks them directly" \
    it_wait_logged 5 'key check: 11 keys, 11 to look up now, 128 at a time, at most 2000 a second, asking the DNS servers directly'
it_check "a record truncated over UDP (about 1,700 bytes) is read over TCP: published" \
    it_wait_for 20 grep -q '^big\.kc\.test b1 [0-9a-f]\{32\} published$' "$STATE/keystates"
it_check "... and every other key's state is known (10 published, m1 missing)" \
    it_wait_for 20 states_published $((NKEYS + 2))
it_milter_stop
# with a trust anchor the checks go through libunbound (which validates)
echo ". IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D" \
    > "$IT_DIR/tmp/ta"
echo "trust_anchor_file = $IT_DIR/tmp/ta" >> "$conf"
it_milter_start_authmilter "$conf" || { echo "Bail out! authmilter"; exit 1; }
it_check "with trust_anchor_file the checker resolves through libunbound" \
    it_wait_logged 5 'key check: 11 keys, .* a second, through libunbound'
it_milter_stop
sed -i '/^trust_anchor_file /d' "$conf"
echo "key_check_direct = no" >> "$conf"
it_milter_start_authmilter "$conf" || { echo "Bail out! authmilter"; exit 1; }
it_check "key_check_direct = no: through libunbound too" \
    it_wait_logged 5 'key check: 11 keys, .* a second, through libunbound'
it_milter_stop

it_done
