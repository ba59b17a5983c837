/*
 * authres.c - build the Authentication-Results header value (RFC 8601)
 * and recognize existing ones that claim our authserv-id.
 *
 * Threading: pure functions over the caller's strings and buffers.
 * Nothing from the message reaches the output unchecked: identities are
 * validated (domain syntax, RFC 5322 local parts quoted when needed),
 * results are taken from the registry lists below, and comments are
 * escaped. Folding is "\n\t" (the milter convention; the MTA adds CR).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/authres.h"
#include "base/buf.h"
#include "base/mailaddr.h"
#include "base/xalloc.h"

#define AUTHRES_COMMENT_MAX	100	/* characters of a free-text comment */
#define AUTHRES_LOCAL_MAX	64	/* RFC 5321 local part */
/*
 * header.b (RFC 6008 section 4): at least the first 8 characters of b=,
 * and as many more as it takes to be unique among this message's
 * signatures, so that a reader can tell which signature a result is for.
 * 8 base64 characters are 48 bits: two different signatures sharing them
 * by chance is rare, and uniqueness is what matters, so no longer minimum
 * is written. b= values identical for more than the maximum are one
 * signature repeated.
 */
#define AUTHRES_BPREFIX_MIN	8
#define AUTHRES_BPREFIX_MAX	128

/* How a word joins what came before. */
enum ar_join {
	AR_GLUE,	/* directly (";" after a value) */
	AR_SPACE,	/* a space, or a fold if the line would grow too long */
	AR_FOLD,	/* always a fold */
};

/* The header being written. */
struct ar {
	struct buf *out;	/* the caller's buffer */
	size_t col;		/* current column */
	int dropped;		/* identities omitted as invalid */
};

/* RFC 8601 result names per method (IANA Email Authentication Result Names). */
static const char *const spf_results[] = {
	"pass", "fail", "softfail", "neutral", "none", "temperror", "permerror",
	"policy", NULL
};
static const char *const dkim_results[] = {
	"pass", "fail", "neutral", "none", "temperror", "permerror", "policy", NULL
};
static const char *const dmarc_results[] = {
	"pass", "fail", "none", "temperror", "permerror", NULL
};
static const char *const dmarc_policies[] = {
	"none", "quarantine", "reject", NULL
};

/* ar_word - append a word, folding before it when the line would pass the limit */
static void
ar_word(struct ar *a, enum ar_join join, const char *w, size_t n)
{
	if (join == AR_FOLD || (join == AR_SPACE
	    && a->col + 1 + n > AUTHRES_FOLD_COLUMN)) {
		buf_puts(a->out, "\n\t");
		a->col = 8;
	} else if (join == AR_SPACE) {
		buf_putc(a->out, ' ');
		a->col++;
	}
	buf_append(a->out, w, n);
	a->col += n;
}

/* ar_wordb - append a word held in a buf */
static void
ar_wordb(struct ar *a, enum ar_join join, const struct buf *b)
{
	ar_word(a, join, buf_cstr(b), b->len);
}

/* authres_pick - the registry spelling of name in list; NULL if not there */
static const char *
authres_pick(const char *const *list, const char *name)
{
	size_t i;

	if (name == NULL)
		return NULL;
	for (i = 0; list[i] != NULL; i++)
		if (strcasecmp(list[i], name) == 0)
			return list[i];
	return NULL;
}

/* authres_domain_ok - an ASCII domain name fit to write into a header (NULL is not) */
static int
authres_domain_ok(const char *s)
{
	return s != NULL && mailaddr_domain_ok(s, strlen(s), 0);
}

/* authres_authserv_id_valid - a host-name-like dot-atom */
int
authres_authserv_id_valid(const char *id)
{
	return authres_domain_ok(id);
}

