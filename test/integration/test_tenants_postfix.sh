#!/usr/bin/env bash
# test_tenants_postfix.sh - tenant isolation for signing through a real
# Postfix: a SASL login of one customer cannot get another customer's
# domain signed (before, any authenticated client was signed for every
# configured domain). Two customer domains and a platform domain, each with
# a key knotd serves; Cyrus SASL logins x@customer-a.example and
# ceo@victim.example; dkimpy verifies what arrives at smtp-sink.
# shellcheck disable=SC2317 # helpers run through it_check look unreachable
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

it_init tenants_postfix
[ -x "$AUTHMILTER" ] || { echo "Bail out! authmilter not built: $AUTHMILTER"; exit 1; }
it_plan 19
ka=$(it_keygen customer-a.example s1 rsa 2048) || { echo "Bail out! keygen"; exit 1; }
kv=$(it_keygen victim.example s1 rsa 2048) || { echo "Bail out! keygen"; exit 1; }
kp=$(it_keygen platform.test p1 rsa 2048) || { echo "Bail out! keygen"; exit 1; }
it_dns_start || { echo "Bail out! knotd"; exit 1; }
it_sink_start || { echo "Bail out! smtp-sink"; exit 1; }

# mkconf FILE [GLOBAL-LINE]... - two tenants and the platform, logins of
# each tenant's own domain only (signers = *@%d)
mkconf() {
    local file=$1
    shift
    it_authmilter_conf "$file"
    printf '%s\n' "$@" >> "$file"
    cat >> "$file" <<EOF
signers = *@%d
platform_domain = platform.test
domain customer-a.example {
    key = s1 $ka
}
domain victim.example {
    key = s1 $kv
    signer_networks = 10.9.0.0/16
}
domain platform.test {
    key = p1 $kp
    signers = *
}
EOF
}
conf=$IT_DIR/milter/tenants.conf
mkconf "$conf"
conf_reject=$IT_DIR/milter/reject.conf
mkconf "$conf_reject" "unauthorized_from = reject"
it_check "authmilter -n accepts signers and signer_networks" "$AUTHMILTER" -n -c "$conf"
it_check "authmilter -n shows the effective signers" grep -q 'signers.*\*@%d' "$IT_CHECK_OUT"

it_milter_start_authmilter "$conf" || { echo "Bail out! authmilter"; exit 1; }
it_postfix_start "$IT_MILTER_SOCKET" || { echo "Bail out! postfix"; exit 1; }
it_sasl_adduser x customer-a.example pw-a || { echo "Bail out! saslpasswd2"; exit 1; }
it_sasl_adduser ceo victim.example pw-v || { echo "Bail out! saslpasswd2"; exit 1; }

A=(--xclient-addr 192.0.2.10 --auth x@customer-a.example:pw-a)
V=(--xclient-addr 192.0.2.11 --auth ceo@victim.example:pw-v)

it_submit "tenant A as itself" "${A[@]}" --from x@customer-a.example
if it_relayed "tenant A as itself"; then
    it_check "tenant A as itself: d=customer-a.example and the platform signature verify" \
        it_dkimverify --min 2 --expect-domains customer-a.example,platform.test "$IT_MSG"
fi

it_submit "tenant A's login, From ceo@victim.example" "${A[@]}" \
    --from x@customer-a.example --header-from ceo@victim.example
if it_relayed "tenant A as victim"; then
    it_check "tenant A as victim: no d=victim.example signature" \
        it_nomatch grep -q "d=victim\.example" "$IT_MSG"
    it_check "tenant A as victim: the platform signature still applies" \
        it_dkimverify --min 1 --expect-domains platform.test "$IT_MSG"
    it_check "tenant A as victim: the log says why" \
        grep -q "$IT_QID: not signed for victim.example: login x@customer-a.example is not among the signers of victim.example" \
        "$IT_DIR/log/milter.log"
fi

it_submit "tenant V as itself" "${V[@]}" --from ceo@victim.example
if it_relayed "tenant V as itself"; then
    it_check "tenant V as itself: d=victim.example verifies" \
        it_dkimverify --min 2 --expect-domains victim.example,platform.test "$IT_MSG"
fi

# an internal client (127.0.0.1) outside victim.example's signer_networks
it_submit "internal client outside victim's networks" --from a@victim.example
if it_relayed "internal outside"; then
    it_check "internal outside victim's networks: no d=victim.example" \
        it_nomatch grep -q "d=victim\.example" "$IT_MSG"
    it_check "internal outside victim's networks: logged" \
        grep -q "$IT_QID: not signed for victim.example: client 127.0.0.1 is not in the signer_networks" \
        "$IT_DIR/log/milter.log"
fi
it_submit "internal client, customer A (no networks: all internal hosts)" --from a@customer-a.example
if it_relayed "internal A"; then
    it_check "internal client, customer A: signed" \
        it_dkimverify --min 2 --expect-domains customer-a.example,platform.test "$IT_MSG"
fi

# unauthorized_from = reject: refused at the end of the message
it_milter_stop
it_milter_start_authmilter "$conf_reject" || it_fail "authmilter starts with unauthorized_from = reject"
it_submit_refused "unauthorized_from = reject: tenant A as victim refused" 550 \
    "${A[@]}" --from x@customer-a.example --header-from ceo@victim.example
it_check "... with a reply naming the domain" \
    grep -q "5.7.1 this sender may not send mail as victim.example" "$IT_DIR/tmp/send.err"
it_submit "unauthorized_from = reject: tenant A as itself still signed" "${A[@]}" \
    --from x@customer-a.example
if it_relayed "reject conf, tenant A"; then
    it_check "reject conf, tenant A: signed" \
        it_dkimverify --min 2 --expect-domains customer-a.example,platform.test "$IT_MSG"
fi

it_milter_stop
it_done
