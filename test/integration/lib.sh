# shellcheck shell=bash disable=SC2034
# (SC2034: IT_MILTER_SOCKET, IT_CHECK_OUT, IT_QID, IT_MSG are for the callers)
# lib.sh - harness for the integration tests: real servers on loopback.
#
# Sourced by test/integration/test_*.sh (and contrib/demo.sh). Starts, for one
# test script, in its own work dir:
#   - knotd, authoritative for the zones in test/zones/ plus the DKIM key
#     records generated at test time (127.0.0.1:$IT_DNS_PORT);
#   - a private Postfix instance (own config, queue and data dirs, log file)
#     with Cyrus SASL (sasldb in the work dir), XCLIENT for 127.0.0.0/8, and
#     smtpd_milters/non_smtpd_milters pointing at the milter under test
#     (smtpd on 127.0.0.1:$IT_SMTP_PORT);
#   - smtp-sink on 127.0.0.1:$IT_SINK_PORT, Postfix's relayhost, dumping each
#     relayed message to a file;
#   - the milter: authmilter ($AUTHMILTER) or, for the harness self-test,
#     Debian's opendkim.
# Everything stops on exit (trap), also when a test fails or is interrupted.
# Output is TAP (it_plan, it_ok, it_fail, it_check, it_done): a script
# announces its number of checks up front with it_plan, and it_done fails
# it when another number ran; a skip (it_skip) is counted as skipped by
# test/run.sh, never as passed.
#
# Needs root (Postfix's master, knotd) and these Debian packages, which the
# top-level runner installs (see IT_DEBIAN_PACKAGES below).
# Nothing here sends a packet beyond 127.0.0.1: Postfix's DNS lookups are
# off, and every DNS client is pointed at the local knotd.
#
# Environment (all optional):
#   AUTHMILTER_TEST_TMP  fixed base of the work dirs: $AUTHMILTER_TEST_TMP/
#                        authmilter-it/NAME (default: a fresh mktemp -d dir
#                        under /tmp for every script run)
#   IT_DNS_PORT          knotd port       } default: a port free for TCP and
#   IT_SMTP_PORT         Postfix smtpd    } UDP chosen at it_init (it_free_port);
#   IT_SINK_PORT         smtp-sink port   } scripts take their other ports
#                        (a second knotd, blackhole and dead DNS ports, dnsdrop,
#                        the milter on TCP) with it_free_port too
#   IT_DNS_LISTEN_EXTRA  one more address@port knotd listens on (the
#                        bench's resolver for clients that read resolv.conf)
#   AUTHMILTER           the daemon under test (default $BUILD_DIR/milter/authmilter)
#   BUILD_DIR            the build dir (default: _build in the source tree)
#   IT_KEEP=1            keep the work dir after a successful run
#   AUTHMILTER_TEST_ENGINE  builtin (default) or libmilter: the milter_engine
#                        of every conf it_authmilter_conf writes; the work dir
#                        is then NAME-ENGINE, and it_milter_start_authmilter
#                        fails unless the daemon logs that engine at start
# Runs at once do not meet: each has its own work dir and its own ports
# (unless the environment fixes them to the same values).

# Debian packages the harness needs (postfix: preseed "postfix/main_mailer_type
# select No configuration" first); the self-test also needs opendkim.
IT_DEBIAN_PACKAGES="postfix sasl2-bin libsasl2-modules libsasl2-modules-db \
knot knot-dnsutils openssl python3 python3-dkim python3-dnspython python3-nacl \
libmail-dkim-perl libnet-dns-perl"
IT_SELFTEST_PACKAGES="opendkim"

IT_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
IT_SRC_DIR=$(cd "$IT_LIB_DIR/../.." && pwd)
IT_ZONE_TEMPLATES=$IT_SRC_DIR/test/zones
# Debian's dkim, dns and authres modules exist only for the system Python.
IT_PY=/usr/bin/python3

IT_DNS_PORT=${IT_DNS_PORT:-}      # chosen in it_init unless set
IT_SMTP_PORT=${IT_SMTP_PORT:-}
IT_SINK_PORT=${IT_SINK_PORT:-}
IT_PORTS_TAKEN=""                  # ports it_free_port has handed out
IT_TMP_BASE=""                     # the mktemp -d dir it_init made, if any
BUILD_DIR=${BUILD_DIR:-$IT_SRC_DIR/_build}
AUTHMILTER=${AUTHMILTER:-$BUILD_DIR/milter/authmilter}

IT_N=0
IT_PASS=0
IT_FAIL=0
IT_SKIP=0
IT_PLAN=""              # the number of checks it_plan announced
IT_DONE=""              # set by it_done: an exit before it is a failure
IT_SUBMIT_FAILED=""     # the last submission was refused (already not ok)
IT_PIDS=()              # "name:pid" of every background server we started
IT_POSTFIX_CONF=""      # set while our Postfix instance may be running
IT_MILTER_LOG_START=0   # lines of log/milter.log before the current milter
IT_LOG_FROM=""          # set by it_log_mark: it_milter_log starts after it

# ---------------------------------------------------------------- set-up

