/*
 * outbound.c - plan and make the DKIM signatures of an outbound message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/keys.h"
#include "base/log.h"
#include "base/stats.h"
#include "policy/bouncecheck.h"
#include "policy/keyload.h"
#include "policy/outbound.h"
#include "base/xalloc.h"

/* outbound_note - append "DOMAIN: what tail" to a notes buffer */
static void
outbound_note(char *notes, size_t len, const char *domain, const char *what,
    const char *tail)
{
	size_t used = strlen(notes);

	if (used < len)
		(void)snprintf(notes + used, len - used, "%s%s: %s%s",
		    used ? "; " : "", domain, what, tail);
}

/* outbound_choose - a domain's keys that sign now, and why (see outbound.h) */
void
outbound_choose(const struct config *c, const struct config_domain *d,
    time_t now, const struct key *k[2], char *notes, size_t len)
{
	char why[256];
	int t;

	for (t = KEY_RSA; t <= KEY_ED25519; t++) {
		k[t] = keys_select(d->keys, d->nkeys, (enum key_type)t, now,
		    c->unpublished_keys == CONFIG_UNPUBLISHED_SIGN, why, sizeof(why));
		if (why[0] != '\0')
			outbound_note(notes, len, d->name, why, k[t] == NULL ?
			    " (no published key: not signing)" :
			    !keys_pub_usable(keys_pub_get(k[t])) ?
			    " (no published key: signing with the first anyway)" : "");
	}
	/*
	 * A key whose record is known wrong (truncated, mismatched, revoked)
	 * is only a last resort: it is left out when the other type has a
	 * usable key.
	 */
	for (t = KEY_RSA; t <= KEY_ED25519; t++) {
		if (k[t] != NULL && keys_pub_bad(keys_pub_get(k[t]))
		    && k[!t] != NULL && keys_pub_usable(keys_pub_get(k[!t]))) {
			outbound_note(notes, len, d->name, k[t]->selector,
			    ": known bad, left out");
			k[t] = NULL;
		}
	}
}

/* outbound_plan - add a domain's preferred RSA and Ed25519 keys */
static void
outbound_plan(struct outbound *o, const struct config *c,
    const struct config_domain *d, time_t now, const char *qid)
{
	const struct key *k[2];
	size_t i;
	int t;

	keyload_domain(c, d, qid);	/* keys not read yet: now */
	for (i = 0; i < d->nkeys; i++)	/* schedule changes are logged once */
		keys_phase_log(&d->keys[i], d->name, now, c->key_expiry_warning,
		    qid);
	outbound_choose(c, d, now, k, o->why, sizeof(o->why));
	for (t = KEY_RSA; t <= KEY_ED25519; t++) {
		if (k[t] == NULL || o->nsigs == OUTBOUND_MAX_SIGS)
			continue;
		o->sigs[o->nsigs].dom = d;
		o->sigs[o->nsigs].key = k[t];
		o->nsigs++;
	}
}

