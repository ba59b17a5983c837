/*
 * config.c - parse authmilter.conf into an immutable, refcounted snapshot.
 *
 * Syntax: `name = value` lines, `#` starts a comment (at line start or
 * after whitespace), and `domain NAME {` ... `}` blocks holding the options
 * a domain may override. Every error names FILE:LINE and the reason.
 *
 * Threading: config_load runs in one thread (start-up or the reload
 * thread). The current-snapshot pointer is guarded by a mutex; reference
 * counts are atomic, so connections pin and release from any thread.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <openssl/crypto.h>

#include "base/buf.h"
#include "policy/config.h"
#include "policy/config_table.h"
#include "base/log.h"
#include "base/mailaddr.h"
#include "base/secret.h"
#include "auth/sign.h"
#include "base/xalloc.h"

/* Parser state for one file. */
struct config_parse {
	const char *name;		/* file name for messages */
	char *dir;			/* directory of the file, for relative key paths */
	int line;			/* current line number */
	struct config *c;		/* snapshot being built */
	struct config_domain *dom;	/* open block, or NULL at top level */
	int gline[64];			/* line each global option was set on */
	int dline[64];			/* same inside the open block */
	char *err;			/* where errors go */
	size_t errlen;
};

_Static_assert(sizeof(((struct config_parse *)0)->gline) / sizeof(int) >= 32,
    "room for the option table");

/* config_error - format "FILE:LINE: reason" */
static int
config_error(struct config_parse *p, const char *fmt, ...)
{
	char reason[512];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	if (p->line > 0)
		(void)snprintf(p->err, p->errlen, "%s:%d: %s", p->name, p->line, reason);
	else
		(void)snprintf(p->err, p->errlen, "%s: %s", p->name, reason);
	return -1;
}

/* config_words_parse - split on commas and whitespace */
static void
config_words_parse(const char *text, struct config_words *w)
{
	char *copy = xstrdup(text), *save = NULL, *tok;

	w->v = NULL;
	w->n = 0;
	for (tok = strtok_r(copy, ", \t", &save); tok != NULL;
	    tok = strtok_r(NULL, ", \t", &save)) {
		w->v = xreallocarray(w->v, w->n + 1, sizeof(*w->v));
		w->v[w->n++] = xstrdup(tok);
	}
	free(copy);
}

/* config_duration - "30", "30s", "5m", "2h", "7d", "1w" to seconds */
static int
config_duration(const char *s, long *out)
{
	char *end;
	long v, mult = 1;

	errno = 0;
	v = strtol(s, &end, 10);
	if (end == s || errno != 0 || v < 0)
		return -1;
	switch (*end) {
	case '\0': case 's': break;
	case 'm': mult = 60; break;
	case 'h': mult = 3600; break;
	case 'd': mult = 86400; break;
	case 'w': mult = 7 * 86400; break;
	default: return -1;
	}
	if (*end != '\0' && end[1] != '\0')
		return -1;
	if (v > LONG_MAX / mult)
		return -1;
	*out = v * mult;
	return 0;
}

/* config_socket_valid - unix:/abs, local:/abs, inet:PORT@HOST, inet6:PORT@HOST */
static int
config_socket_valid(const char *s)
{
	const char *at;
	char *end;
	long port;

	if (strncmp(s, "unix:", 5) == 0 || strncmp(s, "local:", 6) == 0)
		return strchr(s, ':')[1] == '/';
	if (strncmp(s, "inet:", 5) == 0)
		s += 5;
	else if (strncmp(s, "inet6:", 6) == 0)
		s += 6;
	else
		return 0;
	at = strchr(s, '@');
	port = strtol(s, &end, 10);
	return end != s && (at == NULL ? *end == '\0' : end == at && at[1] != '\0')
	    && port > 0 && port < 65536;
}

