/*
 * dkim_verify.h - DKIM verification of inbound messages.
 *
 * Two engines behind one API, picked per snapshot (dkim_verifier): the
 * builtin RFC 6376 / RFC 8463 verifier (dkim_msg.c, the default), which
 * canonicalizes and hashes the body once per (body canonicalization, l=)
 * for all signatures of a message, and libopendkim 2.11 (dkim_odkim.c),
 * kept as the tests' oracle. Every key lookup goes through our resolver
 * (dns.h). Both give one RFC 8601 result per signature, with the same
 * reasons, and both go beyond bare RFC 6376:
 *   - rsa-sha1 is fail (RFC 8301), without a key lookup;
 *   - an RSA key under min_rsa_bits (default 1024) is fail (RFC 8301);
 *   - a signature whose l= leaves body content unsigned is "policy", never
 *     pass, even when it verifies: DMARC must not count it
 *     (unsigned_bytes says how much was left out);
 *   - at most max_signatures (default 10) DKIM-Signature fields, the
 *     topmost, are verified; the others are not even read (a thousand
 *     distinct l= values would mean a thousand body hashes);
 *   - all key lookups of one message share a time budget.
 * Authentication-Results fields already in the message are never read.
 *
 * The body streams: memory per message does not grow with its size.
 *
 * Threading: one struct dkim_verify_lib per configuration snapshot, read-only
 * after dkim_verify_lib_new and shared by every thread. One struct dkim_verify per message,
 * used by one thread at a time. Results are plain values owned by the
 * caller. Nothing here picks an SMTP reply.
 */
#ifndef AUTHMILTER_DKIM_VERIFY_H
#define AUTHMILTER_DKIM_VERIFY_H

#include <stddef.h>

#include "base/dns.h"

#define DKIM_VERIFY_DEFAULT_MAX_SIGS	10	/* max_signatures when 0 */
#define DKIM_VERIFY_DEFAULT_RSA_BITS	1024	/* min_rsa_bits when 0 (RFC 8301) */
#define DKIM_VERIFY_DEFAULT_BUDGET_MS	20000	/* time_budget_ms when 0 */

#define DKIM_VERIFY_DOMAIN_MAX	256	/* d=, with its NUL (a domain is <= 253) */
#define DKIM_VERIFY_SELECTOR_MAX	256	/* s=, with its NUL */
#define DKIM_VERIFY_ALG_MAX		32	/* a=, with its NUL */
#define DKIM_VERIFY_IDENTITY_MAX	320	/* i= (local-part@domain), with its NUL */
#define DKIM_VERIFY_REASON_MAX	96	/* reason, with its NUL */

/* RFC 8601 section 2.7.1 dkim results */
enum dkim_verify_res {
	DKIM_VERIFY_PASS,
	DKIM_VERIFY_FAIL,		/* bad signature or body hash, rsa-sha1, short
				 * or revoked key, expired signature */
	DKIM_VERIFY_NEUTRAL,		/* malformed signature (syntax, tags) */
	DKIM_VERIFY_POLICY,		/* verifies, but not acceptable (l= partial) */
	DKIM_VERIFY_TEMPERROR,	/* key lookup failed or timed out */
	DKIM_VERIFY_PERMERROR,	/* no key, malformed or unusable key record */
};

/* DNSSEC state of the key record */
enum dkim_verify_dnssec {
	DKIM_VERIFY_DNSSEC_UNKNOWN,	/* no lookup, or the resolver does not validate */
	DKIM_VERIFY_DNSSEC_INSECURE,	/* validating resolver, unsigned zone */
	DKIM_VERIFY_DNSSEC_SECURE,	/* validated */
};

/* The verdict on one DKIM-Signature field. Strings are printable ASCII
 * ("" when the tag is absent or the signature too broken to tell);
 * a byte outside it shows as '?'. */
struct dkim_verify_sig {
	enum dkim_verify_res res;			/* the result */
	char domain[DKIM_VERIFY_DOMAIN_MAX];		/* d= (header.d) */
	char selector[DKIM_VERIFY_SELECTOR_MAX];	/* s= (header.s) */
	char algorithm[DKIM_VERIFY_ALG_MAX];		/* a= as written (header.a) */
	char *b;				/* b=, its base64 characters
						 * only ("" when absent); owned.
						 * The A-R writer (authres.c)
						 * picks the header.b prefix */
	char identity[DKIM_VERIFY_IDENTITY_MAX];	/* i= as written (header.i) */
	unsigned int keybits;			/* key size; 0 when not loaded */
	enum dkim_verify_dnssec dnssec;		/* of the key record */
	size_t unsigned_bytes;			/* body bytes l= left unsigned
						 * (canonical form); > 0 implies
						 * res != PASS */
	int testing;				/* key has t=y */
	char reason[DKIM_VERIFY_REASON_MAX];		/* short why, e.g. "body hash
						 * mismatch"; "" for pass */
};

