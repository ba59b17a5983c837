/*
 * report.c - DMARC aggregate reports from the history: group the records
 * of a period per policy domain and per reported combination (source IP,
 * disposition, aligned results, reasons, identifiers, every
 * authentication result), then write the RFC 7489 Appendix C XML, gzip
 * it (zlib) and wrap it in the MIME message of section 7.2.1.1.
 *
 * One thread; nothing shared. The grouping keeps one record per row, so
 * memory grows with the number of distinct rows, not of messages.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <arpa/inet.h>
#include <zlib.h>

#include "store/report.h"
#include "base/log.h"
#include "base/xalloc.h"

/* One slot of the grouping's hash table: a key and where its row is. */
struct report_slot {
	char *key;			/* domain \001 row key (owned); NULL: free */
	size_t rep, row;		/* the report, and its row (SIZE_MAX: the
					 * domain's own slot) */
};

struct report_group {
	struct report_set *set;		/* what is built (borrowed) */
	struct report_slot *slots;	/* open addressing (owned) */
	size_t cap, used;
};

/* report_hash - FNV-1a of a string */
static size_t
report_hash(const char *s)
{
	size_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

/* report_slot_find - the slot of key, or the free one where it goes */
static struct report_slot *
report_slot_find(struct report_group *g, const char *key)
{
	size_t i = report_hash(key) & (g->cap - 1);

	while (g->slots[i].key != NULL && strcmp(g->slots[i].key, key) != 0)
		i = (i + 1) & (g->cap - 1);
	return &g->slots[i];
}

/* report_grow - double the table when it is half full */
static void
report_grow(struct report_group *g)
{
	struct report_slot *old = g->slots, *s;
	size_t i, n = g->cap;

	if (g->used * 2 < g->cap)
		return;
	g->cap = n ? n * 2 : 1024;
	g->slots = xcalloc(g->cap, sizeof(*g->slots));
	for (i = 0; i < n; i++)
		if (old[i].key != NULL) {
			s = report_slot_find(g, old[i].key);
			*s = old[i];
		}
	free(old);
}

/* report_row_key - what the records of one row share */
static void
report_row_key(const struct history_record *r, struct buf *k)
{
	size_t i;

	buf_printf(k, "%s\001%s\001%d\001%d\001%s\001%s\001%s\001%s\001%s\001"
	    "%s\001%s", r->source_ip, r->disposition, r->dkim_aligned,
	    r->spf_aligned, r->reasons, r->envelope_to, r->envelope_from,
	    r->header_from, r->spf_domain, r->spf_scope, r->spf_result);
	for (i = 0; i < r->ndkim; i++)
		buf_printf(k, "\001%s\002%s\002%s", r->dkim[i].domain,
		    r->dkim[i].selector, r->dkim[i].result);
}

/* report_record_copy - a deep copy of a record */
static struct history_record *
report_record_copy(const struct history_record *r)
{
	struct history_record *c = history_record_new();
	size_t i;

	c->id = r->id;
	c->time = r->time;
	history_record_set(&c->source_ip, r->source_ip);
	history_record_set(&c->envelope_from, r->envelope_from);
	history_record_set(&c->envelope_to, r->envelope_to);
	history_record_set(&c->header_from, r->header_from);
	history_record_set(&c->spf_result, r->spf_result);
	history_record_set(&c->spf_domain, r->spf_domain);
	history_record_set(&c->spf_scope, r->spf_scope);
	c->spf_aligned = r->spf_aligned;
	c->dkim_aligned = r->dkim_aligned;
	for (i = 0; i < r->ndkim; i++)
		history_record_add_dkim(c, r->dkim[i].domain, r->dkim[i].selector,
		    r->dkim[i].result);
	history_record_set(&c->policy_domain, r->policy_domain);
	history_record_set(&c->p, r->p);
	history_record_set(&c->sp, r->sp);
	history_record_set(&c->np, r->np);
	history_record_set(&c->adkim, r->adkim);
	history_record_set(&c->aspf, r->aspf);
	c->pct = r->pct;
	c->testing = r->testing;
	history_record_set(&c->psd, r->psd);
	history_record_set(&c->fo, r->fo);
	history_record_set(&c->result, r->result);
	history_record_set(&c->disposition, r->disposition);
	history_record_set(&c->reasons, r->reasons);
	history_record_set(&c->rua, r->rua);
	return c;
}

/* report_domain - the index of the report of domain, made when new */
static size_t
report_domain(struct report_group *g, const struct history_record *r)
{
	struct report_set *set = g->set;
	struct report_slot *s;
	struct report *rep;

	report_grow(g);
	s = report_slot_find(g, r->policy_domain);
	if (s->key != NULL)
		return s->rep;
	s->key = xstrdup(r->policy_domain);
	s->rep = set->n;
	s->row = (size_t)-1;
	g->used++;
	set->v = xreallocarray(set->v, set->n + 1, sizeof(*set->v));
	rep = &set->v[set->n++];
	memset(rep, 0, sizeof(*rep));
	rep->domain = xstrdup(r->policy_domain);
	return s->rep;
}

/* report_add - history_row_fn: count a record into its row */
static int
report_add(void *arg, const struct history_record *r)
{
	struct report_group *g = arg;
	struct buf key = BUF_INIT;
	struct report_slot *s;
	struct report_row *row;
	struct report *rep;
	size_t ri;

	/* only domains that asked for aggregate reports */
	if (r->policy_domain[0] == '\0' || r->rua[0] == '\0')
		return 0;
	ri = report_domain(g, r);
	rep = &g->set->v[ri];
	history_record_free(rep->policy);	/* the newest record's policy */
	rep->policy = report_record_copy(r);
	rep->messages++;
	buf_printf(&key, "%s\001", r->policy_domain);
	report_row_key(r, &key);
	report_grow(g);
	s = report_slot_find(g, buf_cstr(&key));
	if (s->key != NULL) {
		rep->rows[s->row].count++;
		buf_free(&key);
		return 0;
	}
	s->key = buf_steal(&key);
	s->rep = ri;
	s->row = rep->nrows;
	g->used++;
	rep->rows = xreallocarray(rep->rows, rep->nrows + 1, sizeof(*rep->rows));
	row = &rep->rows[rep->nrows++];
	row->rec = report_record_copy(r);
	row->key = xstrdup(s->key);
	row->count = 1;
	return 0;
}

/* report_cmp - reports by domain */
static int
report_cmp(const void *a, const void *b)
{
	return strcmp(((const struct report *)a)->domain,
	    ((const struct report *)b)->domain);
}

/* report_collect - group a period's records */
int
report_collect(struct history_store *s, time_t begin, time_t end,
    struct report_set *out, char *err, size_t errlen)
{
	struct report_group g;
	size_t i;
	int rc;

	memset(out, 0, sizeof(*out));
	memset(&g, 0, sizeof(g));
	g.set = out;
	report_grow(&g);
	rc = history_store_each(s, begin, end, report_add, &g, err, errlen);
	for (i = 0; i < g.cap; i++)
		free(g.slots[i].key);
	free(g.slots);
	if (rc != 0) {
		report_set_free(out);
		return -1;
	}
	if (out->n > 1)
		qsort(out->v, out->n, sizeof(*out->v), report_cmp);
	return 0;
}

/* report_set_free - release */
void
report_set_free(struct report_set *set)
{
	size_t i, j;

	for (i = 0; i < set->n; i++) {
		for (j = 0; j < set->v[i].nrows; j++) {
			history_record_free(set->v[i].rows[j].rec);
			free(set->v[i].rows[j].key);
		}
		free(set->v[i].rows);
		free(set->v[i].domain);
		history_record_free(set->v[i].policy);
	}
	free(set->v);
	memset(set, 0, sizeof(*set));
}

/* report_id - domain and period, under our receiver name */
void
report_id(const struct report *r, const struct report_meta *m,
    struct buf *out)
{
	buf_printf(out, "%s.%lld.%lld@%s", r->domain, (long long)m->begin,
	    (long long)m->end, m->receiver);
}

/* report_esc - text escaped for XML */
static void
report_esc(struct buf *out, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<': buf_puts(out, "&lt;"); break;
		case '>': buf_puts(out, "&gt;"); break;
		case '&': buf_puts(out, "&amp;"); break;
		case '"': buf_puts(out, "&quot;"); break;
		default:
			/* control characters are not XML 1.0, and a byte
			 * above ASCII (an envelope domain in UTF-8, or not
			 * even that) could make the document invalid */
			buf_putc(out, (unsigned char)*s < 0x20
			    || (unsigned char)*s > 0x7e ? '?' : *s);
		}
	}
}

