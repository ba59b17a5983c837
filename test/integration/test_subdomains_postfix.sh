#!/usr/bin/env bash
# test_subdomains_postfix.sh - which key signs what, through a real Postfix.
#
# A subdomain without a block of its own (news.customer.example) is signed
# with its parent's keys (d=customer.example) when the parent says
# subdomains = yes; with platform_domain set, a From domain without any
# block still gets the platform signature, and a block with
# platform_signature = no gets its author signature alone. customer.example
# lists first a key whose DNS record is another key (mismatched): the next
# key signs, and the state is logged once at the key check, not per
# message. Every signature is checked by dkimpy and Mail::DKIM.
# Needs root and a built daemon: AUTHMILTER=path, or BUILD_DIR with
# milter/authmilter in it.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

it_init subdomains_postfix
it_require "$AUTHMILTER"
it_plan 18

kc=$(it_keygen customer.example c1 rsa 2048) || { echo "Bail out! keygen"; exit 1; }
kv=$(it_keygen private.example v1 rsa 2048) || { echo "Bail out! keygen"; exit 1; }
kp=$(it_keygen platform.test p1 rsa 2048) || { echo "Bail out! keygen"; exit 1; }
# "old" is published for one key and configured with another: mismatched
it_keygen customer.example old rsa 1024 > /dev/null || { echo "Bail out! keygen"; exit 1; }
kwrong=$(it_keygen customer.example zz rsa 1024) || { echo "Bail out! keygen"; exit 1; }
it_dns_start || { echo "Bail out! knotd"; exit 1; }
it_sink_start || { echo "Bail out! smtp-sink"; exit 1; }

conf=$IT_DIR/milter/authmilter.conf
it_authmilter_conf "$conf"
cat >> "$conf" <<EOF
platform_domain = platform.test
domain customer.example {
    key = old $kwrong
    key = c1 $kc
    subdomains = yes
}
domain private.example {
    key = v1 $kv
    platform_signature = no
}
domain platform.test {
    key = p1 $kp
}
EOF
it_check "authmilter -n accepts subdomains and platform_signature" "$AUTHMILTER" -n -c "$conf"

it_milter_start_authmilter "$conf" || { echo "Bail out! authmilter"; exit 1; }
it_postfix_start "$IT_MILTER_SOCKET" || { echo "Bail out! postfix"; exit 1; }
log=$IT_DIR/log/milter.log
qids=()

# signed NAME FROM N DOMAINS - submit From FROM from an internal client;
# exactly N signatures, a passing one for each of DOMAINS (dkimpy and
# Mail::DKIM)
signed() {
    local name=$1 from=$2 n=$3 domains=$4
    it_submit "$name" --from "$from"
    qids+=("$IT_QID")
    it_relayed "$name" || return 1
    it_check "$name: d=$domains verify (dkimpy)" \
        it_dkimverify --min "$n" --expect-domains "$domains" "$IT_MSG"
    it_check "$name: d=$domains verify (Mail::DKIM)" \
        it_dkimverify_pl --min "$n" --expect-domains "$domains" "$IT_MSG"
    it_check "$name: $n signature(s), no more" test "$(it_dkim_count "$IT_MSG")" = "$n"
}

signed "subdomain of a block with subdomains" a@news.customer.example 2 \
    customer.example,platform.test
if [ -n "$IT_MSG" ]; then
    it_check "subdomain: signed by the parent's next key (s=c1), no d=news" \
        it_nomatch grep -qE "d=news\.customer\.example|s=old;" "$IT_MSG"
fi
signed "From domain without a block" a@nobody.example 1 platform.test
if [ -n "$IT_MSG" ]; then
    it_check "no block: the log says platform signature only" \
        grep -q "$IT_QID: sign: internal client, From domain nobody.example has no domain block: platform signature only (platform.test)" "$log"
fi
signed "block with platform_signature = no" a@private.example 1 private.example
if [ -n "$IT_MSG" ]; then
    it_check "opt-out: no platform signature" it_nomatch grep -q "d=platform\.test" "$IT_MSG"
fi

# the mismatched record: one line at the key check, none per message
it_check "mismatched key logged once, at the key check" \
    test "$(grep -c "key old of customer.example (1024 bits): record mismatched" "$log")" = 1
pattern=$(printf '%s|' "${qids[@]}")
it_check "no per-message warning about key states" \
    it_nomatch grep -E "warning: (${pattern%|}): " "$log"

it_milter_stop
it_done
