# bench-e2e-inbound.sh - the "Inbound through Postfix" rows of the inbound
# part of contrib/bench.sh (sourced by it after bench-inbound.sh, not run
# alone): authmilter, OpenDKIM + OpenDMARC and rspamd verifying the same
# mail end to end, in the same run. milterload -X sends the inbound rows'
# messages (10 KB, one RSA-2048 DKIM-Signature of the From domain, the
# warm sender domains, SPF with one include:, DMARC p=reject) by SMTP to
# the test harness's private Postfix on loopback, one session per message
# from 8 connections at once (as smtp-source does), each session
# presenting the outside client 192.0.2.10 and its HELO name with XCLIENT
# (the harness's main.cf sets smtpd_authorized_xclient_hosts =
# 127.0.0.0/8); Postfix relays to smtp-sink. Phases: no milter,
# authmilter (inb_am_start), OpenDKIM then OpenDMARC (inb_od_start, both
# in smtpd_milters), rspamd's milter proxy with dkim, spf and dmarc only
# (rs_start inbound); same zones and knotd as the inbound rows (inb_records).
# Like e2e_all the phases alternate for BENCH_E2E_ROUNDS rounds with a
# no-milter run before each round and one after the last; nothing is
# pinned (DAEMON_CPU is every core for these daemons). A phase counts
# only if every message was accepted through XCLIENT and the delivered
# messages carry the stack's Authentication-Results saying dkim=pass,
# spf=pass and dmarc=pass (counted over every delivered message; the
# first one also goes through test/integration/authres_check.py).
#
# Environment (besides bench.sh's and bench-inbound.sh's):
#   BENCH_INBOUND_POSTFIX_MSGS  messages per phase (2000; a multiple of 8)
#   BENCH_INBOUND_ROWS=postfix  only these rows of the inbound part

IPF_MSGS=${BENCH_INBOUND_POSTFIX_MSGS:-2000}
IPF_CONNS=8
IPF_WARMUP=80
IPF_STATE="not run"     # "yes" once the phases ran, else why not
declare -A IPF_RATE IPF_P50 IPF_P99 IPF_BUSY IPF_MCPU IPF_ALL IPF_RATIO IPF_AR IPF_NOTE
declare -A IPF_ARTEXT      # stack -> its A-R fields and grammar notes, one message
declare -A IPF_PASS IPF_FILES IPF_ARBAD IPF_GNOTES  # over all rounds: delivered
                        # messages whose A-R pass, all delivered, authres_check
                        # failures, its RFC 8601 grammar notes

# ipf_load N JSON - milterload -X: N messages (warm domains, pre-signed)
# through Postfix on IPF_CONNS connections; its JSON report in JSON;
# IPF_CMDLINE is the command
ipf_load() {
    local cmd=("$ML" -X "127.0.0.1:$IT_SMTP_PORT" -c "$IPF_CONNS"
        -m $(($1 / IPF_CONNS)) -s 10k -i "$INB_IP" -h "$INB_HELO"
        -F "warm.$INB_ZONE" -n "$INB_WARM" -D "s1:$INB_KEY" -r "$E2E_TO"
        -t 300 -T 60 -q -j)
    IPF_CMDLINE="${cmd[*]}"
    "${cmd[@]}" > "$2" 2> "$2.err"
}

# ipf_tally - "PASS FILES": smtp-sink's dumps, and how many of them have
# Authentication-Results fields saying dkim=pass, spf=pass and dmarc=pass
ipf_tally() {
    find "$IT_DIR/sink" -type f -print0 | xargs -0 -r awk '
        function done() {
            files++
            if (ar ~ /(^|[;[:space:]])dkim=pass/ && ar ~ /(^|[;[:space:]])spf=pass/ &&
                ar ~ /(^|[;[:space:]])dmarc=pass/)
                pass++
        }
        FNR == 1 { ar = ""; isar = 0 }
        /^\r?$/ { done(); nextfile }
        /^[ \t]/ { if (isar) ar = ar " " $0; next }
        { isar = tolower($0) ~ /^authentication-results:/
          if (isar) ar = ar "; " substr($0, index($0, ":") + 1) }
        END { print pass + 0, files + 0 }' | awk '{ p += $1; f += $2 } END { print p + 0, f + 0 }'
}