/* report_elem - <name>escaped text</name> at an indent */
static void
report_elem(struct buf *out, int indent, const char *name, const char *text)
{
	buf_printf(out, "%*s<%s>", indent, "", name);
	report_esc(out, text);
	buf_printf(out, "</%s>\n", name);
}

/* report_one_of - s when it is one of the allowed values, else dflt */
static const char *
report_one_of(const char *s, const char *const *allowed, const char *dflt)
{
	for (; *allowed != NULL; allowed++)
		if (strcmp(s, *allowed) == 0)
			return s;
	return dflt;
}

static const char *const report_dispositions[] = { "none", "quarantine",
    "reject", NULL };
static const char *const report_spf_results[] = { "none", "neutral", "pass",
    "fail", "softfail", "temperror", "permerror", NULL };
static const char *const report_dkim_results[] = { "none", "pass", "fail",
    "policy", "neutral", "temperror", "permerror", NULL };
static const char *const report_reasons[] = { "forwarded", "sampled_out",
    "trusted_forwarder", "mailing_list", "local_policy", "other", NULL };

/* report_xml_reasons - one <reason> per word of reasons ("type" or "type:comment") */
static void
report_xml_reasons(const char *reasons, struct buf *out)
{
	char *copy = xstrdup(reasons), *save = NULL, *w, *colon;

	for (w = strtok_r(copy, " ", &save); w != NULL;
	    w = strtok_r(NULL, " ", &save)) {
		colon = strchr(w, ':');
		if (colon != NULL)
			*colon++ = '\0';
		buf_puts(out, "        <reason>\n");
		report_elem(out, 10, "type", report_one_of(w, report_reasons,
		    "other"));
		if (colon != NULL)
			report_elem(out, 10, "comment", colon);
		buf_puts(out, "        </reason>\n");
	}
	free(copy);
}

