#!/usr/bin/env bash
# shellcheck disable=SC2317
# (SC2317: the helpers run through it_check, which shellcheck cannot follow)
# test_control.sh - authmilterctl(8) against the running daemon over its
# control socket (control_socket = auto: next to the milter socket, found
# through the conf): two domains (ed25519 and RSA keys published in knot)
# in included files, then
#   - status, status --json, keys, keys --json (parsed by Python), --state
#     and --domain filters, domain D (its block, which key signs and why);
#   - reload after adding a third domain, written in U-labels, prints the
#     reload's summary (one domain added) and the new domain is in keys
#     (asked for in U-labels); a reload of a broken conf prints why it
#     failed and exits 1;
#   - check D after D's record was revoked in the zone (knot restarted)
#     shows the new state at once (the checker's cache is bypassed);
#   - a user outside the group (nobody) cannot connect (mode 0660, exit 2),
#     and with the socket opened to all the daemon still refuses it
#     (SO_PEERCRED); garbage gets an error and the daemon lives on; a
#     client that connects and says nothing does not hold up another;
#   - after SIGTERM the socket is gone and authmilterctl exits 2 naming it.
#
# Output is TAP. Environment: see lib.sh. Nothing leaves 127.0.0.1.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

it_init control

CTL=$BUILD_DIR/milter/authmilterctl
it_require "$CTL" "$AUTHMILTER" setpriv
it_plan 33
DD=$IT_DIR/milter/domains.d
WT=$IT_DIR/tmp
conf=$IT_DIR/milter/ctl.conf
SOCK=$IT_DIR/milter/authmilter-control.sock
UDOM="b$(printf '\303\274')cher.ctl.test"  # bücher.ctl.test
ADOM=xn--bcher-kva.ctl.test

# ctl ARGS... - authmilterctl with the test's conf; output in $WT/ctl.out, errors in $WT/ctl.err
ctl() {
    "$CTL" -c "$conf" "$@" > "$WT/ctl.out" 2> "$WT/ctl.err"
}

# ctl_ok PATTERN ARGS... - authmilterctl ARGS exits 0 and prints PATTERN (grep -E)
ctl_ok() {
    local pat=$1
    shift
    ctl "$@" || { echo "exit $?"; cat "$WT/ctl.out" "$WT/ctl.err"; return 1; }
    grep -qE "$pat" "$WT/ctl.out" || { cat "$WT/ctl.out"; return 1; }
}

# ctl_fails STATUS PATTERN ARGS... - authmilterctl ARGS exits STATUS, PATTERN on stderr
ctl_fails() {
    local want=$1 pat=$2 rc=0
    shift 2
    ctl "$@" || rc=$?
    cat "$WT/ctl.out" "$WT/ctl.err"
    [ "$rc" = "$want" ] && grep -qE "$pat" "$WT/ctl.err"
}

# json EXPR ARGS... - authmilterctl ARGS prints JSON for which the Python EXPR (over d) holds
json() {
    local expr=$1
    shift
    ctl "$@" || { cat "$WT/ctl.err"; return 1; }
    cat "$WT/ctl.out"
    "$IT_PY" -c "import json, sys; d = json.load(open(sys.argv[1])); sys.exit(0 if ($expr) else 1)" "$WT/ctl.out"
}

# key_state DOMAIN STATE - keys --domain DOMAIN lists DOMAIN's s1 in STATE
key_state() {
    ctl keys --domain "$1" && grep -qE "^[^ ]+ +s1 +[a-z0-9]+ +[0-9]+ +$2 " "$WT/ctl.out"
}

# raw BYTES - send BYTES (a Python bytes literal) to the socket; the answer's first line
raw() {
    "$IT_PY" -c "import socket, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(10); s.connect(sys.argv[1])
s.sendall($1); s.shutdown(socket.SHUT_WR)
print(s.makefile('rb').read().split(b'\n')[0].decode())" "$SOCK"
}

