#!/usr/bin/env bash
# shellcheck disable=SC2317
# (SC2317: the helpers run through it_check, which shellcheck cannot follow)
# test_check_onboarding.sh - authmilter-check's onboarding checks of
# domains that are not in the conf, against zones served by knotd: each
# OK/WARN/FAIL case (platform include in SPF, lookup breakdown and what to
# flatten, ptr, DMARC missing, aspf=s with a bounce subdomain, adkim=s
# with the platform's d=, rua at a third party with and without its RFC
# 7489 7.1 authorisation record, bounce CNAME/MX at the platform or
# elsewhere, the Gmail/Yahoo line), --json parsed by python, --problems-only,
# a list of 200 domains checked in parallel with its summary, and
# authmilter-keygen's batch, --json, --cname-target and -D creation.
# No daemon, no Postfix: the tools against knotd. About 10 s.
#
# Output is TAP. Environment: see lib.sh. Nothing leaves 127.0.0.1.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

it_init check_onboarding

CHECK=$BUILD_DIR/milter/authmilter-check
KEYGEN=$BUILD_DIR/milter/authmilter-keygen
it_require "$CHECK" "$KEYGEN"
WT=$IT_DIR/tmp
P=platform.test
INC="include:_spf.platform.test"

# ---------------------------------------------------------------- zones
# The platform: its SPF include and the host bounce domains point at.
it_zone_add $P "_spf TXT \"v=spf1 ip4:192.0.2.0/24 -all\""
it_zone_add $P "bounce A 192.0.2.10"
it_zone_add $P "bounce MX 10 bounce.platform.test."
it_zone_add $P "bounce TXT \"v=spf1 $INC -all\""
pkey=$(it_keygen $P p1 ed25519) || { echo "Bail out! keygen"; exit 1; }
ckey=$(it_keygen good.test c1 rsa 1024) || { echo "Bail out! keygen"; exit 1; }

# cust DOMAIN SPF DMARC - a customer zone: SPF and DMARC records as given
# ("" : none), a bounce CNAME at the platform
cust() {
    local d=$1 spf=$2 dmarc=$3
    [ -n "$spf" ] && it_zone_add "$d" "@ TXT \"$spf\""
    [ -n "$dmarc" ] && it_zone_add "$d" "_dmarc TXT \"$dmarc\""
    it_zone_add "$d" "bounces CNAME bounce.platform.test."
    it_zone_add "$d" "mx A 192.0.2.1"
}
cust good.test "v=spf1 $INC -all" "v=DMARC1; p=reject; rua=mailto:dmarc@good.test"
cust aspfs.test "v=spf1 $INC -all" "v=DMARC1; p=reject; aspf=s"
cust nospf.test "v=spf1 ip4:198.51.100.1 -all" "v=DMARC1; p=quarantine"
cust nodmarc.test "v=spf1 $INC -all" ""
cust ptr.test "v=spf1 ptr $INC -all" "v=DMARC1; p=none"
cust rua3p.test "v=spf1 $INC -all" "v=DMARC1; p=reject; rua=mailto:agg@reports.test"
cust ruaok.test "v=spf1 $INC -all" "v=DMARC1; p=reject; rua=mailto:agg@reports.test"
it_zone_add reports.test "ruaok.test._report._dmarc TXT \"v=DMARC1\""
it_zone_add reports.test "@ MX 10 mx.reports.test."
cust spf11.test "v=spf1 $INC include:big.spf11.test a -all" "v=DMARC1; p=reject"
big="v=spf1"
for i in 1 2 3 4 5 6 7 8; do
    big="$big include:i$i.spf11.test"
    it_zone_add spf11.test "i$i TXT \"v=spf1 ip4:198.51.100.$i -all\""