# ipf_authres NAME FILE - authres_check.py on one delivered message with
# what stack NAME writes (its authserv-id; OpenDKIM and OpenDMARC add one
# field each); true if it passes
ipf_authres() {
    local args=(--expect dkim=pass --expect spf=pass --expect dmarc=pass)
    case $1 in
        "no milter") args=(--none) ;;
        authmilter) args+=(--authserv-id mx.bench.example) ;;
        OpenDKIM*) args+=(--authserv-id mx.bench.example --several --lenient) ;;
        # rspamd names the MTA (Postfix's myhostname, macro j)
        rspamd*) args+=(--authserv-id mx.test.example --lenient) ;;
    esac
    "$IT_PY" "$IT_LIB_DIR/authres_check.py" "$2" "${args[@]}" \
        > "$IT_DIR/tmp/ipf-authres.out" 2>&1
}

# ipf_ar_text NAME - IPF_AR[NAME], what stack NAME's A-R said over its
# rounds so far; in bold where it did not say pass
ipf_ar_text() {
    local n=$1 t
    t="${IPF_PASS[$n]:-0} of ${IPF_FILES[$n]:-0} pass"
    [ "${IPF_PASS[$n]:-0}" = "${IPF_FILES[$n]:-0}" ] && [ "${IPF_FILES[$n]:-0}" -gt 0 ] ||
        t="**$t**"
    if [ "${IPF_ARBAD[$n]:-0}" -gt 0 ]; then
        t="$t; authres_check: **failed in ${IPF_ARBAD[$n]} round(s)**"
    else
        t="$t; authres_check: pass"
    fi
    [ "${IPF_GNOTES[$n]:-0}" -gt 0 ] && t="$t (${IPF_GNOTES[$n]} RFC 8601 grammar notes)"
    IPF_AR[$n]=$t
}

