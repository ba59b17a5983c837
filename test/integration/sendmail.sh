# shellcheck shell=bash
# sendmail.sh - a private Sendmail for the integration tests, sourced after
# lib.sh (test_sendmail.sh).
#
# Debian 12's Sendmail 8.17, run unpacked: sendmail-bin conflicts with
# postfix at the package level, and the suite needs Postfix installed. So
# sm_start fetches sendmail-bin, sendmail-base, sendmail-cf and libwrap0
# with `apt-get download` (once: the .debs are kept in $SM_DEBS across
# runs), unpacks them with `dpkg-deb -x` into the work dir, builds
# sendmail.cf (the MTA) and submit.cf (the MSP, sendmail -t) with m4 from
# sendmail-cf, and runs the MTA on 127.0.0.1:$IT_SMTP_PORT (and
# [::1]:$IT_SMTP_PORT) relaying everything to smtp-sink on
# 127.0.0.1:$IT_SINK_PORT, with its queue, pid file, aliases and status
# files in $IT_DIR/sm and its syslog lines in $IT_DIR/log/sendmail.log.
# Its milter is the one given to sm_start (F=T: tempfail without it).
#
# What an unpacked Sendmail needs here, and why (each one is marked "why:"
# where it is done below):
#   - the binary is setgid mail: ld.so then ignores LD_LIBRARY_PATH and
#     LD_PRELOAD; the copy in the work dir has its setgid bit cleared;
#   - libwrap.so.0 (TCP wrappers) is not installed: libwrap0 is unpacked
#     too and LD_LIBRARY_PATH points at it;
#   - there is no syslog daemon (no /dev/log): syslogfile.c, preloaded,
#     writes Sendmail's syslog lines to a file;
#   - each Sendmail process runs in a private mount namespace (unshare -m)
#     where /etc/hosts names this host mx.test.example (an unqualified host
#     name makes Sendmail sleep 60 s at every start), /etc/resolv.conf
#     names 127.0.0.1 (nothing leaves loopback) and Cyrus SASL's plugin dir
#     holds our Sendmail.conf (Cyrus reads it only from /etc/sasl2,
#     /etc/sasl or the plugin dir, none of which the tests may change);
#     nothing changes outside the namespace;
#   - the work dir is under /tmp (world-writable): Sendmail calls a milter
#     socket, queue or alias file there "unsafe" (a milter in error state:
#     with F=T every message tempfails) unless DontBlameSendmail has
#     TrustStickyBit;
#   - the MSP refuses to run as root ("must have RunAsUser set to non root
#     user") and Debian's smmsp user does not exist: it runs as nobody,
#     which owns the client queue.
#
# Environment (optional):
#   AUTHMILTER_SENDMAIL_DEBS  where the .debs are kept (default
#                             /var/cache/authmilter-test/sendmail)

SM_DEBS=${AUTHMILTER_SENDMAIL_DEBS:-/var/cache/authmilter-test/sendmail}
SM_PACKAGES="sendmail-bin sendmail-base sendmail-cf libwrap0"
SM_DIR=""               # $IT_DIR/sm once sm_start ran
SM_ROOT=""              # the unpacked packages
SM_BIN=""               # the sendmail binary (setgid bit cleared)
SM_CF=""                # the MTA's sendmail.cf
SM_SUBMIT_CF=""         # the MSP's submit.cf
SM_LOG=""               # Sendmail's syslog lines (shim)
IT_QID=""               # the queue id it_submit* got last
IT_SUBMIT_FAILED=""     # the last it_submit was refused (already not ok)

# sm__have_debs - true if the cache holds one .deb of each package
sm__have_debs() {
    local p
    for p in $SM_PACKAGES; do
        compgen -G "$SM_DEBS/${p}_*.deb" > /dev/null || return 1
    done
}

