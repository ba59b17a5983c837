#!/usr/bin/env bash
# test_bounce_health.sh - bounce domains' DNS checked in the background,
# and a broken one not rewritten into, through a real Postfix.
#
# test/zones/bouncehealth.test.zone serves bounce domains in each state:
# MX at our host (bounce_mx_hosts) and SPF passing for 127.0.0.1
# (bounce_check_ips), a CNAME to our host, a CNAME pointing nowhere, an MX
# at another provider, an SPF record without us. The daemon logs each
# verdict once; mail of the healthy ones leaves with the Return-Path
# rewritten, mail of the broken ones with its own. authmilterctl keys,
# domain and status, the metrics and state_dir/bouncestates show the
# states. A bounce domain whose zone is not served (no DNS answer: unknown)
# keeps being rewritten into. One broken by its MX is fixed in DNS: after
# a SIGHUP it is checked at once, logged fixed and rewritten into again.
# Asking a DNS server that never answers, the checker does not hold up a
# SIGTERM for its lookup under way.
# Needs root, a built daemon and tools (BUILD_DIR), curl.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

it_init bounce_health
CTL=$BUILD_DIR/milter/authmilterctl
it_require "$AUTHMILTER" "$CTL" curl
it_plan 37

Z=bouncehealth.test
STATE=$IT_DIR/state
mkdir -p "$STATE"
MPORT=${IT_METRICS_PORT:-}
it_free_port MPORT

# name:bounce domain of each signing domain (its own zone, for its key)
DOMS="good:good-bounce.$Z cname:cname-bounce.$Z dangling:dangling-bounce.$Z
elsewhere:elsewhere-bounce.$Z nospf:nospf-bounce.$Z fixme:bounce.fixme.test
unknown:zz-bounce.unserved.test"
declare -A KEY
for p in $DOMS; do
    n=${p%%:*}
    KEY[$n]=$(it_keygen "$n.example" s1 rsa 1024) || { echo "Bail out! keygen"; exit 1; }
done
it_zone_add com "; empty: the parent of the .example domains for DMARC tree walks"
# fixme's bounce domain: MX at another host first (TTL 1: the fix is seen at once)
fixme_mx() {
    cat > "$IT_DIR/zones/fixme.test.records" <<EOF
bounce.fixme.test. 1 IN MX 10 $1
bounce.fixme.test. 1 IN TXT "v=spf1 ip4:127.0.0.0/8 -all"
EOF
}
fixme_mx mx.other-provider.example.
it_dns_start || { echo "Bail out! knotd"; exit 1; }
it_sink_start || { echo "Bail out! smtp-sink"; exit 1; }
( umask 077; head -c 32 /dev/urandom > "$IT_DIR/keys/bounce.key" )

conf=$IT_DIR/milter/authmilter.conf
it_authmilter_conf "$conf"
cat >> "$conf" <<EOF
bounce_secret    = $IT_DIR/keys/bounce.key
bounce_mx_hosts  = bmx.$Z
bounce_check_ips = 127.0.0.1
state_dir        = $STATE
metrics_listen   = 127.0.0.1:$MPORT
EOF
for p in $DOMS; do
    n=${p%%:*}
    printf 'domain %s.example {\n    key = s1 %s\n    bounce_domain = %s\n}\n' \
        "$n" "${KEY[$n]}" "${p#*:}" >> "$conf"
done
it_check "authmilter -n accepts the conf" "$AUTHMILTER" -n -c "$conf"
it_milter_start_authmilter "$conf" || { echo "Bail out! authmilter"; exit 1; }
MILTER_PID=$IT_LAST_PID
it_postfix_start "$IT_MILTER_SOCKET" || { echo "Bail out! postfix"; exit 1; }

