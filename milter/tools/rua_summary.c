/*
 * rua_summary.c - the received aggregate reports of one domain summed up
 * per source and per day, the policy verdict, and the text and JSON
 * outputs (rua_summary.h; the HTML page is rua_html.c).
 *
 * A message passes DMARC when the receiver evaluated aligned DKIM or
 * aligned SPF as pass (policy_evaluated, RFC 7489 Appendix C); a source is
 * unaligned when any of its messages did not pass. Single-threaded.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tools/rua_summary.h"
#include "base/json.h"
#include "base/xalloc.h"

#define RUA_DAY 86400LL

/* What rua_summary_build carries from report to report. */
struct rua_acc {
	struct rua_summary *sum;	/* borrowed: being built */
	size_t *slot;			/* hash of src by ip: index + 1, 0 empty (owned) */
	size_t nslot;
	long long latest;		/* end of the report whose policy is kept */
};

/* rua_thresholds_default - the documented defaults */
void
rua_thresholds_default(struct rua_thresholds *t)
{
	t->min_pass = 98.0;
	t->min_days = 14;
	t->min_messages = 100;
}

/* rua_pct - a share, rounded down to 0.1 */
double
rua_pct(unsigned long long part, unsigned long long whole)
{
	if (whole == 0)
		return 0.0;
	return (double)(part * 1000ULL / whole) / 10.0;
}

/* rua_list_add - add a line to a "\n"-separated set (once) */
static void
rua_list_add(char **list, const char *item)
{
	size_t n = strlen(item);
	const char *s = *list;
	struct buf b = BUF_INIT;

	if (item[0] == '\0')
		return;
	while (s != NULL && *s != '\0') {
		const char *e = strchr(s, '\n');
		size_t len = e != NULL ? (size_t)(e - s) : strlen(s);

		if (len == n && memcmp(s, item, n) == 0)
			return;
		s = e != NULL ? e + 1 : s + len;
	}
	buf_printf(&b, "%s%s%s", *list != NULL ? *list : "", *list != NULL
	    && **list != '\0' ? "\n" : "", item);
	free(*list);
	*list = buf_steal(&b);
}

/* rua_hash - FNV-1a of a string */
static size_t
rua_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return (size_t)h;
}

/* rua_acc_grow - a bigger hash table when half full */
static void
rua_acc_grow(struct rua_acc *a)
{
	size_t i, k, n = a->nslot ? a->nslot * 2 : 256;

	free(a->slot);
	a->slot = xcalloc(n, sizeof(*a->slot));
	a->nslot = n;
	for (i = 0; i < a->sum->nsrc; i++) {
		for (k = rua_hash(a->sum->src[i].ip) & (n - 1); a->slot[k];
		    k = (k + 1) & (n - 1))
			;
		a->slot[k] = i + 1;
	}
}

/* rua_source_of - the source of ip (added when new) */
static struct rua_source *
rua_source_of(struct rua_acc *a, const char *ip)
{
	struct rua_summary *s = a->sum;
	struct rua_source *src;
	size_t k;

	if ((s->nsrc + 1) * 2 > a->nslot)
		rua_acc_grow(a);
	for (k = rua_hash(ip) & (a->nslot - 1); a->slot[k];
	    k = (k + 1) & (a->nslot - 1))
		if (strcmp(s->src[a->slot[k] - 1].ip, ip) == 0)
			return &s->src[a->slot[k] - 1];
	s->src = xreallocarray(s->src, s->nsrc + 1, sizeof(*s->src));
	src = &s->src[s->nsrc++];
	memset(src, 0, sizeof(*src));
	src->ip = xstrdup(ip);
	src->name = xstrdup("");
	a->slot[k] = s->nsrc;
	return src;
}

