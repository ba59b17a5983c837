/*
 * sign.h - RFC 6376 DKIM signer over OpenSSL EVP (rsa-sha256, ed25519-sha256).
 *
 * Two halves, so that a message body is hashed once per canonicalization
 * while it streams in, and any number of signatures can share the hash:
 *   1. sign_body_new / sign_body_update / sign_body_final (sign_body.c):
 *      streaming body canonicalization (RFC 6376 3.4.3, 3.4.4) and SHA-256; memory does not
 *      grow with the body. Bare LF is treated as CRLF. The same
 *      canonicalizer counts instead of hashing (sign_body_count_new): the
 *      verifier measures with it how much of a body an l= leaves unsigned.
 *   2. sign_header_value: given the message headers, a body hash and a
 *      request (domain, selector, key, algorithm, canonicalization, header
 *      list), build the DKIM-Signature header value.
 * Thread-safety: the functions keep no shared state; an EVP_PKEY may be
 * used by several threads at once (OpenSSL 3 keys are read-only here).
 */
#ifndef AUTHMILTER_SIGN_H
#define AUTHMILTER_SIGN_H

#include <stddef.h>
#include <time.h>
#include <openssl/evp.h>

#include "base/buf.h"

#define SIGN_HASH_LEN 32	/* SHA-256 */
#define SIGN_HDR_NAME "DKIM-Signature"	/* the field we write */

enum sign_canon {
	SIGN_CANON_SIMPLE,
	SIGN_CANON_RELAXED,
};

enum sign_alg {
	SIGN_ALG_RSA_SHA256,
	SIGN_ALG_ED25519_SHA256,
};

/* One header field of the message, in order of appearance. */
struct sign_header {
	const char *name;	/* field name as received, e.g. "Subject" */
	const char *value;	/* everything after the colon, exactly as
				 * received (leading whitespace kept); folds
				 * may be "\n" or "\r\n" */
};

/* What to sign and with which key. */
struct sign_request {
	const char *domain;		/* d= */
	const char *selector;		/* s= */
	EVP_PKEY *key;			/* RSA or Ed25519 private key */
	enum sign_alg alg;		/* must match the key type */
	enum sign_canon hcanon;		/* header canonicalization */
	enum sign_canon bcanon;		/* body canonicalization (for c=) */
	const char *const *headers;	/* names to sign, each as often as present */
	size_t nheaders;
	const char *const *oversign;	/* names listed once more than present */
	size_t noversign;
	time_t timestamp;		/* t= (0: omit) */
	long ttl;			/* x = t + ttl (0: omit x=) */
	const char *identity;		/* i= (NULL: omit) */
};

struct sign_body;

/* sign_body_new - start a streaming body hash; NULL if OpenSSL cannot */
struct sign_body *sign_body_new(enum sign_canon canon);
/* sign_body_update - feed body bytes in any chunking; returns 0, -1 on error */
int sign_body_update(struct sign_body *sb, const unsigned char *data, size_t len);
/*
 * sign_body_limit_new - as sign_body_new, but only the first limit
 * canonical bytes are hashed (the verifier's l=); sign_body_length still
 * counts all of them. NULL if OpenSSL cannot.
 */
struct sign_body *sign_body_limit_new(enum sign_canon canon,
    unsigned long long limit);
/*
 * sign_body_count_new - the same canonicalization counting instead of
 * hashing (the verifier's canonical body length, for l=); never NULL.
 * Fed and finished like a hash (sign_body_final with bh NULL).
 */
struct sign_body *sign_body_count_new(enum sign_canon canon);
/* sign_body_length - canonical body bytes so far: all of them once sign_body_final was called */
unsigned long long sign_body_length(const struct sign_body *sb);
/* sign_body_final - finish and write the SHA-256 body hash (bh may be NULL: no hash wanted); returns 0 or -1 */
int sign_body_final(struct sign_body *sb, unsigned char bh[SIGN_HASH_LEN]);
/* sign_body_free - release the hash state (NULL is fine) */
void sign_body_free(struct sign_body *sb);

/*
 * sign_header_value - build a DKIM-Signature header value.
 *
 * Appends to out the value to insert after "DKIM-Signature:": it starts with
 * a space and is folded at about 78 columns with "\n\t" (the MTA adds the
 * CR when it writes the header, see mta_insert_header); the signature is
 * computed over the CRLF form. The value must reach the message verbatim:
 * negotiate PROTO_P_HDR_LEADSPC (Postfix otherwise puts another space
 * after the colon, which breaks simple header canonicalization; it also
 * keeps the leading whitespace of received values, as struct sign_header
 * expects). Refuses a request whose
 * h= would lack From, a key that does not match alg, RSA under 1024 bits,
 * an i= outside d=, x= without t=, and names or values needing quoting.
 * Returns 0, or -1 with a reason in err; out is then left as it was.
 */
int sign_header_value(const struct sign_request *req,
    const struct sign_header *hdrs, size_t nhdrs,
    const unsigned char bh[SIGN_HASH_LEN], struct buf *out,
    char *err, size_t errlen);

/* sign_canon_header - canonicalize one header (name ":" value) into out, CRLF-terminated */
void sign_canon_header(enum sign_canon canon, const char *name,
    const char *value, struct buf *out);

/* sign_sha256 - OpenSSL's SHA-256, fetched once for the process (an
 * implicit fetch per digest init costs thousands of instructions) */
const EVP_MD *sign_sha256(void);
/* sign_canon_parse - "relaxed" / "simple" -> canon; -1 if neither */
int sign_canon_parse(const char *s);
/* sign_alg_name - the a= tag's name of alg: "rsa-sha256", "ed25519-sha256" (the one place they are spelled) */
const char *sign_alg_name(enum sign_alg alg);
/* sign_canon_name - canon -> "relaxed" / "simple" */
const char *sign_canon_name(enum sign_canon c);

#endif
