/*
 * dkim_msg.c - the builtin DKIM verifier, one message at a time (see
 * dkim_msg.h).
 *
 * Owns the message's header fields (copies), its parsed signatures, one
 * body hash per (body canonicalization, l=) and the key records fetched.
 * Verdicts and their reasons follow the libopendkim engine's
 * (dkim_odkim.c) word for word, so that the two engines can be compared;
 * where the RFC is stricter than libopendkim (a tag-list with a duplicate
 * or mis-cased tag), we follow the RFC.
 *
 * Threading: one thread at a time per message; nothing shared is written
 * (the key cache behind dkim_keyrec has its own lock).
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "base/buf.h"
#include "base/clock.h"
#include "auth/dkim_keyrec.h"
#include "auth/dkim_msg.h"
#include "auth/dkim_sig.h"
#include "auth/dkim_verify.h"
#include "auth/pkctx.h"
#include "base/dns.h"
#include "base/log.h"
#include "auth/sign.h"
#include "base/xalloc.h"

#define DKIM_MSG_QID_MAX	64	/* queue id kept for logging, with its NUL */
#define DKIM_MSG_NAME_MAX	254	/* s._domainkey.d, with its NUL */
#define DKIM_MSG_TXT_TYPE	16	/* DNS TXT */

/* One header field, as received. */
struct dkim_msg_hdr {
	char *name;		/* field name as received; owned */
	char *value;		/* value, trailing CR/LF removed; owned */
	size_t namelen;		/* name without trailing WSP */
};

/* One body hash, shared by the signatures with its c= body part and l=. */
struct dkim_msg_body {
	enum sign_canon canon;		/* body canonicalization */
	unsigned long long limit;	/* l=, DKIM_SIG_NOLIMIT when none */
	struct sign_body *sb;		/* the hash; owned (NULL once final) */
	unsigned char bh[SIGN_HASH_LEN];	/* the hash, once final */
	unsigned long long clen;	/* canonical body length, once final */
	int failed;			/* the hash could not be made */
};

/* A key lookup's outcome. */
struct dkim_msg_key {
	int done;			/* looked up */
	enum dns_status status;		/* resolver outcome */
	enum dkim_verify_dnssec dnssec;	/* of the answer */
	size_t nrec;			/* TXT records */
	struct buf txt;			/* the first one's text */
};

/* One DKIM-Signature field among the first max_signatures. */
struct dkim_msg_sig {
	size_t hdr;			/* index of its field in hdr */
	struct dkim_sig sig;		/* parsed at the end of the header */
	int body;			/* index in body, -1: no body hash */
	struct dkim_msg_key key;	/* its key lookup */
};

struct dkim_msg {
	const struct dkim_verify_options *opt;	/* defaults applied (borrowed) */
	char qid[DKIM_MSG_QID_MAX];	/* for log lines */
	struct dkim_msg_hdr *hdr;	/* header fields; owned */
	size_t nhdr, hdrcap;
	size_t nsigfields;		/* DKIM-Signature fields seen */
	struct dkim_msg_sig *sig;	/* the first max_signatures; owned */
	size_t nsig;
	struct dkim_msg_body *body;	/* distinct body hashes; owned */
	size_t nbody;
	int eoh_done;			/* signatures read */
	int failed;			/* OpenSSL failed: temperror all */
	struct buf data;		/* scratch: the header hash input */
	struct buf field;		/* scratch: one field, b= stripped */
};

/* dkim_msg_begin - start a message */
struct dkim_msg *
dkim_msg_begin(const struct dkim_verify_options *opt, const char *qid)
{
	struct dkim_msg *m = xcalloc(1, sizeof(*m));

	m->opt = opt;
	(void)snprintf(m->qid, sizeof(m->qid), "%s", qid != NULL ? qid : "");
	buf_init(&m->data);
	buf_init(&m->field);
	return m;
}

/* dkim_msg_name_ok - a field name libopendkim would take: printable ASCII, no ';' */
static int
dkim_msg_name_ok(const char *name)
{
	const unsigned char *p;

	for (p = (const unsigned char *)name; *p != '\0'; p++)
		if (*p < 32 || *p > 126 || *p == ';' || *p == ':')
			return 0;
	return 1;
}