# it_init - create a fresh work dir for test NAME and arm the cleanup trap
it_init() {
    IT_NAME=$1${AUTHMILTER_TEST_ENGINE:+-$AUTHMILTER_TEST_ENGINE}
    if [ "$(id -u)" != 0 ]; then
        echo "1..0 # SKIP $IT_NAME: needs root (Postfix master, knotd)"
        exit 0
    fi
    it_require postconf postfix smtp-sink saslpasswd2 knotd kdig openssl \
        "$IT_PY" perl
    if [ -n "${AUTHMILTER_TEST_TMP:-}" ]; then
        # a fixed place: clear what an earlier run of this test left there
        IT_BASE=$AUTHMILTER_TEST_TMP/authmilter-it
        IT_TMP_BASE=""
        IT_DIR=$IT_BASE/$IT_NAME
        it__stop_leftovers "$IT_DIR"
        rm -rf "$IT_DIR"
        mkdir -p "$IT_BASE"
    else
        IT_BASE=$(mktemp -d /tmp/authmilter-it.XXXXXXXX) ||
            { echo "Bail out! mktemp -d"; exit 1; }
        IT_TMP_BASE=$IT_BASE
        IT_DIR=$IT_BASE/$IT_NAME
    fi
    # smtpd and the other Postfix daemons run as "postfix" and must reach the
    # milter socket and the sasldb: every directory on the way is 0755.
    mkdir -p "$IT_DIR"/{keys,zones,knot,pf,sink,milter,log,tmp}
    chmod 755 "$IT_BASE" "$IT_DIR" "$IT_DIR"/*
    chmod 700 "$IT_DIR/keys"
    # smtp-sink drops to "nobody" before it writes its dumps.
    chown nobody "$IT_DIR/sink"
    : > "$IT_DIR/log/postfix.log"
    : > "$IT_DIR/log/milter.log"
    trap it__cleanup EXIT
    trap 'exit 130' INT TERM HUP
    # the three servers every script may start; smtpd's port also leaves
    # room for the milter's TCP sockets some scripts put at +1000 and +1100
    it_free_port IT_DNS_PORT
    it_free_port IT_SMTP_PORT 1000 1100
    it_free_port IT_SINK_PORT
    echo "# $IT_NAME: work dir $IT_DIR, ports dns $IT_DNS_PORT smtp $IT_SMTP_PORT sink $IT_SINK_PORT"
}

# it_free_port - unless variable VAR is set already (from the environment),
# set it to a loopback port nobody uses for TCP or UDP, nor IPv6 TCP, and
# none of whose offsets OFFSET... is in use either; never one handed out
# before in this run. The kernel is asked: each candidate is bound and
# closed again. Candidates are drawn below the kernel's ephemeral range
# (ip_local_port_range), so that no client connection takes one between
# now and the bind of the server it is for.
it_free_port() {
    local it__var=$1 it__port it__o
    shift
    [ -n "${!it__var:-}" ] && return 0
    it__port=$("$IT_PY" - "$IT_PORTS_TAKEN" "$@" <<'PY'
import errno, random, socket, sys

taken = {int(p) for p in sys.argv[1].split()}
offsets = [0] + [int(a) for a in sys.argv[2:]]
try:
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        low = int(f.read().split()[0])
except (OSError, ValueError, IndexError):
    low = 32768
top = min(low, 65536) - 1 - max(offsets)


def free(port):
    """True if PORT binds on 127.0.0.1 (TCP and UDP) and ::1 (TCP)."""
    for fam, kind, host in ((socket.AF_INET, socket.SOCK_STREAM, "127.0.0.1"),
                            (socket.AF_INET, socket.SOCK_DGRAM, "127.0.0.1"),
                            (socket.AF_INET6, socket.SOCK_STREAM, "::1")):
        try:
            s = socket.socket(fam, kind)
        except OSError:
            continue                  # no IPv6 here
        try:
            s.bind((host, port))
        except OSError as e:
            if e.errno == errno.EADDRNOTAVAIL:
                continue              # no ::1 here
            return False
        finally:
            s.close()
    return True


for _ in range(500):
    p = random.randint(10000, top)
    if all(p + o not in taken and free(p + o) for o in offsets):
        print(p)
        sys.exit(0)
sys.exit("no free port found")
PY
) || { echo "Bail out! it_free_port: no free port for $it__var"; exit 1; }
    printf -v "$it__var" '%s' "$it__port"
    for it__o in 0 "$@"; do
        IT_PORTS_TAKEN="$IT_PORTS_TAKEN $((it__port + it__o))"
    done
}

# it_require - bail out unless every command named exists
it_require() {
    local c
    for c in "$@"; do
        if ! command -v "$c" > /dev/null 2>&1; then
            echo "Bail out! $c not found (Debian packages: $IT_DEBIAN_PACKAGES $IT_SELFTEST_PACKAGES)"
            exit 1
        fi
    done
}

# it__stop_leftovers - stop servers a killed earlier run left in DIR
it__stop_leftovers() {
    local dir=$1 f
    [ -d "$dir" ] || return 0
    if [ -f "$dir/pf/etc/main.cf" ]; then
        postfix -c "$dir/pf/etc" stop > /dev/null 2>&1
    fi
    for f in "$dir"/*/*.pid; do
        [ -f "$f" ] || continue
        it__kill_pid "$(cat "$f" 2>/dev/null)"
    done
}

# it__alive - true while process PID runs (a zombie, exited but not yet
# reaped by us, counts as gone)
it__alive() {
    local state
    state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$state" ] && [ "$state" != Z ]
}

# it__kill_pid - SIGTERM a process, wait up to 10 s, then SIGKILL it;
# returns 1 if it had to be killed
it__kill_pid() {
    local pid=$1 i
    case $pid in ''|*[!0-9]*) return 0 ;; esac
    kill "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 100; i++)); do
        it__alive "$pid" || return 0
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null
    return 1
}

# it__bg - start a command in the background; remember NAME's pid
it__bg() {
    local name=$1 log=$2
    shift 2
    "$@" >> "$log" 2>&1 &
    IT_PIDS+=("$name:$!")
    echo "$!" > "$IT_DIR/tmp/$name.pid"
    IT_LAST_PID=$!
}

# it__stop - stop the background server called NAME (if we started one);
# returns its exit status, 137 if it ignored SIGTERM for 10 s
it__stop() {
    local name=$1 entry keep=() rc=0
    for entry in "${IT_PIDS[@]}"; do
        if [ "${entry%%:*}" = "$name" ]; then
            it__kill_pid "${entry#*:}"
            wait "${entry#*:}" 2>/dev/null
            rc=$?
        else
            keep+=("$entry")
        fi
    done
    IT_PIDS=("${keep[@]}")
    rm -f "$IT_DIR/tmp/$name.pid"
    return "$rc"
}

