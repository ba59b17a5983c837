/*
 * bounce.c - custom bounce domain addresses: the codec and its secrets.
 *
 * The format is described in bounce.h. Encoding and decoding are pure
 * functions of (secrets, address, bounce domain, now); nothing here logs,
 * reads a file or the clock, or talks to the MTA. Secret files are read by
 * secret.c (for the daemon through config.c) before privileges are
 * dropped; the set is read-only afterwards: any number of threads may
 * encode and decode with one set. Secret bytes are cleansed when freed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "auth/bounce.h"
#include "base/buf.h"
#include "base/mailaddr.h"
#include "base/sslerr.h"
#include "base/xalloc.h"

#define BOUNCE_DAY		86400
#define BOUNCE_WRAP		1024	/* days the two DD characters count */
#define BOUNCE_MAC_OCTETS	5	/* 40 bits, 8 base32 characters */
#define BOUNCE_TAG_CHARS	10	/* DD MMMMMMMM */
#define BOUNCE_MAC_LABEL	"authmilter bounce v1"
#define BOUNCE_STORED_LABEL	"authmilter bounce v2"

static const char bounce_b32[] = "abcdefghijklmnopqrstuvwxyz234567";
static const char bounce_hex[] = "0123456789abcdef";

/* The pieces of a decoded local part. */
struct bounce_parts {
	unsigned residue;			/* DD: day modulo BOUNCE_WRAP */
	unsigned char mac[BOUNCE_MAC_OCTETS];	/* MMMMMMMM */
	struct buf local;			/* unescaped LOCAL */
	struct buf domain;			/* unescaped DOMAIN */
};

static const struct {
	const char *name;
	const char *text;
} bounce_statuses[] = {
	[BOUNCE_OK] = { "ok", "valid" },
	[BOUNCE_NOT_OURS] = { "not-ours", "not a bounce address" },
	[BOUNCE_MALFORMED] = { "malformed", "malformed bounce address" },
	[BOUNCE_BAD_MAC] = { "bad-mac",
	    "forged or tampered (MAC does not verify with any secret)" },
	[BOUNCE_EXPIRED] = { "expired", "expired (or dated in the future)" },
	[BOUNCE_NULL_SENDER] = { "null-sender",
	    "null sender <> is never rewritten" },
	[BOUNCE_BAD_SENDER] = { "bad-sender",
	    "sender is not local@domain (or holds control characters)" },
	[BOUNCE_LOOP] = { "loop", "sender is already in the bounce domain" },
	[BOUNCE_TOO_LONG] = { "too-long",
	    "encoded sender would exceed 64 octets; not rewritten" },
	[BOUNCE_BAD_DOMAIN] = { "bad-domain",
	    "bounce domain is not a domain name" },
	[BOUNCE_INTERNAL] = { "internal",
	    "internal error (no secret loaded, or HMAC failed)" },
	[BOUNCE_UNKNOWN_LOCAL] = { "unknown-local",
	    "not an address this bounce domain issues" },
	[BOUNCE_STORED] = { "stored",
	    "valid stored-form address (original sender kept in the store)" },
};

/* bounce_status_text - a phrase for messages */
const char *
bounce_status_text(enum bounce_status st)
{
	if ((size_t)st >= sizeof(bounce_statuses) / sizeof(bounce_statuses[0]))
		return "unknown status";
	return bounce_statuses[st].text;
}

/* bounce_status_name - a short token */
const char *
bounce_status_name(enum bounce_status st)
{
	if ((size_t)st >= sizeof(bounce_statuses) / sizeof(bounce_statuses[0]))
		return "unknown";
	return bounce_statuses[st].name;
}

/* bounce_secrets_init - make an empty set */
void
bounce_secrets_init(struct bounce_secrets *s)
{
	s->v = NULL;
	s->n = 0;
	s->mac = NULL;
}