# ctl ARGS... - authmilterctl; output in tmp/ctl.out
ctl() {
    "$CTL" -c "$conf" "$@" > "$IT_DIR/tmp/ctl.out" 2> "$IT_DIR/tmp/ctl.err"
}
# ctl_has PATTERN ARGS... - authmilterctl ARGS prints a line matching PATTERN
ctl_has() {
    local pat=$1
    shift
    ctl "$@" || { cat "$IT_DIR/tmp/ctl.err"; return 1; }
    grep -qE "$pat" "$IT_DIR/tmp/ctl.out" || { sed 's/^/#   /' "$IT_DIR/tmp/ctl.out"; return 1; }
}
# envelope_sender FILE - the MAIL FROM address smtp-sink saw
envelope_sender() {
    sed -n '/^$/q; s/^X-Mail-Args: <\([^>]*\)>.*/\1/p' "$1" | head -n 1
}
# send_from NAME - a signed message from no-reply@NAME.example through Postfix
send_from() {
    it_submit "$1: AUTH alice, MAIL FROM:<no-reply@$1.example>" \
        --xclient-addr 192.0.2.10 --auth alice@example.com:secret \
        --from "no-reply@$1.example" --to bob@dest.test.example
}
# expect_rewritten NAME BOUNCE - NAME's message left with ab1=...@BOUNCE
expect_rewritten() {
    send_from "$1"
    it_relayed "$1" || return
    it_check "$1: Return-Path rewritten into $2 ($(envelope_sender "$IT_MSG"))" \
        grep -qE "^ab1=[a-z2-7]{10}=no-reply=$1\.example@${2//./\\.}\$" \
        <<< "$(envelope_sender "$IT_MSG")"
}
# expect_kept NAME - NAME's message left with its own Return-Path
expect_kept() {
    send_from "$1"
    it_relayed "$1" || return
    it_check "$1: Return-Path kept (broken bounce domain)" \
        test "$(envelope_sender "$IT_MSG")" = "no-reply@$1.example"
}

# ---------------------------------------------------------------- verdicts
it_check "checked: dangling CNAME is broken, no-mx (logged at warning)" \
    it_wait_logged 30 "warning: bounce domain dangling-bounce\.$Z \(domain dangling\.example\): broken, no-mx"
it_check "checked: MX at another provider is broken, mx-elsewhere" \
    it_wait_logged 10 "warning: bounce domain elsewhere-bounce\.$Z \(domain elsewhere\.example\): broken, mx-elsewhere \(MX mx\.other-provider\.example"
it_check "checked: SPF without us is broken, spf (fail for 127.0.0.1)" \
    it_wait_logged 10 "warning: bounce domain nospf-bounce\.$Z \(domain nospf\.example\): broken, spf \(MX bmx\.$Z; SPF fail for 127\.0\.0\.1"
it_check "checked: MX at our host and SPF pass is ok" \
    it_wait_logged 10 "bounce domain good-bounce\.$Z \(domain good\.example\): ok \(MX bmx\.$Z; SPF pass"
it_check "checked: a CNAME to our host is ok" \
    it_wait_logged 10 "bounce domain cname-bounce\.$Z \(domain cname\.example\): ok \(CNAME bmx\.$Z"
it_check "checked: an unserved zone has no answer: unknown" \
    it_wait_logged 60 "bounce domain zz-bounce\.unserved\.test \(domain unknown\.example\): unknown"

# ---------------------------------------------------------------- mail
expect_rewritten good "good-bounce.$Z"
expect_rewritten cname "cname-bounce.$Z"
expect_rewritten unknown zz-bounce.unserved.test
expect_kept dangling
expect_kept nospf
it_check "broken: logged once per state change, not per message" \
    test "$(grep -c "bounce domain dangling-bounce.*: broken, " "$IT_DIR/log/milter.log")" = 1

# ---------------------------------------------------------------- shown
it_check "authmilterctl keys: the bounce domains' table, dangling broken no-mx" \
    ctl_has "^dangling-bounce\.$Z +dangling\.example +broken +no-mx\$" keys
it_check "authmilterctl keys: good ok" \
    ctl_has "^good-bounce\.$Z +good\.example +ok +-\$" keys
it_check "authmilterctl keys --domain nospf.example: its key and its bounce domain" \
    ctl_has "^nospf-bounce\.$Z +nospf\.example +broken +spf\$" keys --domain nospf.example
it_check "authmilterctl domain elsewhere.example: bounce domain broken (mx-elsewhere), not rewritten into" \
    sh -c '"$1" -c "$2" domain elsewhere.example > "$3" &&
        grep -qx "bounce domain: elsewhere-bounce.$4: broken (mx-elsewhere)" "$3" &&
        grep -qx "  not rewritten into: its mail keeps its own Return-Path" "$3"' \
    sh "$CTL" "$conf" "$IT_DIR/tmp/domain.out" "$Z"
it_check "authmilterctl status: 7 bounce domains (2 ok, 4 broken, 1 unknown)" \
    ctl_has "^bounce domains: 7 \(2 ok, 4 broken, 1 unknown\)\$" status
