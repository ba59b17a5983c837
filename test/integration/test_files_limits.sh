#!/bin/bash
# shellcheck disable=SC2317
# (SC2317: the helpers run through it_check, which shellcheck cannot follow)
# test_files_limits.sh - what authmilter does as root with files, and how
# it listens and limits connections (issue 12, findings 6, 7, 11, 12):
#   - the pid file, the socket and their directory are made without
#     following a symbolic link, and refused in a directory the run-as user
#     (or anyone but root) could change;
#   - the key reader refuses a conf or key path another user controls, and
#     a key path that is a symbolic link unless key_symlinks = allow (also
#     through the root helper on SIGHUP);
#   - inet:PORT / inet6:PORT without a host listen on loopback only;
#   - max_connections: one connection more is closed at once, the others go
#     on; RLIMIT_NOFILE is raised to fit it, or the cap lowered to fit the
#     hard limit, so that idle connections cannot make new ones hang.
# The daemon runs as "nobody" where the run-as user matters. Output is TAP.
. "$(dirname "$0")/lib.sh"
it_init files_limits

ML=$BUILD_DIR/test/bench/milterload
it_require "$ML" prlimit ss stat
it_plan 37
out=$IT_DIR/tmp
RUNAS=nobody

s1=$(it_keygen example.com s1 ed25519) || exit 1
other=$(it_keygen other.example s1 ed25519) || exit 1
it_dns_start || { echo "Bail out! knotd"; exit 1; }

# mkconf FILE SOCKET KEY [LINE...] - a conf signing example.com with KEY,
# run as $RUNAS, with global lines "NAME = VALUE" set or replaced
mkconf() {
    local f=$1 sock=$2 key=$3
    shift 3
    it_authmilter_conf "$f"
    sed -i "s|^socket .*|socket          = $sock|" "$f"
    for line in "user = $RUNAS" "$@"; do
        if grep -q "^${line%% *} " "$f"; then
            sed -i "s|^${line%% *} .*|$line|" "$f"
        else
            echo "$line" >> "$f"
        fi
    done
    printf 'domain example.com {\n    key = s1 %s\n}\n' "$key" >> "$f"
}

# victim FILE - a root-owned 0600 file an attacker would like root to touch
victim() {
    echo precious > "$1"
    chmod 600 "$1"
}

# untouched FILE - the victim still says "precious", root-owned, mode 600
untouched() {
    [ "$(cat "$1")" = precious ] && [ "$(stat -c '%U %a' "$1")" = "root 600" ]
}

# refused NAME CONF WANT [fg] - authmilter (in the foreground with fg, else
# going to the background) exits at once with an error holding WANT
refused() {
    local name=$1 conf=$2 want=$3 fg=${4:-} rc=0 o=$out/refused.$((IT_N + 1))
    # shellcheck disable=SC2086  # fg: no word or one
    timeout 10 "$AUTHMILTER" $fg -c "$conf" > "$o" 2>&1 || rc=$?
    sed 's/^/#   /' "$o" | tail -n 3
    if [ "$rc" != 0 ] && [ "$rc" != 124 ] && grep -qF -- "$want" "$o"; then
        it_ok "$name"
    else
        it_fail "$name" "exit $rc, wanted an error with: $want"
    fi
}

# serving SOCKSPEC - wait until the milter logs that it serves (signals are
# handled from then on; its socket exists earlier)
serving() {
    it_wait_for 30 grep -qF "listening on $1" "$IT_DIR/log/milter.log"
}

# kill_from FILE - stop a daemon an old build left running (its pid in FILE)
kill_from() {
    local pid
    pid=$(tr -dc 0-9 < "$1" 2>/dev/null)
    [ -n "$pid" ] && grep -q authmilter "/proc/$pid/cmdline" 2>/dev/null \
        && kill "$pid" 2>/dev/null
    return 0
}