# sm_fetch - download the packages into $SM_DEBS unless they are there;
# a fresh machine's apt has no package lists yet: update once and retry
sm_fetch() {
    mkdir -p "$SM_DEBS" || return 1
    (
        # two runs at once: one downloads, the other waits for it
        flock 9
        sm__have_debs && exit 0
        cd "$SM_DEBS" || exit 1
        rm -f ./*.deb
        # why: APT::Sandbox::User=root, apt's _apt user may not write here
        # shellcheck disable=SC2086
        apt-get -q -o APT::Sandbox::User=root download $SM_PACKAGES ||
            { apt-get -q update && apt-get -q -o APT::Sandbox::User=root \
                download $SM_PACKAGES; }
        sm__have_debs
    ) 9> "$SM_DEBS/.lock" > "$IT_DIR/tmp/sm-fetch.out" 2>&1 || {
        cat "$IT_DIR/tmp/sm-fetch.out" >&2
        echo "sm_fetch: could not download $SM_PACKAGES into $SM_DEBS" >&2
        return 1
    }
}

# sm__unpack - unpack the cached packages into $SM_ROOT
sm__unpack() {
    local f
    mkdir -p "$SM_ROOT"
    for f in "$SM_DEBS"/*.deb; do
        dpkg-deb -x "$f" "$SM_ROOT" || return 1
    done
    SM_BIN=$SM_ROOT/usr/libexec/sendmail/sendmail
    [ -x "$SM_BIN" ] || { echo "sm__unpack: no $SM_BIN" >&2; return 1; }
    # why: a setgid binary runs with LD_LIBRARY_PATH and LD_PRELOAD ignored
    chmod g-s "$SM_BIN"
}

# sm__sasl_dir - Cyrus SASL's plugin directory (it holds libsasldb.so)
sm__sasl_dir() {
    dpkg -L libsasl2-modules-db 2> /dev/null | grep '/sasl2/libsasldb\.so$' \
        | head -n 1 | xargs -r dirname
}

# sm__etc - the files the namespace puts in place, and the SASL set-up:
# a copy of the plugin dir with Sendmail.conf, a sasldb with
# alice@example.com/secret
sm__etc() {
    local etc=$SM_DIR/etc plugins
    mkdir -p "$etc"
    cat > "$etc/hosts" <<EOF
127.0.0.1 mx.test.example mx localhost $(hostname)
127.0.0.2 outside.test.example
::1 localhost ip6-localhost
EOF
    echo "nameserver 127.0.0.1" > "$etc/resolv.conf"
    # no DNS for host names and aliases: the files above
    printf 'hosts files\naliases files\n' > "$etc/service.switch"
    printf 'postmaster: root\nMAILER-DAEMON: postmaster\n' > "$etc/aliases"
    cp "$SM_ROOT/etc/mail/helpfile" "$etc/helpfile"
    plugins=$(sm__sasl_dir)
    [ -n "$plugins" ] || { echo "sm__etc: no Cyrus SASL plugin dir" >&2; return 1; }
    SM_SASL_PLUGINS=$plugins
    cp -a "$plugins" "$etc/sasl2"
    IT_SASLDB=$etc/sasl2/sasldb2
    cat > "$etc/sasl2/Sendmail.conf" <<EOF
pwcheck_method: auxprop
auxprop_plugin: sasldb
mech_list: PLAIN LOGIN
sasldb_path: $IT_SASLDB
EOF
    it_sasl_adduser alice example.com secret
}

# sm__namespace_script - $SM_DIR/ns CMD...: run CMD in a private mount
# namespace with our hosts, resolv.conf and SASL plugin dir, the unpacked
# libwrap and the syslog shim
sm__namespace_script() {
    cat > "$SM_DIR/ns" <<EOF
#!/bin/sh
# ns CMD... - run CMD (a Sendmail) the way sendmail.sh explains
exec unshare -m --propagation private sh -c '
    mount --bind "$SM_DIR/etc/hosts" /etc/hosts &&
    mount --bind "$SM_DIR/etc/resolv.conf" /etc/resolv.conf &&
    mount --bind "$SM_DIR/etc/sasl2" "$SM_SASL_PLUGINS" &&
    exec env LD_LIBRARY_PATH="$(find "$SM_ROOT/usr/lib" -name libwrap.so.0 -printf '%h' -quit)" \\
        LD_PRELOAD="$SM_DIR/syslogfile.so" \\
        AUTHMILTER_SYSLOG_FILE="$SM_LOG" "\$@"' ns "\$@"
EOF
    chmod 755 "$SM_DIR/ns"
}

# sm__mc_common - mc lines the MTA and the MSP share
sm__mc_common() {
    cat <<EOF
include(\`$SM_ROOT/usr/share/sendmail/cf/m4/cf.m4')dnl
OSTYPE(\`linux')dnl
define(\`confDOMAIN_NAME', \`mx.test.example')dnl
define(\`confSERVICE_SWITCH_FILE', \`$SM_DIR/etc/service.switch')dnl
define(\`HELP_FILE', \`$SM_DIR/etc/helpfile')dnl
define(\`confDONT_PROBE_INTERFACES', \`True')dnl
dnl why: the work dir lies under /tmp, world-writable with the sticky bit
define(\`confDONT_BLAME_SENDMAIL', \`TrustStickyBit')dnl
define(\`confTO_IDENT', \`0s')dnl
FEATURE(\`nocanonify')dnl
FEATURE(\`accept_unresolvable_domains')dnl
FEATURE(\`accept_unqualified_senders')dnl
EOF
}

# sm__write_mc MILTER_SOCKET - sendmail.mc and submit.mc, built into .cf
sm__write_mc() {
    local milter=$1
    {
        echo "dnl sendmail.mc of integration test $IT_NAME (generated by sendmail.sh)"
        sm__mc_common
        cat <<EOF
define(\`QUEUE_DIR', \`$SM_DIR/mqueue')dnl
define(\`confPID_FILE', \`$SM_DIR/sendmail.pid')dnl
define(\`STATUS_FILE', \`$SM_DIR/sendmail.st')dnl
define(\`ALIAS_FILE', \`$SM_DIR/etc/aliases')dnl
FEATURE(\`no_default_msa')dnl
DAEMON_OPTIONS(\`Port=$IT_SMTP_PORT, Addr=127.0.0.1, Name=MTA')dnl
DAEMON_OPTIONS(\`Port=$IT_SMTP_PORT, Addr=::1, Family=inet6, Name=MTA6')dnl
dnl everything goes to smtp-sink
define(\`SMART_HOST', \`esmtp:[127.0.0.1]')dnl
define(\`ESMTP_MAILER_ARGS', \`TCP \$h $IT_SINK_PORT')dnl
define(\`SMTP_MAILER_ARGS', \`TCP \$h $IT_SINK_PORT')dnl
define(\`RELAY_MAILER_ARGS', \`TCP \$h $IT_SINK_PORT')dnl
RELAY_DOMAIN(\`dest.test.example')dnl
RELAY_DOMAIN(\`bounce.example.com')dnl
define(\`confAUTH_MECHANISMS', \`PLAIN LOGIN')dnl
TRUST_AUTH_MECH(\`PLAIN LOGIN')dnl
dnl the milter: contrib/sendmail.mc as authmilter(8) shows it, our socket
EOF
        sed "s|unix:/run/authmilter/authmilter.sock|$milter|" \
            "$IT_SRC_DIR/contrib/sendmail.mc"
        echo "MAILER(\`smtp')dnl"
    } > "$SM_DIR/etc/sendmail.mc"
    {
        echo "dnl submit.mc of integration test $IT_NAME (generated by sendmail.sh)"
        sm__mc_common
        cat <<EOF
define(\`confCF_VERSION', \`Submit')dnl
define(\`MSP_QUEUE_DIR', \`$SM_DIR/clientmqueue')dnl
define(\`confPID_FILE', \`$SM_DIR/sm-client.pid')dnl
define(\`STATUS_FILE', \`$SM_DIR/sm-client.st')dnl
dnl why: the MSP must not run as root, and there is no smmsp user
define(\`confRUN_AS_USER', \`nobody')dnl
define(\`RELAY_MAILER_ARGS', \`TCP \$h $IT_SMTP_PORT')dnl
FEATURE(\`msp', \`[127.0.0.1]')dnl
EOF
    } > "$SM_DIR/etc/submit.mc"
    SM_CF=$SM_DIR/etc/sendmail.cf
    SM_SUBMIT_CF=$SM_DIR/etc/submit.cf
    if ! m4 "$SM_DIR/etc/sendmail.mc" > "$SM_CF" 2> "$IT_DIR/tmp/sm-m4.err" ||
        ! m4 "$SM_DIR/etc/submit.mc" > "$SM_SUBMIT_CF" 2>> "$IT_DIR/tmp/sm-m4.err"; then
        cat "$IT_DIR/tmp/sm-m4.err" >&2
        return 1
    fi
}

# sm_start MILTER_SOCKET - fetch, unpack, configure and start the Sendmail
# MTA whose milter is MILTER_SOCKET (unix:/path or inet:PORT@HOST)
sm_start() {
    local milter=$1
    SM_DIR=$IT_DIR/sm
    SM_ROOT=$SM_DIR/root
    SM_LOG=$IT_DIR/log/sendmail.log
    mkdir -p "$SM_DIR/mqueue" "$SM_DIR/clientmqueue"
    chmod 700 "$SM_DIR/mqueue"
    chown nobody "$SM_DIR/clientmqueue"
    chmod 770 "$SM_DIR/clientmqueue"
    : > "$SM_LOG"
    chmod 666 "$SM_LOG"                 # the MSP logs as nobody
    sm_fetch && sm__unpack || return 1
    cc -shared -fPIC -O2 -o "$SM_DIR/syslogfile.so" "$IT_LIB_DIR/syslogfile.c" \
        2> "$IT_DIR/tmp/sm-cc.err" || { cat "$IT_DIR/tmp/sm-cc.err" >&2; return 1; }
    sm__etc && sm__namespace_script && sm__write_mc "$milter" || return 1
    if ! sm_run -C "$SM_CF" -bi > "$IT_DIR/tmp/sm-newaliases.out" 2>&1; then
        cat "$IT_DIR/tmp/sm-newaliases.out" >&2
        return 1
    fi
    if it__port_busy "$IT_SMTP_PORT"; then
        echo "sm_start: port $IT_SMTP_PORT is in use (set IT_SMTP_PORT)" >&2
        return 1
    fi
    # -bD: the daemon in the foreground (the harness stops it); -q5s: a
    # message deferred (the sink busy) is retried at once
    it__bg sendmail "$IT_DIR/log/sendmail.out" "$SM_DIR/ns" "$SM_BIN" \
        -C "$SM_CF" -bD -q5s
    if ! it_wait_for 30 it__port_open "$IT_SMTP_PORT"; then
        echo "sm_start: Sendmail does not listen on $IT_SMTP_PORT" >&2
        tail -n 20 "$SM_LOG" "$IT_DIR/log/sendmail.out" >&2
        return 1
    fi
}

# sm_run ARGS... - the unpacked sendmail with ARGS in the namespace
sm_run() {
    "$SM_DIR/ns" "$SM_BIN" "$@"
}

# sm_qid_sent QID - true once Sendmail logged delivery of QID to the sink
sm_qid_sent() {
    grep -q " $1: to=.* relay=\[127\.0\.0\.1\] \[127\.0\.0\.1\],.* stat=Sent" "$SM_LOG"
}

# Submissions go through lib.sh's it_smtpsend, it_submit and
# it_submit_refused: Sendmail listens on IT_SMTP_PORT, as Postfix would.

# sm_relayed NAME [SECS] - wait for message IT_QID at the sink; sets IT_MSG
# to its file (Sendmail's Received field names the queue id); on failure
# records not ok NAME (unless the submission already failed)
sm_relayed() {
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
    if it_wait_for "$secs" sm_qid_sent "$IT_QID"; then
        IT_MSG=$(it_sink_file "$IT_QID")
        [ -n "$IT_MSG" ] && return 0
    fi
    it_fail "$name: relayed to the sink" "queue id $IT_QID not delivered in ${secs}s"
    return 1
}

# sm_show_log - the tail of Sendmail's log as TAP comments
sm_show_log() {
    echo "# --- tail of $SM_LOG"
    tail -n "${IT_LOG_LINES:-15}" "$SM_LOG" | sed 's/^/#   /'
}