/* rua_day_of - the day a report's period begins (added when new) */
static struct rua_day *
rua_day_of(struct rua_summary *s, long long t)
{
	long long day = t - ((t % RUA_DAY) + RUA_DAY) % RUA_DAY;
	size_t i;

	for (i = 0; i < s->nday; i++)
		if (s->day[i].day == day)
			return &s->day[i];
	s->day = xreallocarray(s->day, s->nday + 1, sizeof(*s->day));
	memset(&s->day[s->nday], 0, sizeof(s->day[0]));
	s->day[s->nday].day = day;
	return &s->day[s->nday++];
}

/* rua_take - one report into the sums (history_rua_fn) */
static int
rua_take(void *arg, const struct rua_report *r)
{
	struct rua_acc *a = arg;
	struct rua_summary *s = a->sum;
	struct rua_source *src;
	struct rua_day *d = rua_day_of(s, r->begin);
	const struct rua_row *w;
	int dkim, spf;
	size_t i;

	s->reports++;
	rua_list_add(&s->reporters, r->org_name);
	if (s->reports == 1 || r->begin < s->first)
		s->first = r->begin;
	if (r->end > s->last)
		s->last = r->end;
	if (s->reports == 1 || r->end >= a->latest) {
		a->latest = r->end;
		free(s->p);
		s->p = xstrdup(r->p);
		free(s->pct);
		s->pct = xstrdup(r->pct);
	}
	for (i = 0; i < r->nrows; i++) {
		w = &r->rows[i];
		src = rua_source_of(a, w->source_ip);
		dkim = strcmp(w->dkim, "pass") == 0;
		spf = strcmp(w->spf, "pass") == 0;
		src->n += w->count;
		src->dkim += dkim ? w->count : 0;
		src->spf += spf ? w->count : 0;
		src->pass += dkim || spf ? w->count : 0;
		rua_list_add(&src->reporters, r->org_name);
		rua_list_add(&src->header_from, w->header_from);
		d->n += w->count;
		d->pass += dkim || spf ? w->count : 0;
	}
	return 0;
}

/* rua_src_cmp - unaligned first (most failing messages first), then by volume, then address */
static int
rua_src_cmp(const void *x, const void *y)
{
	const struct rua_source *a = x, *b = y;
	unsigned long long fa = a->n - a->pass, fb = b->n - b->pass;

	if ((fa > 0) != (fb > 0))
		return fa > 0 ? -1 : 1;
	if (fa != fb)
		return fa > fb ? -1 : 1;
	if (a->n != b->n)
		return a->n > b->n ? -1 : 1;
	return strcmp(a->ip, b->ip);
}

/* rua_day_cmp - by day */
static int
rua_day_cmp(const void *x, const void *y)
{
	const struct rua_day *a = x, *b = y;

	return a->day < b->day ? -1 : a->day > b->day;
}

/* rua_verdict - whether the next policy step is safe, and why (ASCII: "->") */
static void
rua_verdict(struct rua_summary *s, const struct rua_thresholds *t)
{
	struct buf v = BUF_INIT, facts = BUF_INIT;
	double pass = rua_pct(s->pass, s->n);

	s->from = strcmp(s->p, "reject") == 0 ? "reject"
	    : strcmp(s->p, "quarantine") == 0 ? "quarantine" : "none";
	s->to = strcmp(s->from, "none") == 0 ? "quarantine"
	    : strcmp(s->from, "quarantine") == 0 ? "reject" : NULL;
	s->safe = 0;
	buf_printf(&facts, "%.1f%% of %llu messages pass DMARC over %ld day%s; "
	    "unaligned: %zu source%s, %.1f%%", pass, s->n, s->days,
	    s->days == 1 ? "" : "s", s->unaligned, s->unaligned == 1 ? "" : "s",
	    rua_pct(s->unaligned_n, s->n));
	if (s->n == 0)
		buf_printf(&v, "no aggregate reports for %s%s: nothing to judge "
		    "by", s->domain, s->since ? " in the period" : "");
	else if (s->to == NULL)
		buf_printf(&v, "p=reject already: %s", buf_cstr(&facts));
	else if (pass < t->min_pass)
		buf_printf(&v, "not yet safe to move p=%s -> %s: %s (needs "
		    "%.1f%% passing): align or authorise the unaligned sources "
		    "first", s->from, s->to, buf_cstr(&facts), t->min_pass);
	else if (s->days < t->min_days)
		buf_printf(&v, "not yet safe to move p=%s -> %s: %s (needs "
		    "reports over %ld days)", s->from, s->to, buf_cstr(&facts),
		    t->min_days);
	else if (s->n < t->min_messages)
		buf_printf(&v, "not yet safe to move p=%s -> %s: %s (needs %llu "
		    "messages)", s->from, s->to, buf_cstr(&facts),
		    t->min_messages);
	else {
		s->safe = 1;
		buf_printf(&v, "safe to move p=%s -> %s: %s", s->from, s->to,
		    buf_cstr(&facts));
	}
	s->verdict = buf_steal(&v);
	buf_free(&facts);
}

