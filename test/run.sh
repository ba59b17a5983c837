#!/bin/sh
# run.sh - the whole authmilter test suite on a Debian 12 machine, as root:
# installs what it needs, builds with ASan+UBSan, runs the unit tests and
# the integration tests (real Postfix and Sendmail, real knot DNS server on
# loopback; Sendmail's packages are downloaded once, see
# test/integration/sendmail.sh),
# and ends with "N passed, N failed, N skipped". Exit status 0 only if
# nothing failed. A check skipped is never counted as passed; a program
# whose TAP plan ("1..N") does not match the checks it printed has failed.
#   SANITIZE=no test/run.sh     build without sanitizers
#   TESTS="sign_postfix" ...    run only the named integration tests
#   ENGINE_TESTS="..."          the integration tests run a second time with
#                               milter_engine = libmilter (default below;
#                               empty: none), also only those in TESTS
#   AUTHMILTER_TEST_OUT=dir     the logs (default: a new test/out/run.* per run)
#   BUILD_DIR=dir               the build (default: _build in the source tree)
# Two runs at once do not meet: each has its own log dir and the integration
# tests their own work dirs and ports; a shared build dir is built by one
# run at a time (flock), the other waits.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here" || exit 1
build=${BUILD_DIR:-$here/_build}
if [ -n "${AUTHMILTER_TEST_OUT:-}" ]; then
	out=$AUTHMILTER_TEST_OUT
	mkdir -p "$out"
else
	mkdir -p "$here/test/out"
	out=$(mktemp -d "$here/test/out/run.$(date +%Y%m%d-%H%M%S).XXXXXX") || exit 1
	ln -sfn "$(basename "$out")" "$here/test/out/latest"
fi
echo "== logs in $out"

"$here/contrib/deps.sh" || { echo "0 passed, 1 failed, 0 skipped"; exit 1; }

conf_flags=""
[ "${SANITIZE:-yes}" = yes ] && conf_flags="--enable-sanitizers"
echo "== build ($build, ${conf_flags:-no sanitizers})"
mkdir -p "$build" || exit 1
# One build at a time in a source tree and in a build dir: the lock is held
# from autoreconf to the end of make; a second run waits for it.
(flock -n 8 && flock -n 9 ||
	{ echo "== waiting for another run's build in $here / $build"; flock 8 && flock 9; } &&
	autoreconf -fi >"$out/autoreconf.log" 2>&1 && cd "$build" &&
	{ [ -f Makefile ] && [ "$(cat .flags 2>/dev/null)" = "$conf_flags" ] ||
	  { "$here/configure" $conf_flags >"$out/configure.log" 2>&1 &&
	    echo "$conf_flags" > .flags; }; } &&
	make -j2 >"$out/make.log" 2>&1 &&
	make -j2 check TESTS= >>"$out/make.log" 2>&1) 8<"$here" 9>"$build/.build.lock" || {
	tail -30 "$out/make.log" "$out/configure.log" 2>/dev/null
	echo "build failed"
	echo "0 passed, 1 failed, 0 skipped"
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
skip=0
# tally - count TAP lines of one test program's output file: "ok" passed,
# "not ok" failed, either with a "# SKIP" directive skipped, a whole
# program skipped ("1..0 # SKIP") one skip. A program that exits non-zero
# without a "not ok" line, or whose plan does not match the checks it
# printed, counts as one failure.
tally() {
	name=$1 log=$2 status=$3
	s=$(grep -ciE '^(not )?ok\b.*#[[:space:]]*skip' "$log")
	p=$(($(grep -c '^ok\b' "$log") - $(grep -ciE '^ok\b.*#[[:space:]]*skip' "$log")))
	f=$(($(grep -c '^not ok\b' "$log") - $(grep -ciE '^not ok\b.*#[[:space:]]*skip' "$log")))
	plan=$(sed -n 's/^1\.\.\([0-9][0-9]*\).*/\1/p' "$log" | head -n 1)
	if grep -qiE '^1\.\.0[[:space:]]*#[[:space:]]*skip' "$log"; then
		s=$((s + 1))
	elif [ -n "$plan" ] && [ "$((p + f + s))" != "$plan" ] && [ "$f" = 0 ]; then
		f=1
		echo "not ok - $name: $((p + s)) checks of a plan of $plan" | tee -a "$log"
	fi
	if [ "$status" != 0 ] && [ "$f" = 0 ]; then
		f=1
		echo "not ok - $name exited with status $status" | tee -a "$log"
	fi
	pass=$((pass + p))
	fail=$((fail + f))
	skip=$((skip + s))
	printf '%-40s %3d passed, %d failed, %d skipped\n' "$name" "$p" "$f" "$s"
	[ "$f" != 0 ] && { grep -E '^not ok|^# ' "$log" | head -40; tail -15 "$log"; }
	[ "$s" != 0 ] && grep -iE '^(not )?ok\b.*#[[:space:]]*skip|^1\.\.0' "$log" | head -10
	return 0
}

echo "== unit tests"
for t in "$build"/test/unit/test_*; do
	[ -x "$t" ] || continue
	n=$(basename "$t")
	timeout 300 "$t" >"$out/$n.log" 2>&1
	tally "$n" "$out/$n.log" $?
done
"$here/test/unit/check_docs.sh" >"$out/check_docs.log" 2>&1
tally check_docs "$out/check_docs.log" $?
top_srcdir="$here" sh "$here/test/tools/check_includes.sh" >"$out/check_includes.log" 2>&1
tally check_includes "$out/check_includes.log" $?

timeout 900 "$here/test/fuzz/run.sh" >"$out/fuzz.log" 2>&1
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

# The second engine: the protocol tests and the Postfix paths that use
# every modification (signing and Return-Path, inbound A-R, DMARC reject
# and quarantine, forged A-R removal, bounce rewriting and refusal),
# Debian's chrooted Postfix and Sendmail (the same through Sendmail 8.17,
# -bs and the MSP), again with milter_engine = libmilter (lib.sh:
# AUTHMILTER_TEST_ENGINE).
echo "== integration tests, libmilter engine"
for n in ${ENGINE_TESTS-milter_protocol sign_postfix verify_postfix bounce_postfix postfix_chroot sendmail}; do
	if [ -n "${TESTS:-}" ] && ! echo " $TESTS " | grep -q " $n "; then
		continue
	fi
	AUTHMILTER_TEST_ENGINE=libmilter timeout 600 \
		bash "$here/test/integration/test_$n.sh" >"$out/it_$n-libmilter.log" 2>&1
	tally "it_$n-libmilter" "$out/it_$n-libmilter.log" $?
done

echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" = 0 ]
