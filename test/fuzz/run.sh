#!/bin/sh
# run.sh - short libFuzzer runs under ASan+UBSan: the hostile-input parsers
# (From, Authentication-Results, DMARC records, SMTP paths, conf text,
# received aggregate reports: MIME, gzip, zip, XML, DKIM-Signature fields,
# key records and DNS answers), the
# milter protocol engine (what an MTA sends on a connection) and the SPF
# evaluator (records and macros over a fake DNS).
# Needs clang with libFuzzer and a configured build dir (top_builddir):
# `make fuzz-build` there compiles the targets. Prints one TAP line per
# target; a SKIP plan only when clang is not installed; a build failure
# is a failure.
#   FUZZ_SECONDS=20 (default; the parsers and the engine share it, the SPF
#   evaluator gets half of it too)
top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
secs=${FUZZ_SECONDS:-20}
half=$((secs / 2))
[ "$half" -ge 1 ] || half=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# clang missing is the one skip (contrib/deps.sh installs it); targets
# that do not build are a failure, never a skip
if ! command -v clang >/dev/null 2>&1; then
    echo "1..0 # SKIP clang not installed (Debian: clang libclang-rt-14-dev)"
    exit 0
fi
# the build dir's Makefile builds the targets from the library's own source
# list (Makefile.am, fuzz-build), so this script names no source file
fuzz=$top_builddir/test/fuzz/build
if ! make -C "$top_builddir" fuzz-build > "$work/build.log" 2>&1 ||
        [ ! -x "$fuzz/fuzz_parsers" ] || [ ! -x "$fuzz/fuzz_engine" ] ||
        [ ! -x "$fuzz/fuzz_spf" ]; then
    echo "1..1"
    echo "not ok 1 - the fuzz targets do not build (make fuzz-build in $top_builddir)"
    tail -20 "$work/build.log"
    exit 1
fi
for t in fuzz_parsers fuzz_engine fuzz_spf; do
    cp "$fuzz/$t" "$work/"
done

# pkt CMD FORMAT - print one milter packet: length, command, printf'd data
pkt() {
    printf "$2" > "$work/pkt"
    n=$(($(wc -c < "$work/pkt") + 1))
    printf "\\$(printf %o $((n >> 24 & 255)))\\$(printf %o $((n >> 16 & 255)))"
    printf "\\$(printf %o $((n >> 8 & 255)))\\$(printf %o $((n & 255)))%s" "$1"
    cat "$work/pkt"
}

# seed_session - a Postfix session: two messages, QUIT_NC, a second client
seed_session() {
    pkt O '\0\0\0\6\0\0\1\377\0\37\377\377'
    pkt D 'Cj\0mx.example\0{daemon_name}\0smtpd\0'
    pkt C 'client.example\0004\0\031192.0.2.1\0'
    pkt D 'H'
    pkt H 'client.example\0'
    pkt D 'M{auth_authen}\0alice\0{mail_addr}\0a@example.com\0'
    pkt M '<a@example.com>\0SIZE=100\0BODY=8BITMIME\0'
    pkt D 'R{rcpt_addr}\0b@example.net\0'
    pkt R '<b@example.net>\0NOTIFY=NEVER\0'
    pkt D 'Ti\0Q1\0'
    pkt T ''
    pkt D 'L'
    pkt L 'From\0 Alice <a@example.com>\0'
    pkt D 'L'
    pkt L 'Subject\0 100%% sure\0'
    pkt D 'N'
    pkt N ''
    pkt D 'B'
    pkt B 'Hello\r\n'
    pkt D 'E{i}\0Q1\0'
    pkt E 'bye\r\n'
    pkt A ''
    pkt M '<>\0'
    pkt R '<c@example.net>\0'
    pkt N ''
    pkt E ''
    pkt A ''
    pkt K ''
    pkt C 'v6.example\0006\0\0312001:db8::1\0'
    pkt U 'VRFY x\0'
    pkt Q ''
}

# seed_spf - SPF inputs: flags, local-part, HELO, records (fuzz_spf.c)
seed_spf() {
    mkdir -p "$work/corpus-spf"
    printf '\0user\nhelo.example\nv=spf1 include:a.example mx/24 ptr:fuzz.example exists:%%{ir}.%%{l1r-}.%%{d2} a//64 redirect=x.example\nv=spf1 a -all\nv=spf1 ip4:192.0.2.0/24 ?all' \
        > "$work/corpus-spf/mix"
    printf '\1first-last\n[192.0.2.1]\nv=spf1 ip6:2001:db8::/32 a:%%{p}.%%{v}.%%{H} mx:%%{o}. -all exp=%%{d}.x.example\nV=SPF1 ?ptr ~all foo=%%{S}' \
        > "$work/corpus-spf/v6"
}

