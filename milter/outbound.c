/*
 * outbound.c - plan and make the DKIM signatures of an outbound message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"
#include "outbound.h"
#include "xalloc.h"

/* outbound_plan - add a domain's preferred RSA and Ed25519 keys */
static void
outbound_plan(struct outbound *o, const struct config *c,
    const struct config_domain *d, time_t now)
{
	const struct key *k;
	char why[256];
	size_t used;
	int t;

	for (t = KEY_RSA; t <= KEY_ED25519; t++) {
		k = keys_select(d->keys, d->nkeys, (enum key_type)t, now,
		    c->unpublished_keys == CONFIG_UNPUBLISHED_SIGN, why, sizeof(why));
		if (why[0] != '\0') {
			used = strlen(o->why);
			snprintf(o->why + used, sizeof(o->why) - used, "%s%s: %s%s",
			    used ? "; " : "", d->name, why, k != NULL ?
			    (keys_pub_get(k) == KEY_PUB_PUBLISHED ||
			    keys_pub_get(k) == KEY_PUB_UNCHECKED ||
			    keys_pub_get(k) == KEY_PUB_UNKNOWN ? "" :
			    " (no published key: signing with the first anyway)") :
			    " (no published key: not signing)");
		}
		if (k == NULL || o->nsigs == OUTBOUND_MAX_SIGS)
			continue;
		o->sigs[o->nsigs].dom = d;
		o->sigs[o->nsigs].key = k;
		o->nsigs++;
	}
}

/* outbound_begin - plan signatures and start the body hashes */
struct outbound *
outbound_begin(const struct config *c, const struct config_domain *d,
    time_t now)
{
	struct outbound *o = xcalloc(1, sizeof(*o));
	size_t i;
	int bc;

	if (d != NULL)
		outbound_plan(o, c, d, now);
	if (c->platform != NULL && c->platform != d)
		outbound_plan(o, c, c->platform, now);
	for (i = 0; i < o->nsigs; i++) {
		bc = o->sigs[i].dom->bcanon;
		if (o->body[bc] == NULL)
			o->body[bc] = sign_body_new((enum sign_canon)bc);
		if (o->body[bc] == NULL) {
			outbound_free(o);
			return NULL;
		}
	}
	return o;
}

/* outbound_body - feed a chunk to every body hash */
int
outbound_body(struct outbound *o, const unsigned char *data, size_t len)
{
	int i;

	for (i = 0; i < 2; i++)
		if (o->body[i] != NULL && sign_body_update(o->body[i], data, len) != 0)
			return -1;
	return 0;
}

/* outbound_finish - make every planned signature */
int
outbound_finish(struct outbound *o, const struct sign_header *hdrs,
    size_t nhdrs, time_t now, char *err, size_t errlen)
{
	const struct config_domain *d;
	struct sign_request req;
	struct buf v = BUF_INIT;
	size_t i;
	int bc;

	for (bc = 0; bc < 2; bc++)
		if (o->body[bc] != NULL && sign_body_final(o->body[bc], o->bh[bc]) != 0) {
			snprintf(err, errlen, "body hash failed");
			return -1;
		}
	for (i = 0; i < o->nsigs; i++) {
		d = o->sigs[i].dom;
		memset(&req, 0, sizeof(req));
		req.domain = d->name;
		req.selector = o->sigs[i].key->selector;
		req.key = o->sigs[i].key->pkey;
		req.alg = o->sigs[i].key->type == KEY_ED25519 ?
		    SIGN_ALG_ED25519_SHA256 : SIGN_ALG_RSA_SHA256;
		req.hcanon = o->relaxed_headers ? SIGN_CANON_RELAXED
		    : (enum sign_canon)d->hcanon;
		req.bcanon = (enum sign_canon)d->bcanon;
		req.headers = (const char *const *)d->signed_headers.v;
		req.nheaders = d->signed_headers.n;
		req.oversign = (const char *const *)d->oversign_headers.v;
		req.noversign = d->oversign_headers.n;
		req.timestamp = now;
		req.ttl = d->signature_ttl;
		buf_reset(&v);
		if (sign_header_value(&req, hdrs, nhdrs, o->bh[d->bcanon], &v,
		    err, errlen) != 0) {
			buf_free(&v);
			return -1;
		}
		o->sigs[i].value = xstrdup(buf_cstr(&v));
	}
	buf_free(&v);
	return 0;
}

/* outbound_return_path - rewrite MAIL FROM into the custom bounce domain */
enum bounce_status
outbound_return_path(const struct config *c, const struct config_domain *d,
    const char *envfrom, time_t now, struct buf *out)
{
	if (d == NULL || d->bounce_domain == NULL || d->bounce_domain[0] == '\0')
		return BOUNCE_NOT_OURS;
	return bounce_encode(&c->secrets, envfrom, d->bounce_domain, now, out);
}

/* outbound_free - release */
void
outbound_free(struct outbound *o)
{
	size_t i;

	if (o == NULL)
		return;
	for (i = 0; i < o->nsigs; i++)
		free(o->sigs[i].value);
	sign_body_free(o->body[0]);
	sign_body_free(o->body[1]);
	free(o);
}
