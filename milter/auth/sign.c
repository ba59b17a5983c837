/*
 * sign.c - RFC 6376 DKIM signer over OpenSSL 3 EVP.
 *
 * The body hash is sign_body.c's. Header selection
 * follows RFC 6376 5.4.2 (bottom-up, oversigning); the tag list is folded
 * at 78 octets and the signature is made over the CRLF form the verifier
 * will see. rsa-sha256 is RSASSA-PKCS1-v1_5 with SHA-256; ed25519-sha256
 * (RFC 8463) is PureEdDSA over the SHA-256 of the header data.
 *
 * Threading: no shared state but the SHA-256 implementation, fetched once
 * (pthread_once); keys are only read. RSA signs with the thread's own
 * context for the key (pkctx.c). OpenSSL errors are taken from (and
 * cleared in) the calling thread's error queue.
 */
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "base/buf.h"
#include "auth/pkctx.h"
#include "auth/sign.h"
#include "base/sslerr.h"
#include "base/xalloc.h"

#define SIGN_FOLD_COL	78	/* RFC 5322 recommended line length */
#define SIGN_MIN_RSA_BITS 1024	/* RFC 8301 3.2: signers MUST use >= 1024 */

/* Line-folding writer for the tag list. */
struct sign_fold {
	struct buf *out;		/* where the value goes */
	size_t col;			/* octets on the current output line */
};

/* sign_error - format a reason into err (truncation is acceptable) */
static void __attribute__((format(printf, 3, 4)))
sign_error(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	if (n < 0)
		err[0] = '\0';
}

/* sign_ssl_error - report what with the thread's newest OpenSSL error */
static void
sign_ssl_error(char *err, size_t errlen, const char *what)
{
	char reason[256];

	(void)sslerr_take(NULL, reason, sizeof(reason));
	sign_error(err, errlen, "%s%s%s", what, reason[0] ? ": " : "", reason);
}