# it__cleanup - EXIT trap: stop everything, keep the work dir on failure
it__cleanup() {
    local rc=$? entry
    trap - EXIT
    if [ -n "$IT_POSTFIX_CONF" ]; then
        it_postfix_stop
    fi
    for ((i = ${#IT_PIDS[@]} - 1; i >= 0; i--)); do
        entry=${IT_PIDS[$i]}
        it__kill_pid "${entry#*:}"
    done
    wait 2>/dev/null
    # a caller's own clean-up (unmounting what it mounted in the work dir)
    [ -n "${IT_ON_EXIT:-}" ] && "$IT_ON_EXIT"
    # a script that stops before it_done has not run its plan
    if [ "$rc" = 0 ] && [ -n "$IT_PLAN" ] && [ -z "$IT_DONE" ]; then
        echo "not ok $((IT_N + 1)) - $IT_NAME: exited before it_done (exit 0 after $IT_N checks)"
        rc=1
    fi
    if [ "$rc" = 0 ] && [ "$IT_FAIL" = 0 ] && [ -z "${IT_KEEP:-}" ]; then
        rm -rf "$IT_DIR"
        [ -n "$IT_TMP_BASE" ] && rmdir "$IT_TMP_BASE" 2> /dev/null
    else
        echo "# $IT_NAME: work dir kept: $IT_DIR"
    fi
    exit "$rc"
}

# it_wait_for - poll CMD... every 0.1 s for up to SECONDS; 0 once it succeeds
it_wait_for() {
    local secs=$1 i
    shift
    for ((i = 0; i < secs * 10; i++)); do
        "$@" > /dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}

# it__port_open - true once something listens on 127.0.0.1:PORT
it__port_open() {
    (exec 3<> "/dev/tcp/${2:-127.0.0.1}/$1") 2> /dev/null
}

# it__port_busy - true if a socket listens on PORT (TCP) or is bound to it
# (UDP); for ports the environment fixed, which it_free_port did not test
it__port_busy() {
    ss -Hlntu "sport = :$1" 2> /dev/null | grep -q .
}

# it__port_only_pid - every socket listening on PORT belongs to process PID
# (knotd binds with SO_REUSEPORT: on a busy port it would share the
# queries with whoever else is there instead of failing)
it__port_only_pid() {
    local port=$1 pid=$2 lines
    lines=$(ss -Hlnptu "sport = :$port" 2> /dev/null) || return 1
    [ -n "$lines" ] || return 1
    ! grep -v "pid=$pid," <<< "$lines" | grep -q .
}

# ---------------------------------------------------------------- TAP

# it_ok - record a passing check
it_ok() {
    IT_N=$((IT_N + 1))
    IT_PASS=$((IT_PASS + 1))
    echo "ok $IT_N - $1"
}

# it_fail - record a failing check, then show the logs that explain it
it_fail() {
    IT_N=$((IT_N + 1))
    IT_FAIL=$((IT_FAIL + 1))
    echo "not ok $IT_N - $1 # ${2:-failed}"
    it_show_logs
}

# it_skip - record a check that could not run here (counted as skipped,
# never as passed, by test/run.sh)
it_skip() {
    IT_N=$((IT_N + 1))
    IT_SKIP=$((IT_SKIP + 1))
    echo "ok $IT_N - $1 # SKIP ${2:-}"
}

# it_check - run CMD...; ok if it exits 0, else not ok with its output shown;
# IT_CHECK_OUT names the file holding CMD's output
it_check() {
    local name=$1 out=$IT_DIR/tmp/check.$((IT_N + 1)).out
    shift
    IT_CHECK_OUT=$out
    if "$@" > "$out" 2>&1; then
        it_ok "$name"
    else
        local rc=$?
        sed 's/^/#   /' "$out" | tail -n 30
        it_fail "$name" "exit $rc: $*"
    fi
}

# it_not - succeed when CMD... fails (for it_check); for a grep use
# it_nomatch, which tells "no match" from "could not read the file"
it_not() {
    ! "$@"
}

# it_exit - succeed when CMD... exits with status N (a refusal that must
# not be confused with a crash)
it_exit() {
    local want=$1 rc=0
    shift
    "$@" || rc=$?
    [ "$rc" = "$want" ] || { echo "it_exit: exit $rc, wanted $want: $*" >&2; return 1; }
}

# it_nomatch - succeed when grep (or a function ending in one) CMD... exits
# 1, "no line selected"; exit 2, an unreadable or missing file, fails
it_nomatch() {
    local rc=0
    "$@" || rc=$?
    [ "$rc" = 1 ] && return 0
    [ "$rc" = 0 ] && echo "it_nomatch: a line matched: $*" >&2
    [ "$rc" -gt 1 ] && echo "it_nomatch: exit $rc (no such file?): $*" >&2
    return 1
}

# it_show_logs - print the tails of the logs that explain a failure (Postfix,
# milter, sink; knotd's warnings only) as TAP comments
it_show_logs() {
    local f n=${IT_LOG_LINES:-15}
    for f in postfix milter sink; do
        f=$IT_DIR/log/$f.log
        [ -s "$f" ] || continue
        echo "# --- tail of $f"
        tail -n "$n" "$f" | sed 's/^/#   /'
    done
    f=$IT_DIR/log/knot.log
    if grep -qv ' info: ' "$f" 2>/dev/null; then
        echo "# --- knotd warnings ($f)"
        grep -v ' info: ' "$f" | tail -n "$n" | sed 's/^/#   /'
    fi
}

# it_plan - announce that the script runs N checks (TAP plan, before the
# first check); it_done fails the run when another number of checks ran,
# so a check that silently did not run is a failure
it_plan() {
    if [ "$IT_N" != 0 ] || [ -n "$IT_PLAN" ]; then
        echo "Bail out! it_plan after $IT_N checks (the plan comes first, once)"
        exit 1
    fi
    IT_PLAN=$1
    echo "1..$IT_PLAN"
}

# it_done - check the plan (or print it: scripts without it_plan), print
# the summary; exit 1 if any check failed
it_done() {
    IT_DONE=1
    if [ -z "$IT_PLAN" ]; then
        echo "1..$IT_N"
    elif [ "$IT_N" != "$IT_PLAN" ]; then
        it_fail "$IT_NAME: $IT_N checks ran, the plan is $IT_PLAN" \
            "a check did not run, or the plan is out of date"
    fi
    if [ "$IT_SKIP" -gt 0 ]; then
        echo "# $IT_NAME: $IT_PASS passed, $IT_FAIL failed, $IT_SKIP skipped"
    else
        echo "# $IT_NAME: $IT_PASS passed, $IT_FAIL failed"
    fi
    [ "$IT_FAIL" = 0 ] || exit 1
    exit 0
}

# ---------------------------------------------------------------- keys, DNS

# it_dkim_record - print the zone-file rdata of the DKIM key record for the
# private key PEM (RSA or Ed25519): one parenthesized TXT rdata made of
# quoted strings of at most 250 characters (a 2048-bit record is > 255)
it_dkim_record() {
    local pem=$1 k p
    if openssl pkey -in "$pem" -noout -text | head -n 1 | grep -q '^ED25519'; then
        k=ed25519
        # An Ed25519 SubjectPublicKeyInfo is a fixed 12-byte prefix and the
        # raw 32-byte key; DKIM publishes the raw key (RFC 8463).
        p=$(openssl pkey -in "$pem" -pubout -outform DER | tail -c 32 | base64 -w0)
    else
        k=rsa
        p=$(openssl pkey -in "$pem" -pubout -outform DER | base64 -w0)
    fi
    [ -n "$p" ] || return 1
    printf '( "v=DKIM1; k=%s; "' "$k"
    echo "p=$p" | fold -w 250 | while read -r chunk; do
        printf ' "%s"' "$chunk"
    done
    printf ' )\n'
}

# it_keygen - make a DKIM key (PEM, 0600) for DOMAIN/SELECTOR and queue its
# TXT record for the zone; prints the key file's path
it_keygen() {
    local domain=$1 sel=$2 type=$3 bits=${4:-2048}
    local key=$IT_DIR/keys/$domain.$sel.pem
    (
        umask 077
        case $type in
            rsa) openssl genpkey -algorithm RSA -pkeyopt "rsa_keygen_bits:$bits" -out "$key" ;;
            ed25519) openssl genpkey -algorithm ed25519 -out "$key" ;;
            *) echo "it_keygen: unknown key type $type" >&2; exit 1 ;;
        esac
    ) 2> "$IT_DIR/tmp/keygen.err" || { cat "$IT_DIR/tmp/keygen.err" >&2; return 1; }
    chmod 600 "$key"
    it_zone_add "$domain" "$sel._domainkey.$domain. 300 IN TXT $(it_dkim_record "$key")"
    echo "$key"
}

