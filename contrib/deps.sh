#!/bin/sh
# deps.sh - install the Debian 12 packages authmilter needs to build, test
# and run its demo. Non-interactive; safe to run again (installs only what
# is missing). Must run as root. Sendmail is not installed (sendmail-bin
# conflicts with postfix): test/integration/sendmail.sh fetches its packages
# with apt-get download and runs them unpacked. debhelper (with dpkg-dev)
# and lintian build and check the Debian package (debian/); its build needs
# no fakeroot (Rules-Requires-Root: no). chromium renders authmilter-report's
# HTML page headless in test_report_import (DOM and screenshot).
set -e
PKGS="build-essential autoconf automake libtool pkg-config
libmilter-dev libopendkim-dev libssl-dev libcmocka-dev
libunbound-dev libspf2-dev libpsl-dev libidn2-dev libsystemd-dev libmicrohttpd-dev publicsuffix
libsqlite3-dev zlib1g-dev libexpat1-dev sqlite3 libxml2-utils libmail-dmarc-perl
libpq-dev postgresql
postfix knot knot-dnsutils sasl2-bin libsasl2-modules libsasl2-modules-db
python3 python3-dkim python3-dnspython python3-nacl libmail-dkim-perl libnet-dns-perl python3-spf python3-authres python3-yaml
opendkim opendkim-tools openssl ca-certificates procps clang libclang-rt-14-dev
debhelper lintian prometheus curl chromium"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
		|| missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "deps.sh: missing packages:$missing (run as root to install them)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# Postfix asks how to configure itself: we run private instances only.
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
