#!/bin/bash
# test_idle_connections.sh - MTA connections that stay open and silent
# (Postfix keeps one per smtpd process): the builtin engine parks them
# (no thread each) and resumes each where it was (issue 20).
#   - 300 connections greeted and left idle: the daemon's thread count
#     stays far below 300, the metrics count them parked; then a message
#     on every one of them, each answered and signed, every signature
#     verified by dkimpy;
#   - a message paused after its headers is parked mid-message (metrics)
#     and resumed: signed and verified;
#   - connections closed by the MTA while parked are cleaned up: the
#     control socket's connection count comes back to 0;
#   - a reload while a connection is parked: its next message uses the
#     new configuration (a connection takes the snapshot current at each
#     MAIL FROM: state.c), the one before it the old;
#   - SIGTERM with 50 parked idle connections and one message in flight:
#     the message finishes signed, the idle connections are closed by the
#     daemon, which exits 0 within 1 s of the message's end;
#   - with milter_timeout = 2s, parked connections silent that long are
#     closed by the daemon, each with its log line.
# Signatures are checked with dkimpy against keys served by knotd.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
it_init idle_connections

ML=$BUILD_DIR/test/bench/milterload
CTL=$BUILD_DIR/milter/authmilterctl
it_require "$ML" "$CTL" curl
it_plan 21
MPORT=${IT_METRICS_PORT:-}     # the daemon's metrics
it_free_port MPORT
out=$IT_DIR/tmp
IDLE=$IT_LIB_DIR/idle.py

s1=$(it_keygen example.com s1 rsa 2048) || exit 1
s2=$(it_keygen example.com s2 rsa 2048) || exit 1
it_dns_start || { echo "Bail out! knotd"; exit 1; }

conf=$IT_DIR/milter/idle.conf
it_authmilter_conf "$conf"
sed -i 's/^log_level .*/log_level       = info/' "$conf"
echo "metrics_listen  = 127.0.0.1:$MPORT" >> "$conf"
printf 'domain example.com {\n    key = s1 %s\n}\n' "$s1" >> "$conf"
it_milter_start_authmilter "$conf" || { echo "Bail out! authmilter"; exit 1; }
pid=$IT_LAST_PID

# threads - the daemon's thread count
threads() {
    awk '$1 == "Threads:" { print $2 }' "/proc/$pid/status"
}

# conns - MTA connections open, as the control socket counts them
conns() {
    "$CTL" -c "$conf" status --json | "$IT_PY" -c \
        'import json, sys; print(json.load(sys.stdin)["connections"])'
}

# selector_of FILE - the s= of the first DKIM-Signature
selector_of() {
    tr -d '\r\n\t ' < "$1" | grep -o 'DKIM-Signature:[^:]*' | head -1 \
        | grep -o ';s=[a-z0-9]*' | head -1 | cut -c4-
}

# --- 300 idle connections, then a message on each -------------------------
mkdir -p "$out/idle"
"$ML" -S "$IT_MILTER_SOCKET" -a alice -I 300 -P 300 -H 8 -c 1 -m 1 -e 301 \
    -t 60 -T 30 -o "$out/idle" > "$out/idle.txt" 2> "$out/idle.err" &
ml=$!
it_wait_for 30 grep -q "300 idle connections open" "$out/idle.err" ||
    echo "# milterload did not open its idle connections: $(cat "$out/idle.err")"
sleep 1
n=$(threads)
c=$(conns)
p=$(curl -s "http://127.0.0.1:$MPORT/metrics" | awk '$1 == "authmilter_connections_parked" { print $2 }')
echo "# 300 idle connections: $n daemon threads, $c connections counted, $p parked"
it_check "300 idle connections: the daemon has far fewer threads ($n < 100)" \
    test "${n:-999}" -lt 100
it_check "300 idle connections: all counted open by the control socket ($c)" \
    test "${c:-0}" -ge 300
it_check "300 idle connections: the metrics count them parked ($p)" \
    test "${p:-0}" -ge 300
