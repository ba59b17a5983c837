/*
 * mailaddr.c - parse RFC 5322 address lists and SMTP paths.
 *
 * The parser works on a copy of the header value in two passes: first it
 * splits the list at top-level commas and semicolons (outside quoted
 * strings, comments, angle brackets and domain literals), dropping group
 * names; then it extracts one address per element. Malformed input gives
 * -1, never a crash, and the caller decides what a bad From means.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "mailaddr.h"
#include "xalloc.h"

/* mailaddr_skip_comment - p at '(': return the byte after the matching ')', or NULL */
static const char *
mailaddr_skip_comment(const char *p)
{
	int depth = 0;

	for (; *p != '\0'; p++) {
		if (*p == '\\' && p[1] != '\0')
			p++;
		else if (*p == '(')
			depth++;
		else if (*p == ')' && --depth == 0)
			return p + 1;
	}
	return NULL;
}

/* mailaddr_skip_quoted - p at '"': return the byte after the closing quote, or NULL */
static const char *
mailaddr_skip_quoted(const char *p)
{
	for (p++; *p != '\0'; p++) {
		if (*p == '\\' && p[1] != '\0')
			p++;
		else if (*p == '"')
			return p + 1;
	}
	return NULL;
}

/* mailaddr_strip - copy [s,e) without comments and folding whitespace, quotes kept */
static int
mailaddr_strip(const char *s, const char *e, struct buf *out)
{
	const char *q;

	buf_reset(out);
	while (s < e) {
		if (*s == '(') {
			q = mailaddr_skip_comment(s);
			if (q == NULL || q > e)
				return -1;
			s = q;
		} else if (*s == '"') {
			q = mailaddr_skip_quoted(s);
			if (q == NULL || q > e)
				return -1;
			buf_append(out, s, (size_t)(q - s));
			s = q;
		} else if (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n') {
			s++;
		} else {
			buf_putc(out, *s++);
		}
	}
	return 0;
}

/* mailaddr_add - split "local@domain" (comments already stripped) and append */
static void
mailaddr_add(struct mailaddr_list *l, const char *addr)
{
	const char *p, *at = NULL;
	struct mailaddr *m;
	size_t dlen;

	for (p = addr; *p != '\0'; p++) {
		if (*p == '"') {
			const char *q = mailaddr_skip_quoted(p);

			if (q == NULL)
				break;
			p = q - 1;
		} else if (*p == '@') {
			at = p;
		}
	}
	l->v = xreallocarray(l->v, l->n + 1, sizeof(*l->v));
	m = &l->v[l->n++];
	if (at == NULL) {
		m->local = xstrdup(addr);
		m->domain = NULL;
		return;
	}
	m->local = xstrndup(addr, (size_t)(at - addr));
	dlen = strlen(at + 1);
	while (dlen > 0 && at[dlen] == '.')
		dlen--;
	m->domain = dlen ? xstrndup(at + 1, dlen) : NULL;
	if (m->domain != NULL)
		for (p = m->domain; *p != '\0'; p++)
			*(char *)p = (char)tolower((unsigned char)*p);
}

/* mailaddr_element - extract the address of one list element [s,e) */
static int
mailaddr_element(const char *s, const char *e, struct mailaddr_list *l,
    struct buf *tmp)
{
	const char *p, *lt = NULL, *gt = NULL, *q;

	for (p = s; p < e; p++) {
		if (*p == '"' || *p == '(') {
			q = *p == '"' ? mailaddr_skip_quoted(p) : mailaddr_skip_comment(p);
			if (q == NULL || q > e)
				return -1;
			p = q - 1;
		} else if (*p == '<' && lt == NULL) {
			lt = p;
		} else if (*p == '>' && lt != NULL && gt == NULL) {
			gt = p;
		}
	}
	if (lt != NULL && gt == NULL)
		return -1;
	if (lt != NULL) {
		s = lt + 1;
		e = gt;
		/* obsolete route: <@a,@b:user@dom> */
		if (s < e && *s == '@') {
			q = memchr(s, ':', (size_t)(e - s));
			if (q == NULL)
				return -1;
			s = q + 1;
		}
	}
	if (mailaddr_strip(s, e, tmp) != 0)
		return -1;
	if (tmp->len == 0)
		return lt != NULL ? -1 : 0;	/* "<>" is an error, "" is an empty element */
	mailaddr_add(l, buf_cstr(tmp));
	return 0;
}

/* mailaddr_parse_list - parse an address list */
int
mailaddr_parse_list(const char *value, struct mailaddr_list *out)
{
	const char *p, *start = value, *q;
	struct buf tmp = BUF_INIT;
	int angle = 0, rc = 0, seen_at = 0;

	out->v = NULL;
	out->n = 0;
	for (p = value;; p++) {
		if (*p == '"' || *p == '(') {
			q = *p == '"' ? mailaddr_skip_quoted(p) : mailaddr_skip_comment(p);
			if (q == NULL) {
				rc = -1;
				break;
			}
			p = q - 1;
			continue;
		}
		if (*p == '[' && !angle) {
			q = strchr(p, ']');
			if (q == NULL) {
				rc = -1;
				break;
			}
			p = q;
			continue;
		}
		if (*p == '<')
			angle++;
		else if (*p == '>')
			angle--;
		else if (*p == '@')
			seen_at = 1;
		if (angle < 0 || angle > 1) {
			rc = -1;
			break;
		}
		if (*p == ':' && !angle && !seen_at) {
			start = p + 1;		/* group name: drop it */
			continue;
		}
		if (*p == '\0' || ((*p == ',' || *p == ';') && !angle)) {
			if (mailaddr_element(start, p, out, &tmp) != 0) {
				rc = -1;
				break;
			}
			if (*p == '\0')
				break;
			start = p + 1;
			seen_at = 0;
		}
	}
	if (rc == 0 && angle != 0)
		rc = -1;
	buf_free(&tmp);
	return rc < 0 ? -1 : (int)out->n;
}

/* mailaddr_list_free - release a list */
void
mailaddr_list_free(struct mailaddr_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		free(l->v[i].local);
		free(l->v[i].domain);
	}
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* mailaddr_envelope_domain - domain of an SMTP path */
char *
mailaddr_envelope_domain(const char *path)
{
	struct mailaddr_list l;
	char *d = NULL;

	if (mailaddr_parse_list(path, &l) == 1 && l.v[0].domain != NULL)
		d = xstrdup(l.v[0].domain);
	mailaddr_list_free(&l);
	return d;
}

/* mailaddr_domain_valid - LDH (or UTF-8) labels, 1..63 octets, total <= 253 */
int
mailaddr_domain_valid(const char *s)
{
	size_t label = 0, total = 0;
	const unsigned char *p;

	if (s == NULL || *s == '\0' || *s == '.')
		return 0;
	for (p = (const unsigned char *)s; *p != '\0'; p++, total++) {
		if (*p == '.') {
			if (label == 0 || p[-1] == '-')
				return 0;
			label = 0;
			continue;
		}
		if (!(isalnum(*p) || *p == '-' || *p == '_' || *p >= 0x80))
			return 0;
		if (label == 0 && *p == '-')
			return 0;
		if (++label > 63)
			return 0;
	}
	if (p[-1] == '-')
		return 0;
	return total <= 253;
}