done
it_zone_add spf11.test "big TXT \"$big -all\""
it_zone_add spf11.test "@ A 192.0.2.7"
# a hostile fan-out: ten includes of a name that includes itself ten times
fan="v=spf1"
for i in 1 2 3 4 5 6 7 8 9 10; do fan="$fan include:f.fan.test"; done
it_zone_add fan.test "@ TXT \"$fan -all\""
it_zone_add fan.test "f TXT \"$fan -all\""
# bounce domains: a CNAME elsewhere, an MX at the platform, an MX elsewhere
cust bouncex.test "v=spf1 $INC -all" "v=DMARC1; p=reject"
it_zone_add bouncex.test "b2 CNAME mail.elsewhere.test."
cust bouncemx.test "v=spf1 $INC -all" "v=DMARC1; p=reject"
it_zone_add bouncemx.test "b MX 10 bounce.platform.test."
it_zone_add bouncemx.test "b TXT \"v=spf1 $INC -all\""
it_zone_add bouncemx.test "c MX 10 mx.other.test."
it_zone_add bouncemx.test "c TXT \"v=spf1 $INC -all\""
# a customer under the platform's own domain with adkim=s: d=platform.test
# is relaxed-aligned only
it_zone_add $P "_dmarc.shop TXT \"v=DMARC1; p=reject; adkim=s\""
it_zone_add $P "shop TXT \"v=spf1 $INC -all\""
# 200 customers under batch.test: the even ones with DMARC
for ((i = 1; i <= 200; i++)); do
    it_zone_add batch.test "c$i TXT \"v=spf1 $INC -all\""
    [ $((i % 2)) = 0 ] && it_zone_add batch.test "_dmarc.c$i TXT \"v=DMARC1; p=reject\""
    echo "c$i.batch.test" >> "$WT/batch.list"
done

# keygen for the platform: a list of domains, keys in a key_dir it
# creates, records hosted in the platform's zone behind a CNAME
KD=$IT_DIR/keys/kd/sub
printf 'deleg.test\nsecond.test\n' > "$WT/kg.list"
KG_RC=0
"$KEYGEN" --domains "$WT/kg.list" -s s1 -t ed25519 -D "$KD" \
    --cname-target dkim.$P --json > "$WT/kg.json" 2> "$WT/kg.err" || KG_RC=$?
# kg_zone FIELD - a zone line of deleg.test's key from the JSON
kg_zone() {
    "$IT_PY" -c 'import json, sys; k = json.load(open(sys.argv[1]))["keys"][0]
print(k["cname"]["zone"] if sys.argv[2] == "cname" else k["txt"]["zone"])' "$WT/kg.json" "$1"
}
it_zone_add deleg.test "$(kg_zone cname)"
it_zone_add $P "$(kg_zone txt)"
cust deleg.test "v=spf1 $INC -all" "v=DMARC1; p=reject"

it_dns_start || { echo "Bail out! knotd"; exit 1; }

conf=$IT_DIR/milter/check.conf
it_authmilter_conf "$conf"
(umask 077; head -c 32 /dev/urandom > "$IT_DIR/keys/bounce.secret")
cat >> "$conf" <<EOF
bounce_secret        = $IT_DIR/keys/bounce.secret
key_dir              = $KD
platform_domain      = $P
platform_spf_include = _spf.$P
domain $P {
    key = p1 $pkey
}
domain fan.test {
    key = p1 $pkey
    bounce_domain = bounces.fan.test
}
EOF

# onb NAME ARGS... - authmilter-check with the onboarding checks; output in
# $WT/NAME.out, exit status in RC
onb() {
    local name=$1
    shift
    RC=0
    "$CHECK" -c "$conf" "$@" > "$WT/$name.out" 2> "$WT/$name.err" || RC=$?
}

# line NAME PATTERN - the output NAME has a line matching PATTERN (grep -E)
line() {
    grep -E -- "$2" "$WT/$1.out" || { sed 's/^/#   /' "$WT/$1.out" "$WT/$1.err"; return 1; }
}

it_plan 55

onb good --domain good.test --selector c1 --key "$ckey" --bounce-domain bounces.good.test
it_check "good: exit 0" test "$RC" = 0
it_check "good: DKIM published, compared with the key" \
    line good '^OK +DKIM c1\._domainkey +published: rsa 1024-bit'