/* config_key_attr - one "not_before=DATE" / "not_after=DATE" attribute */
static int
config_key_attr(struct config_parse *p, struct key *k, const char *attr)
{
	const char *eq = strchr(attr, '=');
	time_t t;

	if (eq == NULL || (t = keys_parse_time(eq + 1)) < 0)
		return config_error(p, "key: \"%s\" is not not_before=DATE or "
		    "not_after=DATE (e.g. 2026-12-01 or 2026-12-01T08:00Z, UTC)", attr);
	if ((size_t)(eq - attr) == 10 && strncmp(attr, "not_before", 10) == 0)
		k->not_before = t;
	else if ((size_t)(eq - attr) == 9 && strncmp(attr, "not_after", 9) == 0)
		k->not_after = t;
	else
		return config_error(p, "key: unknown attribute \"%.*s\"",
		    (int)(eq - attr), attr);
	return 0;
}

/* config_set_key - "SELECTOR PATH [not_before=DATE] [not_after=DATE]" into the open block */
int
config_set_key(struct config_parse *p, const struct opt_def *o, void *field,
    const char *value)
{
	struct config_domain *d = p->dom;
	struct config_words w;
	struct key *k;
	size_t i;

	(void)o;
	(void)field;		/* &d->keys: the list grows with d->nkeys */
	config_words_parse(value, &w);
	if (w.n < 2) {
		config_error(p, "key: expected \"SELECTOR PATH\", got \"%s\"",
		    value);
		goto fail;
	}
	if (!mailaddr_domain_ok(w.v[0], strlen(w.v[0]), MAILADDR_DOMAIN_UTF8)
	    || strchr(w.v[0], '_') != NULL) {
		config_error(p, "key: bad selector \"%s\"", w.v[0]);
		goto fail;
	}
	for (i = 0; i < d->nkeys; i++)
		if (strcasecmp(d->keys[i].selector, w.v[0]) == 0) {
			config_error(p, "key: selector \"%s\" listed twice in "
			    "domain %s", w.v[0], d->name);
			goto fail;
		}
	d->keys = xreallocarray(d->keys, d->nkeys + 1, sizeof(*d->keys));
	k = &d->keys[d->nkeys++];
	memset(k, 0, sizeof(*k));
	k->selector = xstrdup(w.v[0]);
	if (w.v[1][0] == '/') {
		k->path = xstrdup(w.v[1]);
	} else {
		struct buf b = BUF_INIT;

		buf_printf(&b, "%s/%s", p->dir, w.v[1]);
		k->path = buf_steal(&b);
	}
	k->line = p->line;
	for (i = 2; i < w.n; i++)
		if (config_key_attr(p, k, w.v[i]) != 0)
			goto fail;
	config_free_words(&w);
	if (k->not_before && k->not_after && k->not_after <= k->not_before)
		return config_error(p, "key %s: not_after is not after not_before",
		    k->selector);
	return 0;
fail:
	config_free_words(&w);
	return -1;
}

/* config_set_canon - "relaxed/simple" into the hcanon/bcanon pair */
int
config_set_canon(struct config_parse *p, const struct opt_def *o, void *field,
    const char *value)
{
	char h[16], b[16];
	int hc, bc;

	if (sscanf(value, "%15[a-z]/%15[a-z]", h, b) == 2) {
		hc = sign_canon_parse(h);
		bc = sign_canon_parse(b);
	} else {
		hc = sign_canon_parse(value);
		bc = SIGN_CANON_SIMPLE;	/* RFC 6376: body defaults to simple */
	}
	if (hc < 0 || bc < 0 || strspn(value, "abcdefghijklmnopqrstuvwxyz/")
	    != strlen(value))
		return config_error(p, "%s: \"%s\" is not relaxed/relaxed, "
		    "relaxed/simple, simple/relaxed or simple/simple", o->name, value);
	((int *)field)[0] = hc;
	((int *)field)[1] = bc;
	return 0;
}

