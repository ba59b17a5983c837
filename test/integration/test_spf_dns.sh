#!/usr/bin/env bash
# test_spf_dns.sh - the resolver (milter/base/dns.c) and the SPF checks
# (milter/auth/spf.c) against knotd serving test/zones/spf.test.zone on loopback,
# driven by test/tools/spfcheck; SPF results, of the MAIL FROM and of the
# HELO identity, cross-checked with Debian's pyspf (python3-spf) asking the
# same server. No Postfix, no milter: the message-level SPF tests live with
# the daemon's tests. A run of spfcheck that does not exit 0 is a failure
# whatever it printed.
#
# Output is TAP. Environment: see lib.sh; SPFCHECK overrides the driver.
# Nothing leaves 127.0.0.1: every query goes to our knotd, or to a
# loopback port where nothing listens (the "dead" server).
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

it_init spf_dns
SPFCHECK=${SPFCHECK:-$BUILD_DIR/test/tools/spfcheck}
it_require "$SPFCHECK"
"$IT_PY" -c 'import spf, dns.resolver' 2> /dev/null || {
    echo "Bail out! pyspf missing: install the Debian package python3-spf"
    exit 1
}
# A record whose one term overflows the compile buffer of Debian 12's
# libspf2 1.2.10 (upstream fix d14abff: 127 macros, then a long literal);
# built here because it is 3.5 kB (the answer needs TCP).
bigterm="v=spf1 exists:$(printf '%%{d}%.0s' $(seq 127))$(printf 'y%.0s' $(seq 3000)) -all"
it_zone_add spf.test "bigterm 300 IN TXT ( $(echo "$bigterm" | fold -w 250 |
    sed 's/.*/"&"/' | tr '\n' ' ') )"
it_dns_start || { echo "Bail out! knotd did not start"; exit 1; }
SRV=127.0.0.1@$IT_DNS_PORT

# a loopback UDP port nothing listens on
DEAD_PORT=${IT_DEAD_PORT:-}
it_free_port DEAD_PORT
DEAD=127.0.0.1@$DEAD_PORT

# now_ms - monotonic-enough wall clock in milliseconds
now_ms() {
    date +%s%3N
}

# spf_at SERVER ARGS... - spfcheck against SERVER; output in
# $IT_DIR/tmp/spf.out and spf.err, exit status in SPF_RC
spf_at() {
    local srv=$1
    shift
    SPF_RC=0
    "$SPFCHECK" -s "$srv" "$@" > "$IT_DIR/tmp/spf.out" 2> "$IT_DIR/tmp/spf.err" || SPF_RC=$?
    [ "$SPF_RC" = 0 ] || echo "spfcheck exit $SPF_RC" >> "$IT_DIR/tmp/spf.err"
}

# spf_run - spfcheck against our server
spf_run() {
    spf_at "$SRV" "$@"
}

# spf_expect - NAME: client IP, MAIL FROM, HELO give mailfrom=MF (and
# helo=HELO_RES unless "-")
spf_expect() {
    local name=$1 ip=$2 from=$3 helo=$4 mf=$5 hr=$6 got want
    spf_run -i "$ip" -f "$from" -h "$helo"
    got=$(head -n 1 "$IT_DIR/tmp/spf.out")
    [ "$SPF_RC" = 0 ] || got="exit status $SPF_RC"
    want="mailfrom=$mf"
    [ "$hr" = - ] || want="$want helo=$hr"
    case "$got" in
        "$want"|"$want "*) it_ok "$name ($want)" ;;
        *)
            sed 's/^/#   /' "$IT_DIR/tmp/spf.out" "$IT_DIR/tmp/spf.err"
            it_fail "$name" "expected $want, got '$got'"
            ;;
    esac
}

# spf_out_has - the last spfcheck exited 0 and its output has a line
# matching the ERE
spf_out_has() {
    [ "$SPF_RC" = 0 ] && grep -Eq -- "$1" "$IT_DIR/tmp/spf.out"
}

