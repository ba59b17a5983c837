/*
 * dkim_sig.c - DKIM-Signature fields read and checked (see dkim_sig.h).
 *
 * Owns the parsed tag-list of one field and its decoded b=. Pure: no
 * I/O, no shared state; the time comes from the caller.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/buf.h"
#include "auth/dkim_sig.h"
#include "auth/dkim_tags.h"
#include "base/xalloc.h"

#define DKIM_SIG_ADDR_MAX	512	/* decoded i=, with its NUL */

/* dkim_sig_b64_value - value of base64 character c, -1 if none */
static int
dkim_sig_b64_value(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* dkim_sig_b64_decode - strict base64 (padding optional, nothing after it) */
int
dkim_sig_b64_decode(const char *s, unsigned char **out, size_t *outlen)
{
	size_t n = strlen(s), i, k = 0, pad = 0, chars;
	unsigned long bits = 0;
	unsigned char *o;
	int v, nb = 0;

	while (pad < 2 && pad < n && s[n - 1 - pad] == '=')
		pad++;
	chars = n - pad;
	if (chars % 4 == 1 || (pad > 0 && (chars + pad) % 4 != 0))
		return -1;
	o = xmalloc(chars / 4 * 3 + 3);
	for (i = 0; i < chars; i++) {
		if ((v = dkim_sig_b64_value((unsigned char)s[i])) < 0) {
			free(o);
			return -1;
		}
		bits = (bits << 6) | (unsigned long)v;
		if (++nb == 4) {
			o[k++] = (unsigned char)(bits >> 16);
			o[k++] = (unsigned char)(bits >> 8);
			o[k++] = (unsigned char)bits;
			bits = 0;
			nb = 0;
		}
	}
	if (nb == 2) {
		o[k++] = (unsigned char)(bits >> 4);
	} else if (nb == 3) {
		o[k++] = (unsigned char)(bits >> 10);
		o[k++] = (unsigned char)(bits >> 2);
	}
	*out = o;
	*outlen = k;
	return 0;
}

/* dkim_sig_number - a decimal value with no sign or junk into *v; -1 if not */
static int
dkim_sig_number(const char *s, unsigned long long *v)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	return 0;
}

/* dkim_sig_qp_decode - dkim-quoted-printable (RFC 6376 2.11) into out; -1 if too long */
static int
dkim_sig_qp_decode(const char *s, char *out, size_t outlen)
{
	size_t k = 0;
	int hi, lo;

	for (; *s != '\0'; s++) {
		if (k + 1 >= outlen)
			return -1;
		if (*s == '=' && s[1] != '\0' && s[2] != '\0') {
			hi = s[1] >= '0' && s[1] <= '9' ? s[1] - '0' :
			    s[1] >= 'A' && s[1] <= 'F' ? s[1] - 'A' + 10 : -1;
			lo = s[2] >= '0' && s[2] <= '9' ? s[2] - '0' :
			    s[2] >= 'A' && s[2] <= 'F' ? s[2] - 'A' + 10 : -1;
			if (hi >= 0 && lo >= 0) {
				out[k++] = (char)(hi * 16 + lo);
				s += 2;
				continue;
			}
		}
		out[k++] = *s;
	}
	out[k] = '\0';
	return 0;
}

/* dkim_sig_has_domain - name is d or below it */
int
dkim_sig_has_domain(const char *name, const char *d)
{
	size_t n = strlen(name), dl = strlen(d);

	if (n == dl)
		return strcasecmp(name, d) == 0;
	return n > dl && name[n - dl - 1] == '.' &&
	    strcasecmp(name + n - dl, d) == 0;
}

/* dkim_sig_identity_ok - i= (decoded) has an @ and a domain within d= */
static int
dkim_sig_identity_ok(const struct dkim_sig *s)
{
	char addr[DKIM_SIG_ADDR_MAX];
	const char *at;

	if (s->identity == NULL)
		return 1;
	if (dkim_sig_qp_decode(s->identity, addr, sizeof(addr)) < 0)
		return 0;
	if ((at = strrchr(addr, '@')) == NULL)
		return 0;
	return dkim_sig_has_domain(at + 1, s->domain);
}