/* bounce_secrets_add - append one secret from a secret file's bytes */
int
bounce_secrets_add(struct bounce_secrets *s, const void *bytes, size_t len,
    const char *name, char *err, size_t errlen)
{
	const unsigned char *p = bytes;
	struct bounce_secret *k;

	/* An editor's or a template's final newline must not change the key. */
	if (len > 0 && p[len - 1] == '\n')
		len--;
	if (len > 0 && p[len - 1] == '\r')
		len--;
	if (len < BOUNCE_SECRET_MIN || len > BOUNCE_SECRET_MAX) {
		(void)snprintf(err, errlen, "bounce secret %s has %zu octets: it needs "
		    "%d to %d (make one with: head -c 32 /dev/urandom > FILE)",
		    name, len, BOUNCE_SECRET_MIN, BOUNCE_SECRET_MAX);
		return -1;
	}
	if (s->mac == NULL
	    && (s->mac = EVP_MAC_fetch(NULL, OSSL_MAC_NAME_HMAC, NULL)) == NULL) {
		char ebuf[256];

		(void)snprintf(err, errlen, "OpenSSL has no HMAC: %s",
		    sslerr_take("not available", ebuf, sizeof(ebuf)));
		return -1;
	}
	s->v = xreallocarray(s->v, s->n + 1, sizeof(*s->v));
	k = &s->v[s->n++];
	k->key = xmalloc(len);
	memcpy(k->key, p, len);
	k->len = len;
	k->name = xstrdup(name);
	return 0;
}

/* bounce_secrets_free - cleanse and release */
void
bounce_secrets_free(struct bounce_secrets *s)
{
	size_t i;

	for (i = 0; i < s->n; i++) {
		OPENSSL_cleanse(s->v[i].key, s->v[i].len);
		free(s->v[i].key);
		free(s->v[i].name);
	}
	free(s->v);
	EVP_MAC_free(s->mac);
	bounce_secrets_init(s);
}

/* bounce_lower - ASCII lowercase (other octets unchanged) */
static int
bounce_lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* bounce_norm_domain - lowercase, drop trailing dots; -1 if empty or bad octets */
static int
bounce_norm_domain(const char *s, size_t len, struct buf *out)
{
	size_t i;

	while (len > 0 && s[len - 1] == '.')
		len--;
	buf_reset(out);
	for (i = 0; i < len; i++) {
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f || s[i] == '@')
			return -1;
		buf_putc(out, bounce_lower((unsigned char)s[i]));
	}
	return len > 0 ? 0 : -1;
}

/*
 * bounce_alabel - a normalised domain written in U-labels into its
 * A-labels, in place (what a domain in A-labels gives); kept as it is
 * when it has none or does not convert
 */
static void
bounce_alabel(struct buf *dom)
{
	char a[MAILADDR_DOMAIN_MAX + 1];
	size_t i;

	for (i = 0; i < dom->len && (unsigned char)dom->data[i] < 0x80; i++)
		;
	if (i == dom->len || mailaddr_domain_alabel(buf_cstr(dom), a,
	    sizeof(a)) != 0)
		return;
	buf_reset(dom);
	buf_puts(dom, a);
}

/* bounce_check_bounce_domain - normalise a bounce domain: an ASCII domain name (U-labels to A-labels) */
static int
bounce_check_bounce_domain(const char *s, size_t len, struct buf *out)
{
	if (bounce_norm_domain(s, len, out) < 0)
		return -1;
	bounce_alabel(out);
	if (!mailaddr_domain_ok(out->data, out->len, 0))
		return -1;
	return 0;
}

/* bounce_domain_valid - may s be a bounce domain? */
int
bounce_domain_valid(const char *s)
{
	struct buf tmp = BUF_INIT;
	int ok = s != NULL && bounce_check_bounce_domain(s, strlen(s), &tmp) == 0;

	buf_free(&tmp);
	return ok;
}

/* bounce_verbatim - may octet c stand for itself in a field? */
static int
bounce_verbatim(int c, int is_local)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'
	    || c == '+' || c == '.' || (is_local && c == '=');
}

/* bounce_escape - append field [s, s+n) escaped; last: the local part ends here */
static void
bounce_escape(struct buf *out, const char *s, size_t n, int is_local,
    int last)
{
	size_t i;
	int c;

	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		/* A dot-atom has no ".." and no final '.'; out never starts empty. */
		if (bounce_verbatim(c, is_local) && !(c == '.'
		    && (out->data[out->len - 1] == '.' || (last && i + 1 == n)))) {
			buf_putc(out, c);
		} else {
			buf_putc(out, '_');
			buf_putc(out, bounce_hex[c >> 4]);
			buf_putc(out, bounce_hex[c & 15]);
		}
	}
}

