#!/usr/bin/env bash
# bench-scale.sh - authmilter (and Debian's OpenDKIM) with many customer
# domains: start to first signed message (DNS local and unreachable),
# SIGHUP adding one domain, SIGTERM latency, signing throughput with many
# domains against few, a SIGHUP storm under load. Prints a table and writes
# it to $BENCH_OUT (the "Scale" part of docs/performance.md is made from it).
#
# "make bench-scale" runs it from the build dir. Each customer domain has
# its own key file; the keys are BENCH_SCALE_KEYS distinct RSA-2048 keys
# (generated once into BENCH_SCALE_CACHE, by openssl), published by knotd
# on loopback. Everything listens on 127.0.0.1 or unix sockets in the work
# dir; test/integration/lib.sh's trap stops every process on exit.
#
# Environment (all optional):
#   BUILD_DIR               build dir with milter/authmilter, test/bench/milterload
#   BENCH_SCALE_DOMAINS     customer domains (100000)
#   BENCH_SCALE_FEW         domains of the "few" throughput row (100)
#   BENCH_SCALE_KEYS        distinct RSA-2048 keys (10000)
#   BENCH_SCALE_CACHE       where the keys are kept between runs
#                           (test/out/scale-keys in the source tree)
#   BENCH_SCALE_LAYOUT      include (domains.d/ + key_dir, default) or flat
#                           (one file, full key paths: what older builds read)
#   BENCH_SCALE_STORM       seconds of the SIGHUP storm, one a second (60)
#   BENCH_SCALE_USER        user the daemon runs as (nobody: keys through
#                           the root key reader, as in production; "" stays root)
#   BENCH_SECS              seconds of load per throughput row (8)
#   BENCH_OUT               the report: its Scale section, between the lines
#                           "<!-- scale -->" and "<!-- /scale -->", is replaced
#                           (appended if missing; docs/performance.md)
#   BENCH_PORT              first loopback port (27100): +53 knotd
#   DAEMON_CPU, LOAD_CPU    cores for the daemon and the load (0 and 1)
# started as "sh contrib/bench-scale.sh" (dash): the script is bash
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -u
src=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "${BUILD_DIR:-}" ]; then
    if [ -x milter/authmilter ] && [ -x test/bench/milterload ]; then
        BUILD_DIR=$(pwd)
    else
        BUILD_DIR=$src/_build
    fi
fi
export BUILD_DIR
BENCH_PORT=${BENCH_PORT:-27100}
export IT_DNS_PORT=${IT_DNS_PORT:-$((BENCH_PORT + 53))}
export AUTHMILTER=${AUTHMILTER:-$BUILD_DIR/milter/authmilter}
# shellcheck source-path=SCRIPTDIR source=../test/integration/lib.sh
. "$src/test/integration/lib.sh"

N=${BENCH_SCALE_DOMAINS:-100000}
FEW=${BENCH_SCALE_FEW:-100}
K=${BENCH_SCALE_KEYS:-10000}
CACHE=${BENCH_SCALE_CACHE:-$src/test/out/scale-keys}
LAYOUT=${BENCH_SCALE_LAYOUT:-include}
STORM=${BENCH_SCALE_STORM:-60}
RUNAS=${BENCH_SCALE_USER-nobody}
SECS=${BENCH_SECS:-8}
OUT=${BENCH_OUT:-$src/docs/performance.md}
DAEMON_CPU=${DAEMON_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
ML=$BUILD_DIR/test/bench/milterload
ROWS=()

say() { printf 'bench-scale: %s\n' "$*" >&2; }
now() { date +%s.%N; }
# since T0 - seconds from T0 to now, 3 decimals
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }
row() { ROWS+=("| $* |"); say "$*"; }