/* dkim_msg_header - keep one header field */
void
dkim_msg_header(struct dkim_msg *m, const char *name, const char *value)
{
	struct dkim_msg_hdr *h;
	size_t len, nl;

	if (m->eoh_done || !dkim_msg_name_ok(name))
		return;		/* a bad name: the field is not there for DKIM */
	nl = strlen(name);
	while (nl > 0 && (name[nl - 1] == ' ' || name[nl - 1] == '\t'))
		nl--;
	if (nl == 14 && strncasecmp(name, "DKIM-Signature", 14) == 0) {
		/* Fields past the cap are not read: each distinct l= or
		 * c= would cost one more body hash. */
		if (++m->nsigfields > m->opt->max_signatures)
			return;
		m->sig = xreallocarray(m->sig, m->nsig + 1, sizeof(*m->sig));
		memset(&m->sig[m->nsig], 0, sizeof(m->sig[m->nsig]));
		m->sig[m->nsig].hdr = m->nhdr;
		m->sig[m->nsig].body = -1;
		buf_init(&m->sig[m->nsig].key.txt);
		m->nsig++;
	}
	if (m->nhdr == m->hdrcap) {
		m->hdrcap = m->hdrcap > 0 ? 2 * m->hdrcap : 32;
		m->hdr = xreallocarray(m->hdr, m->hdrcap, sizeof(*m->hdr));
	}
	h = &m->hdr[m->nhdr++];
	h->name = xstrdup(name);
	h->namelen = nl;
	len = strlen(value);
	while (len > 0 && (value[len - 1] == '\n' || value[len - 1] == '\r'))
		len--;
	h->value = xmalloc(len + 1);
	memcpy(h->value, value, len);
	h->value[len] = '\0';
}

/* dkim_msg_keyname - s._domainkey.d into out if DNS can carry it; 0, or -1 */
static int
dkim_msg_keyname(const char *sel, const char *dom, char *out, size_t outlen)
{
	const char *p, *dot;
	int n;

	n = snprintf(out, outlen, "%s._domainkey.%s", sel, dom);
	if (n < 0 || (size_t)n >= outlen || n > 253)
		return -1;
	for (p = out; *p != '\0'; p = *dot != '\0' ? dot + 1 : dot) {
		dot = strchr(p, '.');
		if (dot == NULL)
			dot = p + strlen(p);
		if (dot == p || dot - p > 63)
			return -1;	/* an empty label (a trailing dot is none) */
	}
	return 0;
}

/* dkim_msg_verifiable - may signature s reach a key lookup (so needs a body hash)? */
static int
dkim_msg_verifiable(const struct dkim_sig *s)
{
	char name[DKIM_MSG_NAME_MAX];

	return s->error == NULL && s->alg != DKIM_SIG_RSA_SHA1 &&
	    dkim_msg_keyname(s->selector, s->domain, name, sizeof(name)) == 0;
}

/* dkim_msg_body_for - the body hash of canon and limit, made if new */
static int
dkim_msg_body_for(struct dkim_msg *m, enum sign_canon canon,
    unsigned long long limit)
{
	struct dkim_msg_body *b;
	size_t i;

	for (i = 0; i < m->nbody; i++)
		if (m->body[i].canon == canon && m->body[i].limit == limit)
			return (int)i;
	m->body = xreallocarray(m->body, m->nbody + 1, sizeof(*m->body));
	b = &m->body[m->nbody];
	memset(b, 0, sizeof(*b));
	b->canon = canon;
	b->limit = limit;
	b->sb = sign_body_limit_new(canon, limit);
	b->failed = b->sb == NULL;
	return (int)m->nbody++;
}

/* dkim_msg_eoh - read the signatures; set up the body hashes they need */
void
dkim_msg_eoh(struct dkim_msg *m)
{
	struct dkim_msg_sig *ms;
	time_t now = clock_now();
	size_t i;

	if (m->eoh_done)
		return;
	m->eoh_done = 1;
	for (i = 0; i < m->nsig; i++) {
		ms = &m->sig[i];
		dkim_sig_parse(&ms->sig, m->hdr[ms->hdr].value, now);
		if (dkim_msg_verifiable(&ms->sig))
			ms->body = dkim_msg_body_for(m, ms->sig.bcanon,
			    ms->sig.length);
	}
}

/* dkim_msg_body - feed a chunk to every body hash */
void
dkim_msg_body(struct dkim_msg *m, const unsigned char *data, size_t len)
{
	size_t i;

	if (!m->eoh_done)
		dkim_msg_eoh(m);
	for (i = 0; i < m->nbody; i++)
		if (!m->body[i].failed &&
		    sign_body_update(m->body[i].sb, data, len) != 0)
			m->body[i].failed = 1;
}

