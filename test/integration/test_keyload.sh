#!/usr/bin/env bash
# shellcheck disable=SC2317
# (SC2317: the helpers run through it_check, which shellcheck cannot follow)
# test_keyload.sh - key_load = background: the daemon serves before its
# key files are read. Thirty customer domains in domains.d/, one key file
# each under key_dir (one of them not a key), the daemon running as nobody
# (keys through the root key reader, which is sent the start's key files
# before the daemon drops root):
#   - the start reads no key; the first message of a domain is signed
#     (its keys read at once if the thread has not come to them) and
#     verifies;
#   - the thread reads every key, the broken one logged with its file and
#     line and left out (its domain's mail goes unsigned, accepted), and
#     only then does the key check look the records up (authmilterctl
#     shows the broken one failed);
#   - a SIGHUP adding a domain reads that domain's key only: the keys read
#     in the background are reused (their identity came with their bytes);
#   - a restart takes the key states file's states once the keys are read;
#   - a daemon that stays root reads the key files itself.
#
# Output is TAP. Environment: see lib.sh. Nothing leaves 127.0.0.1.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

it_init keyload

ML=$BUILD_DIR/test/bench/milterload
it_require "$ML" "$AUTHMILTER"
it_plan 15
KD=$IT_DIR/kd                   # key_dir
DD=$IT_DIR/milter/domains.d     # one file per customer
SD=$IT_DIR/state                # state_dir
WT=$IT_DIR/tmp
N=30                            # d0..d29.kl.test; d30 is added later
BAD=13                          # d13's key file is not a key

# domfile I - domains.d/dI.conf for dI.kl.test (key = s1 under key_dir)
domfile() {
    printf 'domain d%d.kl.test {\n    key = s1\n}\n' "$1" > "$DD/.d$1.conf"
    mv "$DD/.d$1.conf" "$DD/d$1.conf"
}

# keyput I - a key for dI.kl.test as $KD/dI.kl.test/s1.pem (record queued)
keyput() {
    local k
    k=$(it_keygen "d$1.kl.test" s1 ed25519) || return 1
    mkdir -p "$KD/d$1.kl.test" && chmod 700 "$KD" "$KD/d$1.kl.test" &&
        mv "$k" "$KD/d$1.kl.test/s1.pem"
}

# sign I OUT - one message from dI.kl.test's customer, kept in OUT; milterload's status
sign() {
    mkdir -p "$2"
    "$ML" -S "$IT_MILTER_SOCKET" -a alice -F "d$1.kl.test" -m 1 -o "$2" \
        > "$2.txt" 2>&1
}

# keys_read_before PATTERN - this run logged "keys read in the background" before PATTERN
keys_read_before() {
    it_milter_log | grep -E -e 'keys read in the background' -e "$1" \
        | head -n 1 | grep -q 'keys read in the background'
}

# ---------------------------------------------------------------- set-up
mkdir -p "$DD" "$WT" "$SD"
chown nobody "$SD"
for ((i = 0; i <= N; i++)); do
    keyput "$i" || { echo "Bail out! keygen"; exit 1; }
done
echo "not a key" > "$KD/d$BAD.kl.test/s1.pem"
chmod 600 "$KD/d$BAD.kl.test/s1.pem"
for ((i = 0; i < N; i++)); do domfile "$i"; done
it_dns_start || { echo "Bail out! knotd"; exit 1; }
conf=$IT_DIR/milter/kl.conf
it_authmilter_conf "$conf"
printf 'user = nobody\nkey_load = background\nstate_dir = %s\nkey_dir = %s\ninclude %s\n' \
    "$SD" "$KD" "$DD/*.conf" >> "$conf"

# ------------------------------------------------------------- 1. start
it_milter_start_authmilter "$conf" || { echo "Bail out! authmilter"; exit 1; }
MILTER_PID=$IT_LAST_PID
it_check "start: 30 domains, no key read before serving" \
    it_wait_logged 10 "configuration loaded from .*: 30 domains loaded, 0 failed; 30 keys \(0 read, 0 reused, 30 to read in the background\)"
sign 7 "$WT/d7"
it_check "the first message, for d7, is signed" \
    grep -q '^DKIM-Signature:.*d=d7.kl.test' "$WT/d7/1-1.eml"
it_check "... and verifies (dkimpy)" it_dkimverify "$WT/d7/1-1.eml"
it_check "the thread reads every key: 1 failed" \
    it_wait_logged 10 "keys read in the background: [0-9]+ read, 1 failed, 30 keys in all"
it_check "... the broken one named with its file and line, left out" \
    grep -q "d$BAD.conf:2: domain d$BAD.kl.test: key s1: .*: not used" "$IT_DIR/log/milter.log"
"$BUILD_DIR/milter/authmilterctl" -c "$conf" keys --domain "d$BAD.kl.test" \
    > "$WT/ctl.out" 2>&1
it_check "authmilterctl keys shows it failed" grep -q "file=failed" "$WT/ctl.out"
it_check "the key check starts after the keys are read" \
    keys_read_before 'key check: 30 keys'
it_check "... and finds 29 published" \
    it_wait_logged 20 "key check: pass done.*29 published"
sign 22 "$WT/d22"
it_check "a domain read by the thread signs" \
    grep -q '^DKIM-Signature:.*d=d22.kl.test' "$WT/d22/1-1.eml"
sign "$BAD" "$WT/dbad"
rc=$?
it_check "the broken domain's message is accepted (milterload exit $rc), unsigned" \
    sh -c "[ $rc = 0 ] && [ -f '$WT/dbad/1-1.eml' ] && ! grep -q '^DKIM-Signature' '$WT/dbad/1-1.eml'"

# -------------------------------------------------- 2. SIGHUP adds d30
domfile "$N"
it_log_mark
kill -HUP "$MILTER_PID"
it_check "SIGHUP adding d30: its key read, the 29 read in the background reused" \
    it_wait_logged 20 "configuration reloaded from .*: 3[01] domains loaded, [01] failed.*; 3[01] keys \([12] read, 29 reused\)"
sign "$N" "$WT/d30"
it_check "d30 signs" grep -q '^DKIM-Signature:.*d=d30.kl.test' "$WT/d30/1-1.eml"
it_milter_stop

# ------------------------------------------- 3. restart: states restored
it_milter_start_authmilter "$conf" || { echo "Bail out! authmilter"; exit 1; }
it_check "a restart restores the saved key states" \
    it_wait_logged 20 "key states: [1-9][0-9]* restored"
it_check "... once the keys are read" \
    keys_read_before 'key states: [0-9]* restored'
it_milter_stop

# ------------------------------------------- 4. a daemon that stays root
sed -i '/^user = nobody$/d' "$conf"
it_milter_start_authmilter "$conf" || { echo "Bail out! authmilter"; exit 1; }
sign 3 "$WT/root3"
it_check "staying root, it reads the key files itself: d3 signs" \
    grep -q '^DKIM-Signature:.*d=d3.kl.test' "$WT/root3/1-1.eml"
it_milter_stop

it_done
