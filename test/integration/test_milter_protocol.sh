#!/bin/bash
# test_milter_protocol.sh - authmilter driven over the milter protocol by
# test/bench/milterload (the MTA side, as Postfix speaks it): unix, TCP and
# IPv6 sockets, concurrency, large and multipart messages, clients that hang
# up mid-message, background mode with a pid file, SIGTERM with messages in
# flight, and key rotation by editing the conf and sending SIGHUP under load.
# Signatures are checked with dkimpy against keys served by knotd.
. "$(dirname "$0")/lib.sh"
it_init milter_protocol
# hostile.py and order.py make fixed sets of cases: 92 checks in all
it_plan 95

ML=$BUILD_DIR/test/bench/milterload
it_require "$ML"
out=$IT_DIR/tmp

s1=$(it_keygen example.com s1 rsa 2048) || exit 1
s2=$(it_keygen example.com s2 rsa 2048) || exit 1
it_dns_start || { echo "Bail out! knotd"; exit 1; }

# mkconf FILE SOCKET SELECTOR KEY - a conf signing example.com
mkconf() {
    it_authmilter_conf "$1"
    sed -i "s|^socket .*|socket          = $2|" "$1"
    printf 'domain example.com {\n    key = %s %s\n}\n' "$3" "$4" >> "$1"
}

# selector_of FILE - the s= of the first DKIM-Signature
selector_of() {
    tr -d '\n\t ' < "$1" | grep -o 'DKIM-Signature:[^:]*' | head -1 \
        | grep -o ';s=[a-z0-9]*' | head -1 | cut -c4-
}

# verify_all DIR NAME - dkimpy verifies every message in DIR (one process)
verify_all() {
    local dir=$1 name=$2 n
    n=$(find "$dir" -name '*.eml' | wc -l)
    it_check "$name: all $n messages verify with dkimpy" \
        sh -c "[ $n -gt 0 ] && find '$dir' -name '*.eml' -print0 | xargs -0 \
            '$IT_PY' '$IT_LIB_DIR/dkimverify.py' --dns-port '$IT_DNS_PORT' \
            --min 1 --expect-domains example.com > '$dir.verify' 2>&1"
}

# --- unix socket -----------------------------------------------------------
conf=$IT_DIR/milter/unix.conf
mkconf "$conf" "unix:$IT_DIR/milter/authmilter.sock" s1 "$s1"
it_milter_start_authmilter "$conf" || { echo "Bail out! authmilter"; exit 1; }

mkdir -p "$out/unix"
it_check "unix: 4 connections x 25 messages of 10 KB, all signed, no errors" \
    "$ML" -S "$IT_MILTER_SOCKET" -a alice -c 4 -m 25 -s 10k -e 100 -o "$out/unix"
verify_all "$out/unix" unix
mkdir -p "$out/multi"
it_check "unix: multipart and 1 MB messages signed" \
    sh -c "'$ML' -S '$IT_MILTER_SOCKET' -a alice -m 3 -s multipart -e 3 -o '$out/multi' &&
           '$ML' -S '$IT_MILTER_SOCKET' -a alice -m 2 -s 1m -e 2"
verify_all "$out/multi" multipart
# the five must have been answered (completed, accepted): a dead milter
# signs nothing too
"$ML" -S "$IT_MILTER_SOCKET" -i 192.0.2.55 -m 5 > "$out/outside.txt" 2>&1
rc=$?
it_check "unix: outside client without auth is not signed" \
    sh -c "[ $rc = 0 ] && grep -q '^sent 5 completed 5 ' '$out/outside.txt' && grep -q '^errors 0 ' '$out/outside.txt' &&
           grep -qx 'signed 0' '$out/outside.txt'"

for stage in optneg connect header body; do
    it_check "client hanging up after $stage: milter survives" \
        sh -c "'$IT_PY' '$IT_LIB_DIR/disconnect.py' '$IT_MILTER_SOCKET' $stage &&
               '$ML' -S '$IT_MILTER_SOCKET' -a alice -m 2 -e 2"
done