/* rua_summary_build - read and sum up */
int
rua_summary_build(struct history_store *st, const char *domain,
    long long since, const struct rua_thresholds *t, struct rua_summary *s,
    char *err, size_t errlen)
{
	struct rua_acc a;
	size_t i;
	int rc;

	memset(s, 0, sizeof(*s));
	memset(&a, 0, sizeof(a));
	s->domain = xstrdup(domain);
	s->since = since;
	s->p = xstrdup("");
	s->pct = xstrdup("");
	a.sum = s;
	rc = history_store_rua_each(st, domain, since, rua_take, &a, err, errlen);
	free(a.slot);
	if (rc != 0)
		return -1;
	for (i = 0; i < s->nsrc; i++) {
		s->n += s->src[i].n;
		s->dkim += s->src[i].dkim;
		s->spf += s->src[i].spf;
		s->pass += s->src[i].pass;
		if (s->src[i].pass < s->src[i].n) {
			s->unaligned++;
			s->unaligned_n += s->src[i].n - s->src[i].pass;
		}
	}
	if (s->nsrc > 1)
		qsort(s->src, s->nsrc, sizeof(*s->src), rua_src_cmp);
	if (s->nday > 1)
		qsort(s->day, s->nday, sizeof(*s->day), rua_day_cmp);
	/* a daily report runs 00:00:00 to 23:59:59: round to whole days */
	s->days = s->reports ? (long)((s->last - s->first + RUA_DAY / 2)
	    / RUA_DAY) : 0;
	if (s->reports && s->days < 1)
		s->days = 1;
	rua_verdict(s, t);
	return 0;
}

/* The domains of the store, as rua_summary_domains gathers them. */
struct rua_domains {
	char **v;			/* owned, each owned */
	size_t n;
};

/* rua_domain_take - one report's domain (history_rua_fn) */
static int
rua_domain_take(void *arg, const struct rua_report *r)
{
	struct rua_domains *d = arg;

	d->v = xreallocarray(d->v, d->n + 1, sizeof(*d->v));
	d->v[d->n++] = xstrdup(r->domain);
	return 0;
}

/* rua_strcmp - qsort of strings */
static int
rua_strcmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* rua_summary_domains - every domain with reports since since, sorted, once each */
char **
rua_summary_domains(struct history_store *st, long long since, size_t *n,
    char *err, size_t errlen)
{
	struct rua_domains d = { NULL, 0 };
	size_t i, k = 0;

	if (history_store_rua_each(st, NULL, since, rua_domain_take, &d, err,
	    errlen) != 0) {
		for (i = 0; i < d.n; i++)
			free(d.v[i]);
		free(d.v);
		return NULL;
	}
	if (d.n > 1)
		qsort(d.v, d.n, sizeof(*d.v), rua_strcmp);
	for (i = 0; i < d.n; i++)
		if (k > 0 && strcmp(d.v[k - 1], d.v[i]) == 0)
			free(d.v[i]);
		else
			d.v[k++] = d.v[i];
	*n = k;
	return d.v != NULL ? d.v : xcalloc(1, sizeof(char *));
}

