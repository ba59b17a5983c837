/*
 * dmarc.c - DMARC record parsing, policy discovery, identifier alignment
 * and policy selection (RFC 9989; RFC 7489 selectable).
 *
 * Threading: struct dmarc is immutable after dmarc_new; every evaluation
 * keeps its state (a per-message cache of _dmarc answers, the query
 * count) in a struct dmarc_eval on the caller's stack. libpsl lookups on
 * a loaded context are read-only.
 *
 * Ownership: records own their URI strings; an outcome owns its record
 * and its dkim_aligned array (dmarc_outcome_free).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <libpsl.h>

#include "base/buf.h"
#include "auth/dmarc.h"
#include "base/mailaddr.h"
#include "base/xalloc.h"

struct dmarc {
	enum dmarc_mode mode;		/* discovery and policy rules */
	dmarc_lookup_fn lookup;		/* DNS seam */
	void *lookup_arg;
	dmarc_random_fn random;		/* pct= seam */
	void *random_arg;
	psl_ctx_t *psl;			/* RFC 7489 only; NULL otherwise */
};

/* What one _dmarc query gave. */
enum dmarc_qstate {
	DMARC_Q_NOREC,		/* no DMARC record (none, or name too long) */
	DMARC_Q_MULTI,		/* several DMARC records: all discarded */
	DMARC_Q_REC,		/* exactly one DMARC record */
	DMARC_Q_TEMP,		/* the DNS did not answer */
	DMARC_Q_CAPPED,		/* not asked: query budget spent */
};

struct dmarc_cached {
	char name[DMARC_DOMAIN_BUF];	/* the domain (without _dmarc.) */
	enum dmarc_qstate state;
	struct dmarc_record rec;	/* when state is DMARC_Q_REC */
};

/* Per-evaluation state. */
struct dmarc_eval {
	const struct dmarc *d;
	struct dmarc_cached cache[DMARC_QUERY_MAX];	/* answers so far */
	size_t ncache;
	unsigned queries;		/* DNS queries made */
	const char *author;		/* normalized From domain */
	int org_state;			/* 0 not yet, 1 known, -1 temperror */
	const char *org;		/* organizational domain of author (points into author) */
};

/* One tree walk's conclusion. Pointers point into the start name or the cache. */
struct dmarc_walk {
	int temp;				/* a query did not complete */
	int capped;				/* query budget spent */
	const char *org;			/* organizational domain */
	const char *psd;			/* psd=y domain that stopped the walk */
	const struct dmarc_record *psd_rec;
	const struct dmarc_record *org_rec;	/* record at org, if found */
};

/* dmarc_txt_add - append one TXT record */
void
dmarc_txt_add(struct dmarc_txt *t, const void *data, size_t len)
{
	t->v = xreallocarray(t->v, t->n + 1, sizeof(*t->v));
	buf_init(&t->v[t->n]);
	buf_append(&t->v[t->n], data, len);
	t->n++;
}

/* dmarc_txt_free - release a TXT answer */
void
dmarc_txt_free(struct dmarc_txt *t)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		buf_free(&t->v[i]);
	free(t->v);
	t->v = NULL;
	t->n = 0;
}

/* dmarc_lookup_dns - the default lookup over the shared resolver */
enum dns_status
dmarc_lookup_dns(void *arg, const char *name, int rrtype, struct dmarc_txt *txt)
{
	struct dns_result r;
	enum dns_status st;
	struct buf b;
	size_t i;

	if (arg == NULL)
		return DNS_ERROR;
	st = dns_resolve(arg, name, rrtype, 0, &r);
	if (st == DNS_OK && txt != NULL) {
		for (i = 0; i < r.n; i++) {
			buf_init(&b);
			if (dns_txt(&r, i, &b) == 0)
				dmarc_txt_add(txt, b.data ? b.data : "", b.len);
			buf_free(&b);
		}
	}
	dns_result_free(&r);
	return st;
}

/* dmarc_random_default - getrandom(2); 0 (policy applies) if it fails */
static unsigned
dmarc_random_default(void *arg)
{
	unsigned v = 0;

	(void)arg;
	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != (ssize_t)sizeof(v))
		v = 0;
	return v;
}