it_check "good: SPF includes the platform" line good "^OK +SPF platform +includes _spf\.$P"
it_check "good: per-include lookup breakdown" line good "^OK +SPF +1 of 10 DNS lookups.*$INC 1"
it_check "good: bounce CNAME at the platform's host" \
    line good '^OK +bounce bounces\.good\.test +CNAME bounce\.platform\.test'
it_check "good: SPF and DKIM align" line good '^OK +DMARC alignment +SPF: bounce domain bounces\.good\.test aligns.*d=good\.test aligns'
it_check "good: Gmail/Yahoo line OK" \
    line good '^OK +Gmail/Yahoo bulk sender +SPF yes, DKIM yes, DMARC yes, alignment possible'
it_check "good: no WARN or FAIL" it_nomatch grep -qE '^(WARN|FAIL)' "$WT/good.out"

onb aspfs --domain aspfs.test --bounce-domain 'bounces.%d'
it_check "aspf=s with a bounce subdomain: FAIL, can never align" \
    line aspfs '^FAIL DMARC alignment +SPF: aspf=s with bounce domain bounces\.aspfs\.test: strict SPF alignment can never hold'
it_check "aspf=s: exit 1" test "$RC" = 1
it_check "no selector given: DKIM WARN" line aspfs '^WARN DKIM +no selector given'

onb adkims --domain shop.platform.test
it_check "adkim=s with d=platform: FAIL, cannot align" \
    line adkims "^FAIL DMARC alignment .*adkim=s: the platform's d=platform\.test cannot align"

onb nospf --domain nospf.test --bounce-domain bounces.nospf.test
it_check "SPF without the platform: FAIL naming the include" \
    line nospf "^FAIL SPF platform +does not include _spf\.$P"
it_check "SPF without the platform: bulk-sender line FAIL" \
    line nospf '^FAIL Gmail/Yahoo bulk sender +SPF NO'

onb nodmarc --domain nodmarc.test --bounce-domain bounces.nodmarc.test
it_check "no DMARC record: FAIL (bulk-sender rules)" \
    line nodmarc '^FAIL DMARC _dmarc +no DMARC record: Gmail and Yahoo require one'
it_check "no DMARC record: bulk-sender line says DMARC NO" \
    line nodmarc '^FAIL Gmail/Yahoo bulk sender .*DMARC NO'

onb ptr --domain ptr.test --bounce-domain bounces.ptr.test
it_check "ptr: WARN naming the record" line ptr '^WARN SPF +2 of 10 DNS lookups; ptr in ptr\.test'
it_check "p=none: WARN, monitoring only" line ptr '^WARN DMARC _dmarc +p=none, monitoring only'
it_check "no rua=: WARN" line ptr '^WARN DMARC reports +no rua='

onb rua3p --domain rua3p.test --bounce-domain bounces.rua3p.test
it_check "rua at a third party without authorisation: FAIL naming the record" \
    line rua3p '^FAIL DMARC reports +rua at reports\.test: no authorisation record rua3p\.test\._report\._dmarc\.reports\.test'
onb ruaok --domain ruaok.test --bounce-domain bounces.ruaok.test
it_check "rua at a third party with authorisation: OK" \
    line ruaok '^OK +DMARC reports +rua at reports\.test: authorised by ruaok\.test\._report\._dmarc\.reports\.test'

onb spf11 --domain spf11.test
it_check "11 lookups: FAIL" line spf11 '^FAIL SPF +11 of 10 DNS lookups'
it_check "11 lookups: names the include to flatten and its cost" \
    line spf11 'flatten include:big\.spf11\.test \(9 lookups\)'
it_check "11 lookups: the per-term breakdown" \
    line spf11 "per term: $INC 1, include:big\.spf11\.test 9, a 1"

onb fan --domain fan.test
it_check "include fan-out: stops counting, FAIL (no endless walk)" \
    line fan '^FAIL SPF +at least [0-9]+ of 10 DNS lookups'