# within SECS T0 - less than SECS seconds passed since T0 (date +%s.%N)
within() {
    awk -v now="$(date +%s.%N)" -v t0="$2" -v limit="$1" 'BEGIN {
        printf "%.2f s (limit %s s)\n", now - t0, limit; exit !(now - t0 < limit) }'
}

# ---------------------------------------------------------------- set-up
mkdir -p "$DD" "$WT"
if ! { ka=$(it_keygen a.ctl.test s1 ed25519) &&
    kb=$(it_keygen b.ctl.test s1 rsa 1024) &&
    kc=$(it_keygen "$ADOM" s1 ed25519); }; then
    echo "Bail out! keygen"; exit 1
fi
it_dns_start || { echo "Bail out! knotd"; exit 1; }
it_authmilter_conf "$conf"
echo "include $DD/*.conf" >> "$conf"
printf 'domain a.ctl.test {\n    key = s1 %s\n}\n' "$ka" > "$DD/a.conf"
printf 'domain b.ctl.test {\n    key = s1 %s\n}\n' "$kb" > "$DD/b.conf"
it_milter_start_authmilter "$conf" || { echo "Bail out! authmilter"; exit 1; }
MILTER_PID=$IT_LAST_PID
it_wait_logged 20 'key check: pass done' > /dev/null ||
    { echo "Bail out! no key check pass"; exit 1; }

# ---------------------------------------------------------------- reading
it_check "the control socket is next to the milter socket, mode 0660" \
    sh -c "[ -S '$SOCK' ] && [ \"\$(stat -c %a '$SOCK')\" = 660 ]"
it_check "status: 2 domains, snapshot generation 1, 2 keys published" \
    ctl_ok 'snapshot: generation 1, .*from .*ctl.conf' status
it_check "... its text names the counts" \
    grep -qzE 'domains: 2 loaded, 0 failed.keys: 2 \(2 published\).in flight: 0 messages' "$WT/ctl.out"
it_check "status --json parses: version, generation 1, no reload yet" \
    json 'd["generation"] == 1 and d["domains"] == 2 and d["key_states"]["published"] == 2 and d["last_reload"] is None and d["reload_in_progress"] is False and d["version"]' status --json
it_check "keys: both keys published and signing" \
    ctl_ok '^b\.ctl\.test +s1 +rsa +1024 published +active +yes' keys
it_check "keys --json parses: two keys, ed25519 and rsa, both sign" \
    json 'len(d) == 2 and sorted(k["type"] for k in d) == ["ed25519", "rsa"] and all(k["signs"] and k["state"] == "published" for k in d)' keys --json
it_check "keys --state missing --json: none" \
    json 'd == []' keys --state missing --json
it_check "keys --domain B.CTL.TEST: only b's key" \
    json 'len(d) == 1 and d[0]["domain"] == "b.ctl.test"' keys --domain B.CTL.TEST --json
it_check "keys --state sleepy: refused, exit 1" \
    ctl_fails 1 'unknown state "sleepy"' keys --state sleepy
it_check "domain a.ctl.test: its block from its file, and why s1 signs" \
    ctl_ok 'ed25519  s1 \(record published\): the first of its type' domain a.ctl.test
it_check "... with the effective configuration as authmilter -n prints it" \
    grep -qzE "# $DD/a.conf, line 1.domain a.ctl.test \{.    key = s1 .*# ed25519, 256 bits, DNS record published.*    signers += \*    # inherited" "$WT/ctl.out"
it_check "domain nope.ctl.test: exit 1, no such block" \
    ctl_fails 1 'no domain block nope.ctl.test' domain nope.ctl.test

# ---------------------------------------------------------------- reload
printf 'domain %s {\n    key = s1 %s\n}\n' "$UDOM" "$kc" > "$DD/c.conf"
it_check "reload after adding a domain (U-labels): the summary, one added" \
    ctl_ok '^configuration reloaded from .*: 3 domains loaded, 0 failed.*domains 1 added, 0 removed' reload
it_check "... status: generation 2, the last reload ok" \
    json 'd["generation"] == 2 and d["domains"] == 3 and d["reloads"] == 1 and d["last_reload"]["ok"] and "1 added" in d["last_reload"]["result"]' status --json
