/*
 * mailaddr.c - parse the From header (an RFC 5322 mailbox-list) and SMTP
 * paths.
 *
 * The From parser is strict on purpose: DMARC vouches for the domain it
 * returns, so any value that another parser (an MUA, a filter) could read
 * as a different author must come out malformed, never as a best guess
 * ("Composition Kills", USENIX Security 2020). It reads the grammar of RFC
 * 5322 section 3.4 with the obsolete forms of section 4.4 that deployed
 * mail uses (obs-phrase, obs-local-part, obs-route, CFWS and folding
 * anywhere between tokens, empty list elements) and the UTF-8 of RFC 6532.
 * Deliberate choices:
 *   - group syntax is refused; a lone empty group ("undisclosed:;") gives
 *     no mailbox rather than an error;
 *   - an address without '@' or with nothing after it is returned with no
 *     domain (the caller reports it), "<>" is malformed;
 *   - a domain literal is returned as written ("[192.0.2.1]"), which no
 *     domain check accepts; one final '.' of a domain is dropped;
 *   - empty words in an unquoted local part ("a..b.") are accepted: they
 *     are deployed, and dots cannot move the domain;
 *   - in an address (local part, domain), 8-bit text must be well-formed
 *     UTF-8 without C1 controls; a display name may also carry raw octets
 *     of a legacy charset ("J\xf6rg <a@b>", as old mailers send it): they
 *     cannot move the address. ASCII controls are refused outside quoted
 *     strings and comments; inside them any octet but CR, LF and NUL is
 *     text;
 *   - CR and LF only count as folding: followed by white space (or the end
 *     of the value).
 * One pass, no recursion, no backtracking: linear in the input. Pure
 * functions; results are owned by the caller.
 */
#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <idn2.h>

#include "base/buf.h"
#include "base/mailaddr.h"
#include "base/xalloc.h"

/* mailaddr_mailbox's answer when the element is a group display name */
#define MAILADDR_GROUP	1

/* The cursor and scratch space of one From parse. */
struct mailaddr_parser {
	const unsigned char *p;	/* next octet (borrowed from the value) */
	struct buf local;	/* last phrase or local part read, canonical (owned) */
	struct buf domain;	/* last domain read, lowercased (owned) */
	int raw8;		/* an atom read since the last reset held octets
				 * that are not UTF-8 (display names only) */
};

/* What a run of words and dots can be: a display name, a local part. */
struct mailaddr_run {
	int words;		/* atoms and quoted strings */
	int dots;		/* '.' between them */
	int lead_dot;		/* the run starts with '.' */
	int adjacent;		/* two words with no '.' between them */
	int raw8;		/* non-UTF-8 octets: fit for a display name only */
};

/* mailaddr_utf8_len - length of the well-formed UTF-8 character at p, 0 if ill-formed or C1 */
static size_t
mailaddr_utf8_len(const unsigned char *p)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n, i;

	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4;
	else
		return 0;	/* ASCII, continuation octet, overlong lead or > U+10FFFF */
	if (p[0] == 0xc2)
		lo = 0xa0;	/* U+0080..U+009F are the C1 controls */
	else if (p[0] == 0xe0)
		lo = 0xa0;	/* overlong */
	else if (p[0] == 0xed)
		hi = 0x9f;	/* surrogates */
	else if (p[0] == 0xf0)
		lo = 0x90;	/* overlong */
	else if (p[0] == 0xf4)
		hi = 0x8f;	/* above U+10FFFF */
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return n;
}

/* mailaddr_atext - may ASCII octet c appear in an atom? */
static int
mailaddr_atext(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
	    || (c >= '0' && c <= '9'))
		return 1;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/* mailaddr_atom - append the atom at ps->p to out: its length, or -1 on bad UTF-8 */