/*
 * report_ip - an address as the report writes it: IPv6 in full, eight
 * groups (RFC 7489's schema takes no "::"), IPv4 and anything else as is
 */
static void
report_ip(const char *ip, struct buf *out)
{
	unsigned char a[16];
	int i;

	if (strchr(ip, ':') == NULL || inet_pton(AF_INET6, ip, a) != 1) {
		report_elem(out, 6, "source_ip", ip);
		return;
	}
	buf_puts(out, "      <source_ip>");
	for (i = 0; i < 16; i += 2)
		buf_printf(out, "%s%x", i ? ":" : "", (unsigned)(a[i] << 8
		    | a[i + 1]));
	buf_puts(out, "</source_ip>\n");
}

/* report_xml_record - one <record> */
static void
report_xml_record(const struct report_row *row, struct buf *out)
{
	const struct history_record *r = row->rec;
	size_t i;

	buf_puts(out, "  <record>\n    <row>\n");
	report_ip(r->source_ip, out);
	buf_printf(out, "      <count>%lu</count>\n", row->count);
	buf_puts(out, "      <policy_evaluated>\n");
	report_elem(out, 8, "disposition", report_one_of(r->disposition,
	    report_dispositions, "none"));
	report_elem(out, 8, "dkim", r->dkim_aligned ? "pass" : "fail");
	report_elem(out, 8, "spf", r->spf_aligned ? "pass" : "fail");
	report_xml_reasons(r->reasons, out);
	buf_puts(out, "      </policy_evaluated>\n    </row>\n");
	buf_puts(out, "    <identifiers>\n");
	if (r->envelope_to[0] != '\0')
		report_elem(out, 6, "envelope_to", r->envelope_to);
	report_elem(out, 6, "envelope_from", r->envelope_from);
	report_elem(out, 6, "header_from", r->header_from);
	buf_puts(out, "    </identifiers>\n    <auth_results>\n");
	for (i = 0; i < r->ndkim; i++) {
		buf_puts(out, "      <dkim>\n");
		report_elem(out, 8, "domain", r->dkim[i].domain);
		if (r->dkim[i].selector[0] != '\0')
			report_elem(out, 8, "selector", r->dkim[i].selector);
		report_elem(out, 8, "result", report_one_of(r->dkim[i].result,
		    report_dkim_results, "permerror"));
		buf_puts(out, "      </dkim>\n");
	}
	buf_puts(out, "      <spf>\n");
	report_elem(out, 8, "domain", r->spf_domain);
	report_elem(out, 8, "scope", strcmp(r->spf_scope, "helo") == 0 ? "helo"
	    : "mfrom");
	report_elem(out, 8, "result", report_one_of(r->spf_result,
	    report_spf_results, "none"));
	buf_puts(out, "      </spf>\n    </auth_results>\n  </record>\n");
}