/* bounce_build - the local part for a day residue, MAC and original parts */
static void
bounce_build(struct buf *out, unsigned residue, const unsigned char *mac,
    const char *local, size_t llen, const char *dom, size_t dlen)
{
	uint64_t bits = 0;
	int i;

	buf_reset(out);
	buf_puts(out, BOUNCE_PREFIX);
	buf_putc(out, bounce_b32[(residue >> 5) & 31]);
	buf_putc(out, bounce_b32[residue & 31]);
	for (i = 0; i < BOUNCE_MAC_OCTETS; i++)
		bits = bits << 8 | mac[i];
	for (i = 7; i >= 0; i--)
		buf_putc(out, bounce_b32[(bits >> (5 * i)) & 31]);
	buf_putc(out, '=');
	bounce_escape(out, local, llen, 1, 0);
	buf_putc(out, '=');
	bounce_escape(out, dom, dlen, 0, 1);
}

/* bounce_put_field - append a 2-octet big-endian length and the bytes */
static void
bounce_put_field(struct buf *m, const char *s, size_t n)
{
	buf_putc(m, (int)(n >> 8 & 0xff));
	buf_putc(m, (int)(n & 0xff));
	buf_append(m, s, n);
}

/* bounce_mac - first 40 bits of the HMAC of (day, bounce domain, original); 0 or -1 */
static int
bounce_mac(const struct bounce_secrets *s, size_t which, const char *label,
    int64_t day, const struct buf *bdomain, const struct buf *original,
    unsigned char out[BOUNCE_MAC_OCTETS])
{
	char digest[] = "SHA256";
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
		OSSL_PARAM_construct_end(),
	};
	unsigned char full[EVP_MAX_MD_SIZE];
	struct buf m = BUF_INIT;
	EVP_MAC_CTX *ctx;
	size_t outl = 0;
	int i, ok;

	buf_puts(&m, label);
	for (i = 7; i >= 0; i--)
		buf_putc(&m, (int)(((uint64_t)day >> (8 * i)) & 0xff));
	bounce_put_field(&m, bdomain->data, bdomain->len);
	bounce_put_field(&m, original->data, original->len);
	ctx = EVP_MAC_CTX_new(s->mac);
	ok = ctx != NULL
	    && EVP_MAC_init(ctx, s->v[which].key, s->v[which].len, params) == 1
	    && EVP_MAC_update(ctx, (const unsigned char *)m.data, m.len) == 1
	    && EVP_MAC_final(ctx, full, &outl, sizeof(full)) == 1
	    && outl >= BOUNCE_MAC_OCTETS;
	EVP_MAC_CTX_free(ctx);
	buf_free(&m);
	if (ok)
		memcpy(out, full, BOUNCE_MAC_OCTETS);
	else
		ERR_clear_error();	/* nothing left for the thread's next call */
	OPENSSL_cleanse(full, sizeof(full));
	return ok ? 0 : -1;
}

/* bounce_day - days since the epoch of time t (floor) */
static int64_t
bounce_day(time_t t)
{
	int64_t d = (int64_t)t / BOUNCE_DAY;

	return (int64_t)t % BOUNCE_DAY < 0 ? d - 1 : d;
}

/* bounce_residue - d modulo BOUNCE_WRAP, never negative */
static unsigned
bounce_residue(int64_t d)
{
	int64_t r = d % BOUNCE_WRAP;

	return (unsigned)(r < 0 ? r + BOUNCE_WRAP : r);
}

/* bounce_strip_path - drop <> and a source route; the address part of an SMTP path */
static void
bounce_strip_path(const char *s, const char **start, size_t *len)
{
	const char *colon;
	size_t n = strlen(s);

	if (n >= 2 && s[0] == '<' && s[n - 1] == '>') {
		s++;
		n -= 2;
	}
	/* RFC 5321 4.1.1.3: a source route is accepted and ignored. */
	if (n > 0 && s[0] == '@' && (colon = memchr(s, ':', n)) != NULL) {
		n -= (size_t)(colon + 1 - s);
		s = colon + 1;
	}
	*start = s;
	*len = n;
}

