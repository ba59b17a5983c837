#!/bin/bash
# shellcheck disable=SC2317
# (SC2317: the helpers run through it_check, which shellcheck cannot follow)
# test_debian_package.sh - the Debian package (debian/, issue 17): a copy of
# the source tree built with dpkg-buildpackage -us -uc -b (no make check,
# no debug-symbol package: DEB_BUILD_OPTIONS), authmilter_VERSION_ARCH.deb
# with configure.ac's version, lintian without errors (its tags shown in
# the log), the files where they belong; then installed for real: the
# system user and group, the keys directory (root's, 0700) and the state
# directory (authmilter's), the conf a conffile that authmilter -n -q
# passes and that loads a key authmilter-keygen made in the keys
# directory, the unit enabled, the installed daemon serving as authmilter
# on its socket until SIGTERM; then purged: everything gone but the
# operator's key (and the user and group, as Debian's packages leave them).
#
# Where it installs: on this machine, with dpkg, and purged again by the
# EXIT trap whatever happens. A throwaway root (mmdebstrap) would download
# and unpack a whole base system on every run: a minute or more, and the
# network, which tests must not use. The test machine is itself
# disposable, and the
# other integration tests run the build tree's binaries with confs of
# their own (nothing of theirs looks at /usr/sbin, /etc/authmilter,
# /var/lib/authmilter or /run/authmilter). A package left installed by a
# killed earlier run is purged first; an /etc/authmilter or
# /var/lib/authmilter no package owns (an install by hand) skips the test
# rather than be overwritten or removed. The user authmilter may be there
# already (test_postfix_chroot.sh makes it): postinst keeps it as it is.
# Without systemd running (a container) postinst must start nothing and
# still succeed; under systemd it starts the unit, which is checked and
# stopped before the daemon is run in the foreground.
# Needs root, dpkg-buildpackage, debhelper, lintian. Output is TAP. About
# 40 seconds on 2 busy cores: the build 20-30 s (no make check, no
# sanitizers), lintian 4-8 s, dpkg -i 6-8 s and --purge 4 s (most of each
# is man-db's trigger); the log says each.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

it_init debian_package
it_require dpkg-buildpackage dh lintian

DOMAIN=debian-package.example   # the test's key: /etc/authmilter/keys/$DOMAIN
UNIT=authmilter.service
WANTS=/etc/systemd/system/multi-user.target.wants/$UNIT
RUN_MADE=""                     # set when /run/authmilter was ours to remove
DAEMON_RAN=""                   # set when the installed daemon made its sockets
export DEBIAN_FRONTEND=noninteractive

# pkg_state - dpkg's state of the package authmilter (empty: none known)
pkg_state() {
    dpkg-query -W -f='${db:Status-Status}' authmilter 2> /dev/null
}

# pkg_absent - the package is not installed, nor its conffiles
pkg_absent() {
    case $(pkg_state) in '' | not-installed) return 0 ;; esac
    return 1
}

# dpkg_wait ARG... - dpkg ARG..., waiting up to 2 minutes for the lock that
# another apt-get or dpkg (another run's deps.sh) may hold; dpkg itself
# fails at once. Its output goes to standard output.
dpkg_wait() {
    local i out rc
    for ((i = 0; i < 120; i++)); do
        out=$(dpkg "$@" 2>&1)
        rc=$?
        [ "$rc" != 0 ] && grep -q 'lock' <<< "$out" && { sleep 1; continue; }
        echo "$out"
        return "$rc"
    done
    echo "$out"
    return 1
}

# pkg_purge - purge the package
pkg_purge() {
    dpkg_wait --purge authmilter
}

# deb_cleanup - EXIT trap (lib.sh's IT_ON_EXIT): purge what this run
# installed, remove its key and what only held it
deb_cleanup() {
    pkg_absent || pkg_purge >> "$IT_DIR/log/dpkg.log"
    rm -rf "/etc/authmilter/keys/$DOMAIN"
    rmdir /etc/authmilter/keys /etc/authmilter 2> /dev/null
    # the daemon, once its user's, cannot remove its sockets from root's dir
    [ -n "$DAEMON_RAN" ] && rm -f /run/authmilter/authmilter.sock \
        /run/authmilter/authmilter-control.sock
    [ -n "$RUN_MADE" ] && rm -rf /run/authmilter
    return 0
}