it_check "authmilterctl status --json: bounce_domain_states" \
    sh -c '"$1" -c "$2" status --json | "$3" -c "import json, sys; d = json.load(sys.stdin); s = d[\"bounce_domain_states\"]; sys.exit(0 if d[\"bounce_domains\"] == 7 and s[\"broken\"] == 4 and s[\"ok\"] == 2 and s[\"unknown\"] == 1 else 1)"' \
    sh "$CTL" "$conf" "$IT_PY"
curl -sS -f "http://127.0.0.1:$MPORT/metrics" > "$IT_DIR/tmp/metrics.txt"
it_check "metrics: authmilter_bounce_domains{state=\"broken\"} 4" \
    grep -qx 'authmilter_bounce_domains{state="broken"} 4' "$IT_DIR/tmp/metrics.txt"
it_check "metrics: authmilter_bounce_domains{state=\"ok\"} 2" \
    grep -qx 'authmilter_bounce_domains{state="ok"} 2' "$IT_DIR/tmp/metrics.txt"
it_check "metrics: two messages counted as skipped for a broken bounce domain" \
    grep -qx 'authmilter_bounce_rewrites_skipped_total{reason="bounce_domain_broken"} 2' "$IT_DIR/tmp/metrics.txt"
# shellcheck disable=SC2317  # called through it_wait_for
states_saved() {
    grep -qx "dangling-bounce.$Z broken no-mx [0-9]*" "$STATE/bouncestates" 2>/dev/null
}
it_check "state_dir/bouncestates holds the verdicts (dangling broken no-mx)" \
    it_wait_for 10 states_saved
it_check "state_dir/bouncestates: good ok, with its end line" \
    sh -c 'grep -qx "good-bounce.$1 ok - [0-9]*" "$2" && grep -qx "end 6" "$2"' \
    sh "$Z" "$STATE/bouncestates"

# ---------------------------------------------------------------- fixed
fixme_mx "bmx.$Z."
it_dns_reload || { echo "Bail out! knotd reload"; exit 1; }
it_log_mark
kill -HUP "$MILTER_PID"
it_check "fixed: after the DNS fix and a SIGHUP, bounce.fixme.test is logged fixed" \
    it_wait_logged 30 "notice: bounce domain bounce\.fixme\.test \(domain fixme\.example\): fixed \(MX bmx\.$Z"
expect_rewritten fixme bounce.fixme.test
it_check "fixed: authmilterctl keys shows it ok" \
    ctl_has "^bounce\.fixme\.test +fixme\.example +ok +-\$" keys

# ---------------------------------------------------------------- restart
it_milter_stop
it_milter_start_authmilter "$conf" || { echo "Bail out! authmilter restart"; exit 1; }
it_check "restart: the states file is read" \
    it_wait_logged 10 "bounce check: [0-9]+ states read from $STATE/bouncestates"
it_check "restart: still broken, said as such (not as a new breakage)" \
    it_wait_logged 30 "notice: bounce domain dangling-bounce\.$Z \(domain dangling\.example\): still broken, as before the restart"
it_milter_stop

# ---------------------------------------------------------------- stop mid-lookup
# a resolver that never answers and a 20 s lookup timeout: SIGTERM is
# served without waiting for the bounce checker's lookup under way
BLACKHOLE_PORT=""
it_free_port BLACKHOLE_PORT
it__bg blackhole "$IT_DIR/log/blackhole.log" "$IT_PY" -c '
import socket, sys
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(("127.0.0.1", int(sys.argv[1])))
while True:
    u.recvfrom(4096)
' "$BLACKHOLE_PORT"
conf_bh=$IT_DIR/milter/authmilter-blackhole.conf
sed -e "s/^dns_servers .*/dns_servers = 127.0.0.1@$BLACKHOLE_PORT/" \
    -e "s/^dns_timeout .*/dns_timeout = 20s/" -e "/^state_dir/d" \
    -e "/^metrics_listen/d" "$conf" > "$conf_bh"
it_milter_start_authmilter "$conf_bh" || { echo "Bail out! authmilter (blackhole)"; exit 1; }
sleep 1				# its first lookups are on their way
t0=$(date +%s%N)
it_milter_stop
t1=$(date +%s%N)
it_check "stop mid-lookup: the daemon exits long before the 20 s lookup ends ($(( (t1 - t0) / 1000000 )) ms)" \
    test $(( (t1 - t0) / 1000000 )) -lt 10000
it_check "stop mid-lookup: it says it did not wait for the bounce check's lookup" \
    grep -q "bounce check: not waiting for its lookup under way" "$IT_DIR/log/milter.log"
it__stop blackhole
it_done