# --- hostile and malformed messages: a defined answer, never a crash ----------
"$IT_PY" "$IT_LIB_DIR/hostile.py" "$out/hostile"
for f in "$out"/hostile/*.eml; do
    for mode in "-a alice" "-i 192.0.2.7"; do
        # shellcheck disable=SC2086
        it_check "hostile $(basename "$f" .eml) [${mode% *}]: answered, no protocol error" \
            sh -c "'$ML' -S '$IT_MILTER_SOCKET' $mode -M '$f' -m 1 -T 60 | grep -q '^errors 0 '"
    done
done
it_check "hostile: a From with an injected ';dkim=pass' is refused inbound" \
    sh -c "'$ML' -S '$IT_MILTER_SOCKET' -i 192.0.2.7 -M '$out/hostile/from-injection.eml' -m 1 | grep -q 'rejected 1'"
it_check "hostile: the daemon still signs afterwards" \
    "$ML" -S "$IT_MILTER_SOCKET" -a alice -m 2 -e 2

# --- rotation under load: edit the conf, SIGHUP, nothing lost ----------------
pid=$IT_LAST_PID
mkdir -p "$out/rot"
"$ML" -S "$IT_MILTER_SOCKET" -a alice -c 4 -m 600 -s 10k -e 2400 -o "$out/rot" \
    > "$out/rot.txt" 2>&1 &
load=$!
# reload once the stream is well under way
for _ in $(seq 200); do [ "$(ls "$out/rot" | wc -l)" -ge 100 ] && break; sleep 0.02; done
sed -i "s|key = s1 .*|key = s2 $s2|" "$conf"
kill -HUP "$pid"
wait "$load"
rc=$?
sed 's/^/#   /' "$out/rot.txt"
it_check "SIGHUP under load: all 2400 messages signed, none failed (exit $rc)" test "$rc" = 0
# per connection, selectors must read s1...s1 s2...s2: the switch happens
# between messages, never back, and every connection ends on the new key
seqs=""
for conn in 1 2 3 4; do
    seq=$(for i in $(seq 600); do selector_of "$out/rot/$conn-$i.eml"; done | uniq | tr '\n' ' ')
    seqs="$seqs[$seq]"
done
echo "# selector runs per connection: $seqs"
it_check "SIGHUP under load: messages before the reload signed with s1" \
    sh -c "echo '$seqs' | grep -q s1"
it_check "SIGHUP under load: each connection switched once, s1 then s2" \
    test "$(echo "$seqs" | sed 's/\[s1 s2 \]//g; s/\[s2 \]//g')" = ""
verify_all "$out/rot" rotation
it_check "reload logged" grep -q "configuration reloaded" "$IT_DIR/log/milter.log"

echo "bogus_option = 1" >> "$conf"
kill -HUP "$pid"
sleep 0.5
mkdir -p "$out/broken"
it_check "broken conf + SIGHUP: still signing" \
    "$ML" -S "$IT_MILTER_SOCKET" -a alice -m 3 -e 3 -o "$out/broken"
it_check "broken conf + SIGHUP: old selector s2 kept" \
    test "$(selector_of "$out/broken/1-1.eml")" = s2
it_check "broken conf + SIGHUP: error logged with file:line" \
    grep -q "reload failed, keeping the running configuration: $conf:[0-9]*: unknown option \"bogus_option\"" \
    "$IT_DIR/log/milter.log"
sed -i '/bogus_option/d' "$conf"

# --- a reload naming the other engine: it takes a restart ----------------------
engine=${AUTHMILTER_TEST_ENGINE:-builtin}
other=libmilter
[ "$engine" = libmilter ] && other=builtin
sed -i '/^milter_engine/d' "$conf"
echo "milter_engine   = $other" >> "$conf"
it_log_mark
kill -HUP "$pid"
it_check "engine change + SIGHUP: logged as taking a restart, $engine kept" \
    it_wait_logged 20 "milter_engine changed to $other: it takes a restart; still serving with the $engine engine"
unset IT_LOG_FROM
it_check "engine change + SIGHUP: still signing" \
    "$ML" -S "$IT_MILTER_SOCKET" -a alice -m 2 -e 2

# --- SIGTERM with messages in flight ------------------------------------------
# Two messages held open mid-body by drain.py while the milter is told to
# stop: provably in flight when the signal comes, finished and signed after
rm -f "$out/ready1" "$out/ready2" "$out/go"
for n in 1 2; do
    "$IT_PY" "$IT_LIB_DIR/drain.py" "$IT_MILTER_SOCKET" "DRAIN$n" "$out/ready$n" \
        "$out/go" > "$out/drain$n.txt" 2>&1 &
    eval "drain$n=\$!"
done
it_wait_for 30 test -e "$out/ready1" -a -e "$out/ready2" ||
    it_fail "SIGTERM: both messages held open in the milter" "drain.py not ready"
kill -TERM "$pid"
it_wait_for 10 grep -q "stopping; letting messages in flight finish" "$IT_DIR/log/milter.log" ||
    it_fail "SIGTERM: the stop is logged" "no log line"
touch "$out/go"
for n in 1 2; do
    eval "wait \$drain$n"
    rc=$?
    sed 's/^/#   /' "$out/drain$n.txt"
    it_check "SIGTERM: message $n, in flight at the signal, finished and signed" \
        sh -c "[ $rc = 0 ] && grep -qx signed '$out/drain$n.txt' && grep -qx 'reply c' '$out/drain$n.txt'"
done
it_check "SIGTERM: the log shows the stop before both held messages were signed" \
    awk '/stopping; letting messages in flight finish/ { stop = NR }
         /DRAIN[12]: signed d=/ { if (stop && NR > stop) n++ }
         END { exit !(n == 2) }' "$IT_DIR/log/milter.log"
it_milter_stop

# --- an MTA that does not offer SMFIP_HDR_LEADSPC ------------------------------
# Header values come without the space after the colon: a simple/simple
# domain is signed with relaxed headers (never a signature known to be
# invalid), and inbound simple signatures are verified with the space back
conf=$IT_DIR/milter/simple.conf
mkconf "$conf" "unix:$IT_DIR/milter/simple.sock" s1 "$s1"
sed -i 's/^domain example.com {$/&\n    canonicalization = simple\/simple/' "$conf"
it_milter_start_authmilter "$conf" || it_fail "authmilter with simple/simple"
NOLS=$IT_LIB_DIR/noleadspc.py
it_check "no HDR_LEADSPC: signed message relayed" \
    "$IT_PY" "$NOLS" "$IT_MILTER_SOCKET" sign "$out/noleadspc.eml"
it_check "no HDR_LEADSPC: the signature uses relaxed header canonicalization" \
    sh -c "tr -d '\r\n\t ' < '$out/noleadspc.eml' | grep -q 'c=relaxed/simple;'"
it_check "no HDR_LEADSPC: the signature verifies with dkimpy as the MTA writes it" \
    it_dkimverify --min 1 --expect-domains example.com "$out/noleadspc.eml"
it_check "no HDR_LEADSPC: the choice is logged" \
    grep -q "NOLS1: the MTA does not pass header leading spaces" "$IT_DIR/log/milter.log"
"$IT_PY" "$NOLS" "$IT_MILTER_SOCKET" verify "$s1" > "$out/noleadspc-ar.txt" 2>&1
sed 's/^/#   /' "$out/noleadspc-ar.txt"
it_check "no HDR_LEADSPC: an inbound simple/simple signature verifies (dkim=pass)" \
    grep -q "dkim=pass[^;]*header.d=example.com" "$out/noleadspc-ar.txt"
it_milter_stop

# --- TCP and IPv6 ----------------------------------------------------------------
port=$((IT_SMTP_PORT + 1000))
conf=$IT_DIR/milter/tcp.conf
mkconf "$conf" "inet:$port@127.0.0.1" s1 "$s1"
it_milter_start_authmilter "$conf" || it_fail "authmilter on inet:$port@127.0.0.1"
it_check "TCP: 16 connections x 10 messages, all signed" \
    "$ML" -S "inet:$port@127.0.0.1" -a alice -c 16 -m 10 -e 160
# one connection, messages back to back (a Nagle stall on replies, ~40 ms
# a message, is measured by make bench, not asserted here)
it_check "TCP: one connection, 20 messages back to back, all signed" \
    "$ML" -S "inet:$port@127.0.0.1" -a alice -c 1 -m 20 -e 20
it_check "TCP: the daemon's end of a connection has TCP_NODELAY" \
    "$IT_PY" "$IT_LIB_DIR/nodelay.py" "$IT_LAST_PID" "$port"
it_milter_stop

conf=$IT_DIR/milter/tcp6.conf
mkconf "$conf" "inet6:$port@::1" s1 "$s1"
it_milter_start_authmilter "$conf" || it_fail "authmilter on inet6:$port@::1"
it_check "IPv6: 4 connections x 5 messages over [::1], all signed" \
    "$ML" -S "inet6:$port@[::1]" -a alice -c 4 -m 5 -e 20
it_milter_stop

# --- background mode with a pid file -------------------------------------------
conf=$IT_DIR/milter/bg.conf
mkconf "$conf" "unix:$IT_DIR/milter/bg.sock" s1 "$s1"
sed -i 's/^log_destination .*/log_destination = syslog/' "$conf"
it_check "background: authmilter returns at once" "$AUTHMILTER" -c "$conf"
pidfile=$IT_DIR/milter/authmilter.pid
for _ in $(seq 50); do [ -S "$IT_DIR/milter/bg.sock" ] && [ -s "$pidfile" ] && break; sleep 0.1; done
bgpid=$(cat "$pidfile" 2>/dev/null)
it_check "background: pid file names a running authmilter" \
    grep -q authmilter "/proc/${bgpid:-0}/cmdline"
