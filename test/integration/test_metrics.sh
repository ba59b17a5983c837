#!/usr/bin/env bash
# test_metrics.sh - the Prometheus endpoint (metrics_listen): counters move
# by what the mail through a real Postfix did, the exposition passes
# Debian's promtool, and a real Prometheus scrapes it.
#
# authmilter -n refuses a bad metrics_listen; the daemon serves GET
# /metrics on a free loopback port (404 elsewhere). Two messages from an
# internal client are signed (and their Return-Path rewritten into the
# bounce domain), one from an outside client forging example.com is
# rejected by its DMARC policy (SPF fail, no DKIM), and a recipient in the
# bounce domain that we never issued is refused: each counter is checked
# to have moved by exactly that much between two scrapes, both of which
# `promtool check metrics` passes without a word. A reload that changes
# metrics_listen keeps the listener (logged: it takes a restart) and
# counts as a reload, a new snapshot generation; a second daemon asking for
# the same metrics port does not start. Then Prometheus
# (--storage.tsdb.path in the work dir, scrape_interval 1s) scrapes the
# daemon until its HTTP API returns the signed-message counter's value.
# Needs root and a built daemon: AUTHMILTER=path, or BUILD_DIR with
# milter/authmilter in it; Debian's prometheus (promtool) and curl.
# shellcheck disable=SC2317 # helpers run through it_check look unreachable
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

it_init metrics
it_require "$AUTHMILTER" prometheus promtool curl
it_plan 32

MPORT=${IT_METRICS_PORT:-}     # the daemon's metrics
PPORT=${IT_PROMETHEUS_PORT:-}  # Prometheus's own web port
MPORT2=${IT_METRICS_PORT2:-}   # what a reload asks for instead
it_free_port MPORT
it_free_port PPORT
it_free_port MPORT2
URL=http://127.0.0.1:$MPORT/metrics

rsa=$(it_keygen example.com s2048 rsa 2048) || { echo "Bail out! keygen"; exit 1; }
it_dns_start || { echo "Bail out! knotd"; exit 1; }
it_sink_start || { echo "Bail out! smtp-sink"; exit 1; }
(umask 077; head -c 32 /dev/urandom > "$IT_DIR/keys/bounce.key")

# write_conf FILE LISTEN - the daemon's conf with metrics_listen = LISTEN
write_conf() {
    it_authmilter_conf "$1"
    cat >> "$1" <<EOF
metrics_listen  = $2
bounce_secret   = $IT_DIR/keys/bounce.key
domain example.com {
    key = s2048 $rsa
    bounce_domain = bounce.example.com
}
EOF
}
conf=$IT_DIR/milter/authmilter.conf
write_conf "$conf" "127.0.0.1:$MPORT"
bad=$IT_DIR/milter/bad.conf
write_conf "$bad" "127.0.0.1"

# refuses_bad - authmilter -n exits 1 naming metrics_listen and the syntax
refuses_bad() {
    it_exit 1 "$AUTHMILTER" -n -c "$bad" &&
        grep -q 'metrics_listen: "127.0.0.1" is not ADDRESS:PORT' "$IT_CHECK_OUT"
}
it_check "authmilter -n refuses metrics_listen = 127.0.0.1 (no port)" refuses_bad
it_check "authmilter -n accepts metrics_listen = 127.0.0.1:PORT" \
    "$AUTHMILTER" -n -c "$conf"

it_milter_start_authmilter "$conf" || { echo "Bail out! authmilter"; exit 1; }
it_postfix_start "$IT_MILTER_SOCKET" || { echo "Bail out! postfix"; exit 1; }
# keychecked - the start's key check looked the one key up and found it
keychecked() {
    curl -s "$URL" | grep -qx 'authmilter_key_check_lookups_total{result="published"} 1'
}
it_check "the key check's lookup is counted: key_check_lookups_total{result=\"published\"} 1" \
    it_wait_for 10 keychecked
# outside clients may send to the bounce domain (else Postfix refuses the
# RCPT itself: "Relay access denied")
postconf -c "$IT_POSTFIX_CONF" -e "relay_domains = dest.test.example, bounce.example.com"
it_postfix_reload || { echo "Bail out! postfix reload"; exit 1; }

# scrape FILE - GET /metrics into FILE (fails on any status but 200)
scrape() {
    curl -sS -f -o "$1" "$URL"
}

# promtool_clean FILE - promtool check metrics passes FILE without a word
promtool_clean() {
    local out
    out=$(promtool check metrics < "$1" 2>&1) || { echo "$out"; return 1; }
    [ -z "$out" ] || { echo "promtool: $out"; return 1; }
}