static long
mailaddr_atom(struct mailaddr_parser *ps, struct buf *out)
{
	const unsigned char *s = ps->p;
	size_t n;

	for (;;) {
		if (mailaddr_atext(*ps->p)) {
			ps->p++;
		} else if (*ps->p >= 0x80) {
			if ((n = mailaddr_utf8_len(ps->p)) == 0) {
				if (ps->p[0] == 0xc2 && ps->p[1] >= 0x80
				    && ps->p[1] <= 0x9f)
					return -1;	/* a C1 control, as UTF-8 */
				ps->raw8 = 1;	/* judged by where the atom ends up */
				n = 1;
			}
			ps->p += n;
		} else {
			break;
		}
	}
	buf_append(out, s, (size_t)(ps->p - s));
	return (long)(ps->p - s);
}

/* mailaddr_fws - skip folding white space: WSP, and CRLF or LF before WSP or the end */
static const unsigned char *
mailaddr_fws(const unsigned char *p)
{
	for (;;) {
		if (*p == ' ' || *p == '\t')
			p++;
		else if (p[0] == '\r' && p[1] == '\n'
		    && (p[2] == ' ' || p[2] == '\t' || p[2] == '\0'))
			p += 2;
		else if (p[0] == '\n' && (p[1] == ' ' || p[1] == '\t' || p[1] == '\0'))
			p++;
		else
			return p;
	}
}

/* mailaddr_text - in quoted text: length of the next octet or quoted-pair (copied to out), 0 at CR/LF/end */
static size_t
mailaddr_text(const unsigned char *p, struct buf *out)
{
	size_t n = 1;

	if (p[0] == '\\')
		n = (p[1] == '\0' || p[1] == '\r' || p[1] == '\n') ? 0 : 2;
	else if (p[0] == '\0' || p[0] == '\r' || p[0] == '\n')
		n = 0;
	if (n > 0 && out != NULL)
		buf_append(out, p, n);
	return n;
}

/* mailaddr_comment - ps->p at '(': skip the comment, nested ones included */
static int
mailaddr_comment(struct mailaddr_parser *ps)
{
	const unsigned char *p = ps->p;
	size_t depth = 0, n;

	for (;;) {
		p = mailaddr_fws(p);
		if (*p == '(') {
			depth++;
			p++;
		} else if (*p == ')') {
			p++;
			if (--depth == 0)
				break;
		} else if ((n = mailaddr_text(p, NULL)) > 0) {
			p += n;
		} else {
			return -1;	/* unclosed, or a bare CR/LF */
		}
	}
	ps->p = p;
	return 0;
}

/* mailaddr_cfws - skip comments and folding white space */
static int
mailaddr_cfws(struct mailaddr_parser *ps)
{
	for (;;) {
		ps->p = mailaddr_fws(ps->p);
		if (*ps->p != '(')
			return 0;
		if (mailaddr_comment(ps) != 0)
			return -1;
	}
}

/* mailaddr_quoted - ps->p at '"': append the quoted string, quotes kept, folds removed */
static int
mailaddr_quoted(struct mailaddr_parser *ps, struct buf *out)
{
	const unsigned char *p = ps->p + 1, *q;
	size_t n;

	buf_putc(out, '"');
	for (;;) {
		q = mailaddr_fws(p);
		for (; p < q; p++)	/* keep the white space, drop CR and LF */
			if (*p == ' ' || *p == '\t')
				buf_putc(out, *p);
		if (*p == '"')
			break;
		if ((n = mailaddr_text(p, out)) == 0)
			return -1;	/* unclosed, or a bare CR/LF */
		p += n;
	}
	buf_putc(out, '"');
	ps->p = p + 1;
	return 0;
}

/* mailaddr_run - read words and dots (a display name or a local part) into ps->local */
static int
mailaddr_run(struct mailaddr_parser *ps, struct mailaddr_run *r)
{
	int after_word = 0;

	memset(r, 0, sizeof(*r));
	buf_reset(&ps->local);
	ps->raw8 = 0;
	for (;;) {
		if (mailaddr_cfws(ps) != 0)
			return -1;
		if (*ps->p == '.') {
			r->lead_dot |= r->words == 0 && r->dots == 0;
			r->dots++;
			after_word = 0;
			buf_putc(&ps->local, '.');
			ps->p++;
			continue;
		}
		if (*ps->p == '"') {
			if (mailaddr_quoted(ps, &ps->local) != 0)
				return -1;
		} else if (mailaddr_atext(*ps->p) || *ps->p >= 0x80) {
			if (mailaddr_atom(ps, &ps->local) < 0)
				return -1;
		} else {
			r->raw8 = ps->raw8;
			return 0;
		}
		r->adjacent |= after_word;
		r->words++;
		after_word = 1;
	}
}