# leftovers of a killed run first: the package, the test's key
if ! pkg_absent; then
    echo "# purging the authmilter package an earlier run left ($(pkg_state))"
    pkg_purge > "$IT_DIR/log/dpkg.log"
fi
rm -rf "/etc/authmilter/keys/$DOMAIN"
rmdir /etc/authmilter/keys /etc/authmilter 2> /dev/null
for d in /etc/authmilter /var/lib/authmilter; do
    if [ -e "$d" ]; then
        echo "1..0 # SKIP $d exists and no package owns it: not installing over it"
        exit 0
    fi
done
IT_ON_EXIT=deb_cleanup

it_plan 20
W=$IT_DIR/tmp
version=$(sed -n 's/^AC_INIT(\[authmilter\], \[\([^]]*\)\].*/\1/p' "$IT_SRC_DIR/configure.ac")
arch=$(dpkg --print-architecture)
deb=$W/authmilter_${version}_$arch.deb
changes=$W/authmilter_${version}_$arch.changes

# the source tree as git knows it (tracked and new files, nothing ignored:
# no build dirs, no generated configure), else everything but build output
mkdir -p "$W/src"
if git -C "$IT_SRC_DIR" rev-parse --git-dir > /dev/null 2>&1; then
    git -C "$IT_SRC_DIR" ls-files -z --cached --others --exclude-standard |
        (cd "$IT_SRC_DIR" && tar --null -T - -cf -) | tar -C "$W/src" -xf -
else
    tar -C "$IT_SRC_DIR" --exclude=./_build --exclude=./test/out \
        --exclude=./debian/build --exclude=./debian/authmilter \
        --exclude=./debian/.debhelper -cf - . | tar -C "$W/src" -xf -
fi

t0=$SECONDS
it_check "dpkg-buildpackage -us -uc -b builds the package" \
    sh -c "cd '$W/src' && DEB_BUILD_OPTIONS='nocheck noautodbgsym parallel=2' \
        dpkg-buildpackage -us -uc -b > '$IT_DIR/log/build.log' 2>&1 ||
        { tail -n 30 '$IT_DIR/log/build.log'; exit 1; }"
echo "# package build: $((SECONDS - t0)) s"

# deb_named - the .deb's control fields match its name
deb_named() {
    [ -f "$deb" ] && dpkg-deb -f "$deb" Package Version Architecture > "$W/fields" &&
        printf 'Package: authmilter\nVersion: %s\nArchitecture: %s\n' "$version" "$arch" |
        diff - "$W/fields"
}
it_check "... $(basename "$deb"): configure.ac's version $version, $arch" deb_named

# lintian on the .changes looks at the .deb and the .buildinfo in it; its
# exit status is 0 unless it found an error
t0=$SECONDS
lintian -I "$changes" > "$IT_DIR/log/lintian.log" 2>&1
lrc=$?
sed 's/^/#   lintian: /' "$IT_DIR/log/lintian.log"
it_check "lintian: no errors (exit $lrc, $((SECONDS - t0)) s)" \
    sh -c "[ $lrc = 0 ] && ! grep -q '^E: ' '$IT_DIR/log/lintian.log'"

dpkg-deb -c "$deb" | awk '{ print $1, $2, $6 }' > "$W/contents"
# in_deb MODE OWNER PATH... - each PATH is in the .deb with that mode and
# owner, as it is or gzipped (dh_compress: documents over 4 kB)
in_deb() {
    local mode=$1 owner=$2 p
    shift 2
    for p in "$@"; do
        grep -qxF -e "$mode $owner ./$p" -e "$mode $owner ./$p.gz" "$W/contents" ||
            { echo "missing: $mode $owner ./$p"; return 1; }
    done
}
it_check "the .deb: the daemon and the tools (root's, 0755)" \
    in_deb -rwxr-xr-x root/root usr/sbin/authmilter usr/sbin/authmilterctl \
        usr/bin/authmilter-keygen usr/bin/authmilter-check usr/bin/authmilter-bounce \
        usr/bin/authmilter-report
