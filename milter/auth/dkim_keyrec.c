/*
 * dkim_keyrec.c - DKIM key records read and keys decoded (see
 * dkim_keyrec.h). Owns the decoded p= of one record; keys come from the
 * shared cache (dkim_keycache.c) or are made from raw bytes.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "auth/dkim_keycache.h"
#include "auth/dkim_keyrec.h"
#include "auth/dkim_sig.h"
#include "auth/dkim_tags.h"

#define DKIM_KEYREC_ED25519_LEN	32	/* RFC 8463: the raw public key */

/* dkim_keyrec_list_has - does the colon-separated list hold word (case-insensitive)? */
static int
dkim_keyrec_list_has(const char *list, const char *word)
{
	size_t wl = strlen(word), n;
	const char *p = list, *colon;

	for (;;) {
		colon = strchr(p, ':');
		n = colon != NULL ? (size_t)(colon - p) : strlen(p);
		if (n == wl && strncasecmp(p, word, n) == 0)
			return 1;
		if (colon == NULL)
			return 0;
		p = colon + 1;
	}
}

/* dkim_keyrec_check - v=, h=, s=, k= of a parsed record; an error text or NULL */
static const char *
dkim_keyrec_check(const struct dkim_tags *t, const char *hash,
    struct dkim_keyrec *k)
{
	const char *v = dkim_tags_get(t, "v"), *h = dkim_tags_get(t, "h");
	const char *s = dkim_tags_get(t, "s"), *kt = dkim_tags_get(t, "k");

	if (v != NULL && strcmp(v, "DKIM1") != 0)
		return "unknown key version";
	if (h != NULL && !dkim_keyrec_list_has(h, "sha1") &&
	    !dkim_keyrec_list_has(h, "sha256"))
		return "unknown key hash";
	if (h != NULL && !dkim_keyrec_list_has(h, hash))
		return "signature-key hash mismatch";
	if (s != NULL && !dkim_keyrec_list_has(s, "*") &&
	    !dkim_keyrec_list_has(s, "email"))
		return "not an e-mail key";
	if (kt == NULL || strcasecmp(kt, "rsa") == 0)
		k->type = DKIM_KEYREC_RSA;
	else if (strcasecmp(kt, "ed25519") == 0)
		k->type = DKIM_KEYREC_ED25519;
	else
		return "unknown key type";
	return NULL;
}

/* dkim_keyrec_parse - read one key record */
enum dkim_keyrec_status
dkim_keyrec_parse(struct dkim_keyrec *k, const char *txt, size_t len,
    const char *hash, const char **why)
{
	struct dkim_tags t;
	const char *p, *flags;

	memset(k, 0, sizeof(*k));
	*why = "key DNS reply corrupt";
	if (len > DKIM_KEYREC_MAX)
		return DKIM_KEYREC_BAD;
	if (dkim_tags_parse(&t, txt, len) != DKIM_TAGS_OK) {
		dkim_tags_free(&t);
		return DKIM_KEYREC_BAD;
	}
	if ((*why = dkim_keyrec_check(&t, hash, k)) != NULL) {
		dkim_tags_free(&t);
		return DKIM_KEYREC_BAD;
	}
	*why = "key DNS reply corrupt";
	if ((p = dkim_tags_get(&t, "p")) == NULL) {
		dkim_tags_free(&t);
		return DKIM_KEYREC_BAD;
	}
	if (p[0] == '\0') {
		dkim_tags_free(&t);
		*why = "key revoked";
		return DKIM_KEYREC_REVOKED;
	}
	if (dkim_sig_b64_decode(p, &k->key, &k->keylen) < 0) {
		dkim_tags_free(&t);
		return DKIM_KEYREC_BAD;
	}
	if ((flags = dkim_tags_get(&t, "t")) != NULL) {
		k->testing = dkim_keyrec_list_has(flags, "y");
		k->strict = dkim_keyrec_list_has(flags, "s");
	}
	dkim_tags_free(&t);
	*why = NULL;
	return DKIM_KEYREC_OK;
}

/* dkim_keyrec_free - release a record */
void
dkim_keyrec_free(struct dkim_keyrec *k)
{
	free(k->key);
	memset(k, 0, sizeof(*k));
}

/* dkim_keyrec_pkey - the public key of a record, of its k= type */
EVP_PKEY *
dkim_keyrec_pkey(const struct dkim_keyrec *k)
{
	EVP_PKEY *pk = NULL;
	BIO *bio;

	if (k->key == NULL || k->keylen == 0 || k->keylen > DKIM_KEYREC_MAX)
		return NULL;
	if (k->type == DKIM_KEYREC_ED25519) {
		if (k->keylen == DKIM_KEYREC_ED25519_LEN)
			pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL,
			    k->key, k->keylen);
	} else if ((bio = BIO_new_mem_buf(k->key, (int)k->keylen)) != NULL) {
		/* the cache's d2i_PUBKEY_bio: each DER key decoded once */
		pk = d2i_PUBKEY_bio(bio, NULL);
		BIO_free(bio);
		if (pk != NULL && EVP_PKEY_get_base_id(pk) != EVP_PKEY_RSA) {
			EVP_PKEY_free(pk);
			pk = NULL;
		}
	}
	ERR_clear_error();
	return pk;
}
