#!/usr/bin/env bash
# test_history_pg.sh - the DMARC history in a shared PostgreSQL store: a
# private cluster (Debian's postgresql 15, initdb/postgres run as the
# postgres user, listening only on a unix socket in the work dir), two
# authmilter daemons writing into it at once (inbound mail from the
# milter load generator, each from its own client address); a VERP sender
# signed by one daemon gets a stored bounce address whose mapping is in
# the shared store, and a bounce to it through the other daemon goes back
# to the VERP sender; then the
# server stopped under load: mail keeps flowing (every message answered),
# the records that did not fit are counted, and writing resumes when the
# server is back; the exact accounting (rows + counted drops = messages)
# is checked. authmilter-report reads the store back (--dry-run) and
# prunes it; it imports received aggregate reports (test/reports) into the
# same store, a duplicate once, and sums them up (migration 3 in
# PostgreSQL).
# Needs root and a built daemon: AUTHMILTER=path, or BUILD_DIR with
# milter/authmilter in it. About 20 s.
# shellcheck disable=SC2317 # helpers run through it_check look unreachable
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

it_init history_pg
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
REPORT=${AUTHMILTER_REPORT:-$(dirname "$AUTHMILTER")/authmilter-report}
ML=${MILTERLOAD:-$BUILD_DIR/test/bench/milterload}
it_require "$AUTHMILTER" "$REPORT" "$ML" "$PGBIN/initdb" "$PGBIN/postgres" \
    setpriv psql
it_plan 21
Z=pg.example
it_zone_add $Z "$Z. 300 IN TXT \"v=spf1 ip4:192.0.2.0/24 -all\""
it_zone_add $Z "_dmarc.$Z. 300 IN TXT \"v=DMARC1; p=reject; rua=mailto:d@$Z\""
it_dns_start || { echo "Bail out! knotd"; exit 1; }

PGDIR=$IT_DIR/pg
PG_PORT=${IT_PG_PORT:-}
it_free_port PG_PORT
mkdir -p "$PGDIR"
chown postgres "$PGDIR"
# as_pg CMD... - run as the postgres user (exec: its pid is the server's)
as_pg() {
    setpriv --reuid=postgres --regid=postgres --init-groups "$@"
}
if ! as_pg "$PGBIN/initdb" -N -A trust -U postgres -D "$PGDIR/data" \
    > "$IT_DIR/log/initdb.log" 2>&1; then
    echo "Bail out! initdb (see $IT_DIR/log/initdb.log)"
    exit 1
fi
# pg_start - the server, on the unix socket $PGDIR/.s.PGSQL.$PG_PORT only
pg_start() {
    # setpriv itself (not as_pg, a function: a subshell) so that the pid
    # it__bg keeps is the server's
    it__bg postgres "$IT_DIR/log/postgres.log" setpriv --reuid=postgres \
        --regid=postgres --init-groups "$PGBIN/postgres" \
        -D "$PGDIR/data" -k "$PGDIR" -p "$PG_PORT" -c listen_addresses= \
        -c fsync=off
    it_wait_for 20 pg_up
}
# pg_up - the server takes queries
pg_up() {
    psql -h "$PGDIR" -p "$PG_PORT" -U postgres -Atc 'SELECT 1' postgres
}
# q SQL - one query's rows, fields separated by |
q() {
    psql -h "$PGDIR" -p "$PG_PORT" -U postgres -AtF '|' -c "$1" authmilter
}
pg_start || { echo "Bail out! postgres"; exit 1; }
psql -h "$PGDIR" -p "$PG_PORT" -U postgres -qc 'CREATE DATABASE authmilter' \
    postgres > /dev/null || { echo "Bail out! createdb"; exit 1; }
URI="postgresql:///authmilter?host=$PGDIR&port=$PG_PORT&user=postgres"

# mkconf FILE SOCKET - a daemon's conf writing into the shared store
mkconf() {
    it_authmilter_conf "$1"
    sed -i "s|^socket .*|socket = unix:$2|; s|^pidfile .*|pidfile = $1.pid|; s/^log_level.*/log_level = info/" "$1"
    cat >> "$1" <<EOF
history = $URI
report_sender = dmarc-reports@mx.test.example
EOF
}
S1=$IT_DIR/milter/a.sock
S2=$IT_DIR/milter/b.sock
mkconf "$IT_DIR/milter/a.conf" "$S1"
# a small queue: an outage of seconds overflows it
echo "history_queue = 300" >> "$IT_DIR/milter/a.conf"
mkconf "$IT_DIR/milter/b.conf" "$S2"
# both sign verp.example with one bounce secret: either maps the other's bounces
VKEY=$(it_keygen verp.example s1 rsa 1024) || { echo "Bail out! keygen"; exit 1; }
( umask 077; head -c 32 /dev/urandom > "$IT_DIR/keys/bounce.key" )
for f in a b; do
    printf 'bounce_secret = %s\ndomain verp.example {\n    key = s1 %s\n    bounce_domain = bounce.verp.example\n}\n' \
        "$IT_DIR/keys/bounce.key" "$VKEY" >> "$IT_DIR/milter/$f.conf"
