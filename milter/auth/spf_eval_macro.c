/*
 * spf_eval_macro.c - SPF macro syntax and expansion (RFC 7208 7).
 *
 * See spf_eval_macro.h. The grammar, from RFC 7208 7.1:
 *   domain-spec  = macro-string domain-end
 *   domain-end   = ( "." toplabel [ "." ] ) / macro-expand
 *   macro-string = *( macro-expand / macro-literal )
 *   macro-expand = ( "%{" macro-letter transformers *delimiter "}" )
 *                  / "%%" / "%_" / "%-"
 *   macro-literal = %x21-24 / %x26-7E
 *   transformers = *DIGIT [ "r" ]
 *   delimiter    = "." / "-" / "+" / "," / "/" / "_" / "="
 * No allocation but the output buffer's.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "auth/spf_eval_macro.h"

#define SPF_EVAL_MACRO_GROW	2048	/* cut the output back once past this */
#define SPF_EVAL_MACRO_DIGITS	1000	/* digit transformers above: "all parts" */

/* One parsed %{...} macro. */
struct spf_eval_macro {
	int letter;			/* lowercase macro letter */
	int upper;			/* written in uppercase: URL-escape */
	unsigned digits;		/* parts wanted; 0: all */
	int reverse;			/* "r" transformer */
	const char *delims;		/* delimiters (borrowed); NULL: "." */
	size_t ndelims;
};

/* spf_eval_macro_is_delim - one of the RFC 7208 delimiters */
static int
spf_eval_macro_is_delim(int c)
{
	return c != '\0' && strchr(".-+,/_=", c) != NULL;
}

/*
 * spf_eval_macro_parse - the "%{...}" at s[i..n) into m; the index past
 * its "}", or 0 with why when it is malformed
 */
static size_t
spf_eval_macro_parse(const char *s, size_t n, size_t i,
    struct spf_eval_macro *m, char *why, size_t whylen)
{
	size_t j = i + 2;
	int c;

	memset(m, 0, sizeof(*m));
	if (j >= n) {
		(void)snprintf(why, whylen, "unterminated macro");
		return 0;
	}
	c = (unsigned char)s[j];
	m->letter = tolower(c);
	m->upper = isupper(c) != 0;
	if (strchr("slodiphv", m->letter) == NULL || m->letter == '\0') {
		if (m->letter != '\0' && strchr("crt", m->letter) != NULL)
			(void)snprintf(why, whylen, "macro letter '%c' is allowed "
			    "in explanation text only", c);
		else
			(void)snprintf(why, whylen, "unknown macro letter '%c'",
			    c >= 0x21 && c < 0x7f ? c : '?');
		return 0;
	}
	for (j++; j < n && isdigit((unsigned char)s[j]); j++)
		if (m->digits <= SPF_EVAL_MACRO_DIGITS)
			m->digits = m->digits * 10 + (unsigned)(s[j] - '0');
	if (j > i + 3 && m->digits == 0) {
		(void)snprintf(why, whylen, "macro transformer of 0 parts");
		return 0;
	}
	if (j < n && (s[j] == 'r' || s[j] == 'R')) {
		m->reverse = 1;
		j++;
	}
	m->delims = s + j;
	while (j < n && spf_eval_macro_is_delim(s[j]))
		j++;
	m->ndelims = (size_t)(s + j - m->delims);
	if (j >= n || s[j] != '}') {
		(void)snprintf(why, whylen, "malformed macro");
		return 0;
	}
	return j + 1;
}

/*
 * spf_eval_macro_token - the macro-expand at s[i] (a '%'): its length, or
 * 0 with why; m is filled for "%{...}", m->letter 0 for %%, %_ and %-
 */
static size_t
spf_eval_macro_token(const char *s, size_t n, size_t i,
    struct spf_eval_macro *m, char *why, size_t whylen)
{
	size_t end;

	memset(m, 0, sizeof(*m));
	if (i + 1 >= n) {
		(void)snprintf(why, whylen, "'%%' at the end");
		return 0;
	}
	if (s[i + 1] == '%' || s[i + 1] == '_' || s[i + 1] == '-')
		return 2;
	if (s[i + 1] != '{') {
		(void)snprintf(why, whylen, "'%%' not followed by '{', '%%', "
		    "'_' or '-'");
		return 0;
	}
	end = spf_eval_macro_parse(s, n, i, m, why, whylen);
	return end > i ? end - i : 0;
}

/*
 * spf_eval_macro_toplabel - RFC 7208 toplabel: ( *alphanum ALPHA
 * *alphanum ) / ( 1*alphanum "-" *( alphanum / "-" ) alphanum )
 */