/* dkim_msg_set - a verdict and its reason */
static void __attribute__((format(printf, 3, 4)))
dkim_msg_set(struct dkim_verify_sig *s, enum dkim_verify_res res, const char *fmt, ...)
{
	va_list ap;

	s->res = res;
	va_start(ap, fmt);
	/* Truncation is harmless: the reason is a comment. */
	if (vsnprintf(s->reason, sizeof(s->reason), fmt, ap) < 0)
		s->reason[0] = '\0';
	va_end(ap);
}

/* dkim_msg_copy - copy a tag value as printable ASCII; -1 when it does not fit */
static int
dkim_msg_copy(char *dst, size_t dstlen, const char *src)
{
	size_t i;

	dst[0] = '\0';
	if (src == NULL)
		return 0;
	for (i = 0; src[i] != '\0'; i++) {
		if (i + 1 >= dstlen) {
			dst[0] = '\0';
			return -1;
		}
		dst[i] = (unsigned char)src[i] > 0x20 && (unsigned char)src[i] < 0x7f
		    ? src[i] : '?';
	}
	dst[i] = '\0';
	return 0;
}

/* dkim_msg_describe - the tags of signature ms into s; b= into bval */
static void
dkim_msg_describe(const struct dkim_msg_sig *ms, struct dkim_verify_sig *s,
    struct buf *bval)
{
	const char *p;

	if (dkim_msg_copy(s->domain, sizeof(s->domain), ms->sig.domain) < 0)
		dkim_msg_set(s, DKIM_VERIFY_NEUTRAL, "malformed signature: d= too long");
	if (dkim_msg_copy(s->selector, sizeof(s->selector), ms->sig.selector) < 0)
		dkim_msg_set(s, DKIM_VERIFY_NEUTRAL, "malformed signature: s= too long");
	(void)dkim_msg_copy(s->algorithm, sizeof(s->algorithm), ms->sig.algorithm);
	if (dkim_msg_copy(s->identity, sizeof(s->identity), ms->sig.identity) < 0)
		dkim_msg_set(s, DKIM_VERIFY_NEUTRAL, "malformed signature: i= too long");
	buf_reset(bval);
	for (p = ms->sig.b64; p != NULL && *p != '\0'; p++)
		if (isalnum((unsigned char)*p) || *p == '+' || *p == '/' || *p == '=')
			buf_putc(bval, *p);
}

/* dkim_msg_txt - the character-strings of TXT rdata joined into out */
static void
dkim_msg_txt(const unsigned char *p, size_t len, struct buf *out)
{
	size_t i = 0, n;

	buf_reset(out);
	while (i < len) {
		n = p[i++];
		if (n > len - i)
			n = len - i;
		buf_append(out, p + i, n);
		i += n;
	}
}

/* dkim_msg_lookup - the key record of signature i: from an earlier signature with the same s= and d=, or DNS */
static void
dkim_msg_lookup(struct dkim_msg *m, size_t i)
{
	struct dkim_msg_sig *ms = &m->sig[i], *o;
	struct dns_result r;
	char name[DKIM_MSG_NAME_MAX];
	size_t k;

	for (k = 0; k < i; k++) {
		o = &m->sig[k];
		if (o->key.done && strcmp(o->sig.domain, ms->sig.domain) == 0 &&
		    strcmp(o->sig.selector, ms->sig.selector) == 0) {
			ms->key.done = 1;
			ms->key.status = o->key.status;
			ms->key.dnssec = o->key.dnssec;
			ms->key.nrec = o->key.nrec;
			buf_reset(&ms->key.txt);
			buf_append(&ms->key.txt, o->key.txt.data, o->key.txt.len);
			return;
		}
	}
	ms->key.done = 1;
	if (dkim_msg_keyname(ms->sig.selector, ms->sig.domain, name,
	    sizeof(name)) < 0) {
		ms->key.status = DNS_ERROR;
		return;
	}
	ms->key.status = dns_resolve(m->opt->dns, name, DKIM_MSG_TXT_TYPE,
	    m->opt->dns_timeout_ms, &r);
	if (ms->key.status == DNS_OK || ms->key.status == DNS_NXDOMAIN ||
	    ms->key.status == DNS_NODATA)
		ms->key.dnssec = r.secure ? DKIM_VERIFY_DNSSEC_SECURE
		    : m->opt->dnssec ? DKIM_VERIFY_DNSSEC_INSECURE
		    : DKIM_VERIFY_DNSSEC_UNKNOWN;
	if (ms->key.status == DNS_OK) {
		ms->key.nrec = r.n;
		if (r.n > 0)
			dkim_msg_txt(r.data[0], r.len[0], &ms->key.txt);
		if (r.n == 0)
			ms->key.status = DNS_NODATA;
	}
	dns_result_free(&r);
}