# ipf_phase NAME MILTERS - Postfix with smtpd_milters = MILTERS (none if
# empty), an uncounted warm-up, then IPF_MSGS messages; records the round
# (IPF_ALL, and the best round's figures) and sets IPF_LAST to its msg/s
ipf_phase() {
    local name=$1 json=$IT_DIR/tmp/ipf.$RANDOM.json before rc r
    local b0 b1 m0=0 m1=0 t0 t1 hz ncpu acc xc errs pass files f notes note=""
    IPF_LAST=""
    it_postfix_start "$2" || { say "Postfix does not start"; BENCH_BAD=$((BENCH_BAD + 1)); return 1; }
    before=$(it_sink_count)
    ipf_load "$IPF_WARMUP" "$json.warm" || say "inbound Postfix, $name: warm-up failed"
    it_wait_for_sink $((before + IPF_WARMUP)) 60
    hz=$(getconf CLK_TCK)
    ncpu=$(nproc)
    b0=$(awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat)
    [ -n "$2" ] && m0=$(inb_cpu)
    t0=$(date +%s.%N)
    ipf_load "$IPF_MSGS" "$json"
    rc=$?
    t1=$(date +%s.%N)
    b1=$(awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat)
    [ -n "$2" ] && m1=$(inb_cpu)
    [ -n "${IPF_ALL[$name]:-}" ] || COMMANDS+=("$IPF_CMDLINE   # inbound through Postfix: $name")
    acc=$(jget "$json" accepted)
    xc=$(jget "$json" xclient)
    errs=$(jget "$json" errors)
    r=$(calc "$(jget "$json" msgs_per_s)" %.0f)
    if [ "$rc" != 0 ] || [ "${acc:-0}" != "$IPF_MSGS" ] || [ "${xc:-0}" != "$IPF_MSGS" ]; then
        note="**FAIL**: $acc of $IPF_MSGS accepted, $xc through XCLIENT, $errs errors (exit $rc)"
        head -n 5 "$json.err" >&2
    fi
    it_wait_for_sink $((before + ${acc:-0})) 180 || note="${note:-**FAIL**: not all delivered}"
    # the warm-up's messages are in the sink too: every one must pass
    read -r pass files <<< "$(ipf_tally)"
    f=$(find "$IT_DIR/sink" -type f | head -n 1)
    if [ "$name" = "no milter" ]; then
        IPF_AR[$name]="none (as expected)"
        ipf_authres "$name" "$f" || { IPF_AR[$name]="**unexpected A-R**"; note=${note:-**FAIL**}; }
    else
        IPF_PASS[$name]=$(( ${IPF_PASS[$name]:-0} + pass ))
        IPF_FILES[$name]=$(( ${IPF_FILES[$name]:-0} + files ))
        [ "$pass" = "$files" ] && [ "$pass" -gt 0 ] || note=${note:-**FAIL**: A-R not all pass}
        if [ -n "$f" ] && ipf_authres "$name" "$f"; then
            notes=$(grep -c '^NOTE' "$IT_DIR/tmp/ipf-authres.out")
            IPF_GNOTES[$name]=$(( ${IPF_GNOTES[$name]:-0} + notes ))
        else
            IPF_ARBAD[$name]=$(( ${IPF_ARBAD[$name]:-0} + 1 ))
            note=${note:-**FAIL**: authres_check}
            sed 's/^/    /' "$IT_DIR/tmp/ipf-authres.out" >&2
        fi
        [ -n "${IPF_ARTEXT[$name]:-}" ] || IPF_ARTEXT[$name]=$(sed -n \
            -e 's/^  \(Authentication-Results: \)/\1/p' -e '/^NOTE/p' "$IT_DIR/tmp/ipf-authres.out")
        ipf_ar_text "$name"
    fi
    if [ -n "$note" ]; then
        BENCH_BAD=$((BENCH_BAD + 1))
        IPF_NOTE[$name]=$note
        say "inbound through Postfix, $name: $note"
        cp "$f" "$IT_DIR/tmp/ipf-failed.$RANDOM.eml" 2> /dev/null
    fi
    IPF_LAST=$r
    IPF_ALL[$name]="${IPF_ALL[$name]:-}${IPF_ALL[$name]:+, }$r"
    say "inbound through Postfix, $name: $IPF_MSGS messages, $r msg/s, A-R ${IPF_AR[$name]}"
    # the best round, as e2e_phase keeps it
    if [ "${r:-0}" -gt "${IPF_RATE[$name]:-0}" ]; then
        IPF_RATE[$name]=$r
        IPF_P50[$name]=$(jget "$json" lat_p50_ms)
        IPF_P99[$name]=$(jget "$json" lat_p99_ms)
        IPF_BUSY[$name]=$(calc "100 * ($b1 - $b0) / ($hz * $ncpu * ($t1 - $t0))" %.0f)
        IPF_MCPU[$name]=$(calc "1000 * ($m1 - $m0) / $hz / $IPF_MSGS" %.3f)
    fi
    it_postfix_stop
    it_sink_clear
}

# ipf_stack NAME ROUND ALL - start stack NAME on cores ALL, run its phase,
# stop it; its msg/s goes to got[NAME/ROUND] (the caller's)
ipf_stack() {
    local name=$1 round=$2 all=$3 ok=1
    IPF_LAST=""
    case $name in
        authmilter)
            DAEMON_CPU=$all inb_am_start rfc9989 "$U_AM" &&
                ipf_phase "$name" "$U_AM" || ok=0 ;;
        OpenDKIM*)
            DAEMON_CPU=$all inb_od_start "$U_OD" "$U_ODM" &&
                ipf_phase "$name" "$U_OD, $U_ODM" || ok=0 ;;
        rspamd*)
            DAEMON_CPU=$all rs_start inbound "$U_RS" &&
                ipf_phase "$name" "$U_RS" || ok=0
            rs_offline_check "$RS_LOG" || { ok=0; IPF_NOTE[$name]="**rspamd reached for the network**"; } ;;
    esac
    inb_stop
    if [ "$ok" = 0 ] && [ -z "${IPF_NOTE[$name]:-}" ]; then
        IPF_NOTE[$name]="**did not start** (round $round)"
        BENCH_BAD=$((BENCH_BAD + 1))
    fi
    got[$name/$round]=$IPF_LAST
}

