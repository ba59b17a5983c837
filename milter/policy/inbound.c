/*
 * inbound.c - sequence SPF, DKIM verification, DMARC and
 * Authentication-Results for one inbound message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "auth/authres.h"
#include "policy/inbound.h"
#include "base/log.h"
#include "base/mailaddr.h"
#include "policy/runtime.h"
#include "base/xalloc.h"

/* inbound_new - empty state */
struct inbound *
inbound_new(void)
{
	struct inbound *in = xcalloc(1, sizeof(*in));

	buf_init(&in->authres);
	buf_init(&in->received_spf);
	return in;
}

/* inbound_free - release */
void
inbound_free(struct inbound *in)
{
	if (in == NULL)
		return;
	dkim_verify_free(in->dkim);
	dkim_verify_results_free(&in->dkimres);
	if (in->dmarc_done)
		dmarc_outcome_free(&in->dmarc);
	buf_free(&in->authres);
	buf_free(&in->received_spf);
	free(in);
}

/* inbound_spf - SPF for MAIL FROM and HELO */
struct verdict
inbound_spf(struct inbound *in, const struct config *c, const char *qid,
    const char *client_ip, const char *mailfrom, const char *helo)
{
	struct runtime *rt = runtime_of(c);
	struct verdict v;

	spf_check(rt->spf, qid, client_ip, mailfrom, helo, &in->spf);
	in->spf_done = 1;
	if (c->received_spf_header)
		spf_received_header(rt->spf, &in->spf, &in->received_spf);
	v = verdict_spf_mailfrom(c, &in->spf.mailfrom);
	if (v.action == VERDICT_REJECT)
		log_info(qid, "rejected at MAIL FROM: SPF %s for %s",
		    spf_res_name(in->spf.mailfrom.res), mailfrom);
	return v;
}

/* inbound_headers - start DKIM verification */
void
inbound_headers(struct inbound *in, const struct config *c, const char *qid,
    const struct sign_header *hdrs, size_t nhdrs, int space_stripped)
{
	struct buf v = BUF_INIT;
	size_t i;

	in->dkim = dkim_verify_begin(runtime_of(c)->dkim_lib, qid);
	if (in->dkim == NULL)
		return;
	for (i = 0; i < nhdrs; i++) {
		if (!space_stripped) {
			dkim_verify_header(in->dkim, hdrs[i].name, hdrs[i].value);
			continue;
		}
		/* the MTA wrote "Name: value": give back the space it took */
		buf_reset(&v);
		buf_printf(&v, " %s", hdrs[i].value);
		dkim_verify_header(in->dkim, hdrs[i].name, buf_cstr(&v));
	}
	buf_free(&v);
	dkim_verify_eoh(in->dkim);
}

/* inbound_body - feed DKIM */
void
inbound_body(struct inbound *in, const unsigned char *data, size_t len)
{
	if (in->dkim != NULL)
		dkim_verify_body(in->dkim, data, len);
}

/* inbound_spf_auth - an SPF result as DMARC sees it */
static enum dmarc_auth
inbound_spf_auth(enum spf_res r)
{
	switch (r) {
	case SPF_RES_PASS: return DMARC_AUTH_PASS;
	case SPF_RES_FAIL: return DMARC_AUTH_FAIL;
	case SPF_RES_TEMPERROR: return DMARC_AUTH_TEMPERROR;
	case SPF_RES_PERMERROR: return DMARC_AUTH_PERMERROR;
	case SPF_RES_NONE: return DMARC_AUTH_NONE;
	default: return DMARC_AUTH_OTHER;
	}
}

/* inbound_dkim_auth - a DKIM result as DMARC sees it */
static enum dmarc_auth
inbound_dkim_auth(enum dkim_verify_res r)
{
	switch (r) {
	case DKIM_VERIFY_PASS: return DMARC_AUTH_PASS;
	case DKIM_VERIFY_FAIL: return DMARC_AUTH_FAIL;
	case DKIM_VERIFY_TEMPERROR: return DMARC_AUTH_TEMPERROR;
	case DKIM_VERIFY_PERMERROR: return DMARC_AUTH_PERMERROR;
	default: return DMARC_AUTH_OTHER;
	}
}

