/*
 * outbound.h - the signing path of one message.
 *
 * outbound_begin plans the signatures (author domain: its preferred RSA
 * key and, if it has one, an Ed25519 key; the platform domain's likewise,
 * as mode_decide chose them)
 * and starts one streaming body hash per body canonicalization needed;
 * outbound_body feeds body chunks; outbound_finish makes the signatures
 * and outbound_return_path the sender change, as edits (edit.h) for the
 * callbacks to apply. Owned by the connection's thread; memory does not
 * grow with the body.
 */
#ifndef AUTHMILTER_OUTBOUND_H
#define AUTHMILTER_OUTBOUND_H

#include <stddef.h>

#include <time.h>

#include "policy/config.h"
#include "base/edit.h"
#include "auth/sign.h"

#define OUTBOUND_MAX_SIGS 4

struct outbound_sig {
	const struct config_domain *dom;	/* signing domain block (borrowed) */
	const struct key *key;			/* key used (borrowed) */
};

struct outbound {
	struct outbound_sig sigs[OUTBOUND_MAX_SIGS];	/* planned signatures */
	size_t nsigs;
	struct sign_body *body[2];	/* per body canonicalization, or NULL */
	unsigned char bh[2][SIGN_HASH_LEN];	/* finished body hashes */
	char why[512];			/* keys skipped while planning, for the log */
	int relaxed_headers;		/* header values arrive without their
					 * leading space (no PROTO_P_HDR_LEADSPC):
					 * simple header canonicalization would
					 * sign what the MTA does not write */
};

/*
 * outbound_begin - plan signatures for the author block d and the
 * platform block (either may be NULL; mode_decide picks both).
 * space_stripped: the MTA passes header values without their leading
 * space (no SMFIP_HDR_LEADSPC), so simple header canonicalization would
 * sign what the MTA does not write: relaxed is used. NULL when there is
 * nothing to sign with (logged), and *failed set when signing could not
 * start (an internal error, logged).
 */
struct outbound *outbound_begin(const struct config *c,
    const struct config_domain *d, const struct config_domain *platform,
    time_t now, const char *qid, int space_stripped, int *failed);
/* outbound_body - hash a body chunk; 0 or -1 */
int outbound_body(struct outbound *o, const unsigned char *data, size_t len);
/*
 * outbound_finish - make every signature and append their insertions to
 * edits, the author's on top; 0, or -1 (logged)
 */
int outbound_finish(struct outbound *o, const struct sign_header *hdrs,
    size_t nhdrs, time_t now, const char *qid, struct edit_list *edits);
/*
 * outbound_return_path - append the envelope sender's change into block
 * d's bounce domain (keeping the ESMTP args) to edits, when there is one
 * to make; a sender that cannot be encoded is kept (logged). A sender too
 * long for the stateless form is kept in map (bounce_store; NULL: none)
 * and rewritten to the stored form; the store failing keeps the sender
 * (logged, counted). 0, or -1 on an internal error (logged).
 */
int outbound_return_path(const struct config *c,
    const struct config_domain *d, const char *envfrom, const char *args,
    time_t now, const char *qid, const struct bounce_map *map,
    struct edit_list *edits);
/*
 * outbound_choose - block d's keys that would sign at now: k[KEY_RSA] and
 * k[KEY_ED25519] (NULL: none of that type), chosen as outbound_begin
 * chooses them (keys_select, then a key whose record is known bad left out
 * when the other type has a usable one); what was skipped and why is
 * appended to notes ("DOMAIN: ...; ..."). Reads the keys' states only:
 * logs nothing (authmilterctl domain).
 */
void outbound_choose(const struct config *c, const struct config_domain *d,
    time_t now, const struct key *k[2], char *notes, size_t len);
/* outbound_free - release (NULL is fine) */
void outbound_free(struct outbound *o);

#endif
