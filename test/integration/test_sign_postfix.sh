#!/usr/bin/env bash
# test_sign_postfix.sh - authmilter signs through a real Postfix.
#
# Real knotd serving the keys' records, a private Postfix with Cyrus SASL,
# XCLIENT and sendmail(1), smtp-sink capturing what is relayed; every
# signature is checked by two independent verifiers (dkimpy, Mail::DKIM).
# Every kind of signature the daemon makes (the author's RSA, the
# platform's, Ed25519) oversigns From: h= lists it once more than the
# message has, and a From added after signing breaks it (dkimpy and
# Mail::DKIM). Forged
# Authentication-Results are removed from the mail it signs, too.
# Needs root and a built daemon: AUTHMILTER=path, or BUILD_DIR with
# milter/authmilter in it. test_harness_opendkim.sh checks the harness itself.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

it_init sign_postfix
it_require "$AUTHMILTER"
it_plan 47

rsa=$(it_keygen example.com s2048 rsa 2048) || { echo "Bail out! keygen"; exit 1; }
ed=$(it_keygen example.com e1 ed25519) || { echo "Bail out! keygen"; exit 1; }
plat=$(it_keygen platform.test p1 rsa 2048) || { echo "Bail out! keygen"; exit 1; }
it_dns_start || { echo "Bail out! knotd"; exit 1; }
it_sink_start || { echo "Bail out! smtp-sink"; exit 1; }

# Three confs for one socket: Postfix keeps running while the milter changes.
conf=$IT_DIR/milter/authmilter.conf
it_authmilter_conf "$conf"
cat >> "$conf" <<EOF
message_summary = yes
domain example.com {
    key = s2048 $rsa
}
EOF
conf_platform=$IT_DIR/milter/platform.conf
it_authmilter_conf "$conf_platform"
cat >> "$conf_platform" <<EOF
platform_domain = platform.test
domain example.com {
    key = s2048 $rsa
}
domain platform.test {
    key = p1 $plat
}
EOF
conf_ed=$IT_DIR/milter/ed25519.conf
it_authmilter_conf "$conf_ed"
cat >> "$conf_ed" <<EOF
domain example.com {
    key = s2048 $rsa
    key = e1 $ed
}
EOF

# oversigned NAME N DOMAINS - every one of the N signatures of $IT_MSG (with
# a passing one for each of DOMAINS) lists From in h= once more than the
# message has From fields; with a second From added on top of the header
# after signing (the bottom-most one is what a From listed once covers),
# no signature verifies
oversigned() {
    local name=$1 n=$2 doms=$3 two
    it_check "$name: From oversigned in h= of all $n signatures, dkimpy verifies" \
        it_dkimverify --min "$n" --expect-domains "$doms" --oversigned From "$IT_MSG"
    two=$IT_DIR/tmp/two-from.$((IT_N + 1)).eml
    { echo "From: Mallory <mallory@evil.example>"; cat "$IT_MSG"; } > "$two"
    it_check "$name: a second From added after signing: no signature verifies" \
        all_fail "$two" "$n"
}

# shellcheck disable=SC2317  # called through it_check
# all_fail FILE N - dkimpy fails all N signatures of FILE, and Mail::DKIM
# fails every one it can check (it has no Ed25519: the h= check above
# covers those). dkimpy alone would prove little: whatever h= says, it
# verifies with one From more (its own defence against this attack, Debian
# bug 644046); Mail::DKIM reads h= as RFC 6376 says, so it passes a
# signature that did not oversign From.
all_fail() {
    local py=$IT_DIR/tmp/all_fail.py.out pl=$IT_DIR/tmp/all_fail.pl.out rc=0 rcpl=0
    it_dkimverify --min "$2" "$1" > "$py" 2>&1 || rc=$?
    it_dkimverify_pl --min 1 "$1" > "$pl" 2>&1 || rcpl=$?
    cat "$py" "$pl"
    [ "$rc" = 1 ] && [ "$rcpl" = 1 ] &&
        [ "$(grep -c '^d=.* fail' "$py")" = "$2" ] &&
        [ "$(grep -c '^d=.* fail' "$pl")" -ge 1 ] &&
        [ "$(cat "$py" "$pl" | grep -c '^d=.* pass$')" = 0 ]
}

it_check "authmilter -n accepts the test conf" "$AUTHMILTER" -n -c "$conf"
it_check "authmilter -n prints the conf" grep -q 'example\.com' "$IT_CHECK_OUT"

it_milter_start_authmilter "$conf" || { echo "Bail out! authmilter"; exit 1; }
it_postfix_start "$IT_MILTER_SOCKET" || { echo "Bail out! postfix"; exit 1; }

# (a) authenticated submission from an outside address
it_submit "(a) AUTH alice from 192.0.2.10" --xclient-addr 192.0.2.10 \
    --auth alice@example.com:secret --from a@example.com --to bob@elsewhere.example
