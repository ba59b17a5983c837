/*
 * dkim_tags.c - RFC 6376 3.2 tag-list parser (see dkim_tags.h).
 *
 * One pass over a copy of the input: names and values are written back,
 * whitespace dropped, each ended by a NUL, into the same buffer (the
 * output never outruns the input). Owns nothing but that buffer.
 */
#include <stdlib.h>
#include <string.h>

#include "auth/dkim_tags.h"
#include "base/xalloc.h"

/* dkim_tags_fws - whitespace that FWS may hold (SP, HTAB, CR, LF) */
static int
dkim_tags_fws(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* dkim_tags_alpha - RFC 5234 ALPHA */
static int
dkim_tags_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* dkim_tags_namechar - ALNUMPUNC: ALPHA / DIGIT / "_" */
static int
dkim_tags_namechar(int c)
{
	return dkim_tags_alpha(c) || (c >= '0' && c <= '9') || c == '_';
}

/* dkim_tags_valchar - VALCHAR: %x21-3A / %x3C-7E (all printable but ";") */
static int
dkim_tags_valchar(int c)
{
	return c >= 0x21 && c <= 0x7e && c != ';';
}

/* dkim_tags_skip_fws - index of the first non-FWS byte from i */
static size_t
dkim_tags_skip_fws(const char *s, size_t i, size_t len)
{
	while (i < len && dkim_tags_fws((unsigned char)s[i]))
		i++;
	return i;
}

/* dkim_tags_one - parse the tag-spec at s[*i] into t; advances *i past it */
static enum dkim_tags_status
dkim_tags_one(struct dkim_tags *t, const char *s, size_t len, size_t *i,
    char **o)
{
	size_t k;
	char *name, *value;

	*i = dkim_tags_skip_fws(s, *i, len);
	if (*i >= len || !dkim_tags_alpha((unsigned char)s[*i]))
		return DKIM_TAGS_SYNTAX;
	name = *o;
	while (*i < len && dkim_tags_namechar((unsigned char)s[*i]))
		*(*o)++ = s[(*i)++];
	*(*o)++ = '\0';
	*i = dkim_tags_skip_fws(s, *i, len);
	if (*i >= len || s[*i] != '=')
		return DKIM_TAGS_SYNTAX;
	(*i)++;
	value = *o;
	for (; *i < len && s[*i] != ';'; (*i)++) {
		if (dkim_tags_fws((unsigned char)s[*i]))
			continue;
		if (!dkim_tags_valchar((unsigned char)s[*i]))
			return DKIM_TAGS_SYNTAX;
		*(*o)++ = s[*i];
	}
	*(*o)++ = '\0';
	for (k = 0; k < t->n; k++)
		if (strcmp(t->tag[k].name, name) == 0)
			return DKIM_TAGS_DUPLICATE;
	if (t->n >= DKIM_TAGS_MAX)
		return DKIM_TAGS_TOO_MANY;
	t->tag[t->n].name = name;
	t->tag[t->n].value = value;
	t->n++;
	return DKIM_TAGS_OK;
}

/* dkim_tags_parse - parse a whole tag-list */
enum dkim_tags_status
dkim_tags_parse(struct dkim_tags *t, const char *s, size_t len)
{
	enum dkim_tags_status st = DKIM_TAGS_OK;
	size_t i = 0;
	char *o;

	memset(t, 0, sizeof(*t));
	/* Each byte lands once at most, plus a NUL per name and value;
	 * a tag takes at least two bytes ("a="), so len + 2 * (len / 2 + 1)
	 * is room enough. */
	t->buf = xmalloc(2 * len + 3);
	o = t->buf;
	for (;;) {
		st = dkim_tags_one(t, s, len, &i, &o);
		if (st != DKIM_TAGS_OK)
			break;
		if (i >= len)
			break;			/* the last spec, no ";" */
		i = dkim_tags_skip_fws(s, i + 1, len);	/* past ";" */
		if (i >= len)
			break;			/* a trailing ";" */
	}
	if (st != DKIM_TAGS_OK)
		t->n = 0;
	return st;
}

/* dkim_tags_get - a tag's value, NULL when absent */
const char *
dkim_tags_get(const struct dkim_tags *t, const char *name)
{
	size_t k;

	for (k = 0; k < t->n; k++)
		if (strcmp(t->tag[k].name, name) == 0)
			return t->tag[k].value;
	return NULL;
}

/* dkim_tags_free - release the buffer */
void
dkim_tags_free(struct dkim_tags *t)
{
	free(t->buf);
	memset(t, 0, sizeof(*t));
}

/* dkim_tags_status_name - text of a parse status */
const char *
dkim_tags_status_name(enum dkim_tags_status st)
{
	switch (st) {
	case DKIM_TAGS_OK:		return "ok";
	case DKIM_TAGS_SYNTAX:		return "tag-list syntax error";
	case DKIM_TAGS_DUPLICATE:	return "duplicate tag";
	case DKIM_TAGS_TOO_MANY:	return "too many tags";
	}
	return "tag-list syntax error";
}
