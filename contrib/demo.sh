#!/bin/sh
# shellcheck shell=bash
# (started as "sh contrib/demo.sh", it re-executes itself with bash first)
# demo.sh - authmilter from nothing to its three jobs, on loopback.
#
# For a fresh Debian 12 machine, as root: installs the packages
# (contrib/deps.sh), builds (autoreconf, configure, make into $BUILD_DIR),
# makes a DKIM key with authmilter-keygen, then starts on loopback a knot DNS
# server publishing the key and example.com's SPF and DMARC (p=reject)
# records, authmilter, a private Postfix and smtp-sink, and shows:
#   1. outbound: a message submitted by an authenticated user, signed (the
#      independent verifiers' verdicts) and its Return-Path rewritten into
#      example.com's bounce domain; a bounce to that address mapped back to
#      the sender, and a forged one refused;
#   2. inbound: the signed message arriving from an outside client of
#      example.com's (127.0.0.2: in its SPF record, not in internal_hosts),
#      judged (its Authentication-Results header);
#   3. a spoofed example.com message from an outside client refused by
#      example.com's DMARC policy;
# then stops everything. Outside clients are played with Postfix's XCLIENT.
# Nothing is sent beyond 127.0.0.1.
#
#   sh contrib/demo.sh
# Environment: BUILD_DIR (default _build), DEMO_SKIP_INSTALL=1,
# DEMO_SKIP_BUILD=1, AUTHMILTER (default $BUILD_DIR/milter/authmilter),
# IT_DNS_PORT, IT_SMTP_PORT, IT_SINK_PORT, AUTHMILTER_TEST_TMP (see
# test/integration/lib.sh); DEMO_MILTER=opendkim runs the same demo with
# Debian's opendkim (a check of the demo itself).

# The README says "sh contrib/demo.sh"; the harness is bash.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -u
src=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source-path=SCRIPTDIR source=../test/integration/lib.sh
. "$src/test/integration/lib.sh"

# step - print a heading
step() {
    printf '\n== %s\n' "$*"
}

# die - print why the demo stops, with the logs that explain it
die() {
    echo "demo: $*" >&2
    [ -n "${IT_DIR:-}" ] && [ -d "$IT_DIR/log" ] && it_show_logs >&2
    exit 1
}

if [ -z "${DEMO_SKIP_INSTALL:-}" ]; then
    step "installing Debian packages (contrib/deps.sh)"
    "$src/contrib/deps.sh" || die "package installation failed"
fi

if [ -z "${DEMO_SKIP_BUILD:-}" ]; then
    step "building into $BUILD_DIR"
    mkdir -p "$BUILD_DIR" || die "cannot create $BUILD_DIR"
    log=$BUILD_DIR/demo-build.log
    if ! { (cd "$src" && autoreconf -fi) &&
           (cd "$BUILD_DIR" && { [ -f Makefile ] || "$src/configure"; } && make -j2)
         } > "$log" 2>&1; then
        tail -n 30 "$log" >&2
        die "build failed (whole log: $log)"
    fi
    echo "built $AUTHMILTER"
fi

milter=${DEMO_MILTER:-authmilter}
if [ "$milter" = authmilter ] && [ ! -x "$AUTHMILTER" ]; then
    die "no authmilter at $AUTHMILTER (build it, or set AUTHMILTER/BUILD_DIR)"
fi

[ "$(id -u)" = 0 ] || die "run me as root (Postfix and knot need it)"
it_init demo
keygen=${AUTHMILTER_KEYGEN:-$BUILD_DIR/milter/authmilter-keygen}

step "making a DKIM key for example.com, selector demo"
if [ -x "$keygen" ]; then
    "$keygen" -d example.com -s demo -D "$IT_DIR/keys" || die "authmilter-keygen failed"
    key=$IT_DIR/keys/demo.pem
    it_zone_add example.com "$(cat "$IT_DIR/keys/demo.txt")"
else
    key=$(it_keygen example.com demo rsa 2048) || die "key generation failed"
    echo "private key $key; DNS record:"
    cat "$IT_DIR/zones/example.com.records"
fi

step "starting knot (127.0.0.1:$IT_DNS_PORT), smtp-sink (:$IT_SINK_PORT), $milter, Postfix (:$IT_SMTP_PORT)"
it_dns_start || die "knotd did not start"
# (test/zones/example.com.zone: SPF "v=spf1 ip4:127.0.0.0/8 -all", DMARC p=reject)
for name in demo._domainkey.example.com example.com _dmarc.example.com; do
    echo "knot serves $name:"
    it_dns_txt "$name" | sed 's/^/    /'
done
it_sink_start || die "smtp-sink did not start"
if [ "$milter" = opendkim ]; then
    it_milter_start_opendkim example.com demo "$key" || die "opendkim did not start"
else
    conf=$IT_DIR/milter/authmilter.conf
    it_authmilter_conf "$conf"
    (umask 077 && head -c 32 /dev/urandom > "$IT_DIR/keys/bounce.key")
    cat >> "$conf" <<EOF
bounce_secret   = $IT_DIR/keys/bounce.key
domain example.com {
    key = demo $key
    bounce_domain = bounces.example.com
}
EOF
    echo "authmilter.conf:"
    grep -v '^#' "$conf" | sed 's/^/    /'
    it_milter_start_authmilter "$conf" || die "authmilter did not start"