/* rua_summary_free - release */
void
rua_summary_free(struct rua_summary *s)
{
	size_t i;

	for (i = 0; i < s->nsrc; i++) {
		free(s->src[i].ip);
		free(s->src[i].name);
		free(s->src[i].reporters);
		free(s->src[i].header_from);
	}
	free(s->src);
	free(s->day);
	free(s->domain);
	free(s->reporters);
	free(s->p);
	free(s->pct);
	free(s->verdict);
	memset(s, 0, sizeof(*s));
}

/* rua_date - YYYY-MM-DD (UTC) of t into out */
const char *
rua_summary_date(long long t, char *out, size_t outlen)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (gmtime_r(&tt, &tm) == NULL
	    || strftime(out, outlen, "%Y-%m-%d", &tm) == 0)
		(void)snprintf(out, outlen, "%lld", t);
	return out;
}

/* rua_arrow - the verdict with "->" shown as an arrow */
void
rua_summary_arrow(struct buf *out, const char *s, const char *arrow)
{
	const char *a;

	while ((a = strstr(s, " -> ")) != NULL) {
		buf_append(out, s, (size_t)(a - s));
		buf_printf(out, " %s ", arrow);
		s = a + 4;
	}
	buf_puts(out, s);
}

/* rua_joined - a "\n" list with another separator */
void
rua_summary_joined(struct buf *out, const char *list, const char *sep)
{
	for (; list != NULL && *list != '\0'; list++)
		if (*list == '\n')
			buf_puts(out, sep);
		else
			buf_putc(out, *list);
}

/* rua_summary_text - for operators */
void
rua_summary_text(const struct rua_summary *s, const struct rua_thresholds *t,
    struct buf *out)
{
	char d1[32], d2[32];
	size_t i;

	buf_printf(out, "domain %s: %zu report%s from ", s->domain, s->reports,
	    s->reports == 1 ? "" : "s");
	if (s->reporters != NULL)
		rua_summary_joined(out, s->reporters, ", ");
	else
		buf_puts(out, "nobody");
	if (s->reports)
		buf_printf(out, ", %s to %s", rua_summary_date(s->first, d1, sizeof(d1)),
		    rua_summary_date(s->last, d2, sizeof(d2)));
	buf_printf(out, "\npolicy p=%s%s%s\n", s->p[0] ? s->p : "(none "
	    "published)", s->pct[0] ? " pct=" : "", s->pct);
	buf_printf(out, "messages %llu: DMARC pass %llu (%.1f%%), DKIM aligned "
	    "pass %llu (%.1f%%), SPF aligned pass %llu (%.1f%%)\n", s->n, s->pass,
	    rua_pct(s->pass, s->n), s->dkim, rua_pct(s->dkim, s->n), s->spf,
	    rua_pct(s->spf, s->n));
	buf_puts(out, "verdict: ");
	rua_summary_arrow(out, s->verdict, "\xe2\x86\x92");
	buf_printf(out, "\n  (thresholds: %.1f%% passing, %ld days, %llu "
	    "messages)\n", t->min_pass, t->min_days, t->min_messages);
	if (s->nsrc == 0)
		return;
	buf_printf(out, "\n%-39s %9s %6s %6s %6s  %-9s %s\n", "source",
	    "messages", "dmarc", "dkim", "spf", "aligned", "reported by");
	for (i = 0; i < s->nsrc; i++) {
		const struct rua_source *src = &s->src[i];

		buf_printf(out, "%-39s %9llu %5.1f%% %5.1f%% %5.1f%%  %-9s ",
		    src->ip, src->n, rua_pct(src->pass, src->n),
		    rua_pct(src->dkim, src->n), rua_pct(src->spf, src->n),
		    src->pass < src->n ? "NO" : "yes");
		rua_summary_joined(out, src->reporters, ", ");
		if (src->name[0] != '\0')
			buf_printf(out, "\n%39s", src->name);
		buf_putc(out, '\n');
	}
}

