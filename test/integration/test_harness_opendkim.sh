#!/usr/bin/env bash
# test_harness_opendkim.sh - the harness checked against a known-good milter.
#
# Runs scenarios (a)-(e) of test_sign_postfix.sh with Debian's opendkim as
# the milter: real knotd, Postfix with Cyrus SASL, XCLIENT, sendmail(1) and
# smtp-sink; and checks that both verifiers accept RSA and Ed25519
# signatures made by dkimpy against the records it_keygen publishes. If this
# passes and test_sign_postfix.sh fails, look at authmilter, not at the
# harness.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

it_init selftest_opendkim
it_require opendkim
it_plan 19

key=$(it_keygen example.com s2048 rsa 2048) || { echo "Bail out! keygen"; exit 1; }
edkey=$(it_keygen example.com e1 ed25519) || { echo "Bail out! keygen"; exit 1; }
it_dns_start || { echo "Bail out! knotd"; exit 1; }
it_sink_start || { echo "Bail out! smtp-sink"; exit 1; }
it_milter_start_opendkim example.com s2048 "$key" || { echo "Bail out! opendkim"; exit 1; }
it_postfix_start "$IT_MILTER_SOCKET" || { echo "Bail out! postfix"; exit 1; }

it_check "knotd serves the 2048-bit key record split into strings" \
    sh -c "kdig @127.0.0.1 -p $IT_DNS_PORT +short TXT s2048._domainkey.example.com | grep -q '\" \"'"

# The verifiers themselves: a message dkimpy signs with both keys.
"$IT_PY" - "$key" "$edkey" > "$IT_DIR/tmp/dkimpy-signed.eml" <<'PY'
import base64, subprocess, sys
import dkim
rsa = open(sys.argv[1], "rb").read()
der = subprocess.run(["openssl", "pkey", "-in", sys.argv[2], "-outform", "DER"],
                     check=True, capture_output=True).stdout
seed = base64.b64encode(der[-32:])       # PKCS#8 Ed25519: the seed ends it
msg = (b"From: a@example.com\r\nTo: bob@dest.test.example\r\n"
       b"Subject: verifier check\r\n\r\nHello.\r\n")
sig_rsa = dkim.sign(msg, b"s2048", b"example.com", rsa)
sig_ed = dkim.sign(msg, b"e1", b"example.com", seed,
                   signature_algorithm=b"ed25519-sha256")
sys.stdout.buffer.write(sig_ed + sig_rsa + msg)
PY
it_check "verifier: dkimpy passes rsa-sha256 and ed25519-sha256" \
    it_dkimverify --min 2 "$IT_DIR/tmp/dkimpy-signed.eml"
it_check "verifier: Mail::DKIM passes rsa-sha256" \
    it_dkimverify_pl --min 1 "$IT_DIR/tmp/dkimpy-signed.eml"
sed 's/^Subject: verifier check/Subject: verifier check, altered/' \
    "$IT_DIR/tmp/dkimpy-signed.eml" > "$IT_DIR/tmp/altered.eml"
it_check "verifier: dkimpy fails an altered message" \
    it_nomatch it_dkimverify --min 1 "$IT_DIR/tmp/altered.eml"
it_check "verifier: Mail::DKIM fails an altered message" \
    it_nomatch it_dkimverify_pl --min 1 "$IT_DIR/tmp/altered.eml"

# (a) authenticated client from an outside address
it_submit "(a) AUTH alice from 192.0.2.10" --xclient-addr 192.0.2.10 \
    --auth alice@example.com:secret --from a@example.com --to bob@elsewhere.example
if it_relayed "(a)"; then
    it_check "(a) Postfix saw SASL user alice@example.com" \
        grep -q "$IT_QID: client=unknown\[192.0.2.10\], sasl_method=PLAIN, sasl_username=alice@example.com" \
        "$IT_DIR/log/postfix.log"
    it_check "(a) signed d=example.com, dkimpy verifies" \
        it_dkimverify --min 1 --expect-domains example.com "$IT_MSG"
    it_check "(a) Mail::DKIM verifies" \
        it_dkimverify_pl --min 1 --expect-domains example.com "$IT_MSG"
fi

# (b) unauthenticated from the internal address 127.0.0.1
it_submit "(b) internal client 127.0.0.1" --from a@example.com
if it_relayed "(b)"; then
    it_check "(b) signed d=example.com, dkimpy verifies" \
        it_dkimverify --min 1 --expect-domains example.com "$IT_MSG"
fi

# (c) outside client, not authenticated, to our relay domain: not signed
it_submit "(c) outside client 192.0.2.10 (XCLIENT)" --xclient-addr 192.0.2.10 \
    --from a@example.com --to bob@dest.test.example
if it_relayed "(c)"; then
    it_check "(c) no DKIM-Signature" test "$(it_dkim_count "$IT_MSG")" = 0
fi

# (d) local submission with sendmail(1): non_smtpd_milters
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
fi

# A dead milter must show up as a temporary failure, never as unsigned mail.
it_milter_stop
it_submit_refused "milter down: Postfix answers 451 (milter_default_action)" 451 \
    --from a@example.com

it_done