onb bouncex --domain bouncex.test --bounce-domain b2.bouncex.test
it_check "bounce CNAME elsewhere: FAIL naming the target" \
    line bouncex '^FAIL bounce b2\.bouncex\.test +CNAME points at mail\.elsewhere\.test, not at the platform'
onb bouncemx --domain bouncemx.test --bounce-domain b.bouncemx.test
it_check "bounce MX at the platform: OK" line bouncemx '^OK +bounce b\.bouncemx\.test +MX at the platform'
it_check "bounce SPF including the platform: OK" line bouncemx '^OK +bounce SPF b\.bouncemx\.test'
onb bouncemx2 --domain bouncemx.test --bounce-domain c.bouncemx.test
it_check "bounce MX elsewhere: FAIL naming it" \
    line bouncemx2 '^FAIL bounce c\.bouncemx\.test +MX points at mx\.other\.test'
onb bouncehost --domain good.test --bounce-domain bounces.good.test --bounce-host mx.platform.test
it_check "--bounce-host: a CNAME at another platform host is a FAIL" \
    line bouncehost '^FAIL bounce bounces\.good\.test +CNAME points at bounce\.platform\.test'

# --problems-only: only WARN and FAIL lines; a clean domain prints nothing
onb prob --problems-only --selector c1 --bounce-domain 'bounces.%d' \
    --domain good.test --domain ptr.test
it_check "--problems-only: no OK line" it_nomatch grep -qE '^OK ' "$WT/prob.out"
it_check "--problems-only: the clean domain is not shown" \
    it_nomatch grep -q '^== good\.test' "$WT/prob.out"
it_check "--problems-only: the WARN of ptr.test is shown" line prob '^WARN SPF .*ptr in ptr\.test'

# --json: one document, each check with status, detail and records
onb json --json good.test nodmarc.test rua3p.test --bounce-domain 'bounces.%d'
json_ok() {
    "$IT_PY" - "$WT/json.out" <<'EOF'
import json, sys
doc = json.load(open(sys.argv[1]))
d = {x["domain"]: x for x in doc["domains"]}
assert list(d) == ["good.test", "nodmarc.test", "rua3p.test"], list(d)
chk = lambda dom, name: [c for c in d[dom]["checks"] if c["check"] == name]
assert chk("nodmarc.test", "dmarc")[0]["status"] == "FAIL"
assert d["nodmarc.test"]["status"] == "FAIL"
assert chk("rua3p.test", "reports")[0]["status"] == "FAIL"
assert "reports.test" in chk("rua3p.test", "reports")[0]["detail"]
spf = chk("good.test", "spf")[0]
assert spf["status"] == "OK" and spf["records"][0] == 'good.test TXT "v=spf1 include:_spf.platform.test -all"', spf
assert '_spf.platform.test TXT "v=spf1 ip4:192.0.2.0/24 -all"' in spf["records"], spf
b = chk("good.test", "bounce")[0]
assert b["records"] == ["bounces.good.test CNAME bounce.platform.test."], b
for x in doc["domains"]:
    for c in x["checks"]:
        assert c["status"] in ("OK", "WARN", "FAIL") and c["detail"], c
assert doc["summary"]["domains"] == 3 and doc["summary"]["checks"]["dmarc"]["FAIL"] == 1
print("# json ok:", doc["summary"])
EOF
}
it_check "--json: one document, parsed by python; statuses, details, records" json_ok
it_check "--json: exit 1 (a FAIL among them)" test "$RC" = 1

# a list of 200 domains in parallel, and a list with a bad line
t0=$(date +%s%N)
onb batch --domains "$WT/batch.list" --jobs 32 --problems-only
t1=$(date +%s%N)
echo "# 200 domains in $(((t1 - t0) / 1000000)) ms"
it_check "list of 200: summary counts the domains" \
    line batch '^== summary: 200 domains: 0 OK, 0 WARN, 200 FAIL; [0-9]+ DNS queries'
it_check "list of 200: DMARC OK for the 100 even, FAIL for the 100 odd" \
    line batch '^summary dmarc +OK 100 WARN 0 FAIL 100$'