# --- finding 6: root-time files ----------------------------------------------
# pid file: a symbolic link in a directory the run-as user owns
d=$IT_DIR/runnobody
mkdir -p "$d" && chown "$RUNAS" "$d"
victim "$out/victim1"
ln -s "$out/victim1" "$d/authmilter.pid"
conf=$IT_DIR/milter/pid1.conf
mkconf "$conf" "unix:$IT_DIR/milter/pid1.sock" "$s1" \
    "pidfile = $d/authmilter.pid"
refused "pid file in a directory owned by $RUNAS: refused, naming it" "$conf" \
    "pid file $d/authmilter.pid: directory $d is owned by $RUNAS"
it_check "pid file in a directory owned by $RUNAS: the root file it links to is untouched" \
    untouched "$out/victim1"
kill_from "$out/victim1"

# pid file: a symbolic link in root's own directory
d=$IT_DIR/runroot
mkdir -p "$d"
victim "$out/victim2"
ln -s "$out/victim2" "$d/authmilter.pid"
conf=$IT_DIR/milter/pid2.conf
mkconf "$conf" "unix:$IT_DIR/milter/pid2.sock" "$s1" \
    "pidfile = $d/authmilter.pid"
refused "pid file that is a symbolic link: refused" "$conf" \
    "pid file $d/authmilter.pid is a symbolic link: remove it"
it_check "pid file that is a symbolic link: the root file it links to is untouched" \
    untouched "$out/victim2"
kill_from "$out/victim2"

# socket: its directory is owned by the run-as user (who could swap the
# socket for a link between bind and chown)
d=$IT_DIR/socknobody
mkdir -p "$d" && chown "$RUNAS" "$d"
conf=$IT_DIR/milter/sock1.conf
mkconf "$conf" "unix:$d/authmilter.sock" "$s1"
refused "socket directory owned by $RUNAS: refused, naming it" "$conf" \
    "socket $d/authmilter.sock: directory $d is owned by $RUNAS" -f
it_check "... and authmilter -q says so before any start (exit 1)" \
    sh -c "! '$AUTHMILTER' -q -c '$conf' > '$out/sockq' 2>&1 &&
        grep -qF 'socket $d/authmilter.sock: directory $d is owned by $RUNAS' '$out/sockq'"
it_check "socket directory owned by $RUNAS: no socket made there" \
    test ! -e "$d/authmilter.sock"

# socket: a symbolic link already sits at the socket path
d=$IT_DIR/sockroot
mkdir -p "$d"
victim "$out/victim3"
ln -s "$out/victim3" "$d/authmilter.sock"
conf=$IT_DIR/milter/sock2.conf
mkconf "$conf" "unix:$d/authmilter.sock" "$s1"
refused "symbolic link at the socket path: refused" "$conf" \
    "$d/authmilter.sock exists and is not a socket (a symbolic link?): remove it" -f
it_check "symbolic link at the socket path: the root file keeps owner and mode" \
    untouched "$out/victim3"

# a missing run directory: made by root for root; the socket for the MTA
d=$IT_DIR/fresh/run
mkdir -p "$IT_DIR/fresh"
conf=$IT_DIR/milter/fresh.conf
mkconf "$conf" "unix:$d/authmilter.sock" "$s1" "socket_mode = 0660"
if it_milter_start_authmilter "$conf"; then
    it_check "missing run directory: made owned by root, mode 755" \
        test "$(stat -c '%U %a' "$d")" = "root 755"
    it_check "socket: owned by $RUNAS with socket_mode 660" \
        test "$(stat -c '%U %a %F' "$d/authmilter.sock")" = "$RUNAS 660 socket"
    it_check "socket: signs" "$ML" -S "unix:$d/authmilter.sock" -a alice -m 2 -e 2
    it_milter_stop
else
    it_fail "authmilter with a missing run directory"
fi

