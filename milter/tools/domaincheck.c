/*
 * domaincheck.c - check the DNS records a signing domain needs.
 *
 * Used by authmilter-check, before an operator switches a customer on:
 * every key's record (published, truncated, ...), the SPF record and its
 * lookup cost against the limit of 10, the DMARC record, and the custom
 * bounce domain. Read-only; single-threaded.
 */
#include <arpa/nameser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/buf.h"
#include "auth/dmarc.h"
#include "tools/domaincheck.h"
#include "policy/keyrecord.h"
#include "base/xalloc.h"

#define DOMAINCHECK_MAX_DEPTH 12	/* include nesting before we call it a loop */
#define DOMAINCHECK_MAX_WALK 40		/* records read per tree: more is a hostile
					 * fan-out (10 includes of 10 includes ...) */

static const char *const domaincheck_tags[] = { "OK  ", "WARN", "FAIL" };

/* domaincheck_line - print one verdict line, return its level */
static enum domaincheck_level
domaincheck_line(FILE *fp, enum domaincheck_level l, const char *what,
    const char *text)
{
	fprintf(fp, "%s %-40s %s\n", domaincheck_tags[l], what, text);
	return l;
}

/* domaincheck_spf_record - the single v=spf1 record at name into rec; count of them */
static int
domaincheck_spf_record(struct dns *d, const char *name, struct buf *rec,
    enum dns_status *st)
{
	struct dns_result r;
	struct buf txt = BUF_INIT;
	size_t i;
	int n = 0;

	*st = dns_resolve(d, name, ns_t_txt, 0, &r);
	for (i = 0; *st == DNS_OK && i < r.n; i++) {
		if (dns_txt(&r, i, &txt) != 0)
			continue;
		if (strncasecmp(buf_cstr(&txt), "v=spf1", 6) == 0
		    && (txt.len == 6 || buf_cstr(&txt)[6] == ' ')) {
			if (n++ == 0) {
				buf_reset(rec);
				buf_append(rec, txt.data, txt.len);
			}
		}
	}
	dns_result_free(&r);
	buf_free(&txt);
	return n;
}

/* domaincheck_spf_walk - count the lookups of one record and its includes */
static void
domaincheck_spf_walk(struct dns *d, const char *name, int depth,
    struct domaincheck_spf *out)
{
	struct buf rec = BUF_INIT;
	char *copy, *save = NULL, *t, *target;
	enum dns_status st;
	int n;

	if (depth > DOMAINCHECK_MAX_DEPTH || out->walked++ >= DOMAINCHECK_MAX_WALK) {
		out->loops++;
		return;
	}
	n = domaincheck_spf_record(d, name, &rec, &st);
	if (depth == 0)
		out->records = n;
	if (st == DNS_TEMPFAIL || st == DNS_BOGUS || st == DNS_ERROR) {
		out->errors++;
		return;
	}
	if (n == 0) {
		if (depth > 0)
			out->void_lookups++;
		buf_free(&rec);
		return;
	}
	if (depth == 0)
		(void)snprintf(out->detail, sizeof(out->detail), "%s", buf_cstr(&rec));
	copy = xstrdup(buf_cstr(&rec) + 6);
	for (t = strtok_r(copy, " ", &save); t != NULL; t = strtok_r(NULL, " ", &save)) {
		if (*t == '+' || *t == '-' || *t == '~' || *t == '?')
			t++;
		target = NULL;
		if (strncasecmp(t, "include:", 8) == 0)
			target = t + 8;
		else if (strncasecmp(t, "redirect=", 9) == 0)
			target = t + 9;
		else if (strncasecmp(t, "a", 1) == 0 && (t[1] == '\0' || t[1] == ':'
		    || t[1] == '/'))
			out->terms++;
		else if (strncasecmp(t, "mx", 2) == 0 && (t[2] == '\0' || t[2] == ':'
		    || t[2] == '/'))
			out->terms++;
		else if (strncasecmp(t, "ptr", 3) == 0 || strncasecmp(t, "exists:", 7) == 0)
			out->terms++;
		if (target != NULL) {
			out->terms++;
			if (strchr(target, '%') == NULL)	/* macros: cannot follow */
				domaincheck_spf_walk(d, target, depth + 1, out);
		}
	}
	free(copy);
	buf_free(&rec);
}

/* domaincheck_spf_cost - SPF record and its lookup cost */
void
domaincheck_spf_cost(struct dns *d, const char *domain,
    struct domaincheck_spf *out)
{
	memset(out, 0, sizeof(*out));
	domaincheck_spf_walk(d, domain, 0, out);
}

/* domaincheck_keys - one line per key */
static enum domaincheck_level
domaincheck_keys(struct dns *d, const struct config_domain *dom, FILE *fp)
{
	struct keyrecord_info info;
	enum domaincheck_level worst = DOMAINCHECK_OK, l;
	enum key_pub st;
	char what[300], text[900];
	size_t i;

	for (i = 0; i < dom->nkeys; i++) {
		st = keyrecord_key(d, dom->name, &dom->keys[i], &info);
		l = st == KEY_PUB_PUBLISHED ? DOMAINCHECK_OK : DOMAINCHECK_FAIL;
		if (st == KEY_PUB_PUBLISHED && info.longest > 255)
			l = DOMAINCHECK_WARN;
		(void)snprintf(what, sizeof(what), "DKIM %s._domainkey", dom->keys[i].selector);
		(void)snprintf(text, sizeof(text), "%s: %s %d-bit key; record %zu chars in "
		    "%zu string(s), longest %zu (%s)", keys_pub_name(st),
		    keys_type_name(dom->keys[i].type), dom->keys[i].bits,
		    info.record_len, info.nstrings, info.longest, info.detail);
		domaincheck_line(fp, l, what, text);
		if (l > worst)
			worst = l;
	}
	return worst;
}