/* config_set_enum - one of the option's choices, stored as its index */
int
config_set_enum(struct config_parse *p, const struct opt_def *o, void *field,
    const char *value)
{
	struct buf all = BUF_INIT;
	int i;

	for (i = 0; o->choices[i] != NULL; i++)
		if (strcasecmp(o->choices[i], value) == 0) {
			*(int *)field = i;
			return 0;
		}
	for (i = 0; o->choices[i] != NULL; i++)
		buf_printf(&all, "%s%s", i ? ", " : "", o->choices[i]);
	config_error(p, "%s: \"%s\" is not one of %s", o->name, value,
	    buf_cstr(&all));
	buf_free(&all);
	return -1;
}

/* config_set_number - a decimal number or an octal mode within bounds */
int
config_set_number(struct config_parse *p, const struct opt_def *o,
    void *field, const char *value)
{
	int octal = o->type == OPT_MODE;
	char *end;
	long v;

	errno = 0;
	v = strtol(value, &end, octal ? 8 : 10);
	if (*value == '\0' || *end != '\0' || errno != 0 || v < o->min
	    || v > o->max) {
		if (octal)
			return config_error(p, "%s: \"%s\" is not an octal mode in "
			    "0%lo..0%lo", o->name, value, o->min, o->max);
		return config_error(p, "%s: \"%s\" is not a number in %ld..%ld",
		    o->name, value, o->min, o->max);
	}
	*(int *)field = (int)v;
	return 0;
}

/* config_set_string - free text */
int
config_set_string(struct config_parse *p, const struct opt_def *o,
    void *field, const char *value)
{
	(void)p;
	(void)o;
	free(*(char **)field);
	*(char **)field = xstrdup(value);
	return 0;
}

/* config_set_socket - a milter socket spec, kept as written */
int
config_set_socket(struct config_parse *p, const struct opt_def *o,
    void *field, const char *value)
{
	if (!config_socket_valid(value))
		return config_error(p, "%s: \"%s\" is not unix:PATH, "
		    "inet:PORT@HOST or inet6:PORT@HOST", o->name, value);
	return config_set_string(p, o, field, value);
}

/* config_set_domain - a domain name (or empty), lowercased */
int
config_set_domain(struct config_parse *p, const struct opt_def *o,
    void *field, const char *value)
{
	char *q;

	if (*value != '\0' && !mailaddr_domain_ok(value, strlen(value),
	    MAILADDR_DOMAIN_UTF8))
		return config_error(p, "%s: \"%s\" is not a domain name",
		    o->name, value);
	free(*(char **)field);
	*(char **)field = xstrdup(value);
	for (q = *(char **)field; *q; q++)
		*q = (char)tolower((unsigned char)*q);
	return 0;
}

/* config_set_duration - seconds within the row's bounds */
int
config_set_duration(struct config_parse *p, const struct opt_def *o,
    void *field, const char *value)
{
	long v;

	if (config_duration(value, &v) != 0 || v < o->min || v > o->max)
		return config_error(p, "%s: \"%s\" is not a duration "
		    "between %lds and %lds (e.g. 300s, 5m, 2h, 7d)",
		    o->name, value, o->min, o->max);
	*(long *)field = v;
	return 0;
}

/* config_set_bool - yes/true/1 or no/false/0 */
int
config_set_bool(struct config_parse *p, const struct opt_def *o, void *field,
    const char *value)
{
	if (strcasecmp(value, "yes") == 0 || strcasecmp(value, "true") == 0
	    || strcmp(value, "1") == 0)
		*(int *)field = 1;
	else if (strcasecmp(value, "no") == 0 || strcasecmp(value, "false") == 0
	    || strcmp(value, "0") == 0)
		*(int *)field = 0;
	else
		return config_error(p, "%s: \"%s\" is not yes or no",
		    o->name, value);
	return 0;
}

/* config_set_words - a comma/space separated list */
int
config_set_words(struct config_parse *p, const struct opt_def *o,
    void *field, const char *value)
{
	(void)p;
	(void)o;
	config_free_words(field);
	config_words_parse(value, field);
	return 0;
}

/* config_set_cidrs - a list of networks */
int
config_set_cidrs(struct config_parse *p, const struct opt_def *o,
    void *field, const char *value)
{
	char ebuf[256];

	cidr_list_free(field);
	if (cidr_list_parse(value, field, ebuf, sizeof(ebuf)) != 0)
		return config_error(p, "%s: %s", o->name, ebuf);
	return 0;
}

