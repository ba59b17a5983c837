#!/bin/sh
# run.sh - the whole authmilter test suite on a Debian 12 machine, as root:
# installs what it needs, builds with ASan+UBSan, runs the unit tests and
# the integration tests (real Postfix, real knot DNS server on loopback),
# and ends with "N passed, N failed". Exit status 0 only if nothing failed.
#   SANITIZE=no test/run.sh     build without sanitizers
#   TESTS="sign_postfix" ...    run only the named integration tests
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here" || exit 1
build=${BUILD_DIR:-$here/_build}
out=${AUTHMILTER_TEST_OUT:-$here/test/out}
mkdir -p "$out"

"$here/contrib/deps.sh" || { echo "0 passed, 1 failed"; exit 1; }

conf_flags=""
[ "${SANITIZE:-yes}" = yes ] && conf_flags="--enable-sanitizers"
echo "== build ($build, ${conf_flags:-no sanitizers})"
(autoreconf -fi >"$out/autoreconf.log" 2>&1 &&
	mkdir -p "$build" && cd "$build" &&
	{ [ -f Makefile ] && [ "$(cat .flags 2>/dev/null)" = "$conf_flags" ] ||
	  { "$here/configure" $conf_flags >"$out/configure.log" 2>&1 &&
	    echo "$conf_flags" > .flags; }; } &&
	make -j2 >"$out/make.log" 2>&1 &&
	make -j2 check TESTS= >>"$out/make.log" 2>&1) || {
	tail -30 "$out/make.log" "$out/configure.log" 2>/dev/null
	echo "build failed"
	echo "0 passed, 1 failed"
	exit 1
}
if grep -q "warning:" "$out/make.log"; then
	echo "compiler warnings:"; grep "warning:" "$out/make.log" | head -20
fi

export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export CMOCKA_MESSAGE_OUTPUT=TAP
export top_srcdir="$here" top_builddir="$build" BUILD_DIR="$build"
export AUTHMILTER="$build/milter/authmilter"

pass=0
fail=0
# tally - count TAP lines of one test program's output file; a program that
# exits non-zero without a "not ok" line counts as one failure
tally() {
	name=$1 log=$2 status=$3
	p=$(grep -c '^ok ' "$log")
	f=$(grep -c '^not ok ' "$log")
	if [ "$status" != 0 ] && [ "$f" = 0 ]; then
		f=1
		echo "not ok - $name exited with status $status" | tee -a "$log"
	fi
	pass=$((pass + p))
	fail=$((fail + f))
	printf '%-40s %3d passed, %d failed\n' "$name" "$p" "$f"
	[ "$f" != 0 ] && { grep -E '^not ok|^# ' "$log" | head -40; tail -15 "$log"; }
}

echo "== unit tests"
for t in "$build"/test/unit/test_*; do
	[ -x "$t" ] || continue
	n=$(basename "$t")
	"$t" >"$out/$n.log" 2>&1
	tally "$n" "$out/$n.log" $?
done
"$here/test/unit/check_docs.sh" >"$out/check_docs.log" 2>&1
tally check_docs "$out/check_docs.log" $?

"$here/test/fuzz/run.sh" >"$out/fuzz.log" 2>&1
tally fuzz "$out/fuzz.log" $?

echo "== integration tests"
for t in "$here"/test/integration/test_*.sh; do
	n=$(basename "$t" .sh)
	n=${n#test_}
	if [ -n "${TESTS:-}" ] && ! echo " $TESTS " | grep -q " $n "; then
		continue
	fi
	timeout 600 bash "$t" >"$out/it_$n.log" 2>&1
	tally "it_$n" "$out/it_$n.log" $?
done

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