/* mailaddr_literal - ps->p at '[': a domain literal, kept as written without folds */
static int
mailaddr_literal(struct mailaddr_parser *ps)
{
	size_t n;

	buf_putc(&ps->domain, '[');
	for (ps->p++;;) {
		ps->p = mailaddr_fws(ps->p);
		if (*ps->p == ']')
			break;
		if (*ps->p >= 0x80) {
			if ((n = mailaddr_utf8_len(ps->p)) == 0)
				return -1;
		} else if (*ps->p > 32 && *ps->p < 127 && *ps->p != '['
		    && *ps->p != '\\') {
			n = 1;
		} else {
			return -1;
		}
		buf_append(&ps->domain, ps->p, n);
		ps->p += n;
	}
	buf_putc(&ps->domain, ']');
	ps->p++;
	return mailaddr_cfws(ps);
}

/* mailaddr_domain - after '@': dot-atom, obs-domain or literal into ps->domain ("" if none) */
static int
mailaddr_domain(struct mailaddr_parser *ps)
{
	size_t i;
	long n;

	buf_reset(&ps->domain);
	ps->raw8 = 0;
	if (mailaddr_cfws(ps) != 0)
		return -1;
	if (*ps->p == '[')
		return mailaddr_literal(ps);
	for (;;) {
		if ((n = mailaddr_atom(ps, &ps->domain)) < 0 || mailaddr_cfws(ps) != 0)
			return -1;
		if (n == 0 || *ps->p != '.')
			break;
		ps->p++;
		if (mailaddr_cfws(ps) != 0)
			return -1;
		if (!mailaddr_atext(*ps->p) && *ps->p < 0x80)
			break;		/* the root: "example.com." */
		buf_putc(&ps->domain, '.');
	}
	if (ps->raw8)
		return -1;	/* a domain is UTF-8 or nothing */
	for (i = 0; i < ps->domain.len; i++)
		if (ps->domain.data[i] >= 'A' && ps->domain.data[i] <= 'Z')
			ps->domain.data[i] += 'a' - 'A';
	return 0;
}

/* mailaddr_route - after '<' at '@' or ',': skip an obs-route "@a,@b:" */
static int
mailaddr_route(struct mailaddr_parser *ps)
{
	for (;;) {
		if (mailaddr_cfws(ps) != 0)
			return -1;
		if (*ps->p != ',')
			break;
		ps->p++;
	}
	while (*ps->p == '@') {
		ps->p++;
		if (mailaddr_domain(ps) != 0 || ps->domain.len == 0)
			return -1;
		while (*ps->p == ',') {
			ps->p++;
			if (mailaddr_cfws(ps) != 0)
				return -1;
		}
	}
	if (*ps->p != ':')
		return -1;
	ps->p++;
	return 0;
}

/* mailaddr_add - append the address just read (ps->local, ps->domain) */
static int
mailaddr_add(struct mailaddr_parser *ps, struct mailaddr_list *l)
{
	struct mailaddr *m;

	if (l->n >= INT_MAX)
		return -1;	/* the count must fit the return value */
	if (l->n == 0 || (l->n & (l->n - 1)) == 0)	/* grow at powers of two */
		l->v = xreallocarray(l->v, l->n ? l->n * 2 : 1, sizeof(*l->v));
	m = &l->v[l->n++];
	m->local = xstrdup(buf_cstr(&ps->local));
	m->domain = ps->domain.len > 0 ? xstrdup(buf_cstr(&ps->domain)) : NULL;
	return 0;
}

/* mailaddr_addr_spec - after a local part (ps->local): ["@" domain], then append */
static int
mailaddr_addr_spec(struct mailaddr_parser *ps, const struct mailaddr_run *r,
    struct mailaddr_list *l)
{
	if (r->words == 0 || r->adjacent || r->raw8)
		return -1;	/* not word *("." word) of UTF-8 */
	buf_reset(&ps->domain);
	if (*ps->p == '@') {
		ps->p++;
		if (mailaddr_domain(ps) != 0)
			return -1;
	}
	return mailaddr_add(ps, l);
}