/* bounce_local_unquoted - the local part the MTA will deliver to */
void
bounce_local_unquoted(const char *address, struct buf *local, int *altered)
{
	const char *s, *end;
	size_t n, i;
	int inq = 0;

	bounce_strip_path(address != NULL ? address : "", &s, &n);
	/* the local part ends at the last '@' outside quotes */
	end = s + n;
	for (i = 0; i < n; i++) {
		if (s[i] == '\\' && i + 1 < n)
			i++;
		else if (s[i] == '"')
			inq = !inq;
		else if (s[i] == '@' && !inq)
			end = s + i;
	}
	buf_reset(local);
	*altered = 0;
	for (; s < end; s++) {
		if (*s == '"') {
			*altered = 1;
		} else if (*s == '\\' && s + 1 < end) {
			*altered = 1;
			buf_putc(local, *++s);
		} else {
			buf_putc(local, *s);
		}
	}
}

/* bounce_split_original - canonical "local@domain" of an envelope sender */
static enum bounce_status
bounce_split_original(const char *original, struct buf *canon,
    size_t *llen)
{
	const char *s, *at = NULL;
	struct buf dom = BUF_INIT;
	size_t n, i;

	bounce_strip_path(original, &s, &n);
	if (n == 0)
		return BOUNCE_NULL_SENDER;
	for (i = 0; i < n; i++) {
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return BOUNCE_BAD_SENDER;
		if (s[i] == '@')
			at = s + i;	/* the last '@': a quoted local part may hold one */
	}
	if (at == NULL || at == s
	    || bounce_norm_domain(at + 1, n - (size_t)(at + 1 - s), &dom) < 0) {
		buf_free(&dom);
		return BOUNCE_BAD_SENDER;
	}
	*llen = (size_t)(at - s);
	buf_reset(canon);
	buf_append(canon, s, *llen + 1);
	buf_append(canon, dom.data, dom.len);
	buf_free(&dom);
	return BOUNCE_OK;
}

/* bounce_sender_canonical - the original sender as both forms keep it */
enum bounce_status
bounce_sender_canonical(const char *original, struct buf *out)
{
	enum bounce_status st;
	size_t llen = 0;

	st = bounce_split_original(original != NULL ? original : "", out, &llen);
	if (st != BOUNCE_OK)
		buf_reset(out);
	return st;
}

/* bounce_domain_norm - a bounce domain as addresses carry it */
int
bounce_domain_norm(const char *bounce_domain, struct buf *out)
{
	buf_reset(out);
	if (bounce_domain == NULL || bounce_check_bounce_domain(bounce_domain,
	    strlen(bounce_domain), out) < 0) {
		buf_reset(out);
		return -1;
	}
	return 0;
}

/* bounce_same_domain - is the sender's domain (U- or A-labels) the bounce domain? */
static int
bounce_same_domain(const char *domain, const struct buf *bdom)
{
	struct buf a = BUF_INIT;
	int same;

	buf_puts(&a, domain);
	bounce_alabel(&a);
	same = strcmp(buf_cstr(&a), bdom->data) == 0;
	buf_free(&a);
	return same;
}

/* bounce_encode - the signed bounce address for an envelope sender */
enum bounce_status
bounce_encode(const struct bounce_secrets *s, const char *original,
    const char *bounce_domain, time_t now, struct buf *out)
{
	struct buf bdom = BUF_INIT, canon = BUF_INIT;
	unsigned char mac[BOUNCE_MAC_OCTETS];
	enum bounce_status st;
	int64_t day = bounce_day(now);
	size_t llen = 0;

	buf_reset(out);
	if (bounce_domain == NULL || bounce_check_bounce_domain(bounce_domain,
	    strlen(bounce_domain), &bdom) < 0)
		st = BOUNCE_BAD_DOMAIN;
	else if ((st = bounce_split_original(original, &canon, &llen))
	    != BOUNCE_OK)
		;
	else if (bounce_same_domain(canon.data + llen + 1, &bdom))
		st = BOUNCE_LOOP;
	else if (canon.len - 1 > BOUNCE_LOCAL_MAX - BOUNCE_OVERHEAD)
		st = BOUNCE_TOO_LONG;	/* escaping never shortens */
	else if (s == NULL || s->n == 0
	    || bounce_mac(s, 0, BOUNCE_MAC_LABEL, day, &bdom, &canon, mac) < 0)
		st = BOUNCE_INTERNAL;
	else {
		bounce_build(out, bounce_residue(day), mac, canon.data, llen,
		    canon.data + llen + 1, canon.len - llen - 1);
		if (out->len > BOUNCE_LOCAL_MAX) {
			st = BOUNCE_TOO_LONG;
			buf_reset(out);
		} else {
			buf_putc(out, '@');
			buf_append(out, bdom.data, bdom.len);
		}
	}
	buf_free(&bdom);
	buf_free(&canon);
	return st;
}