/* sign_lower - ASCII lower case, independent of the locale */
static int
sign_lower(int c)
{
	return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

/* sign_is_wsp - SP or HTAB (RFC 5234 WSP) */
static int
sign_is_wsp(int c)
{
	return c == ' ' || c == '\t';
}

/* sign_name_eq - compare header field names ASCII case-insensitively */
static int
sign_name_eq(const char *a, const char *b)
{
	while (*a != '\0' && sign_lower((unsigned char)*a) ==
	    sign_lower((unsigned char)*b)) {
		a++;
		b++;
	}
	return *a == '\0' && *b == '\0';
}

/* sign_canon_parse - "relaxed" / "simple" -> canon; -1 if neither */
int
sign_canon_parse(const char *s)
{
	if (s == NULL)
		return -1;
	if (sign_name_eq(s, "relaxed"))
		return SIGN_CANON_RELAXED;
	if (sign_name_eq(s, "simple"))
		return SIGN_CANON_SIMPLE;
	return -1;
}

/* sign_canon_name - canon -> "relaxed" / "simple" */
const char *
sign_canon_name(enum sign_canon c)
{
	return c == SIGN_CANON_RELAXED ? "relaxed" : "simple";
}

/* sign_alg_name - the a= name of an algorithm */
const char *
sign_alg_name(enum sign_alg alg)
{
	return alg == SIGN_ALG_ED25519_SHA256 ? "ed25519-sha256" : "rsa-sha256";
}

static pthread_once_t sign_md_once = PTHREAD_ONCE_INIT;
static EVP_MD *sign_md_fetched;	/* never freed: lives as long as the process */

/* sign_md_init - fetch the SHA-256 implementation once (pthread_once) */
static void
sign_md_init(void)
{
	sign_md_fetched = EVP_MD_fetch(NULL, "SHA256", NULL);
	ERR_clear_error();
}

/* sign_sha256 - SHA-256 for EVP: fetched once, because OpenSSL 3 looks
 * EVP_sha256() up again in its provider tables (under a lock) at every
 * digest init, which was about 7,000 instructions per signed message */
const EVP_MD *
sign_sha256(void)
{
	pthread_once(&sign_md_once, sign_md_init);
	return sign_md_fetched != NULL ? sign_md_fetched : EVP_sha256();
}

/* sign_canon_simple - name ":" value, lone LF made CRLF, CRLF-terminated */
static void
sign_canon_simple(const char *name, const char *value, struct buf *out)
{
	size_t n = strlen(name), vlen = strlen(value);
	const char *p;
	char *o;

	/* At most every value byte doubled (lone LFs), plus ":" and CRLF;
	 * written in place, not a call per byte. */
	if (vlen > (SIZE_MAX - n - 3) / 2)
		xreallocarray(NULL, SIZE_MAX, 2);	/* dies: overflow */
	buf_reserve(out, n + 1 + 2 * vlen + 2);
	o = out->data + out->len;
	memcpy(o, name, n);
	o += n;
	*o++ = ':';
	for (p = value; *p != '\0'; p++) {
		if (*p == '\n' && (p == value || p[-1] != '\r'))
			*o++ = '\r';
		*o++ = *p;
	}
	*o++ = '\r';
	*o++ = '\n';
	out->len = (size_t)(o - out->data);
	*o = '\0';
}

/* sign_canon_relaxed - RFC 6376 3.4.2 relaxed header canonicalization */
static void
sign_canon_relaxed(const char *name, const char *value, struct buf *out)
{
	size_t n = strlen(name), vlen = strlen(value);
	int wsp = 0, started = 0;
	const char *p;
	char *o;

	/* The output is never longer than name ":" value CRLF: room for all
	 * of it once, then bytes written in place. */
	if (vlen > SIZE_MAX - n - 3)
		xreallocarray(NULL, SIZE_MAX, 2);	/* dies: overflow */
	buf_reserve(out, n + 1 + vlen + 2);
	o = out->data + out->len;
	/* Field name: lower case, no WSP before the colon. */
	while (n > 0 && sign_is_wsp((unsigned char)name[n - 1]))
		n--;
	for (p = name; p < name + n; p++)
		*o++ = (char)sign_lower((unsigned char)*p);
	*o++ = ':';
	/* Value: unfold, squeeze WSP runs to one SP, trim both ends. */
	for (p = value; *p != '\0'; p++) {
		if (*p == '\r' || *p == '\n')
			continue;
		if (sign_is_wsp((unsigned char)*p)) {
			wsp = 1;
			continue;
		}
		if (wsp && started)
			*o++ = ' ';
		wsp = 0;
		started = 1;
		*o++ = *p;
	}
	*o++ = '\r';
	*o++ = '\n';
	out->len = (size_t)(o - out->data);
	*o = '\0';
}

/* sign_canon_header - canonicalize one header (name ":" value) into out, CRLF-terminated */
void
sign_canon_header(enum sign_canon canon, const char *name, const char *value,
    struct buf *out)
{
	if (canon == SIGN_CANON_RELAXED)
		sign_canon_relaxed(name, value, out);
	else
		sign_canon_simple(name, value, out);
}

/* sign_token_ok - a tag value or header name we can emit without quoting */
static int
sign_token_ok(const char *s, const char *also_bad)
{
	if (s == NULL || *s == '\0')
		return 0;
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f ||
		    *s == ';' || strchr(also_bad, *s) != NULL)
			return 0;
	}
	return 1;
}

/* sign_identity_ok - i= must be "[local]@domain" within d= (RFC 6376 3.5) */
static int
sign_identity_ok(const char *identity, const char *domain)
{
	const char *at = strrchr(identity, '@');
	size_t dl = strlen(domain), il;

	/* '=' would need dkim-quoted-printable: refuse rather than encode. */
	if (!sign_token_ok(identity, "=") || at == NULL)
		return 0;
	at++;
	il = strlen(at);
	if (il == dl)
		return sign_name_eq(at, domain);
	return il > dl && at[il - dl - 1] == '.' && sign_name_eq(at + il - dl,
	    domain);
}