/* dmarc_new - the evaluator of one snapshot */
struct dmarc *
dmarc_new(const struct dmarc_options *opt, char *err, size_t errlen)
{
	struct dmarc *d = xcalloc(1, sizeof(*d));

	d->mode = opt->mode;
	d->lookup = opt->lookup ? opt->lookup : dmarc_lookup_dns;
	d->lookup_arg = opt->lookup_arg;
	d->random = opt->random ? opt->random : dmarc_random_default;
	d->random_arg = opt->random_arg;
	if (d->mode == DMARC_MODE_RFC7489) {
		d->psl = opt->psl_file ? psl_load_file(opt->psl_file)
		    : psl_latest(NULL);
		if (d->psl == NULL) {
			/* a cut message is still NUL-terminated: fine for an error */
			(void)snprintf(err, errlen, "cannot load the public suffix "
			    "list %s (Debian package publicsuffix)", opt->psl_file
			    ? opt->psl_file : "(libpsl default)");
			free(d);
			return NULL;
		}
	}
	return d;
}

/* dmarc_free - release the evaluator */
void
dmarc_free(struct dmarc *d)
{
	if (d == NULL)
		return;
	psl_free(d->psl);
	free(d);
}

/* dmarc_domain_normalize - canonical A-label form of a domain, or -1 */
int
dmarc_domain_normalize(const char *in, char out[DMARC_DOMAIN_BUF])
{
	/* RFC 9989 5.3.1: U-labels become A-labels */
	return mailaddr_domain_alabel(in, out, DMARC_DOMAIN_BUF);
}

/* dmarc_labels - number of labels of a domain */
static size_t
dmarc_labels(const char *s)
{
	size_t n = 1;

	for (; *s != '\0'; s++)
		if (*s == '.')
			n++;
	return n;
}

/* dmarc_suffix - the last k labels of s (a pointer into s) */
static const char *
dmarc_suffix(const char *s, size_t k)
{
	size_t drop = dmarc_labels(s);

	drop = drop > k ? drop - k : 0;
	while (drop > 0) {
		s = strchr(s, '.') + 1;
		drop--;
	}
	return s;
}

/* dmarc_under - is id equal to or a subdomain of dom */
static int
dmarc_under(const char *id, const char *dom)
{
	size_t a = strlen(id), b = strlen(dom);

	if (a == b)
		return strcmp(id, dom) == 0;
	return a > b && id[a - b - 1] == '.' && strcmp(id + a - b, dom) == 0;
}

/* dmarc_classify - parse a TXT answer into a cache entry */
static void
dmarc_classify(struct dmarc_cached *c, const struct dmarc_txt *txt)
{
	struct dmarc_record r;
	size_t i, found = 0;

	for (i = 0; i < txt->n; i++) {
		if (dmarc_record_parse(txt->v[i].data ? txt->v[i].data : "",
		    txt->v[i].len, &r) != 0)
			continue;	/* not v=DMARC1: discarded */
		if (found++ == 0)
			c->rec = r;
		else
			dmarc_record_free(&r);
	}
	if (found > 1)
		dmarc_record_free(&c->rec);
	c->state = found == 0 ? DMARC_Q_NOREC : found == 1 ? DMARC_Q_REC
	    : DMARC_Q_MULTI;
}

