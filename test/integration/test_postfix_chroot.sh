#!/usr/bin/env bash
# test_postfix_chroot.sh - authmilter with Debian's chrooted Postfix, set up
# as authmilter(8) and contrib/postfix-chroot.md say.
#
# The private Postfix runs smtpd, pickup, cleanup, the smtp client and the
# other services Debian's stock master.cf chroots (IT_POSTFIX_CHROOT=debian)
# chrooted in its queue directory, as /var/spool/postfix is on Debian.
# authmilter runs as user "authmilter" with its socket inside the queue
# directory, mode 0660, owned by authmilter:authmilter; the postfix user is
# a member of group authmilter; main.cf names the socket relative to the
# queue directory (unix:authmilter/authmilter.sock), which is right both
# for chrooted services (cwd /) and unchrooted ones (cwd the queue dir).
# Checked: the socket's owner and mode, smtpd and cleanup really run in the
# chroot with the group, mail from an internal client and through
# sendmail(1) is signed and verifies (dkimpy, Mail::DKIM), and the socket's
# path outside the chroot (what the docs said before) gets 451.
#
# What the chroot needs, found here (Debian 12, Postfix 3.7.11, glibc
# 2.36): for the milter, nothing but the socket inside it; this loopback
# setup (numeric relayhost, no DNS in Postfix) needed no file copied at
# all. Without etc/hosts in the chroot, names do not resolve there:
# smtpd logs clients as "unknown" (smtpd_peername_lookup) and the smtp
# client defers "unable to look up host localhost: Temporary failure in
# name resolution"; copying etc/hosts alone fixed both (no nsswitch.conf,
# no libnss_*: glibc 2.34+ has files and dns built in, and defaults to
# them). DNS from the chroot needs etc/resolv.conf (not exercised: no
# resolver on loopback port 53 here). etc/services is not needed for
# smtp/submission ports: Postfix 3.6+ knows them (known_tcp_ports). SASL:
# smtpd.conf is read before the chroot, but the sasldb is opened at AUTH
# time inside it: sasldb_path is a path in the chroot (Debian's
# /var/spool/postfix/etc/sasldb2 as /etc/sasldb2). Debian's init script
# and postfix@.service copy etc/hosts, resolv.conf, services, localtime,
# nsswitch.conf, host.conf and libnss/libresolv into the chroot
# (/usr/lib/postfix/configure-instance.sh); "postfix start" alone does not.
#
# This test creates the system user and group "authmilter" when they are
# missing and adds "postfix" to the group (adduser postfix authmilter), as
# an installation would; both stay.
# Needs root and a built daemon (AUTHMILTER or BUILD_DIR). Output is TAP.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

it_init postfix_chroot
it_require "$AUTHMILTER" adduser
it_plan 15

RUNAS=authmilter
if ! getent passwd "$RUNAS" > /dev/null; then
    adduser --system --group --no-create-home --home /nonexistent "$RUNAS" \
        > "$IT_DIR/tmp/adduser.out" 2>&1 ||
        { cat "$IT_DIR/tmp/adduser.out"; echo "Bail out! adduser $RUNAS"; exit 1; }
fi
if ! id -nG postfix | tr ' ' '\n' | grep -qx "$RUNAS"; then
    adduser postfix "$RUNAS" > "$IT_DIR/tmp/adduser.out" 2>&1 ||
        { cat "$IT_DIR/tmp/adduser.out"; echo "Bail out! adduser postfix $RUNAS"; exit 1; }
fi
gid=$(getent group "$RUNAS" | cut -d: -f3)

rsa=$(it_keygen example.com s2048 rsa 2048) || { echo "Bail out! keygen"; exit 1; }
it_dns_start || { echo "Bail out! knotd"; exit 1; }
it_sink_start || { echo "Bail out! smtp-sink"; exit 1; }

Q=$IT_DIR/pf/queue          # the chroot, as /var/spool/postfix on Debian
mkdir -p "$Q"
conf=$IT_DIR/milter/authmilter.conf
it_authmilter_conf "$conf"
sed -i "s|^socket .*|socket          = unix:$Q/authmilter/authmilter.sock|;
    s|^socket_mode .*|socket_mode     = 0660|" "$conf"