/* outbound_begin - plan signatures and start the body hashes */
struct outbound *
outbound_begin(const struct config *c, const struct config_domain *d,
    const struct config_domain *platform, time_t now, const char *qid,
    int space_stripped, int *failed)
{
	struct outbound *o = xcalloc(1, sizeof(*o));
	size_t i;
	int bc;

	*failed = 0;
	if (d != NULL)
		outbound_plan(o, c, d, now, qid);
	if (platform != NULL && platform != d)
		outbound_plan(o, c, platform, now, qid);
	/* key states are logged when they change (keycheck), not per message */
	if (o->why[0] != '\0')
		log_debug(qid, "%s", o->why);
	if (o->nsigs == 0) {
		log_warn(qid, "not signed: no usable key for %s", d != NULL
		    ? d->name : platform != NULL ? platform->name : "(none)");
		outbound_free(o);
		return NULL;
	}
	if (space_stripped) {
		/* a signature known to be invalid is never made */
		o->relaxed_headers = 1;
		log_info(qid, "the MTA does not pass header leading spaces "
		    "(SMFIP_HDR_LEADSPC): signing with relaxed header "
		    "canonicalization");
	}
	for (i = 0; i < o->nsigs; i++) {
		bc = o->sigs[i].dom->bcanon;
		if (o->body[bc] == NULL)
			o->body[bc] = sign_body_new((enum sign_canon)bc);
		if (o->body[bc] == NULL) {
			log_err(qid, "cannot start signing");
			outbound_free(o);
			*failed = 1;
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

/* outbound_request - the signing request of planned signature i */
static void
outbound_request(const struct outbound *o, size_t i, time_t now,
    struct sign_request *req)
{
	const struct config_domain *d = o->sigs[i].dom;

	memset(req, 0, sizeof(*req));
	req->domain = d->name;
	req->selector = o->sigs[i].key->selector;
	req->key = o->sigs[i].key->pkey;
	req->alg = o->sigs[i].key->type == KEY_ED25519 ?
	    SIGN_ALG_ED25519_SHA256 : SIGN_ALG_RSA_SHA256;
	req->hcanon = o->relaxed_headers ? SIGN_CANON_RELAXED
	    : (enum sign_canon)d->hcanon;
	req->bcanon = (enum sign_canon)d->bcanon;
	req->headers = (const char *const *)d->signed_headers.v;
	req->nheaders = d->signed_headers.n;
	req->oversign = (const char *const *)d->oversign_headers.v;
	req->noversign = d->oversign_headers.n;
	req->timestamp = now;
	req->ttl = d->signature_ttl;
}

/* outbound_finish - make every planned signature, as header insertions */
int
outbound_finish(struct outbound *o, const struct sign_header *hdrs,
    size_t nhdrs, time_t now, const char *qid, struct edit_list *edits)
{
	struct sign_request req;
	struct buf v = BUF_INIT;
	const struct key *k;
	struct edit *e;
	char err[256];
	size_t i;
	int bc;

	for (bc = 0; bc < 2; bc++)
		if (o->body[bc] != NULL && sign_body_final(o->body[bc], o->bh[bc]) != 0) {
			log_err(qid, "signing failed: body hash failed");
			return -1;
		}
	/* inserted in reverse plan order: the author's signature ends up on top */
	for (i = o->nsigs; i-- > 0;) {
		outbound_request(o, i, now, &req);
		buf_reset(&v);
		if (sign_header_value(&req, hdrs, nhdrs, o->bh[req.bcanon], &v,
		    err, sizeof(err)) != 0) {
			log_err(qid, "signing failed: %s", err);
			buf_free(&v);
			return -1;
		}
		/* the value starts with the space that follows the colon */
		k = o->sigs[i].key;
		e = edit_add(edits, EDIT_HEADER_INSERT, SIGN_HDR_NAME,
		    buf_cstr(&v) + (v.len > 0 && v.data[0] == ' '));
		edit_note(e, LOG_INFO, "signed d=%s s=%s a=%s (%d bits)",
		    req.domain, k->selector, sign_alg_name(req.alg), k->bits);
	}
	buf_free(&v);
	return 0;
}

/* outbound_set_sender - the edit that rewrites MAIL FROM to addr */
static void
outbound_set_sender(const char *envfrom, const char *args, const char *addr,
    const char *how, struct edit_list *edits)
{
	struct buf path = BUF_INIT;
	struct edit *e;

	buf_printf(&path, "<%s>", addr);
	e = edit_add(edits, EDIT_SENDER, NULL, buf_cstr(&path));
	edit_args(e, args);
	edit_note(e, LOG_INFO, "Return-Path %s rewritten to %s%s", envfrom,
	    buf_cstr(&path), how);
	buf_free(&path);
}

/*
 * outbound_stored - a sender too long for the stateless form: keep it in
 * the store under a random token, then rewrite to the stored form. The
 * mapping is committed before this returns, so before the message is
 * accepted (a bounce may come back within seconds). A store that fails or
 * is too slow never costs the message: it leaves with its own sender.
 */
static int
outbound_stored(const struct config *c, const struct config_domain *d,
    const char *envfrom, const char *args, time_t now, const char *qid,
    const struct bounce_map *map, struct edit_list *edits)
{
	unsigned char tok[BOUNCE_TOKEN_OCTETS];
	char text[BOUNCE_TOKEN_CHARS + 1], err[512], how[64];
	struct buf addr = BUF_INIT, orig = BUF_INIT, bdom = BUF_INIT;
	enum bounce_status st;
	int rc = 0;

	if (bounce_sender_canonical(envfrom, &orig) != BOUNCE_OK
	    || bounce_domain_norm(d->bounce_domain, &bdom) != 0)
		goto done;	/* bounce_encode said it was fine: cannot happen */
	if (map->random(map->arg, tok, sizeof(tok)) != 0) {
		log_err(qid, "Return-Path %s not rewritten: no random token",
		    envfrom);
		rc = -1;
		goto done;
	}
	st = bounce_encode_stored(&c->secrets, tok, d->bounce_domain, now,
	    &addr, text);
	if (st != BOUNCE_OK) {
		log_err(qid, "Return-Path %s not rewritten: %s", envfrom,
		    bounce_status_text(st));
		rc = -1;
	} else if (map->put(map->arg, text, buf_cstr(&bdom), buf_cstr(&orig),
	    now, err, sizeof(err)) != 0) {
		log_warn(qid, "Return-Path %s kept, not rewritten into %s: too "
		    "long for the stateless form and the bounce store failed: "
		    "%s", envfrom, d->bounce_domain, err);
		stats_inc(STATS_BOUNCE_KEPT + STATS_KEPT_STORE_FAILED);
	} else {
		(void)snprintf(how, sizeof(how), " (stored form, token %s)",
		    text);
		outbound_set_sender(envfrom, args, buf_cstr(&addr), how, edits);
		stats_inc(STATS_BOUNCE_STORED);
	}
done:
	buf_free(&addr);
	buf_free(&orig);
	buf_free(&bdom);
	return rc;
}

/* outbound_return_path - rewrite MAIL FROM into the custom bounce domain */
int
outbound_return_path(const struct config *c, const struct config_domain *d,
    const char *envfrom, const char *args, time_t now, const char *qid,
    const struct bounce_map *map, struct edit_list *edits)
{
	struct buf addr = BUF_INIT;
	enum bounce_status st;
	enum bounce_why why;

	if (d == NULL || d->bounce_domain == NULL || d->bounce_domain[0] == '\0')
		return 0;
	/* SPF would fail for it and bounces be lost; logged at each change
	 * of the domain's state, by the checker */
	if (bouncecheck_get(d, &why) == BOUNCE_HEALTH_BROKEN) {
		log_debug(qid, "Return-Path %s kept: bounce domain %s is broken "
		    "(%s)", envfrom, d->bounce_domain, bouncecheck_why_name(why));
		stats_inc(STATS_BOUNCE_KEPT + STATS_KEPT_DOMAIN_BROKEN);
		return 0;
	}
	st = bounce_encode(&c->secrets, envfrom, d->bounce_domain, now, &addr);
	if (st == BOUNCE_OK) {
		outbound_set_sender(envfrom, args, buf_cstr(&addr), "", edits);
	} else if (st == BOUNCE_TOO_LONG && c->bounce_store && map != NULL) {
		buf_free(&addr);
		return outbound_stored(c, d, envfrom, args, now, qid, map, edits);
	} else if (st == BOUNCE_TOO_LONG) {
		/* SPF alignment lost for this message: the operator's business */
		log_warn(qid, "Return-Path %s kept, not rewritten into %s: %s "
		    "(%s)", envfrom, d->bounce_domain, bounce_status_text(st),
		    c->bounce_store ? "no history store for stored bounce "
		    "addresses" : "bounce_store = no");
		stats_inc(STATS_BOUNCE_KEPT + STATS_KEPT_TOO_LONG);
	} else if (st == BOUNCE_BAD_SENDER) {
		log_info(qid, "Return-Path %s kept: %s", envfrom,
		    bounce_status_text(st));
	} else if (st == BOUNCE_INTERNAL) {
		log_err(qid, "Return-Path %s not rewritten: %s", envfrom,
		    bounce_status_text(st));
	}
	buf_free(&addr);
	return st == BOUNCE_INTERNAL ? -1 : 0;
}

/* outbound_free - release */
void
outbound_free(struct outbound *o)
{
	if (o == NULL)
		return;
	sign_body_free(o->body[0]);
	sign_body_free(o->body[1]);
	free(o);
}