wait "$ml"
rc=$?
sed 's/^/#   /' "$out/idle.txt" "$out/idle.err"
it_check "300 idle connections: a message on every one answered and signed (exit $rc)" \
    sh -c "[ $rc = 0 ] && grep -q '^idle 300 open 0 failed; probes sent 300 completed 300 signed 300 errors 0' '$out/idle.txt'"
it_check "300 idle connections: all 301 messages verify with dkimpy" \
    sh -c "[ \$(find '$out/idle' -name '*.eml' | wc -l) = 301 ] &&
           find '$out/idle' -name '*.eml' -print0 | xargs -0 '$IT_PY' \
           '$IT_LIB_DIR/dkimverify.py' --dns-port '$IT_DNS_PORT' --min 1 \
           --expect-domains example.com > '$out/idle.verify' 2>&1"
it_check "300 idle connections: connection count back to 0" \
    it_wait_for 10 sh -c "[ \"\$('$CTL' -c '$conf' status --json | '$IT_PY' -c 'import json,sys; print(json.load(sys.stdin)[\"connections\"])')\" = 0 ]"

# --- parked mid-message ---------------------------------------------------
"$IT_PY" "$IDLE" midmsg "$IT_MILTER_SOCKET" "$out/mid.eml" 1.5 > "$out/mid.txt" 2>&1 &
mp=$!
sleep 0.8
n=$(threads)
p=$(curl -s "http://127.0.0.1:$MPORT/metrics" | awk '$1 == "authmilter_connections_parked" { print $2 }')
echo "# a message paused after its headers: $n daemon threads, $p parked"
it_check "paused after its headers: the connection is parked mid-message ($p)" \
    test "${p:-0}" = 1
wait "$mp"
rc=$?
sed 's/^/#   /' "$out/mid.txt"
it_check "paused after its headers: resumed, answered continue and signed" \
    sh -c "[ $rc = 0 ] && grep -qx signed '$out/mid.txt' && grep -qx 'reply c' '$out/mid.txt'"
it_check "paused after its headers: the signature verifies with dkimpy" \
    it_dkimverify --min 1 --expect-domains example.com "$out/mid.eml"

# --- closed by the MTA while parked ----------------------------------------
it_check "20 connections closed while parked: the client saw them through" \
    "$IT_PY" "$IDLE" closeparked "$IT_MILTER_SOCKET" 20 1
it_check "20 connections closed while parked: the control socket counts 0" \
    it_wait_for 10 sh -c "[ \"\$('$CTL' -c '$conf' status --json | '$IT_PY' -c 'import json,sys; print(json.load(sys.stdin)[\"connections\"])')\" = 0 ]"
it_check "closed while parked: no error logged" \
    it_nomatch grep -E "error|corrupt|AddressSanitizer" "$IT_DIR/log/milter.log"

# --- a reload while parked ----------------------------------------------------
rm -f "$out/ready" "$out/go"
"$IT_PY" "$IDLE" reload "$IT_MILTER_SOCKET" "$out/ready" "$out/go" \
    "$out/r1.eml" "$out/r2.eml" > "$out/reload.txt" 2>&1 &
rp=$!
it_wait_for 30 test -e "$out/ready" || echo "# idle.py reload not ready"
sleep 0.3       # parked by now
it_log_mark
sed -i "s|key = s1 .*|key = s2 $s2|" "$conf"
kill -HUP "$pid"
it_wait_logged 20 "configuration reloaded" > /dev/null
unset IT_LOG_FROM
touch "$out/go"
wait "$rp"
rc=$?
sed 's/^/#   /' "$out/reload.txt"
it_check "reload while parked: both messages on the connection answered and signed" \
    sh -c "[ $rc = 0 ] && [ \$(grep -cx signed '$out/reload.txt') = 2 ]"
it_check "reload while parked: the message before it signed with s1 ($(selector_of "$out/r1.eml"))" \
    test "$(selector_of "$out/r1.eml")" = s1