/* bounce_b32_put - append octets (a multiple of 5) in lowercase base32 */
static void
bounce_b32_put(struct buf *out, const unsigned char *p, size_t n)
{
	uint64_t bits;
	size_t i;
	int k;

	for (i = 0; i + 5 <= n; i += 5) {
		bits = 0;
		for (k = 0; k < 5; k++)
			bits = bits << 8 | p[i + (size_t)k];
		for (k = 7; k >= 0; k--)
			buf_putc(out, bounce_b32[(bits >> (5 * k)) & 31]);
	}
}

/* bounce_encode_stored - the short signed address carrying a store token */
enum bounce_status
bounce_encode_stored(const struct bounce_secrets *s,
    const unsigned char token[BOUNCE_TOKEN_OCTETS], const char *bounce_domain,
    time_t now, struct buf *out, char tokentext[BOUNCE_TOKEN_CHARS + 1])
{
	struct buf bdom = BUF_INIT, tok = BUF_INIT;
	unsigned char mac[BOUNCE_MAC_OCTETS];
	enum bounce_status st = BOUNCE_OK;
	int64_t day = bounce_day(now);
	unsigned residue = bounce_residue(day);

	buf_reset(out);
	tokentext[0] = '\0';
	bounce_b32_put(&tok, token, BOUNCE_TOKEN_OCTETS);
	if (bounce_domain == NULL || bounce_check_bounce_domain(bounce_domain,
	    strlen(bounce_domain), &bdom) < 0)
		st = BOUNCE_BAD_DOMAIN;
	else if (s == NULL || s->n == 0 || bounce_mac(s, 0, BOUNCE_STORED_LABEL,
	    day, &bdom, &tok, mac) < 0)
		st = BOUNCE_INTERNAL;
	else {
		buf_puts(out, BOUNCE_STORED_PREFIX);
		buf_putc(out, bounce_b32[(residue >> 5) & 31]);
		buf_putc(out, bounce_b32[residue & 31]);
		bounce_b32_put(out, mac, BOUNCE_MAC_OCTETS);
		buf_append(out, tok.data, tok.len);
		buf_putc(out, '@');
		buf_append(out, bdom.data, bdom.len);
		memcpy(tokentext, tok.data, BOUNCE_TOKEN_CHARS);
		tokentext[BOUNCE_TOKEN_CHARS] = '\0';
	}
	buf_free(&bdom);
	buf_free(&tok);
	return st;
}

/* bounce_hexval - value of a lowercase hex digit, or -1 */
static int
bounce_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* bounce_b32val - value of a lowercase base32 character, or -1 */
static int
bounce_b32val(int c)
{
	if (c >= 'a' && c <= 'z')
		return c - 'a';
	if (c >= '2' && c <= '7')
		return c - '2' + 26;
	return -1;
}