# ---------------------------------------------------------------- SPF
# name | client | MAIL FROM | HELO | mailfrom | helo | pyspf should agree
# (on both identities; the HELO one where a helo result is given)
SCENARIOS=$(cat <<'EOF'
pass|192.0.2.10|user@pass.spf.test|helo.spf.test|pass|pass|y
fail|192.0.2.99|user@pass.spf.test|helo.spf.test|fail|fail|y
softfail|192.0.2.99|user@softfail.spf.test|helo.spf.test|softfail|fail|y
neutral (?all)|192.0.2.99|user@neutral.spf.test|helo.spf.test|neutral|-|y
neutral (no all)|192.0.2.99|user@fallthrough.spf.test|helo.spf.test|neutral|-|y
none (no SPF record)|192.0.2.10|user@nospf.spf.test|helo.spf.test|none|pass|y
none (NXDOMAIN)|192.0.2.10|user@nx.spf.test|helo.spf.test|none|-|y
none (MAIL FROM not a domain)|192.0.2.10|user@localhost|helo.spf.test|none|pass|n
permerror (bad ip4)|192.0.2.10|user@syntax.spf.test|helo.spf.test|permerror|-|y
permerror (unknown mechanism)|192.0.2.10|user@unknownmech.spf.test|helo.spf.test|permerror|-|y
permerror (two records)|192.0.2.10|user@twice.spf.test|helo.spf.test|permerror|-|y
temperror (SERVFAIL in include)|192.0.2.10|user@tempinc.spf.test|helo.spf.test|temperror|pass|y
temperror (SERVFAIL in a)|192.0.2.10|user@tempa.spf.test|helo.spf.test|temperror|-|y
record in several strings|192.0.2.10|user@split.spf.test|helo.spf.test|pass|-|y
version tag in capitals|192.0.2.10|user@upper.spf.test|helo.spf.test|pass|-|y
ip4 cidr pass|192.0.2.10|user@ip4cidr.spf.test|helo.spf.test|pass|-|y
ip4 cidr fail|192.0.2.99|user@ip4cidr.spf.test|helo.spf.test|fail|-|y
ip6 pass (IPv6 client)|2001:db8::10|user@ip6.spf.test|helo.spf.test|pass|fail|y
ip6 fail (IPv6 client)|2001:db8:1::10|user@ip6.spf.test|helo.spf.test|fail|-|y
ip6 against an IPv4 client|192.0.2.10|user@ip6.spf.test|helo.spf.test|fail|-|y
a pass|192.0.2.10|user@a.spf.test|helo.spf.test|pass|-|y
a pass (AAAA, IPv6 client)|2001:db8::10|user@a.spf.test|helo.spf.test|pass|-|y
a fail|192.0.2.99|user@a.spf.test|helo.spf.test|fail|-|y
a:host/30 pass|192.0.2.10|user@aname.spf.test|helo.spf.test|pass|-|y
mx pass (second MX)|192.0.2.10|user@mx.spf.test|helo.spf.test|pass|-|y
mx pass (first MX)|192.0.2.20|user@mx.spf.test|helo.spf.test|pass|-|y
mx pass (IPv6 client)|2001:db8::10|user@mx.spf.test|helo.spf.test|pass|-|y
mx fail|192.0.2.99|user@mx.spf.test|helo.spf.test|fail|-|y
include pass|192.0.2.10|user@include.spf.test|helo.spf.test|pass|-|y
include fail|192.0.2.99|user@include.spf.test|helo.spf.test|fail|-|y
include of a neutral record does not match|192.0.2.99|user@includefail.spf.test|helo.spf.test|fail|-|y
include of a domain without SPF is permerror|192.0.2.10|user@includenone.spf.test|helo.spf.test|permerror|-|y
redirect pass|192.0.2.10|user@redirect.spf.test|helo.spf.test|pass|-|y
redirect fail|192.0.2.99|user@redirect.spf.test|helo.spf.test|fail|-|y
redirect softfail|192.0.2.99|user@redirectsoft.spf.test|helo.spf.test|softfail|-|y
exists pass (macro)|192.0.2.10|user@exists.spf.test|helo.spf.test|pass|-|y
exists fail|192.0.2.99|user@exists.spf.test|helo.spf.test|fail|-|y
record behind a CNAME|192.0.2.10|user@cname.spf.test|helo.spf.test|pass|-|y
exp= does not change fail|192.0.2.99|user@exp.spf.test|helo.spf.test|fail|-|y
10 DNS terms are fine|192.0.2.10|user@lim10.spf.test|helo.spf.test|pass|-|y
11 includes are permerror|192.0.2.10|user@lim11.spf.test|helo.spf.test|permerror|-|y
11 terms across includes are permerror|192.0.2.10|user@nested.spf.test|helo.spf.test|permerror|-|y
10 terms across includes are fine|192.0.2.10|user@nested10.spf.test|helo.spf.test|pass|-|y
MX address lookups are not terms|192.0.2.10|user@mx10.spf.test|helo.spf.test|pass|-|y
more than 10 MX names are permerror|192.0.2.10|user@mx11.spf.test|helo.spf.test|permerror|-|y
2 void lookups are fine|192.0.2.10|user@void2.spf.test|helo.spf.test|pass|-|y
3 void lookups are permerror|192.0.2.10|user@void3.spf.test|helo.spf.test|permerror|-|y
3 void MX address lookups are permerror|192.0.2.10|user@voidmx.spf.test|helo.spf.test|permerror|-|y
include of itself is permerror|192.0.2.10|user@loop.spf.test|helo.spf.test|permerror|-|y
include loop is permerror|192.0.2.10|user@loop1.spf.test|helo.spf.test|permerror|-|y
redirect loop is permerror|192.0.2.10|user@redirloop.spf.test|helo.spf.test|permerror|-|y
null sender uses postmaster@HELO (pass)|192.0.2.10||helo.spf.test|pass|pass|y
null sender uses postmaster@HELO (fail)|192.0.2.99|<>|helo.spf.test|fail|fail|y
null sender, HELO an address literal|192.0.2.10|<>|[192.0.2.10]|none|none|n
HELO checked on its own|192.0.2.10|user@pass.spf.test|badhelo.spf.test|pass|fail|y
HELO without a record|192.0.2.10|user@pass.spf.test|nx.spf.test|pass|none|y
loopback client gets no free pass|127.0.0.1|user@pass.spf.test|helo.spf.test|fail|fail|y
IPv4-mapped IPv6 client is IPv4|::ffff:192.0.2.10|user@pass.spf.test|helo.spf.test|pass|pass|n
Sendmail IPv6: prefix|IPv6:2001:db8::10|user@ip6.spf.test|helo.spf.test|pass|-|n
path with brackets and source route|192.0.2.10|<@relay.example:user@pass.spf.test>|helo.spf.test|pass|-|n
MAIL FROM domain with a trailing dot|192.0.2.10|user@pass.spf.test.|helo.spf.test|pass|-|n
EOF
)