it_check "reload while parked: the next message on it signed with s2 ($(selector_of "$out/r2.eml"))" \
    test "$(selector_of "$out/r2.eml")" = s2
it_check "reload while parked: both verify with dkimpy" \
    it_dkimverify --min 1 --expect-domains example.com "$out/r1.eml" "$out/r2.eml"

# --- SIGTERM: parked idle connections closed, the message in flight finishes --
rm -f "$out/ready1" "$out/go" "$out/hold.ready"
"$IT_PY" "$IDLE" hold "$IT_MILTER_SOCKET" 50 "$out/hold.ready" > "$out/hold.txt" 2>&1 &
hp=$!
"$IT_PY" "$IT_LIB_DIR/drain.py" "$IT_MILTER_SOCKET" IDLEDRAIN "$out/ready1" \
    "$out/go" > "$out/drain.txt" 2>&1 &
dp=$!
it_wait_for 30 test -e "$out/ready1" -a -e "$out/hold.ready" ||
    echo "# hold or drain not ready"
sleep 0.5       # all parked: the idle ones and the message mid-body
echo "# before SIGTERM: $(threads) daemon threads, $(conns) connections"
kill -TERM "$pid"
it_wait_for 10 grep -q "stopping; letting messages in flight finish" "$IT_DIR/log/milter.log" ||
    echo "# the stop was not logged"
sleep 0.3
t0=$(date +%s.%N)
touch "$out/go"
wait "$dp"
rc=$?
for _ in $(seq 100); do it__alive "$pid" || break; sleep 0.02; done
t1=$(date +%s.%N)
sed 's/^/#   /' "$out/drain.txt"
it_check "SIGTERM: the message in flight (parked mid-body) finished and signed" \
    sh -c "[ $rc = 0 ] && grep -qx signed '$out/drain.txt' && grep -qx 'reply c' '$out/drain.txt'"
secs=$(awk "BEGIN { printf \"%.2f\", $t1 - $t0 }")
it_check "SIGTERM: the daemon exited within 1 s of the message's end (${secs} s)" \
    sh -c "! { [ -e /proc/$pid/stat ] && [ \"\$(awk '{ print \$3 }' /proc/$pid/stat)\" != Z ]; } && awk 'BEGIN { exit !($secs < 1) }'"
wait "$hp"
rc=$?
sed 's/^/#   /' "$out/hold.txt"
it_check "SIGTERM: the daemon closed the 50 parked idle connections" \
    sh -c "[ $rc = 0 ] && grep -qx 'closed 50 of 50' '$out/hold.txt'"
it_milter_stop

# --- milter_timeout: a parked connection silent that long is closed ------------
conf=$IT_DIR/milter/timeout.conf
cp "$IT_DIR/milter/idle.conf" "$conf"
sed -i '/^metrics_listen/d' "$conf"
echo "milter_timeout  = 2s" >> "$conf"
it_milter_start_authmilter "$conf" || it_fail "authmilter with milter_timeout = 2s"
rm -f "$out/hold2.ready"
t0=$(date +%s)
"$IT_PY" "$IDLE" hold "$IT_MILTER_SOCKET" 5 "$out/hold2.ready" > "$out/hold2.txt" 2>&1
rc=$?
t1=$(date +%s)
sed 's/^/#   /' "$out/hold2.txt"
it_check "milter_timeout 2s: 5 parked connections closed by the daemon ($((t1 - t0)) s)" \
    sh -c "[ $rc = 0 ] && grep -qx 'closed 5 of 5' '$out/hold2.txt' && [ $((t1 - t0)) -ge 2 ] && [ $((t1 - t0)) -le 6 ]"
n=$(it_milter_log | grep -c "nothing from the MTA within milter_timeout; closing")
it_check "milter_timeout 2s: each logged as silent past milter_timeout ($n)" \
    test "$n" -ge 5
it_milter_stop

it_done