# keys_make - K distinct RSA-2048 keys and their record rdata in CACHE
keys_make() {
    local have
    mkdir -p "$CACHE"
    have=$(find "$CACHE" -name 'k*.rdata' | wc -l)
    [ "$have" -ge "$K" ] && return 0
    say "making $((K - have)) RSA-2048 keys in $CACHE (once)"
    seq 0 $((K - 1)) | xargs -P "$(nproc)" -I{} sh -c '
        [ -s "$1/k$2.rdata" ] && exit 0
        umask 077
        openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
            -out "$1/k$2.pem" 2>/dev/null || exit 1
        p=$(openssl pkey -in "$1/k$2.pem" -pubout -outform DER | base64 -w0)
        printf "( \"v=DKIM1; k=rsa; \" %s )\n" \
            "$(echo "p=$p" | fold -w 250 | sed "s/.*/\"&\"/" | tr "\n" " ")" \
            > "$1/k$2.rdata.tmp" && mv "$1/k$2.rdata.tmp" "$1/k$2.rdata"
    ' _ "$CACHE" {} || { say "key generation failed"; exit 1; }
}

# am_conf FILE DNS - the daemon's conf; DNS: "host@port" of its resolver
am_conf() {
    cat > "$1" <<EOF
# authmilter conf written by contrib/bench-scale.sh
socket          = unix:$IT_DIR/milter/am.sock
socket_mode     = 0666
pidfile         = $IT_DIR/milter/am.pid
internal_hosts  = 127.0.0.1/32
authserv_id     = mx.bench.example
log_destination = stderr
log_level       = info
dns_servers     = $2
dns_timeout     = 2s
EOF
    [ -n "$RUNAS" ] && echo "user            = $RUNAS" >> "$1"
    if [ "$LAYOUT" = include ] || [ "$LAYOUT" = shared ]; then
        printf 'key_dir = %s\ninclude %s\n' "$W/keys" "$W/domains.d/*.conf" >> "$1"
    else
        cat "$W/domains.conf" >> "$1"
    fi
}

# am_start CONF - start the daemon on DAEMON_CPU; sets AM_PID and T0
am_start() {
    rm -f "$IT_DIR/milter/am.sock"
    AM_LOG_FROM=$(cat "$IT_DIR/log/am.log" 2> /dev/null | wc -l)
    T0=$(now)
    taskset -c "$DAEMON_CPU" "$AUTHMILTER" -f -c "$1" >> "$IT_DIR/log/am.log" 2>&1 &
    AM_PID=$!
}

# signed_once SOCKET DOMAIN - one message from DOMAIN's customer comes back signed
signed_once() {
    [ -S "${1#unix:}" ] || return 1
    "$ML" -S "$1" -c 1 -m 1 -a alice -F "$2" -T 5 -t 10 -e 1 -q > /dev/null 2>&1
}

# first_signed SOCKET DOMAIN LIMIT - seconds from T0 until DOMAIN signs (or "> LIMIT")
first_signed() {
    local end=$(( $(date +%s) + $3 ))
    while [ "$(date +%s)" -lt "$end" ]; do
        signed_once "$1" "$2" && { since "$T0"; return 0; }
        sleep 0.02
    done
    echo "> $3"
}

# am_log - this run's lines of the daemon's log (am_start's mark on)
am_log() { tail -n +$((AM_LOG_FROM + 1)) "$IT_DIR/log/am.log"; }

# keys_read - wait until the daemon has read every key file (key_load =
# background: it serves first); the seconds from T0 to that log line, or
# "0" when it read them before serving
keys_read() {
    if am_log | grep -q "to read in the background"; then
        it_wait_for 900 sh -c "tail -n +$((AM_LOG_FROM + 1)) '$IT_DIR/log/am.log' | grep -q 'keys read in the background'"
        since "$T0"
    else
        echo 0
    fi
}

# am_stop - SIGTERM; the seconds until the process is gone
am_stop() {
    local t
    t=$(now)
    kill -TERM "$AM_PID" 2> /dev/null
    wait "$AM_PID" 2> /dev/null
    since "$t"
}

# load SOCKET JSONFILE ARGS... - milterload from LOAD_CPU for SECS seconds
load() {
    local sock=$1 out=$2
    shift 2
    taskset -c "$LOAD_CPU" "$ML" -S "$sock" -c 16 -m 10000000 -s 10k -a alice \
        -t "$SECS" -q -j "$@" > "$out" 2>&1
}