# it_zone_add - queue one resource record (zone-file line) for DOMAIN's zone
it_zone_add() {
    echo "$2" >> "$IT_DIR/zones/$1.records"
}

# it__zone_build - write DOMAIN's zone: template (or a minimal SOA/NS) + records
it__zone_build() {
    local domain=$1 out=$IT_DIR/knot/zones/$1.zone
    if [ -f "$IT_ZONE_TEMPLATES/$domain.zone" ]; then
        cat "$IT_ZONE_TEMPLATES/$domain.zone" > "$out"
    else
        cat > "$out" <<EOF
\$ORIGIN $domain.
\$TTL 300
@ SOA ns1.$domain. hostmaster.$domain. ( 1 3600 600 86400 300 )
@ NS ns1.$domain.
ns1 A 127.0.0.1
EOF
    fi
    if [ -f "$IT_DIR/zones/$domain.records" ]; then
        cat "$IT_DIR/zones/$domain.records" >> "$out"
    fi
}

# it_dns_start - start knotd for the template zones and every domain given
# to it_keygen/it_zone_add; wait until each zone answers
it_dns_start() {
    local d domains=() f
    for f in "$IT_ZONE_TEMPLATES"/*.zone "$IT_DIR"/zones/*.records; do
        [ -f "$f" ] || continue
        d=$(basename "$f")
        d=${d%.zone}
        d=${d%.records}
        case " ${domains[*]} " in *" $d "*) ;; *) domains+=("$d") ;; esac
    done
    mkdir -p "$IT_DIR/knot/zones" "$IT_DIR/knot/run" "$IT_DIR/knot/db"
    {
        cat <<EOF
# knotd for test $IT_NAME: authoritative only, loopback only.
server:
    rundir: "$IT_DIR/knot/run"
    pidfile: "$IT_DIR/knot/run/knot.pid"
    listen: [ 127.0.0.1@$IT_DNS_PORT${IT_DNS_LISTEN_EXTRA:+, $IT_DNS_LISTEN_EXTRA} ]
log:
  - target: "$IT_DIR/log/knot.log"
    any: info
database:
    storage: "$IT_DIR/knot/db"
template:
  - id: default
    storage: "$IT_DIR/knot/zones"
    file: "%s.zone"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
    semantic-checks: on
zone:
EOF
        for d in "${domains[@]}"; do
            echo "  - domain: $d"
        done
    } > "$IT_DIR/knot/knot.conf"
    for d in "${domains[@]}"; do
        it__zone_build "$d"
    done
    knotc -c "$IT_DIR/knot/knot.conf" conf-check > "$IT_DIR/tmp/knot-check.out" 2>&1 || {
        cat "$IT_DIR/tmp/knot-check.out" >&2
        echo "it_dns_start: bad knot configuration" >&2
        return 1
    }
    if it__port_busy "$IT_DNS_PORT"; then
        echo "it_dns_start: port $IT_DNS_PORT is in use (set IT_DNS_PORT)" >&2
        return 1
    fi
    it__bg knot "$IT_DIR/log/knot.log" knotd -c "$IT_DIR/knot/knot.conf"
    local pid=$IT_LAST_PID
    for d in "${domains[@]}"; do
        if ! it_wait_for 10 it__dns_answers "$d"; then
            echo "it_dns_start: knotd does not answer for $d" >&2
            tail -n 20 "$IT_DIR/log/knot.log" >&2
            return 1
        fi
    done
    if ! it__port_only_pid "$IT_DNS_PORT" "$pid"; then
        echo "it_dns_start: another process shares port $IT_DNS_PORT with knotd:" >&2
        ss -Hlnptu "sport = :$IT_DNS_PORT" >&2
        return 1
    fi
}

# it__dns_answers - true once knotd answers authoritatively for DOMAIN's SOA
it__dns_answers() {
    kdig @127.0.0.1 -p "$IT_DNS_PORT" +time=1 +retry=0 +norec SOA "$1" \
        | grep -q 'status: NOERROR'
}

# it_dns_reload - restart knotd so that records added since are served
it_dns_reload() {
    it__stop knot
    it_dns_start
}

# it_dns_txt - print the TXT rdata knotd serves for NAME (debugging aid)
it_dns_txt() {
    kdig @127.0.0.1 -p "$IT_DNS_PORT" +time=1 +retry=0 +short TXT "$1"
}

# ---------------------------------------------------------------- sink

# it_sink_start - start smtp-sink on 127.0.0.1:$IT_SINK_PORT; one file per
# message in $IT_DIR/sink
it_sink_start() {
    if it__port_busy "$IT_SINK_PORT"; then
        echo "it_sink_start: port $IT_SINK_PORT is in use (set IT_SINK_PORT)" >&2
        return 1
    fi
    it__bg sink "$IT_DIR/log/sink.log" \
        smtp-sink -u nobody -d "$IT_DIR/sink/%M." "127.0.0.1:$IT_SINK_PORT" 100
    it_wait_for 10 it__port_only_pid "$IT_SINK_PORT" "$IT_LAST_PID" || {
        echo "it_sink_start: smtp-sink does not listen on $IT_SINK_PORT" >&2
        return 1
    }
}

# it_sink_count - number of messages Postfix has handed to the sink in full
it_sink_count() {
    # smtp-sink answers 250 only after the dump file is written, so a
    # "status=sent" line in Postfix's log means a complete file.
    grep -c " relay=127.0.0.1\[127.0.0.1\]:$IT_SINK_PORT,.* status=sent " \
        "$IT_DIR/log/postfix.log" 2>/dev/null
}

# it_wait_for_sink - wait up to TIMEOUT s until N messages have arrived
it_wait_for_sink() {
    local n=$1 secs=${2:-30} i
    for ((i = 0; i < secs * 10; i++)); do
        [ "$(it_sink_count)" -ge "$n" ] && return 0
        sleep 0.1
    done
    echo "it_wait_for_sink: $(it_sink_count) of $n messages after ${secs}s" >&2
    return 1
}

# it_sink_file - print the path of the sink file of the message that had
# Postfix queue id QID (named in the Received: header Postfix added)
it_sink_file() {
    grep -l -E "[[:space:]]id $1([^0-9A-Za-z]|\$)" "$IT_DIR"/sink/*.* 2>/dev/null | head -n 1
}

# it_sink_clear - forget the messages received so far (files and counter)
it_sink_clear() {
    rm -f "$IT_DIR"/sink/*.*
}

# ---------------------------------------------------------------- Postfix

# it__milter_to_postfix - turn a libmilter socket spec into Postfix syntax
it__milter_to_postfix() {
    case $1 in
        unix:*|inet:*:*) echo "$1" ;;
        local:*) echo "unix:${1#local:}" ;;
        inet:*@*) local p=${1#inet:}; echo "inet:${p#*@}:${p%@*}" ;;
        /*) echo "unix:$1" ;;
        *) echo "$1" ;;
    esac
}

# it_postfix_start - configure and start the private Postfix instance whose
# milters are MILTER_SOCKET (unix:/path, local:/path, inet:PORT@HOST, or
# unix:name relative to the queue directory). With IT_POSTFIX_CHROOT=debian
# the services that Debian's stock master.cf runs chrooted in the queue
# directory (smtpd, pickup, cleanup, the smtp client, ...) run chrooted
# here too (it__postfix_chroot); otherwise none does.
it_postfix_start() {
    local milter etc=$IT_DIR/pf/etc
    milter=$(it__milter_to_postfix "$1")
    mkdir -p "$etc/sasl" "$IT_DIR/pf/queue" "$IT_DIR/pf/data"
    chown postfix "$IT_DIR/pf/data"
    it__sasl_setup || return 1
    cat > "$etc/main.cf" <<EOF
# Private Postfix instance of integration test $IT_NAME (generated by lib.sh).
compatibility_level = 3.6
config_directory = $etc
alternate_config_directories = $etc
queue_directory = $IT_DIR/pf/queue
data_directory = $IT_DIR/pf/data
mail_owner = postfix
setgid_group = postdrop
# No syslog daemon here: log to a file through postlogd.
maillog_file = $IT_DIR/log/postfix.log
maillog_file_prefixes = $IT_DIR/log
myhostname = mx.test.example
mydomain = test.example
myorigin = \$myhostname
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mydestination =
local_recipient_maps =
relay_domains = dest.test.example
relayhost = [127.0.0.1]:$IT_SINK_PORT
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated,
    reject_unauth_destination
# Nothing leaves loopback: no DNS lookups anywhere in Postfix.
smtp_dns_support_level = disabled
smtp_host_lookup = native
smtpd_peername_lookup = no
append_dot_mydomain = no
biff = no
message_size_limit = 52428800
mailbox_size_limit = 0
smtputf8_enable = no
# The milter under test, for SMTP and for local submission (sendmail).
smtpd_milters = $milter
non_smtpd_milters = $milter
milter_default_action = tempfail
# Cyrus SASL with a sasldb in the work dir; AUTH without TLS on loopback.
# Debian's Postfix ignores cyrus_sasl_config_path (its patch 07_sasl_config
# hard-wires \$config_directory/sasl), so smtpd.conf lives there; the
# parameter says the same for Postfix builds that honour it.
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = cyrus
smtpd_sasl_path = smtpd
cyrus_sasl_config_path = $etc/sasl
smtpd_sasl_security_options = noanonymous
smtpd_tls_security_level = none
smtpd_tls_auth_only = no
smtp_tls_security_level = none
broken_sasl_auth_clients = no
# Tests pretend an outside client with XCLIENT ADDR=192.0.2.10.
smtpd_authorized_xclient_hosts = 127.0.0.0/8
# Deliver at once, retry fast; the sink is always there.
queue_run_delay = 5s
minimal_backoff_time = 5s
maximal_backoff_time = 10s
EOF
    cat > "$etc/master.cf" <<EOF
# service type  private unpriv  chroot  wakeup  maxproc command
127.0.0.1:$IT_SMTP_PORT inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
    [ "${IT_POSTFIX_CHROOT:-}" = debian ] && { it__postfix_chroot "$etc" || return 1; }
    if ! postfix -c "$etc" check > "$IT_DIR/tmp/postfix-check.out" 2>&1; then
        cat "$IT_DIR/tmp/postfix-check.out" >&2
        tail -n 20 "$IT_DIR/log/postfix.log" >&2
        return 1
    fi
    if it__port_busy "$IT_SMTP_PORT"; then
        echo "it_postfix_start: port $IT_SMTP_PORT is in use (set IT_SMTP_PORT)" >&2
        return 1
    fi
    IT_POSTFIX_CONF=$etc
    if ! postfix -c "$etc" start > "$IT_DIR/tmp/postfix-start.out" 2>&1; then
        cat "$IT_DIR/tmp/postfix-start.out" >&2
        tail -n 20 "$IT_DIR/log/postfix.log" >&2
        return 1
    fi
    if ! it_wait_for 15 it__port_open "$IT_SMTP_PORT"; then
        echo "it_postfix_start: smtpd does not listen on $IT_SMTP_PORT" >&2
        tail -n 20 "$IT_DIR/log/postfix.log" >&2
        return 1
    fi
}

# it__postfix_chroot - in master.cf of config dir ETC, "y" in the chroot
# column of the services Debian's stock master.cf (Postfix 3.7) chroots;
# qmgr, proxymap, proxywrite, local and postlog stay unchrooted as there
it__postfix_chroot() {
    local svc
    for svc in "127.0.0.1:$IT_SMTP_PORT/inet" pickup/unix cleanup/unix \
        rewrite/unix bounce/unix defer/unix trace/unix verify/unix flush/unix \
        smtp/unix relay/unix showq/unix error/unix retry/unix discard/unix \
        anvil/unix scache/unix; do
        postconf -c "$1" -F -e "$svc/chroot = y" || return 1
    done
}

# it_postfix_reload - "postfix reload" after a postconf -e; waits until
# master logs that it re-read the configuration
it_postfix_reload() {
    local before
    before=$(it__reload_count)
    postfix -c "$IT_POSTFIX_CONF" reload > "$IT_DIR/tmp/reload.out" 2>&1 || {
        cat "$IT_DIR/tmp/reload.out" >&2
        return 1
    }
    it_wait_for 15 it__reload_more "$before" || {
        echo "it_postfix_reload: master logged no reload" >&2
        return 1
    }
}

# it__reload_count - number of reloads Postfix's master has logged
it__reload_count() {
    grep -c 'postfix/master\[[0-9]*\]: reload ' "$IT_DIR/log/postfix.log"
}

# it__reload_more - true once master logged more than N reloads
it__reload_more() {
    [ "$(it__reload_count)" -gt "$1" ]
}

# it__sasl_setup - smtpd.conf and a sasldb with alice@example.com/secret
# in $config_directory/sasl of our instance
it__sasl_setup() {
    local dir=$IT_DIR/pf/etc/sasl
    IT_SASLDB=$dir/sasldb2
    cat > "$dir/smtpd.conf" <<EOF
pwcheck_method: auxprop
auxprop_plugin: sasldb
mech_list: PLAIN LOGIN
sasldb_path: $IT_SASLDB
EOF
    it_sasl_adduser alice example.com secret || return 1
    # smtpd opens the sasldb after dropping to the postfix user.
    chgrp postfix "$IT_SASLDB"
    chmod 640 "$IT_SASLDB"
}

# it_sasl_adduser - add USER@REALM with PASSWORD to the sasldb; the client
# logs in as USER@REALM (Cyrus splits the realm off at the "@")
it_sasl_adduser() {
    echo "$3" | saslpasswd2 -p -c -f "$IT_SASLDB" -u "$2" "$1"
}

# it_postfix_stop - stop the private Postfix instance and wait for master
it_postfix_stop() {
    local etc=$IT_POSTFIX_CONF pidf=$IT_DIR/pf/queue/pid/master.pid pid=""
    [ -n "$etc" ] || return 0
    [ -f "$pidf" ] && pid=$(tr -d ' ' < "$pidf")
    postfix -c "$etc" stop > /dev/null 2>&1
    if [ -n "$pid" ] && ! it_wait_for 10 it__gone "$pid"; then
        kill -9 "$pid" 2>/dev/null
    fi
    IT_POSTFIX_CONF=""
}

# it__gone - true once process PID no longer exists
it__gone() {
    ! kill -0 "$1" 2>/dev/null
}

# it_sendmail - submit stdin with our instance's sendmail(1) (postdrop ->
# pickup -> cleanup, which runs non_smtpd_milters); arguments as sendmail's.
# Prints the queue id pickup gave the message.
it_sendmail() {
    local before
    before=$(it__pickup_count)
    sendmail -C "$IT_DIR/pf/etc" "$@" || return 1
    if ! it_wait_for 15 it__pickup_more "$before"; then
        echo "it_sendmail: pickup did not take the message" >&2
        return 1
    fi
    sed -n 's/.*postfix\/pickup\[[0-9]*\]: \([0-9A-Za-z]*\): uid=.*/\1/p' \
        "$IT_DIR/log/postfix.log" | tail -n 1
}