/* dmarc_query - the DMARC records at _dmarc.domain, asked once per evaluation */
static const struct dmarc_cached *
dmarc_query(struct dmarc_eval *ev, const char *domain)
{
	static const struct dmarc_cached norec = { "", DMARC_Q_NOREC, { 0 } };
	static const struct dmarc_cached capped = { "", DMARC_Q_CAPPED, { 0 } };
	char name[DMARC_DOMAIN_BUF + 8];
	struct dmarc_txt txt = { NULL, 0 };
	struct dmarc_cached *c;
	enum dns_status st;
	size_t i;

	for (i = 0; i < ev->ncache; i++)
		if (strcmp(ev->cache[i].name, domain) == 0)
			return &ev->cache[i];
	if (strlen(domain) + 7 > 253)
		return &norec;	/* _dmarc.<name> cannot exist: longer than 253 */
	if (ev->queries >= DMARC_QUERY_MAX || ev->ncache >= DMARC_QUERY_MAX)
		return &capped;
	if ((size_t)snprintf(name, sizeof(name), "_dmarc.%s", domain)
	    >= sizeof(name))
		return &norec;	/* not reached: the length is checked above */
	ev->queries++;
	c = &ev->cache[ev->ncache++];
	memset(c, 0, sizeof(*c));
	dmarc_record_init(&c->rec);
	memcpy(c->name, domain, strlen(domain) + 1);
	st = ev->d->lookup(ev->d->lookup_arg, name, DMARC_RR_TXT, &txt);
	if (st == DNS_OK)
		dmarc_classify(c, &txt);
	else if (st == DNS_NXDOMAIN || st == DNS_NODATA)
		c->state = DMARC_Q_NOREC;
	else
		c->state = DMARC_Q_TEMP;
	dmarc_txt_free(&txt);
	return c;
}

/* dmarc_cached_record - the record already found at domain, or NULL (no query) */
static const struct dmarc_record *
dmarc_cached_record(const struct dmarc_eval *ev, const char *domain)
{
	size_t i;

	for (i = 0; i < ev->ncache; i++)
		if (ev->cache[i].state == DMARC_Q_REC
		    && strcmp(ev->cache[i].name, domain) == 0)
			return &ev->cache[i].rec;
	return NULL;
}

/* dmarc_walk - RFC 9989 4.10 DNS Tree Walk from start; at most 8 queries */
static void
dmarc_walk(struct dmarc_eval *ev, const char *start, struct dmarc_walk *w)
{
	const struct dmarc_cached *c;
	const char *name = start, *last = NULL;
	const struct dmarc_record *last_rec = NULL;
	size_t x;
	int n;

	memset(w, 0, sizeof(*w));
	for (n = 0; n < DMARC_WALK_MAX; n++) {
		c = dmarc_query(ev, name);
		if (c->state == DMARC_Q_TEMP || c->state == DMARC_Q_CAPPED) {
			w->temp = c->state == DMARC_Q_TEMP;
			w->capped = c->state == DMARC_Q_CAPPED;
			return;
		}
		if (c->state == DMARC_Q_REC) {
			last = name;
			last_rec = &c->rec;
			if (c->rec.psd == DMARC_PSD_N) {
				w->org = name;
				w->org_rec = &c->rec;
				return;
			}
			if (c->rec.psd == DMARC_PSD_Y) {
				if (name == start) {	/* only found record: itself */
					w->org = start;
					w->org_rec = &c->rec;
				} else {	/* one label below the PSD */
					w->org = dmarc_suffix(start, dmarc_labels(name) + 1);
					w->org_rec = dmarc_cached_record(ev, w->org);
					w->psd = name;
					w->psd_rec = &c->rec;
				}
				return;
			}
		}
		if ((x = dmarc_labels(name)) <= 1)
			break;
		name = dmarc_suffix(name, x - 1 < 7 ? x - 1 : 7);
	}
	w->org = last ? last : start;	/* fewest labels with a record, or start */
	w->org_rec = last_rec;
}

/* dmarc_org_psl - RFC 7489 organizational domain from the public suffix list */
static const char *
dmarc_org_psl(const struct dmarc *d, const char *domain)
{
	const char *r = psl_registrable_domain(d->psl, domain);

	return r != NULL ? r : domain;	/* a public suffix is its own */
}

/* dmarc_author_org - organizational domain of the author (once); NULL on temperror */
static const char *
dmarc_author_org(struct dmarc_eval *ev)
{
	struct dmarc_walk w;

	if (ev->org_state == 0) {
		if (ev->d->mode == DMARC_MODE_RFC7489) {
			ev->org = dmarc_org_psl(ev->d, ev->author);
			ev->org_state = 1;
		} else {
			dmarc_walk(ev, ev->author, &w);
			ev->org_state = (w.temp || w.capped) ? -1 : 1;
			ev->org = w.org;
		}
	}
	return ev->org_state == 1 ? ev->org : NULL;
}

