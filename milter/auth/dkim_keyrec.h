/*
 * dkim_keyrec.h - DKIM key records (RFC 6376 3.6.1, RFC 8463) read and
 * their public keys decoded, for the builtin verifier (dkim_msg.c).
 *
 * The checks run in libopendkim's order (tag-list, v=, h=, s=, k=, p=)
 * and fail with its words ("unknown key version", "not an e-mail key",
 * ...), so that both verifiers give the same reasons. An RSA key is
 * decoded through the shared key cache (dkim_keycache.h, keyed by the DER
 * bytes), an Ed25519 key from its 32 raw bytes.
 *
 * Threading: a struct dkim_keyrec belongs to its caller; the key cache is
 * the only shared state, behind its own lock.
 */
#ifndef AUTHMILTER_DKIM_KEYREC_H
#define AUTHMILTER_DKIM_KEYREC_H

#include <stddef.h>
#include <openssl/evp.h>

#define DKIM_KEYREC_MAX	4096	/* a longer record is refused (RSA-8192: ~1.4 KB) */

enum dkim_keyrec_type {
	DKIM_KEYREC_RSA,
	DKIM_KEYREC_ED25519,
};

enum dkim_keyrec_status {
	DKIM_KEYREC_OK,
	DKIM_KEYREC_REVOKED,	/* p= empty */
	DKIM_KEYREC_BAD,	/* unusable: why says so */
};

/* A key record. */
struct dkim_keyrec {
	enum dkim_keyrec_type type;	/* k= (default rsa) */
	int testing;			/* t= has y */
	int strict;			/* t= has s: i= must be in d= itself */
	unsigned char *key;		/* p= decoded; owned */
	size_t keylen;
};

/*
 * dkim_keyrec_parse - read the record text (len bytes, NULs included) for a
 * signature hashed with hash ("sha256"); fills k (free it with
 * dkim_keyrec_free) and returns the status; *why is the reason of
 * DKIM_KEYREC_BAD ("unknown key hash", ...), static text.
 */
enum dkim_keyrec_status dkim_keyrec_parse(struct dkim_keyrec *k,
    const char *txt, size_t len, const char *hash, const char **why);
/* dkim_keyrec_free - release a record */
void dkim_keyrec_free(struct dkim_keyrec *k);
/* dkim_keyrec_pkey - the record's public key (a new reference), NULL if it does not decode to its k= type */
EVP_PKEY *dkim_keyrec_pkey(const struct dkim_keyrec *k);

#endif