/* inbound_evaluate - run DMARC over the SPF and DKIM results */
static void
inbound_evaluate(struct inbound *in, const struct config *c,
    const char *from_domain, struct dmarc_dkim *dd)
{
	struct dmarc_input di;
	size_t i;

	memset(&di, 0, sizeof(di));
	di.from_domain = from_domain;
	di.spf = in->spf_done ? inbound_spf_auth(in->spf.mailfrom.res)
	    : DMARC_AUTH_NONE;
	di.spf_domain = in->spf_done ? in->spf.mailfrom.domain : NULL;
	for (i = 0; i < in->dkimres.n; i++) {
		dd[i].result = inbound_dkim_auth(in->dkimres.sig[i].res);
		dd[i].domain = in->dkimres.sig[i].domain;
		dd[i].selector = in->dkimres.sig[i].selector;
		dd[i].partial = in->dkimres.sig[i].unsigned_bytes > 0;
	}
	di.dkim = dd;
	di.ndkim = in->dkimres.n;
	dmarc_evaluate(runtime_of(c)->dmarc, &di, &in->dmarc);
	in->dmarc_done = 1;
}

/* inbound_authres - build the Authentication-Results value */
static void
inbound_authres(struct inbound *in, const struct config *c,
    const char *from_problem)
{
	struct authres_input ai;
	struct authres_dkim *ad;
	const struct dmarc_outcome *o = &in->dmarc;
	size_t i;

	memset(&ai, 0, sizeof(ai));
	ai.authserv_id = c->authserv_id;
	if (in->spf_done) {
		ai.mailfrom.result = spf_res_name(in->spf.mailfrom.res);
		ai.mailfrom.identity = in->spf.mailfrom.identity[0] ?
		    in->spf.mailfrom.identity : NULL;
		if (in->spf.helo.identity[0] != '\0') {
			ai.helo.result = spf_res_name(in->spf.helo.res);
			ai.helo.identity = in->spf.helo.identity;
		}
	}
	ad = xcalloc(in->dkimres.n + 1, sizeof(*ad));
	for (i = 0; i < in->dkimres.n; i++) {
		ad[i].result = dkim_verify_res_name(in->dkimres.sig[i].res);
		ad[i].domain = in->dkimres.sig[i].domain;
		ad[i].selector = in->dkimres.sig[i].selector;
		ad[i].algorithm = in->dkimres.sig[i].algorithm;
		ad[i].b = in->dkimres.sig[i].b;
		ad[i].comment = in->dkimres.sig[i].reason[0] ?
		    in->dkimres.sig[i].reason : NULL;
	}
	ai.dkim = ad;
	ai.ndkim = in->dkimres.n;
	ai.dmarc.result = dmarc_result_name(o->result);
	ai.dmarc.from_domain = o->from_domain[0] ? o->from_domain : NULL;
	ai.dmarc.comment = from_problem;
	if (o->have_record) {
		ai.dmarc.p = o->source == DMARC_SOURCE_RUA_FALLBACK ? "none" :
		    dmarc_policy_name(o->record.p);
		ai.dmarc.sp = o->record.sp != DMARC_POLICY_UNSET ?
		    dmarc_policy_name(o->record.sp) : NULL;
		ai.dmarc.disposition = dmarc_policy_name(o->disposition);
	}
	if (authres_build(&ai, &in->authres) < 0)
		buf_reset(&in->authres);
	free(ad);
}