# background with a run-as user: the pid file is root's, in root's directory
conf=$IT_DIR/milter/bg.conf
pidfile=$IT_DIR/milter/bg.pid
mkconf "$conf" "unix:$IT_DIR/milter/bg.sock" "$s1" "pidfile = $pidfile"
it_check "background as $RUNAS: starts" "$AUTHMILTER" -c "$conf"
for _ in $(seq 50); do [ -S "$IT_DIR/milter/bg.sock" ] && [ -s "$pidfile" ] && break; sleep 0.1; done
bgpid=$(cat "$pidfile" 2>/dev/null)
it_check "background as $RUNAS: the pid file names the daemon, root-owned 644" \
    sh -c "grep -q authmilter /proc/${bgpid:-0}/cmdline &&
           test \"\$(stat -c '%U %a' '$pidfile')\" = 'root 644'"
if [ -n "$bgpid" ]; then
    kill -TERM "$bgpid" 2>/dev/null
    for _ in $(seq 100); do it__alive "$bgpid" || break; sleep 0.1; done
fi

# --- finding 7: the key reader -------------------------------------------------
# the conf in a directory the run-as user owns (it could list any file as a key)
d=$IT_DIR/confnobody
mkdir -p "$d" && chown "$RUNAS" "$d"
conf=$d/authmilter.conf
mkconf "$conf" "unix:$IT_DIR/milter/conf.sock" "$s1"
refused "conf in a directory owned by $RUNAS: refused, naming it" "$conf" \
    "configuration file $conf: directory $d is owned by $RUNAS" -f

# a key directory the run-as user owns
d=$IT_DIR/keysnobody
mkdir -p "$d" && cp "$s1" "$d/s1.pem" && chmod 600 "$d/s1.pem" && chmod 700 "$d"
chown "$RUNAS" "$d"
conf=$IT_DIR/milter/keydir.conf
mkconf "$conf" "unix:$IT_DIR/milter/keydir.sock" "$d/s1.pem"
# (its block is left out, the daemon runs: authmilter -q exits 1 naming it)
refused "key directory owned by $RUNAS: refused, naming it" "$conf" \
    "key file $d/s1.pem: directory $d is owned by $RUNAS" -q

# SIGHUP: the key path swapped for a link to another tenant's root-only key
d=$IT_DIR/keys2
mkdir -p "$d" && chmod 700 "$d" && cp "$s1" "$d/a.pem" && chmod 600 "$d/a.pem"
conf=$IT_DIR/milter/swap.conf
mkconf "$conf" "unix:$IT_DIR/milter/swap.sock" "$d/a.pem"
if it_milter_start_authmilter "$conf" && serving "$IT_MILTER_SOCKET"; then
    mv "$d/a.pem" "$d/a.old"
    ln -s "$other" "$d/a.pem"
    kill -HUP "$IT_LAST_PID"
    it_check "SIGHUP: a key path turned into a symbolic link is refused by the root reader; the domain keeps its running version" \
        it_wait_for 10 grep -qF "1 domains loaded, 1 failed (1 kept running)" \
        "$IT_DIR/log/milter.log"
    it_check "SIGHUP: the refusal says what to do" \
        grep -qF "key file $d/a.pem is a symbolic link: name the file it points to (or set key_symlinks = allow)" \
        "$IT_DIR/log/milter.log"
    it_check "SIGHUP: still signing with the running key" \
        "$ML" -S "$IT_MILTER_SOCKET" -a alice -m 1 -e 1
    it_milter_stop
else
    it_fail "authmilter for the key swap"
fi