/* sign_check_request - validate the request before any work is done */
static int
sign_check_request(const struct sign_request *req, char *err, size_t errlen)
{
	int want;

	if (!sign_token_ok(req->domain, "") || !sign_token_ok(req->selector, "")) {
		sign_error(err, errlen, "bad or missing d= or s= value");
		return -1;
	}
	if (req->identity != NULL && !sign_identity_ok(req->identity,
	    req->domain)) {
		sign_error(err, errlen, "identity \"%.100s\" is not within d=%.100s",
		    req->identity, req->domain);
		return -1;
	}
	if (req->ttl < 0 || (req->ttl > 0 && req->timestamp <= 0)) {
		sign_error(err, errlen, "x= needs a timestamp and a positive ttl");
		return -1;
	}
	if (req->key == NULL) {
		sign_error(err, errlen, "no key");
		return -1;
	}
	want = req->alg == SIGN_ALG_RSA_SHA256 ? EVP_PKEY_RSA : EVP_PKEY_ED25519;
	if (EVP_PKEY_get_base_id(req->key) != want) {
		sign_error(err, errlen, "key type does not match a=%s",
		    sign_alg_name(req->alg));
		return -1;
	}
	if (want == EVP_PKEY_RSA && EVP_PKEY_get_bits(req->key) < SIGN_MIN_RSA_BITS) {
		sign_error(err, errlen, "RSA key has %d bits, fewer than %d",
		    EVP_PKEY_get_bits(req->key), SIGN_MIN_RSA_BITS);
		return -1;
	}
	return 0;
}

/* sign_list_name - k-th name of headers followed by oversign */
static const char *
sign_list_name(const struct sign_request *req, size_t k)
{
	return k < req->nheaders ? req->headers[k] : req->oversign[k - req->nheaders];
}

/* sign_in_list - is name among list[0..n) (case-insensitive)? */
static int
sign_in_list(const char *const *list, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (sign_name_eq(list[i], name))
			return 1;
	return 0;
}

/*
 * sign_select - canonicalize the headers to sign into hdata, bottom-up per
 * name (RFC 6376 5.4.2), and collect the h= names; an oversigned name gets
 * one listing more than it has instances. Returns 0, or -1 with err set.
 */
static int
sign_select(const struct sign_request *req, const struct sign_header *hdrs,
    size_t nhdrs, struct buf *hdata, const char **names, size_t *nnames,
    char *err, size_t errlen)
{
	size_t total = req->nheaders + req->noversign, k, j, n = 0, before;
	const char *name;
	int from = 0;

	for (k = 0; k < total; k++) {
		name = sign_list_name(req, k);
		if (!sign_token_ok(name, ":")) {
			sign_error(err, errlen, "bad header name \"%.100s\"",
			    name ? name : "");
			return -1;
		}
		for (j = 0; j < k; j++)
			if (sign_name_eq(sign_list_name(req, j), name))
				break;
		if (j < k)
			continue;			/* listed already */
		before = n;
		for (j = nhdrs; j-- > 0;) {
			if (!sign_name_eq(hdrs[j].name, name))
				continue;
			sign_canon_header(req->hcanon, hdrs[j].name,
			    hdrs[j].value, hdata);
			names[n++] = name;
		}
		if (sign_in_list(req->oversign, req->noversign, name))
			names[n++] = name;		/* matches no header */
		if (n > before && sign_name_eq(name, "From"))
			from = 1;
	}
	*nnames = n;
	if (!from) {
		sign_error(err, errlen, "From is not signed (RFC 6376 5.4)");
		return -1;
	}
	return 0;
}

/* sign_fold_space - a separating SP, or a fold if need octets won't fit */
static void
sign_fold_space(struct sign_fold *f, size_t need)
{
	if (f->col + 1 + need > SIGN_FOLD_COL && f->col > 1) {
		buf_append(f->out, "\n\t", 2);
		f->col = 1;
	} else {
		buf_putc(f->out, ' ');
		f->col++;
	}
}

/* sign_fold_text - append text that must stay on the current line */
static void
sign_fold_text(struct sign_fold *f, const char *s, size_t n)
{
	buf_append(f->out, s, n);
	f->col += n;
}