# it__pickup_count - number of messages pickup has taken so far
it__pickup_count() {
    grep -c 'postfix/pickup\[[0-9]*\]: [0-9A-Za-z]*: uid=' "$IT_DIR/log/postfix.log"
}

# it__pickup_more - true once pickup has taken more than N messages
it__pickup_more() {
    [ "$(it__pickup_count)" -gt "$1" ]
}

# it_smtpsend - run smtpsend.py against our smtpd; prints the queue id
it_smtpsend() {
    "$IT_PY" "$IT_LIB_DIR/smtpsend.py" --port "$IT_SMTP_PORT" "$@"
}

# it_submit - check NAME: smtpsend.py ARGS... is accepted; sets IT_QID
# (empty when refused)
it_submit() {
    local name=$1
    shift
    IT_SUBMIT_FAILED=""
    if IT_QID=$(it_smtpsend "$@" 2> "$IT_DIR/tmp/send.err") && [ -n "$IT_QID" ]; then
        it_ok "$name: accepted as $IT_QID"
    else
        IT_QID=""
        IT_SUBMIT_FAILED=1
        sed 's/^/#   /' "$IT_DIR/tmp/send.err"
        it_fail "$name: accepted" "submission refused"
    fi
}

# it_submit_refused - check NAME: smtpsend.py ARGS... is refused with CODE
it_submit_refused() {
    local name=$1 code=$2 rc=0
    shift 2
    it_smtpsend "$@" > /dev/null 2> "$IT_DIR/tmp/send.err" || rc=$?
    if [ "$rc" = 2 ] && grep -q "refused: $code " "$IT_DIR/tmp/send.err"; then
        it_ok "$name"
    else
        sed 's/^/#   /' "$IT_DIR/tmp/send.err"
        it_fail "$name" "expected a $code refusal, smtpsend exit $rc"
    fi
}