fi
it_postfix_start "$IT_MILTER_SOCKET" || die "Postfix did not start"
if [ "$milter" = authmilter ]; then
    # this MX takes mail for dest.test.example and for the bounce domain
    postconf -c "$IT_POSTFIX_CONF" -e \
        "relay_domains = dest.test.example, bounces.example.com" ||
        die "postconf failed"
    it_postfix_reload || die "postfix reload failed"
fi

step "submitting a message: AUTH PLAIN as alice@example.com, From: a@example.com"
IT_QID=$(it_smtpsend --auth alice@example.com:secret --from a@example.com \
         --to bob@elsewhere.example --subject "authmilter demo") \
    || die "submission refused"
echo "Postfix queued it as $IT_QID"
it_wait_for 30 it__qid_sent "$IT_QID" || die "message $IT_QID was not relayed"
msg=$(it_sink_file "$IT_QID")

step "the message as Postfix relayed it (captured by smtp-sink)"
cat "$msg"

step "independent verification through the demo DNS server"
echo "dkimpy:"
it_dkimverify --min 1 --expect-domains example.com "$msg" | sed 's/^/    /'
ok=${PIPESTATUS[0]}
echo "Mail::DKIM:"
it_dkimverify_pl --min 1 --expect-domains example.com "$msg" | sed 's/^/    /'

[ "$ok" = 0 ] || { IT_FAIL=1; die "the signature did not verify"; }
[ "$milter" = authmilter ] || { step "stopping everything"; echo "demo: done, the signature verifies"; exit 0; }

# envelope - smtp-sink's record NAME (X-Mail-Args, X-Rcpt-Args) of FILE, the address in <>
envelope() { sed -n "/^\$/q; s/^$1: <\{0,1\}\([^ >]*\).*/\1/p" "$2" | head -n 1; }
# relayed QID - wait for QID to reach smtp-sink; its file
relayed() {
    it_wait_for 30 it__qid_sent "$1" || die "message $1 was not relayed"
    it_sink_file "$1"
}

step "the Return-Path: rewritten into example.com's bounce domain, so SPF aligns there too"
rp=$(envelope X-Mail-Args "$msg")
echo "submitted as MAIL FROM:<a@example.com>, relayed as MAIL FROM:<$rp>"
grep -F "Return-Path <a@example.com> rewritten" "$IT_DIR/log/milter.log" | sed 's/^/    /'
case $rp in *@bounces.example.com) ;; *) die "the Return-Path was not rewritten" ;; esac

step "a bounce to <$rp> from an outside server (192.0.2.10): back to the sender"
bq=$(it_smtpsend --xclient-addr 192.0.2.10 --from "" --to "$rp" \
     --header-from MAILER-DAEMON@mx.dest.test.example \
     --subject "Undelivered Mail Returned to Sender") || die "the bounce was refused"
echo "delivered to <$(envelope X-Rcpt-Args "$(relayed "$bq")")>"
grep -F "bounce to <$rp>" "$IT_DIR/log/milter.log" | sed 's/^/    /'

step "a forged bounce (one character of the address changed): refused"
last=${rp%@*}
last=${last: -1}
[ "$last" = a ] && other=b || other=a
forged="${rp%?@*}$other@${rp#*@}"
if it_smtpsend --xclient-addr 192.0.2.10 --from "" --to "$forged" \
    --header-from MAILER-DAEMON@mx.dest.test.example \
    > /dev/null 2> "$IT_DIR/tmp/forged.err"; then
    die "a forged bounce was accepted"
fi
echo "RCPT TO:<$forged>:"
sed 's/^/    /' "$IT_DIR/tmp/forged.err"

step "inbound: the signed message arriving from example.com's server (127.0.0.2), judged"
# the message without smtp-sink's envelope records
sed '/^X-\(Client-Addr\|Client-Proto\|Helo-Args\|Mail-Args\|Rcpt-Args\): /d' \
    "$msg" > "$IT_DIR/tmp/inbound.eml"
iq=$(it_smtpsend --xclient-addr 127.0.0.2 --from a@example.com \
     --to bob@dest.test.example --file "$IT_DIR/tmp/inbound.eml") \
    || die "the inbound message was refused"
imsg=$(relayed "$iq")
sed -n '/^Authentication-Results:/,/^[^ \t]/p' "$imsg" | sed '$d' | sed 's/^/    /'
grep -q "dmarc=pass" "$imsg" || die "the inbound message did not pass DMARC"

step "a spoofed message: From: ceo@example.com, unsigned, from 192.0.2.99 (example.com says p=reject)"
if it_smtpsend --xclient-addr 192.0.2.99 --from ceo@example.com \
    --to bob@dest.test.example --subject "Urgent: wire transfer" \
    > /dev/null 2> "$IT_DIR/tmp/spoof.err"; then
    die "the spoofed message was accepted"
fi
sed 's/^/    /' "$IT_DIR/tmp/spoof.err"
grep -q " 550 " "$IT_DIR/tmp/spoof.err" || die "the spoofed message was not refused with 550"

step "stopping everything"
echo "demo: done: signed and verified, Return-Path in the bounce domain and bounces mapped, inbound judged, spoofing refused"