/* dmarc_aligned - 1 aligned, 0 not, -1 unknown (DNS); exact: compare names only */
static int
dmarc_aligned(struct dmarc_eval *ev, const char *raw, enum dmarc_align mode,
    int exact)
{
	char id[DMARC_DOMAIN_BUF];
	const char *org;
	struct dmarc_walk w;

	if (dmarc_domain_normalize(raw, id) != 0)
		return 0;
	if (strcmp(id, ev->author) == 0)
		return 1;
	if (exact || mode == DMARC_ALIGN_STRICT)
		return 0;
	if ((org = dmarc_author_org(ev)) == NULL)
		return -1;
	if (!dmarc_under(id, org))
		return 0;	/* org(id) is a suffix of id: cannot be org */
	if (ev->d->mode == DMARC_MODE_RFC7489)
		return strcmp(dmarc_org_psl(ev->d, id), org) == 0;
	dmarc_walk(ev, id, &w);
	if (w.temp)
		return -1;
	if (w.capped)
		return 0;	/* budget spent: not proven aligned */
	return strcmp(w.org, org) == 0;
}

/* dmarc_reason - set the reason line (cut with "..." if too long) */
static void
dmarc_reason(struct dmarc_outcome *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
dmarc_reason(struct dmarc_outcome *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(o->reason, sizeof(o->reason), fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof(o->reason))
		memcpy(o->reason + sizeof(o->reason) - 4, "...", 4);
}

/*
 * dmarc_domain_copy - a domain name into a DMARC_DOMAIN_BUF field; 0, or
 * -1 with the field left empty if it does not fit (the names copied are
 * the normalized From domain and its parents, which always fit)
 */
static int
dmarc_domain_copy(char out[DMARC_DOMAIN_BUF], const char *domain)
{
	if ((size_t)snprintf(out, DMARC_DOMAIN_BUF, "%s", domain)
	    < DMARC_DOMAIN_BUF)
		return 0;
	out[0] = '\0';
	return -1;
}

/* dmarc_use_record - make rec at domain the applied record (none if domain does not fit) */
static void
dmarc_use_record(struct dmarc_outcome *o, const char *domain,
    const struct dmarc_record *rec, enum dmarc_source src)
{
	if (dmarc_domain_copy(o->policy_domain, domain) < 0)
		return;
	o->have_record = 1;
	dmarc_record_copy(&o->record, rec);
	o->source = src;
}

/* dmarc_discover_9989 - RFC 9989 4.10.1; 0 found, 1 none, -1 temperror */
static int
dmarc_discover_9989(struct dmarc_eval *ev, struct dmarc_outcome *o)
{
	const struct dmarc_cached *c = dmarc_query(ev, ev->author);
	struct dmarc_walk w;

	if (c->state == DMARC_Q_TEMP)
		return -1;
	if (c->state == DMARC_Q_REC) {
		dmarc_use_record(o, ev->author, &c->rec, DMARC_SOURCE_P);
		return 0;
	}
	dmarc_walk(ev, ev->author, &w);	/* several records at the author: walk on */
	if (w.temp || w.capped)
		return -1;
	ev->org_state = 1;
	ev->org = w.org;
	if (w.org_rec != NULL && strcmp(w.org, ev->author) != 0) {
		dmarc_use_record(o, w.org, w.org_rec, DMARC_SOURCE_SP);
		return 0;
	}
	if (w.psd_rec != NULL) {
		dmarc_use_record(o, w.psd, w.psd_rec, DMARC_SOURCE_SP);
		return 0;
	}
	return 1;
}

/* dmarc_discover_7489 - RFC 7489 6.6.3; 0 found, 1 none, -1 temperror */
static int
dmarc_discover_7489(struct dmarc_eval *ev, struct dmarc_outcome *o)
{
	const struct dmarc_cached *c = dmarc_query(ev, ev->author);
	const char *org;

	if (c->state == DMARC_Q_TEMP)
		return -1;
	if (c->state == DMARC_Q_MULTI)
		return 1;	/* step 5: several records end discovery */
	if (c->state == DMARC_Q_REC) {
		dmarc_use_record(o, ev->author, &c->rec, DMARC_SOURCE_P);
		return 0;
	}
	org = dmarc_author_org(ev);
	if (strcmp(org, ev->author) == 0)
		return 1;
	c = dmarc_query(ev, org);
	if (c->state == DMARC_Q_TEMP)
		return -1;
	if (c->state != DMARC_Q_REC)
		return 1;
	dmarc_use_record(o, org, &c->rec, DMARC_SOURCE_SP);
	return 0;
}

/* dmarc_unusable - invalid p/sp(/np) per mode: 1 when the rua fallback rule applies */
static int
dmarc_unusable(enum dmarc_mode mode, const struct dmarc_record *r)
{
	if (mode == DMARC_MODE_RFC7489)	/* p is required; np is not a 7489 tag */
		return r->p == DMARC_POLICY_UNSET
		    || (r->bad & (DMARC_BAD_P | DMARC_BAD_SP)) != 0;
	return r->bad != 0;	/* absent p means p=none; a bad one does not */
}

/* dmarc_exists - RFC 9989 np=: does the From domain exist (A, AAAA, MX)? 1, 0, -1 */
static int
dmarc_exists(struct dmarc_eval *ev)
{
	static const int types[] = { DMARC_RR_A, DMARC_RR_AAAA, DMARC_RR_MX };
	enum dns_status st;
	size_t i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		if (ev->queries >= DMARC_QUERY_MAX)
			return 1;	/* budget spent: assume it exists (sp, not np) */
		ev->queries++;
		st = ev->d->lookup(ev->d->lookup_arg, ev->author, types[i], NULL);
		if (st == DNS_OK || st == DNS_NODATA)
			return 1;
		if (st != DNS_NXDOMAIN)
			return -1;
	}
	return 0;
}