it_check "... keys --domain in U-labels lists it under its A-labels" \
    json "len(d) == 1 and d[0]['domain'] == '$ADOM'" keys --domain "$UDOM" --json
it_check "... its record is looked up" \
    it_wait_for 10 key_state "$UDOM" published
cp "$conf" "$WT/conf.good"
echo "no_such_option = 1" >> "$conf"
it_check "reload of a broken conf: exit 1, why, the running one kept" \
    ctl_fails 1 'reload failed, keeping the running configuration: .*unknown option "no_such_option"' reload
cp "$WT/conf.good" "$conf"
it_check "... status: still generation 2, the last reload failed" \
    json 'd["generation"] == 2 and d["reloads"] == 2 and not d["last_reload"]["ok"]' status --json

# ---------------------------------------------------------------- check
sed -i 's/^s1\._domainkey\.b\.ctl\.test\..*/s1._domainkey.b.ctl.test. 300 IN TXT "v=DKIM1; k=rsa; p="/' \
    "$IT_DIR/zones/b.ctl.test.records"
it_dns_reload || { echo "Bail out! knotd"; exit 1; }
it_check "before check: b's key still published (the checker's cache)" \
    key_state b.ctl.test published
it_check "check b.ctl.test: the revoked record at once" \
    ctl_ok '^b\.ctl\.test +s1 +rsa +1024 revoked ' check b.ctl.test
it_check "check in U-labels: published" \
    ctl_ok "^$ADOM +s1 +ed25519 +256 published " check "$UDOM"
it_check "check nope.ctl.test: exit 1" \
    ctl_fails 1 'no domain block nope.ctl.test' check nope.ctl.test

# ---------------------------------------------------------------- access
# nobody_ctl - authmilterctl status as nobody, outside every group
nobody_ctl() {
    setpriv --reuid=nobody --regid=nogroup --clear-groups "$CTL" -s "$SOCK" \
        status > "$WT/ctl.out" 2> "$WT/ctl.err"
}
rc=0; nobody_ctl || rc=$?
it_check "nobody cannot connect (mode 0660): exit 2, the socket named" \
    sh -c "[ $rc = 2 ] && grep -q 'cannot connect to $SOCK: Permission denied' '$WT/ctl.err'"
chmod 0666 "$SOCK"
rc=0; nobody_ctl || rc=$?
chmod 0660 "$SOCK"
it_check "socket opened to all: the daemon still refuses nobody (SO_PEERCRED), exit 1" \
    sh -c "[ $rc = 1 ] && grep -q 'refused: only root, the daemon.s user and its group' '$WT/ctl.err'"
it_check "... and logs it" \
    it_wait_logged 5 'control socket: refused uid [0-9]+ gid [0-9]+'
it_check "garbage words get an error" \
    sh -c "[ \"\$1\" = error ]" - "$(raw 'b"\x01\x02 hello\n"')"
it_check "a NUL and high bytes get an error" \
    sh -c "[ \"\$1\" = error ]" - "$(raw 'b"status\x00\xff\xfe\n"')"
it_check "5000 bytes without a newline get an error" \
    sh -c "[ \"\$1\" = error ]" - "$(raw 'b"x" * 5000')"
# a client that connects and says nothing (for 4 s)
"$IT_PY" -c "import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
open(sys.argv[2], 'w').close(); time.sleep(4)" "$SOCK" "$WT/silent" &
SILENT=$!
it_wait_for 10 test -e "$WT/silent"
t0=$(date +%s.%N)
it_check "a silent client does not hold up another: status answers" \
    ctl_ok '^version: ' status
it_check "... at once" within 2 "$t0"
wait "$SILENT"
it_check "the daemon lives on" kill -0 "$MILTER_PID"

# ---------------------------------------------------------------- stop
it_milter_stop
it_check "after SIGTERM the control socket is gone" test ! -e "$SOCK"
it_check "authmilterctl without a daemon: exit 2 naming the socket" \
    ctl_fails 2 "cannot connect to $SOCK" status
it_done