# it_submit_local - check NAME: sendmail ARGS... < FILE is accepted; sets IT_QID
it_submit_local() {
    local name=$1 file=$2
    shift 2
    IT_SUBMIT_FAILED=""
    if IT_QID=$(it_sendmail "$@" < "$file" 2> "$IT_DIR/tmp/send.err") && [ -n "$IT_QID" ]; then
        it_ok "$name: accepted as $IT_QID"
    else
        IT_QID=""
        IT_SUBMIT_FAILED=1
        sed 's/^/#   /' "$IT_DIR/tmp/send.err"
        it_fail "$name: accepted" "sendmail refused"
    fi
}

# it__qid_sent - true once Postfix logged delivery of QID to the sink
it__qid_sent() {
    grep -q " $1: to=<.*, relay=127.0.0.1\[127.0.0.1\]:$IT_SINK_PORT,.* status=sent " \
        "$IT_DIR/log/postfix.log"
}

# it_relayed - wait up to TIMEOUT s (default 30) for message IT_QID at the
# sink; sets IT_MSG to its file; on failure records not ok NAME. A message
# it_submit already counted as refused is not counted twice (the checks
# that needed it then fall short of the plan: it_done fails the script).
it_relayed() {
    local name=$1 secs=${2:-30}
    IT_MSG=""
    if [ -z "$IT_QID" ]; then
        if [ -n "$IT_SUBMIT_FAILED" ]; then
            echo "# $name: not relayed: the submission failed above"
        else
            it_fail "$name: relayed to the sink" "no queue id: nothing was submitted"
        fi
        return 1
    fi
    if it_wait_for "$secs" it__qid_sent "$IT_QID"; then
        IT_MSG=$(it_sink_file "$IT_QID")
        [ -n "$IT_MSG" ] && return 0
    fi
    it_fail "$name: relayed to the sink" "queue id $IT_QID not delivered in ${secs}s"
    return 1
}