cat >> "$conf" <<EOF
user            = $RUNAS
domain example.com {
    key = s2048 $rsa
}
EOF
it_check "authmilter -n accepts the conf" "$AUTHMILTER" -n -c "$conf"
it_milter_start_authmilter "$conf" || { echo "Bail out! authmilter"; exit 1; }
it_check "socket $Q/authmilter/authmilter.sock: $RUNAS $RUNAS 660" \
    test "$(stat -c '%U %G %a' "$Q/authmilter/authmilter.sock")" = "$RUNAS $RUNAS 660"

export IT_POSTFIX_CHROOT=debian
it_postfix_start unix:authmilter/authmilter.sock || { echo "Bail out! postfix"; exit 1; }
# the sasldb where chrooted smtpd opens it: etc/sasldb2 in the chroot
mkdir -p "$Q/etc"
install -m 640 -g postfix "$IT_SASLDB" "$Q/etc/sasldb2"
sed -i 's|^sasldb_path:.*|sasldb_path: /etc/sasldb2|' "$IT_DIR/pf/etc/sasl/smtpd.conf"
it_postfix_reload || { echo "Bail out! postfix reload"; exit 1; }

# shellcheck disable=SC2317  # called through it_check
# chrooted NAME - a process of our Postfix called NAME runs with its root
# in the queue directory and group authmilter among its groups
chrooted() {
    local master pid
    master=$(tr -d ' ' < "$Q/pid/master.pid")
    for pid in $(pgrep -P "$master" -x "$1"); do
        echo "$1 $pid: root $(readlink "/proc/$pid/root"), $(grep '^Groups:' "/proc/$pid/status")"
        [ "$(readlink "/proc/$pid/root")" = "$Q" ] &&
            grep -q "^Groups:.*\b$gid\b" "/proc/$pid/status" && return 0
    done
    return 1
}

# (a) an internal client (127.0.0.1): smtpd's milter connection
it_submit "(a) internal client 127.0.0.1" --from a@example.com
if it_relayed "(a)"; then
    it_check "(a) signed d=example.com, dkimpy verifies" \
        it_dkimverify --min 1 --expect-domains example.com "$IT_MSG"
    it_check "(a) signed d=example.com, Mail::DKIM verifies" \
        it_dkimverify_pl --min 1 --expect-domains example.com "$IT_MSG"
    it_check "(a) smtpd ran chrooted in $Q, in group $RUNAS" chrooted smtpd
    it_check "(a) cleanup ran chrooted in $Q, in group $RUNAS" chrooted cleanup
fi

# (b) authenticated submission from an outside address (SASL in the chroot)
it_submit "(b) AUTH alice from 192.0.2.10" --xclient-addr 192.0.2.10 \
    --auth alice@example.com:secret --from a@example.com --to bob@elsewhere.example
if it_relayed "(b)"; then
    it_check "(b) signed d=example.com, dkimpy verifies" \
        it_dkimverify --min 1 --expect-domains example.com "$IT_MSG"
    it_check "(b) log: signed as an authenticated client" \
        grep -q "$IT_QID: sign: authenticated client, domain example.com" "$IT_DIR/log/milter.log"
fi

# (c) sendmail(1) -> postdrop -> pickup -> cleanup: non_smtpd_milters
printf 'From: a@example.com\nTo: bob@dest.test.example\nSubject: local\n\nsent with sendmail\n' \
    > "$IT_DIR/tmp/local.eml"
it_submit_local "(c) sendmail(1)" "$IT_DIR/tmp/local.eml" -f a@example.com bob@dest.test.example
if it_relayed "(c)"; then
    it_check "(c) signed d=example.com, dkimpy verifies" \
        it_dkimverify --min 1 --expect-domains example.com "$IT_MSG"
    it_check "(c) signed d=example.com, Mail::DKIM verifies" \
        it_dkimverify_pl --min 1 --expect-domains example.com "$IT_MSG"
fi

# (d) the socket's real path, outside the chroot: the chrooted smtpd finds
# no such file and the mail is deferred (milter_default_action = tempfail)
postconf -c "$IT_POSTFIX_CONF" -e "smtpd_milters = unix:$Q/authmilter/authmilter.sock"
it_postfix_reload || { echo "Bail out! postfix reload"; exit 1; }
it_submit_refused "(d) the path outside the chroot: 451" 451 --from a@example.com
it_check "(d) Postfix logged: No such file or directory" it_wait_for 10 \
    grep -q "connect to Milter service unix:$Q/authmilter/authmilter.sock: No such file or directory" \
    "$IT_DIR/log/postfix.log"

it_milter_stop
it_done