/* dkim_sig_canon - c= into the two canonicalizations; an error text or NULL */
static const char *
dkim_sig_canon(struct dkim_sig *s)
{
	const char *c = dkim_tags_get(&s->tags, "c"), *slash;
	char h[16];
	size_t n;
	int v;

	s->hcanon = s->bcanon = SIGN_CANON_SIMPLE;
	if (c == NULL)
		return NULL;
	slash = strchr(c, '/');
	n = slash != NULL ? (size_t)(slash - c) : strlen(c);
	if (n >= sizeof(h))
		return "invalid header canonicalization";
	memcpy(h, c, n);
	h[n] = '\0';
	if ((v = sign_canon_parse(h)) < 0)
		return "invalid header canonicalization";
	s->hcanon = (enum sign_canon)v;
	if (slash != NULL) {
		if ((v = sign_canon_parse(slash + 1)) < 0)
			return "invalid body canonicalization";
		s->bcanon = (enum sign_canon)v;
	}
	return NULL;
}

/* dkim_sig_alg_parse - a= into s->alg; an error text or NULL */
static const char *
dkim_sig_alg_parse(struct dkim_sig *s)
{
	if (s->algorithm == NULL)
		return "signature algorithm missing";
	if (strcasecmp(s->algorithm, "rsa-sha256") == 0)
		s->alg = DKIM_SIG_RSA_SHA256;
	else if (strcasecmp(s->algorithm, "ed25519-sha256") == 0)
		s->alg = DKIM_SIG_ED25519_SHA256;
	else if (strcasecmp(s->algorithm, "rsa-sha1") == 0)
		s->alg = DKIM_SIG_RSA_SHA1;
	else
		return "signature algorithm invalid";
	return NULL;
}

/* dkim_sig_hlist_ok - h= names From (RFC 6376 5.4) */
static int
dkim_sig_hlist_ok(const char *h)
{
	const char *p = h, *colon;
	size_t n;

	for (;;) {
		colon = strchr(p, ':');
		n = colon != NULL ? (size_t)(colon - p) : strlen(p);
		if (n == 4 && strncasecmp(p, "from", 4) == 0)
			return 1;
		if (colon == NULL)
			return 0;
		p = colon + 1;
	}
}

/* dkim_sig_query_ok - q= absent or offering dns/txt; an error text or NULL */
static const char *
dkim_sig_query_ok(const char *q)
{
	const char *p = q, *colon;
	size_t n;
	int dns = 0;

	if (q == NULL)
		return NULL;
	for (;;) {
		colon = strchr(p, ':');
		n = colon != NULL ? (size_t)(colon - p) : strlen(p);
		if (n == 7 && strncasecmp(p, "dns/txt", 7) == 0)
			return NULL;
		if (n >= 3 && strncasecmp(p, "dns", 3) == 0 &&
		    (n == 3 || p[3] == '/'))
			dns = 1;
		if (colon == NULL)
			break;
		p = colon + 1;
	}
	return dns ? "query option invalid" : "query method invalid";
}

/* dkim_sig_times - x= and t= against now; an error text or NULL */
static const char *
dkim_sig_times(struct dkim_sig *s, time_t now)
{
	const char *tv = dkim_tags_get(&s->tags, "t");
	const char *xv = dkim_tags_get(&s->tags, "x");
	unsigned long long t = 0, x = 0, n = now > 0 ? (unsigned long long)now : 0;

	if (tv != NULL && dkim_sig_number(tv, &t) < 0)
		return "invalid t= value";
	if (xv != NULL && dkim_sig_number(xv, &x) < 0)
		return "invalid x= value";
	if (xv != NULL && x <= ~0ULL - DKIM_SIG_DRIFT && n >= x + DKIM_SIG_DRIFT) {
		s->error_fails = 1;
		return "signature expired";
	}
	if (tv != NULL && t > DKIM_SIG_DRIFT && n < t - DKIM_SIG_DRIFT) {
		s->error_fails = 1;
		return "signature timestamp in the future";
	}
	if (tv != NULL && xv != NULL && t >= x)
		return "signature timestamp order error";
	return NULL;
}