it_check "... man pages, unit, conf, README.Debian (root's, 0644)" \
    in_deb -rw-r--r-- root/root usr/share/man/man8/authmilter.8.gz \
        usr/share/man/man8/authmilterctl.8.gz \
        usr/share/man/man5/authmilter.conf.5.gz usr/share/man/man1/authmilter-keygen.1.gz \
        usr/share/man/man1/authmilter-check.1.gz usr/share/man/man1/authmilter-bounce.1.gz \
        usr/share/man/man1/authmilter-report.1.gz \
        lib/systemd/system/$UNIT etc/authmilter/authmilter.conf \
        usr/share/doc/authmilter/README.Debian usr/share/doc/authmilter/copyright
# deb_meta - keys directory, conffiles, Depends of the .deb
deb_meta() {
    grep -qxF -- 'drwx------ root/root ./etc/authmilter/keys/' "$W/contents" &&
        dpkg-deb -I "$deb" conffiles | grep -qx /etc/authmilter/authmilter.conf &&
        dpkg-deb -f "$deb" Depends | grep -qw adduser
}
it_check "... the keys directory root's, 0700; the conf a conffile; Depends adduser" deb_meta

getent passwd authmilter > /dev/null && user_before=1 || user_before=""
t0=$SECONDS
# pkg_install - dpkg -i: the dependencies must be installed already (dpkg
# fetches nothing; apt-get would take twice as long, reading its lists)
pkg_install() {
    dpkg_wait -i "$deb" > "$IT_DIR/log/dpkg.log" && return 0
    tail -n 20 "$IT_DIR/log/dpkg.log"
    return 1
}
it_check "dpkg -i the .deb (systemd $([ -d /run/systemd/system ] || echo 'not ')running)" \
    pkg_install
echo "# install: $((SECONDS - t0)) s"
if [ -d /run/systemd/system ]; then
    it_check "... postinst started the unit under systemd" systemctl is-active "$UNIT"
    systemctl stop "$UNIT"
else
    it_check "... postinst started nothing without systemd (and succeeded)" \
        it_not pgrep -x -f '/usr/sbin/authmilter -f -c /etc/authmilter/authmilter.conf'
fi

# user_ok - the system user and group authmilter: a system uid, no login
# shell, its own group; made by this install: home /var/lib/authmilter
user_ok() {
    local pw uid gid home shell
    pw=$(getent passwd authmilter) || { echo "no user authmilter"; return 1; }
    IFS=: read -r _ _ uid gid _ home shell <<< "$pw"
    echo "$pw"
    [ "$uid" -lt 1000 ] && [ "$gid" = "$(getent group authmilter | cut -d: -f3)" ] || return 1
    case $shell in */nologin | */false) ;; *) return 1 ;; esac
    [ -n "$user_before" ] || [ "$home" = /var/lib/authmilter ]
}
it_check "the system user and group authmilter${user_before:+ (there before: kept as it was)}" user_ok

# mode_is PATH MODE OWNER:GROUP - PATH has that mode and owner
mode_is() {
    [ "$(stat -c '%a %U:%G' "$1")" = "$2 $3" ] && return 0
    stat -c '%n %a %U:%G' "$1"
    return 1
}
# dirs_ok - the keys directory root's alone, the state directory the user's
dirs_ok() {
    mode_is /etc/authmilter/keys 700 root:root &&
        mode_is /var/lib/authmilter 750 authmilter:authmilter
}
it_check "/etc/authmilter/keys root:root 0700, /var/lib/authmilter authmilter's 0750" dirs_ok

# conf_ok - the conf is a conffile of the package, set for its layout
conf_ok() {
    dpkg-query -W -f='${Conffiles}' authmilter | grep -q '^ /etc/authmilter/authmilter.conf ' &&
        [ "$(grep -cxE 'user = authmilter|state_dir = /var/lib/authmilter|key_dir = /etc/authmilter/keys' \
            /etc/authmilter/authmilter.conf)" = 3 ]
}
it_check "the conf is a conffile, with user, state_dir and key_dir set for the package" conf_ok

# quiet CMD... - CMD exits 0 and prints nothing
quiet() {
    local out
    if out=$("$@" 2>&1) && [ -z "$out" ]; then
        return 0
    fi
    echo "$out"
    return 1
}
it_check "/usr/sbin/authmilter -n -q: the installed conf (its default path) passes" \
    quiet /usr/sbin/authmilter -n -q