/* mailaddr_angle - after '<': [obs-route] addr-spec ">" */
static int
mailaddr_angle(struct mailaddr_parser *ps, struct mailaddr_list *l)
{
	struct mailaddr_run r;

	if (mailaddr_cfws(ps) != 0)
		return -1;
	if ((*ps->p == '@' || *ps->p == ',') && mailaddr_route(ps) != 0)
		return -1;
	if (mailaddr_run(ps, &r) != 0 || mailaddr_addr_spec(ps, &r, l) != 0)
		return -1;
	if (*ps->p != '>')
		return -1;
	ps->p++;
	return 0;
}

/* mailaddr_mailbox - one list element: name-addr, addr-spec, or a group's name */
static int
mailaddr_mailbox(struct mailaddr_parser *ps, struct mailaddr_list *l)
{
	struct mailaddr_run r;
	int phrase;

	if (mailaddr_run(ps, &r) != 0)
		return -1;
	/* obs-phrase: word *(word / "." / CFWS) */
	phrase = r.words > 0 && !r.lead_dot;
	switch (*ps->p) {
	case '<':
		if (r.words + r.dots > 0 && !phrase)
			return -1;
		ps->p++;
		return mailaddr_angle(ps, l);
	case ':':
		return phrase ? MAILADDR_GROUP : -1;
	default:
		return mailaddr_addr_spec(ps, &r, l);
	}
}

/* mailaddr_empty_group - after "name:": only CFWS and commas, ";", CFWS, the end */
static int
mailaddr_empty_group(struct mailaddr_parser *ps)
{
	for (ps->p++;; ps->p++) {
		if (mailaddr_cfws(ps) != 0)
			return -1;
		if (*ps->p != ',')
			break;
	}
	if (*ps->p != ';')
		return -1;	/* a group with members is no From */
	ps->p++;
	if (mailaddr_cfws(ps) != 0 || *ps->p != '\0')
		return -1;
	return 0;
}

/* mailaddr_elements - the mailbox-list: elements separated by commas, empty ones skipped */
static int
mailaddr_elements(struct mailaddr_parser *ps, struct mailaddr_list *out)
{
	int rc;

	for (;;) {
		if (mailaddr_cfws(ps) != 0)
			return -1;
		if (*ps->p == '\0')
			return 0;
		if (*ps->p == ',') {
			ps->p++;
			continue;
		}
		rc = mailaddr_mailbox(ps, out);
		if (rc == MAILADDR_GROUP)
			return out->n == 0 ? mailaddr_empty_group(ps) : -1;
		if (rc != 0 || mailaddr_cfws(ps) != 0)
			return -1;
		if (*ps->p == ',')
			ps->p++;
		else if (*ps->p != '\0')
			return -1;	/* trailing garbage */
	}
}

