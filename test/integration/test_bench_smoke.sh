#!/usr/bin/env bash
# test_bench_smoke.sh - a small run of the benchmark's load (contrib/bench.sh
# drives test/bench/milterload the same way) against authmilter on a unix
# socket and on TCP, and against Debian's opendkim when it is installed.
# Asserts correctness only, never a speed: every message comes back signed,
# nothing fails, a few of the signed messages verify with dkimpy against
# the key served by knotd, and the daemon exits cleanly (no sanitizer
# report). Also exercises the load generator's modes bench.sh relies on:
# paced (-R) and held idle connections (-H), and the SMTP mode (-X) the
# inbound Postfix rows use, against smtp-sink. A few hundred messages; runs
# under the sanitizer build (BUILD_DIR) well within a minute.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
it_init bench_smoke

ML=$BUILD_DIR/test/bench/milterload
it_require "$AUTHMILTER" "$ML"
# 8 checks for each of authmilter on a unix socket, on TCP, and opendkim;
# 2 for the SMTP mode
it_plan 26
out=$IT_DIR/tmp

rsa=$(it_keygen example.com s1 rsa 2048) || { echo "Bail out! keygen"; exit 1; }
it_dns_start || { echo "Bail out! knotd"; exit 1; }

# smoke NAME SOCKET - the load checks against the milter on SOCKET
smoke() {
    local name=$1 sock=$2 dir=$out/$1 f
    it_check "$name: 8 connections x 40 messages of 10 KB, all signed, no errors" \
        "$ML" -S "$sock" -a alice -c 8 -m 40 -s 10k -e 320 -t 50
    it_check "$name: 1 KB, 100 KB and multipart messages, all signed" \
        sh -c "'$ML' -S '$sock' -a alice -c 2 -m 10 -s 1k -e 20 -t 50 &&
               '$ML' -S '$sock' -a alice -c 2 -m 5 -s 100k -e 10 -t 50 &&
               '$ML' -S '$sock' -a alice -c 2 -m 5 -s multipart -e 10 -t 50"
    it_check "$name: paced (-R 200), 4 connections x 20 messages, all signed" \
        "$ML" -S "$sock" -a alice -c 4 -m 20 -R 200 -e 80 -t 50
    it_check "$name: 100 connections held idle (-H 1), then all signed" \
        "$ML" -S "$sock" -a alice -c 100 -m 1 -H 1 -e 100 -t 50
    mkdir -p "$dir"
    it_check "$name: 3 messages written out (-o)" \
        "$ML" -S "$sock" -a alice -c 1 -m 3 -e 3 -o "$dir" -t 50
    for f in "$dir"/1-{1,2,3}.eml; do
        it_check "$name: $(basename "$f") verifies with dkimpy" \
            it_dkimverify --min 1 --expect-domains example.com "$f"
    done
}

# authmilter on a unix socket, then on TCP
conf=$IT_DIR/milter/unix.conf
it_authmilter_conf "$conf"
sed -i 's/^log_level .*/log_level       = warning/' "$conf"
printf 'domain example.com {\n    key = s1 %s\n}\n' "$rsa" >> "$conf"
if it_milter_start_authmilter "$conf"; then
    smoke "authmilter unix" "$IT_MILTER_SOCKET"
    it_milter_stop
else
    it_fail "authmilter starts on a unix socket"
fi

port=${IT_MILTER_PORT:-}
it_free_port port
conf_tcp=$IT_DIR/milter/tcp.conf
# (control_socket: next to the unix socket, not in /run, where every run would meet)
sed "s|^socket .*|socket          = inet:$port@127.0.0.1|" "$conf" > "$conf_tcp"
echo "control_socket  = $IT_DIR/milter/tcp-control.sock" >> "$conf_tcp"
if it_milter_start_authmilter "$conf_tcp"; then
    smoke "authmilter TCP" "$IT_MILTER_SOCKET"
    it_milter_stop
else
    it_fail "authmilter starts on inet:$port@127.0.0.1"
fi

# the same load against OpenDKIM, as bench.sh compares them
if command -v opendkim > /dev/null 2>&1; then
    if it_milter_start_opendkim example.com s1 "$rsa"; then
        smoke opendkim "$IT_MILTER_SOCKET"
        it_milter_stop
    else
        it_fail "opendkim starts"
    fi
else
    it_fail "opendkim load" "opendkim not installed (contrib/deps.sh installs it)"
fi

# the SMTP mode: pre-signed messages through XCLIENT to smtp-sink, whose
# dumps must still verify (CRLF, dot-stuffing and folding kept intact)
if it_sink_start; then
    it_check "milterload -X: 4 connections x 10 pre-signed messages accepted through XCLIENT" \
        sh -c "'$ML' -X 127.0.0.1:$IT_SINK_PORT -c 4 -m 10 -i 192.0.2.10 \
            -D s1:$rsa -r bob@dest.test.example -t 50 -q -j > '$out/smtp.json' &&
            grep -q '\"accepted\":40,.*\"xclient\":40,' '$out/smtp.json'"
    f=$(find "$IT_DIR/sink" -type f | head -n 1)
    it_check "milterload -X: a message smtp-sink received verifies with dkimpy" \
        it_dkimverify --min 1 --expect-domains example.com "${f:-/nonexistent}"
else
    it_fail "smtp-sink starts"
    it_fail "milterload -X" "no smtp-sink"
fi

it_done