/* dmarc_lower - one level less strict (pct sampling, t=y) */
static enum dmarc_policy
dmarc_lower(enum dmarc_policy p)
{
	if (p == DMARC_POLICY_REJECT)
		return DMARC_POLICY_QUARANTINE;
	return DMARC_POLICY_NONE;
}

/* dmarc_select_policy - p, sp or np for a failing message; -1 on temperror */
static int
dmarc_select_policy(struct dmarc_eval *ev, struct dmarc_outcome *o)
{
	const struct dmarc_record *r = &o->record;
	enum dmarc_policy sub;

	if (o->source == DMARC_SOURCE_RUA_FALLBACK) {
		o->policy = DMARC_POLICY_NONE;
		return 0;
	}
	if (o->source == DMARC_SOURCE_P) {
		o->policy = r->p != DMARC_POLICY_UNSET ? r->p : DMARC_POLICY_NONE;
		return 0;
	}
	sub = r->sp != DMARC_POLICY_UNSET ? r->sp : r->p;
	if (sub == DMARC_POLICY_UNSET)
		sub = DMARC_POLICY_NONE;
	o->policy = sub;
	if (ev->d->mode == DMARC_MODE_RFC9989 && r->np != DMARC_POLICY_UNSET
	    && r->np != sub) {
		if ((o->exists = dmarc_exists(ev)) < 0)
			return -1;
		if (o->exists == 0) {
			o->policy = r->np;
			o->source = DMARC_SOURCE_NP;
		}
	}
	return 0;
}

/* dmarc_disposition - what to enact on failure after pct= or t= */
static void
dmarc_disposition(struct dmarc_eval *ev, struct dmarc_outcome *o)
{
	const struct dmarc_record *r = &o->record;

	o->disposition = o->policy;
	if (o->policy == DMARC_POLICY_NONE)
		return;
	if (ev->d->mode == DMARC_MODE_RFC7489 && r->pct < 100
	    && ev->d->random(ev->d->random_arg) % 100 >= (unsigned)r->pct) {
		o->sampled_out = 1;
		o->disposition = dmarc_lower(o->policy);
	}
	if (ev->d->mode == DMARC_MODE_RFC9989 && r->testing) {
		o->testing = 1;
		o->disposition = dmarc_lower(o->policy);
	}
}

/*
 * dmarc_align_all - SPF and DKIM alignment; 1 pass, 0 fail, -1 unknown.
 * Identical domains are compared first (no DNS); tree walks for relaxed
 * alignment run only while no identifier has aligned yet.
 */