# The plan: one check per scenario, one per pyspf comparison (MAIL FROM,
# and HELO where the helo column says something), and 34 others.
it_plan $(($(grep -c . <<< "$SCENARIOS") + $(awk -F'|' '$7 == "y" { n++ }
    $7 == "y" && $6 != "-" { n++ } END { print n + 34 }' <<< "$SCENARIOS")))

PY_IN=$IT_DIR/tmp/pyspf.in
: > "$PY_IN"
while IFS='|' read -r name ip from helo mf hr py; do
    spf_expect "spf: $name" "$ip" "$from" "$helo" "$mf" "$hr"
    [ "$py" = y ] && printf '%s|%s|%s|%s|%s|%s\n' "$name" "$ip" "$from" "$helo" "$mf" "$hr" >> "$PY_IN"
done <<< "$SCENARIOS"

# explanations
spf_run -i 192.0.2.10 -f user@pass.spf.test -h helo.spf.test
if spf_out_has '^mailfrom-comment: domain of user@pass.spf.test designates 192.0.2.10 as permitted sender$' &&
   spf_out_has '^mailfrom-identity: user@pass.spf.test$' &&
   spf_out_has '^mailfrom-domain: pass.spf.test$'; then
    it_ok "spf: pass explanation, identity and domain"
else
    sed 's/^/#   /' "$IT_DIR/tmp/spf.out"; it_fail "spf: pass explanation, identity and domain"
fi
spf_run -i 192.0.2.10 -f user@nested.spf.test -h helo.spf.test
if spf_out_has '^mailfrom-comment: .*more than 10 DNS-querying terms' &&
   spf_out_has '^lookups: 11 '; then
    it_ok "spf: term limit stops after 10 terms and says so"
else
    sed 's/^/#   /' "$IT_DIR/tmp/spf.out"; it_fail "spf: term limit stops after 10 terms and says so"
fi
spf_run -i 192.0.2.10 -f user@void3.spf.test -h helo.spf.test
if spf_out_has '^mailfrom-comment: .*more than 2 void DNS lookups'; then
    it_ok "spf: void limit explained"
else
    sed 's/^/#   /' "$IT_DIR/tmp/spf.out"; it_fail "spf: void limit explained"
fi
spf_run -i 192.0.2.10 -f user@syntax.spf.test -h helo.spf.test
if spf_out_has "^mailfrom-comment: permanent error .*192\.0\.2\.300"; then
    it_ok "spf: permerror names the bad term"
else
    sed 's/^/#   /' "$IT_DIR/tmp/spf.out"; it_fail "spf: permerror names the bad term"
fi
spf_run -i 192.0.2.10 -f "" -h helo.spf.test
if spf_out_has '^mailfrom-identity: postmaster@helo.spf.test$'; then
    it_ok "spf: null sender identity is postmaster@HELO"
else
    sed 's/^/#   /' "$IT_DIR/tmp/spf.out"; it_fail "spf: null sender identity is postmaster@HELO"
fi
spf_run -n -i 192.0.2.10 -f user@pass.spf.test -h helo.spf.test
if spf_out_has '^mailfrom=pass helo=none$' && spf_out_has '^lookups: 1 0$'; then
    it_ok "spf: HELO check can be switched off"
else
    sed 's/^/#   /' "$IT_DIR/tmp/spf.out"; it_fail "spf: HELO check can be switched off"
fi

spf_run -E libspf2 -i 192.0.2.10 -f user@bigterm.spf.test -h helo.spf.test
if spf_out_has '^mailfrom=permerror ' && spf_out_has 'has a term over 200 characters'; then
    it_ok "spf (libspf2): a record term long enough to overflow libspf2 is refused"
else
    sed 's/^/#   /' "$IT_DIR/tmp/spf.out" "$IT_DIR/tmp/spf.err"
    it_fail "spf (libspf2): a record term long enough to overflow libspf2 is refused"
fi
spf_run -i 192.0.2.10 -f user@bigterm.spf.test -h helo.spf.test
if spf_out_has '^mailfrom=permerror '; then
    it_ok "spf (builtin): the same record is permerror"
else
    sed 's/^/#   /' "$IT_DIR/tmp/spf.out" "$IT_DIR/tmp/spf.err"
    it_fail "spf (builtin): the same record is permerror"
fi

# Received-SPF
spf_run -i 192.0.2.10 -f user@pass.spf.test -h helo.spf.test
want='received-spf: pass (mx.test.example: domain of user@pass.spf.test designates 192.0.2.10 as permitted sender) client-ip=192.0.2.10; envelope-from="user@pass.spf.test"; helo=helo.spf.test; receiver=mx.test.example; identity=mailfrom;'
if grep -qxF "$want" "$IT_DIR/tmp/spf.out"; then
    it_ok "received-spf: RFC 7208 9.1 form"
else
    sed 's/^/#   /' "$IT_DIR/tmp/spf.out"; it_fail "received-spf: RFC 7208 9.1 form"
fi
spf_run -i 2001:db8::10 -f user@ip6.spf.test -h helo.spf.test
if spf_out_has '^received-spf: pass .* client-ip="2001:db8::10";'; then
    it_ok "received-spf: an IPv6 client-ip is quoted"
else
    sed 's/^/#   /' "$IT_DIR/tmp/spf.out"; it_fail "received-spf: an IPv6 client-ip is quoted"
fi
spf_run -i 192.0.2.10 -f $'us"er\r\nX-Injected: 1@pass.spf.test' \
    -h $'helo.spf.test\r\nX-Injected: (2)'
if [ "$(grep -c . "$IT_DIR/tmp/spf.out")" -eq 8 ] &&
   ! grep -q '^X-Injected' "$IT_DIR/tmp/spf.out" &&
   spf_out_has '^received-spf: [a-z]+ \(mx.test.example: .*\) client-ip=192.0.2.10; envelope-from="us\\"erX-Injected: 1@pass.spf.test"; helo="helo.spf.testX-Injected: \(2\)"; '; then
    it_ok "received-spf: CR/LF and quotes from the input cannot break the field"
else
    sed 's/^/#   /' "$IT_DIR/tmp/spf.out"
    it_fail "received-spf: CR/LF and quotes from the input cannot break the field"
fi

# a dead server: temperror, within the deadline, both identities
t0=$(now_ms)
spf_at "$DEAD" -t 500 -i 192.0.2.10 -f user@pass.spf.test -h helo.spf.test
t=$(($(now_ms) - t0))
if spf_out_has '^mailfrom=temperror helo=temperror$' && [ "$t" -lt 2500 ]; then
    it_ok "spf: unreachable DNS server is temperror (${t} ms for 2 x 500 ms)"
else
    sed 's/^/#   /' "$IT_DIR/tmp/spf.out" "$IT_DIR/tmp/spf.err"
    it_fail "spf: unreachable DNS server is temperror" "exit $SPF_RC after ${t} ms"
fi
# the time budget cuts a slow evaluation short
t0=$(now_ms)
spf_at "$DEAD" -t 5000 -b 400 -n -i 192.0.2.10 -f user@pass.spf.test -h helo.spf.test
t=$(($(now_ms) - t0))
if spf_out_has '^mailfrom=temperror' && spf_out_has 'took over 400 ms' && [ "$t" -lt 1500 ]; then
    it_ok "spf: time budget exceeded is temperror (${t} ms for a 400 ms budget)"
else
    sed 's/^/#   /' "$IT_DIR/tmp/spf.out" "$IT_DIR/tmp/spf.err"
    it_fail "spf: time budget exceeded is temperror" "after ${t} ms"
fi

# one budget for the message: MAIL FROM and HELO together (each had its
# own before, so an MTA waiting 30 s for the MAIL reply could wait 40 s)
t0=$(now_ms)
spf_at "$DEAD" -t 1500 -b 2000 -i 192.0.2.10 -f user@pass.spf.test -h helo.spf.test
t=$(($(now_ms) - t0))
if spf_out_has '^mailfrom=temperror helo=temperror$' \
    && spf_out_has '^helo-comment: .*SPF checks of this message took over 2000 ms' \
    && [ "$t" -lt 2800 ]; then
    it_ok "spf: MAIL FROM and HELO share one 2000 ms budget (${t} ms, was 2 x 1500)"
else
    sed 's/^/#   /' "$IT_DIR/tmp/spf.out" "$IT_DIR/tmp/spf.err"
    it_fail "spf: MAIL FROM and HELO share one budget" "after ${t} ms"
fi
# the budget spent on MAIL FROM: HELO is not even started
t0=$(now_ms)
spf_at "$DEAD" -t 5000 -b 600 -i 192.0.2.10 -f user@pass.spf.test -h helo.spf.test
t=$(($(now_ms) - t0))
if spf_out_has '^mailfrom=temperror helo=temperror$' \
    && spf_out_has '^helo-comment: not evaluated: SPF checks of this message took over 600 ms' \
    && [ "$t" -lt 1100 ]; then
    it_ok "spf: budget spent at MAIL FROM leaves HELO unevaluated (${t} ms for 600 ms)"
else
    sed 's/^/#   /' "$IT_DIR/tmp/spf.out" "$IT_DIR/tmp/spf.err"
    it_fail "spf: budget spent at MAIL FROM leaves HELO unevaluated" "after ${t} ms"
fi

# ---------------------------------------------------------------- pyspf
cat > "$IT_DIR/tmp/pyspf_check.py" <<'EOF'
# pyspf_check.py PORT < name|ip|from|helo|mailfrom|helo-result: pyspf's
# results, "name|identity|expected|pyspf's", for the MAIL FROM identity and,
# unless helo-result is "-", for the HELO identity (RFC 7208 2.3: the HELO
# domain checked with the sender postmaster@HELO)
import sys
import dns.resolver
import spf

r = dns.resolver.Resolver(configure=False)
r.nameservers = ['127.0.0.1']
r.port = int(sys.argv[1])
dns.resolver.default_resolver = r
for line in sys.stdin:
    name, ip, sender, helo, want, want_helo = line.rstrip('\n').split('|')
    if sender == '<>':
        sender = ''
    res, _ = spf.check2(i=ip, s=sender, h=helo, querytime=20)
    print('%s|MAIL FROM|%s|%s' % (name, want, res))
    if want_helo != '-':
        res, _ = spf.check2(i=ip, s='postmaster@' + helo, h=helo, querytime=20)
        print('%s|HELO|%s|%s' % (name, want_helo, res))
EOF
if "$IT_PY" "$IT_DIR/tmp/pyspf_check.py" "$IT_DNS_PORT" < "$PY_IN" \
        > "$IT_DIR/tmp/pyspf.out" 2> "$IT_DIR/tmp/pyspf.err"; then
    while IFS='|' read -r name id want got; do
        if [ "$want" = "$got" ]; then
            it_ok "pyspf agrees on $id: $name ($got)"
        else
            it_fail "pyspf agrees on $id: $name" "we say $want, pyspf says $got"
        fi
    done < "$IT_DIR/tmp/pyspf.out"
else
    sed 's/^/#   /' "$IT_DIR/tmp/pyspf.err" | tail -n 20
    it_fail "pyspf cross-check ran"
fi

# ---------------------------------------------------------------- DNS
# dns_expect - NAME: query QNAME/TYPE gives a first line matching the ERE
# and, if given, a record line equal to RECORD
dns_expect() {
    local name=$1 q=$2 type=$3 re=$4 rec=${5:-}
    spf_run -q "$q" -y "$type"
    if [ "$SPF_RC" = 0 ] && head -n 1 "$IT_DIR/tmp/spf.out" | grep -Eq -- "$re" &&
       { [ -z "$rec" ] || grep -qxF -- "$rec" "$IT_DIR/tmp/spf.out"; }; then
        it_ok "dns: $name"
    else
        sed 's/^/#   /' "$IT_DIR/tmp/spf.out" "$IT_DIR/tmp/spf.err"
        it_fail "dns: $name"
    fi
}
dns_expect "TXT answer" pass.spf.test TXT '^status=ok n=1 ' 'v=spf1 ip4:192.0.2.10 -all'
dns_expect "TXT character-strings are joined" split.spf.test TXT '^status=ok n=1 ' \
    'v=spf1 ip4:192.0.2.1 ip4:192.0.2.10 -all'
dns_expect "A answer" a.spf.test A '^status=ok n=1 ' '192.0.2.10'
dns_expect "AAAA answer" a.spf.test AAAA '^status=ok n=1 ' '2001:db8::10'
dns_expect "CNAME is followed" cname.spf.test TXT '^status=ok n=1 ' 'v=spf1 ip4:192.0.2.10 -all'
dns_expect "NXDOMAIN" nx.spf.test A '^status=nxdomain n=0 .*rcode=3 '
dns_expect "NODATA" nodata.spf.test A '^status=nodata n=0 .*rcode=0 '
dns_expect "SERVFAIL is tempfail" x.unserved.test TXT '^status=tempfail n=0 '
dns_expect "unsigned answer is not secure" pass.spf.test TXT ' secure=0 '

t0=$(now_ms)
spf_at "$DEAD" -t 700 -q pass.spf.test
t=$(($(now_ms) - t0))
if spf_out_has '^status=tempfail ' && [ "$t" -ge 650 ] && [ "$t" -lt 1700 ]; then
    it_ok "dns: dead server times out at the deadline (${t} ms for 700 ms)"
else
    sed 's/^/#   /' "$IT_DIR/tmp/spf.out" "$IT_DIR/tmp/spf.err"
    it_fail "dns: dead server times out at the deadline" "${t} ms"
fi
it_check "dns: 8 threads x 200 queries, all answers right" \
    "$SPFCHECK" -s "$SRV" -S 8:200
if grep -q '^stress: 1600 queries, 0 wrong, 0 tempfail' "$IT_CHECK_OUT"; then
    it_ok "dns: concurrent queries never time out against a live server"
else
    sed 's/^/#   /' "$IT_CHECK_OUT"; it_fail "dns: concurrent queries never time out against a live server"
fi
it_check "dns: answers racing 1-3 ms deadlines and cancels (8 x 300)" \
    "$SPFCHECK" -s "$SRV" -R 8:300
it_check "dns: many threads on a dead server, all tempfail, no crash" \
    "$SPFCHECK" -s "$DEAD" -t 300 -R 8:10
it_check "spf: 8 threads x 200 checks share one checker, all results right" \
    "$SPFCHECK" -s "$SRV" -P 8:200

# ---------------------------------------------------------------- DNSSEC
# A second knotd signs sec.test itself (lib.sh's serves unsigned zones);
# its KSK is the trust anchor, a mangled copy of it an anchor that fails.
SEC_PORT=${IT_SEC_PORT:-}
it_free_port SEC_PORT
SEC=$IT_DIR/knot-sec
mkdir -p "$SEC"/{zones,run,db,kasp}
cat > "$SEC/zones/sec.test.zone" <<'EOF'
$ORIGIN sec.test.
$TTL 300
@       SOA     ns1.sec.test. hostmaster.sec.test. ( 1 3600 600 86400 300 )
        NS      ns1.sec.test.
ns1     A       127.0.0.1
pass    TXT     "v=spf1 ip4:192.0.2.10 -all"
EOF
cat > "$SEC/knot.conf" <<EOF
server:
    rundir: "$SEC/run"
    listen: 127.0.0.1@$SEC_PORT
log:
  - target: "$IT_DIR/log/knot-sec.log"
    any: info
database:
    storage: "$SEC/db"
    kasp-db: "$SEC/kasp"
template:
  - id: default
    storage: "$SEC/zones"
    file: "%s.zone"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
    dnssec-signing: on
zone:
  - domain: sec.test
EOF
it__bg knotsec "$IT_DIR/log/knot-sec.log" knotd -c "$SEC/knot.conf"
# shellcheck disable=SC2317  # called through it_wait_for
sec_ready() {
    kdig @127.0.0.1 -p "$SEC_PORT" +time=1 +retry=0 +short DNSKEY sec.test | grep -q '^257 '
}
if it_wait_for 15 sec_ready; then
    kdig @127.0.0.1 -p "$SEC_PORT" +short DNSKEY sec.test |
        awk '$1 == 257 { print "sec.test. 300 IN DNSKEY " $0 }' > "$SEC/ta.key"
    # the same key with its last bytes changed: no signature verifies
    sed 's/.\{12\}==$/AAAAAAAAAAAA==/' "$SEC/ta.key" > "$SEC/bad.key"
    spf_at "127.0.0.1@$SEC_PORT" -a "$SEC/ta.key" -q pass.sec.test -y TXT
    if spf_out_has '^status=ok n=1 secure=1 '; then
        it_ok "dnssec: signed answer validates (secure=1)"
    else
        sed 's/^/#   /' "$IT_DIR"/tmp/spf.{out,err}; it_fail "dnssec: signed answer validates"
    fi
    spf_at "127.0.0.1@$SEC_PORT" -a "$SEC/ta.key" -q nx.sec.test -y TXT
    if spf_out_has '^status=nxdomain n=0 secure=1 '; then
        it_ok "dnssec: NXDOMAIN proven (secure=1)"
    else
        sed 's/^/#   /' "$IT_DIR"/tmp/spf.{out,err}; it_fail "dnssec: NXDOMAIN proven"
    fi
    spf_at "127.0.0.1@$SEC_PORT" -a "$SEC/bad.key" -q pass.sec.test -y TXT
    if spf_out_has '^status=bogus ' && grep -q 'DNSSEC bogus' "$IT_DIR"/tmp/spf.{out,err}; then
        it_ok "dnssec: wrong trust anchor gives bogus, logged"
    else
        sed 's/^/#   /' "$IT_DIR"/tmp/spf.{out,err}; it_fail "dnssec: wrong trust anchor gives bogus"
    fi
    spf_at "127.0.0.1@$SEC_PORT" -a "$SEC/bad.key" -n -i 192.0.2.10 \
        -f user@pass.sec.test -h helo.sec.test
    if spf_out_has '^mailfrom=temperror '; then
        it_ok "dnssec: bogus SPF record is temperror"
    else
        sed 's/^/#   /' "$IT_DIR"/tmp/spf.{out,err}; it_fail "dnssec: bogus SPF record is temperror"
    fi
else
    it_fail "dnssec: signing knotd on port $SEC_PORT serves DNSKEY" "see log/knot-sec.log"
fi

it_done
