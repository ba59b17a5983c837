/*
 * config_value.c - the value syntax of each option type: the `set` member
 * of the type descriptors (config_table.h), which parses one value into its
 * field and reports what is wrong with it (config_error).
 *
 * Runs inside a load (one thread); no state of its own.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/buf.h"
#include "base/cidr.h"
#include "base/log.h"
#include "base/mailaddr.h"
#include "base/xalloc.h"
#include "auth/keys.h"
#include "auth/sign.h"
#include "policy/config.h"
#include "policy/config_parse.h"
#include "policy/config_table.h"

/* config_words_parse - split on commas and whitespace */
static void
config_words_parse(const char *text, struct config_words *w)
{
	char *copy = xstrdup(text), *save = NULL, *tok;

	w->v = NULL;
	w->n = 0;
	w->packed = 0;
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

/* config_key_is_attr - does word start a key attribute rather than name a file? */
static int
config_key_is_attr(const char *word)
{
	return strncmp(word, "not_before=", 11) == 0
	    || strncmp(word, "not_after=", 10) == 0;
}

/*
 * config_set_key - "SELECTOR [PATH] [not_before=DATE] [not_after=DATE]"
 * into the open block; without PATH the path is left NULL for
 * config_key_paths (key_dir)
 */
int
config_set_key(struct config_parse *p, const struct opt_def *o, void *field,
    const char *value)
{
	struct config_domain *d = p->dom;
	struct config_words w;
	struct key *k;
	size_t i, first_attr;

	(void)o;
	(void)field;		/* &d->keys: the list grows with d->nkeys */
	config_words_parse(value, &w);
	if (w.n < 1) {
		config_error(p, "key: expected \"SELECTOR [PATH]\", got \"%s\"",
		    value);
		goto fail;
	}
	first_attr = w.n >= 2 && !config_key_is_attr(w.v[1]) ? 2 : 1;
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
	if (first_attr == 2 && w.v[1][0] == '/') {
		k->path = xstrdup(w.v[1]);
	} else if (first_attr == 2) {
		struct buf b = BUF_INIT;

		buf_printf(&b, "%s/%s", p->dir, w.v[1]);
		k->path = buf_steal(&b);
	}
	k->line = p->line;
	for (i = first_attr; i < w.n; i++)
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

/* config_set_listen - a listening ADDRESS:PORT ([IPv6]:PORT), or empty: off */
int
config_set_listen(struct config_parse *p, const struct opt_def *o,
    void *field, const char *value)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char err[256];

	if (*value != '\0' && cidr_parse_hostport(value, &ss, &len, err,
	    sizeof(err)) != 0)
		return config_error(p, "%s: %s", o->name, err);
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