struct dkim_verify_results {
	size_t n;		/* entries in sig, topmost signature first */
	size_t total;		/* DKIM-Signature fields in the message (> n
				 * when over max_signatures) */
	struct dkim_verify_sig *sig;	/* n entries (NULL when n == 0) */
};

/* The verifier behind the API */
enum dkim_verify_engine {
	DKIM_VERIFY_ENGINE_BUILTIN,	/* ours (dkim_msg.c); the default */
	DKIM_VERIFY_ENGINE_LIBOPENDKIM,	/* libopendkim 2.11 (dkim_odkim.c) */
};

struct dkim_verify_options {
	enum dkim_verify_engine engine;	/* 0: builtin */
	struct dns *dns;	/* resolver (borrowed; must outlive the lib) */
	int dns_timeout_ms;	/* per key lookup; 0: the resolver's own */
	int dnssec;		/* the resolver validates (trust anchor set):
				 * unsigned answers are reported insecure */
	unsigned int max_signatures;	/* 0: DKIM_VERIFY_DEFAULT_MAX_SIGS */
	unsigned int min_rsa_bits;	/* 0: DKIM_VERIFY_DEFAULT_RSA_BITS */
	int time_budget_ms;	/* key lookups of one message; 0: default,
				 * < 0: no budget */
};

struct dkim_verify_lib;
struct dkim_verify;

/* dkim_verify_lib_new - a verifier for one snapshot; NULL with err on failure */
struct dkim_verify_lib *dkim_verify_lib_new(const struct dkim_verify_options *opt, char *err,
    size_t errlen);
/* dkim_verify_lib_free - release a verifier once no message uses it (NULL is fine) */
void dkim_verify_lib_free(struct dkim_verify_lib *lib);

/* dkim_verify_begin - start verifying one message; qid prefixes log lines (may be NULL) */
struct dkim_verify *dkim_verify_begin(struct dkim_verify_lib *lib, const char *qid);
/*
 * dkim_verify_header - one header field, in order: name without the colon, value
 * exactly as the MTA delivers it with PROTO_P_HDR_LEADSPC (leading
 * whitespace kept; folds "\n" or "\r\n"). A field with a name outside
 * printable ASCII (or holding ';') is skipped.
 */
void dkim_verify_header(struct dkim_verify *v, const char *name, const char *value);
/* dkim_verify_eoh - end of the header; key lookups wait until dkim_verify_eom */
void dkim_verify_eoh(struct dkim_verify *v);
/* dkim_verify_body - a body chunk, CRLF line ends, as the milter delivers it */
void dkim_verify_body(struct dkim_verify *v, const unsigned char *data, size_t len);
/*
 * dkim_verify_eom - finish: look up keys and verify. Fills out (free it with
 * dkim_verify_results_free); no DKIM-Signature field gives n == 0 (dkim=none).
 * Returns 0, or -1 when the verifier itself failed (out of resources, an
 * OpenSSL or libopendkim error): every signature is then temperror, and the caller
 * applies on_internal_error.
 */
int dkim_verify_eom(struct dkim_verify *v, struct dkim_verify_results *out);
/* dkim_verify_free - end the message (after eom, or to abort); NULL is fine */
void dkim_verify_free(struct dkim_verify *v);

/* dkim_verify_results_free - release results; the struct is empty afterwards */
void dkim_verify_results_free(struct dkim_verify_results *r);
/* dkim_verify_res_name - "pass", "fail", ... (RFC 8601 names) */
const char *dkim_verify_res_name(enum dkim_verify_res r);
/* dkim_verify_dnssec_name - "unknown", "insecure", "secure" */
const char *dkim_verify_dnssec_name(enum dkim_verify_dnssec d);
/* dkim_verify_engine_name - "builtin", "libopendkim" */
const char *dkim_verify_engine_name(enum dkim_verify_engine e);

#endif
