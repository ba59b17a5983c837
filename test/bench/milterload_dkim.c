/*
 * milterload_dkim.c - DKIM-signed messages for inbound load (-D).
 *
 * Before the threads start, milterload signs one message per From domain
 * (-n, or the one -F domain) with every -D key: relaxed/relaxed,
 * rsa-sha256 (or ed25519-sha256), the body hashed once since every
 * message shares it. The connections then send copies of these headers,
 * so the load generator spends no cryptography while it measures. The
 * pool is written once here and only read afterwards.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "milterload.h"

/* dkim_key_load - parse -D SEL:KEYFILE[:DOMAIN] into k */
void
dkim_key_load(struct sigkey *k, const char *spec)
{
	char path[4096];
	const char *c1, *c2;
	size_t n;
	FILE *fp;

	c1 = strchr(spec, ':');
	if (c1 == NULL || c1 == spec || (size_t)(c1 - spec) >= sizeof(k->sel))
		fatal("-D %s: want SEL:KEYFILE[:DOMAIN]", spec);
	memcpy(k->sel, spec, (size_t)(c1 - spec));
	k->sel[c1 - spec] = '\0';
	c2 = strchr(c1 + 1, ':');
	n = c2 != NULL ? (size_t)(c2 - c1 - 1) : strlen(c1 + 1);
	if (n == 0 || n >= sizeof(path))
		fatal("-D %s: bad key file", spec);
	memcpy(path, c1 + 1, n);
	path[n] = '\0';
	k->domain = c2 != NULL && c2[1] != '\0' ? c2 + 1 : NULL;
	if ((fp = fopen(path, "r")) == NULL)
		fatal("-D %s: cannot open %s", spec, path);
	k->pkey = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
	fclose(fp);
	if (k->pkey == NULL)
		fatal("-D %s: %s holds no private key", spec, path);
}

/* canon_value - append a header value, relaxed: unfolded, runs of blanks
 * made one space, none at either end */
static void
canon_value(struct gbuf *out, const char *v)
{
	int blank = 0, any = 0;

	for (; *v != '\0'; v++) {
		if (*v == '\r' || *v == '\n')
			continue;
		if (*v == ' ' || *v == '\t') {
			blank = 1;
			continue;
		}
		if (blank && any)
			gb_add(out, " ", 1);
		blank = 0;
		any = 1;
		gb_add(out, v, 1);
	}
}

/* canon_header - append name:value, relaxed, with CRLF unless last */
static void
canon_header(struct gbuf *out, const char *name, const char *value,
    int crlf)
{
	size_t i, at = out->len;

	gb_add(out, name, strlen(name));
	for (i = at; i < out->len; i++)
		if (out->data[i] >= 'A' && out->data[i] <= 'Z')
			out->data[i] += 'a' - 'A';
	gb_add(out, ":", 1);
	canon_value(out, value);
	if (crlf)
		gb_add(out, "\r\n", 2);
}

/* body_hash - base64 SHA-256 of the shared body, relaxed canonicalization:
 * blank runs made one space, trailing blanks and empty lines at the end
 * removed */
static void
body_hash(char *b64, size_t size)
{
	struct gbuf c = { 0 };
	const char *p = tmpl.body, *end = tmpl.body + tmpl.bodylen, *eol;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen;
	size_t empties = 0, n, keep;

	while (p < end) {
		eol = memchr(p, '\n', (size_t)(end - p));
		n = eol != NULL ? (size_t)(eol - p) : (size_t)(end - p);
		keep = n;
		if (keep > 0 && p[keep - 1] == '\r')
			keep--;
		while (keep > 0 && (p[keep - 1] == ' ' || p[keep - 1] == '\t'))
			keep--;
		if (keep == 0)
			empties++;
		else {
			size_t i;
			int blank = 0;

			for (; empties > 0; empties--)
				gb_add(&c, "\r\n", 2);
			for (i = 0; i < keep; i++) {
				if (p[i] == ' ' || p[i] == '\t') {
					blank = 1;
					continue;
				}
				if (blank)
					gb_add(&c, " ", 1);
				blank = 0;
				gb_add(&c, p + i, 1);
			}
			gb_add(&c, "\r\n", 2);
		}
		p += n + (eol != NULL);
	}
	if (EVP_Digest(c.data != NULL ? c.data : "", c.len, md, &mdlen,
	    EVP_sha256(), NULL) != 1 || 4 * ((mdlen + 2) / 3) + 1 > size)
		fatal("body hash failed");
	EVP_EncodeBlock((unsigned char *)b64, md, (int)mdlen);
	gb_free(&c);
}