# mval FILE SERIES - the value of SERIES (name{labels} as exposed), or "absent"
mval() {
    awk -v s="$2" '$1 == s { print $2; f = 1 } END { if (!f) print "absent" }' "$1"
}

# msum FILE PREFIX - the sum of every series whose name{labels} starts with PREFIX
msum() {
    awk -v p="$2" 'index($1, p) == 1 { s += $2 } END { print s + 0 }' "$1"
}

# moved SERIES N - SERIES went up by exactly N from $M0 to $M1
moved() {
    local a b
    a=$(mval "$M0" "$1")
    b=$(mval "$M1" "$1")
    case "$a$b" in *absent*) echo "$1: $a -> $b"; return 1 ;; esac
    [ "$((b - a))" = "$2" ] || { echo "$1: $a -> $b, wanted +$2"; return 1; }
}

# moved_sum PREFIX N - the sum of the series under PREFIX went up by exactly N
moved_sum() {
    local a b
    a=$(msum "$M0" "$1")
    b=$(msum "$M1" "$1")
    [ "$((b - a))" = "$2" ] || { echo "$1*: $a -> $b, wanted +$2"; return 1; }
}

# at_least SERIES N - SERIES went up by N or more from $M0 to $M1
at_least() {
    local a b
    a=$(mval "$M0" "$1")
    b=$(mval "$M1" "$1")
    case "$a$b" in *absent*) echo "$1: $a -> $b"; return 1 ;; esac
    [ "$((b - a))" -ge "$2" ] || { echo "$1: $a -> $b, wanted +$2 or more"; return 1; }
}

# not_found - another path than /metrics is a 404
not_found() {
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$MPORT/")" = 404 ]
}

# inbound_results - the forged message's DKIM and DMARC results counted
inbound_results() {
    moved 'authmilter_dkim_results_total{result="none"}' 1 &&
        moved 'authmilter_dmarc_results_total{result="fail"}' 1
}

# dns_moved - queries counted, each in the latency histogram too
dns_moved() {
    at_least authmilter_dns_queries_total 2 &&
        at_least authmilter_dns_query_duration_seconds_count 2
}

# snapshot_gauges - read from the running snapshot at scrape time
snapshot_gauges() {
    [ "$(msum "$M1" 'authmilter_keys{')" = 1 ] &&
        grep -qx 'authmilter_domains 1' "$M1" &&
        grep -qx 'authmilter_config_generation 1' "$M1"
}

# bind_refused - a second daemon whose metrics_listen is taken: its start
# fails with the reason, and leaves no milter socket behind
bind_refused() {
    local c2=$IT_DIR/milter/second.conf
    write_conf "$c2" "127.0.0.1:$MPORT"
    sed -i -e "s|^socket .*|socket = unix:$IT_DIR/milter/second.sock|" \
        -e "s|^pidfile .*|pidfile = $IT_DIR/milter/second.pid|" "$c2"
    it_exit 1 timeout 20 "$AUTHMILTER" -f -c "$c2" &&
        grep -q "cannot listen for metrics on 127.0.0.1:$MPORT: Address already in use" \
            "$IT_CHECK_OUT" &&
        [ ! -e "$IT_DIR/milter/second.sock" ]
}

# reload_counted - after the reload (polled until the new generation
# shows), on the port of the start: one reload, ok, and its duration
reload_counted() {
    local i
    for ((i = 0; i < 50; i++)); do
        scrape "$M2" && grep -qx 'authmilter_config_generation 2' "$M2" && break
        sleep 0.1
    done
    grep -qx 'authmilter_config_generation 2' "$M2" &&
        grep -qx 'authmilter_reloads_total{result="ok"} 1' "$M2" &&
        grep -qx 'authmilter_reload_duration_seconds_count 1' "$M2"
}

M0=$IT_DIR/tmp/metrics.0
M1=$IT_DIR/tmp/metrics.1
M2=$IT_DIR/tmp/metrics.2
it_check "GET /metrics answers 200 before any mail" scrape "$M0"
it_check "promtool check metrics: no problems (before)" promtool_clean "$M0"
it_check "404 for another path" not_found
it_check "metrics_listen already taken: a second daemon's start fails, saying so" \
    bind_refused

# two signed messages from an internal client; Return-Path rewritten
for n in 1 2; do
    it_submit "signed message $n from 127.0.0.1" --from a@example.com \
        --subject "metrics signed $n"
    it_relayed "signed message $n" || true
