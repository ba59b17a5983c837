#!/bin/bash
# shellcheck disable=SC2317
# (SC2317: the helpers run through it_check, which shellcheck cannot follow)
# test_systemd_notify.sh - authmilter under systemd's Type=notify, with
# systemd's side played by notifysock.py on NOTIFY_SOCKET (the protocol of
# sd_notify(3); no systemd runs here): READY=1 only once the daemon
# listens, RELOADING=1 with MONOTONIC_USEC then READY=1 around a SIGHUP,
# a failed reload still ends in READY=1 with a STATUS saying so,
# WATCHDOG=1 at half of WATCHDOG_USEC, STOPPING=1 at SIGTERM; and the
# daemon run as nobody (the datagrams come after the privilege drop).
# Output is TAP. Nothing leaves 127.0.0.1.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
it_init systemd_notify

it_plan 9
NS=$IT_DIR/tmp/notify.sock
NOUT=$IT_DIR/tmp/notify.out
: > "$NOUT"

s1=$(it_keygen example.com s1 ed25519) || exit 1
it_dns_start || { echo "Bail out! knotd"; exit 1; }
it__bg notifysock "$IT_DIR/log/notifysock.log" "$IT_PY" "$IT_LIB_DIR/notifysock.py" "$NS" "$NOUT"
it_wait_for 10 grep -q "^notifysock: ready" "$IT_DIR/log/notifysock.log" ||
    { echo "Bail out! notifysock.py did not start"; exit 1; }

conf=$IT_DIR/milter/notify.conf
it_authmilter_conf "$conf"
printf 'user = nobody\ndomain example.com {\n    key = s1 %s\n}\n' "$s1" >> "$conf"
sock=$(it__conf_socket "$conf")
rm -f "${sock#unix:}"

# notified PATTERN - a datagram matching PATTERN (grep -E) within 20 s
notified() { it_wait_for 20 grep -qE "$1" "$NOUT"; }

it__milter_log_mark
# WATCHDOG_PID must be the daemon's own pid: the shell's, which exec keeps
it__bg milter "$IT_DIR/log/milter.log" env NOTIFY_SOCKET="$NS" \
    WATCHDOG_USEC=400000 sh -c 'WATCHDOG_PID=$$ exec "$@"' sh \
    "$AUTHMILTER" -f -c "$conf"
PID=$IT_LAST_PID
it_check "READY=1 once it listens, with the domains in STATUS" \
    notified '^READY=1\|STATUS=1 domains$'
it_check "... by then the socket is there and the listening notice logged" \
    sh -c "[ -S '${sock#unix:}' ] && grep -q 'listening on' '$IT_DIR/log/milter.log'"
it_check "WATCHDOG=1 at half of WATCHDOG_USEC (3 within 1 s or so)" \
    it_wait_for 5 sh -c "[ \$(grep -c '^WATCHDOG=1$' '$NOUT') -ge 3 ]"

kill -HUP "$PID"
it_check "SIGHUP: RELOADING=1 with MONOTONIC_USEC" \
    notified '^RELOADING=1\|MONOTONIC_USEC=[0-9]+\|STATUS=reloading$'
it_check "... then READY=1 again, reloaded" \
    notified '^READY=1\|STATUS=1 domains; reloaded$'

echo "this is not a statement" >> "$conf"
kill -HUP "$PID"
it_check "a failed reload ends in READY=1 too, its STATUS says so" \
    notified '^READY=1\|STATUS=1 domains; the last reload failed, the running configuration kept$'

n=$(grep -c '^WATCHDOG=1$' "$NOUT")
it_check "the watchdog goes on after the reloads" \
    it_wait_for 5 sh -c "[ \$(grep -c '^WATCHDOG=1$' '$NOUT') -gt $n ]"

kill -TERM "$PID"
it_check "SIGTERM: STOPPING=1" notified '^STOPPING=1\|STATUS=stopping'
wait "$PID"
it_check "... and exit 0" test $? = 0
it_done