static int
spf_eval_macro_toplabel(const char *s, size_t n)
{
	size_t i;
	int alpha = 0, dash = 0;

	if (n == 0 || !isalnum((unsigned char)s[0]) ||
	    !isalnum((unsigned char)s[n - 1]))
		return 0;
	for (i = 0; i < n; i++) {
		if (s[i] == '-')
			dash = 1;
		else if (isalpha((unsigned char)s[i]))
			alpha = 1;
		else if (!isdigit((unsigned char)s[i]))
			return 0;
	}
	return alpha || dash;
}

/*
 * spf_eval_macro_domain_end - does s[0..n), a macro-string whose last
 * octet is a literal, end in "." toplabel [ "." ]?
 */
static int
spf_eval_macro_domain_end(const char *s, size_t n)
{
	size_t e = n, k;

	if (e > 0 && s[e - 1] == '.')
		e--;
	/* Scanning back over alphanumerics and '-' never enters a macro:
	 * every "%{...}" ends in '}', and "%-" starts with '%'. */
	for (k = e; k > 0 && (isalnum((unsigned char)s[k - 1]) || s[k - 1] == '-'); k--)
		;
	if (k == 0 || s[k - 1] != '.')
		return 0;	/* ("%." is no token: that '.' is a literal) */
	return spf_eval_macro_toplabel(s + k, e - k);
}

/* spf_eval_macro_check - macro-string or domain-spec syntax */
int
spf_eval_macro_check(const char *s, size_t n, int flags, char *why,
    size_t whylen)
{
	struct spf_eval_macro m;
	size_t i = 0, len;
	int ends_macro = 0;

	if ((flags & SPF_EVAL_MACRO_DOMAIN) && n == 0) {
		(void)snprintf(why, whylen, "empty domain-spec");
		return -1;
	}
	while (i < n) {
		if (s[i] == '%') {
			len = spf_eval_macro_token(s, n, i, &m, why, whylen);
			if (len == 0)
				return -1;
			i += len;
			ends_macro = 1;
		} else if ((unsigned char)s[i] >= 0x21 && (unsigned char)s[i] <= 0x7e) {
			i++;
			ends_macro = 0;
		} else {
			(void)snprintf(why, whylen, "character 0x%02x",
			    (unsigned char)s[i]);
			return -1;
		}
	}
	if ((flags & SPF_EVAL_MACRO_DOMAIN) && !ends_macro &&
	    !spf_eval_macro_domain_end(s, n)) {
		(void)snprintf(why, whylen, "domain-spec does not end in a "
		    "top-level label or a macro");
		return -1;
	}
	return 0;
}

/* spf_eval_macro_put - append p[0..n), URL-escaped when esc (RFC 3986) */
static void
spf_eval_macro_put(struct buf *out, const char *p, size_t n, int esc)
{
	static const char hex[] = "0123456789ABCDEF";
	unsigned char c;
	size_t i;

	if (!esc) {
		buf_append(out, p, n);
		return;
	}
	for (i = 0; i < n; i++) {
		c = (unsigned char)p[i];
		if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
			buf_putc(out, c);
			continue;
		}
		buf_putc(out, '%');
		buf_putc(out, hex[c >> 4]);
		buf_putc(out, hex[c & 15]);
	}
}

/* spf_eval_macro_split - is c one of m's delimiters ("." by default)? */
static int
spf_eval_macro_split(const struct spf_eval_macro *m, int c)
{
	if (m->ndelims == 0)
		return c == '.';
	return memchr(m->delims, c, m->ndelims) != NULL;
}

/*
 * spf_eval_macro_transform - append value v split on m's delimiters,
 * reversed when asked, its rightmost m->digits parts joined with "."
 */
static void
spf_eval_macro_transform(const struct spf_eval_macro *m, const char *v,
    struct buf *out)
{
	size_t len = strlen(v), parts = 1, want, skip, i, e, b;
	int first = 1;

	for (i = 0; i < len; i++)
		parts += spf_eval_macro_split(m, (unsigned char)v[i]);
	want = m->digits == 0 || m->digits > parts ? parts : m->digits;
	if (!m->reverse) {
		/* the last want parts, in order: skip parts - want of them */
		for (i = 0, skip = parts - want; i < len && skip > 0; i++)
			skip -= spf_eval_macro_split(m, (unsigned char)v[i]);
		for (; i < len; i++) {
			if (spf_eval_macro_split(m, (unsigned char)v[i]))
				spf_eval_macro_put(out, ".", 1, m->upper);
			else
				spf_eval_macro_put(out, v + i, 1, m->upper);
		}
		return;
	}
	/* reversed: the first want parts of v, last one first */
	for (e = 0, skip = want; e < len; e++)
		if (spf_eval_macro_split(m, (unsigned char)v[e]) && --skip == 0)
			break;
	for (;;) {
		for (b = e; b > 0 && !spf_eval_macro_split(m, (unsigned char)v[b - 1]); b--)
			;
		if (!first)
			spf_eval_macro_put(out, ".", 1, m->upper);
		spf_eval_macro_put(out, v + b, e - b, m->upper);
		first = 0;
		if (b == 0)
			break;
		e = b - 1;
	}
}

