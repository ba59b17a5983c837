#!/usr/bin/env bash
# test_include_postfix.sh - the ESP layout through a real Postfix: the main
# conf includes domains.d/*.conf (one file per customer) and names keys by
# selector under key_dir (KEY_DIR/DOMAIN/SELECTOR.pem). A broken key and a
# typo in one customer's block leave out only those blocks: the others are
# signed, verified by dkimpy and Mail::DKIM through knotd. authmilter -n
# lists every error (with the included file and line) and exits 1; -q prints
# nothing on a good conf; a missing include directory refuses the start.
# The daemon runs as nobody, so a SIGHUP reads the included files through
# the root key reader (privsep.c): a customer file added is signed after it,
# and a reload that would leave out a running domain is refused.
# shellcheck disable=SC2317 # helpers run through it_check look unreachable
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

it_init include_postfix
it_require "$AUTHMILTER"
it_plan 34
KD=$IT_DIR/kd                   # key_dir
DD=$IT_DIR/milter/domains.d     # one file per customer
T=$IT_DIR/tmp

# keyput DOMAIN SELECTOR - a key (its record queued for knotd) as
# $KD/DOMAIN/SELECTOR.pem
keyput() {
    local k
    k=$(it_keygen "$1" "$2" rsa 2048) || return 1
    mkdir -p "$KD/$1" && chmod 700 "$KD" "$KD/$1" && mv "$k" "$KD/$1/$2.pem"
}
for d in alpha beta broken gamma delta; do
    keyput "$d.example" s1 || { echo "Bail out! keygen"; exit 1; }
done
chmod 644 "$KD/broken.example/s1.pem"
it_dns_start || { echo "Bail out! knotd"; exit 1; }
it_sink_start || { echo "Bail out! smtp-sink"; exit 1; }

mkdir -p "$DD"
cat > "$DD/10-alpha.conf" <<EOF
# customer alpha
domain alpha.example {
    key = s1
}
EOF
cat > "$DD/20-beta.conf" <<EOF
# customer beta, with a second domain whose key file is 0644
domain beta.example {
    key = s1
}
domain broken.example {
    key = s1
}
EOF
cat > "$DD/30-typo.conf" <<EOF
domain typo.example {
    keyy = s1
}
EOF
echo 'domain ignored.example {' > "$DD/notes.txt"

# mkconf FILE PATTERN - the harness's global part, run as nobody, key_dir,
# and one include line
mkconf() {
    it_authmilter_conf "$1"
    printf 'user = nobody\nkey_dir = %s\ninclude %s\n' "$KD" "$2" >> "$1"
}
conf=$IT_DIR/milter/esp.conf
mkconf "$conf" "$DD/*.conf"
good=$IT_DIR/milter/good.conf
mkconf "$good" "$DD/10-*.conf"
nodir=$IT_DIR/milter/nodir.conf
mkconf "$nodir" "$IT_DIR/nope/*.conf"

rc=0
"$AUTHMILTER" -n -c "$conf" > "$T/n.out" 2> "$T/n.err" || rc=$?
it_check "authmilter -n on a conf with errors exits 1 (exit $rc)" test "$rc" = 1
it_check "-n names the included file and line of the 0644 key" \
    grep -qF "authmilter: $DD/20-beta.conf:6: key file $KD/broken.example/s1.pem" "$T/n.err"
it_check "-n names the included file and line of the typo" \
    grep -qF "authmilter: $DD/30-typo.conf:2: unknown option \"keyy\"" "$T/n.err"
it_check "-n lists every error, each once" \
    test "$(grep -c '^authmilter: ' "$T/n.err")" = 2
it_check "-n shows alpha's key under key_dir, not the unmatched notes.txt" \
    sh -c "grep -qF 'key = s1 $KD/alpha.example/s1.pem' '$T/n.out' &&
        ! grep -q ignored.example '$T/n.out'"
rc=0
"$AUTHMILTER" -q -c "$conf" > "$T/q.out" 2> "$T/q.err" || rc=$?
it_check "-q on the same conf: exit 1, the errors only (exit $rc)" \
    sh -c "[ $rc = 1 ] && [ ! -s '$T/q.out' ] && cmp -s '$T/q.err' '$T/n.err'"