# SIGHUP after the conf's directory was given to the run-as user: the root
# reader's first record refuses the whole reload; the running snapshot stays
gd=$IT_DIR/confgiven
mkdir -p "$gd" && chmod 755 "$gd"
conf=$gd/authmilter.conf
mkconf "$conf" "unix:$IT_DIR/milter/given.sock" "$s1"
if it_milter_start_authmilter "$conf" && serving "$IT_MILTER_SOCKET"; then
    chown "$RUNAS" "$gd"
    kill -HUP "$IT_LAST_PID"
    it_check "SIGHUP: a conf directory now owned by $RUNAS fails the reload, naming it" \
        it_wait_for 10 grep -qF "reload failed, keeping the running configuration: configuration file $conf: directory $gd is owned by $RUNAS" \
        "$IT_DIR/log/milter.log"
    it_check "SIGHUP: still signing with the running configuration" \
        "$ML" -S "$IT_MILTER_SOCKET" -a alice -m 1 -e 1
    chown root "$gd"
    kill -HUP "$IT_LAST_PID"
    it_check "SIGHUP: the directory given back, the next reload works (the reader stayed in step)" \
        it_wait_for 10 grep -qF "configuration reloaded from $conf" \
        "$IT_DIR/log/milter.log"
    it_milter_stop
else
    it_fail "authmilter for the conf given away"
fi

# key_symlinks = allow: a mounted-secrets style link loads, but a link into a
# directory the run-as user owns does not
ln -sf "$d/a.old" "$d/a.pem"
conf=$IT_DIR/milter/allow.conf
mkconf "$conf" "unix:$IT_DIR/milter/allow.sock" "$d/a.pem" "key_symlinks = allow"
if it_milter_start_authmilter "$conf" && serving "$IT_MILTER_SOCKET"; then
    it_check "key_symlinks = allow: a linked key loads and signs" \
        "$ML" -S "$IT_MILTER_SOCKET" -a alice -m 1 -e 1
    ln -sf "$IT_DIR/keysnobody/s1.pem" "$d/a.pem"
    kill -HUP "$IT_LAST_PID"
    it_check "key_symlinks = allow: a link into a directory owned by $RUNAS is refused" \
        it_wait_for 10 grep -qF "key file $d/a.pem: directory $IT_DIR/keysnobody is owned by $RUNAS" \
        "$IT_DIR/log/milter.log"
    it_milter_stop
else
    it_fail "authmilter with key_symlinks = allow"
fi

# --- finding 11: inet:PORT without a host ---------------------------------------
port=$((IT_SMTP_PORT + 1100))
for fam in inet inet6; do
    conf=$IT_DIR/milter/$fam.conf
    mkconf "$conf" "$fam:$port" "$s1"
    it__milter_log_mark
    it__bg milter "$IT_DIR/log/milter.log" "$AUTHMILTER" -f -c "$conf"
    it_wait_for 15 sh -c "ss -Hltn 'sport = :$port' | grep -q ."
    ss -Hltn "sport = :$port" > "$out/ss.$fam" 2>&1
    sed 's/^/#   /' "$out/ss.$fam"
    want=127.0.0.1:$port
    [ "$fam" = inet6 ] && want="[::1]:$port"
    it_check "$fam:$port listens on $want only" \
        sh -c "grep -qF '$want' '$out/ss.$fam' && test \$(wc -l < '$out/ss.$fam') = 1"
    it_check "$fam:$port: the log says loopback only and how to listen on all" \
        grep -q "names no host: listening on .* only (write PORT@" "$IT_DIR/log/milter.log"
    if [ "$fam" = inet ]; then
        it_check "$fam:$port: signs over 127.0.0.1" \
            "$ML" -S "inet:$port@127.0.0.1" -a alice -m 1 -e 1
    fi
    it_milter_stop
done

# --- finding 12: max_connections and RLIMIT_NOFILE ------------------------------
conf=$IT_DIR/milter/cap.conf
mkconf "$conf" "unix:$IT_DIR/milter/cap.sock" "$s1" "max_connections = 5"
if it_milter_start_authmilter "$conf"; then
    it_check "max_connections = 5: a 6th connection is closed at once, the 5 finish messages, a new one is served after one closes" \
        "$IT_PY" "$IT_LIB_DIR/conncap.py" cap "$IT_MILTER_SOCKET" 5
    sed 's/^/#   /' "$IT_CHECK_OUT"
    it_check "max_connections = 5: one log line says so and what to do" \
        grep -q "max_connections (5) reached: closed 1 new MTA connection at once (the MTA applies its milter_default_action); raise max_connections" \
        "$IT_DIR/log/milter.log"
    it_milter_stop
