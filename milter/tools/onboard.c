/*
 * onboard.c - the onboarding checks of one customer domain (onboard.h).
 *
 * Every lookup goes through the daemon's resolver (dns_resolve), so one
 * call runs its queries one after the other; authmilter-check runs many
 * domains in as many threads, which bounds the queries in flight. Reads
 * nothing shared but the resolver and the borrowed platform and target;
 * writes only its result. Records from DNS are hostile input: every name
 * built from them is length-checked by the resolver (DNS_ERROR) and every
 * text shown is cut to its buffer.
 */
#include <arpa/nameser.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libpsl.h>

#include "auth/dmarc.h"
#include "base/buf.h"
#include "base/xalloc.h"
#include "policy/keyrecord.h"
#include "tools/onboard.h"

#define ONBOARD_SPF_LIMIT	10	/* RFC 7208 4.6.4 */
#define ONBOARD_VOID_LIMIT	2	/* RFC 7208 4.6.4 */
#define ONBOARD_MAX_DEPTH	12	/* include nesting taken for a loop */
#define ONBOARD_MAX_RECORDS	64	/* SPF records listed per domain */
#define ONBOARD_MAX_WALK	40	/* SPF records read per tree: a hostile
					 * fan-out of includes is not followed */

/* One domain's run: where the lookups go and where the verdicts land. */
struct onboard_ctx {
	struct dns *d;				/* borrowed */
	const struct onboard_platform *p;	/* borrowed */
	const struct onboard_target *t;		/* borrowed */
	struct onboard_result *r;		/* borrowed, written */
	char org[256];				/* the domain's organizational domain */
};

/* What an SPF tree costs and holds. */
struct onboard_spf {
	int records;		/* v=spf1 records at the top name */
	int total;		/* DNS-querying terms through includes */
	int voids;		/* includes/redirects that found nothing */
	int loops;		/* nesting too deep: a loop */
	int errors;		/* DNS errors */
	int platform;		/* the platform's include was met */
	int ptr;		/* ptr terms met */
	int plus_all;		/* +all (or all) at the top: anyone passes */
	int nseen;		/* records listed in seen */
	int walked;		/* records looked up */
	int stopped;		/* ONBOARD_MAX_WALK reached: counting stopped */
	char ptr_at[256];	/* the record holding the first ptr */
	char worst[256];	/* the top-level include costing most */
	int worst_cost;
	struct buf top;		/* the top record */
	struct buf breakdown;	/* "include:x 3, a 1, ..." */
	struct buf seen;	/* every record read */
};

/* DMARC record as found for the domain. */
struct onboard_dmarc {
	int found;			/* records at the name used */
	int errors;			/* DNS trouble */
	int inherited;			/* from the organizational domain */
	enum dmarc_policy policy;	/* p, or sp when inherited */
	struct dmarc_record rec;	/* the first record */
	char name[300];			/* where it was found */
	struct buf txt;			/* its text */
};

static const char *const onboard_kinds[ONBOARD_NKINDS] = {
	"dkim", "spf", "spf_platform", "dmarc", "alignment", "reports",
	"bounce", "bounce_spf", "bulk_sender",
};
static const char *const onboard_levels[] = { "OK", "WARN", "FAIL" };

/* onboard_kind_name - a check's name */
const char *
onboard_kind_name(enum onboard_kind k)
{
	return (unsigned)k < ONBOARD_NKINDS ? onboard_kinds[k] : "?";
}

/* onboard_level_name - "OK", "WARN", "FAIL" */
const char *
onboard_level_name(enum onboard_level l)
{
	return (unsigned)l <= ONBOARD_FAIL ? onboard_levels[l] : "?";
}

/* onboard_target_free - release a target */
void
onboard_target_free(struct onboard_target *t)
{
	size_t i;

	if (t == NULL)
		return;
	free(t->domain);
	free(t->bounce);
	free(t->keys);
	for (i = 0; i < t->nown; i++)
		keys_free(&t->own[i]);
	free(t->own);
	free(t->error);
	memset(t, 0, sizeof(*t));
}

/* onboard_org - organizational domain of name: its registrable domain, or itself */
void
onboard_org(const struct onboard_platform *p, const char *name, char *org,
    size_t orglen)
{
	const char *r = NULL;

	if (p->psl != NULL)
		r = psl_registrable_domain(p->psl, name);
	(void)snprintf(org, orglen, "%s", r != NULL ? r : name);
}

/* onboard_under - is name at or under zone (case-insensitive, no trailing dots)? */
static int
onboard_under(const char *name, const char *zone)
{
	size_t n = strlen(name), z = strlen(zone);

	if (n > 0 && name[n - 1] == '.')
		n--;
	if (z > 0 && zone[z - 1] == '.')
		z--;
	if (z == 0 || n < z)
		return 0;
	if (strncasecmp(name + n - z, zone, z) != 0)
		return 0;
	return n == z || name[n - z - 1] == '.';
}