it_check "background: signs" "$ML" -S "unix:$IT_DIR/milter/bg.sock" -a alice -m 2 -e 2
kill -TERM "${bgpid:-0}" 2>/dev/null
for _ in $(seq 100); do [ -e "$pidfile" ] || break; sleep 0.1; done
it_check "background: SIGTERM removes the pid file" test ! -e "$pidfile"

# --- packets out of order (issue 12, finding 9) -------------------------------
# Orders no MTA sends close the connection (one log line); the odd orders
# Postfix and Sendmail do send are served. A small ASan quarantine, so that
# freed memory does not count in VmRSS.
conf=$IT_DIR/milter/order.conf
mkconf "$conf" "unix:$IT_DIR/milter/order.sock" s1 "$s1"
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=1" \
    it_milter_start_authmilter "$conf" || it_fail "authmilter for the order checks"
opid=$IT_LAST_PID
ORDER="$IT_LIB_DIR/order.py"
"$IT_PY" "$ORDER" "$IT_MILTER_SOCKET" cases > "$out/order-cases"
# With milter_engine = libmilter the order is libmilter's to check: it
# skips what it does not expect, with no log line of ours, and answers
# nothing to a RCPT after DATA (Postfix sends that only when DATA was not
# negotiated away, which authmilter asks for) nor serves a connection
# reused after QUIT_NC (authmilter(8), ENGINES): those cases are skipped.
lm_order=""
[ "${AUTHMILTER_TEST_ENGINE:-builtin}" = libmilter ] && lm_order=yes
while read -r c want; do
    if [ -n "$lm_order" ] && { [ "$want" = closes ] ||
        [ "$c" = rcpt-and-data-again ] || [ "$c" = quit-nc-reuse ]; }; then
        it_skip "order: $c ($want)" "libmilter engine: libmilter's own order handling"
        continue
    fi
    it_check "order: $c ($want)" "$IT_PY" "$ORDER" "$IT_MILTER_SOCKET" case "$c"
done < "$out/order-cases"
if [ -n "$lm_order" ]; then
    it_skip "order: one log line for each connection closed" "libmilter engine"
else
    it_check "order: one log line for each connection closed" \
        test "$(tail -n "+$((IT_MILTER_LOG_START + 1))" "$IT_DIR/log/milter.log" \
            | grep -c 'packet out of order')" = "$(grep -c ' closes$' "$out/order-cases")"
fi
it_check "order: 50 connections of 1 MB of headers and EOH twice: VmRSS bounded" \
    "$IT_PY" "$ORDER" "$IT_MILTER_SOCKET" flood "$opid" 50
it_check "order: the milter is still up" it__alive "$opid"
it_check "order: and still signs" "$ML" -S "$IT_MILTER_SOCKET" -a alice -m 2 -e 2
it_milter_stop

it_done