it_check "-q on a good conf prints nothing and exits 0" \
    sh -c "out=\$('$AUTHMILTER' -q -c '$good' 2>&1) && [ -z \"\$out\" ]"
rc=0
timeout 15 "$AUTHMILTER" -f -c "$nodir" > "$T/nodir.out" 2>&1 || rc=$?
it_check "an include of a missing directory refuses the start (exit $rc)" test "$rc" = 1
it_check "... naming the conf line and the directory" \
    grep -qF "$nodir:13: include $IT_DIR/nope/*.conf: directory $IT_DIR/nope: " "$T/nodir.out"

it_milter_start_authmilter "$conf" || { echo "Bail out! authmilter"; exit 1; }
it_postfix_start "$IT_MILTER_SOCKET" || { echo "Bail out! postfix"; exit 1; }
it_check "start: one summary line (domains loaded, failed, keys by state)" \
    it_wait_for 10 grep -qF "configuration loaded from $conf: 2 domains loaded, 2 failed; 2 keys" \
    "$IT_DIR/log/milter.log"

# signed NAME DOMAIN - submit as DOMAIN from 127.0.0.1; both verifiers pass d=DOMAIN
signed() {
    it_submit "$1" --from "a@$2"
    if it_relayed "$1"; then
        it_check "$1: d=$2, dkimpy verifies" \
            it_dkimverify --min 1 --expect-domains "$2" "$IT_MSG"
        it_check "$1: d=$2, Mail::DKIM verifies" \
            it_dkimverify_pl --min 1 --expect-domains "$2" "$IT_MSG"
    fi
}
signed "alpha (10-alpha.conf, key = s1 under key_dir)" alpha.example
signed "beta (beside the broken domain in 20-beta.conf)" beta.example
it_submit "broken.example (its key left out)" --from a@broken.example
if it_relayed "broken.example"; then
    it_check "broken.example: relayed without a d=broken.example signature" \
        it_nomatch grep -q "d=broken\.example" "$IT_MSG"
fi

# SIGHUP: a new customer file, read through the root key reader; only its
# key is read, the others are shared with the running configuration
cat > "$DD/40-gamma.conf" <<EOF
domain gamma.example {
    key = s1
}
EOF
kill -HUP "$IT_LAST_PID"
it_check "SIGHUP with 40-gamma.conf added: the summary counts it, one key read, two reused" \
    it_wait_for 20 grep -qF "configuration reloaded from $conf: 3 domains loaded, 2 failed; 3 keys (1 read, 2 reused)" \
    "$IT_DIR/log/milter.log"
signed "gamma (added by SIGHUP)" gamma.example

# SIGHUP with a running domain's key broken: that domain keeps its running
# version, the reload goes on for the others
chmod 644 "$KD/alpha.example/s1.pem"
cat > "$DD/50-delta.conf" <<EOF
domain delta.example {
    key = s1
}
EOF
kill -HUP "$IT_LAST_PID"
it_check "SIGHUP with alpha's key 0644: the error is logged" \
    it_wait_for 20 grep -qF "$DD/10-alpha.conf:3: key file $KD/alpha.example/s1.pem has mode 0644" \
    "$IT_DIR/log/milter.log"
it_check "... and alpha keeps its running version while delta is added" \
    it_wait_for 20 grep -qF "configuration reloaded from $conf: 4 domains loaded, 3 failed (1 kept running); 4 keys (1 read, 2 reused)" \
    "$IT_DIR/log/milter.log"
signed "delta (added beside alpha's error)" delta.example
signed "alpha (its running version, key file now 0644)" alpha.example
chmod 600 "$KD/alpha.example/s1.pem"
kill -HUP "$IT_LAST_PID"
it_check "SIGHUP with alpha's key fixed: loaded again (its file changed: read)" \
    it_wait_for 20 grep -qF "configuration reloaded from $conf: 4 domains loaded, 2 failed; 4 keys (1 read, 3 reused)" \
    "$IT_DIR/log/milter.log"
signed "alpha after the fix" alpha.example

it_milter_stop
it_done