/* config_set_level - a syslog level name */
int
config_set_level(struct config_parse *p, const struct opt_def *o,
    void *field, const char *value)
{
	int i;

	if ((i = log_level_parse(value)) < 0)
		return config_error(p, "%s: \"%s\" is not err, warning, "
		    "notice, info or debug", o->name, value);
	*(int *)field = i;
	return 0;
}

/* config_set_facility - a syslog facility name */
int
config_set_facility(struct config_parse *p, const struct opt_def *o,
    void *field, const char *value)
{
	int i;

	if ((i = log_facility_parse(value)) < 0)
		return config_error(p, "%s: \"%s\" is not a syslog facility",
		    o->name, value);
	*(int *)field = i;
	return 0;
}

/* config_set - parse value for option o into the storage at base */
static int
config_set(struct config_parse *p, const struct opt_def *o, char *base,
    const char *value)
{
	return config_types[o->type].set(p, o, base + o->offset, value);
}

/* config_row_base - where a global row is stored: the snapshot, or its block defaults */
static char *
config_row_base(struct config *c, const struct opt_def *o)
{
	return (o->scope & OPT_BLOCK) ? (char *)&c->defaults : (char *)c;
}

/* config_find_option - table row by name */
static const struct opt_def *
config_find_option(const char *name, size_t *idx)
{
	size_t i;

	for (i = 0; i < config_noptions; i++)
		if (strcmp(config_options[i].name, name) == 0) {
			*idx = i;
			return &config_options[i];
		}
	return NULL;
}

/* config_open_block - handle "domain NAME {" */
static int
config_open_block(struct config_parse *p, char *rest)
{
	struct config_domain *d;
	char *name, *brace, *q;
	size_t i;

	if (p->dom != NULL)
		return config_error(p, "domain blocks cannot nest (missing \"}\" "
		    "for domain %s?)", p->dom->name);
	name = rest + strspn(rest, " \t");
	brace = strchr(name, '{');
	if (brace == NULL || brace[1 + strspn(brace + 1, " \t")] != '\0')
		return config_error(p, "expected \"domain NAME {\"");
	*brace = '\0';
	for (q = brace; q > name && (q[-1] == ' ' || q[-1] == '\t'); q--)
		q[-1] = '\0';
	for (q = name; *q; q++)
		*q = (char)tolower((unsigned char)*q);
	if (!mailaddr_domain_ok(name, strlen(name), MAILADDR_DOMAIN_UTF8))
		return config_error(p, "\"%s\" is not a domain name", name);
	for (i = 0; i < p->c->ndomains; i++)
		if (strcmp(p->c->domains[i].name, name) == 0)
			return config_error(p, "domain %s: second block (first at "
			    "line %d)", name, p->c->domains[i].line);
	p->c->domains = xreallocarray(p->c->domains, p->c->ndomains + 1,
	    sizeof(*p->c->domains));
	d = &p->c->domains[p->c->ndomains++];
	memset(d, 0, sizeof(*d));
	d->name = xstrdup(name);
	d->line = p->line;
	p->dom = d;
	memset(p->dline, 0, sizeof(p->dline));
	return 0;
}