/* domaincheck_spf - the SPF verdict line */
static enum domaincheck_level
domaincheck_spf(struct dns *d, const char *domain, const char *what, FILE *fp)
{
	struct domaincheck_spf s;
	char text[900];
	enum domaincheck_level l = DOMAINCHECK_OK;

	domaincheck_spf_cost(d, domain, &s);
	if (s.errors > 0) {
		l = DOMAINCHECK_FAIL;
		(void)snprintf(text, sizeof(text), "DNS errors while reading the record");
	} else if (s.records == 0) {
		l = DOMAINCHECK_WARN;
		(void)snprintf(text, sizeof(text), "no SPF record");
	} else if (s.records > 1) {
		l = DOMAINCHECK_FAIL;
		(void)snprintf(text, sizeof(text), "%d SPF records: permerror (RFC 7208 "
		    "4.5: exactly one)", s.records);
	} else {
		if (s.terms > 10 || s.loops > 0 || s.void_lookups > 2)
			l = DOMAINCHECK_FAIL;
		(void)snprintf(text, sizeof(text), "%d of 10 DNS lookups, %d void (limit "
		    "2)%s: %s", s.terms, s.void_lookups, s.loops ? ", include loop" : "",
		    s.detail);
	}
	return domaincheck_line(fp, l, what, text);
}

/* domaincheck_dmarc - the DMARC verdict line */
static enum domaincheck_level
domaincheck_dmarc(struct dns *d, const char *domain, FILE *fp)
{
	struct dns_result r;
	struct dmarc_record rec;
	struct buf name = BUF_INIT, txt = BUF_INIT;
	enum domaincheck_level l = DOMAINCHECK_WARN;
	char text[700];
	size_t i;
	int found = 0;

	(void)snprintf(text, sizeof(text), "no DMARC record");
	buf_printf(&name, "_dmarc.%s", domain);
	if (dns_resolve(d, buf_cstr(&name), ns_t_txt, 0, &r) == DNS_OK) {
		for (i = 0; i < r.n; i++) {
			if (dns_txt(&r, i, &txt) != 0
			    || dmarc_record_parse(txt.data, txt.len, &rec) != 0)
				continue;
			if (++found == 1) {
				l = rec.bad ? DOMAINCHECK_FAIL : rec.p == DMARC_POLICY_NONE
				    ? DOMAINCHECK_WARN : DOMAINCHECK_OK;
				(void)snprintf(text, sizeof(text), "p=%s%s (%s)",
				    dmarc_policy_name(rec.p), rec.bad ?
				    ", invalid p/sp/np" : rec.p == DMARC_POLICY_NONE ?
				    ", monitoring only" : "", buf_cstr(&txt));
			}
			dmarc_record_free(&rec);
		}
	} else if (r.status == DNS_TEMPFAIL) {
		l = DOMAINCHECK_FAIL;
		(void)snprintf(text, sizeof(text), "DNS error");
	}
	if (found > 1) {
		l = DOMAINCHECK_FAIL;
		(void)snprintf(text, sizeof(text), "%d DMARC records: receivers ignore "
		    "them all", found);
	}
	dns_result_free(&r);
	buf_free(&name);
	buf_free(&txt);
	return domaincheck_line(fp, l, "DMARC _dmarc", text);
}

/* domaincheck_bounce - the custom bounce domain must route back and pass SPF */
static enum domaincheck_level
domaincheck_bounce(struct dns *d, const char *bounce, FILE *fp)
{
	struct dns_result r;
	enum domaincheck_level l;
	char what[300];
	int has_mx, has_cname;

	dns_resolve(d, bounce, ns_t_mx, 0, &r);
	has_mx = r.status == DNS_OK;
	dns_result_free(&r);
	dns_resolve(d, bounce, ns_t_cname, 0, &r);
	has_cname = r.status == DNS_OK;
	dns_result_free(&r);
	(void)snprintf(what, sizeof(what), "bounce %s", bounce);
	l = domaincheck_line(fp, has_mx || has_cname ? DOMAINCHECK_OK :
	    DOMAINCHECK_FAIL, what, has_cname ? "CNAME present" : has_mx ?
	    "MX present" : "neither MX nor CNAME: bounces cannot come back");
	(void)snprintf(what, sizeof(what), "bounce SPF %s", bounce);
	if (domaincheck_spf(d, bounce, what, fp) > l)
		l = DOMAINCHECK_FAIL;
	return l;
}

/* domaincheck_domain - every check of one domain block */
enum domaincheck_level
domaincheck_domain(struct dns *d, const struct config_domain *dom, FILE *fp)
{
	enum domaincheck_level worst, l;

	fprintf(fp, "== %s\n", dom->name);
	worst = domaincheck_keys(d, dom, fp);
	if ((l = domaincheck_spf(d, dom->name, "SPF", fp)) > worst)
		worst = l;
	if ((l = domaincheck_dmarc(d, dom->name, fp)) > worst)
		worst = l;
	if (dom->bounce_domain != NULL && dom->bounce_domain[0] != '\0'
	    && (l = domaincheck_bounce(d, dom->bounce_domain, fp)) > worst)
		worst = l;
	fprintf(fp, "%s %s\n", domaincheck_tags[worst], dom->name);
	return worst;
}