static int
dmarc_align_all(struct dmarc_eval *ev, const struct dmarc_input *in,
    struct dmarc_outcome *o)
{
	int a, pass = 0, unknown = 0, exact;
	size_t i;

	for (exact = 1; exact >= 0 && !pass; exact--) {
		unknown = 0;
		if (in->spf == DMARC_AUTH_PASS && in->spf_domain != NULL) {
			a = dmarc_aligned(ev, in->spf_domain, o->record.aspf, exact);
			o->spf_aligned = a == 1;
			pass |= a == 1;
			unknown |= a < 0;
		}
		for (i = 0; i < o->ndkim && !(pass && !exact); i++) {
			const struct dmarc_dkim *k = &in->dkim[i];

			if (k->result != DMARC_AUTH_PASS || k->partial
			    || k->domain == NULL || o->dkim_aligned[i])
				continue;
			a = dmarc_aligned(ev, k->domain, o->record.adkim, exact);
			o->dkim_aligned[i] = a == 1;
			pass |= a == 1;
			unknown |= a < 0;
		}
	}
	return pass ? 1 : unknown ? -1 : 0;
}

/*
 * dmarc_unfinished - an identifier whose check ended in temperror and that
 * would align if it had passed (RFC 9989 "DMARC validation with DNS
 * errors"): with no aligned pass, such a message can be judged neither
 * pass nor fail. Returns the identifier's domain (SPF first), or NULL.
 * Alignment that cannot be decided (DNS again) counts as could-align.
 */
static const char *
dmarc_unfinished(struct dmarc_eval *ev, const struct dmarc_input *in,
    struct dmarc_outcome *o, const char **kind)
{
	size_t i;

	if (in->spf == DMARC_AUTH_TEMPERROR && in->spf_domain != NULL
	    && dmarc_aligned(ev, in->spf_domain, o->record.aspf, 0) != 0) {
		*kind = "SPF ";
		return in->spf_domain;
	}
	for (i = 0; i < o->ndkim; i++) {
		const struct dmarc_dkim *k = &in->dkim[i];

		if (k->result != DMARC_AUTH_TEMPERROR || k->domain == NULL)
			continue;
		if (dmarc_aligned(ev, k->domain, o->record.adkim, 0) != 0) {
			*kind = "DKIM d=";
			return k->domain;
		}
	}
	return NULL;
}

/*
 * dmarc_temperror - the result is temperror; at_stake says what a fail
 * would have enacted (UNSET when even that is unknown), so that a p=none
 * domain's mail need not wait for the DNS.
 */
static void
dmarc_temperror(struct dmarc_eval *ev, struct dmarc_outcome *o)
{
	o->result = DMARC_RESULT_TEMPERROR;
	o->at_stake = DMARC_POLICY_UNSET;
	if (dmarc_select_policy(ev, o) == 0) {
		dmarc_disposition(ev, o);
		o->at_stake = o->disposition;
	}
	o->disposition = DMARC_POLICY_NONE;
}

/* dmarc_pass_reason - name what aligned */
static void
dmarc_pass_reason(const struct dmarc_input *in, struct dmarc_outcome *o)
{
	size_t i;

	for (i = 0; i < o->ndkim; i++)
		if (o->dkim_aligned[i]) {
			dmarc_reason(o, "pass: DKIM d=%s aligned (%s) with %s",
			    in->dkim[i].domain, o->record.adkim == DMARC_ALIGN_STRICT
			    ? "strict" : "relaxed", o->from_domain);
			return;
		}
	dmarc_reason(o, "pass: SPF %s aligned (%s) with %s", in->spf_domain,
	    o->record.aspf == DMARC_ALIGN_STRICT ? "strict" : "relaxed",
	    o->from_domain);
}

/* dmarc_conclude - alignment, then policy and disposition for a found record */
static void
dmarc_conclude(struct dmarc_eval *ev, const struct dmarc_input *in,
    struct dmarc_outcome *o)
{
	static const char *const tagname[] = { "-", "p", "sp", "np", "p (rua fallback)" };
	int a = dmarc_align_all(ev, in, o);
	const char *who, *kind = "";