# jget KEY FILE - a number from milterload's JSON line
jget() { sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p" "$2"; }

# rss_mb PID - resident memory of a process, MB
rss_mb() { awk '/^VmRSS:/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status" 2> /dev/null; }

# reader_pid - the daemon's root key reader (its child), if any
reader_pid() { pgrep -P "$AM_PID" -x authmilter | head -n 1; }

# reloaded_line N - the Nth "configuration reloaded" line's counts (keys and files read/reused)
reloaded_line() {
    grep "configuration reloaded" "$IT_DIR/log/am.log" | sed -n "${1}p" \
        | sed 's/.*: \([0-9]* domains loaded\)/\1/'
}

# sighup_one I - add domain dI, SIGHUP, wait until it signs; "T s; summary"
sighup_one() {
    local t n
    n=$(grep -c "configuration reloaded" "$IT_DIR/log/am.log")
    /usr/bin/python3 "$src/test/bench/scalegen.py" "$CACHE" "$K" "$W" 1 "$LAYOUT" "$1" || exit 1
    [ "$LAYOUT" = flat ] && am_conf "$conf" "127.0.0.1@$PROXY_PORT"
    T0=$(now)
    kill -HUP "$AM_PID"
    t=$(first_signed "$AM" "d$1.scale.test" 600)
    it_wait_for 60 sh -c "[ \$(grep -c 'configuration reloaded' '$IT_DIR/log/am.log') -gt $n ]"
    echo "$t s ($(reloaded_line $((n + 1))))"
}

# ---------------------------------------------------------------- run
it_init bench-scale || exit 1
for f in "$AUTHMILTER" "$ML"; do
    [ -x "$f" ] || { say "$f not built"; exit 2; }
done
W=$IT_DIR/scale
AM=unix:$IT_DIR/milter/am.sock
OD=unix:$IT_DIR/milter/od.sock
keys_make
say "writing $N domains ($LAYOUT layout, $K distinct keys)"
/usr/bin/python3 "$src/test/bench/scalegen.py" "$CACHE" "$K" "$W" "$N" "$LAYOUT" || exit 1
cp "$W/scale.test.records" "$IT_DIR/zones/scale.test.records"
it_dns_start || exit 1
# the "far resolver": dnsdrop.py in front of knotd, delaying or counting
PROXY_PORT=""
it_free_port PROXY_PORT
drop=$IT_DIR/tmp/dnsdrop.rules
: > "$drop"
it__bg dnsdrop "$IT_DIR/log/dnsdrop.log" /usr/bin/python3 \
    "$src/test/integration/dnsdrop.py" "$PROXY_PORT" "$IT_DNS_PORT" "$drop"
it_wait_for 10 grep -q "^dnsdrop:" "$IT_DIR/log/dnsdrop.log" ||
    { say "dnsdrop.py did not start"; exit 1; }
# knotd and the proxy answer the key checks: on the load's core, so that
# the daemon's core carries only the daemon (its checks included)
for p in $(pgrep -f "$IT_DIR"); do
    taskset -apc "$LOAD_CPU" "$p" > /dev/null 2>&1
done
conf=$IT_DIR/milter/am.conf
am_conf "$conf" "127.0.0.1@$PROXY_PORT"

# 1. start -> first signed message, DNS local; throughput at N domains
am_start "$conf"
row "authmilter | start to first signed message, $N domains, DNS local | $(first_signed "$AM" d0.scale.test 600) s"
row "authmilter | start to every key file read (key_load = background: while serving) | $(keys_read) s"
RSS_MANY=$(rss_mb "$AM_PID")
rp=$(reader_pid)
row "authmilter | resident memory, $N domains, one key file each | daemon $RSS_MANY MB${rp:+, root key reader $(rss_mb "$rp") MB}"
j=$IT_DIR/tmp/many.json
# the start's key check first (it takes its CPU from the same core)
it_wait_for 600 grep -q "key check: pass done" "$IT_DIR/log/am.log"
load "$AM" "$j" -n "$N" -F scale.test
COLD_MANY=$(jget msgs_per_s "$j")
row "authmilter | signing, 16 conns, 10 KB, From over $N domains, each key's first signatures | $COLD_MANY msg/s ($(jget signed "$j") of $(jget completed "$j") signed)"
# every key twice more, then the same load on keys that have signed:
# OpenSSL sets up a key's RSA blinding (a modular inverse, about 0.5 ms)
# at its first signature, and a second one at its first signature in any
# other thread (16 connections: 16 threads)
j=$IT_DIR/tmp/warm.json
SECS=900 load "$AM" "$j" -n "$N" -F scale.test -m $((2 * N / 16 + 1))
j=$IT_DIR/tmp/many-warm.json
load "$AM" "$j" -n "$N" -F scale.test
WARM_MANY=$(jget msgs_per_s "$j")
row "authmilter | signing, 16 conns, 10 KB, From over $N domains, once every key has signed twice | $WARM_MANY msg/s ($(jget signed "$j") of $(jget completed "$j") signed)"

# 2. SIGHUP adding one domain: when does it sign, what was read, how many
# DNS queries? The first reload after the start, then two more.
it_wait_for 600 grep -q "key check: pass done" "$IT_DIR/log/am.log"
echo count > "$drop"
: > "$drop.queries"
r=$(sighup_one "$N")
sleep 2
row "authmilter | SIGHUP adding one domain to $N (first after start): it signs after | $r; $(wc -l < "$drop.queries") DNS queries (in 2 s more)"
: > "$drop"
row "authmilter | SIGHUP adding one more: it signs after | $(sighup_one $((N + 1)))"
row "authmilter | SIGHUP adding one more: it signs after | $(sighup_one $((N + 2)))"
# the same, the daemon and its key reader allowed on every core, as a
# daemon that nobody pinned runs: the reader's parse, its stat-ahead
# threads and the daemon's parse then run side by side
all_cpus=0-$(($(nproc) - 1))
taskset -apc "$all_cpus" "$AM_PID" > /dev/null 2>&1
rp=$(reader_pid)
[ -n "$rp" ] && taskset -apc "$all_cpus" "$rp" > /dev/null 2>&1
row "authmilter | SIGHUP adding one more, daemon and key reader not pinned (cores $all_cpus): it signs after | $(sighup_one $((N + 3)))"
row "authmilter | SIGHUP adding one more, not pinned: it signs after | $(sighup_one $((N + 4)))"
row "authmilter | SIGHUP adding one more, not pinned: it signs after | $(sighup_one $((N + 5)))"
taskset -apc "$DAEMON_CPU" "$AM_PID" > /dev/null 2>&1
[ -n "$rp" ] && taskset -apc "$DAEMON_CPU" "$rp" > /dev/null 2>&1
row "authmilter | resident memory after the reloads | daemon $(rss_mb "$AM_PID") MB${rp:+, root key reader $(rss_mb "$rp") MB}"

# 2b. SIGTERM in the middle of a reload
kill -HUP "$AM_PID"
sleep 0.3
row "authmilter | SIGTERM 0.3 s into a reload, $N domains: exit after | $(am_stop) s"
am_start "$conf"
first_signed "$AM" d0.scale.test 600 > /dev/null

# 3. SIGTERM, idle (once the key check is done)
it_wait_for 600 grep -q "key check: pass done" "$IT_DIR/log/am.log"
: > "$IT_DIR/log/am.log"
row "authmilter | SIGTERM, idle, $N domains: exit after | $(am_stop) s"

# 3b. the whole key check at 20 ms a query, signing meanwhile
echo "delay 20" > "$drop"
am_start "$conf"
first_signed "$AM" d0.scale.test 600 > /dev/null
# the check begins once every key file is read: the load from then on
# measures signing beside the check alone, not beside the key reading
keys_read > /dev/null
j=$IT_DIR/tmp/check.json
SECS=60 load "$AM" "$j" -n "$N" -F scale.test &
lp=$!
it_wait_for 600 grep -q "key check: pass done" "$IT_DIR/log/am.log"
kill -INT "$lp" 2> /dev/null
wait "$lp"
done_line=$(grep "key check: pass done" "$IT_DIR/log/am.log" | tail -n 1)
# compared with the signing of keys that have signed (row 1's warm load):
# this daemon was just restarted, so its keys set up OpenSSL's state in
# the first seconds of this load, which can only lower the ratio
CHECK_RATE=$(jget msgs_per_s "$j")
CHECK_SECS=$(jget elapsed_s "$j")
row "authmilter | key check of $N keys, every query 20 ms late | ${done_line#*key check: } ; signing meanwhile (from the end of the key reading to the end of the pass, the keys' first signatures included) $CHECK_RATE msg/s = $(awk -v a="$CHECK_RATE" -v b="$WARM_MANY" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }') of the signing without a check once every key has signed"
row "authmilter | SIGTERM mid-check or right after it: exit after | $(am_stop) s"
: > "$drop"

# 3c. the same restart and load without the check (key_check = no): what
# the check's row is to be compared with, the keys' first signatures in
# both
am_conf "$conf" "127.0.0.1@$PROXY_PORT"
echo "key_check       = no" >> "$conf"
am_start "$conf"
first_signed "$AM" d0.scale.test 600 > /dev/null
keys_read > /dev/null
j=$IT_DIR/tmp/nocheck.json
cs=${CHECK_SECS%.*}
SECS=${cs:-50} load "$AM" "$j" -n "$N" -F scale.test
NOCHECK_RATE=$(jget msgs_per_s "$j")
row "authmilter | the same restart and load for as long, key_check = no | $NOCHECK_RATE msg/s; with the check / without: $(awk -v a="$CHECK_RATE" -v b="$NOCHECK_RATE" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')"
am_stop > /dev/null
am_conf "$conf" "127.0.0.1@$PROXY_PORT"

# 4. start -> first signed, DNS unreachable (nothing listens at the port);
# the files read once first, as for row 1 (just written): the row compares
# DNS states, not how much of 200,000 files the page cache still holds
find "$W/domains.d" "$W/keys" -type f -exec cat {} + > /dev/null
DEAD_PORT=""
it_free_port DEAD_PORT
am_conf "$conf" "127.0.0.1@$DEAD_PORT"
am_start "$conf"
row "authmilter | start to first signed message, $N domains, DNS unreachable | $(first_signed "$AM" d0.scale.test 120) s"
row "authmilter | SIGTERM right after, DNS unreachable: exit after | $(am_stop) s"

# 5. SIGHUP storm under load: one a second for STORM seconds
am_conf "$conf" "127.0.0.1@$PROXY_PORT"
am_start "$conf"
first_signed "$AM" d0.scale.test 600 > /dev/null
j=$IT_DIR/tmp/storm.json
SECS=$STORM load "$AM" "$j" -n "$N" -F scale.test &
lp=$!
for _ in $(seq "$STORM"); do sleep 1; kill -HUP "$AM_PID"; done
wait "$lp"
row "authmilter | SIGHUP every second for $STORM s under load | $(jget completed "$j") messages: $(jget signed "$j") signed, $(jget errors "$j") errors, $(jget tempfailed "$j") tempfailed"
am_stop > /dev/null

# 6. the same signing with FEW domains (read before serving: few keys)
Wfew=$W.few
/usr/bin/python3 "$src/test/bench/scalegen.py" "$CACHE" "$K" "$Wfew" "$FEW" "$LAYOUT" || exit 1
W_MANY=$W
W=$Wfew
am_conf "$conf" "127.0.0.1@$PROXY_PORT"
W=$W_MANY
am_start "$conf"
first_signed "$AM" d0.scale.test 60 > /dev/null
j=$IT_DIR/tmp/few.json
load "$AM" "$j" -n "$FEW" -F scale.test
row "authmilter | signing, 16 conns, 10 KB, From over $FEW domains | $(jget msgs_per_s "$j") msg/s; $N domains (every key has signed) / $FEW: $(awk -v a="$WARM_MANY" -v b="$(jget msgs_per_s "$j")" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')"
RSS_FEW=$(rss_mb "$AM_PID")
am_stop > /dev/null
row "authmilter | resident memory, $FEW domains | daemon $RSS_FEW MB: $(awk -v a="$RSS_MANY" -v b="$RSS_FEW" -v n="$N" -v f="$FEW" 'BEGIN { printf "%.1f", (a - b) * 1024 / (n - f) }') KB a domain with its own key"

# 6b. N domains naming K key files: each file is parsed once
if [ "$LAYOUT" != flat ]; then
    Wsh=$W_MANY.shared
    /usr/bin/python3 "$src/test/bench/scalegen.py" "$CACHE" "$K" "$Wsh" "$N" shared || exit 1
    LAYOUT_SAVED=$LAYOUT
    LAYOUT=shared
    W=$Wsh
    am_conf "$conf" "127.0.0.1@$PROXY_PORT"
    W=$W_MANY
    LAYOUT=$LAYOUT_SAVED
    am_start "$conf"
    t=$(first_signed "$AM" d0.scale.test 600)
    t="$t s to the first signed, $(keys_read)"
    RSS_SH=$(rss_mb "$AM_PID")
    row "authmilter | start to first signed message, $N domains naming $K key files | $t s; daemon $RSS_SH MB: $(awk -v a="$RSS_MANY" -v b="$RSS_SH" -v n="$N" -v k="$K" 'BEGIN { if (n > k) printf "%.1f", (a - b) * 1024 / (n - k); else printf "n/a" }') KB a parsed key"
    am_stop > /dev/null
fi

# 7. OpenDKIM with KeyTable/SigningTable files on the same N domains
if command -v opendkim > /dev/null 2>&1; then
    od=$IT_DIR/milter/od.conf
    cat > "$od" <<EOF
# opendkim conf written by contrib/bench-scale.sh (signing only: no DNS)
Syslog                  no
Background              no
Mode                    s
Socket                  local:$IT_DIR/milter/od.sock
UMask                   000
KeyTable                file:$W/opendkim/KeyTable
SigningTable            file:$W/opendkim/SigningTable
InternalHosts           127.0.0.1
Canonicalization        relaxed/relaxed
SignatureAlgorithm      rsa-sha256
OversignHeaders         From
RequireSafeKeys         no
EOF
    rm -f "$IT_DIR/milter/od.sock"
    T0=$(now)
    taskset -c "$DAEMON_CPU" opendkim -x "$od" >> "$IT_DIR/log/od.log" 2>&1 &
    AM_PID=$!
    row "OpenDKIM | start to first signed message, $N domains | $(first_signed "$OD" d0.scale.test 600) s"
    j=$IT_DIR/tmp/od.json
    load "$OD" "$j" -n "$N" -F scale.test
    row "OpenDKIM | signing, 16 conns, 10 KB, From over $N domains | $(jget msgs_per_s "$j") msg/s"
    row "OpenDKIM | SIGTERM, idle, $N domains: exit after | $(am_stop) s"
else
    say "opendkim not installed: its rows are left out"
fi

{
    echo "<!-- scale -->"
    echo "## Scale: $N customer domains, $K distinct RSA-2048 keys ($LAYOUT layout)"
    echo
    echo "$(date -u +%Y-%m-%d), $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)."
    echo "Command: \`BENCH_SCALE_DOMAINS=$N BENCH_SCALE_KEYS=$K BENCH_SCALE_LAYOUT=$LAYOUT make bench-scale\`"
    echo "(the daemon on core $DAEMON_CPU, milterload on core $LOAD_CPU; knotd on loopback)."
    echo
    echo "| Daemon | What | Result |"
    echo "|---|---|---|"
    printf '%s\n' "${ROWS[@]}"
    echo "<!-- /scale -->"
} > "$IT_DIR/tmp/scale.md"
mkdir -p "$(dirname "$OUT")"
touch "$OUT"
{
    sed '/^<!-- scale -->$/,/^<!-- \/scale -->$/d' "$OUT"
    cat "$IT_DIR/tmp/scale.md"
} > "$OUT.tmp" && mv "$OUT.tmp" "$OUT"
say "Scale section written to $OUT"
cat "$IT_DIR/tmp/scale.md"