/* dkim_msg_hash_input - the header hash input of signature ms into m->data */
static void
dkim_msg_hash_input(struct dkim_msg *m, const struct dkim_msg_sig *ms,
    unsigned char *used)
{
	const char *p = ms->sig.hlist, *colon;
	const struct dkim_msg_hdr *h = &m->hdr[ms->hdr];
	size_t n, k;

	buf_reset(&m->data);
	memset(used, 0, m->nhdr);
	for (;;) {
		colon = strchr(p, ':');
		n = colon != NULL ? (size_t)(colon - p) : strlen(p);
		/* RFC 6376 5.4.2: the last unused instance, bottom up; none
		 * left (over-signing) adds nothing. */
		for (k = m->nhdr; n > 0 && k-- > 0;) {
			if (!used[k] && m->hdr[k].namelen == n &&
			    strncasecmp(m->hdr[k].name, p, n) == 0) {
				used[k] = 1;
				sign_canon_header(ms->sig.hcanon, m->hdr[k].name,
				    m->hdr[k].value, &m->data);
				break;
			}
		}
		if (colon == NULL)
			break;
		p = colon + 1;
	}
	buf_reset(&m->field);
	dkim_sig_strip_b(h->value, &m->field);
	sign_canon_header(ms->sig.hcanon, h->name, buf_cstr(&m->field), &m->data);
	m->data.len -= 2;	/* the signature field has no CRLF (3.7) */
}

/* dkim_msg_check - does sig verify data under pk? 1 yes, 0 no, -1 OpenSSL failed */
static int
dkim_msg_check(EVP_PKEY *pk, enum dkim_sig_alg alg, const struct buf *data,
    const unsigned char *sig, size_t siglen)
{
	EVP_PKEY_CTX *pctx;
	EVP_MD_CTX *ctx;
	unsigned char h[SIGN_HASH_LEN];
	int ok;

	if (alg != DKIM_SIG_ED25519_SHA256
	    && (pctx = pkctx_rsa(pk, PKCTX_VERIFY)) != NULL) {
		/* the thread's context for this key (pkctx.c): the same
		 * check EVP_DigestVerify makes, without its set-up */
		ok = EVP_Digest(data->data, data->len, h, NULL, sign_sha256(),
		    NULL) == 1 ? EVP_PKEY_verify(pctx, sig, siglen, h,
		    sizeof(h)) : 0;
		if (ok < 0)	/* an error, not a mismatch: start afresh */
			pkctx_drop(pctx);
		ERR_clear_error();
		return ok == 1;
	}
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return -1;
	if (alg == DKIM_SIG_ED25519_SHA256) {
		/* RFC 8463: PureEdDSA over the SHA-256 of the data */
		ok = EVP_Digest(data->data, data->len, h, NULL, sign_sha256(),
		    NULL) == 1 &&
		    EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pk) == 1 &&
		    EVP_DigestVerify(ctx, sig, siglen, h, sizeof(h)) == 1;
	} else {
		ok = EVP_DigestVerifyInit(ctx, NULL, sign_sha256(), NULL, pk) == 1 &&
		    EVP_DigestVerify(ctx, sig, siglen,
		    (const unsigned char *)data->data, data->len) == 1;
	}
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return ok;
}

/* dkim_msg_subdomain_ok - t=s: the i= domain is d= itself */
static int
dkim_msg_subdomain_ok(const struct dkim_sig *sig)
{
	const char *at;

	if (sig->identity == NULL)
		return 1;
	at = strrchr(sig->identity, '@');
	return strcasecmp(at != NULL ? at + 1 : sig->identity, sig->domain) == 0;
}

