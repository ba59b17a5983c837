#!/bin/sh
# check_docs.sh - the sample conf and authmilter.conf(5) must match what the
# option table generates (`make regen-docs` rewrites them).
top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
bin=$top_builddir/milter/authmilter
fail=0
echo "1..2"
n=0
for kind in sample man; do
	n=$((n + 1))
	case $kind in
	sample) file=$top_srcdir/conf/authmilter.conf ;;
	man) file=$top_srcdir/docs/authmilter.conf.5 ;;
	esac
	if "$bin" -D $kind | diff -u "$file" - >/dev/null; then
		echo "ok $n - generated $kind matches $file"
	else
		echo "not ok $n - $file differs from the option table (run make regen-docs)"
		"$bin" -D $kind | diff -u "$file" - | head -20
		fail=1
	fi
done
exit $fail