if it_relayed "(a)"; then
    it_check "(a) signed d=example.com, dkimpy verifies" \
        it_dkimverify --min 1 --expect-domains example.com "$IT_MSG"
    it_check "(a) signed d=example.com, Mail::DKIM verifies" \
        it_dkimverify_pl --min 1 --expect-domains example.com "$IT_MSG"
    it_check "(a) log: why signed, prefixed with the queue id" \
        grep -q "$IT_QID: sign: authenticated client, domain example.com" "$IT_DIR/log/milter.log"
    it_check "(a) log: the signature, prefixed with the queue id" \
        grep -q "$IT_QID: signed d=example.com s=s2048 a=rsa-sha256" "$IT_DIR/log/milter.log"
    it_check "(a) message_summary: one line, mode, client, login, signature, action" \
        grep -Eq "$IT_QID: msg mode=sign client=192\.0\.2\.10 auth=alice@example\.com from=example\.com signed=example\.com:s2048:rsa action=accept ms=[0-9]+$" "$IT_DIR/log/milter.log"
    oversigned "(a) author RSA" 1 example.com
fi

# (l) forged Authentication-Results on mail we sign: the one claiming our
# authserv-id is removed (a receiver would trust it), a foreign one is
# kept, and removing it leaves the signature intact
it_submit "(l) AUTH alice, a forged A-R of mx.test.example and a foreign one" \
    --xclient-addr 192.0.2.10 --auth alice@example.com:secret --from a@example.com \
    --to bob@elsewhere.example \
    --header "Authentication-Results: mx.test.example; dmarc=pass header.from=FORGED.example" \
    --header "Authentication-Results: other.example; spf=pass smtp.mailfrom=kept@other.example"
if it_relayed "(l)"; then
    it_check "(l) signed: the forged A-R is gone" \
        it_nomatch grep -q "FORGED\.example" "$IT_MSG"
    it_check "(l) signed: the foreign A-R arrived intact" \
        grep -q "^Authentication-Results: other\.example; spf=pass smtp\.mailfrom=kept@other\.example" "$IT_MSG"
    it_check "(l) signed d=example.com, dkimpy verifies" \
        it_dkimverify --min 1 --expect-domains example.com "$IT_MSG"
    it_check "(l) log: the removal, with the queue id" \
        grep -q "$IT_QID: removed forged header fields: 1 Authentication-Results" "$IT_DIR/log/milter.log"
fi

# (b) unauthenticated, from the internal address 127.0.0.1
it_submit "(b) internal client 127.0.0.1" --from a@example.com
if it_relayed "(b)"; then
    it_check "(b) signed d=example.com, dkimpy verifies" \
        it_dkimverify --min 1 --expect-domains example.com "$IT_MSG"
fi

# (c) outside client, not authenticated, From a domain without a DMARC
# record: verified, relayed unsigned
it_submit "(c) outside client 192.0.2.10" --xclient-addr 192.0.2.10 \
    --from a@test.example --header-from a@test.example --to bob@dest.test.example
if it_relayed "(c)"; then
    it_check "(c) not signed" test "$(it_dkim_count "$IT_MSG")" = 0
    it_check "(c) log: why not signed, with the queue id" \
        grep -q "$IT_QID: verify: client 192.0.2.10 is neither authenticated nor in internal_hosts" "$IT_DIR/log/milter.log"
fi

# (d) local submission through sendmail(1): non_smtpd_milters
printf 'From: a@example.com\nTo: bob@dest.test.example\nSubject: local\n\nsent with sendmail\n' \
    > "$IT_DIR/tmp/local.eml"
it_submit_local "(d) sendmail -C" "$IT_DIR/tmp/local.eml" -f a@example.com bob@dest.test.example
if it_relayed "(d)"; then
    it_check "(d) signed d=example.com, dkimpy verifies" \
        it_dkimverify --min 1 --expect-domains example.com "$IT_MSG"
fi

# (e) a 20 MB message
it_submit "(e) 20 MB message" --from a@example.com --size $((20 * 1024 * 1024))
if it_relayed "(e)" 120; then
    it_check "(e) the whole 20 MB arrived" test "$(stat -c %s "$IT_MSG")" -gt 20000000
    it_check "(e) signed d=example.com, dkimpy verifies" \
        it_dkimverify --min 1 --expect-domains example.com "$IT_MSG"
    it_check "(e) signed d=example.com, Mail::DKIM verifies" \
        it_dkimverify_pl --min 1 --expect-domains example.com "$IT_MSG"
fi

# (h) two From header fields: ambiguous author, so not signed, still relayed
it_submit "(h) two From headers" --from a@example.com \
    --header "From: b@example.com"