/* inbound_edits - the fields to add, and the quarantine, of an accepted message */
static void
inbound_edits(const struct inbound *in, struct edit_list *edits)
{
	const struct verdict *v = &in->verdict;
	struct edit *e;

	/* each inserted on top: the A-R ends up above Received-SPF */
	if (in->received_spf.len > 0)
		edit_add(edits, EDIT_HEADER_INSERT, "Received-SPF",
		    buf_cstr(&in->received_spf));
	if (in->authres.len > 0)
		edit_add(edits, EDIT_HEADER_INSERT, "Authentication-Results",
		    buf_cstr(&in->authres));
	if (v->quarantine == VERDICT_Q_HOLD) {
		e = edit_add(edits, EDIT_QUARANTINE, INBOUND_QUARANTINE_FIELD,
		    v->text);
		edit_note(e, LOG_NOTICE, "quarantined: %s", v->text);
	} else if (v->quarantine == VERDICT_Q_HEADER) {
		e = edit_add(edits, EDIT_HEADER_INSERT, INBOUND_QUARANTINE_FIELD,
		    v->text);
		edit_note(e, LOG_NOTICE, "marked for quarantine: %s", v->text);
	}
}

/* inbound_finish - DMARC, A-R, the verdict and the edits */
void
inbound_finish(struct inbound *in, const struct config *c, const char *qid,
    const char *from_domain, const char *from_problem, struct edit_list *edits)
{
	struct dmarc_dkim *dd;
	const struct verdict *v = &in->verdict;

	if (in->dkim != NULL && dkim_verify_eom(in->dkim, &in->dkimres) != 0)
		log_warn(qid, "DKIM verification failed internally");
	dd = xcalloc(in->dkimres.n + 1, sizeof(*dd));
	inbound_evaluate(in, c, from_domain, dd);
	free(dd);
	inbound_authres(in, c, from_domain == NULL ? from_problem : NULL);
	if (from_domain == NULL)
		in->verdict = verdict_bad_from(c, from_problem ? from_problem
		    : "no usable From");
	else
		in->verdict = verdict_dmarc(c, &in->dmarc);
	if (in->dmarc.pct_ignored)
		log_notice(qid, "DMARC record of %s has pct=%d, which RFC 9989 "
		    "dropped: its policy is applied in full (t=y is how a "
		    "domain tests now; dmarc_mode = rfc7489 honours pct)",
		    in->dmarc.policy_domain, in->dmarc.record.pct);
	(void)snprintf(in->summary, sizeof(in->summary), "spf=%s dkim=%zu/%zu "
	    "dmarc=%s (%s)",
	    in->spf_done ? spf_res_name(in->spf.mailfrom.res) : "skipped",
	    in->dkimres.n, in->dkimres.total, dmarc_result_name(in->dmarc.result),
	    in->dmarc.reason);
	log_info(qid, "verified: %s", in->summary);
	if (v->action == VERDICT_REJECT || v->action == VERDICT_TEMPFAIL)
		log_notice(qid, "%s: %s %s %s", v->action == VERDICT_REJECT ?
		    "rejected" : "tempfailed", v->rcode, v->xcode, v->text);
	else
		inbound_edits(in, edits);
}

/* inbound_bounce_edits - deliver a genuine bounce to the original sender */
void
inbound_bounce_edits(const char *rcpt, const char *original, time_t issued,
    const char *status, struct edit_list *edits)
{
	struct buf addr = BUF_INIT, hdr = BUF_INIT;
	/* smtpd passes "<addr>", cleanup's sendmail path a bare addr */
	int bare = rcpt[0] != '<';
	struct edit *e;
	struct tm tm;
	char day[16];

	buf_printf(&addr, "<%s>", original);
	if (gmtime_r(&issued, &tm) == NULL
	    || strftime(day, sizeof(day), "%Y-%m-%d", &tm) == 0)
		(void)snprintf(day, sizeof(day), "unknown");
	buf_printf(&hdr, "rcpt=%s%s%s; original=%s; issued=%s%s", bare ? "<" : "",
	    rcpt, bare ? ">" : "", buf_cstr(&addr), day, status != NULL
	    ? status : "");
	edit_add(edits, EDIT_RCPT_DELETE, NULL, rcpt);
	edit_add(edits, EDIT_RCPT_ADD, NULL, buf_cstr(&addr));
	e = edit_add(edits, EDIT_HEADER_INSERT, INBOUND_BOUNCE_FIELD,
	    buf_cstr(&hdr));
	edit_note(e, LOG_INFO, "bounce to %s delivered to %s", rcpt,
	    buf_cstr(&addr));
	buf_free(&addr);
	buf_free(&hdr);
}