# ipf_all - the phases, BENCH_E2E_ROUNDS rounds, a no-milter run before
# each round and after the last; IPF_RATIO[NAME] is the median over rounds
# of its msg/s over the mean of the no-milter runs around its round
ipf_all() {
    local all round name
    local -a none=() stacks=(authmilter)
    local -A got=()
    [ "$E2E" = yes ] || { IPF_STATE="not run: $E2E"; return 0; }
    [ $((IPF_MSGS % IPF_CONNS)) = 0 ] || IPF_MSGS=$(( (IPF_MSGS / IPF_CONNS + 1) * IPF_CONNS ))
    have opendkim opendmarc unshare && stacks+=("OpenDKIM + OpenDMARC")
    have rspamd && stacks+=("rspamd 3.4")
    all="0-$(( $(nproc) - 1 ))"
    say "inbound through Postfix: ${stacks[*]}, $IPF_MSGS messages a phase"
    e2e_spool_mount
    it_sink_start || { IPF_STATE="failed (smtp-sink)"; e2e_spool_umount; return 1; }
    for ((round = 1; round <= E2E_ROUNDS; round++)); do
        ipf_phase "no milter" ""
        none[round]=$IPF_LAST
        for name in "${stacks[@]}"; do
            ipf_stack "$name" "$round" "$all"
        done
    done
    ipf_phase "no milter" ""
    none[E2E_ROUNDS + 1]=$IPF_LAST
    for name in "${stacks[@]}"; do
        IPF_RATIO[$name]=$(e2e_median "$(e2e_round_ratios "$name")")
    done
    it__stop sink
    e2e_spool_umount
    IPF_STATE=yes
}

# ipf_target - the line of inb_targets' table: the three in one run
ipf_target() {
    local am=${IPF_RATIO[authmilter]:-?} od=${IPF_RATIO[OpenDKIM + OpenDMARC]:-?}
    local rs=${IPF_RATIO[rspamd 3.4]:-?}
    if [ "$IPF_STATE" != yes ]; then
        echo "| Inbound through Postfix: authmilter, OpenDKIM + OpenDMARC and rspamd in the same run | $IPF_STATE | not measured |"
        return 0
    fi
    echo "| Inbound through Postfix: authmilter, OpenDKIM + OpenDMARC and rspamd in the same run | × no milter (median of rounds): authmilter **$am**, OpenDKIM + OpenDMARC **$od**, rspamd **$rs**; best msg/s ${IPF_RATE[authmilter]:-?}, ${IPF_RATE[OpenDKIM + OpenDMARC]:-?}, ${IPF_RATE[rspamd 3.4]:-?} (no milter ${IPF_RATE[no milter]:-?}) | reported |"
}