# seed_rua - received aggregate reports (fuzz_parsers.c cases 6 and 7):
# the samples of test/reports as XML, gzip, zip and a MIME message
seed_rua() {
    local c=$work/corpus-parsers x
    for x in google yahoo dmarcbis microsoft; do
        { printf '\6'; cat "$top_srcdir/test/reports/$x.xml"; } > "$c/rua-$x"
        { printf '\7'; cat "$top_srcdir/test/reports/$x.xml"; } > "$c/xml-$x"
    done
    { printf '\6'; gzip -c "$top_srcdir/test/reports/microsoft.xml"; } > "$c/rua-gz"
    /usr/bin/python3 -c 'import sys, zipfile
with zipfile.ZipFile(sys.argv[2], "w", zipfile.ZIP_DEFLATED) as z:
    z.write(sys.argv[1], "r.xml")' "$top_srcdir/test/reports/google.xml" \
        "$work/r.zip" 2>/dev/null &&
        { printf '\6'; cat "$work/r.zip"; } > "$c/rua-zip"
    { printf '\6'; printf 'From: a@b.example\nContent-Type: multipart/mixed; boundary="b1"\n\n--b1\nContent-Type: text/plain\n\nreport\n--b1\nContent-Type: application/gzip; name="r.xml.gz"\nContent-Transfer-Encoding: base64\n\n'
      gzip -c "$top_srcdir/test/reports/yahoo.xml" | base64; printf -- '--b1--\n'; } > "$c/rua-mime"
}

mkdir -p "$work/corpus-parsers" "$work/corpus-engine"
# bounce addresses (fuzz_parsers case 8): both forms, as the codec writes them
printf '\010ab2=bbc47cds33aaaqeayeaudaocaj@bounce.customer.example' \
    > "$work/corpus-parsers/bounce-stored"
printf '\010ab1=bbgibotsr4=no-reply=platform.example@bounce.customer.example' \
    > "$work/corpus-parsers/bounce-stateless"
# DKIM-Signature fields and key records (fuzz_parsers cases 9 and 10)
printf '\011 v=1; a=rsa-sha256; c=relaxed/simple; d=example.com; s=sel;\n\tt=1700000000; x=1900000000; l=10; i=joe@sub.example.com;\n\th=from:to:subject; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;\n\tb=dGVzdA==' \
    > "$work/corpus-parsers/dkim-sig"
printf '\012v=DKIM1; k=ed25519; h=sha256; s=email; t=y:s; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=' \
    > "$work/corpus-parsers/dkim-key"
# a DNS answer (fuzz_parsers case 11): s1._domainkey.example.com TXT, a CNAME
# to x.example (x.example.com, compressed) and x.example's TXT record
{
    printf '\013\022\064\201\200\0\001\0\002\0\0\0\0'
    printf '\002s1\012_domainkey\007example\003com\0\0\020\0\001'
    printf '\300\014\0\005\0\001\0\0\001\054\0\004\001x\300\032'
    printf '\001x\300\032\0\020\0\001\0\0\001\054\0\017\016v=DKIM1; p=abc'
} > "$work/corpus-parsers/dns-answer"
seed_session > "$work/corpus-engine/session"
seed_rua
seed_spf
fail=0
echo "1..3"
if (cd "$work" && ./fuzz_parsers -max_total_time="$half" \
        -artifact_prefix="$work/parsers-" corpus-parsers > parsers.log 2>&1); then
    echo "ok 1 - parsers survive $half s of libFuzzer ($(grep -o 'Done [0-9]* runs' "$work/parsers.log"))"
else
    echo "not ok 1 - libFuzzer found a crash in the parsers"
    tail -40 "$work/parsers.log"
    fail=1
fi
if (cd "$work" && ./fuzz_engine -max_total_time="$half" -max_len=65536 \
        -timeout=20 -artifact_prefix="$work/engine-" corpus-engine \
        > engine.log 2>&1); then
    echo "ok 2 - milter engine survives $half s of libFuzzer ($(grep -o 'Done [0-9]* runs' "$work/engine.log"))"
else
    echo "not ok 2 - libFuzzer found a crash in the milter engine"
    tail -40 "$work/engine.log"
    fail=1
fi
if (cd "$work" && ./fuzz_spf -max_total_time="$half" -timeout=20 \
        -artifact_prefix="$work/spf-" corpus-spf > spf.log 2>&1); then
    echo "ok 3 - SPF evaluator survives $half s of libFuzzer ($(grep -o 'Done [0-9]* runs' "$work/spf.log"))"
else
    echo "not ok 3 - libFuzzer found a crash in the SPF evaluator"
    tail -40 "$work/spf.log"
    fail=1
fi
if [ "$fail" != 0 ]; then
    for f in "$work"/parsers-* "$work"/engine-* "$work"/spf-*; do
        [ -f "$f" ] && cp "$f" "$top_builddir/"
    done
    exit 1
fi