/* mailaddr_parse_list - parse a From value (a mailbox-list) */
int
mailaddr_parse_list(const char *value, struct mailaddr_list *out)
{
	struct mailaddr_parser ps;
	int rc;

	out->v = NULL;
	out->n = 0;
	ps.p = (const unsigned char *)value;
	buf_init(&ps.local);
	buf_init(&ps.domain);
	rc = mailaddr_elements(&ps, out);
	buf_free(&ps.local);
	buf_free(&ps.domain);
	if (rc != 0) {
		mailaddr_list_free(out);
		return -1;
	}
	return (int)out->n;
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

/* mailaddr_envelope_at - the last '@' in [s,e) outside quoted strings, or NULL */
static const char *
mailaddr_envelope_at(const char *s, const char *e)
{
	const char *at = NULL;

	for (; s < e; s++) {
		if (*s == '\\' && s + 1 < e) {
			s++;
		} else if (*s == '"') {
			for (s++; s < e && *s != '"'; s++)
				if (*s == '\\' && s + 1 < e)
					s++;
			if (s == e)
				return NULL;	/* unclosed */
		} else if (*s == '@') {
			at = s;
		}
	}
	return at;
}

/* mailaddr_envelope_domain - domain of an SMTP path: after the last '@', as the MTA reads it */
char *
mailaddr_envelope_domain(const char *path)
{
	const char *s = path, *e = path + strlen(path), *at, *q;
	char *d, *c;

	while (s < e && (*s == ' ' || *s == '\t'))
		s++;
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	if (s < e && *s == '<') {
		if (e - s < 2 || e[-1] != '>')
			return NULL;
		s++;
		e--;
	}
	if (s < e && *s == '@') {	/* source route: <@a,@b:user@dom> */
		if ((q = memchr(s, ':', (size_t)(e - s))) == NULL)
			return NULL;
		s = q + 1;
	}
	if ((at = mailaddr_envelope_at(s, e)) == NULL)
		return NULL;
	while (e > at + 1 && e[-1] == '.')
		e--;
	if (e == at + 1)
		return NULL;
	d = xstrndup(at + 1, (size_t)(e - at - 1));
	for (c = d; *c != '\0'; c++) {
		if ((unsigned char)*c <= ' ' || *c == 0x7f || strchr("<>()\",;:\\@", *c)) {
			free(d);
			return NULL;
		}
		if (*c >= 'A' && *c <= 'Z')
			*c += 'a' - 'A';
	}
	return d;
}

/* mailaddr_domain_ok - LDH (and '_') labels of 1..63 octets, <= 253 in all; UTF-8 characters too with the flag */
int
mailaddr_domain_ok(const char *s, size_t len, int flags)
{
	size_t i, n, label = 0;
	unsigned char c;

	if (s == NULL || len == 0 || len > MAILADDR_DOMAIN_MAX)
		return 0;
	for (i = 0; i < len; i += n) {
		c = (unsigned char)s[i];
		n = 1;
		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return 0;	/* empty label, or one ending in '-' */
			label = 0;
			continue;
		}
		if (c >= 0x80 && (flags & MAILADDR_DOMAIN_UTF8)) {
			/* a zero-padded copy: never read past len */
			unsigned char ch[4] = { 0, 0, 0, 0 };

			memcpy(ch, s + i, len - i < 4 ? len - i : 4);
			if ((n = mailaddr_utf8_len(ch)) == 0)
				return 0;
		} else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		    || (c >= '0' && c <= '9') || c == '_'
		    || (c == '-' && label > 0))) {
			return 0;
		}
		if ((label += n) > 63)
			return 0;
	}
	return label > 0 && s[len - 1] != '-';
}

/* mailaddr_domain_alabel - lowercase A-label form of a domain (U-labels converted), or -1 */
int
mailaddr_domain_alabel(const char *in, char *out, size_t outlen)
{
	char tmp[MAILADDR_DOMAIN_MAX + 2], *ace = NULL;
	size_t n, i;
	int eight = 0;

	if (outlen > 0)
		out[0] = '\0';
	if (in == NULL || (n = strlen(in)) == 0 || n >= sizeof(tmp))
		return -1;
	memcpy(tmp, in, n + 1);
	if (n > 1 && tmp[n - 1] == '.')
		tmp[--n] = '\0';
	for (i = 0; i < n; i++) {
		if ((unsigned char)tmp[i] >= 0x80)
			eight = 1;
		else
			tmp[i] = (char)tolower((unsigned char)tmp[i]);
	}
	if (eight) {	/* RFC 5891 (IDNA2008): U-labels become A-labels */
		if (idn2_to_ascii_8z(tmp, &ace, IDN2_NONTRANSITIONAL) != IDN2_OK
		    || strlen(ace) >= sizeof(tmp)) {
			idn2_free(ace);
			return -1;
		}
		n = strlen(ace);
		for (i = 0; i <= n; i++)
			tmp[i] = (char)tolower((unsigned char)ace[i]);
		idn2_free(ace);
	}
	if (!mailaddr_domain_ok(tmp, n, 0) || n >= outlen)
		return -1;
	memcpy(out, tmp, n + 1);
	return 0;
}
