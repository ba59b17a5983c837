/*
 * rua.c - the XML of a received DMARC aggregate report (RFC 7489
 * Appendix C, DMARCbis) into a struct rua_report, with expat.
 *
 * Element names are matched by their local part whatever their namespace
 * (Microsoft and DMARCbis reports declare one, Google's and Yahoo's do
 * not), values are trimmed of surrounding whitespace, and elements not
 * named here are skipped with their content. A DOCTYPE is refused at once:
 * aggregate reports never have one, and without it no entity can be
 * declared (expansion attacks) or loaded from outside.
 *
 * Pure; see rua.h.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <expat.h>

#include "store/rua.h"
#include "base/log.h"
#include "base/xalloc.h"

#define RUA_DEPTH	32		/* elements open at once */
#define RUA_VALUE_MAX	4096		/* bytes of one value we keep */
#define RUA_AUTH_MAX	65536		/* bytes of one row's auth results text */
#define RUA_NS_SEP	'\x01'		/* between namespace and local name */
#define RUA_BIS_NS	"urn:ietf:params:xml:ns:dmarc-2.0"

/* The parse of one document. */
struct rua_parse {
	XML_Parser xp;			/* owned */
	struct rua_report *r;		/* borrowed: the result */
	char *stack[RUA_DEPTH];		/* local names of open elements (owned) */
	int depth;
	struct buf text;		/* the current element's text */
	char *auth[3];			/* the auth_results entry being read */
	char err[256];			/* the first error ("" none) */
};

/* rua_set - replace an owned string */
void
rua_set(char **field, const char *value)
{
	free(*field);
	*field = xstrdup(value != NULL ? value : "");
}

/* rua_report_init - every string "" */
void
rua_report_init(struct rua_report *r)
{
	char **const f[] = { &r->format, &r->org_name, &r->email,
	    &r->report_id, &r->domain, &r->adkim, &r->aspf, &r->p, &r->sp,
	    &r->np, &r->pct, &r->fo, &r->testing };
	size_t i;

	memset(r, 0, sizeof(*r));
	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		*f[i] = xstrdup("");
}

/* rua_row_free - the strings of a row */
static void
rua_row_free(struct rua_row *w)
{
	free(w->source_ip);
	free(w->disposition);
	free(w->dkim);
	free(w->spf);
	free(w->reasons);
	free(w->header_from);
	free(w->envelope_from);
	free(w->envelope_to);
	free(w->auth_dkim);
	free(w->auth_spf);
}

/* rua_report_free - release a report */
void
rua_report_free(struct rua_report *r)
{
	size_t i;

	if (r == NULL)
		return;
	free(r->format);
	free(r->org_name);
	free(r->email);
	free(r->report_id);
	free(r->domain);
	free(r->adkim);
	free(r->aspf);
	free(r->p);
	free(r->sp);
	free(r->np);
	free(r->pct);
	free(r->fo);
	free(r->testing);
	for (i = 0; i < r->nrows; i++)
		rua_row_free(&r->rows[i]);
	free(r->rows);
	memset(r, 0, sizeof(*r));
}

/* rua_report_add_row - append an empty row */
struct rua_row *
rua_report_add_row(struct rua_report *r)
{
	struct rua_row *w;
	char **f[10];
	size_t i;

	r->rows = xreallocarray(r->rows, r->nrows + 1, sizeof(*r->rows));
	w = &r->rows[r->nrows++];
	memset(w, 0, sizeof(*w));
	f[0] = &w->source_ip; f[1] = &w->disposition; f[2] = &w->dkim;
	f[3] = &w->spf; f[4] = &w->reasons; f[5] = &w->header_from;
	f[6] = &w->envelope_from; f[7] = &w->envelope_to;
	f[8] = &w->auth_dkim; f[9] = &w->auth_spf;
	for (i = 0; i < 10; i++)
		*f[i] = xstrdup("");
	return w;
}

