#!/bin/sh
# run.sh - a short libFuzzer run of the hostile-input parsers (From,
# Authentication-Results, DMARC records, SMTP paths, conf text) under
# ASan+UBSan.
# Needs clang with libFuzzer; prints one TAP line, or a SKIP plan when clang
# cannot build fuzzers here (then nothing is counted).
#   FUZZ_SECONDS=20 (default)
top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
secs=${FUZZ_SECONDS:-20}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if ! command -v clang >/dev/null 2>&1 ||
   ! clang -g -O1 -fsanitize=fuzzer,address,undefined -I"$top_srcdir/milter" \
        -include "$top_builddir/amconfig.h" "$top_srcdir/test/fuzz/fuzz_parsers.c" \
        "$top_srcdir"/milter/mailaddr.c "$top_srcdir"/milter/authres.c \
        "$top_srcdir"/milter/dmarc_record.c "$top_srcdir"/milter/buf.c \
        "$top_srcdir"/milter/xalloc.c "$top_srcdir"/milter/log.c \
        "$top_srcdir"/milter/config.c "$top_srcdir"/milter/config_table.c \
        "$top_srcdir"/milter/config_dump.c "$top_srcdir"/milter/cidr.c \
        "$top_srcdir"/milter/keys.c "$top_srcdir"/milter/bounce.c \
        "$top_srcdir"/milter/sign.c "$top_srcdir"/milter/clock.c -lcrypto \
        -o "$work/fuzz_parsers" > "$work/build.log" 2>&1; then
    echo "1..0 # SKIP clang with libFuzzer not available"
    exit 0
fi
mkdir -p "$work/corpus"
echo "1..1"
if (cd "$work" && ./fuzz_parsers -max_total_time="$secs" corpus > fuzz.log 2>&1); then
    echo "ok 1 - parsers survive $secs s of libFuzzer ($(grep -o 'Done [0-9]* runs' "$work/fuzz.log"))"
else
    echo "not ok 1 - libFuzzer found a crash"
    tail -40 "$work/fuzz.log"
    cp "$work"/crash-* "$top_builddir/" 2>/dev/null
    exit 1
fi