/* dkim_sign - put a DKIM-Signature by key k for domain dom on top of l */
static void
dkim_sign(struct hlist *l, const struct sigkey *k, const char *dom,
    const char *bh, time_t now)
{
	struct gbuf hl = { 0 }, data = { 0 }, val = { 0 };
	unsigned char sig[1024];
	char *b64;
	size_t i, siglen = sizeof(sig);
	EVP_MD_CTX *ctx;
	int ed = EVP_PKEY_base_id(k->pkey) == EVP_PKEY_ED25519;

	for (i = 0; i < l->n; i++) {
		if (strcasecmp(l->v[i].name, "DKIM-Signature") == 0)
			continue;
		if (hl.len > 0)
			gb_add(&hl, ":", 1);
		gb_add(&hl, l->v[i].name, strlen(l->v[i].name));
		canon_header(&data, l->v[i].name, l->v[i].value, 1);
	}
	gb_reserve(&hl, 0);
	gb_reserve(&val, 1024);
	val.len = (size_t)snprintf(val.data, val.cap, " v=1; a=%s-sha256; "
	    "c=relaxed/relaxed; d=%s; s=%s; t=%lld; h=%s; bh=%s; b=",
	    ed ? "ed25519" : "rsa", k->domain ? k->domain : dom, k->sel,
	    (long long)now, hl.data, bh);
	if (val.len >= val.cap)
		fatal("DKIM-Signature too long");
	canon_header(&data, "DKIM-Signature", val.data, 0);
	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit(ctx, NULL, ed ? NULL : EVP_sha256(), NULL,
	    k->pkey) != 1)
		fatal("EVP_DigestSignInit failed");
	if (ed) {
		/* RFC 8463: Ed25519 signs the SHA-256 of the data */
		unsigned char md[32];
		unsigned int mdlen;

		if (EVP_Digest(data.data, data.len, md, &mdlen, EVP_sha256(),
		    NULL) != 1 || EVP_DigestSign(ctx, sig, &siglen, md,
		    mdlen) != 1)
			fatal("Ed25519 signing failed");
	} else if (EVP_DigestSign(ctx, sig, &siglen,
	    (unsigned char *)data.data, data.len) != 1)
		fatal("RSA signing failed");
	EVP_MD_CTX_free(ctx);
	b64 = xmalloc(4 * ((siglen + 2) / 3) + 1);
	EVP_EncodeBlock((unsigned char *)b64, sig, (int)siglen);
	gb_add(&val, b64, strlen(b64));
	hl_insert(l, 0, "DKIM-Signature", val.data);
	free(b64);
	gb_free(&hl);
	gb_free(&data);
	gb_free(&val);
}

/* dkim_pool_init - sign npool messages, one per From domain, with -D keys */
void
dkim_pool_init(void)
{
	char bh[64], date[64], dom[256], mid[32], from[320];
	struct tm tm;
	time_t now = time(NULL);
	size_t i, k;

	body_hash(bh, sizeof(bh));
	localtime_r(&now, &tm);
	strftime(date, sizeof(date), " %a, %d %b %Y %H:%M:%S %z", &tm);
	tmpl.npool = opt.ndomains > 0 ? opt.ndomains : 1;
	tmpl.pool = calloc(tmpl.npool, sizeof(*tmpl.pool));
	if (tmpl.pool == NULL)
		fatal("out of memory");
	for (i = 0; i < tmpl.npool; i++) {
		struct presig *ps = &tmpl.pool[i];

		if (opt.ndomains > 0)
			(void)snprintf(dom, sizeof(dom), "d%zu.%s", i,
			    opt.fromdomain);
		else
			(void)snprintf(dom, sizeof(dom), "%s", opt.fromdomain);
		(void)snprintf(mid, sizeof(mid), "p%zu", i);
		msg_std_headers(&ps->hdrs, dom, mid, date);
		for (k = 0; k < opt.nkeys; k++)
			dkim_sign(&ps->hdrs, &opt.keys[k], dom, bh, now);
		(void)snprintf(from, sizeof(from), "sender@%s", dom);
		ps->envfrom = xstrdup(from);
	}
}

/* dkim_pool_free - release the pool and the keys */
void
dkim_pool_free(void)
{
	size_t i;

	for (i = 0; i < tmpl.npool; i++) {
		hl_clear(&tmpl.pool[i].hdrs);
		free(tmpl.pool[i].hdrs.v);
		free(tmpl.pool[i].envfrom);
	}
	free(tmpl.pool);
	tmpl.pool = NULL;
	tmpl.npool = 0;
	for (i = 0; i < opt.nkeys; i++)
		EVP_PKEY_free(opt.keys[i].pkey);
}