# ipf_report - the "Inbound through Postfix" section of the report
ipf_report() {
    local c
    echo "## Inbound through Postfix (issue 20)"
    echo
    if [ "$IPF_STATE" != yes ]; then
        echo "${IPF_STATE^}${INB_SKIP:+ ($INB_SKIP)}."
        return 0
    fi
    echo "The inbound rows' mail through the test harness's private Postfix"
    echo "on loopback (test/integration/lib.sh), smtp-sink behind it, the"
    echo "milters on unix sockets, nothing pinned: \`milterload -X\` (test/bench)"
    echo "sends $IPF_MSGS 10 KB messages per phase, after an $IPF_WARMUP-message"
    echo "warm-up, over $IPF_CONNS connections at once, one SMTP session per"
    echo "message as smtp-source does (no pipelining), each from the outside"
    echo "client $INB_IP with HELO $INB_HELO through XCLIENT (the harness's"
    echo "main.cf has smtpd_authorized_xclient_hosts = 127.0.0.0/8). Each"
    echo "message carries one RSA-2048 DKIM-Signature of its From domain,"
    echo "signed once before the clock starts; the $INB_WARM warm sender domains"
    echo "are reused, each with SPF through one include: and DMARC p=reject,"
    echo "served by the same knotd as the inbound rows. msg/s = messages /"
    echo "milterload's wall time (Postfix accepts a message only after every"
    echo "milter's end-of-message reply); p50 and p99 run from a session's"
    echo "connect to the reply to its data. Stacks: authmilter (dmarc_mode ="
    echo "rfc9989); OpenDKIM (Mode v) then OpenDMARC, \`smtpd_milters ="
    echo "opendkim, opendmarc\`; rspamd's milter proxy with only dkim, spf and"
    echo "dmarc (the inbound rows' set-ups). The phases ran $E2E_ROUNDS times in"
    echo "turn, with a no-milter run before each round and one after the last;"
    echo "\"× no milter\" is the median over rounds of each stack's rate divided"
    echo "by the mean of the no-milter runs around its round; the other columns"
    echo "show each phase's best round, the last one every round's msg/s."
    echo "\"Milter CPU\" is the CPU time of every process of the stack (both"
    echo "daemons of the chain, rspamd's whole process tree) per message. A row"
    echo "counts only if every message was accepted through XCLIENT and the"
    echo "delivered messages (smtp-sink's dumps, warm-up included, every round"
    echo "counted) carry the stack's Authentication-Results saying dkim=pass,"
    echo "spf=pass and dmarc=pass; the first one of each phase also goes through"
    echo "test/integration/authres_check.py (authmilter's A-R must also meet the"
    echo "RFC 8601 grammar exactly; the others' are parsed by python3-authres)."
    echo "Postfix's queue and smtp-sink's dumps were on ${E2E_SPOOL:-?}."
    echo
    echo "| Milter(s) | msg/s | × no milter | p50 ms | p99 ms | all cores busy | milter CPU per message | Authentication-Results delivered | every round, msg/s | |"
    echo "|---|---|---|---|---|---|---|---|---|---|"
    for c in "no milter" authmilter "OpenDKIM + OpenDMARC" "rspamd 3.4"; do
        [ -n "${IPF_ALL[$c]:-}" ] || continue
        echo "| $c | ${IPF_RATE[$c]:-?} | $( [ "$c" = "no milter" ] && echo 1.00 || echo "${IPF_RATIO[$c]:-?}") | ${IPF_P50[$c]:-?} | ${IPF_P99[$c]:-?} | ${IPF_BUSY[$c]:-?}% | $( [ "$c" = "no milter" ] && echo – || echo "${IPF_MCPU[$c]:-?} ms") | ${IPF_AR[$c]:-?} | ${IPF_ALL[$c]} | ${IPF_NOTE[$c]:-ok} |"
    done
    echo
    echo "What each stack wrote, in one delivered message of its first round"
    echo "(as authres_check.py printed it, with its notes on the RFC 8601 grammar):"
    echo
    echo '```'
    for c in authmilter "OpenDKIM + OpenDMARC" "rspamd 3.4"; do
        [ -n "${IPF_ARTEXT[$c]:-}" ] || continue
        echo "# $c"
        echo "${IPF_ARTEXT[$c]}"
    done
    echo '```'
    echo
    echo "Commands (per phase; Postfix started with the phase's smtpd_milters):"
    echo
    echo '```'
    for c in "${COMMANDS[@]}"; do
        case $c in *"inbound through Postfix"*) echo "$c" ;; esac
    done
    echo '```'
}