if it_relayed "(h)"; then
    it_check "(h) not signed" test "$(it_dkim_count "$IT_MSG")" = 0
    it_check "(h) log: not signed because of two From headers" \
        grep -q "$IT_QID: not signed: more than one From header" "$IT_DIR/log/milter.log"
fi

# (k) main.cf's macros for MAIL without {auth_authen}: authmilter asks
# Postfix for the macros it reads (SETSYMLIST), so AUTH still means sign
postconf -c "$IT_POSTFIX_CONF" -e "milter_mail_macros = i"
if it_postfix_reload 2> "$IT_DIR/tmp/reload.err"; then
    it_submit "(k) AUTH with milter_mail_macros = i" --xclient-addr 192.0.2.10 \
        --auth alice@example.com:secret --from a@example.com --to bob@elsewhere.example
    if it_relayed "(k)"; then
        it_check "(k) signed d=example.com, dkimpy verifies" \
            it_dkimverify --min 1 --expect-domains example.com "$IT_MSG"
        it_check "(k) log: signed as an authenticated client" \
            grep -q "$IT_QID: sign: authenticated client, domain example.com" "$IT_DIR/log/milter.log"
    fi
else
    it_fail "(k) postfix reload" "$(cat "$IT_DIR/tmp/reload.err")"
fi

# (f) platform signature: d=example.com and d=platform.test
it_milter_stop
it_milter_start_authmilter "$conf_platform" || it_fail "(f) authmilter starts with platform_domain"
it_submit "(f) platform_domain configured" --from a@example.com
if it_relayed "(f)"; then
    it_check "(f) two signatures, both verify with dkimpy" \
        it_dkimverify --min 2 --expect-domains example.com,platform.test "$IT_MSG"
    it_check "(f) two signatures, both verify with Mail::DKIM" \
        it_dkimverify_pl --min 2 --expect-domains example.com,platform.test "$IT_MSG"
    oversigned "(f) author and platform" 2 example.com,platform.test
fi

# (g) RSA and Ed25519 keys in one domain block: two signatures
it_milter_stop
it_milter_start_authmilter "$conf_ed" || it_fail "(g) authmilter starts with an Ed25519 key"
it_submit "(g) RSA + Ed25519 keys" --from a@example.com
if it_relayed "(g)"; then
    it_check "(g) two signatures, both verify with dkimpy" \
        it_dkimverify --min 2 --expect-domains example.com "$IT_MSG"
    out=$IT_CHECK_OUT
    it_check "(g) one is ed25519-sha256, d=example.com" \
        grep -q '^d=example.com s=e1 a=ed25519-sha256 pass' "$out"
    it_check "(g) one is rsa-sha256, d=example.com" \
        grep -q '^d=example.com s=s2048 a=rsa-sha256 pass' "$out"
    oversigned "(g) RSA and Ed25519" 2 example.com
fi
it_milter_stop

# (i) a conf error is reported as FILE:LINE and refused
bad=$IT_DIR/milter/bad.conf
cat > "$bad" <<EOF
# line 1: a conf with an unknown option on line 7
socket          = unix:$IT_DIR/tmp/bad.sock
pidfile         = $IT_DIR/tmp/bad.pid
authserv_id     = mx.test.example
internal_hosts  = 127.0.0.1/32
log_destination = stderr
bogus_option    = 1
domain example.com {
    key = s2048 $rsa
}
EOF
rc=0
"$AUTHMILTER" -n -c "$bad" > "$IT_DIR/tmp/bad.out" 2> "$IT_DIR/tmp/bad.err" || rc=$?
it_check "(i) authmilter -n rejects bogus_option with exit 1" test "$rc" = 1
it_check "(i) the error names $bad:7:" grep -qF "$bad:7:" "$IT_DIR/tmp/bad.err"

# (j) a group/world-readable key is refused, naming the file: its block is
# left out (test_include_postfix.sh: the other domains still sign)
loose=$IT_DIR/keys/loose.pem
cp "$rsa" "$loose"
chmod 644 "$loose"
conf_loose=$IT_DIR/milter/loose.conf
cat > "$conf_loose" <<EOF
socket          = unix:$IT_DIR/tmp/loose.sock
pidfile         = $IT_DIR/tmp/loose.pid
authserv_id     = mx.test.example
internal_hosts  = 127.0.0.1/32
log_destination = stderr
domain example.com {
    key = s2048 $loose
}
EOF
rc=0
timeout 15 "$AUTHMILTER" -n -c "$conf_loose" > "$IT_DIR/tmp/loose.out" 2> "$IT_DIR/tmp/loose.err" || rc=$?
it_check "(j) a 0644 key: authmilter -n exits 1 (exit $rc)" test "$rc" = 1
it_check "(j) the error names $loose, the block is left out" \
    sh -c "grep -qF '$loose' '$IT_DIR/tmp/loose.err' &&
        grep -q '^# domain example.com: left out for errors' '$IT_DIR/tmp/loose.out'"

it_done