/* dkim_msg_key_verdict - the key lookup's outcome as a verdict; 0 when a record is there to read */
static int
dkim_msg_key_verdict(const struct dkim_msg_sig *ms, struct dkim_verify_sig *s)
{
	switch (ms->key.status) {
	case DNS_OK:
		break;
	case DNS_NXDOMAIN:
	case DNS_NODATA:
		dkim_msg_set(s, DKIM_VERIFY_PERMERROR, "no key");
		return -1;
	default:
		dkim_msg_set(s, DKIM_VERIFY_TEMPERROR, "key lookup failed");
		return -1;
	}
	if (ms->key.nrec > 1) {
		dkim_msg_set(s, DKIM_VERIFY_PERMERROR, "bad key: multiple keys found");
		return -1;
	}
	return 0;
}

/* dkim_msg_verify - look up the key of signature i and verify it */
static void
dkim_msg_verify(struct dkim_msg *m, size_t i, struct dkim_verify_sig *s,
    unsigned char *used)
{
	struct dkim_msg_sig *ms = &m->sig[i];
	struct dkim_msg_body *b = &m->body[ms->body];
	struct dkim_keyrec k;
	const char *why;
	char bh64[2 * SIGN_HASH_LEN + 4];
	EVP_PKEY *pk = NULL;
	int ok;

	dkim_msg_lookup(m, i);
	s->dnssec = ms->key.dnssec;
	if (dkim_msg_key_verdict(ms, s) != 0)
		return;
	switch (dkim_keyrec_parse(&k, ms->key.txt.data != NULL ? ms->key.txt.data
	    : "", ms->key.txt.len, "sha256", &why)) {
	case DKIM_KEYREC_OK:
		break;
	case DKIM_KEYREC_REVOKED:
		/* RFC 6376 3.6.1: an empty p= is a failed signature check. */
		dkim_msg_set(s, DKIM_VERIFY_FAIL, "key revoked");
		dkim_keyrec_free(&k);
		return;
	case DKIM_KEYREC_BAD:
		dkim_msg_set(s, DKIM_VERIFY_PERMERROR, "bad key: %s", why);
		dkim_keyrec_free(&k);
		return;
	}
	if ((k.type == DKIM_KEYREC_ED25519) != (ms->sig.alg == DKIM_SIG_ED25519_SHA256) ||
	    (pk = dkim_keyrec_pkey(&k)) == NULL) {
		dkim_msg_set(s, DKIM_VERIFY_PERMERROR, "bad key: unable to apply public key");
		dkim_keyrec_free(&k);
		return;
	}
	s->keybits = k.type == DKIM_KEYREC_ED25519 ? 256 : (unsigned)EVP_PKEY_get_bits(pk);
	dkim_msg_hash_input(m, ms, used);
	ok = dkim_msg_check(pk, ms->sig.alg, &m->data, ms->sig.sig, ms->sig.siglen);
	EVP_PKEY_free(pk);
	if (ok < 0 || b->failed) {
		m->failed = 1;
		dkim_msg_set(s, DKIM_VERIFY_TEMPERROR, "verifier error");
	} else if (k.strict && !dkim_msg_subdomain_ok(&ms->sig)) {
		dkim_msg_set(s, DKIM_VERIFY_PERMERROR, "bad key: unauthorized subdomain");
	} else if (!ok) {
		dkim_msg_set(s, DKIM_VERIFY_FAIL, "signature did not verify");
	} else if (EVP_EncodeBlock((unsigned char *)bh64, b->bh, SIGN_HASH_LEN) <= 0 ||
	    strcmp(bh64, ms->sig.bh) != 0) {
		dkim_msg_set(s, DKIM_VERIFY_FAIL, "body hash mismatch");
	} else if (k.type == DKIM_KEYREC_RSA && s->keybits < m->opt->min_rsa_bits) {
		dkim_msg_set(s, DKIM_VERIFY_FAIL, "key too short (%u bits)", s->keybits);
	} else if (ms->sig.length != DKIM_SIG_NOLIMIT && b->clen > ms->sig.length) {
		s->unsigned_bytes = (size_t)(b->clen - ms->sig.length);
		dkim_msg_set(s, DKIM_VERIFY_POLICY, "l= leaves %zu bytes unsigned",
		    s->unsigned_bytes);
	} else {
		s->testing = k.testing;
		dkim_msg_set(s, DKIM_VERIFY_PASS, "%s", s->testing
		    ? "key in testing mode (t=y)" : "");
	}
	dkim_keyrec_free(&k);
}