/* config_option_line - handle "name = value" */
static int
config_option_line(struct config_parse *p, char *s)
{
	const struct opt_def *o;
	char *eq, *name, *value, *q;
	size_t idx;
	int *lines;

	eq = strchr(s, '=');
	if (eq == NULL)
		return config_error(p, "expected \"name = value\"");
	*eq = '\0';
	name = s;
	for (q = eq; q > name && (q[-1] == ' ' || q[-1] == '\t'); q--)
		q[-1] = '\0';
	value = eq + 1 + strspn(eq + 1, " \t");
	if ((o = config_find_option(name, &idx)) == NULL)
		return config_error(p, "unknown option \"%s\"", name);
	if (p->dom != NULL && !(o->scope & OPT_BLOCK))
		return config_error(p, "option \"%s\" is not allowed inside a "
		    "domain block", name);
	if (p->dom == NULL && !(o->scope & OPT_GLOBAL))
		return config_error(p, "option \"%s\" belongs inside a domain "
		    "block", name);
	lines = p->dom != NULL ? p->dline : p->gline;
	if (o->type != OPT_KEY && lines[idx] != 0)
		return config_error(p, "option \"%s\" set twice (first at line %d)",
		    name, lines[idx]);
	lines[idx] = p->line;
	if (p->dom != NULL) {
		p->dom->set |= 1ull << idx;
		return config_set(p, o, (char *)p->dom, value);
	}
	return config_set(p, o, config_row_base(p->c, o), value);
}

/* config_parse_line - one line of the file */
static int
config_parse_line(struct config_parse *p, char *s)
{
	char *q;
	size_t n;

	for (q = s; *q != '\0'; q++)	/* comment: '#' at start or after blank */
		if (*q == '#' && (q == s || q[-1] == ' ' || q[-1] == '\t')) {
			*q = '\0';
			break;
		}
	s += strspn(s, " \t");
	n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		s[--n] = '\0';
	if (n == 0)
		return 0;
	for (q = s; *q != '\0'; q++)
		if (iscntrl((unsigned char)*q) && *q != '\t')
			return config_error(p, "control character in line");
	if (strcmp(s, "}") == 0) {
		if (p->dom == NULL)
			return config_error(p, "\"}\" without an open domain block");
		p->dom = NULL;
		return 0;
	}
	if (strncmp(s, "domain", 6) == 0 && (s[6] == ' ' || s[6] == '\t'))
		return config_open_block(p, s + 6);
	return config_option_line(p, s);
}

/* config_apply_defaults - parse every option's default into the snapshot */
static int
config_apply_defaults(struct config_parse *p)
{
	const struct opt_def *o;
	size_t i;

	for (i = 0; i < config_noptions; i++) {
		o = &config_options[i];
		if (o->def == NULL || !(o->scope & OPT_GLOBAL))
			continue;
		if (config_set(p, o, config_row_base(p->c, o), o->def) != 0)
			return -1;
	}
	return 0;
}

/* config_inherit - copy unset per-domain options from the global defaults */
static void
config_inherit(struct config *c, struct config_domain *d)
{
	const struct opt_def *o;
	size_t i;

	for (i = 0; i < config_noptions; i++) {
		o = &config_options[i];
		if ((o->scope & (OPT_GLOBAL | OPT_BLOCK)) != (OPT_GLOBAL | OPT_BLOCK)
		    || (d->set & (1ull << i)))
			continue;
		config_types[o->type].copy((char *)d + o->offset,
		    (const char *)&c->defaults + o->offset, o->size);
	}
}

/* config_cmp_name - order blocks by name (for qsort) */
static int
config_cmp_name(const void *a, const void *b)
{
	return strcasecmp((*(const struct config_domain *const *)a)->name,
	    (*(const struct config_domain *const *)b)->name);
}

/* config_cmp_bounce - order blocks by bounce_domain (for qsort) */
static int
config_cmp_bounce(const void *a, const void *b)
{
	return strcasecmp((*(const struct config_domain *const *)a)->bounce_domain,
	    (*(const struct config_domain *const *)b)->bounce_domain);
}

/* config_index - sorted lookup tables, built once per snapshot */
static void
config_index(struct config *c)
{
	size_t i;

	c->by_name = xcalloc(c->ndomains + 1, sizeof(*c->by_name));
	c->by_bounce = xcalloc(c->ndomains + 1, sizeof(*c->by_bounce));
	for (i = 0; i < c->ndomains; i++) {
		c->by_name[i] = &c->domains[i];
		if (c->domains[i].bounce_domain != NULL
		    && c->domains[i].bounce_domain[0] != '\0')
			c->by_bounce[c->nbounce++] = &c->domains[i];
	}
	qsort(c->by_name, c->ndomains, sizeof(*c->by_name), config_cmp_name);
	qsort(c->by_bounce, c->nbounce, sizeof(*c->by_bounce), config_cmp_bounce);
}