/* bounce_unescape - decode a field; -1 on a character or escape we never write */
static int
bounce_unescape(const char *s, size_t n, int is_local, struct buf *out)
{
	size_t i;
	int hi, lo;

	buf_reset(out);
	for (i = 0; i < n; i++) {
		if (s[i] == '_') {
			if (i + 2 >= n)
				return -1;
			hi = bounce_hexval((unsigned char)s[i + 1]);
			lo = bounce_hexval((unsigned char)s[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			buf_putc(out, hi << 4 | lo);
			i += 2;
		} else if (bounce_verbatim((unsigned char)s[i], is_local)) {
			buf_putc(out, s[i]);
		} else {
			return -1;
		}
	}
	return out->len > 0 ? 0 : -1;
}

/* bounce_parse - split a folded local part into its pieces; detail on failure */
static enum bounce_status
bounce_parse(const char *lp, size_t n, struct bounce_parts *p,
    const char **detail)
{
	const char *v, *rest, *eq;
	uint64_t bits = 0;
	size_t i;
	int c;

	/* Ours: "ab", a version number, "=". */
	for (v = lp + 2; v < lp + n && *v >= '0' && *v <= '9'; v++)
		;
	if (n < 3 || lp[0] != 'a' || lp[1] != 'b' || v == lp + 2
	    || v == lp + n || *v != '=') {
		*detail = "no bounce address prefix";
		return BOUNCE_NOT_OURS;
	}
	*detail = "unknown format version";
	if ((size_t)(v + 1 - lp) != strlen(BOUNCE_PREFIX)
	    || memcmp(lp, BOUNCE_PREFIX, strlen(BOUNCE_PREFIX)) != 0)
		return BOUNCE_MALFORMED;
	*detail = "local part longer than 64 octets";
	if (n > BOUNCE_LOCAL_MAX)
		return BOUNCE_MALFORMED;
	*detail = "truncated or bad date and MAC";
	rest = lp + strlen(BOUNCE_PREFIX);
	if ((size_t)(lp + n - rest) < BOUNCE_TAG_CHARS + 1
	    || rest[BOUNCE_TAG_CHARS] != '=')
		return BOUNCE_MALFORMED;
	for (i = 0; i < BOUNCE_TAG_CHARS; i++) {
		if ((c = bounce_b32val((unsigned char)rest[i])) < 0)
			return BOUNCE_MALFORMED;
		if (i < 2)
			p->residue = p->residue << 5 | (unsigned)c;
		else
			bits = bits << 5 | (uint64_t)c;
	}
	for (i = 0; i < BOUNCE_MAC_OCTETS; i++)
		p->mac[i] = (unsigned char)(bits >> (8 * (BOUNCE_MAC_OCTETS - 1 - i)));
	rest += BOUNCE_TAG_CHARS + 1;
	*detail = "bad or missing original sender";
	for (eq = lp + n; eq > rest && eq[-1] != '='; eq--)
		;
	if (eq == rest
	    || bounce_unescape(rest, (size_t)(eq - 1 - rest), 1, &p->local) < 0
	    || bounce_unescape(eq, (size_t)(lp + n - eq), 0, &p->domain) < 0)
		return BOUNCE_MALFORMED;
	*detail = NULL;
	return BOUNCE_OK;
}

/* bounce_split_address - the folded local part, and the domain the MAC covers */
static enum bounce_status
bounce_split_address(const char *address, const char *bounce_domain,
    char *lp, size_t *lplen, struct buf *bdom, const char **detail)
{
	struct buf given = BUF_INIT;
	enum bounce_status st = BOUNCE_OK;
	const char *s, *at = NULL;
	size_t n, i;

	bounce_strip_path(address != NULL ? address : "", &s, &n);
	for (i = 0; i < n; i++)
		if (s[i] == '@')
			at = s + i;
	if (bounce_domain != NULL && bounce_check_bounce_domain(bounce_domain,
	    strlen(bounce_domain), &given) < 0)
		st = BOUNCE_BAD_DOMAIN;
	else if (at == NULL && bounce_domain == NULL)
		st = BOUNCE_BAD_DOMAIN;
	else if (at == NULL)
		buf_append(bdom, given.data, given.len);
	else if (bounce_check_bounce_domain(at + 1, n - (size_t)(at + 1 - s),
	    bdom) < 0 || (bounce_domain != NULL
	    && strcmp(given.data, bdom->data) != 0)) {
		*detail = "address is not in the bounce domain";
		st = BOUNCE_NOT_OURS;
	}
	buf_free(&given);
	if (at != NULL)
		n = (size_t)(at - s);
	/* Longer input is judged by its prefix first, then refused as too long. */
	*lplen = n > BOUNCE_LOCAL_MAX + 1 ? BOUNCE_LOCAL_MAX + 1 : n;
	for (i = 0; i < *lplen; i++)
		lp[i] = (char)bounce_lower((unsigned char)s[i]);
	lp[*lplen] = '\0';
	return st;
}

/* bounce_verify - find a secret whose MAC matches for some day; index or -1 */
static int
bounce_verify(const struct bounce_secrets *s, const char *label, int64_t day,
    const struct buf *bdom, const struct buf *canon,
    const unsigned char *mac, int *failed)
{
	unsigned char want[BOUNCE_MAC_OCTETS];
	size_t i;

	for (i = 0; i < s->n; i++) {
		if (bounce_mac(s, i, label, day, bdom, canon, want) < 0) {
			*failed = 1;
			return -1;
		}
		if (CRYPTO_memcmp(want, mac, BOUNCE_MAC_OCTETS) == 0)
			return (int)i;
	}
	return -1;
}

/* bounce_check - verify parsed parts: MAC over the most plausible day, then age */
static enum bounce_status
bounce_check(const struct bounce_secrets *s, const char *label,
    const struct bounce_parts *p, const struct buf *bdom,
    const struct buf *canon, time_t now, long max_age,
    struct bounce_info *info)
{
	int64_t today = bounce_day(now), day, max_days;
	int k, failed = 0;

	/* The most recent day, no later than tomorrow, with this residue. */
	day = today + 1 - (int64_t)bounce_residue(today + 1 - (int64_t)p->residue);
	k = bounce_verify(s, label, day, bdom, canon, p->mac, &failed);
	/* Genuine but a wrap away: made in the future, or 1023+ days ago. */
	if (k < 0 && !failed) {
		day += BOUNCE_WRAP;
		if ((k = bounce_verify(s, label, day, bdom, canon, p->mac,
		    &failed)) < 0
		    && !failed) {
			day -= 2 * BOUNCE_WRAP;
			k = bounce_verify(s, label, day, bdom, canon, p->mac, &failed);
		}
	}
	if (failed)
		return BOUNCE_INTERNAL;
	if (k < 0)
		return BOUNCE_BAD_MAC;
	info->issued = (time_t)(day * BOUNCE_DAY);
	info->age_days = (long)(today - day);
	info->secret = (size_t)k;
	if (max_age <= 0)
		max_age = BOUNCE_DEFAULT_MAX_AGE;
	if (max_age > BOUNCE_MAX_AGE_LIMIT)
		max_age = BOUNCE_MAX_AGE_LIMIT;
	max_days = (max_age + BOUNCE_DAY - 1) / BOUNCE_DAY;
	if (today - day > max_days || today - day < -1)
		return BOUNCE_EXPIRED;
	return BOUNCE_OK;
}

/* bounce_canonical - are the parsed parts exactly what bounce_encode writes? */
static int
bounce_canonical(const struct bounce_parts *p, const char *lp, size_t n)
{
	struct buf again = BUF_INIT;
	size_t i;
	int ok;

	/* The encoder refuses control octets and normalises the domain. */
	for (i = 0; i < p->local.len; i++)
		if ((unsigned char)p->local.data[i] < 0x20
		    || p->local.data[i] == 0x7f)
			return 0;
	if (bounce_norm_domain(p->domain.data, p->domain.len, &again) < 0
	    || again.len != p->domain.len
	    || memcmp(again.data, p->domain.data, again.len) != 0) {
		buf_free(&again);
		return 0;
	}
	bounce_build(&again, p->residue, p->mac, p->local.data, p->local.len,
	    p->domain.data, p->domain.len);
	ok = again.len == n && memcmp(again.data, lp, n) == 0;
	buf_free(&again);
	return ok;
}

/* bounce_parse_stored - the pieces of a folded stored-form local part; detail on failure */
static enum bounce_status
bounce_parse_stored(const char *lp, size_t n, struct bounce_parts *p,
    struct buf *token, const char **detail)
{
	size_t plen = strlen(BOUNCE_STORED_PREFIX), i;
	uint64_t bits = 0;
	int c;

	*detail = "a stored-form address has the wrong length";
	if (n != BOUNCE_STORED_CHARS)
		return BOUNCE_MALFORMED;
	*detail = "bad character in a stored-form address";
	for (i = plen; i < n; i++) {
		if ((c = bounce_b32val((unsigned char)lp[i])) < 0)
			return BOUNCE_MALFORMED;
		if (i < plen + 2)
			p->residue = p->residue << 5 | (unsigned)c;
		else if (i < plen + BOUNCE_TAG_CHARS)
			bits = bits << 5 | (uint64_t)c;
	}
	for (i = 0; i < BOUNCE_MAC_OCTETS; i++)
		p->mac[i] = (unsigned char)(bits >> (8 * (BOUNCE_MAC_OCTETS - 1 - i)));
	/* every spelling of 30 base32 characters is one the encoder writes */
	buf_reset(token);
	buf_append(token, lp + plen + BOUNCE_TAG_CHARS, BOUNCE_TOKEN_CHARS);
	*detail = NULL;
	return BOUNCE_OK;
}

/* bounce_decode_stored - verify a stored-form local part: BOUNCE_STORED, EXPIRED, BAD_MAC, ... */
static enum bounce_status
bounce_decode_stored(const struct bounce_secrets *s, const char *lp,
    size_t n, const struct buf *bdom, time_t now, long max_age,
    struct bounce_info *info)
{
	struct bounce_parts p = { 0, { 0 }, BUF_INIT, BUF_INIT };
	struct buf token = BUF_INIT;
	enum bounce_status st;

	st = bounce_parse_stored(lp, n, &p, &token, &info->detail);
	if (st == BOUNCE_OK && (s == NULL || s->n == 0))
		st = BOUNCE_INTERNAL;
	if (st == BOUNCE_OK) {
		st = bounce_check(s, BOUNCE_STORED_LABEL, &p, bdom, &token, now,
		    max_age, info);
		if (st == BOUNCE_OK)
			st = BOUNCE_STORED;
		if (st == BOUNCE_STORED || st == BOUNCE_EXPIRED) {
			memcpy(info->token, token.data, BOUNCE_TOKEN_CHARS);
			info->token[BOUNCE_TOKEN_CHARS] = '\0';
		}
	}
	buf_free(&token);
	return st;
}

/* bounce_decode - verify a bounce address and recover the original sender */
enum bounce_status
bounce_decode(const struct bounce_secrets *s, const char *address,
    const char *bounce_domain, time_t now, long max_age,
    struct buf *original, struct bounce_info *info)
{
	struct bounce_parts p = { 0, { 0 }, BUF_INIT, BUF_INIT };
	struct buf bdom = BUF_INIT;
	struct bounce_info dummy;
	char lp[BOUNCE_LOCAL_MAX + 2];
	enum bounce_status st;
	size_t n = 0;

	if (info == NULL)
		info = &dummy;
	memset(info, 0, sizeof(*info));
	buf_reset(original);
	st = bounce_split_address(address, bounce_domain, lp, &n, &bdom,
	    &info->detail);
	if (st == BOUNCE_OK && n >= strlen(BOUNCE_STORED_PREFIX)
	    && memcmp(lp, BOUNCE_STORED_PREFIX, strlen(BOUNCE_STORED_PREFIX))
	    == 0) {
		st = bounce_decode_stored(s, lp, n, &bdom, now, max_age, info);
		buf_free(&bdom);
		return st;
	}
	if (st == BOUNCE_OK)
		st = bounce_parse(lp, n, &p, &info->detail);
	/* Only the spelling the encoder writes is accepted. */
	if (st == BOUNCE_OK && !bounce_canonical(&p, lp, n)) {
		info->detail = "not in canonical form";
		st = BOUNCE_MALFORMED;
	}
	if (st == BOUNCE_OK && (s == NULL || s->n == 0))
		st = BOUNCE_INTERNAL;
	if (st == BOUNCE_OK) {
		buf_append(original, p.local.data, p.local.len);
		buf_putc(original, '@');
		buf_append(original, p.domain.data, p.domain.len);
		st = bounce_check(s, BOUNCE_MAC_LABEL, &p, &bdom, original, now,
		    max_age, info);
		if (st != BOUNCE_OK && st != BOUNCE_EXPIRED)
			buf_reset(original);
	}
	buf_free(&p.local);
	buf_free(&p.domain);
	buf_free(&bdom);
	return st;
}