/*
 * inbound_bounce_stored - a stored-form address whose MAC verified: its
 * token looked up. Unknown (never issued, or pruned) is as forged as a bad
 * MAC; a store that fails or is too slow tempfails the bounce (it comes
 * back), never refuses it.
 */
static enum bounce_status
inbound_bounce_stored(const struct config *c, const struct config_domain *d,
    const struct bounce_map *map, const char *qid, time_t now,
    struct buf *original, struct bounce_info *info)
{
	struct buf bdom = BUF_INIT;
	time_t created = 0;
	char err[512];
	int found;

	if (map == NULL) {
		info->detail = "no bounce store to look the token up";
		return BOUNCE_BAD_MAC;
	}
	if (bounce_domain_norm(d->bounce_domain, &bdom) != 0) {
		buf_free(&bdom);
		return BOUNCE_INTERNAL;
	}
	found = map->get(map->arg, info->token, buf_cstr(&bdom), original,
	    &created, err, sizeof(err));
	buf_free(&bdom);
	if (found < 0) {
		log_warn(qid, "bounce token %s cannot be looked up now: %s",
		    info->token, err);
		info->detail = "bounce store unavailable";
		return BOUNCE_INTERNAL;
	}
	if (found == 0) {
		info->detail = "unknown token";
		return BOUNCE_BAD_MAC;
	}
	info->issued = created;
	info->age_days = (long)((now - created) / 86400);
	if (now - created > c->bounce_max_age) {
		info->detail = "token older than bounce_max_age";
		buf_reset(original);
		return BOUNCE_EXPIRED;
	}
	return BOUNCE_OK;
}

/* inbound_bounce_rcpt - check a recipient in a custom bounce domain */
enum bounce_status
inbound_bounce_rcpt(const struct config *c, const char *rcpt, time_t now,
    const struct bounce_map *map, const char *qid, struct buf *original,
    struct bounce_info *info)
{
	char *dom = mailaddr_envelope_domain(rcpt);
	const struct config_domain *d = config_find_bounce_domain(c, dom);
	enum bounce_status st = BOUNCE_NOT_OURS;
	struct buf local = BUF_INIT;
	int altered;
	size_t i;

	memset(info, 0, sizeof(*info));
	free(dom);
	if (d == NULL)
		return BOUNCE_NOT_OURS;
	/*
	 * Judged as the MTA will deliver it: a quoted or escaped spelling of
	 * a bounce address is never ours, and in a bounce domain everything
	 * but a genuine address (and the role addresses let through) is
	 * refused, so no spelling slips past.
	 */
	bounce_local_unquoted(rcpt, &local, &altered);
	for (i = 0; i < c->bounce_pass_local.n; i++)
		if (strcasecmp(c->bounce_pass_local.v[i], buf_cstr(&local)) == 0) {
			buf_free(&local);
			return BOUNCE_NOT_OURS;
		}
	buf_free(&local);
	if (altered) {
		info->detail = "quoted or escaped local part";
		return BOUNCE_UNKNOWN_LOCAL;
	}
	st = bounce_decode(&c->secrets, rcpt, d->bounce_domain, now,
	    c->bounce_max_age, original, info);
	if (st == BOUNCE_STORED)
		st = inbound_bounce_stored(c, d, map, qid, now, original, info);
	return st == BOUNCE_NOT_OURS ? BOUNCE_UNKNOWN_LOCAL : st;
}