else
    it_fail "authmilter with max_connections = 5"
fi

# the soft limit is raised to what the default cap (1000) needs
conf=$IT_DIR/milter/rlimit.conf
mkconf "$conf" "unix:$IT_DIR/milter/rlimit.sock" "$s1"
it__milter_log_mark
it__bg milter "$IT_DIR/log/milter.log" prlimit --nofile=1024:8192 "$AUTHMILTER" -f -c "$conf"
if it__wait_socket "unix:$IT_DIR/milter/rlimit.sock" "$IT_LAST_PID" \
    && serving "unix:$IT_DIR/milter/rlimit.sock"; then
    lim=$(awk '/^Max open files/ { print $4, $5 }' "/proc/$IT_LAST_PID/limits")
    echo "# Max open files (soft hard): $lim"
    it_check "RLIMIT_NOFILE soft limit raised from 1024 to 2064 for max_connections 1000" \
        test "$lim" = "2064 8192"
    it_milter_stop
else
    it_fail "authmilter under prlimit --nofile=1024:8192"
fi

# the systemd default (1024:1024): the cap shrinks to fit, so 1010 idle MTA
# connections cannot leave the next one hanging
conf=$IT_DIR/milter/flood.conf
mkconf "$conf" "unix:$IT_DIR/milter/flood.sock" "$s1"
it__milter_log_mark
it__bg milter "$IT_DIR/log/milter.log" prlimit --nofile=1024:1024 "$AUTHMILTER" -f -c "$conf"
if it__wait_socket "unix:$IT_DIR/milter/flood.sock" "$IT_LAST_PID" \
    && serving "unix:$IT_DIR/milter/flood.sock"; then
    it_check "hard limit 1024: the log says the cap was lowered to fit and what to raise" \
        grep -q "max_connections 1000 needs 2064 open files, but the limit is 1024 (hard limit 1024): serving at most 480 connections; raise the hard limit (systemd: LimitNOFILE=)" \
        "$IT_DIR/log/milter.log"
    it_check "hard limit 1024: after 1010 idle connections a new one is answered or closed at once, not left hanging" \
        prlimit --nofile=4096:4096 "$IT_PY" "$IT_LIB_DIR/conncap.py" flood \
        "unix:$IT_DIR/milter/flood.sock" 1010
    sed 's/^/#   /' "$IT_CHECK_OUT"
    it_milter_stop
else
    it_fail "authmilter under prlimit --nofile=1024:1024"
fi

# --- a start that fails after the conf checks (issue 17) -------------------
conf=$IT_DIR/milter/ta.conf
mkconf "$conf" "unix:$IT_DIR/milter/ta.sock" "$s1" \
    "trust_anchor_file = /nonexistent/root.key"
it_check "-q: a trust_anchor_file that cannot be read is an error (exit 1, named)" \
    sh -c "! '$AUTHMILTER' -q -c '$conf' > '$out/ta.q' 2>&1 &&
        grep -q 'trust_anchor_file /nonexistent/root.key: No such file' '$out/ta.q'"
# readable, but no trust anchor: only the resolver's start finds out
echo "not a trust anchor" > "$out/ta.key"
mkconf "$conf" "unix:$IT_DIR/milter/ta.sock" "$s1" \
    "trust_anchor_file = $out/ta.key"
refused "a background start failing after the checks: the parent waits, exits 1 with the reason" \
    "$conf" "not started: cannot start: resolver does not work"
it_check "... and no socket is left behind" test ! -e "$IT_DIR/milter/ta.sock"

it_done