# ---------------------------------------------------------------- verifiers

# it_dkimverify - dkimpy verification of FILE through our knotd
it_dkimverify() {
    "$IT_PY" "$IT_LIB_DIR/dkimverify.py" --dns-port "$IT_DNS_PORT" "$@"
}

# it_dkimverify_pl - Mail::DKIM verification of FILE through our knotd
it_dkimverify_pl() {
    perl "$IT_LIB_DIR/dkimverify.pl" --dns-port "$IT_DNS_PORT" "$@"
}

# it_dkim_count - number of DKIM-Signature header fields in FILE's header
it_dkim_count() {
    awk 'BEGIN { n = 0 }
         /^\r?$/ { exit }
         tolower($0) ~ /^dkim-signature:/ { n++ }
         END { print n }' "$1"
}

# ---------------------------------------------------------------- milters

# it__wait_socket - wait until SOCKET (libmilter spec) accepts connections,
# as long as process PID lives
it__wait_socket() {
    local spec=$1 pid=$2 i path port
    for ((i = 0; i < 150; i++)); do
        kill -0 "$pid" 2>/dev/null || return 1
        case $spec in
            unix:*|local:*) path=${spec#*:}; [ -S "$path" ] && return 0 ;;
            inet:*@*) port=${spec#inet:}; it__port_open "${port%@*}" && return 0 ;;
            inet6:*@*) port=${spec#inet6:}; it__port_open "${port%@*}" ::1 && return 0 ;;
            /*) [ -S "$spec" ] && return 0 ;;
        esac
        sleep 0.1
    done
    return 1
}

# it__milter_log_mark - remember where this milter run's log begins
it__milter_log_mark() {
    IT_MILTER_LOG_START=$(wc -l < "$IT_DIR/log/milter.log")
}

# it_milter_start_opendkim - start Debian's opendkim (harness self-test) on
# $IT_DIR/milter/opendkim.sock, signing DOMAIN with KEY as SELECTOR;
# prints the socket
it_milter_start_opendkim() {
    local domain=$1 sel=$2 key=$3 conf=$IT_DIR/milter/opendkim.conf
    local sock=$IT_DIR/milter/opendkim.sock
    printf '127.0.0.1\n::1\n' > "$IT_DIR/milter/internal-hosts"
    cat > "$conf" <<EOF
Syslog                  no
Background              no
Mode                    s
Domain                  $domain
Selector                $sel
KeyFile                 $key
Canonicalization        relaxed/simple
SignatureAlgorithm      rsa-sha256
InternalHosts           $IT_DIR/milter/internal-hosts
Socket                  local:$sock
UMask                   000
PidFile                 $IT_DIR/milter/opendkim.pid
# The work dir lives under /tmp (world-writable): opendkim would refuse
# the key and even the conf for that reason alone.
RequireSafeKeys         no
EOF
    rm -f "$sock"
    it__milter_log_mark
    it__bg milter "$IT_DIR/log/milter.log" opendkim -f -x "$conf"
    if ! it__wait_socket "unix:$sock" "$IT_LAST_PID"; then
        echo "it_milter_start_opendkim: no socket $sock" >&2
        tail -n 20 "$IT_DIR/log/milter.log" >&2
        return 1
    fi
    IT_MILTER_SOCKET=unix:$sock
}

# it_authmilter_conf - write an authmilter conf's global part to FILE
# (socket in the work dir, internal_hosts 127.0.0.1, debug log to stderr);
# callers append the domain blocks
it_authmilter_conf() {
    cat > "$1" <<EOF
# authmilter conf of integration test $IT_NAME (generated by lib.sh)
socket          = unix:$IT_DIR/milter/authmilter.sock
socket_mode     = 0666
pidfile         = $IT_DIR/milter/authmilter.pid
authserv_id     = mx.test.example
internal_hosts  = 127.0.0.1/32
dns_servers     = 127.0.0.1@$IT_DNS_PORT
dns_timeout     = 3s
log_destination = stderr
log_level       = debug
EOF
    if [ -n "${AUTHMILTER_TEST_ENGINE:-}" ]; then
        echo "milter_engine   = $AUTHMILTER_TEST_ENGINE" >> "$1"
    fi
}

# it__conf_socket - the socket named in an authmilter CONF
it__conf_socket() {
    sed -n 's/^[[:space:]]*socket[[:space:]]*=[[:space:]]*\([^[:space:]#]*\).*/\1/p' "$1" | tail -n 1
}

