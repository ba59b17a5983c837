# bench-stages.awk - perf script output (-F tid,ip,sym,dso, with call
# chains) to the stages of authmilter's inbound path, for
# contrib/bench-inbound.sh. Each sample goes to the first rule, in the
# order below, that any frame of its call chain matches: a sample inside
# libcrypto's decoder called by libopendkim is key decoding, not "DKIM";
# malloc, locks and kernel work go to the stage that called them. Rules
# name libraries and the module prefixes of milter/ (every external
# function is named after its file); a sample that matches none is
# "other". Prints: stage TAB share% TAB samples TAB the commonest first
# named function from the leaf, with its share of the stage.
# count - a sample: its stage, and the first named function from its leaf
function count(n,    st, i, f) {
    st = stage_of(n); cnt[st]++; total++
    f = "?"
    for (i = 1; i <= n; i++) if (sym[i] != "[unknown]") { f = sym[i] " [" dso[i] "]"; break }
    sub(/\[\/.*\//, "[", f)
    leaf[st, f]++
}
# one stage per sample: the first rule (in this order) that any frame of
# the sample's call chain matches
function stage_of(n,    i, r) {
    for (r = 0; r <= NR_RULES; r++)
        for (i = 1; i <= n; i++)
            if (match_rule(r, sym[i], dso[i]))
                return rule_name[r]
    return "other (no frame of a known stage)"
}
function match_rule(r, s, d) {
    if (r == 0) return s ~ /futex|^pthread_cond_(wait|signal|broadcast|timedwait)|^sem_(wait|post)/
    if (r == 1) return s ~ /^(d2i_|ASN1_d2i|ASN1_item_d2i|OSSL_DECODER|PEM_read|EVP_PKEY_fromdata|o2i_)/
    if (r == 2) return s ~ /^(RSA_verify|RSA_public_decrypt|EVP_PKEY_verify|EVP_DigestVerify|ossl_rsa_verify|BN_mod_exp)/
    if (r == 3) return s ~ /^(EVP_Digest|EVP_MD_|SHA256|SHA1|sha256)/
    if (r == 4) return d ~ /libopendkim/ || s ~ /^dkim_verify_/
    if (r == 5) return s ~ /^(spf_|SPF_)/ || d ~ /libspf2/
    if (r == 6) return s ~ /^(dmarc_|psl_)/ || d ~ /libpsl/
    if (r == 7) return s ~ /^dns_/ || d ~ /libunbound|libevent/
    if (r == 8) return s ~ /^authres_/
    if (r == 9) return s ~ /^(history|sqlite3)/ || d ~ /sqlite/
    if (r == 10) return s ~ /^(inbound|verdict|mode|forgery|edit|mailaddr|keys|config)_/
    if (r == 11) return d ~ /kernel/ || s ~ /^(engine|listener|mta|callbacks|cb|lmengine|state|buf)_/
    return 0
}
BEGIN {
    NR_RULES = 11
    rule_name[0] = "thread hand-offs (futex wait and wake, switches)"
    rule_name[1] = "DKIM public key decoding (OpenSSL decoder, ASN.1)"
    rule_name[2] = "RSA-2048 verify"
    rule_name[3] = "hashing (SHA-256, digest set-up)"
    rule_name[4] = "DKIM parsing and canonicalization (libopendkim, dkim_verify.c)"
    rule_name[5] = "SPF"
    rule_name[6] = "DMARC (record, public suffix)"
    rule_name[7] = "DNS: cache lookups, resolver thread"
    rule_name[8] = "Authentication-Results"
    rule_name[9] = "history"
    rule_name[10] = "inbound sequencing, edits, config"
    rule_name[11] = "milter protocol, system calls"
}
/^ *[0-9]/ { n = 0; insample = 1; next }	# the tid, padded to 5 columns: " 9716"
/^\t/ && insample {
    line = $0; sub(/^\t[ ]*[0-9a-f]+ /, "", line)
    d = line; sub(/.*\(/, "", d); sub(/\)$/, "", d)
    s = line; sub(/ \([^(]*\)$/, "", s); sub(/\+0x[0-9a-f]+$/, "", s)
    n++; sym[n] = s; dso[n] = d; next
}
/^$/ && insample { if (n > 0) count(n); insample = 0 }
END {
    if (insample && n > 0) count(n)
    for (s in cnt) {
        best = ""; bn = 0
        for (k in leaf) { split(k, kk, SUBSEP); if (kk[1] == s && leaf[k] > bn) { bn = leaf[k]; best = kk[2] } }
        printf "%s\t%.1f\t%d\t%s (%.0f%%)\n", s, 100 * cnt[s] / total, cnt[s], best, 100 * bn / cnt[s]
    }
    printf "TOTAL\t100\t%d\n", total
}