/* spf_eval_macro_ip - %{i}: dotted quad, or 32 dotted nibbles for IPv6; -1 if it does not fit */
static int
spf_eval_macro_ip(const struct spf_eval_macro_env *env, char *out,
    size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *a = env->addr;
	size_t i, o = 0;
	int n;

	if (env->family == AF_INET) {
		n = snprintf(out, outlen, "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
		return n < 0 || (size_t)n >= outlen ? -1 : 0;
	}
	for (i = 0; i < 16 && o + 4 <= outlen; i++) {
		out[o++] = hex[a[i] >> 4];
		out[o++] = '.';
		out[o++] = hex[a[i] & 15];
		out[o++] = '.';
	}
	if (i < 16)
		return -1;
	out[o - 1] = '\0';
	return 0;
}

/* spf_eval_macro_value - what macro letter stands for ("" if nothing, NULL if %{i} does not fit tmp) */
static const char *
spf_eval_macro_value(const struct spf_eval_macro_env *env, int letter,
    char *tmp, size_t tmplen)
{
	const char *v = NULL;

	switch (letter) {
	case 's': v = env->sender; break;
	case 'l': v = env->local; break;
	case 'o': v = env->sender_domain; break;
	case 'd': v = env->domain; break;
	case 'h': v = env->helo; break;
	case 'v': v = env->family == AF_INET ? "in-addr" : "ip6"; break;
	case 'i':
		if (spf_eval_macro_ip(env, tmp, tmplen) < 0)
			return NULL;
		return tmp;
	case 'p':
		v = env->ptr_name != NULL ? env->ptr_name(env->ptr_arg,
		    env->domain) : "unknown";
		break;
	}
	return v != NULL ? v : "";
}

/* spf_eval_macro_keep - cut out back to its last SPF_EVAL_MACRO_KEEP octets */
static void
spf_eval_macro_keep(struct buf *out)
{
	if (out->len <= SPF_EVAL_MACRO_GROW)
		return;
	memmove(out->data, out->data + out->len - SPF_EVAL_MACRO_KEEP,
	    SPF_EVAL_MACRO_KEEP);
	out->len = SPF_EVAL_MACRO_KEEP;
	out->data[out->len] = '\0';
}

/*
 * spf_eval_macro_fit - drop one trailing dot, then whole labels on the
 * left until the name fits in 253 octets (RFC 7208 7.3)
 */
static void
spf_eval_macro_fit(struct buf *out)
{
	size_t i;

	if (out->len > 0 && out->data[out->len - 1] == '.')
		out->data[--out->len] = '\0';
	if (out->len <= SPF_EVAL_NAME_MAX)
		return;
	for (i = out->len - SPF_EVAL_NAME_MAX - 1; i < out->len; i++)
		if (out->data[i] == '.')
			break;
	if (i >= out->len)
		return;		/* one label over 253: left as is, invalid */
	memmove(out->data, out->data + i + 1, out->len - i - 1);
	out->len -= i + 1;
	out->data[out->len] = '\0';
}

/* spf_eval_macro_expand - target name of a domain-spec */
int
spf_eval_macro_expand(const char *s, size_t n,
    const struct spf_eval_macro_env *env, struct buf *out)
{
	struct spf_eval_macro m;
	char why[64], tmp[80];
	const char *v;
	size_t i = 0, len;

	buf_reset(out);
	buf_append(out, "", 0);	/* "" even when nothing is appended */
	while (i < n) {
		if (s[i] != '%') {
			buf_putc(out, s[i++]);
			spf_eval_macro_keep(out);
			continue;
		}
		len = spf_eval_macro_token(s, n, i, &m, why, sizeof(why));
		if (len == 0)
			return -1;
		if (m.letter == 0)
			buf_puts(out, s[i + 1] == '%' ? "%" : s[i + 1] == '_'
			    ? " " : "%20");
		else if ((v = spf_eval_macro_value(env, m.letter, tmp,
		    sizeof(tmp))) == NULL)
			return -1;	/* not reached: tmp holds an IPv6 %{i} */
		else
			spf_eval_macro_transform(&m, v, out);
		spf_eval_macro_keep(out);
		i += len;
	}
	spf_eval_macro_fit(out);
	return 0;
}