it_check "list of 200: the platform include found in every SPF" \
    line batch '^summary spf_platform +OK 200 WARN 0 FAIL 0$'
queries=$(sed -n 's/^== summary: .*; \([0-9]*\) DNS queries$/\1/p' "$WT/batch.out")
it_check "list of 200: at most 12 queries a domain ($queries)" test "${queries:-99999}" -le 2400
it_check "list of 200: output in input order" \
    sh -c "grep '^== c' '$WT/batch.out' | head -3 | tr '\n' ' ' | grep -q '== c1.batch.test == c2.batch.test == c3.batch.test'"

printf 'good.test selector=c1 bounce=bounces.good.test\nbad..name\n# comment\nptr.test bogus=1\n' > "$WT/mixed.list"
onb mixed --domains - < "$WT/mixed.list"
it_check "list from stdin: selector= and bounce= taken" \
    line mixed '^OK +bounce bounces\.good\.test'
it_check "list: a bad name is a FAIL line, not a crash" \
    line mixed '^FAIL domain +not a domain name'
it_check "list: an unknown word is named" line mixed 'unknown word "bogus=1"'
it_check "list: summary of 3 domains" line mixed '^== summary: 3 domains'

# keygen's batch, checked through DNS
it_check "keygen --domains --json --cname-target: exit 0" test "$KG_RC" = 0
it_check "keygen: -D created with mode 0700, each domain's directory too" \
    sh -c "[ \"\$(stat -c %a '$KD' '$KD/deleg.test')\" = '700
700' ]"
it_check "keygen: keys laid out as key_dir/DOMAIN/SELECTOR.pem (0600)" \
    test "$(stat -c %a "$KD/second.test/s1.pem")" = 600
kg_json_ok() {
    "$IT_PY" - "$WT/kg.json" "$KD" <<'EOF'
import json, sys
doc = json.load(open(sys.argv[1]))
assert doc["failed"] == 0 and doc["errors"] == [], doc
assert [k["domain"] for k in doc["keys"]] == ["deleg.test", "second.test"]
k = doc["keys"][1]
assert k["key_file"] == sys.argv[2] + "/second.test/s1.pem", k
assert k["conf_line"] == "key = s1" and k["type"] == "ed25519", k
assert k["cname"]["name"] == "s1._domainkey.second.test.", k
assert k["cname"]["target"] == "s1.second.test.dkim.platform.test.", k
assert k["txt"]["name"] == k["cname"]["target"] and k["txt"]["value"].startswith("v=DKIM1; k=ed25519; p="), k
EOF
}
it_check "keygen --json: one document, CNAME target and TXT name agree" kg_json_ok
onb deleg --domain deleg.test --selector s1 --key "$KD/deleg.test/s1.pem"
it_check "the CNAME-delegated key record is published (check through the CNAME)" \
    line deleg '^OK +DKIM s1\._domainkey +published: ed25519 256-bit key'

onb kdlist --domains "$WT/kg.list" --selector s1
it_check "a list with --selector: keygen's key found in key_dir/DOMAIN/SELECTOR.pem, compared" \
    line kdlist '^OK +DKIM s1\._domainkey +published: ed25519 256-bit key; .*p= matches'

# --all: every block of the conf, with its keys and bounce domain
onb all --all --problems-only
it_check "--all: both blocks checked, summary of 2" line all '^== summary: 2 domains'
it_check "--all: the block's bounce domain is checked" \
    line all '^FAIL bounce bounces\.fan\.test +neither MX nor CNAME'
onb legacyfan fan.test
it_check "old output: the include fan-out ends too (FAIL, include loop)" \
    line legacyfan '^FAIL SPF +.*include loop'

# the conf's own domains keep their old output without the new options
onb legacy $P
it_check "without the new options: the old output for a conf domain" \
    line legacy "^OK +DKIM p1\._domainkey +published: ed25519"

it_check "no sanitizer report or crash in any run's stderr" \
    it_nomatch grep -l -E 'Sanitizer|runtime error|Segmentation' "$WT"/*.err

it_done
