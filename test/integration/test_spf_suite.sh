#!/usr/bin/env bash
# test_spf_suite.sh - the OpenSPF RFC 7208 test suite (Debian's
# python3-spf ships it) through the real daemon over the milter protocol,
# with the built-in engine (the default) and with libspf2, and through
# pyspf for calibration.
#
# For each scenario of the suite, knotd serves its DNS data as one root
# zone on loopback, behind dnsdrop.py, which swallows the queries the
# scenario's TIMEOUT entries name; authmilter (spf_engine = builtin, then
# libspf2) forwards to dnsdrop, and spf_suite.py plays the MTA: CONNECT
# from the case's host, HELO, MAIL FROM, one message; the result is the
# Received-SPF header the daemon inserts. pyspf asks the same server.
#
# TAP: one check per test case for the built-in engine (a case it does not
# pass is not ok unless spf_suite.py lists it as a known, explained
# exception), then the totals of the three engines (libspf2 and pyspf
# must not fall below what they passed when this harness was written).
#   SPF_SUITE_REPORT=docs/spf-conformance.md  also write the report there
#     (relative to the source tree): totals and every builtin/libspf2
#     difference with its RFC 7208 section
#   SPF_SUITE_ONLY="3 7"  run only these scenarios (0-based; debugging)
# Environment otherwise as lib.sh. Nothing leaves 127.0.0.1.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

it_init spf_suite
[ -x "$AUTHMILTER" ] || { echo "Bail out! authmilter not built: $AUTHMILTER"; exit 1; }
"$IT_PY" -c 'import yaml, spf, dns.resolver' 2> /dev/null ||
    { echo "Bail out! $IT_PY lacks yaml, spf or dns (python3-yaml, python3-spf, python3-dnspython)"; exit 1; }
SUITE_PY="$IT_PY $IT_LIB_DIR/spf_suite.py"
NSCEN=$($SUITE_PY count) || { echo "Bail out! cannot read the RFC 7208 suite"; exit 1; }
if ss -Hltun "sport = :$IT_DNS_PORT" 2> /dev/null | grep -q .; then
    echo "Bail out! port $IT_DNS_PORT is in use (set IT_DNS_PORT)"
    exit 1
fi
# dnsdrop's port: a free one where lib.sh can choose it
DROP_PORT=${IT_DROP_PORT:-}
if declare -F it_free_port > /dev/null; then
    it_free_port DROP_PORT
else
    DROP_PORT=${DROP_PORT:-$((IT_DNS_PORT + 5))}
fi
DROP=$IT_DIR/tmp/drop
RES=$IT_DIR/results
KNOT=$IT_DIR/knot
mkdir -p "$RES" "$KNOT"/{zones,run,db}
: > "$DROP"
cat > "$KNOT/knot.conf" <<EOF
# knotd for test $IT_NAME: one root zone, the current scenario's data.
server:
    rundir: "$KNOT/run"
    pidfile: "$KNOT/run/knot.pid"
    listen: 127.0.0.1@$IT_DNS_PORT
log:
  - target: "$IT_DIR/log/knot.log"
    any: info
database:
    storage: "$KNOT/db"
template:
  - id: default
    storage: "$KNOT/zones"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
    semantic-checks: off
zone:
  - domain: .
    file: root.zone
EOF

it__bg dnsdrop "$IT_DIR/log/dnsdrop.log" "$IT_PY" "$IT_LIB_DIR/dnsdrop.py" \
    "$DROP_PORT" "$IT_DNS_PORT" "$DROP"
it_wait_for 10 grep -q "^dnsdrop:" "$IT_DIR/log/dnsdrop.log" ||
    { echo "Bail out! dnsdrop.py did not start"; exit 1; }

# knot_ready SERIAL - knotd serves the root zone of that serial
knot_ready() {
    kdig @127.0.0.1 -p "$IT_DNS_PORT" +time=1 +retry=0 +norec +short SOA . |
        awk '{ print $3 }' | grep -qx "$1"
}