/* config_bsearch - binary search of a sorted table by a name field */
static const struct config_domain *
config_bsearch(const struct config_domain *const *v, size_t n,
    const char *key, int bounce)
{
	size_t lo = 0, hi = n, mid;
	int cmp;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		cmp = strcasecmp(key, bounce ? v[mid]->bounce_domain : v[mid]->name);
		if (cmp == 0)
			return v[mid];
		if (cmp < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* config_validate - cross-option checks once the whole file is read */
static int
config_validate(struct config_parse *p)
{
	struct config *c = p->c;
	char host[256];
	size_t i;

	p->line = 0;
	if (p->dom != NULL) {
		p->line = p->dom->line;
		return config_error(p, "domain block %s is not closed with \"}\"",
		    p->dom->name);
	}
	config_index(c);
	for (i = 1; i < c->nbounce; i++)
		if (strcasecmp(c->by_bounce[i - 1]->bounce_domain,
		    c->by_bounce[i]->bounce_domain) == 0) {
			p->line = c->by_bounce[i]->line;
			return config_error(p, "bounce_domain %s is used by domains %s "
			    "and %s", c->by_bounce[i]->bounce_domain,
			    c->by_bounce[i - 1]->name, c->by_bounce[i]->name);
		}
	for (i = 0; i < c->ndomains; i++) {
		config_inherit(c, &c->domains[i]);
		if (c->domains[i].nkeys == 0) {
			p->line = c->domains[i].line;
			return config_error(p, "domain %s has no key", c->domains[i].name);
		}
	}
	for (i = 0; i < c->ndomains; i++)
		if (c->domains[i].bounce_domain != NULL
		    && c->domains[i].bounce_domain[0] != '\0'
		    && c->bounce_secret.n == 0) {
			p->line = c->domains[i].line;
			return config_error(p, "domain %s has a bounce_domain but no "
			    "bounce_secret is configured", c->domains[i].name);
		}
	if (c->platform_domain[0] != '\0') {
		c->platform = config_find_domain(c, c->platform_domain);
		if (c->platform == NULL)
			return config_error(p, "platform_domain %s has no domain block "
			    "with its keys", c->platform_domain);
	}
	if (c->user[0] != '\0') {
		struct passwd pw, *res = NULL;
		char pwbuf[4096];

		if (getpwnam_r(c->user, &pw, pwbuf, sizeof(pwbuf), &res) != 0
		    || res == NULL)
			return config_error(p, "user \"%s\" does not exist", c->user);
	}
	if (c->authserv_id[0] == '\0') {
		if (gethostname(host, sizeof(host)) != 0)
			(void)snprintf(host, sizeof(host), "localhost");
		host[sizeof(host) - 1] = '\0';
		free(c->authserv_id);
		c->authserv_id = xstrdup(host);
	}
	return 0;
}

/* config_bounce_secret_index - the table row of bounce_secret */
static size_t
config_bounce_secret_index(void)
{
	size_t i = 0;

	config_find_option("bounce_secret", &i);
	return i;
}

/* config_secret_flags - secret_read flags from the options */
int
config_secret_flags(const struct config *c)
{
	return (c->allow_group_readable_keys ? SECRET_ALLOW_GROUP : 0)
	    | (c->key_symlinks == CONFIG_KEY_SYMLINKS_ALLOW ?
	    SECRET_ALLOW_SYMLINK : 0);
}

/* config_read_secret - the permission-checked bytes of a key or secret file */
static int
config_read_secret(const struct config_parse *p,
    const struct config_key_source *src, const char *path, const char *what,
    size_t max, struct buf *pem, char *ebuf, size_t ebuflen)
{
	int flags = config_secret_flags(p->c);

	if (src != NULL)
		return src->read(src->arg, path, what, max, flags, pem, ebuf,
		    ebuflen);
	return secret_read(path, what, max, flags, pem, ebuf, ebuflen);
}

/* config_load_keys - read and parse every key of every block, and the bounce secrets */
static int
config_load_keys(struct config_parse *p, const struct config_key_source *src)
{
	struct config_domain *d;
	struct buf pem = BUF_INIT;
	char ebuf[512];
	size_t i, j;
	int rc = 0;

	for (i = 0; rc == 0 && i < p->c->ndomains; i++) {
		d = &p->c->domains[i];
		for (j = 0; rc == 0 && j < d->nkeys; j++) {
			rc = config_read_secret(p, src, d->keys[j].path,
			    KEYS_FILE_WHAT, KEYS_MAX_PEM, &pem, ebuf, sizeof(ebuf));
			if (rc == 0)
				rc = keys_parse_pem(&d->keys[j], buf_cstr(&pem), pem.len,
				    ebuf, sizeof(ebuf));
			if (rc != 0) {
				p->line = d->keys[j].line;
				config_error(p, "%s", ebuf);
			}
			if (pem.data != NULL)
				OPENSSL_cleanse(pem.data, pem.cap);
		}
	}
	for (i = 0; rc == 0 && i < p->c->bounce_secret.n; i++) {
		const char *path = p->c->bounce_secret.v[i];

		rc = config_read_secret(p, src, path, BOUNCE_SECRET_WHAT,
		    BOUNCE_SECRET_FILE_MAX, &pem, ebuf, sizeof(ebuf));
		if (rc == 0)
			rc = bounce_secrets_add(&p->c->secrets, buf_cstr(&pem),
			    pem.len, path, ebuf, sizeof(ebuf));
		if (rc != 0) {
			p->line = p->gline[config_bounce_secret_index()];
			config_error(p, "bounce_secret: %s", ebuf);
		}
		if (pem.data != NULL)
			OPENSSL_cleanse(pem.data, pem.cap);
	}
	buf_free(&pem);
	return rc;
}

/* config_parse_text - parse a whole file held in text (modified in place) */
static struct config *
config_parse_text(char *text, const char *name,
    const struct config_key_source *src, int flags, char *err, size_t errlen)
{
	struct config_parse p;
	char *line, *next, *slash;
	int rc = 0;

	memset(&p, 0, sizeof(p));
	p.name = name;
	p.err = err;
	p.errlen = errlen;
	p.c = xcalloc(1, sizeof(*p.c));
	p.c->refs = 1;
	p.c->path = xstrdup(name);
	bounce_secrets_init(&p.c->secrets);
	slash = strrchr(name, '/');
	p.dir = slash ? xstrndup(name, (size_t)(slash - name)) : xstrdup(".");
	if (config_apply_defaults(&p) != 0)
		rc = -1;
	for (line = text; rc == 0 && line != NULL; line = next) {
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		p.line++;
		rc = config_parse_line(&p, line);
	}
	if (rc == 0)
		rc = config_validate(&p);
	if (rc == 0 && !(flags & CONFIG_SKIP_KEYS))
		rc = config_load_keys(&p, src);
	free(p.dir);
	if (rc != 0) {
		config_free(p.c);
		return NULL;
	}
	return p.c;
}

/* config_load_string - parse a conf held in a string */
struct config *
config_load_string(const char *text, const char *name, char *err,
    size_t errlen)
{
	return config_load_from(name, text, NULL, 0, err, errlen);
}

/* config_read_file - a conf file's text */
int
config_read_file(const char *path, struct buf *text, char *err, size_t errlen)
{
	char chunk[8192], ebuf[128];
	size_t n;
	FILE *fp;

	fp = fopen(path, "re");
	if (fp == NULL) {
		(void)snprintf(err, errlen, "%s: cannot open: %s", path,
		    log_errstr(errno, ebuf, sizeof(ebuf)));
		return -1;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0) {
		buf_append(text, chunk, n);
		if (text->len > 16 * 1024 * 1024) {
			fclose(fp);
			(void)snprintf(err, errlen, "%s: larger than 16 MB", path);
			return -1;
		}
	}
	if (ferror(fp)) {
		fclose(fp);
		(void)snprintf(err, errlen, "%s: read error", path);
		return -1;
	}
	fclose(fp);
	if (memchr(buf_cstr(text), '\0', text->len) != NULL) {
		(void)snprintf(err, errlen, "%s: contains a NUL byte", path);
		return -1;
	}
	return 0;
}

/* config_load_from - the general loader */
struct config *
config_load_from(const char *path, const char *text,
    const struct config_key_source *src, int flags, char *err, size_t errlen)
{
	struct buf copy = BUF_INIT;
	struct config *c = NULL;

	if (text != NULL)
		buf_puts(&copy, text);
	else if (config_read_file(path, &copy, err, errlen) != 0) {
		buf_free(&copy);
		return NULL;
	}
	buf_putc(&copy, '\0');		/* make sure data exists */
	c = config_parse_text(copy.data, path, src, flags, err, errlen);
	buf_free(&copy);
	return c;
}

/* config_load - read, parse and validate a conf file and load its keys */
struct config *
config_load(const char *path, char *err, size_t errlen)
{
	return config_load_from(path, NULL, NULL, 0, err, errlen);
}

/* config_free_rows - free the option fields of a block (block) or a snapshot's global-only rows */
static void
config_free_rows(char *base, int block)
{
	const struct opt_def *o;
	size_t i;

	for (i = 0; i < config_noptions; i++) {
		o = &config_options[i];
		if (!(o->scope & OPT_BLOCK) == !block
		    && config_types[o->type].free != NULL)
			config_types[o->type].free(base + o->offset);
	}
}

/* config_domain_free - release one block's fields */
static void
config_domain_free(struct config_domain *d)
{
	size_t i;

	config_free_rows((char *)d, 1);
	for (i = 0; i < d->nkeys; i++)	/* OPT_KEY rows own keys and nkeys */
		keys_free(&d->keys[i]);
	free(d->keys);
	free(d->name);
}

/* config_free - release a snapshot */
void
config_free(struct config *c)
{
	size_t i;

	if (c == NULL)
		return;
	if (c->rt_free != NULL)
		c->rt_free(c->rt);
	for (i = 0; i < c->ndomains; i++)
		config_domain_free(&c->domains[i]);
	free(c->domains);
	free(c->by_name);
	free(c->by_bounce);
	config_domain_free(&c->defaults);
	config_free_rows((char *)c, 0);
	free(c->path);
	bounce_secrets_free(&c->secrets);
	free(c);
}

static pthread_mutex_t config_lock = PTHREAD_MUTEX_INITIALIZER;
static struct config *config_current;	/* guarded by config_lock */

/* config_install - make c current; release the previous snapshot */
void
config_install(struct config *c)
{
	struct config *old;

	pthread_mutex_lock(&config_lock);
	old = config_current;
	config_current = c;
	pthread_mutex_unlock(&config_lock);
	if (old != NULL)
		config_release(old);
}

/* config_acquire - pin the current snapshot */
struct config *
config_acquire(void)
{
	struct config *c;

	pthread_mutex_lock(&config_lock);
	c = config_current;
	if (c != NULL)
		__atomic_add_fetch(&c->refs, 1, __ATOMIC_ACQ_REL);
	pthread_mutex_unlock(&config_lock);
	return c;
}

/* config_release - drop a pin */
void
config_release(struct config *c)
{
	if (c != NULL && __atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) == 0)
		config_free(c);
}

/* config_find_domain - block for a domain */
const struct config_domain *
config_find_domain(const struct config *c, const char *domain)
{
	if (domain == NULL || c->by_name == NULL)
		return NULL;
	return config_bsearch(c->by_name, c->ndomains, domain, 0);
}

/* config_find_bounce_domain - block whose bounce_domain is domain */
const struct config_domain *
config_find_bounce_domain(const struct config *c, const char *domain)
{
	if (domain == NULL || c->by_bounce == NULL)
		return NULL;
	return config_bsearch(c->by_bounce, c->nbounce, domain, 1);
}