done
# an outside client forging example.com (SPF -all, DMARC p=reject): 550
it_submit_refused "outside client forging example.com: rejected by DMARC" 550 \
    --xclient-addr 192.0.2.99 --from x@example.com --subject "metrics forged"
# a recipient in the bounce domain that we never issued: 550 at RCPT
it_submit_refused "bounce address never issued: refused" "550 5.1.1" \
    --xclient-addr 192.0.2.99 --from "" --to nobody@bounce.example.com

it_check "GET /metrics after the mail" scrape "$M1"
it_check "promtool check metrics: no problems (after)" promtool_clean "$M1"
it_check "messages{mode=sign,outcome=accept} +2" \
    moved 'authmilter_messages_total{mode="sign",outcome="accept"}' 2
it_check "signatures{algorithm=rsa-sha256} +2 (any key state)" \
    moved_sum 'authmilter_signatures_total{algorithm="rsa-sha256",' 2
it_check "signatures{algorithm=ed25519-sha256} +0" \
    moved_sum 'authmilter_signatures_total{algorithm="ed25519-sha256",' 0
it_check "bounce addresses issued +2" \
    moved authmilter_bounce_addresses_issued_total 2
it_check "bounce addresses refused +1 (every reason)" \
    moved_sum 'authmilter_bounce_addresses_refused_total{' 1
it_check "messages{mode=verify,outcome=reject} +1" \
    moved 'authmilter_messages_total{mode="verify",outcome="reject"}' 1
it_check "spf_results{result=fail} +1" \
    moved 'authmilter_spf_results_total{result="fail"}' 1
it_check "dkim_results{result=none} +1, dmarc_results{result=fail} +1" \
    inbound_results
it_check "policy_actions{action=reject,reason=dmarc} +1" \
    moved 'authmilter_policy_actions_total{action="reject",reason="dmarc"}' 1
it_check "eom_duration_seconds_count +3 (the messages that reached their end)" \
    moved authmilter_eom_duration_seconds_count 3
it_check "dns_queries_total moved (SPF, DMARC lookups), latency histogram too" \
    dns_moved
it_check "keys{state=...}: the one key, domains 1, config_generation 1" \
    snapshot_gauges

# a reload that changes metrics_listen: logged, the listener kept
write_conf "$conf" "127.0.0.1:$MPORT2"
it_log_mark
kill -HUP "$(cat "$IT_DIR/tmp/milter.pid")"
it_check "reload with another metrics_listen: logged that it takes a restart" \
    it_wait_logged 20 "metrics_listen changed to \"127.0.0.1:$MPORT2\": it takes a restart"
it_check "reload counted: reloads{result=ok} 1, config_generation 2, same port" \
    reload_counted

# a real Prometheus scrapes the daemon
mkdir -p "$IT_DIR/prom/data"
cat > "$IT_DIR/prom/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: authmilter
    static_configs:
      - targets: ['127.0.0.1:$MPORT']
EOF
it_check "promtool check config accepts the scrape config" \
    promtool check config "$IT_DIR/prom/prometheus.yml"
it__bg prometheus "$IT_DIR/log/prometheus.log" prometheus \
    --config.file="$IT_DIR/prom/prometheus.yml" \
    --storage.tsdb.path="$IT_DIR/prom/data" \
    --web.listen-address="127.0.0.1:$PPORT" --log.level=warn

# prom_value QUERY - the value of the single sample QUERY returns now
prom_value() {
    curl -sS -f --get --data-urlencode "query=$1" \
        "http://127.0.0.1:$PPORT/api/v1/query" |
        "$IT_PY" -c 'import json, sys
r = json.load(sys.stdin)["data"]["result"]
print(r[0]["value"][1] if len(r) == 1 else "none")'
}

# prom_shows QUERY VALUE - true once Prometheus returns VALUE for QUERY
prom_shows() {
    [ "$(prom_value "$1" 2> /dev/null)" = "$2" ]
}
it_check "Prometheus scraped the daemon: up{job=authmilter} is 1" \
    it_wait_for 30 prom_shows 'up{job="authmilter"}' 1
it_check "Prometheus query: messages{mode=sign,outcome=accept} is 2" \
    it_wait_for 10 prom_shows \
    'authmilter_messages_total{job="authmilter",mode="sign",outcome="accept"}' 2
it_check "Prometheus query: bounce addresses issued is 2" \
    prom_shows 'authmilter_bounce_addresses_issued_total' 2
it_check "prometheus exits 0 on SIGTERM" it__stop prometheus

it_milter_stop
it_postfix_stop
it_done
