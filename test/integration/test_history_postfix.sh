#!/usr/bin/env bash
# test_history_postfix.sh - the DMARC history and the aggregate reports
# through a real Postfix: inbound mail from outside clients (XCLIENT) is
# judged by authmilter with history = sqlite:..., and the rows the writer
# thread stores hold what the message brought (source IP, envelope and
# header domains, SPF result, domain and scope, each DKIM signature, the
# published policy, the result, the disposition applied, the reasons, the
# rua URIs). authmilter-report then writes (--dry-run) and sends (through
# this Postfix's sendmail(1) to the smtp-sink) one report per domain:
# the MIME structure and gzip are checked with /usr/bin/python3's email
# and gzip modules, the XML against RFC 7489's schema with xmllint
# (test/rfc7489-aggregate.xsd), and the counts with an independent parser,
# Debian's Mail::DMARC (dmarc_report_read.pl); a destination in another
# domain is used only when its DNS authorises it, a size limit (!1k) is
# honoured, a second send sends nothing, the same by SMTP to a relay
# (report_sendmail = smtp:HOST:PORT), prune empties the history. A
# store that cannot be opened drops and counts, and mail still flows.
#
# knotd serves hist.example (one sender domain per scenario, records made
# here), reports.example and other.example (report destinations); dkimpy
# signs in smtpsend.py; the rows are read with the sqlite3 command-line
# tool (Debian's sqlite3).
# Needs root and a built daemon: AUTHMILTER=path, or BUILD_DIR with
# milter/authmilter in it. About 15 s.
# shellcheck disable=SC2317 # helpers run through it_check look unreachable
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

it_init history_postfix
REPORT=${AUTHMILTER_REPORT:-$(dirname "$AUTHMILTER")/authmilter-report}
it_require "$AUTHMILTER" "$REPORT" sqlite3 xmllint curl
it_plan 43
Z=hist.example
GOOD=192.0.2.20         # permitted by every SPF record of $Z
BAD=192.0.2.99          # permitted by none

key=$IT_DIR/keys/pass.$Z.s1.pem
(umask 077; openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
    -out "$key") 2> /dev/null || { echo "Bail out! keygen"; exit 1; }
it_zone_add $Z "s1._domainkey.pass.$Z. 300 IN TXT $(it_dkim_record "$key")"
it_zone_add $Z "helo.$Z. 300 IN A $GOOD"
it_zone_add $Z "helo.$Z. 300 IN TXT \"v=spf1 ip4:$GOOD -all\""
for d in pass quar rej big; do
    it_zone_add $Z "$d.$Z. 300 IN TXT \"v=spf1 ip4:$GOOD -all\""
done
it_zone_add $Z "_dmarc.pass.$Z. 300 IN TXT \"v=DMARC1; p=reject; sp=quarantine; adkim=s; rua=mailto:dmarc@pass.$Z\""
it_zone_add $Z "_dmarc.quar.$Z. 300 IN TXT \"v=DMARC1; p=quarantine; rua=mailto:agg@reports.example!10k,mailto:x@pass.$Z\""
it_zone_add $Z "_dmarc.rej.$Z. 300 IN TXT \"v=DMARC1; p=reject; rua=mailto:agg@other.example\""
it_zone_add $Z "_dmarc.big.$Z. 300 IN TXT \"v=DMARC1; p=none; rua=mailto:dmarc@big.$Z!1k\""
# reports.example takes quar's reports (RFC 7489 7.1); other.example no one's
it_zone_add reports.example "quar.$Z._report._dmarc.reports.example. 300 IN TXT \"v=DMARC1\""
it_zone_add other.example "www.other.example. 300 IN A 192.0.2.80"
it_dns_start || { echo "Bail out! knotd"; exit 1; }
it_sink_start || { echo "Bail out! smtp-sink"; exit 1; }

DB=$IT_DIR/milter/history.db
conf=$IT_DIR/milter/history.conf
MPORT=${IT_METRICS_PORT:-}
it_free_port MPORT
it_authmilter_conf "$conf"
echo "history = sqlite:$DB" >> "$conf"
echo "metrics_listen = 127.0.0.1:$MPORT" >> "$conf"
cat >> "$conf" <<EOF
report_sender = dmarc-reports@mx.test.example
report_org_name = Test Receiver
report_contact = postmaster@mx.test.example
report_sendmail = $(command -v sendmail) -C $IT_DIR/pf/etc -t -i
EOF
conf_bad=$IT_DIR/milter/history-bad.conf
it_authmilter_conf "$conf_bad"
echo "history = $IT_DIR/no-such-dir/history.db" >> "$conf_bad"