/* dkim_msg_judge - the verdict on signature i, in the order libopendkim reaches its own */
static void
dkim_msg_judge(struct dkim_msg *m, size_t i, struct dkim_verify_sig *s,
    const struct timespec *t0, unsigned char *used)
{
	const struct dkim_msg_sig *ms = &m->sig[i];
	char name[DKIM_MSG_NAME_MAX];

	if (ms->sig.error != NULL) {
		if (ms->sig.error_fails)
			dkim_msg_set(s, DKIM_VERIFY_FAIL, "%s", ms->sig.error);
		else
			dkim_msg_set(s, DKIM_VERIFY_NEUTRAL, "malformed signature: %s",
			    ms->sig.error);
	} else if (ms->sig.alg == DKIM_SIG_RSA_SHA1) {
		dkim_msg_set(s, DKIM_VERIFY_FAIL, "rsa-sha1 not accepted (RFC 8301)");
	} else if (dkim_msg_keyname(ms->sig.selector, ms->sig.domain, name,
	    sizeof(name)) < 0) {
		dkim_msg_set(s, DKIM_VERIFY_PERMERROR, "invalid key name");
	} else if (ms->sig.length != DKIM_SIG_NOLIMIT &&
	    m->body[ms->body].clen < ms->sig.length) {
		dkim_msg_set(s, DKIM_VERIFY_FAIL, "length tag value exceeds body size");
	} else if (m->opt->time_budget_ms > 0 &&
	    clock_ms_since(t0) >= m->opt->time_budget_ms) {
		dkim_msg_set(s, DKIM_VERIFY_TEMPERROR, "DNS time budget exhausted");
	} else {
		dkim_msg_verify(m, i, s, used);
	}
}

/* dkim_msg_finish_bodies - the body hashes and canonical lengths are complete */
static void
dkim_msg_finish_bodies(struct dkim_msg *m)
{
	struct dkim_msg_body *b;
	size_t i;

	for (i = 0; i < m->nbody; i++) {
		b = &m->body[i];
		if (!b->failed && sign_body_final(b->sb, b->bh) != 0)
			b->failed = 1;
		b->clen = b->sb != NULL ? sign_body_length(b->sb) : 0;
		sign_body_free(b->sb);
		b->sb = NULL;
	}
}

/* dkim_msg_eom - look up keys, verify, report */
int
dkim_msg_eom(struct dkim_msg *m, struct dkim_verify_results *out)
{
	struct dkim_verify_sig *s;
	struct buf bval;
	struct timespec t0;
	unsigned char *used;
	size_t i;

	memset(out, 0, sizeof(*out));
	out->total = m->nsigfields;
	if (!m->eoh_done)
		dkim_msg_eoh(m);
	if (m->nsig == 0)
		return 0;			/* unsigned: dkim=none */
	dkim_msg_finish_bodies(m);
	out->n = m->nsig;
	out->sig = xcalloc(out->n, sizeof(*out->sig));
	used = xmalloc(m->nhdr + 1);
	buf_init(&bval);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < out->n; i++) {
		s = &out->sig[i];
		s->res = DKIM_VERIFY_TEMPERROR;	/* never pass by default */
		dkim_msg_describe(&m->sig[i], s, &bval);
		if (s->reason[0] == '\0')
			dkim_msg_judge(m, i, s, &t0, used);
		log_debug(m->qid, "dkim: d=%s s=%s a=%s b=%.12s bits=%u "
		    "dnssec=%s: %s%s%s", s->domain, s->selector, s->algorithm,
		    bval.data != NULL ? bval.data : "", s->keybits,
		    dkim_verify_dnssec_name(s->dnssec), dkim_verify_res_name(s->res),
		    s->reason[0] != '\0' ? " - " : "", s->reason);
		s->b = bval.data != NULL ? buf_steal(&bval) : xstrdup("");
	}
	buf_free(&bval);
	free(used);
	return m->failed ? -1 : 0;
}

/* dkim_msg_free - end the message */
void
dkim_msg_free(struct dkim_msg *m)
{
	size_t i;

	if (m == NULL)
		return;
	for (i = 0; i < m->nhdr; i++) {
		free(m->hdr[i].name);
		free(m->hdr[i].value);
	}
	free(m->hdr);
	for (i = 0; i < m->nsig; i++) {
		dkim_sig_free(&m->sig[i].sig);
		buf_free(&m->sig[i].key.txt);
	}
	free(m->sig);
	for (i = 0; i < m->nbody; i++)
		sign_body_free(m->body[i].sb);
	free(m->body);
	buf_free(&m->data);
	buf_free(&m->field);
	free(m);
}