/* authres_atext - RFC 5322 atext */
static int
authres_atext(int c)
{
	return isascii(c) && (isalnum(c) || strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* authres_dot_atom - is s[0..n) an RFC 5322 dot-atom-text */
static int
authres_dot_atom(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || s[0] == '.' || s[n - 1] == '.')
		return 0;
	for (i = 0; i < n; i++) {
		if (s[i] == '.' ? s[i + 1] == '.' : !authres_atext((unsigned char)s[i]))
			return 0;
	}
	return 1;
}

/* authres_unquote - local part without its quotes (quoted-pairs decoded); -1 if malformed */
static int
authres_unquote(const char *s, size_t n, struct buf *out)
{
	size_t i;

	if (n < 2 || s[0] != '"' || s[n - 1] != '"') {
		buf_append(out, s, n);
		return 0;
	}
	for (i = 1; i < n - 1; i++) {
		if (s[i] == '\\') {
			if (++i >= n - 1)
				return -1;
		} else if (s[i] == '"')
			return -1;
		buf_putc(out, s[i]);
	}
	return 0;
}

/* authres_local - write a local part as dot-atom or quoted-string; -1 if unrepresentable */
static int
authres_local(const char *s, size_t n, struct buf *out)
{
	struct buf raw = BUF_INIT;
	size_t i;
	int rc = -1;

	if (authres_unquote(s, n, &raw) != 0 || raw.len == 0
	    || raw.len > AUTHRES_LOCAL_MAX)
		goto done;
	for (i = 0; i < raw.len; i++)
		if ((unsigned char)raw.data[i] < 0x20 || (unsigned char)raw.data[i] > 0x7e)
			goto done;	/* CR, LF, controls, 8-bit: never written */
	if (authres_dot_atom(raw.data, raw.len)) {
		buf_append(out, raw.data, raw.len);
	} else {
		buf_putc(out, '"');
		for (i = 0; i < raw.len; i++) {
			if (raw.data[i] == '"' || raw.data[i] == '\\')
				buf_putc(out, '\\');
			buf_putc(out, raw.data[i]);
		}
		buf_putc(out, '"');
	}
	rc = 0;
done:
	buf_free(&raw);
	return rc;
}

/* authres_comment - append " (text)" with parentheses and backslashes escaped */
static void
authres_comment(struct ar *a, const char *text)
{
	struct buf b = BUF_INIT;
	size_t i;

	if (text == NULL || *text == '\0')
		return;
	buf_putc(&b, '(');
	for (i = 0; text[i] != '\0' && i < AUTHRES_COMMENT_MAX; i++) {
		unsigned char c = (unsigned char)text[i];

		if (c == '(' || c == ')' || c == '\\')
			buf_putc(&b, '\\');
		buf_putc(&b, (c < 0x20 || c > 0x7e) ? '?' : (char)c);
	}
	buf_putc(&b, ')');
	ar_wordb(a, AR_SPACE, &b);
	buf_free(&b);
}

/* authres_method - write "; method=result" on a new line */
static void
authres_method(struct ar *a, const char *method, const char *result)
{
	struct buf b = BUF_INIT;

	ar_word(a, AR_GLUE, ";", 1);
	buf_printf(&b, "%s=%s", method, result);
	ar_wordb(a, AR_FOLD, &b);
	buf_free(&b);
}

/* authres_prop - write " ptype.property=value" */
static void
authres_prop(struct ar *a, const char *prop, const char *value)
{
	struct buf b = BUF_INIT;

	buf_printf(&b, "%s=%s", prop, value);
	ar_wordb(a, AR_SPACE, &b);
	buf_free(&b);
}

/* authres_mailbox - "local@domain" / "<...>" / "domain" into pvalue form; -1 if invalid */
static int
authres_mailbox(const char *id, struct buf *out)
{
	const char *at, *dom;
	size_t n = strlen(id);
	char domain[256];

	if (n >= 2 && id[0] == '<' && id[n - 1] == '>') {
		id++;
		n -= 2;
	}
	at = NULL;
	for (dom = id; dom < id + n; dom++)
		if (*dom == '@')
			at = dom;
	dom = at ? at + 1 : id;
	if ((size_t)(id + n - dom) >= sizeof(domain))
		return -1;
	memcpy(domain, dom, (size_t)(id + n - dom));
	domain[id + n - dom] = '\0';
	/* RFC 8601 values take a domain-name: two labels at least */
	if (!authres_domain_ok(domain) || strchr(domain, '.') == NULL)
		return -1;
	if (at != NULL && at > id) {
		if (authres_local(id, (size_t)(at - id), out) != 0)
			buf_reset(out);		/* write the domain alone */
		else
			buf_putc(out, '@');
	}
	buf_puts(out, domain);
	return 0;
}

/* authres_spf - one spf clause */
static void
authres_spf(struct ar *a, const struct authres_spf *s, const char *prop)
{
	const char *result = authres_pick(spf_results, s->result);
	struct buf v = BUF_INIT;
	int ok = 1;

	if (s->result == NULL)
		return;
	if (s->identity != NULL && strcmp(prop, "smtp.helo") == 0) {
		ok = authres_domain_ok(s->identity)
		    && strchr(s->identity, '.') != NULL;
		if (ok)
			buf_puts(&v, s->identity);
	} else if (s->identity != NULL) {
		ok = authres_mailbox(s->identity, &v) == 0;
	}
	if (!ok) {
		/* the result stands; an identity RFC 8601 cannot carry is left out */
		a->dropped++;
		authres_method(a, "spf", result != NULL ? result : "permerror");
		authres_comment(a, "identity not representable, omitted");
	} else {
		authres_method(a, "spf", result != NULL ? result : "permerror");
		authres_comment(a, s->comment);
		if (s->identity != NULL)
			authres_prop(a, prop, buf_cstr(&v));
	}
	buf_free(&v);
}

/* authres_b_clean - the b= value without FWS; -1 unless base64 */
static int
authres_b_clean(const char *b, struct buf *out)
{
	for (; b != NULL && *b != '\0'; b++) {
		unsigned char c = (unsigned char)*b;

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			continue;
		if (!(isascii(c) && (isalnum(c) || c == '+' || c == '/' || c == '=')))
			return -1;
		buf_putc(out, (char)c);
	}
	return out->len > 0 ? 0 : -1;
}

/* authres_b_prefix - shortest prefix (>= 8) of sig i's b that no other b starts with */
static size_t
authres_b_prefix(const struct buf *bs, size_t n, size_t i)
{
	size_t len = AUTHRES_BPREFIX_MIN, j;
	int clash = 1;

	while (clash && len < bs[i].len && len < AUTHRES_BPREFIX_MAX) {
		clash = 0;
		for (j = 0; j < n; j++)
			if (j != i && bs[j].len >= len
			    && memcmp(bs[j].data, bs[i].data, len) == 0
			    && (bs[j].len != bs[i].len
			    || memcmp(bs[j].data, bs[i].data, bs[i].len) != 0))
				clash = 1;
		if (clash)
			len++;
	}
	return len < bs[i].len ? len : bs[i].len;
}

/* authres_dkim_one - one dkim clause; bs holds every signature's cleaned b */
static void
authres_dkim_one(struct ar *a, const struct authres_dkim *k,
    const struct buf *bs, size_t n, size_t i)
{
	const char *result = authres_pick(dkim_results, k->result);
	struct buf v = BUF_INIT;
	size_t len, j;

	if (!authres_domain_ok(k->domain)) {
		a->dropped++;
		authres_method(a, "dkim", "permerror");
		authres_comment(a, "invalid identity omitted");
		return;
	}
	authres_method(a, "dkim", result ? result : "permerror");
	authres_comment(a, k->comment);
	authres_prop(a, "header.d", k->domain);
	if (k->selector != NULL && !authres_domain_ok(k->selector))
		a->dropped++;
	else if (k->selector != NULL)
		authres_prop(a, "header.s", k->selector);
	if (k->algorithm != NULL && !authres_domain_ok(k->algorithm))
		a->dropped++;
	else if (k->algorithm != NULL)
		authres_prop(a, "header.a", k->algorithm);
	if (bs[i].len == 0) {
		a->dropped += k->b != NULL;
		return;
	}
	len = authres_b_prefix(bs, n, i);
	for (j = 0; j < len && bs[i].data[j] != '/' && bs[i].data[j] != '='; j++)
		;
	if (j < len)	/* "/" and "=" are tspecials: quote (header.b comes last) */
		buf_printf(&v, "\"%.*s\"", (int)len, bs[i].data);
	else
		buf_append(&v, bs[i].data, len);
	authres_prop(a, "header.b", buf_cstr(&v));
	buf_free(&v);
}

/* authres_dkim_all - every dkim clause, or dkim=none */
static void
authres_dkim_all(struct ar *a, const struct authres_input *in)
{
	struct buf *bs;
	size_t i;

	if (in->dkim_skipped)
		return;
	if (in->ndkim == 0 || in->dkim == NULL) {
		authres_method(a, "dkim", "none");
		return;
	}
	bs = xcalloc(in->ndkim, sizeof(*bs));
	for (i = 0; i < in->ndkim; i++)
		if (authres_b_clean(in->dkim[i].b, &bs[i]) != 0)
			buf_reset(&bs[i]);
	for (i = 0; i < in->ndkim; i++)
		authres_dkim_one(a, &in->dkim[i], bs, in->ndkim, i);
	for (i = 0; i < in->ndkim; i++)
		buf_free(&bs[i]);
	free(bs);
}

/* authres_upper - "reject" -> "REJECT" into b */
static void
authres_upper(struct buf *b, const char *tag, const char *value)
{
	const char *p;

	if (b->len > 1)
		buf_putc(b, ' ');
	buf_printf(b, "%s=", tag);
	for (p = value; *p != '\0'; p++)
		buf_putc(b, (char)toupper((unsigned char)*p));
}

/* authres_dmarc - the dmarc clause */
static void
authres_dmarc(struct ar *a, const struct authres_dmarc *m)
{
	const char *result = authres_pick(dmarc_results, m->result);
	const char *p = authres_pick(dmarc_policies, m->p);
	const char *sp = authres_pick(dmarc_policies, m->sp);
	const char *dis = authres_pick(dmarc_policies, m->disposition);
	struct buf c = BUF_INIT;
	int evaluated;

	if (m->result == NULL)
		return;
	if (!authres_domain_ok(m->from_domain)) {
		a->dropped += m->from_domain != NULL;
		authres_method(a, "dmarc", "permerror");
		authres_comment(a, m->from_domain ? "invalid identity omitted"
		    : m->comment);
		return;
	}
	if (result == NULL)
		result = "permerror";
	evaluated = strcmp(result, "pass") == 0 || strcmp(result, "fail") == 0;
	authres_method(a, "dmarc", result);
	if (evaluated && (p || sp || dis)) {
		buf_putc(&c, '(');
		if (p)
			authres_upper(&c, "p", p);
		if (sp)
			authres_upper(&c, "sp", sp);
		if (dis)
			authres_upper(&c, "dis", dis);
		buf_putc(&c, ')');
		ar_wordb(a, AR_SPACE, &c);
	}
	authres_comment(a, m->comment);
	authres_prop(a, "header.from", m->from_domain);
	if (evaluated && dis)
		authres_prop(a, "policy.dmarc", dis);
	buf_free(&c);
}

/* authres_build - one Authentication-Results value */
int
authres_build(const struct authres_input *in, struct buf *out)
{
	struct ar a;
	size_t start = out->len;

	if (!authres_authserv_id_valid(in->authserv_id))
		return -1;
	a.out = out;
	a.col = in->first_column ? in->first_column : AUTHRES_FIRST_COLUMN;
	a.dropped = 0;
	ar_word(&a, AR_GLUE, in->authserv_id, strlen(in->authserv_id));
	authres_spf(&a, &in->mailfrom, "smtp.mailfrom");
	authres_spf(&a, &in->helo, "smtp.helo");
	authres_dkim_all(&a, in);
	authres_dmarc(&a, &in->dmarc);
	if (out->len == start + strlen(in->authserv_id))
		ar_word(&a, AR_GLUE, "; none", 6);
	return a.dropped;
}

/* authres_skip_cfws - past comments and folding white space; NULL if a comment is open */
static const char *
authres_skip_cfws(const char *p)
{
	int depth = 0;

	for (; *p != '\0'; p++) {
		if (*p == '\\' && depth > 0) {
			if (*++p == '\0')
				return NULL;
		} else if (*p == '(') {
			depth++;
		} else if (*p == ')') {
			if (depth == 0)
				return p;	/* stray ")": not CFWS, not a token */
			depth--;
		} else if (depth == 0 && !(*p == ' ' || *p == '\t' || *p == '\r'
		    || *p == '\n')) {
			return p;
		}
	}
	return depth == 0 ? p : NULL;
}

/* authres_token_char - RFC 2045 token character */
static int
authres_token_char(int c)
{
	return c > 0x20 && c < 0x7f && strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

/* authres_id_read - the authserv-id (token or quoted-string) at p into id; -1 if none */
static int
authres_id_read(const char *p, struct buf *id)
{
	if (*p == '"') {
		for (p++; *p != '"'; p++) {
			if (*p == '\0')
				return -1;
			if (*p == '\\' && *++p == '\0')
				return -1;
			if (*p == '\r' || *p == '\n')
				continue;	/* folding inside the quotes */
			buf_putc(id, *p);
		}
		return 0;
	}
	while (authres_token_char((unsigned char)*p))
		buf_putc(id, *p++);
	return id->len > 0 ? 0 : -1;
}

/* authres_claims_id - is this header value's authserv-id ours */
int
authres_claims_id(const char *value, const char *authserv_id)
{
	struct buf id = BUF_INIT;
	size_t n, m;
	const char *p;
	int rc = 0;

	if (value == NULL || authserv_id == NULL || *authserv_id == '\0')
		return 0;
	if ((p = authres_skip_cfws(value)) == NULL || authres_id_read(p, &id) != 0)
		goto done;
	n = id.len;
	if (n > 1 && id.data[n - 1] == '.')
		n--;
	m = strlen(authserv_id);
	if (m > 1 && authserv_id[m - 1] == '.')
		m--;
	rc = n == m && strncasecmp(id.data, authserv_id, n) == 0;
done:
	buf_free(&id);
	return rc;
}