done
it_milter_start_authmilter "$IT_DIR/milter/a.conf" || { echo "Bail out! authmilter a"; exit 1; }
it__bg milter2 "$IT_DIR/log/milter2.log" "$AUTHMILTER" -f -c "$IT_DIR/milter/b.conf"
it__wait_socket "unix:$S2" "$IT_LAST_PID" || { echo "Bail out! authmilter b"; exit 1; }

# load SOCKET IP N OUT [ARGS...] - N messages (4 connections) from client IP
load() {
    local sock=$1 ip=$2 n=$3 out=$4
    shift 4
    "$ML" -S "unix:$sock" -c 4 -m $((n / 4)) -i "$ip" -f "s@$Z" -F "$Z" \
        -s 2k -t 60 -q -j "$@" > "$out" 2> "$out.err"
}
# jget KEY FILE - a number of milterload's JSON line
jget() {
    sed -n "s/.*\"$1\": *\\([0-9.]*\\).*/\\1/p" "$2"
}
# rows_from IP N - the store holds N messages from IP
rows_from() {
    [ "$(q "SELECT COUNT(*) FROM messages WHERE source_ip = '$1'")" = "$2" ]
}
# a_drops - records daemon a dropped so far, both reasons (authmilterctl status)
a_drops() {
    "$BUILD_DIR/milter/authmilterctl" -c "$IT_DIR/milter/a.conf" status --json |
        "$IT_PY" -c 'import json, sys; h = json.load(sys.stdin)["history"]
print(h["dropped_queue_full"] + h["dropped_store_unavailable"])'
}
# a_settled IP N - daemon a wrote or dropped each of N messages from IP, none waits
a_settled() {
    local rows
    rows=$(q "SELECT COUNT(*) FROM messages WHERE source_ip = '$1'")
    [ $((rows + $(a_drops) - ${2#*+})) = "${2%+*}" ]
}

it_check "both daemons migrated the one store to version 4 (no race)" \
    test "$(q "SELECT string_agg(version::text, ',' ORDER BY version) FROM schema_version")" = "1,2,3,4"
load "$S1" 192.0.2.21 2000 "$IT_DIR/tmp/a.json" -R 1000 &
pa=$!
load "$S2" 192.0.2.22 2000 "$IT_DIR/tmp/b.json" -R 1000 &
pb=$!
wait $pa $pb
it_check "daemon a: 2000 messages answered, no error" test \
    "$(jget completed "$IT_DIR/tmp/a.json"):$(jget errors "$IT_DIR/tmp/a.json")" = "2000:0"
it_check "daemon b: 2000 messages answered, no error" test \
    "$(jget completed "$IT_DIR/tmp/b.json"):$(jget errors "$IT_DIR/tmp/b.json")" = "2000:0"
# daemon a's queue is small (300, for the outage below): on a slow host a
# burst may overflow it already here; what it drops it counts
it_check "the store holds daemon a's 2000 rows, or what it did not store counted as dropped" \
    it_wait_for 30 a_settled 192.0.2.21 2000+0
drops1=$(a_drops)
echo "# daemon a dropped $drops1 of its first 2000 records (queue of 300)"
it_check "and daemon b's 2000 rows, written at the same time" it_wait_for 30 rows_from 192.0.2.22 2000
it_check "the rows read right: spf pass aligned, dmarc pass, p=reject, rua" \
    test "$(q "SELECT DISTINCT spf_result || ' ' || spf_aligned || ' ' || result
        || ' ' || p || ' ' || rua FROM messages")" = "pass 1 pass reject mailto:d@$Z"

# PostgreSQL stopped under load (250 msg/s for 6 s), back after 2 s
load "$S1" 192.0.2.23 1500 "$IT_DIR/tmp/c.json" -R 250 &
pc=$!
sleep 1     # (the load's time line, not a wait for a state)
kill -INT "$(cat "$IT_DIR/tmp/postgres.pid")"    # fast shutdown
it__stop postgres
it_check "the daemon notices the store is down" \
    it_wait_logged 10 "history: (writing [0-9]+ records failed|store unavailable)"
sleep 2     # (the outage lasts while the load goes on)
pg_start || { echo "Bail out! postgres again"; exit 1; }
up_at=$(date +%s)
wait $pc
it_check "under the outage every message was answered, none failed" test \
    "$(jget completed "$IT_DIR/tmp/c.json"):$(jget errors "$IT_DIR/tmp/c.json")" = "1500:0"
it_check "writing resumed: rows stored after the server came back" \
    it_wait_for 15 test "$(q "SELECT COUNT(*) > 0 FROM messages WHERE source_ip = '192.0.2.23' AND received > $up_at")" = t
it_check "every message accounted for: rows + drops counted since the first load = 1500" \
    it_wait_for 30 a_settled 192.0.2.23 1500+$drops1
stored=$(q "SELECT COUNT(*) FROM messages WHERE source_ip = '192.0.2.23'")
dropped=$(($(a_drops) - drops1))
echo "# outage: $stored stored, $dropped dropped and counted"
it_check "some were dropped and counted (the store was down)" test "$dropped" -gt 0

# stored bounce addresses in the shared store: made by a, mapped back by b
VERP=bounces+newsletter-2026-12345-rcpt=john.doe=gmail.com@verp.example
"$ML" -S "unix:$S1" -a alice -F verp.example -f "$VERP" -r bob@dest.example \
    -m 1 -q -v > /dev/null 2> "$IT_DIR/tmp/verp-a.err"
RP=$(sed -n 's/.*chgfrom [0-9]* <\(ab2=[^>]*\)>.*/\1/p' "$IT_DIR/tmp/verp-a.err")
it_check "daemon a: the VERP sender rewritten to the stored form ($RP)" \
    grep -qE '^ab2=[a-z2-7]{26}@bounce\.verp\.example$' <<< "$RP"
it_check "the mapping is in PostgreSQL's bounce_tokens" \
    test "$(q "SELECT bounce_domain || ' ' || original FROM bounce_tokens WHERE token = '${RP:14:16}'")" \
    = "bounce.verp.example $VERP"
"$ML" -S "unix:$S2" -i 192.0.2.77 -F verp.example -f "<>" -r "$RP" -m 1 -q -v \
    > /dev/null 2> "$IT_DIR/tmp/verp-b.err"
it_check "daemon b: a bounce to it is delivered to the VERP sender" \
    grep -qF "addrcpt 0 <$VERP>" "$IT_DIR/tmp/verp-b.err"
it_milter_stop
it__stop milter2

# the report tool reads the shared store
conf=$IT_DIR/milter/a.conf
mkdir -p "$IT_DIR/tmp/dry"
it_check "authmilter-report reads the store: one report for $Z" sh -c \
    "'$REPORT' -c '$conf' send --begin $(( $(date +%s) - 3600 )) --end $(( $(date +%s) + 60 )) --dry-run '$IT_DIR/tmp/dry' | grep -q '^period .*: 1 domains to report'"
it_check "its counts (read by Mail::DMARC) are every row of the store" test \
    "$(perl "$IT_LIB_DIR/dmarc_report_read.pl" "$IT_DIR"/tmp/dry/*.eml 2> /dev/null | grep '^total ')" \
    = "total $Z $(q 'SELECT COUNT(*) FROM messages')"
it_check "prune empties the store" sh -c \
    "'$REPORT' -c '$conf' prune --before $(( $(date +%s) + 60 )) && [ \"\$(psql -h '$PGDIR' -p $PG_PORT -U postgres -Atc 'SELECT COUNT(*) FROM messages' authmilter)\" = 0 ]"

# received aggregate reports in the shared store
R=$IT_SRC_DIR/test/reports
it_check "import: three received reports into PostgreSQL" sh -c \
    "'$REPORT' -c '$conf' import '$R/google.xml' '$R/microsoft.xml' '$R/unaligned.xml' | grep -qx 'imported 3, duplicates 0, errors 0'"
it_check "the same report again is a duplicate (ON CONFLICT), nothing added" sh -c \
    "'$REPORT' -c '$conf' import '$R/google.xml' | grep -qx 'imported 0, duplicates 1, errors 0' && [ \"\$(psql -h '$PGDIR' -p $PG_PORT -U postgres -AtF '|' -c 'SELECT COUNT(*), SUM(count) FROM rua_rows' authmilter)\" = '5|1025' ]"
it_check "summary from PostgreSQL: 1025 messages, 95.6% passing, 2 unaligned sources" sh -c \
    "'$REPORT' -c '$conf' summary --domain customer.example --min-days 1 | grep -F 'not yet safe to move p=none → quarantine: 95.6% of 1025 messages pass DMARC over 5 days; unaligned: 2 sources, 4.3%'"
it_check "prune leaves the received reports" sh -c \
    "'$REPORT' -c '$conf' prune > /dev/null && [ \"\$(psql -h '$PGDIR' -p $PG_PORT -U postgres -Atc 'SELECT COUNT(*) FROM rua_reports' authmilter)\" = 3 ]"
kill -INT "$(cat "$IT_DIR/tmp/postgres.pid")"
it__stop postgres
it_done