/* sign_fold_tag - append " tag=value;" as one unbreakable unit */
static void __attribute__((format(printf, 2, 3)))
sign_fold_tag(struct sign_fold *f, const char *fmt, ...)
{
	struct buf tmp = BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	buf_vprintf(&tmp, fmt, ap);
	va_end(ap);
	sign_fold_space(f, tmp.len);
	sign_fold_text(f, buf_cstr(&tmp), tmp.len);
	buf_free(&tmp);
}

/* sign_fold_b64 - append base64 text, folding inside it where the line is full */
static void
sign_fold_b64(struct sign_fold *f, const char *s, size_t len, const char *tail)
{
	size_t room, n, tl = strlen(tail);

	while (len > 0) {
		room = f->col < SIGN_FOLD_COL ? SIGN_FOLD_COL - f->col : 0;
		n = len < room ? len : room;
		/* Last piece and no room for the tail: carry a few octets over. */
		if (n == len && n + tl > room)
			n = n > 8 ? n - 8 : 0;
		if (n < 8 && n < len) {
			buf_append(f->out, "\n\t", 2);
			f->col = 1;
			continue;
		}
		sign_fold_text(f, s, n);
		s += n;
		len -= n;
	}
	sign_fold_text(f, tail, tl);
}

/* sign_b64 - append the base64 encoding of p[0..n) to out */
static void
sign_b64(struct buf *out, const unsigned char *p, size_t n)
{
	size_t need = 4 * ((n + 2) / 3);
	int r;

	if (n > INT_MAX / 2)
		abort();			/* never: hashes and signatures */
	buf_reserve(out, need);
	r = EVP_EncodeBlock((unsigned char *)out->data + out->len, p, (int)n);
	out->len += (size_t)r;
	out->data[out->len] = '\0';
}

/* sign_emit_hlist - append " h=a:b:c;" folding after colons */
static void
sign_emit_hlist(struct sign_fold *f, const char **names, size_t n)
{
	struct buf piece = BUF_INIT;
	size_t k;

	for (k = 0; k < n; k++) {
		buf_reset(&piece);
		buf_puts(&piece, names[k]);
		buf_putc(&piece, k + 1 < n ? ':' : ';');
		if (k == 0) {
			sign_fold_space(f, 2 + piece.len);
			sign_fold_text(f, "h=", 2);
		} else if (f->col + piece.len > SIGN_FOLD_COL) {
			buf_append(f->out, "\n\t", 2);	/* FWS after ':' */
			f->col = 1;
		}
		sign_fold_text(f, buf_cstr(&piece), piece.len);
	}
	buf_free(&piece);
}

/* sign_emit_tags - append every tag up to and including the empty "b=" */
static void
sign_emit_tags(const struct sign_request *req, const char **names,
    size_t nnames, const unsigned char bh[SIGN_HASH_LEN], struct sign_fold *f)
{
	struct buf b64 = BUF_INIT;

	sign_fold_tag(f, "v=1;");
	sign_fold_tag(f, "a=%s;", sign_alg_name(req->alg));
	sign_fold_tag(f, "c=%s/%s;", sign_canon_name(req->hcanon),
	    sign_canon_name(req->bcanon));
	sign_fold_tag(f, "d=%s;", req->domain);
	sign_fold_tag(f, "s=%s;", req->selector);
	if (req->timestamp > 0)
		sign_fold_tag(f, "t=%lld;", (long long)req->timestamp);
	if (req->ttl > 0)
		sign_fold_tag(f, "x=%lld;", (long long)req->timestamp +
		    (long long)req->ttl);
	if (req->identity != NULL)
		sign_fold_tag(f, "i=%s;", req->identity);
	sign_emit_hlist(f, names, nnames);
	sign_b64(&b64, bh, SIGN_HASH_LEN);
	sign_fold_space(f, 3 + 16);	/* keep some of the hash by "bh=" */
	sign_fold_text(f, "bh=", 3);
	sign_fold_b64(f, buf_cstr(&b64), b64.len, ";");
	/* Never fold right after "b=": keep a few octets of room. */
	sign_fold_space(f, 2 + 16);
	sign_fold_text(f, "b=", 2);
	buf_free(&b64);
}