/* report_xml - the whole report */
void
report_xml(const struct report *r, const struct report_meta *m,
    struct buf *out)
{
	const struct history_record *pol = r->policy;
	struct buf id = BUF_INIT;
	const char *p;
	size_t i;

	report_id(r, m, &id);
	buf_puts(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feedback>\n"
	    "  <version>1.0</version>\n  <report_metadata>\n");
	report_elem(out, 4, "org_name", m->org_name);
	report_elem(out, 4, "email", m->email);
	report_elem(out, 4, "report_id", buf_cstr(&id));
	buf_printf(out, "    <date_range>\n      <begin>%lld</begin>\n"
	    "      <end>%lld</end>\n    </date_range>\n  </report_metadata>\n",
	    (long long)m->begin, (long long)m->end - 1);
	buf_puts(out, "  <policy_published>\n");
	report_elem(out, 4, "domain", r->domain);
	report_elem(out, 4, "adkim", strcmp(pol->adkim, "s") == 0 ? "s" : "r");
	report_elem(out, 4, "aspf", strcmp(pol->aspf, "s") == 0 ? "s" : "r");
	p = report_one_of(pol->p, report_dispositions, "none");
	report_elem(out, 4, "p", p);
	/* sp absent: the subdomains have p */
	report_elem(out, 4, "sp", report_one_of(pol->sp, report_dispositions,
	    p));
	buf_printf(out, "    <pct>%d</pct>\n", pol->pct);
	report_elem(out, 4, "fo", pol->fo[0] ? pol->fo : "0");
	buf_puts(out, "  </policy_published>\n");
	for (i = 0; i < r->nrows; i++)
		report_xml_record(&r->rows[i], out);
	buf_puts(out, "</feedback>\n");
	buf_free(&id);
}

/* report_gzip - gzip (RFC 1952) with zlib */
int
report_gzip(const struct buf *in, struct buf *out, char *err, size_t errlen)
{
	z_stream z;
	int rc;

	memset(&z, 0, sizeof(z));
	/* 15 + 16: a gzip wrapper, not zlib's */
	if (deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
	    Z_DEFAULT_STRATEGY) != Z_OK)
		return log_fail(err, errlen, "gzip: cannot start zlib");
	buf_reserve(out, deflateBound(&z, in->len) + 1);
	z.next_in = (Bytef *)(in->data != NULL ? in->data : "");
	z.avail_in = (uInt)in->len;
	z.next_out = (Bytef *)out->data;
	z.avail_out = (uInt)(out->cap - 1);
	rc = deflate(&z, Z_FINISH);
	if (rc == Z_STREAM_END)
		out->len = z.total_out;
	(void)deflateEnd(&z);
	if (rc != Z_STREAM_END)
		return log_fail(err, errlen, "gzip: deflate failed (%d)", rc);
	return 0;
}

/* report_filename - the attachment's name */
void
report_filename(const struct report *r, const struct report_meta *m,
    struct buf *out)
{
	buf_printf(out, "%s!%s!%lld!%lld.xml.gz", m->receiver, r->domain,
	    (long long)m->begin, (long long)m->end - 1);
}

/* report_base64 - data in base64, lines of 76 */
static void
report_base64(const struct buf *data, struct buf *out)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789+/";
	const unsigned char *p = (const unsigned char *)data->data;
	size_t i, col = 0;
	unsigned long v;

	for (i = 0; i < data->len; i += 3) {
		v = (unsigned long)p[i] << 16;
		if (i + 1 < data->len)
			v |= (unsigned long)p[i + 1] << 8;
		if (i + 2 < data->len)
			v |= p[i + 2];
		buf_putc(out, tab[(v >> 18) & 63]);
		buf_putc(out, tab[(v >> 12) & 63]);
		buf_putc(out, i + 1 < data->len ? tab[(v >> 6) & 63] : '=');
		buf_putc(out, i + 2 < data->len ? tab[v & 63] : '=');
		if ((col += 4) == 76) {
			buf_puts(out, "\r\n");
			col = 0;
		}
	}
	if (col > 0)
		buf_puts(out, "\r\n");
}