N=0
# send NAME FROM-IP SMTPSEND-ARGS... - submit from outside client FROM-IP
send() {
    local name=$1 ip=$2
    shift 2
    N=$((N + 1))
    it_submit "$name" --xclient-addr "$ip" --helo "helo.$Z" \
        --subject "history_postfix message [$N]" "$@"
}

# q SQL - one query's rows, fields separated by |
q() {
    sqlite3 -batch -separator '|' "$DB" "$1"
}

# rows_are N - true once the history holds N messages
rows_are() {
    [ "$(q 'SELECT COUNT(*) FROM messages' 2> /dev/null)" = "$1" ]
}

# row_is NAME WHERE EXPECTED - the message row matching WHERE has these
# columns: envelope_from|envelope_to|header_from|spf_result|spf_domain|
# spf_scope|spf_aligned|dkim_aligned|policy_domain|p|sp|np|adkim|aspf|pct|
# result|disposition|reasons|rua
row_is() {
    local got
    got=$(q "SELECT envelope_from, envelope_to, header_from, spf_result,
        spf_domain, spf_scope, spf_aligned, dkim_aligned, policy_domain, p, sp,
        np, adkim, aspf, pct, result, disposition, reasons, rua
        FROM messages WHERE $2")
    if [ "$got" = "$3" ]; then
        it_ok "$1"
    else
        it_fail "$1" "got '$got', wanted '$3'"
    fi
}

it_milter_start_authmilter "$conf" || { echo "Bail out! authmilter"; exit 1; }
it_postfix_start "$IT_MILTER_SOCKET" || { echo "Bail out! postfix"; exit 1; }

T_BEGIN=$(date +%s)
send "pass: signed, aligned SPF" $GOOD --from a@pass.$Z \
    --dkim "pass.$Z:s1:$key"
it_relayed "pass" || true
send "pass: unsigned, aligned SPF" $GOOD --from b@pass.$Z
# SPF passes for postmaster@helo.$Z, not aligned with pass.$Z: p=reject
it_submit_refused "null sender: SPF of the HELO name, unaligned, refused" 550 \
    --xclient-addr $GOOD --helo "helo.$Z" --from "" --header-from c@pass.$Z
send "quar: SPF fail, quarantined" $BAD --from a@quar.$Z
it_submit_refused "rej: SPF fail, p=reject refused" 550 --xclient-addr $BAD \
    --helo "helo.$Z" --from a@rej.$Z
send "big: p=none, aligned SPF" $GOOD --from a@big.$Z
it_check "the writer stored the six messages" it_wait_for 10 rows_are 6
# ctl_history LINE - authmilterctl status shows this history line
ctl_history() {
    "$(dirname "$AUTHMILTER")/authmilterctl" -c "$conf" status | grep -qxF "$1"
}
it_check "authmilterctl status counts them: 6 written, none dropped" \
    it_wait_for 5 ctl_history \
    "history: 6 written, 0 waiting, dropped 0 (queue full) and 0 (store unavailable)"
it_check "metrics: authmilter_history_records_written_total 6, none dropped" \
    sh -c 'curl -sS -f "http://127.0.0.1:$1/metrics" > "$2" &&
        grep -qx "authmilter_history_records_written_total 6" "$2" &&
        grep -qx "authmilter_history_records_dropped_total{reason=\"queue_full\"} 0" "$2"' \
    sh "$MPORT" "$IT_DIR/tmp/metrics.txt"
it_check "the store was opened and migrated (logged)" \
    it_wait_logged 5 "history: store sqlite:.* open \(schema version 4\)"
it_check "schema_version holds versions 1 to 4 (3: the received reports, 4: the stored bounce addresses)" \
    test "$(q 'SELECT group_concat(version) FROM schema_version')" = "1,2,3,4"
it_check "the database is in WAL mode" \
    test "$(q 'PRAGMA journal_mode')" = wal
row_is "signed pass row" "envelope_from = 'pass.$Z' AND dkim_aligned = 1" \
    "pass.$Z|dest.test.example|pass.$Z|pass|pass.$Z|mfrom|1|1|pass.$Z|reject|quarantine||s|r|100|pass|none||mailto:dmarc@pass.$Z"
it_check "signed pass row: its signature d=pass.$Z s=s1 pass, from $GOOD" \
    test "$(q "SELECT m.source_ip || ' ' || s.domain || ' ' || s.selector ||
        ' ' || s.result FROM messages m JOIN signatures s ON s.message_id = m.id")" \
    = "$GOOD pass.$Z s1 pass"
row_is "unsigned pass row" "envelope_from = 'pass.$Z' AND dkim_aligned = 0" \
    "pass.$Z|dest.test.example|pass.$Z|pass|pass.$Z|mfrom|1|0|pass.$Z|reject|quarantine||s|r|100|pass|none||mailto:dmarc@pass.$Z"
row_is "null sender row: SPF scope helo, not aligned" "envelope_from = ''" \
    "|dest.test.example|pass.$Z|pass|helo.$Z|helo|0|0|pass.$Z|reject|quarantine||s|r|100|fail|reject||mailto:dmarc@pass.$Z"
row_is "quarantined row" "header_from = 'quar.$Z'" \
    "quar.$Z|dest.test.example|quar.$Z|fail|quar.$Z|mfrom|0|0|quar.$Z|quarantine|||r|r|100|fail|quarantine||mailto:agg@reports.example!10240 mailto:x@pass.$Z"
row_is "rejected row" "header_from = 'rej.$Z'" \
    "rej.$Z|dest.test.example|rej.$Z|fail|rej.$Z|mfrom|0|0|rej.$Z|reject|||r|r|100|fail|reject||mailto:agg@other.example"
it_check "source addresses: $GOOD four times, $BAD twice" \
    test "$(q "SELECT group_concat(source_ip || ':' || n) FROM (SELECT
        source_ip, COUNT(*) AS n FROM messages GROUP BY source_ip ORDER BY
        source_ip)")" = "$GOOD:4,$BAD:2"
it_check "times are now (within 5 minutes)" \
    test "$(q "SELECT COUNT(*) FROM messages WHERE abs(received -
        strftime('%s', 'now')) < 300")" = 6

# ------------------------------------------------------------ reports

T_END=$(($(date +%s) + 1))
DRY=$IT_DIR/tmp/dry
XSD=$IT_DIR/tmp/rfc7489.xsd
mkdir -p "$DRY"
# RFC 7489's schema without its targetNamespace (see the file's header)
sed 's/ targetNamespace="[^"]*"//; s/^ *targetNamespace="[^"]*">/>/' \
    "$IT_SRC_DIR/test/rfc7489-aggregate.xsd" > "$XSD"
OUT=$IT_DIR/tmp/report.out
# report ARGS... - authmilter-report with the test's conf, output in $OUT
report() {
    "$REPORT" -c "$conf" "$@" > "$OUT" 2>&1
    local rc=$?
    cat "$OUT"
    return $rc
}
# said REGEX - the last report run printed a line matching REGEX
said() {
    grep -Eq "$1" "$OUT"
}
# parsed FILE... - what Mail::DMARC reads in the messages
parsed() {
    perl "$IT_LIB_DIR/dmarc_report_read.pl" "$@" 2> /dev/null | grep -E '^(parsed|row|total) '
}

it_check "send --dry-run writes the messages" report send --begin "$T_BEGIN" \
    --end "$T_END" --dry-run "$DRY"
it_check "dry run: one message each for pass.$Z and quar.$Z, none else" \
    test "$(cd "$DRY" && ls | sed 's/![0-9]*![0-9]*!.*//' | sort | tr '\n' ' ')" \
    = "mx.test.example!pass.$Z mx.test.example!quar.$Z "
it_check "external destination without its record skipped (x@pass.$Z for quar.$Z)" \
    said "^quar\.$Z: not sent to x@pass\.$Z: pass\.$Z does not take reports"
it_check "external destination authorised by reports.example: written" \
    grep -l "^To: agg@reports.example" "$DRY"/*quar*.eml
it_check "other.example does not authorise: rej.$Z's report goes nowhere" \
    said "^rej\.$Z: not sent to agg@other\.example"
it_check "the size limit !1k of big.$Z's destination is honoured" \
    said "^big\.$Z: not sent to dmarc@big\.$Z: [0-9]+ bytes, over its limit of 1024"
it_check "MIME, file name, subject and gzip as RFC 7489 7.2.1.1 (python email, gzip)" \
    "$IT_PY" "$IT_LIB_DIR/report_mime_check.py" "$IT_DIR/tmp/xml" \
    mx.test.example "$DRY"/*.eml
it_check "the XML validates against RFC 7489 Appendix C's schema (xmllint)" \
    xmllint --noout --schema "$XSD" "$IT_DIR"/tmp/xml/*.xml
it_check "Mail::DMARC reads pass.$Z's report: 3 messages in 3 rows" \
    test "$(parsed "$DRY"/*pass*.eml | sed 's/ [0-9]* [0-9]* p=/ p=/')" = \
"parsed pass.$Z Test Receiver pass.$Z.$T_BEGIN.$T_END@mx.test.example p=reject sp=quarantine pct=100
row $GOOD 1 none dkim=pass spf=pass pass.$Z
row $GOOD 1 none dkim=fail spf=pass pass.$Z
row $GOOD 1 reject dkim=fail spf=fail pass.$Z
total pass.$Z 3"
it_check "Mail::DMARC: the same counts as the history" \
    test "$(parsed "$DRY"/*.eml | sed -n 's/^total //p' | tr '\n' ' ')" = \
    "$(q "SELECT policy_domain || ' ' || COUNT(*) FROM messages WHERE
        policy_domain IN ('pass.$Z', 'quar.$Z') GROUP BY policy_domain
        ORDER BY policy_domain" | tr '|\n' '  ')"
it_check "dry run records nothing as sent" \
    test "$(q 'SELECT COUNT(*) FROM reports_sent')" = 0

sent_before=$(it_sink_count)
it_check "send: through Postfix's sendmail(1)" report send --begin "$T_BEGIN" \
    --end "$T_END"
it_check "send: two reports reach the sink" it_wait_for_sink $((sent_before + 2))
it_check "send: the one to agg@reports.example reads back (Mail::DMARC): 1 message of quar.$Z" \
    test "$(parsed "$(grep -l '^To: agg@reports.example' "$IT_DIR"/sink/*.* | head -n 1)" \
        | grep -c "^row $BAD 1 quarantine dkim=fail spf=fail quar.$Z$")" = 1
it_check "reports_sent: pass and quar sent, big and rej skipped for good" \
    test "$(q "SELECT group_concat(policy_domain || ':' || status, ' ') FROM
        (SELECT * FROM reports_sent ORDER BY policy_domain)")" = \
    "big.$Z:skipped pass.$Z:sent quar.$Z:sent rej.$Z:skipped"
it_check "a second send sends nothing again" sh -c '
    "$1" -c "$2" send --begin "$3" --end "$4" > "$5" 2>&1 &&
    [ "$(grep -c "was sent already" "$5")" = 4 ] && ! grep -q " sent to " "$5"' \
    sh "$REPORT" "$conf" "$T_BEGIN" "$T_END" "$OUT"
# the same reports by SMTP to a relay (the sink itself), for a period one
# second longer (new report ids)
conf_smtp=$IT_DIR/milter/history-smtp.conf
sed "s|^report_sendmail = .*|report_sendmail = smtp:127.0.0.1:$IT_SINK_PORT|" \
    "$conf" > "$conf_smtp"
# sink_files - the messages the sink holds
sink_files() {
    find "$IT_DIR/sink" -type f | wc -l
}
files_before=$(sink_files)
it_check "send by SMTP to a relay (report_sendmail = smtp:127.0.0.1:PORT)" sh -c '
    "$1" -c "$2" send --begin "$3" --end "$4" > "$5" 2>&1 &&
    grep -q "^quar.hist.example: report of 1 messages sent to agg@reports.example" "$5"' \
    sh "$REPORT" "$conf_smtp" "$((T_BEGIN - 1))" "$T_END" "$OUT"
it_check "... the relay has both reports; each to agg@reports.example reads back (Mail::DMARC)" \
    sh -c '[ "$(find "$1" -type f | wc -l)" -ge "$2" ] &&
        for f in $(grep -l "^To: agg@reports.example" "$1"/*.*); do
            perl "$3" "$f" 2> /dev/null | grep -qx "total quar.hist.example 1" || exit 1
        done' sh "$IT_DIR/sink" "$((files_before + 2))" "$IT_LIB_DIR/dmarc_report_read.pl"
it_check "prune removes the history before a time" report prune --before "$T_END"
it_check "prune: no message row left" rows_are 0
it_milter_stop

# a store that cannot be opened: mail flows, the drops are counted
it_milter_start_authmilter "$conf_bad" || { echo "Bail out! authmilter"; exit 1; }
send "store unavailable: message accepted" $GOOD --from d@pass.$Z
it_relayed "store unavailable: relayed" || true
it_check "store unavailable: logged, with the path" \
    it_wait_logged 5 "history: store unavailable, records wait in the queue.*no-such-dir"
it_milter_stop
it_check "store unavailable: the drop is counted and logged at stop" \
    grep -q "history: 1 records dropped (queue full: 0, store unavailable: 1" \
    "$IT_DIR/log/milter.log"
it_done