/* rua_json_list - a "\n" list as a JSON array */
static void
rua_json_list(struct buf *out, const char *list)
{
	char *copy = xstrdup(list != NULL ? list : ""), *save = NULL, *w;
	int first = 1;

	buf_putc(out, '[');
	for (w = strtok_r(copy, "\n", &save); w != NULL;
	    w = strtok_r(NULL, "\n", &save)) {
		buf_puts(out, first ? "" : ", ");
		json_string(out, w);
		first = 0;
	}
	buf_putc(out, ']');
	free(copy);
}

/* rua_summary_json - for a portal */
void
rua_summary_json(const struct rua_summary *s, const struct rua_thresholds *t,
    struct buf *out)
{
	char d[32];
	size_t i;

	buf_puts(out, "{\"domain\": ");
	json_string(out, s->domain);
	buf_printf(out, ", \"since\": %lld, \"reports\": %zu, \"reporters\": ",
	    s->since, s->reports);
	rua_json_list(out, s->reporters);
	buf_printf(out, ", \"first\": \"%s\"", s->reports ? rua_summary_date(s->first, d,
	    sizeof(d)) : "");
	buf_printf(out, ", \"last\": \"%s\", \"days\": %ld, \"policy\": {\"p\": ",
	    s->reports ? rua_summary_date(s->last, d, sizeof(d)) : "", s->days);
	json_string(out, s->p);
	buf_puts(out, ", \"pct\": ");
	json_string(out, s->pct);
	buf_printf(out, "}, \"messages\": %llu, \"dmarc_pass\": %llu, "
	    "\"dkim_aligned_pass\": %llu, \"spf_aligned_pass\": %llu, "
	    "\"dmarc_pass_rate\": %.1f, \"dkim_aligned_rate\": %.1f, "
	    "\"spf_aligned_rate\": %.1f", s->n, s->pass, s->dkim, s->spf,
	    rua_pct(s->pass, s->n), rua_pct(s->dkim, s->n),
	    rua_pct(s->spf, s->n));
	buf_printf(out, ", \"unaligned\": {\"sources\": %zu, \"messages\": %llu, "
	    "\"rate\": %.1f}", s->unaligned, s->unaligned_n,
	    rua_pct(s->unaligned_n, s->n));
	buf_printf(out, ", \"verdict\": {\"safe\": %s, \"from\": \"%s\", "
	    "\"to\": ", s->safe ? "true" : "false", s->from);
	if (s->to != NULL)
		json_string(out, s->to);
	else
		buf_puts(out, "null");
	buf_puts(out, ", \"text\": ");
	json_string(out, s->verdict);
	buf_printf(out, ", \"thresholds\": {\"min_pass\": %.1f, \"min_days\": %ld, "
	    "\"min_messages\": %llu}}, \"per_day\": [", t->min_pass, t->min_days,
	    t->min_messages);
	for (i = 0; i < s->nday; i++)
		buf_printf(out, "%s{\"day\": \"%s\", \"messages\": %llu, "
		    "\"dmarc_pass\": %llu}", i ? ", " : "", rua_summary_date(s->day[i].day,
		    d, sizeof(d)), s->day[i].n, s->day[i].pass);
	buf_puts(out, "], \"sources\": [");
	for (i = 0; i < s->nsrc; i++) {
		const struct rua_source *src = &s->src[i];

		buf_puts(out, i ? ", {\"ip\": " : "{\"ip\": ");
		json_string(out, src->ip);
		buf_puts(out, ", \"name\": ");
		json_string(out, src->name);
		buf_printf(out, ", \"messages\": %llu, \"dmarc_pass\": %llu, "
		    "\"dkim_aligned_pass\": %llu, \"spf_aligned_pass\": %llu, "
		    "\"dmarc_pass_rate\": %.1f, \"aligned\": %s, \"reporters\": ",
		    src->n, src->pass, src->dkim, src->spf,
		    rua_pct(src->pass, src->n), src->pass < src->n ? "false"
		    : "true");
		rua_json_list(out, src->reporters);
		buf_puts(out, ", \"header_from\": ");
		rua_json_list(out, src->header_from);
		buf_putc(out, '}');
	}
	buf_puts(out, "]}\n");
}