# unit_ok - enabled for multi-user.target, starting the installed paths
unit_ok() {
    [ "$(readlink "$WANTS")" = "/lib/systemd/system/$UNIT" ] &&
        grep -qx 'ExecStart=/usr/sbin/authmilter -f -c /etc/authmilter/authmilter.conf' \
            "/lib/systemd/system/$UNIT"
}
it_check "the unit is enabled (multi-user.target.wants), ExecStart the installed paths" unit_ok

# README.Debian's way: a key in /etc/authmilter/keys/DOMAIN, named by its
# selector alone (key_dir); the installed conf plus one domain block
install -d -m 0700 "/etc/authmilter/keys/$DOMAIN"
authmilter-keygen -d "$DOMAIN" -s s1 -t ed25519 -D "/etc/authmilter/keys/$DOMAIN" > "$W/keygen.out" 2>&1
cp /etc/authmilter/authmilter.conf "$IT_DIR/milter/signing.conf"
printf 'domain %s {\n    key = s1\n}\n' "$DOMAIN" >> "$IT_DIR/milter/signing.conf"
# key_loads - authmilter -n shows the key at its path in the keys directory
key_loads() {
    /usr/sbin/authmilter -n -c "$IT_DIR/milter/signing.conf" > "$W/signing.n" 2>&1 &&
        grep "s1 /etc/authmilter/keys/$DOMAIN/s1.pem" "$W/signing.n"
}
it_check "a key from authmilter-keygen in the keys directory loads (key = s1)" key_loads

[ -e /run/authmilter ] || RUN_MADE=1
sock=/run/authmilter/authmilter.sock
csock=/run/authmilter/authmilter-control.sock    # control_socket = auto
rm -f "$sock"
DAEMON_RAN=1
it__bg milter "$IT_DIR/log/milter.log" /usr/sbin/authmilter -f -c /etc/authmilter/authmilter.conf
pid=$IT_LAST_PID
# listening - the milter and control sockets appear, the run-as user's and
# its group's, 0660; authmilterctl (its default conf) gets the status
listening() {
    it_wait_for 10 test -S "$sock" && mode_is "$sock" 660 authmilter:authmilter &&
        mode_is "$csock" 660 authmilter:authmilter && /usr/sbin/authmilterctl status
}
it_check "the installed daemon, installed conf: listens on $sock, answers authmilterctl" \
    listening
# runs_as USER - the daemon's (serving) process runs as USER
runs_as() {
    [ "$(ps -o user= -p "$pid")" = "$1" ] && return 0
    ps -o pid,user,args -p "$pid"
    return 1
}
it_check "... serves as user authmilter" runs_as authmilter
it_check "... stops on SIGTERM (exit 0)" it__stop milter

# purged - dpkg --purge, its output in purge.out
purged() {
    pkg_purge > "$W/purge.out" && return 0
    tail -n 20 "$W/purge.out"
    return 1
}
t0=$SECONDS
it_check "dpkg --purge" purged
echo "# purge: $((SECONDS - t0)) s"
# gone - none of PATH... exists, and dpkg knows no package authmilter
gone() {
    local p rc=0
    for p in "$@"; do
        if [ -e "$p" ] || [ -L "$p" ]; then echo "still there: $p"; rc=1; fi
    done
    pkg_absent || { echo "dpkg: authmilter $(pkg_state)"; rc=1; }
    return "$rc"
}
it_check "... daemon, tools, unit and its enable link, conf, /var/lib/authmilter gone" \
    gone /usr/sbin/authmilter /usr/sbin/authmilterctl /usr/bin/authmilter-keygen "/lib/systemd/system/$UNIT" \
        "$WANTS" /etc/authmilter/authmilter.conf /var/lib/authmilter
# kept - the operator's key stays (and postrm said so), the user and group too
kept() {
    [ -f "/etc/authmilter/keys/$DOMAIN/s1.pem" ] && grep "keys kept" "$W/purge.out" &&
        getent passwd authmilter && getent group authmilter
}
it_check "... the operator's key kept, and said so; the user and group stay" kept
it_done