	if (a == 1) {
		o->result = DMARC_RESULT_PASS;
		o->disposition = DMARC_POLICY_NONE;
		dmarc_pass_reason(in, o);
		return;
	}
	if (a < 0) {
		dmarc_temperror(ev, o);
		dmarc_reason(o, "temperror: DNS failure while finding organizational "
		    "domains for alignment with %s", o->from_domain);
		return;
	}
	if ((who = dmarc_unfinished(ev, in, o, &kind)) != NULL) {
		dmarc_temperror(ev, o);
		dmarc_reason(o, "temperror: no aligned pass for %s and the check "
		    "of %s%s (could align) did not finish (DNS); policy %s=%s "
		    "not applied", o->from_domain, kind, who, tagname[o->source],
		    dmarc_policy_name(o->policy));
		return;
	}
	if (dmarc_select_policy(ev, o) != 0) {
		o->result = DMARC_RESULT_TEMPERROR;
		dmarc_reason(o, "temperror: DNS failure while checking that %s "
		    "exists (np=)", o->from_domain);
		return;
	}
	o->result = DMARC_RESULT_FAIL;
	dmarc_disposition(ev, o);
	o->pct_ignored = ev->d->mode == DMARC_MODE_RFC9989 && o->record.pct < 100
	    && o->disposition != DMARC_POLICY_NONE;
	dmarc_reason(o, "fail: no aligned SPF or DKIM identifier for %s; "
	    "policy %s=%s from %s; disposition %s%s%s", o->from_domain,
	    tagname[o->source], dmarc_policy_name(o->policy), o->policy_domain,
	    dmarc_policy_name(o->disposition),
	    o->sampled_out ? " (pct sampling)" : "",
	    o->testing ? " (t=y testing)" : "");
}

/* dmarc_evaluate - one message's DMARC outcome */
void
dmarc_evaluate(const struct dmarc *d, const struct dmarc_input *in,
    struct dmarc_outcome *out)
{
	struct dmarc_eval *ev;
	size_t i;
	int st;

	memset(out, 0, sizeof(*out));
	dmarc_record_init(&out->record);
	out->exists = -1;
	out->disposition = out->policy = DMARC_POLICY_NONE;
	out->ndkim = in->dkim != NULL ? in->ndkim : 0;
	out->dkim_aligned = xcalloc(out->ndkim ? out->ndkim : 1, 1);
	if (dmarc_domain_normalize(in->from_domain, out->from_domain) != 0) {
		out->result = DMARC_RESULT_PERMERROR;
		dmarc_reason(out, "permerror: no valid RFC5322.From domain");
		return;
	}
	ev = xcalloc(1, sizeof(*ev));
	ev->d = d;
	ev->author = out->from_domain;
	st = d->mode == DMARC_MODE_RFC7489 ? dmarc_discover_7489(ev, out)
	    : dmarc_discover_9989(ev, out);
	if (st < 0) {
		out->result = DMARC_RESULT_TEMPERROR;
		dmarc_reason(out, "temperror: DNS failure looking up the DMARC "
		    "record of %s", out->from_domain);
	} else if (st > 0) {
		out->result = DMARC_RESULT_NONE;
		dmarc_reason(out, "none: no DMARC record for %s", out->from_domain);
	} else if (dmarc_unusable(d->mode, &out->record) && out->record.nrua == 0) {
		out->result = DMARC_RESULT_NONE;
		dmarc_reason(out, "none: the DMARC record at %s has an invalid "
		    "policy and no valid rua", out->policy_domain);
	} else {
		if (dmarc_unusable(d->mode, &out->record))
			out->source = DMARC_SOURCE_RUA_FALLBACK;
		dmarc_conclude(ev, in, out);
	}
	if (ev->org_state == 1)	/* if it does not fit: left "", not known */
		(void)dmarc_domain_copy(out->org_domain, ev->org);
	out->queries = ev->queries;
	for (i = 0; i < ev->ncache; i++)
		dmarc_record_free(&ev->cache[i].rec);
	free(ev);
}

/* dmarc_outcome_free - release an outcome */
void
dmarc_outcome_free(struct dmarc_outcome *o)
{
	dmarc_record_free(&o->record);
	free(o->dkim_aligned);
	o->dkim_aligned = NULL;
	o->ndkim = 0;
}