/* sign_compute - sign the header data with req->key; base64 into b64 */
static int
sign_compute(const struct sign_request *req, const unsigned char *data,
    size_t len, struct buf *b64, char *err, size_t errlen)
{
	unsigned char md[EVP_MAX_MD_SIZE], *sig = NULL;
	unsigned int mdlen = 0;
	EVP_PKEY_CTX *pctx = NULL;
	EVP_MD_CTX *ctx;
	size_t siglen;
	int ok = 0, max = EVP_PKEY_get_size(req->key);

	if (max > 0 && req->alg == SIGN_ALG_RSA_SHA256
	    && (pctx = pkctx_rsa(req->key, PKCTX_SIGN)) != NULL) {
		siglen = (size_t)max;
		sig = xmalloc(siglen);
		ok = EVP_Digest(data, len, md, &mdlen, sign_sha256(), NULL) == 1
		    && EVP_PKEY_sign(pctx, sig, &siglen, md, mdlen) == 1;
		if (ok)
			sign_b64(b64, sig, siglen);
		else {
			sign_ssl_error(err, errlen, "signing failed");
			pkctx_drop(pctx);
		}
		OPENSSL_cleanse(md, sizeof(md));
		free(sig);
		return ok ? 0 : -1;
	}
	if (max <= 0 || (ctx = EVP_MD_CTX_new()) == NULL) {
		sign_ssl_error(err, errlen, "cannot set up signing");
		return -1;
	}
	if (req->alg == SIGN_ALG_RSA_SHA256) {
		ok = EVP_DigestSignInit(ctx, &pctx, sign_sha256(), NULL,
		    req->key) == 1 &&
		    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) > 0;
	} else {
		/* RFC 8463 3: Ed25519 signs the SHA-256 hash, not the data. */
		ok = EVP_Digest(data, len, md, &mdlen, sign_sha256(), NULL) == 1 &&
		    EVP_DigestSignInit(ctx, NULL, NULL, NULL, req->key) == 1;
		data = md;
		len = mdlen;
	}
	siglen = (size_t)max;
	sig = xmalloc(siglen);
	if (ok)
		ok = EVP_DigestSign(ctx, sig, &siglen, data, len) == 1;
	if (ok)
		sign_b64(b64, sig, siglen);
	else
		sign_ssl_error(err, errlen, "signing failed");
	EVP_MD_CTX_free(ctx);
	OPENSSL_cleanse(md, sizeof(md));
	free(sig);
	return ok ? 0 : -1;
}

/* sign_header_value - build a DKIM-Signature header value */
int
sign_header_value(const struct sign_request *req,
    const struct sign_header *hdrs, size_t nhdrs,
    const unsigned char bh[SIGN_HASH_LEN], struct buf *out,
    char *err, size_t errlen)
{
	struct buf hdata = BUF_INIT, sig = BUF_INIT;
	struct sign_fold f;
	const char **names;
	size_t nnames = 0, vstart = out->len;
	char *value;
	int ret = -1;

	if (sign_check_request(req, err, errlen) != 0)
		return -1;
	names = xreallocarray(NULL, nhdrs + req->noversign + 1, sizeof(*names));
	if (sign_select(req, hdrs, nhdrs, &hdata, names, &nnames, err,
	    errlen) != 0)
		goto done;
	f.out = out;
	f.col = strlen(SIGN_HDR_NAME ":");
	sign_emit_tags(req, names, nnames, bh, &f);
	/* The signature header itself, b= empty and without its CRLF. */
	value = xstrndup(out->data + vstart, out->len - vstart);
	sign_canon_header(req->hcanon, SIGN_HDR_NAME, value, &hdata);
	free(value);
	hdata.len -= 2;
	hdata.data[hdata.len] = '\0';
	if (sign_compute(req, (const unsigned char *)hdata.data, hdata.len,
	    &sig, err, errlen) != 0)
		goto done;
	sign_fold_b64(&f, buf_cstr(&sig), sig.len, "");
	ret = 0;
done:
	if (ret != 0 && out->data != NULL) {
		out->len = vstart;		/* leave out as we found it */
		out->data[vstart] = '\0';
	}
	free(names);
	buf_free(&hdata);
	buf_free(&sig);
	return ret;
}