# mkconf FILE ENGINE - the daemon's conf for one engine (its own socket)
mkconf() {
    it_authmilter_conf "$1"
    sed -i '/^dns_servers[[:space:]]*=/d; /^dns_timeout[[:space:]]*=/d;
        /^socket[[:space:]]*=/d; /^pidfile[[:space:]]*=/d' "$1"
    cat >> "$1" <<EOF
socket          = unix:$IT_DIR/milter/$2.sock
pidfile         = $IT_DIR/milter/$2.pid
dns_servers     = 127.0.0.1@$DROP_PORT
dns_timeout     = 1s
spf_engine      = $2
received_spf_header = yes
EOF
}
mkconf "$IT_DIR/milter/builtin.conf" builtin
mkconf "$IT_DIR/milter/libspf2.conf" libspf2

t0=$(date +%s)
for ((n = 0; n < NSCEN; n++)); do
    if [ -n "${SPF_SUITE_ONLY:-}" ] && ! echo " $SPF_SUITE_ONLY " | grep -q " $n "; then
        continue
    fi
    it__stop knot
    : > "$DROP"
    $SUITE_PY zone "$n" "$KNOT/zones/root.zone" "$DROP.next" ||
        { echo "Bail out! scenario $n: no zone"; exit 1; }
    it__bg knot "$IT_DIR/log/knot.log" knotd -c "$KNOT/knot.conf"
    if ! it_wait_for 10 knot_ready "$((n + 1))"; then
        tail -n 20 "$IT_DIR/log/knot.log" | sed 's/^/#   /'
        echo "Bail out! knotd does not serve scenario $n"
        exit 1
    fi
    mv "$DROP.next" "$DROP"
    # both daemons and pyspf at once: most of the time is DNS time-outs
    pids=()
    for engine in builtin libspf2; do
        if ! it_milter_start_authmilter "$IT_DIR/milter/$engine.conf"; then
            echo "Bail out! authmilter ($engine) did not start"
            exit 1
        fi
        $SUITE_PY milter "$n" "$IT_MILTER_SOCKET" > "$RES/$engine.$n" \
            2> "$IT_DIR/tmp/$engine.$n.err" &
        pids+=("$!")
    done
    $SUITE_PY pyspf "$n" "$DROP_PORT" > "$RES/pyspf.$n" \
        2> "$IT_DIR/tmp/pyspf.$n.err" &
    pids+=("$!")
    for p in "${pids[@]}"; do
        wait "$p"
    done
    for f in "$IT_DIR"/tmp/*."$n".err; do
        [ -s "$f" ] && sed 's/^/#   /' "$f" | tail -n 5
    done
    it_milter_stop
done
it__stop knot
echo "# $NSCEN scenarios in $(($(date +%s) - t0)) s"

# the built-in engine: one check per test case
while IFS='|' read -r verdict id text; do
    case $verdict in
        ok) it_ok "builtin: $text" ;;
        known) it_skip "builtin: $text" "known exception" ;;
        fail) it_fail "builtin: $text" "wrong result" ;;
        total) builtin_total="$text" ;;
    esac
done < <($SUITE_PY verdicts "$RES" builtin)

# total ENGINE FLOOR - ENGINE's total, not ok below FLOOR
total() {
    local line passed cases
    line=$($SUITE_PY verdicts "$RES" "$1" | grep '^total|')
    passed=$(echo "$line" | cut -d'|' -f3)
    cases=$(echo "$line" | cut -d'|' -f4)
    if [ "${passed:-0}" -ge "$2" ]; then
        it_ok "$1: $passed of $cases RFC 7208 suite cases pass (at least $2)"
    else
        it_fail "$1: $passed of $cases RFC 7208 suite cases pass" "fewer than $2"
    fi
}
if [ -z "${SPF_SUITE_ONLY:-}" ]; then
    total builtin 200
    total libspf2 141
    total pyspf 195
    if [ -n "${SPF_SUITE_REPORT:-}" ]; then
        case $SPF_SUITE_REPORT in
            /*) report=$SPF_SUITE_REPORT ;;
            *) report=$IT_SRC_DIR/$SPF_SUITE_REPORT ;;
        esac
        it_check "report written to $report" sh -c \
            "$SUITE_PY report '$RES' > '$report.tmp' && mv '$report.tmp' '$report'"
    fi
fi
echo "# builtin: ${builtin_total:-?}"
it_done