/* report_mime - the report message, CRLF line ends */
void
report_mime(const struct report *r, const struct report_meta *m,
    const char *to, const struct buf *gz, time_t date, struct buf *out)
{
	struct buf id = BUF_INIT, name = BUF_INIT;
	char when[64], begin[32], end[32];
	struct tm tm;
	time_t last = m->end - 1;

	report_id(r, m, &id);
	report_filename(r, m, &name);
	if (gmtime_r(&date, &tm) == NULL || strftime(when, sizeof(when),
	    "%a, %d %b %Y %H:%M:%S +0000", &tm) == 0)
		(void)snprintf(when, sizeof(when), "Thu, 01 Jan 1970 00:00:00 +0000");
	if (gmtime_r(&m->begin, &tm) == NULL || strftime(begin, sizeof(begin),
	    "%Y-%m-%d %H:%M:%S", &tm) == 0)
		(void)snprintf(begin, sizeof(begin), "?");
	if (gmtime_r(&last, &tm) == NULL || strftime(end, sizeof(end),
	    "%Y-%m-%d %H:%M:%S", &tm) == 0)
		(void)snprintf(end, sizeof(end), "?");
	buf_printf(out, "From: %s\r\nTo: %s\r\nDate: %s\r\n"
	    "Subject: Report Domain: %s Submitter: %s Report-ID: <%s>\r\n"
	    "Message-ID: <%s>\r\nMIME-Version: 1.0\r\n"
	    "Content-Type: multipart/mixed; boundary=\"=_authmilter-report\"\r\n"
	    "\r\nThis is a DMARC aggregate report (RFC 7489) in MIME format.\r\n"
	    "\r\n--=_authmilter-report\r\n"
	    "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
	    "DMARC aggregate report for %s from %s: %lu messages from %s to "
	    "%s UTC.\r\n\r\n--=_authmilter-report\r\n"
	    "Content-Type: application/gzip; name=\"%s\"\r\n"
	    "Content-Transfer-Encoding: base64\r\n"
	    "Content-Disposition: attachment; filename=\"%s\"\r\n\r\n",
	    m->sender, to, when, r->domain, m->receiver, buf_cstr(&id),
	    buf_cstr(&id), r->domain, m->org_name, r->messages, begin, end,
	    buf_cstr(&name), buf_cstr(&name));
	report_base64(gz, out);
	buf_puts(out, "\r\n--=_authmilter-report--\r\n");
	buf_free(&id);
	buf_free(&name);
}

/* report_dest_parse - mailto:addr[!size] */
int
report_dest_parse(const char *uri, struct report_dest *d)
{
	const char *at, *bang, *end;
	char *addr, *q;

	memset(d, 0, sizeof(d[0]));
	if (strncasecmp(uri, "mailto:", 7) != 0)
		return -1;
	uri += 7;
	bang = strchr(uri, '!');
	end = bang != NULL ? bang : uri + strlen(uri);
	/* a mailto URI may carry ?headers: not ours to add */
	if ((q = memchr(uri, '?', (size_t)(end - uri))) != NULL)
		end = q;
	addr = xstrndup(uri, (size_t)(end - uri));
	at = strrchr(addr, '@');
	if (at == NULL || at == addr || at[1] == '\0' || strpbrk(addr,
	    " \t\r\n,<>\"%") != NULL) {
		free(addr);
		return -1;
	}
	d->address = addr;
	d->domain = xstrdup(at + 1);
	for (q = d->domain; *q; q++)
		*q = (char)tolower((unsigned char)*q);
	if (bang != NULL)
		d->limit = strtoull(bang + 1, NULL, 10);
	return 0;
}

/* report_dest_free - release */
void
report_dest_free(struct report_dest *d)
{
	free(d->address);
	free(d->domain);
	memset(d, 0, sizeof(*d));
}

/* report_under - is a equal to b or a subdomain of it? */
static int
report_under(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la == lb)
		return strcasecmp(a, b) == 0;
	return la > lb && a[la - lb - 1] == '.' && strcasecmp(a + la - lb, b)
	    == 0;
}

/* report_dest_external - does the destination need authorisation? */
int
report_dest_external(const struct report_dest *d, const char *domain)
{
	return !report_under(d->domain, domain) && !report_under(domain,
	    d->domain);
}