static void rua_fail(struct rua_parse *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* rua_fail - stop the parse with the first error */
static void
rua_fail(struct rua_parse *p, const char *fmt, ...)
{
	va_list ap;

	if (p->err[0] == '\0') {
		va_start(ap, fmt);
		(void)vsnprintf(p->err, sizeof(p->err), fmt, ap);
		va_end(ap);
	}
	(void)XML_StopParser(p->xp, XML_FALSE);
}

/* rua_local - the local part of an expat name ("uri\1local" or "local") */
static const char *
rua_local(const char *name)
{
	const char *s = strrchr(name, RUA_NS_SEP);

	return s != NULL ? s + 1 : name;
}

/* rua_is - is the element depth-from-top (0 the current one) named name? */
static int
rua_is(const struct rua_parse *p, int up, const char *name)
{
	int i = p->depth - 1 - up;

	return i >= 0 && strcmp(p->stack[i], name) == 0;
}

/* rua_trimmed - the collected text without surrounding whitespace, lower-cased if asked */
static const char *
rua_trimmed(struct rua_parse *p, int lower)
{
	char *s = p->text.data != NULL ? p->text.data : "", *e;

	if (p->text.data == NULL)
		return "";
	while (*s != '\0' && isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	if (lower)
		for (e = s; *e != '\0'; e++)
			*e = (char)tolower((unsigned char)*e);
	return s;
}

/* rua_start - an element opens */
static void XMLCALL
rua_start(void *arg, const XML_Char *name, const XML_Char **attrs)
{
	struct rua_parse *p = arg;
	const char *local = rua_local(name);

	(void)attrs;
	if (p->depth >= RUA_DEPTH) {
		rua_fail(p, "elements nested deeper than %d", RUA_DEPTH);
		return;
	}
	if (p->depth == 0) {
		if (strcmp(local, "feedback") != 0) {
			rua_fail(p, "not a DMARC aggregate report (root element "
			    "<%.60s>, not <feedback>)", local);
			return;
		}
		if (strncmp(name, RUA_BIS_NS, strlen(RUA_BIS_NS)) == 0)
			rua_set(&p->r->format, "dmarcbis");
	}
	p->stack[p->depth++] = xstrdup(local);
	buf_reset(&p->text);
	if (strcmp(local, "record") == 0 && rua_is(p, 1, "feedback")) {
		if (p->r->nrows >= RUA_MAX_ROWS) {
			rua_fail(p, "more than %d records", RUA_MAX_ROWS);
			return;
		}
		(void)rua_report_add_row(p->r);
	} else if ((strcmp(local, "dkim") == 0 || strcmp(local, "spf") == 0)
	    && rua_is(p, 1, "auth_results")) {
		rua_set(&p->auth[0], "");
		rua_set(&p->auth[1], "");
		rua_set(&p->auth[2], "");
	}
}

/* rua_text - text inside the current element (its first RUA_VALUE_MAX bytes) */
static void XMLCALL
rua_text(void *arg, const XML_Char *s, int len)
{
	struct rua_parse *p = arg;

	if (len <= 0)
		return;
	/* longer values (comments, whitespace runs) are cut: none we keep is long */
	if (p->text.len + (size_t)len > RUA_VALUE_MAX)
		return;
	buf_append(&p->text, s, (size_t)len);
}

/* rua_number - a non-negative decimal; 0 or -1 */
static int
rua_number(const char *s, unsigned long long *v)
{
	char *end;

	if (*s == '\0' || *s == '-' || *s == '+')
		return -1;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return errno == 0 && *end == '\0' ? 0 : -1;
}

/* rua_join - append "a b c" to a "; "-joined field, bounded */
static void
rua_join(struct rua_parse *p, char **field, char *const v[3])
{
	struct buf b = BUF_INIT;

	if (strlen(*field) > RUA_AUTH_MAX) {
		rua_fail(p, "too many auth_results in %s", "one record");
		return;
	}
	buf_printf(&b, "%s%s%s %s %s", *field, **field ? "; " : "",
	    v[0][0] ? v[0] : "-", v[1][0] ? v[1] : "-", v[2][0] ? v[2] : "-");
	free(*field);
	*field = buf_steal(&b);
}

/* rua_end_meta - a value of report_metadata, date_range or policy_published */
static void
rua_end_meta(struct rua_parse *p, const char *local)
{
	struct rua_report *r = p->r;
	unsigned long long v;
	const char *s;

	if (rua_is(p, 1, "report_metadata")) {
		if (strcmp(local, "org_name") == 0)
			rua_set(&r->org_name, rua_trimmed(p, 0));
		else if (strcmp(local, "email") == 0)
			rua_set(&r->email, rua_trimmed(p, 0));
		else if (strcmp(local, "report_id") == 0)
			rua_set(&r->report_id, rua_trimmed(p, 0));
	} else if (rua_is(p, 1, "date_range") && (strcmp(local, "begin") == 0
	    || strcmp(local, "end") == 0)) {
		s = rua_trimmed(p, 0);
		if (rua_number(s, &v) != 0 || v > 253402300799ULL)
			rua_fail(p, "date_range: %.40s is not a time", s);
		else if (strcmp(local, "begin") == 0)
			r->begin = (long long)v;
		else
			r->end = (long long)v;
	} else if (rua_is(p, 1, "policy_published")) {
		char **const f[] = { &r->domain, &r->adkim, &r->aspf, &r->p,
		    &r->sp, &r->np, &r->pct, &r->fo, &r->testing };
		const char *const n[] = { "domain", "adkim", "aspf", "p", "sp",
		    "np", "pct", "fo", "testing" };
		size_t i;

		for (i = 0; i < sizeof(n) / sizeof(n[0]); i++)
			if (strcmp(local, n[i]) == 0)
				rua_set(f[i], rua_trimmed(p, 1));
	} else if (rua_is(p, 1, "feedback") && strcmp(local, "version") == 0
	    && strncmp(rua_trimmed(p, 0), "2", 1) == 0)
		rua_set(&r->format, "dmarcbis");
}

/* rua_end_row - a value inside a record */
static void
rua_end_row(struct rua_parse *p, const char *local, struct rua_row *w)
{
	unsigned long long v;
	const char *s;

	if (rua_is(p, 1, "row")) {
		if (strcmp(local, "source_ip") == 0)
			rua_set(&w->source_ip, rua_trimmed(p, 1));
		else if (strcmp(local, "count") == 0) {
			s = rua_trimmed(p, 0);
			if (rua_number(s, &v) != 0 || v > (1ULL << 48))
				rua_fail(p, "count: %.40s is not a number", s);
			else
				w->count = v;
		}
	} else if (rua_is(p, 1, "policy_evaluated")) {
		if (strcmp(local, "disposition") == 0)
			rua_set(&w->disposition, rua_trimmed(p, 1));
		else if (strcmp(local, "dkim") == 0)
			rua_set(&w->dkim, rua_trimmed(p, 1));
		else if (strcmp(local, "spf") == 0)
			rua_set(&w->spf, rua_trimmed(p, 1));
	} else if (rua_is(p, 1, "reason") && rua_is(p, 2, "policy_evaluated")
	    && strcmp(local, "type") == 0) {
		struct buf b = BUF_INIT;

		if (strlen(w->reasons) < RUA_VALUE_MAX) {
			buf_printf(&b, "%s%s%s", w->reasons, w->reasons[0] ? " "
			    : "", rua_trimmed(p, 1));
			free(w->reasons);
			w->reasons = buf_steal(&b);
		}
	} else if (rua_is(p, 1, "identifiers")) {
		if (strcmp(local, "header_from") == 0)
			rua_set(&w->header_from, rua_trimmed(p, 1));
		else if (strcmp(local, "envelope_from") == 0)
			rua_set(&w->envelope_from, rua_trimmed(p, 1));
		else if (strcmp(local, "envelope_to") == 0)
			rua_set(&w->envelope_to, rua_trimmed(p, 1));
	} else if ((rua_is(p, 1, "dkim") || rua_is(p, 1, "spf"))
	    && rua_is(p, 2, "auth_results")) {
		if (strcmp(local, "domain") == 0)
			rua_set(&p->auth[0], rua_trimmed(p, 1));
		else if (strcmp(local, "selector") == 0
		    || strcmp(local, "scope") == 0)
			rua_set(&p->auth[1], rua_trimmed(p, 1));
		else if (strcmp(local, "result") == 0)
			rua_set(&p->auth[2], rua_trimmed(p, 1));
	} else if (rua_is(p, 0, "dkim") && rua_is(p, 1, "auth_results"))
		rua_join(p, &w->auth_dkim, p->auth);
	else if (rua_is(p, 0, "spf") && rua_is(p, 1, "auth_results"))
		rua_join(p, &w->auth_spf, p->auth);
}

/* rua_row_check - a record as read: an address and a count */
static void
rua_row_check(struct rua_parse *p, struct rua_row *w)
{
	unsigned char a[16];

	if (inet_pton(AF_INET, w->source_ip, a) != 1
	    && inet_pton(AF_INET6, w->source_ip, a) != 1)
		rua_fail(p, "record: source_ip \"%.60s\" is not an address",
		    w->source_ip);
	/* Google and Yahoo leave header_from out when it is the domain */
	else if (w->header_from[0] == '\0')
		rua_set(&w->header_from, p->r->domain);
}

/* rua_end - an element closes */
static void XMLCALL
rua_end(void *arg, const XML_Char *name)
{
	struct rua_parse *p = arg;
	const char *local = rua_local(name);
	struct rua_row *w = p->r->nrows ? &p->r->rows[p->r->nrows - 1] : NULL;
	if (p->depth == 0)
		return;
	/* inside feedback/record/... */
	if (p->depth > 2 && strcmp(p->stack[1], "record") == 0 && w != NULL)
		rua_end_row(p, local, w);
	else if (strcmp(local, "record") == 0 && p->depth == 2 && w != NULL)
		rua_row_check(p, w);
	else
		rua_end_meta(p, local);
	free(p->stack[--p->depth]);
	p->stack[p->depth] = NULL;
	buf_reset(&p->text);
}

/* rua_doctype - a DOCTYPE: refused (no entities, no DTD loading) */
static void XMLCALL
rua_doctype(void *arg, const XML_Char *name, const XML_Char *sysid,
    const XML_Char *pubid, int has_internal)
{
	(void)name;
	(void)sysid;
	(void)pubid;
	(void)has_internal;
	rua_fail(arg, "a DOCTYPE is not allowed in a report (%s)",
	    "no DTD or entity is loaded or expanded");
}

/* rua_entity - an entity declaration (never reached past rua_doctype; belt and braces) */
static void XMLCALL
rua_entity(void *arg, const XML_Char *name, int is_param,
    const XML_Char *value, int value_len, const XML_Char *base,
    const XML_Char *sysid, const XML_Char *pubid, const XML_Char *notation)
{
	(void)is_param; (void)value; (void)value_len; (void)base;
	(void)sysid; (void)pubid; (void)notation;
	rua_fail(arg, "entity %.60s declared: not allowed", name);
}

/* rua_check - what every report must give */
static int
rua_check(const struct rua_report *r, char *err, size_t errlen)
{
	const char *missing = r->org_name[0] == '\0' ? "org_name"
	    : r->report_id[0] == '\0' ? "report_id"
	    : r->domain[0] == '\0' ? "policy_published/domain"
	    : r->end == 0 || r->end < r->begin ? "a date_range" : NULL;

	if (missing != NULL)
		return log_fail(err, errlen, "not a complete aggregate report: "
		    "no %s", missing);
	return 0;
}

/* rua_parse - parse one report */
int
rua_parse(const char *xml, size_t len, struct rua_report *r, char *err,
    size_t errlen)
{
	struct rua_parse p;
	enum XML_Status st = XML_STATUS_ERROR;
	int rc = -1, i;

	rua_report_init(r);
	rua_set(&r->format, "rfc7489");
	memset(&p, 0, sizeof(p));
	p.r = r;
	buf_init(&p.text);
	if (len > (size_t)0x7fffffff) {
		(void)log_fail(err, errlen, "XML of %zu bytes: too large", len);
		return -1;
	}
	if ((p.xp = XML_ParserCreateNS(NULL, RUA_NS_SEP)) == NULL) {
		(void)log_fail(err, errlen, "XML parser: out of memory");
		return -1;
	}
	XML_SetUserData(p.xp, &p);
	XML_SetElementHandler(p.xp, rua_start, rua_end);
	XML_SetCharacterDataHandler(p.xp, rua_text);
	XML_SetStartDoctypeDeclHandler(p.xp, rua_doctype);
	XML_SetEntityDeclHandler(p.xp, rua_entity);
	(void)XML_SetParamEntityParsing(p.xp, XML_PARAM_ENTITY_PARSING_NEVER);
	st = XML_Parse(p.xp, xml, (int)len, XML_TRUE);
	if (p.err[0] != '\0')
		(void)log_fail(err, errlen, "XML: %s", p.err);
	else if (st != XML_STATUS_OK)
		(void)log_fail(err, errlen, "XML: line %lu: %s",
		    (unsigned long)XML_GetCurrentLineNumber(p.xp),
		    XML_ErrorString(XML_GetErrorCode(p.xp)));
	else
		rc = rua_check(r, err, errlen);
	for (i = 0; i < p.depth; i++)
		free(p.stack[i]);
	for (i = 0; i < 3; i++)
		free(p.auth[i]);
	buf_free(&p.text);
	XML_ParserFree(p.xp);
	return rc;
}

/* rua_read - unpack and parse */
int
rua_read(const unsigned char *data, size_t len, size_t max,
    struct rua_report *r, char *err, size_t errlen)
{
	struct buf xml = BUF_INIT;
	int rc;

	if (rua_unpack(data, len, max, &xml, err, errlen) != 0) {
		rua_report_init(r);
		buf_free(&xml);
		return -1;
	}
	rc = rua_parse(xml.data != NULL ? xml.data : "", xml.len, r, err,
	    errlen);
	buf_free(&xml);
	return rc;
}