/* dkim_sig_required - d=, s=, v= and i= (before the times); an error text or NULL */
static const char *
dkim_sig_required(struct dkim_sig *s)
{
	const char *v = dkim_tags_get(&s->tags, "v");

	if (s->domain == NULL)
		return "domain tag missing";
	if (s->domain[0] == '\0')
		return "domain tag empty";
	if (s->selector == NULL)
		return "selector tag missing";
	if (s->selector[0] == '\0')
		return "selector tag empty";
	if (v == NULL)
		return "version missing";
	if (v[0] == '\0')
		return "version empty";
	if (strcmp(v, "1") != 0)
		return "unsupported signature version";
	if (!dkim_sig_identity_ok(s))
		return "invalid domain coverage";
	return NULL;
}

/* dkim_sig_check - the checks after the tag-list parsed; an error text or NULL */
static const char *
dkim_sig_check(struct dkim_sig *s, time_t now)
{
	const char *e, *l;

	if ((e = dkim_sig_required(s)) != NULL ||
	    (e = dkim_sig_times(s, now)) != NULL ||
	    (e = dkim_sig_canon(s)) != NULL ||
	    (e = dkim_sig_alg_parse(s)) != NULL)
		return e;
	if (s->hlist == NULL)
		return "header list missing";
	if (s->hlist[0] == '\0')
		return "header list tag empty";
	if (!dkim_sig_hlist_ok(s->hlist))
		return "header list missing required entries";
	l = dkim_tags_get(&s->tags, "l");
	if (l != NULL && (dkim_sig_number(l, &s->length) < 0 ||
	    s->length > (unsigned long long)0x7fffffffffffffffLL))
		return "body length value invalid";
	if ((e = dkim_sig_query_ok(dkim_tags_get(&s->tags, "q"))) != NULL)
		return e;
	if (s->bh == NULL)
		return "body hash missing";
	if (s->bh[0] == '\0')
		return "body hash empty";
	if (s->b64 == NULL)
		return "signature data missing";
	if (s->b64[0] == '\0')
		return "signature data empty";
	if (dkim_sig_b64_decode(s->b64, &s->sig, &s->siglen) < 0 || s->siglen == 0)
		return "signature data corrupt";
	return NULL;
}

/* dkim_sig_parse - read and check one DKIM-Signature value */
void
dkim_sig_parse(struct dkim_sig *s, const char *value, time_t now)
{
	enum dkim_tags_status st;

	memset(s, 0, sizeof(*s));
	s->length = DKIM_SIG_NOLIMIT;
	st = dkim_tags_parse(&s->tags, value, strlen(value));
	if (st != DKIM_TAGS_OK) {
		s->error = dkim_tags_status_name(st);
		return;
	}
	s->domain = dkim_tags_get(&s->tags, "d");
	s->selector = dkim_tags_get(&s->tags, "s");
	s->identity = dkim_tags_get(&s->tags, "i");
	s->algorithm = dkim_tags_get(&s->tags, "a");
	s->b64 = dkim_tags_get(&s->tags, "b");
	s->bh = dkim_tags_get(&s->tags, "bh");
	s->hlist = dkim_tags_get(&s->tags, "h");
	s->error = dkim_sig_check(s, now);
}

/* dkim_sig_free - release a parsed signature */
void
dkim_sig_free(struct dkim_sig *s)
{
	dkim_tags_free(&s->tags);
	free(s->sig);
	memset(s, 0, sizeof(*s));
}

/* dkim_sig_fws - SP, HTAB, CR, LF */
static int
dkim_sig_fws(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* dkim_sig_strip_b - the field as the header hash takes it: b= emptied */
void
dkim_sig_strip_b(const char *value, struct buf *out)
{
	const char *p = value, *q;

	for (;;) {
		/* At a tag-spec: [FWS] name [FWS] "=" value [";"] */
		q = p;
		while (dkim_sig_fws((unsigned char)*q))
			q++;
		if (q[0] == 'b' && (q[1] == '=' || dkim_sig_fws((unsigned char)q[1]))) {
			const char *e = q + 1;

			while (dkim_sig_fws((unsigned char)*e))
				e++;
			if (*e == '=') {
				buf_append(out, p, (size_t)(e + 1 - p));
				while (*e != '\0' && *e != ';')
					e++;
				p = e;		/* the value is gone */
			}
		}
		q = strchr(p, ';');
		if (q == NULL) {
			buf_puts(out, p);
			return;
		}
		buf_append(out, p, (size_t)(q + 1 - p));
		p = q + 1;
	}
}