/* onboard_same - are two names equal (case-insensitive, trailing dots ignored)? */
static int
onboard_same(const char *a, const char *b)
{
	return onboard_under(a, b) && strlen(a) - (a[0] && a[strlen(a) - 1] == '.')
	    == strlen(b) - (b[0] && b[strlen(b) - 1] == '.');
}

/* onboard_resolve - one lookup, counted */
static enum dns_status
onboard_resolve(struct onboard_ctx *x, const char *name, int type,
    struct dns_result *r)
{
	x->r->queries++;
	return dns_resolve(x->d, name, type, 0, r);
}

/* onboard_item_add - a new verdict of kind; returns it (valid until the next add) */
static struct onboard_item *
onboard_item_add(struct onboard_result *r, enum onboard_kind kind,
    const char *what)
{
	struct onboard_item *it;

	r->items = xreallocarray(r->items, r->n + 1, sizeof(*r->items));
	it = &r->items[r->n++];
	memset(it, 0, sizeof(*it));
	it->kind = kind;
	(void)snprintf(it->what, sizeof(it->what), "%s", what);
	return it;
}

/* onboard_set - an item's level and detail (printf) */
static void
onboard_set(struct onboard_item *it, enum onboard_level l, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void
onboard_set(struct onboard_item *it, enum onboard_level l, const char *fmt, ...)
{
	va_list ap;

	it->level = l;
	buf_reset(&it->detail);
	va_start(ap, fmt);
	buf_vprintf(&it->detail, fmt, ap);
	va_end(ap);
}

/* onboard_printable - text with control characters as '?' (DNS text is hostile) */
static void
onboard_printable(struct buf *out, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf_putc(out, (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i]);
}

/* onboard_txt_at - the TXT records at name: each "name TXT value" into seen; the answer in r */
static enum dns_status
onboard_txt_at(struct onboard_ctx *x, const char *name, struct dns_result *r,
    struct buf *seen)
{
	struct buf txt = BUF_INIT;
	size_t i;

	onboard_resolve(x, name, ns_t_txt, r);
	for (i = 0; seen != NULL && r->status == DNS_OK && i < r->n; i++) {
		if (dns_txt(r, i, &txt) != 0)
			continue;
		buf_printf(seen, "%s TXT \"", name);
		onboard_printable(seen, txt.data, txt.len);
		buf_puts(seen, "\"\n");
	}
	buf_free(&txt);
	return r->status;
}

/* onboard_spf_record - the v=spf1 records at name: the first into rec; how many */
static int
onboard_spf_record(struct onboard_ctx *x, const char *name, struct buf *rec,
    struct onboard_spf *s, enum dns_status *st)
{
	struct dns_result r;
	struct buf txt = BUF_INIT;
	size_t i;
	int n = 0;

	*st = onboard_resolve(x, name, ns_t_txt, &r);
	for (i = 0; *st == DNS_OK && i < r.n; i++) {
		if (dns_txt(&r, i, &txt) != 0)
			continue;
		if (strncasecmp(buf_cstr(&txt), "v=spf1", 6) != 0
		    || (txt.len > 6 && buf_cstr(&txt)[6] != ' '))
			continue;
		if (n++ == 0) {
			buf_reset(rec);
			onboard_printable(rec, txt.data, txt.len);
		}
		if (s->nseen++ < ONBOARD_MAX_RECORDS) {
			buf_printf(&s->seen, "%s TXT \"", name);
			onboard_printable(&s->seen, txt.data, txt.len);
			buf_puts(&s->seen, "\"\n");
		}
	}
	dns_result_free(&r);
	buf_free(&txt);
	return n;
}

/* onboard_spf_term - the lookup cost of one term (not counting includes); its target in *target */
static int
onboard_spf_term(char *t, char **target, int *is_all)
{
	*target = NULL;
	*is_all = 0;
	if (*t == '+' || *t == '-' || *t == '~' || *t == '?') {
		if (*t != '+' && strcasecmp(t + 1, "all") == 0)
			return 0;
		t++;
	}
	if (strcasecmp(t, "all") == 0) {
		*is_all = 1;
		return 0;
	}
	if (strncasecmp(t, "include:", 8) == 0) {
		*target = t + 8;
		return 1;
	}
	if (strncasecmp(t, "redirect=", 9) == 0) {
		*target = t + 9;
		return 1;
	}
	if ((t[0] == 'a' || t[0] == 'A') && (t[1] == '\0' || t[1] == ':' || t[1] == '/'))
		return 1;
	if (strncasecmp(t, "mx", 2) == 0 && (t[2] == '\0' || t[2] == ':' || t[2] == '/'))
		return 1;
	if (strncasecmp(t, "ptr", 3) == 0 && (t[3] == '\0' || t[3] == ':'))
		return 2;	/* 2: counted and flagged */
	if (strncasecmp(t, "exists:", 7) == 0)
		return 1;
	return 0;
}

/* onboard_spf_walk - the lookups of the record at name and its includes (recursive) */
static int
onboard_spf_walk(struct onboard_ctx *x, const char *name, int depth,
    struct onboard_spf *s)
{
	struct buf rec = BUF_INIT;
	char *copy, *save = NULL, *t, *target;
	enum dns_status st;
	int n, cost = 0, c, sub, is_all;

	if (depth > ONBOARD_MAX_DEPTH) {
		s->loops++;
		return 0;
	}
	if (s->walked++ >= ONBOARD_MAX_WALK) {
		s->stopped = 1;
		return 0;
	}
	n = onboard_spf_record(x, name, &rec, s, &st);
	if (depth == 0) {
		s->records = n;
		buf_append(&s->top, rec.data, rec.len);
	}
	if (st == DNS_TEMPFAIL || st == DNS_BOGUS || st == DNS_ERROR) {
		s->errors++;
		buf_free(&rec);
		return 0;
	}
	if (n == 0) {
		if (depth > 0)
			s->voids++;
		buf_free(&rec);
		return 0;
	}
	copy = xstrdup(buf_cstr(&rec) + 6);
	for (t = strtok_r(copy, " ", &save); t != NULL; t = strtok_r(NULL, " ", &save)) {
		c = onboard_spf_term(t, &target, &is_all);
		if (depth == 0 && is_all)
			s->plus_all = 1;
		if (c == 2) {
			c = 1;
			if (s->ptr++ == 0)
				(void)snprintf(s->ptr_at, sizeof(s->ptr_at), "%s", name);
		}
		sub = 0;
		if (target != NULL) {
			if (s->platform == 0 && x->p->spf_include[0] != '\0'
			    && onboard_same(target, x->p->spf_include))
				s->platform = 1;
			if (strchr(target, '%') == NULL)	/* macros: cannot follow */
				sub = onboard_spf_walk(x, target, depth + 1, s);
		}
		cost += c + sub;
		if (depth != 0 || c == 0)
			continue;
		if (s->breakdown.len > 0)
			buf_puts(&s->breakdown, ", ");
		onboard_printable(&s->breakdown, t, strlen(t));
		buf_printf(&s->breakdown, " %d", c + sub);
		if (target != NULL && c + sub > s->worst_cost) {
			s->worst_cost = c + sub;
			(void)snprintf(s->worst, sizeof(s->worst), "%s", t);
		}
	}
	free(copy);
	buf_free(&rec);
	return cost;
}

/* onboard_spf_free - release what an SPF walk holds */
static void
onboard_spf_free(struct onboard_spf *s)
{
	buf_free(&s->top);
	buf_free(&s->breakdown);
	buf_free(&s->seen);
}

/* onboard_spf_verdict - SPF record verdict of s into it; the level */
static enum onboard_level
onboard_spf_verdict(const struct onboard_spf *s, struct onboard_item *it)
{
	buf_append(&it->records, s->seen.data, s->seen.len);
	if (s->errors > 0)
		onboard_set(it, ONBOARD_FAIL, "DNS errors while reading the record");
	else if (s->records == 0)
		onboard_set(it, ONBOARD_FAIL, "no SPF record");
	else if (s->records > 1)
		onboard_set(it, ONBOARD_FAIL, "%d SPF records: permerror (RFC 7208 "
		    "4.5: exactly one)", s->records);
	else if (s->total > ONBOARD_SPF_LIMIT || s->loops > 0 || s->stopped
	    || s->voids > ONBOARD_VOID_LIMIT)
		onboard_set(it, ONBOARD_FAIL, "%s%d of 10 DNS lookups, %d void "
		    "(limit 2)%s: permerror; flatten %s (%d lookups); per term: %s",
		    s->stopped ? "at least " : "", s->total, s->voids, s->loops
		    ? ", include loop" : "",
		    s->worst[0] ? s->worst : "an include", s->worst_cost,
		    buf_cstr(&s->breakdown));
	else if (s->plus_all)
		onboard_set(it, ONBOARD_FAIL, "+all: every host on the internet "
		    "passes; per term: %s", buf_cstr(&s->breakdown));
	else if (s->ptr > 0)
		onboard_set(it, ONBOARD_WARN, "%d of 10 DNS lookups; ptr in %s: "
		    "RFC 7208 5.5 says do not use it (slow, receivers may ignore "
		    "it); per term: %s", s->total, s->ptr_at,
		    buf_cstr(&s->breakdown));
	else
		onboard_set(it, ONBOARD_OK, "%d of 10 DNS lookups, %d void; per "
		    "term: %s", s->total, s->voids, s->breakdown.len ?
		    buf_cstr(&s->breakdown) : "(none)");
	return it->level;
}

/* onboard_dkim - one verdict per key or selector */
static int
onboard_dkim(struct onboard_ctx *x)
{
	struct keyrecord_info info;
	struct onboard_item *it;
	struct dns_result r;
	struct buf name = BUF_INIT, txt = BUF_INIT;
	char what[300], ktype[32], *p;
	enum key_pub st;
	size_t i, j;
	int published = 0;

	if (x->t->nkeys == 0) {
		it = onboard_item_add(x->r, ONBOARD_DKIM, "DKIM");
		onboard_set(it, ONBOARD_WARN, "no selector given (--selector): the "
		    "customer's own DKIM record is not checked");
	}
	for (i = 0; i < x->t->nkeys; i++) {
		const struct onboard_key *k = &x->t->keys[i];

		buf_reset(&name);
		buf_printf(&name, "%s._domainkey.%s", k->selector, x->t->domain);
		(void)snprintf(what, sizeof(what), "DKIM %s._domainkey", k->selector);
		it = onboard_item_add(x->r, ONBOARD_DKIM, what);
		onboard_txt_at(x, buf_cstr(&name), &r, &it->records);
		if (k->key != NULL && k->key->pkey != NULL) {
			st = keyrecord_answer(buf_cstr(&name), k->key, &r, &info);
			onboard_set(it, st == KEY_PUB_PUBLISHED ? info.longest > 255
			    ? ONBOARD_WARN : ONBOARD_OK : ONBOARD_FAIL, "%s: %s %d-bit "
			    "key; record %zu chars in %zu string(s), longest %zu (%s)",
			    keys_pub_name(st), keys_type_name(k->key->type),
			    k->key->bits, info.record_len, info.nstrings,
			    info.longest, info.detail);
			published += st == KEY_PUB_PUBLISHED;
			dns_result_free(&r);
			continue;
		}
		/* no private key: the record's form only */
		if (r.status != DNS_OK)
			onboard_set(it, ONBOARD_FAIL, "%s: %s", buf_cstr(&name),
			    r.status == DNS_NXDOMAIN || r.status == DNS_NODATA
			    ? "no TXT record" : dns_status_name(r.status));
		else
			onboard_set(it, ONBOARD_FAIL, "%s: no DKIM key record among "
			    "%zu TXT records", buf_cstr(&name), r.n);
		for (j = 0; r.status == DNS_OK && j < r.n; j++) {
			if (dns_txt(&r, j, &txt) != 0 || (p = keyrecord_parse_p(
			    buf_cstr(&txt), ktype, sizeof(ktype))) == NULL)
				continue;
			if (p[0] == '\0')
				onboard_set(it, ONBOARD_FAIL, "p= is empty: key revoked");
			else if (strcasecmp(ktype, "rsa") != 0
			    && strcasecmp(ktype, "ed25519") != 0)
				onboard_set(it, ONBOARD_FAIL, "k=%s: unknown key type",
				    ktype);
			else {
				onboard_set(it, ONBOARD_OK, "published: k=%s, p= of %zu "
				    "characters (no private key given to compare)",
				    ktype, strlen(p));
				published++;
			}
			free(p);
			break;
		}
		dns_result_free(&r);
	}
	buf_free(&name);
	buf_free(&txt);
	return published;
}

/* onboard_spf - the customer's SPF record and whether it includes the platform */
static int
onboard_spf(struct onboard_ctx *x)
{
	struct onboard_spf s;
	struct onboard_item *it;
	int ok;

	memset(&s, 0, sizeof(s));
	s.total = onboard_spf_walk(x, x->t->domain, 0, &s);
	it = onboard_item_add(x->r, ONBOARD_SPF, "SPF");
	ok = onboard_spf_verdict(&s, it) != ONBOARD_FAIL;
	it = onboard_item_add(x->r, ONBOARD_SPF_PLATFORM, "SPF platform");
	if (x->p->spf_include[0] == '\0')
		onboard_set(it, ONBOARD_WARN, "the platform's SPF include is not "
		    "known (platform_spf_include, platform_domain): not checked");
	else if (s.records != 1)
		onboard_set(it, ONBOARD_FAIL, "no usable SPF record: mail from the "
		    "platform fails SPF (publish v=spf1 include:%s ~all)",
		    x->p->spf_include);
	else if (s.platform)
		onboard_set(it, ONBOARD_OK, "includes %s", x->p->spf_include);
	else {
		onboard_set(it, ONBOARD_FAIL, "does not include %s: mail from the "
		    "platform fails SPF for %s (add include:%s)", x->p->spf_include,
		    x->t->domain, x->p->spf_include);
		ok = 0;
	}
	onboard_spf_free(&s);
	return ok && s.records == 1;
}

/* onboard_dmarc_at - the DMARC records at name into dm; 1 if found */
static int
onboard_dmarc_at(struct onboard_ctx *x, const char *name,
    struct onboard_dmarc *dm, struct buf *seen)
{
	struct dns_result r;
	struct dmarc_record rec;
	struct buf txt = BUF_INIT;
	size_t i;

	onboard_txt_at(x, name, &r, seen);
	if (r.status == DNS_TEMPFAIL || r.status == DNS_BOGUS)
		dm->errors++;
	for (i = 0; r.status == DNS_OK && i < r.n; i++) {
		if (dns_txt(&r, i, &txt) != 0
		    || dmarc_record_parse(txt.data, txt.len, &rec) != 0)
			continue;
		if (dm->found++ == 0) {
			dm->rec = rec;
			(void)snprintf(dm->name, sizeof(dm->name), "%s", name);
			buf_reset(&dm->txt);
			onboard_printable(&dm->txt, txt.data, txt.len);
		} else
			dmarc_record_free(&rec);
	}
	dns_result_free(&r);
	buf_free(&txt);
	return dm->found > 0;
}

/* onboard_dmarc - the DMARC record (the domain's, or its organizational domain's) */
static void
onboard_dmarc(struct onboard_ctx *x, struct onboard_dmarc *dm)
{
	struct onboard_item *it;
	struct buf name = BUF_INIT;

	it = onboard_item_add(x->r, ONBOARD_DMARC, "DMARC _dmarc");
	buf_printf(&name, "_dmarc.%s", x->t->domain);
	if (!onboard_dmarc_at(x, buf_cstr(&name), dm, &it->records)
	    && dm->errors == 0 && strcasecmp(x->org, x->t->domain) != 0) {
		buf_reset(&name);
		buf_printf(&name, "_dmarc.%s", x->org);
		dm->inherited = onboard_dmarc_at(x, buf_cstr(&name), dm,
		    &it->records);
	}
	dm->policy = dm->rec.p;
	if (dm->inherited && dm->rec.sp != DMARC_POLICY_UNSET)
		dm->policy = dm->rec.sp;
	if (dm->errors > 0 && dm->found == 0)
		onboard_set(it, ONBOARD_FAIL, "DNS error");
	else if (dm->found == 0)
		onboard_set(it, ONBOARD_FAIL, "no DMARC record: Gmail and Yahoo "
		    "require one of bulk senders (since February 2024); publish "
		    "_dmarc.%s TXT \"v=DMARC1; p=none; rua=mailto:...\"",
		    x->t->domain);
	else if (dm->found > 1)
		onboard_set(it, ONBOARD_FAIL, "%d DMARC records at %s: receivers "
		    "ignore them all", dm->found, dm->name);
	else if (dm->rec.bad)
		onboard_set(it, ONBOARD_FAIL, "invalid p/sp/np (%s)",
		    buf_cstr(&dm->txt));
	else
		onboard_set(it, dm->policy == DMARC_POLICY_NONE ? ONBOARD_WARN
		    : ONBOARD_OK, "p=%s%s%s%s (%s)", dmarc_policy_name(dm->policy),
		    dm->inherited ? ", from " : "", dm->inherited ? dm->name : "",
		    dm->policy == DMARC_POLICY_NONE ? ", monitoring only" : "",
		    buf_cstr(&dm->txt));
	buf_free(&name);
}

/* onboard_alignment - can SPF (through the bounce domain) or DKIM (customer key, platform signature) align? */
static int
onboard_alignment(struct onboard_ctx *x, const struct onboard_dmarc *dm,
    int dkim_published, int bounce_ok)
{
	struct onboard_item *it;
	struct buf why = BUF_INIT;
	char borg[256], porg[256];
	int strict_spf = dm->found && dm->rec.aspf == DMARC_ALIGN_STRICT;
	int strict_dkim = dm->found && dm->rec.adkim == DMARC_ALIGN_STRICT;
	int spf = 0, dkim = 0, trap = 0;
	const char *b = x->t->bounce, *pd = x->p->domain;

	it = onboard_item_add(x->r, ONBOARD_ALIGNMENT, "DMARC alignment");
	if (b == NULL)
		buf_puts(&why, "SPF: no bounce domain, the Return-Path stays the "
		    "platform's (not aligned)");
	else {
		onboard_org(x->p, b, borg, sizeof(borg));
		if (onboard_same(b, x->t->domain))
			spf = 1;
		else if (strcasecmp(borg, x->org) != 0)
			buf_printf(&why, "SPF: bounce domain %s is outside %s (not "
			    "aligned)", b, x->org);
		else if (strict_spf) {
			trap = 1;
			buf_printf(&why, "SPF: aspf=s with bounce domain %s: strict "
			    "SPF alignment can never hold (use aspf=r)", b);
		} else
			spf = 1;
		if (spf)
			buf_printf(&why, "SPF: bounce domain %s aligns (aspf=%s)%s",
			    b, strict_spf ? "s" : "r", bounce_ok ? ""
			    : ", once its DNS is fixed");
		spf = spf && bounce_ok;
	}
	buf_puts(&why, "; DKIM: ");
	if (dkim_published) {
		dkim = 1;
		buf_printf(&why, "d=%s aligns", x->t->domain);
	} else
		buf_printf(&why, "no published key of %s", x->t->domain);
	if (x->p->signs && pd[0] != '\0') {
		onboard_org(x->p, pd, porg, sizeof(porg));
		if (onboard_same(pd, x->t->domain)) {
			dkim = 1;
			buf_printf(&why, ", the platform's d=%s aligns", pd);
		} else if (strcasecmp(porg, x->org) != 0)
			buf_printf(&why, ", the platform's d=%s does not (another "
			    "organization)", pd);
		else if (strict_dkim) {
			trap = trap || !dkim;
			buf_printf(&why, ", adkim=s: the platform's d=%s cannot align "
			    "(use adkim=r)", pd);
		} else {
			dkim = 1;
			buf_printf(&why, ", the platform's d=%s aligns (adkim=r)", pd);
		}
	}
	if (trap)
		onboard_set(it, ONBOARD_FAIL, "%s", buf_cstr(&why));
	else if (!spf && !dkim)
		onboard_set(it, ONBOARD_FAIL, "nothing can align: DMARC fails for "
		    "every message (%s)", buf_cstr(&why));
	else
		onboard_set(it, ONBOARD_OK, "%s", buf_cstr(&why));
	buf_free(&why);
	return (spf || dkim) && !trap;
}

/* onboard_uri_domain - the domain of a mailto: report URI into out; 0 or -1 */
static int
onboard_uri_domain(const char *uri, char *out, size_t outlen)
{
	const char *at, *end;
	size_t n;

	if (strncasecmp(uri, "mailto:", 7) != 0 || (at = strrchr(uri, '@')) == NULL)
		return -1;
	at++;
	end = at + strcspn(at, "!?>");
	n = (size_t)(end - at);
	if (n == 0 || n >= outlen)
		return -1;
	memcpy(out, at, n);
	out[n] = '\0';
	return 0;
}

/* onboard_authorised - does dest publish DOMAIN._report._dmarc.DEST (RFC 7489 7.1)? 1, 0, -1 DNS error */
static int
onboard_authorised(struct onboard_ctx *x, const char *dest, struct buf *seen)
{
	struct dns_result r;
	struct buf name = BUF_INIT, txt = BUF_INIT;
	size_t i;
	int ok = 0;

	buf_printf(&name, "%s._report._dmarc.%s", x->t->domain, dest);
	onboard_txt_at(x, buf_cstr(&name), &r, seen);
	if (r.status == DNS_TEMPFAIL || r.status == DNS_BOGUS)
		ok = -1;
	for (i = 0; r.status == DNS_OK && i < r.n; i++)
		if (dns_txt(&r, i, &txt) == 0 && strncasecmp(buf_cstr(&txt),
		    "v=DMARC1", 8) == 0)
			ok = 1;
	dns_result_free(&r);
	buf_free(&name);
	buf_free(&txt);
	return ok;
}

/* onboard_reports - every rua/ruf outside the domain's organization must be authorised */
static void
onboard_reports(struct onboard_ctx *x, const struct onboard_dmarc *dm)
{
	struct onboard_item *it;
	struct buf why = BUF_INIT;
	char dest[256], dorg[256];
	enum onboard_level l = ONBOARD_OK;
	size_t i, n;
	int a;

	it = onboard_item_add(x->r, ONBOARD_REPORTS, "DMARC reports");
	if (dm->found == 0) {
		onboard_set(it, ONBOARD_WARN, "no DMARC record: no reports");
		return;
	}
	n = dm->rec.nrua + dm->rec.nruf;
	if (dm->rec.nrua == 0) {
		l = ONBOARD_WARN;
		buf_puts(&why, "no rua=: no aggregate reports to see who sends as "
		    "the domain before a stricter policy");
	}
	for (i = 0; i < n; i++) {
		int rua = i < dm->rec.nrua;
		const char *uri = rua ? dm->rec.rua[i] : dm->rec.ruf[i - dm->rec.nrua];

		if (why.len > 0)
			buf_puts(&why, "; ");
		if (onboard_uri_domain(uri, dest, sizeof(dest)) < 0) {
			buf_printf(&why, "%s=%s: not a mailto: address", rua ? "rua"
			    : "ruf", uri);
			if (l < ONBOARD_WARN)
				l = ONBOARD_WARN;
			continue;
		}
		onboard_org(x->p, dest, dorg, sizeof(dorg));
		if (strcasecmp(dorg, x->org) == 0) {
			buf_printf(&why, "%s at %s: same organization", rua ? "rua"
			    : "ruf", dest);
			continue;
		}
		a = onboard_authorised(x, dest, &it->records);
		if (a == 1)
			buf_printf(&why, "%s at %s: authorised by %s._report._dmarc.%s",
			    rua ? "rua" : "ruf", dest, x->t->domain, dest);
		else {
			buf_printf(&why, "%s at %s: %s %s._report._dmarc.%s TXT "
			    "\"v=DMARC1\" (RFC 7489 7.1): receivers send it no reports",
			    rua ? "rua" : "ruf", dest, a < 0 ? "DNS error reading"
			    : "no authorisation record", x->t->domain, dest);
			if (rua || a < 0)
				l = ONBOARD_FAIL;
			else if (l < ONBOARD_WARN)
				l = ONBOARD_WARN;
		}
	}
	onboard_set(it, l, "%s", buf_cstr(&why));
	buf_free(&why);
}

/* onboard_target_ok - is a CNAME or MX target the platform's host? */
static int
onboard_target_ok(const struct onboard_platform *p, const char *target)
{
	if (p->bounce_host[0] != '\0')
		return onboard_same(target, p->bounce_host);
	return p->domain[0] != '\0' && onboard_under(target, p->domain);
}

/* onboard_rdata_name - the domain name at off of r's packet-less rdata, into out (uncompressed form) */
static int
onboard_rdata_name(const unsigned char *rd, size_t len, size_t off, char *out,
    size_t outlen)
{
	size_t o = 0, n;

	while (off < len && rd[off] != 0) {
		n = rd[off++];
		if ((n & 0xc0) != 0 || n > len - off || o + n + 2 > outlen)
			return -1;	/* compressed or broken: libunbound expands */
		memcpy(out + o, rd + off, n);
		o += n;
		out[o++] = '.';
		off += n;
	}
	if (off >= len)
		return -1;
	if (o == 0)
		out[o++] = '.';
	out[o] = '\0';
	if (o > 1)
		out[o - 1] = '\0';	/* no trailing dot */
	return 0;
}

/* onboard_bounce_mx - the bounce domain's MX records point at the platform? */
static int
onboard_bounce_mx(struct onboard_ctx *x, struct onboard_item *it)
{
	struct dns_result r;
	struct buf others = BUF_INIT;
	char target[300];
	const char *b = x->t->bounce;
	const char *want = x->p->bounce_host[0] ? x->p->bounce_host : x->p->domain;
	int ok = 0;
	size_t i;

	onboard_resolve(x, b, ns_t_mx, &r);
	for (i = 0; r.status == DNS_OK && i < r.n; i++) {
		if (r.len[i] < 3 || onboard_rdata_name(r.data[i], r.len[i], 2,
		    target, sizeof(target)) < 0)
			continue;
		buf_printf(&it->records, "%s MX %u %s.\n", b, (unsigned)
		    (r.data[i][0] << 8 | r.data[i][1]), target);
		if (onboard_target_ok(x->p, target))
			ok = 1;
		else
			buf_printf(&others, "%s%s", others.len ? ", " : "", target);
	}
	if (r.status != DNS_OK)
		onboard_set(it, ONBOARD_FAIL, "neither MX nor CNAME (%s): bounces "
		    "cannot come back", dns_status_name(r.status));
	else if (want[0] == '\0')
		onboard_set(it, ONBOARD_WARN, "MX present; the platform is not known "
		    "(platform_domain): not checked");
	else if (ok)
		onboard_set(it, others.len ? ONBOARD_WARN : ONBOARD_OK, "MX at the "
		    "platform's host%s%s", others.len ? "; also at " : "",
		    buf_cstr(&others));
	else
		onboard_set(it, ONBOARD_FAIL, "MX points at %s, not at the platform "
		    "(%s): bounces go there", buf_cstr(&others), want);
	dns_result_free(&r);
	buf_free(&others);
	return ok;
}

/* onboard_bounce - the bounce domain routes to the platform and passes SPF */
static int
onboard_bounce(struct onboard_ctx *x)
{
	struct onboard_item *it;
	struct onboard_spf s;
	struct dns_result r;
	char target[300], what[300];
	const char *b = x->t->bounce;
	int ok = 0, cname = 0;

	(void)snprintf(what, sizeof(what), "bounce %s", b);
	it = onboard_item_add(x->r, ONBOARD_BOUNCE, what);
	onboard_resolve(x, b, ns_t_cname, &r);
	if (r.status == DNS_OK && r.n > 0 && onboard_rdata_name(r.data[0],
	    r.len[0], 0, target, sizeof(target)) == 0) {
		cname = 1;
		buf_printf(&it->records, "%s CNAME %s.\n", b, target);
		ok = onboard_target_ok(x->p, target);
		if (x->p->domain[0] == '\0' && x->p->bounce_host[0] == '\0')
			onboard_set(it, ONBOARD_WARN, "CNAME %s; the platform is not "
			    "known (platform_domain): not checked", target);
		else if (ok)
			onboard_set(it, ONBOARD_OK, "CNAME %s: the platform's host",
			    target);
		else
			onboard_set(it, ONBOARD_FAIL, "CNAME points at %s, not at the "
			    "platform (%s): bounces go there", target,
			    x->p->bounce_host[0] ? x->p->bounce_host : x->p->domain);
	}
	dns_result_free(&r);
	if (!cname)
		ok = onboard_bounce_mx(x, it);
	/* SPF of the bounce domain: behind a CNAME it is the platform's own */
	memset(&s, 0, sizeof(s));
	s.total = onboard_spf_walk(x, b, 0, &s);
	(void)snprintf(what, sizeof(what), "bounce SPF %s", b);
	it = onboard_item_add(x->r, ONBOARD_BOUNCE_SPF, what);
	if (onboard_spf_verdict(&s, it) != ONBOARD_FAIL && !s.platform
	    && !(cname && ok) && x->p->spf_include[0] != '\0') {
		onboard_set(it, ONBOARD_FAIL, "does not include %s: the rewritten "
		    "Return-Path fails SPF (%s)", x->p->spf_include,
		    buf_cstr(&s.top));
	}
	ok = ok && it->level != ONBOARD_FAIL;
	onboard_spf_free(&s);
	return ok;
}

/* onboard_worst - the worst level of kind among r's items (OK if none) */
static enum onboard_level
onboard_worst(const struct onboard_result *r, enum onboard_kind kind)
{
	enum onboard_level l = ONBOARD_OK;
	size_t i;

	for (i = 0; i < r->n; i++)
		if (r->items[i].kind == kind && r->items[i].level > l)
			l = r->items[i].level;
	return l;
}

/* onboard_bulk - the Gmail/Yahoo bulk-sender line */
static void
onboard_bulk(struct onboard_ctx *x, int spf, int dkim, int dmarc, int align)
{
	struct onboard_item *it;
	int ok = spf && dkim && dmarc && align;

	it = onboard_item_add(x->r, ONBOARD_BULK, "Gmail/Yahoo bulk sender");
	onboard_set(it, ok ? x->p->unsubscribe_signed ? ONBOARD_OK : ONBOARD_WARN
	    : ONBOARD_FAIL, "SPF %s, DKIM %s, DMARC %s, alignment %s, one-click "
	    "List-Unsubscribe signed %s", spf ? "yes" : "NO", dkim ? "yes" : "NO",
	    dmarc ? "yes" : "NO", align ? "possible" : "NOT possible",
	    x->p->unsubscribe_signed ? "yes" : "NO (signed_headers)");
}

/* onboard_run - every check of one domain */
void
onboard_run(struct dns *d, const struct onboard_platform *p,
    const struct onboard_target *t, struct onboard_result *r)
{
	struct onboard_ctx x;
	struct onboard_dmarc dm;
	struct onboard_item *it;
	int dkim, spf, bounce = 1, align;
	size_t i;

	memset(r, 0, sizeof(*r));
	r->target = t;
	if (t->error != NULL) {
		it = onboard_item_add(r, ONBOARD_DKIM, "domain");
		onboard_set(it, ONBOARD_FAIL, "%s", t->error);
		r->worst = ONBOARD_FAIL;
		return;
	}
	memset(&x, 0, sizeof(x));
	memset(&dm, 0, sizeof(dm));
	dmarc_record_init(&dm.rec);
	x.d = d;
	x.p = p;
	x.t = t;
	x.r = r;
	onboard_org(p, t->domain, x.org, sizeof(x.org));
	dkim = onboard_dkim(&x) > 0;
	spf = onboard_spf(&x);
	onboard_dmarc(&x, &dm);
	if (t->bounce != NULL)
		bounce = onboard_bounce(&x);
	align = onboard_alignment(&x, &dm, dkim, bounce);
	onboard_reports(&x, &dm);
	/* DKIM for the bulk rules: the customer's key, or the platform's signature */
	onboard_bulk(&x, onboard_worst(r, ONBOARD_SPF) != ONBOARD_FAIL && spf, dkim
	    || (p->signs && p->domain[0] != '\0'), dm.found == 1 && !dm.rec.bad,
	    align);
	for (i = 0; i < r->n; i++)
		if (r->items[i].level > r->worst)
			r->worst = r->items[i].level;
	dmarc_record_free(&dm.rec);
	buf_free(&dm.txt);
}

/* onboard_result_free - release a result */
void
onboard_result_free(struct onboard_result *r)
{
	size_t i;

	for (i = 0; r != NULL && i < r->n; i++) {
		buf_free(&r->items[i].detail);
		buf_free(&r->items[i].records);
	}
	if (r != NULL) {
		free(r->items);
		memset(r, 0, sizeof(*r));
	}
}
