#!/bin/bash
# shellcheck disable=SC2317
# (SC2317: the helpers run through it_check, which shellcheck cannot follow)
# test_install.sh - what `make install` leaves behind (issue 17), into a
# DESTDIR: the conf where the daemon looks for it ($(sysconfdir)/authmilter/,
# the path -h names), never overwriting an edited one (the new sample goes
# next to it), the keys directory 0700, the systemd unit with the configured
# paths; `make uninstall` removes what install made and keeps the edited
# conf. Output is TAP.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
it_init install

it_plan 10
D=$IT_DIR/tmp/root
SRC_CONF=$(cd "$IT_LIB_DIR/../.." && pwd)/conf/authmilter.conf

# inst TARGET - make TARGET into $D, its output in the log
inst() { make -C "$BUILD_DIR" "$1" DESTDIR="$D" >> "$IT_DIR/log/make.log" 2>&1; }

# where the built daemon looks for its conf (its -h names it)
defconf=$("$AUTHMILTER" -h 2>&1 | sed -n 's/.*(default \(.*\))$/\1/p')
inst install
it_check "make install: the conf where the daemon looks for it ($defconf)" \
    cmp "$SRC_CONF" "$D$defconf"
keys=$(dirname "$D$defconf")/keys
it_check "... a keys directory next to it, mode 0700" \
    sh -c "[ \"\$(stat -c %a '$keys')\" = 700 ]"
unit=$(find "$D" -name authmilter.service)
sbin=$(sed -n 's/^ExecStart=\([^ ]*\) .*/\1/p' "$unit")
it_check "... the systemd unit ($unit) starts the installed daemon with that conf" \
    sh -c "[ -x '$D$sbin' ] && grep -qx 'ExecStart=$sbin -f -c $defconf' '$unit'"
it_check "... no placeholder left in the unit, Type=notify" \
    sh -c "! grep -q '@' '$unit' && grep -qx 'Type=notify' '$unit'"
it_check "... the installed daemon runs" \
    sh -c "'$D$sbin' -V | grep -q '^authmilter '"

echo "# edited by the operator" >> "$D$defconf"
cp "$D$defconf" "$IT_DIR/tmp/edited"
inst install
it_check "a second make install keeps the edited conf" \
    cmp "$IT_DIR/tmp/edited" "$D$defconf"
it_check "... and puts the new sample next to it" \
    cmp "$SRC_CONF" "$D$defconf.sample"

inst uninstall
it_check "make uninstall: the unit and the sample are gone" \
    sh -c "[ ! -e '$unit' ] && [ ! -e '$D$defconf.sample' ] && [ ! -e '$D$sbin' ]"
it_check "... the edited conf stays" cmp "$IT_DIR/tmp/edited" "$D$defconf"
rm -f "$D$defconf"
inst install && inst uninstall
it_check "an install nobody edited is removed whole" \
    sh -c "[ ! -e '$D$defconf' ] && [ ! -e '$keys' ]"
it_done
