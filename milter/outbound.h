/*
 * outbound.h - the signing path of one message.
 *
 * outbound_begin plans the signatures (author domain: its preferred RSA
 * key and, if it has one, an Ed25519 key; the platform domain's likewise)
 * and starts one streaming body hash per body canonicalization needed;
 * outbound_body feeds body chunks; outbound_finish makes the header values.
 * Owned by the connection's thread; memory does not grow with the body.
 */
#ifndef AUTHMILTER_OUTBOUND_H
#define AUTHMILTER_OUTBOUND_H

#include <stddef.h>

#include "config.h"
#include "sign.h"
#include <time.h>

#define OUTBOUND_MAX_SIGS 4

struct outbound_sig {
	const struct config_domain *dom;	/* signing domain block */
	const struct key *key;			/* key used */
	char *value;				/* DKIM-Signature value once made */
};

struct outbound {
	struct outbound_sig sigs[OUTBOUND_MAX_SIGS];	/* planned signatures */
	size_t nsigs;
	struct sign_body *body[2];	/* per body canonicalization, or NULL */
	unsigned char bh[2][SIGN_HASH_LEN];	/* finished body hashes */
	char why[512];			/* keys skipped while planning, for the log */
	int relaxed_headers;		/* header values arrive without their
					 * leading space (no SMFIP_HDR_LEADSPC):
					 * simple header canonicalization would
					 * sign what the MTA does not write */
};

/* outbound_begin - plan signatures for the author block d (and the platform) */
struct outbound *outbound_begin(const struct config *c,
    const struct config_domain *d, time_t now);
/* outbound_body - hash a body chunk; 0 or -1 */
int outbound_body(struct outbound *o, const unsigned char *data, size_t len);
/* outbound_finish - make every signature; 0, or -1 with err */
int outbound_finish(struct outbound *o, const struct sign_header *hdrs,
    size_t nhdrs, time_t now, char *err, size_t errlen);
/*
 * outbound_return_path - the rewritten envelope sender for block d, into
 * out (without <>). Returns BOUNCE_OK when the Return-Path is to be
 * changed; any other status leaves it alone (see bounce.h).
 */
enum bounce_status outbound_return_path(const struct config *c,
    const struct config_domain *d, const char *envfrom, time_t now,
    struct buf *out);
/* outbound_free - release (NULL is fine) */
void outbound_free(struct outbound *o);

#endif