# it_milter_start_authmilter - run "$AUTHMILTER -f -c CONF" in the
# background (stderr to log/milter.log), wait for its socket and for its
# start line naming the engine of the conf (milter_engine, else builtin)
it_milter_start_authmilter() {
    local conf=$1 sock engine level pat
    sock=$(it__conf_socket "$conf")
    engine=$(sed -n 's/^[[:space:]]*milter_engine[[:space:]]*=[[:space:]]*\([a-z]*\).*/\1/p' "$conf" | tail -n 1)
    level=$(sed -n 's/^[[:space:]]*log_level[[:space:]]*=[[:space:]]*\([a-z]*\).*/\1/p' "$conf" | tail -n 1)
    # the engine is named in the "listening" notice; a conf logging
    # warnings and worse only (make bench's) shows no notice to check
    pat="listening on .* \(milter engine: ${engine:-builtin}\)"
    case $level in warning|err) pat="" ;; esac
    case $sock in unix:*|local:*) rm -f "${sock#*:}" ;; esac
    it__milter_log_mark
    it__bg milter "$IT_DIR/log/milter.log" "$AUTHMILTER" -f -c "$conf"
    if ! it__wait_socket "$sock" "$IT_LAST_PID" ||
        { [ -n "$pat" ] && ! it_wait_logged 15 "$pat" >&2; }; then
        echo "it_milter_start_authmilter: no socket $sock, or not the ${engine:-builtin} engine" >&2
        tail -n 20 "$IT_DIR/log/milter.log" >&2
        return 1
    fi
    IT_MILTER_SOCKET=$sock
}

# it_milter_log - this milter run's log lines (from line IT_LOG_FROM + 1 if
# set, by it_log_mark)
it_milter_log() {
    tail -n "+$((${IT_LOG_FROM:-$IT_MILTER_LOG_START} + 1))" "$IT_DIR/log/milter.log"
}

# it_log_mark - from now on it_milter_log shows only the lines logged after
# this (unset IT_LOG_FROM: the whole run again)
it_log_mark() {
    IT_LOG_FROM=$(wc -l < "$IT_DIR/log/milter.log")
}

# it_wait_logged SECS PATTERN - wait until this milter run logs PATTERN (grep -E)
it_wait_logged() {
    local secs=$1 pat=$2 i
    for ((i = 0; i < secs * 10; i++)); do
        it_milter_log | grep -qE "$pat" && return 0
        sleep 0.1
    done
    echo "not logged within ${secs}s: $pat"
    return 1
}

# it_milter_stop - stop the milter (Postfix keeps running and tempfails);
# not ok if it does not exit 0 on SIGTERM within 10 s or its log holds a
# sanitizer report (ASan, LSan at exit, UBSan)
it_milter_stop() {
    local rc=0 log=$IT_DIR/log/milter.log
    it__stop milter || rc=$?
    if [ "$rc" != 0 ]; then
        it_fail "milter exits 0 on SIGTERM" "exit status $rc"
    fi
    if tail -n "+$((IT_MILTER_LOG_START + 1))" "$log" 2>/dev/null \
        | grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:'; then
        it_fail "milter log has no sanitizer report" "see $log"
    fi
}
