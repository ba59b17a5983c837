#!/bin/sh
# shellcheck shell=bash
# (started as "sh contrib/demo.sh", it re-executes itself with bash first)
# demo.sh - authmilter from nothing to a signed, verified message.
#
# For a fresh Debian 12 machine, as root: installs the packages
# (contrib/deps.sh), builds (autoreconf, configure, make into $BUILD_DIR),
# makes a DKIM key with authmilter-keygen, then starts on loopback a knot DNS
# server publishing the key, authmilter, a private Postfix and smtp-sink,
# submits one message as an authenticated user, prints it as Postfix relayed
# it and the independent verifiers' verdicts, and stops everything.
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
echo "knot serves demo._domainkey.example.com:"
it_dns_txt demo._domainkey.example.com | sed 's/^/    /'
it_sink_start || die "smtp-sink did not start"
if [ "$milter" = opendkim ]; then
    it_milter_start_opendkim example.com demo "$key" || die "opendkim did not start"
else
    conf=$IT_DIR/milter/authmilter.conf
    it_authmilter_conf "$conf"
    cat >> "$conf" <<EOF
domain example.com {
    key = demo $key
}
EOF
    echo "authmilter.conf:"
    grep -v '^#' "$conf" | sed 's/^/    /'
    it_milter_start_authmilter "$conf" || die "authmilter did not start"
fi
it_postfix_start "$IT_MILTER_SOCKET" || die "Postfix did not start"

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

step "stopping everything"
[ "$ok" = 0 ] || { IT_FAIL=1; die "the signature did not verify"; }
echo "demo: done, the signature verifies"
