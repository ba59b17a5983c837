/*
 * dkim_sig.h - one DKIM-Signature field (RFC 6376 3.5) read and checked
 * before any key lookup, for the builtin verifier (dkim_msg.c).
 *
 * The checks run in the order libopendkim runs them (d=, s=, v=, i=
 * within d=, x= expiry, t= in the future, t= before x=, c=, a=, h=, l=,
 * q=, bh=, b=), and the first one that fails gives the reason, in the
 * same words, so that both verifiers report the same thing. Unlike
 * libopendkim, a field that is not a valid tag-list (a byte outside the
 * grammar, a duplicate tag, a tag name in another case) is refused whole.
 *
 * Threading: a struct dkim_sig belongs to one message; no shared state.
 */
#ifndef AUTHMILTER_DKIM_SIG_H
#define AUTHMILTER_DKIM_SIG_H

#include <stddef.h>
#include <time.h>

#include "base/buf.h"
#include "auth/dkim_tags.h"
#include "auth/sign.h"

#define DKIM_SIG_DRIFT	300	/* seconds of clock drift allowed for t=, x= */
#define DKIM_SIG_NOLIMIT	(~0ULL)	/* length when there is no l= */

enum dkim_sig_alg {
	DKIM_SIG_RSA_SHA1,
	DKIM_SIG_RSA_SHA256,
	DKIM_SIG_ED25519_SHA256,
};

/* A parsed signature. Strings point into tags (borrowed from it). */
struct dkim_sig {
	struct dkim_tags tags;		/* the tag-list; owned */
	const char *error;		/* why it cannot be verified; NULL: it can */
	int error_fails;		/* error is a fail (expired, future),
					 * not a malformed signature (neutral) */
	const char *domain;		/* d= or NULL */
	const char *selector;		/* s= or NULL */
	const char *identity;		/* i= as written, or NULL */
	const char *algorithm;		/* a= as written, or NULL */
	const char *b64;		/* b= without whitespace, or NULL */
	const char *bh;			/* bh= without whitespace */
	const char *hlist;		/* h= without whitespace */
	enum dkim_sig_alg alg;		/* a= */
	enum sign_canon hcanon;		/* c= header part */
	enum sign_canon bcanon;		/* c= body part */
	unsigned long long length;	/* l=, DKIM_SIG_NOLIMIT when absent */
	unsigned char *sig;		/* b= decoded; owned */
	size_t siglen;
};

/*
 * dkim_sig_parse - read the value of a DKIM-Signature field (as received,
 * folds and all) and check it at time now. Fills s (free it with
 * dkim_sig_free) whatever the outcome; s->error says what is wrong.
 */
void dkim_sig_parse(struct dkim_sig *s, const char *value, time_t now);
/* dkim_sig_free - release a parsed signature */
void dkim_sig_free(struct dkim_sig *s);
/*
 * dkim_sig_strip_b - append value to out with the b= tag's value (and the
 * whitespace around it) deleted, as the header hash takes the field
 * (RFC 6376 3.7); value must be a valid tag-list.
 */
void dkim_sig_strip_b(const char *value, struct buf *out);
/* dkim_sig_b64_decode - decode base64 (no whitespace) into a new buffer; -1 if malformed */
int dkim_sig_b64_decode(const char *s, unsigned char **out, size_t *outlen);
/* dkim_sig_has_domain - is name d itself or a subdomain of d (case-insensitive)? */
int dkim_sig_has_domain(const char *name, const char *d);

#endif
