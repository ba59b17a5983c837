/*
 * callbacks.c - the xxfi_* callbacks: fetch state, call modules, return.
 *
 * The engine serves each connection in one thread; a callback touches
 * only its connection's state (struct state_conn) and the pinned,
 * immutable configuration snapshot. Answers to commands negotiated
 * "no reply" (connect, helo, headers, body chunks) are dropped by the
 * engine, so those callbacks just return ENGINE_CONTINUE.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "callbacks.h"
#include "clock.h"
#include "log.h"
#include "mode.h"
#include "mta.h"
#include "forgery.h"
#include "inbound.h"
#include "outbound.h"
#include "runtime.h"
#include "state.h"
#include "verdict.h"
#include "xalloc.h"

/*
 * Actions and protocol steps we ask the MTA for. No replies to CONNECT,
 * HELO, headers, end of headers and body chunks (and MAIL and RCPT, see
 * cb_proto_now): the MTA streams a message to us and waits only for the
 * end-of-message reply.
 * An MTA that does not offer NR_EOH still gets our ACCEPT at end of
 * headers for mail we have no more interest in, and skips the body.
 */
#define CB_ACTIONS (PROTO_F_ADDHDRS | PROTO_F_CHGHDRS)	/* required */
#define CB_ACTIONS_WANT (CB_ACTIONS | PROTO_F_QUARANTINE | PROTO_F_CHGFROM \
	| PROTO_F_ADDRCPT | PROTO_F_DELRCPT)
#define CB_PROTO_WANT (PROTO_P_HDR_LEADSPC | PROTO_P_NR_HDR | PROTO_P_NR_BODY \
	| PROTO_P_NR_CONN | PROTO_P_NR_HELO | PROTO_P_NR_EOH \
	| PROTO_P_NOUNKNOWN | PROTO_P_NODATA)

/*
 * cb_proto_now - the replies this connection can do without, given the
 * running configuration: none to MAIL FROM unless SPF fail is refused
 * there (spf_fail_action = reject), none to RCPT TO unless a bounce domain
 * is configured (forged bounces are refused there). The usual signed
 * message then takes one round trip, its end. A refusal that a reload
 * makes possible on a connection negotiated before it is given at the
 * next command that takes a reply (engine.h: held refusals).
 */
static unsigned long
cb_proto_now(void)
{
	struct config *c = config_acquire();
	unsigned long p = 0;

	if (c != NULL && c->spf_fail_action != CONFIG_SPF_ACTION_REJECT)
		p |= PROTO_P_NR_MAIL;
	if (c != NULL && c->nbounce == 0)
		p |= PROTO_P_NR_RCPT;
	config_release(c);
	return p;
}

/* cb_status - a verdict as an engine status, setting the reply */
static enum engine_status
cb_status(struct engine_session *ctx, const char *qid, struct verdict v)
{
	switch (v.action) {
	case VERDICT_CONTINUE:
		return ENGINE_CONTINUE;
	case VERDICT_ACCEPT:
		return ENGINE_ACCEPT;
	case VERDICT_TEMPFAIL:
		if (v.rcode != NULL)
			mta_set_reply(ctx, qid, v.rcode, v.xcode, v.text[0] ? v.text : NULL);
		return ENGINE_TEMPFAIL;
	case VERDICT_REJECT:
		if (v.rcode != NULL)
			mta_set_reply(ctx, qid, v.rcode, v.xcode, v.text[0] ? v.text : NULL);
		return ENGINE_REJECT;
	}
	return ENGINE_TEMPFAIL;
}

/* cb_conn - this connection's state; NULL if it was never set up */
static struct state_conn *
cb_conn(struct engine_session *ctx)
{
	return mta_get_state(ctx);
}

/* cb_connect - pin the configuration, remember the client */
static enum engine_status
cb_connect(struct engine_session *ctx, const char *host, const char *addr)
{
	struct state_conn *c = cb_conn(ctx);

	if (c == NULL) {
		c = state_conn_new();
		mta_set_state(ctx, c);
	}
	if (c->cfg == NULL) {
		/* no reply is sent to CONNECT: MAIL FROM tempfails (cfg NULL) */
		log_err(NULL, "no configuration loaded");
		return ENGINE_TEMPFAIL;
	}
	snprintf(c->client_addr, sizeof(c->client_addr), "%s",
	    addr != NULL ? addr : "");
	free(c->client_host);
	c->client_host = xstrdup(host ? host : "");
	return ENGINE_CONTINUE;
}

/* cb_helo - remember the HELO name */
static enum engine_status
cb_helo(struct engine_session *ctx, const char *helo)
{
	struct state_conn *c = cb_conn(ctx);

	if (c == NULL)
		return ENGINE_CONTINUE;
	free(c->helo);
	c->helo = xstrdup(helo ? helo : "");
	return ENGINE_CONTINUE;
}

/* cb_envfrom - start a message */
static enum engine_status
cb_envfrom(struct engine_session *ctx, char **argv)
{
	struct state_conn *c = cb_conn(ctx);
	struct state_msg *m;
	struct verdict v;
	const char *auth;
	enum engine_status rc;

	if (c == NULL)
		return ENGINE_TEMPFAIL;
	m = state_msg_new(c);
	if (c->cfg == NULL) {		/* shutting down */
		state_msg_end(c);
		return ENGINE_TEMPFAIL;
	}
	state_msg_set_qid(m, mta_macro(ctx, "i"));
	m->envfrom = xstrdup(argv && argv[0] ? argv[0] : "<>");
	if (argv != NULL && argv[0] != NULL && argv[1] != NULL) {
		struct buf args = BUF_INIT;
		int i;

		/* the MTA takes only these back with a changed sender (Postfix:
		 * RET and ENVID; SIZE and BODY stay with the queue file) */
		for (i = 1; argv[i] != NULL; i++)
			if (strncasecmp(argv[i], "RET=", 4) == 0
			    || strncasecmp(argv[i], "ENVID=", 6) == 0)
				buf_printf(&args, "%s%s", args.len ? " " : "", argv[i]);
		m->envfrom_args = args.len ? buf_steal(&args) : NULL;
		buf_free(&args);
	}
	auth = mta_macro(ctx, "{auth_authen}");
	if (auth != NULL && *auth != '\0')
		m->auth_authen = xstrdup(auth);
	m->trusted = mode_trusted(c->cfg, m->auth_authen,
	    c->client_addr[0] ? c->client_addr : NULL);
	if (m->trusted || runtime_of(c->cfg) == NULL)
		return ENGINE_CONTINUE;
	m->in = inbound_new();
	v = inbound_spf(m->in, c->cfg, m->qid, c->client_addr, m->envfrom,
	    c->helo ? c->helo : "");
	if (v.action == VERDICT_REJECT) {
		log_info(m->qid, "rejected at MAIL FROM: SPF %s for %s",
		    spf_res_name(m->in->spf.mailfrom.res), m->envfrom);
		rc = cb_status(ctx, m->qid, v);
		state_msg_end(c);
		return rc;
	}
	return ENGINE_CONTINUE;
}

/* cb_envrcpt - refuse forged bounces to our bounce domains, remember real ones */
static enum engine_status
cb_envrcpt(struct engine_session *ctx, char **argv)
{
	struct state_conn *c = cb_conn(ctx);
	struct state_msg *m;
	struct buf orig = BUF_INIT;
	struct bounce_info info;
	enum bounce_status st;
	struct verdict v;

	if (c == NULL || (m = c->msg) == NULL || argv == NULL || argv[0] == NULL)
		return ENGINE_CONTINUE;
	state_msg_set_qid(m, mta_macro(ctx, "i"));
	st = inbound_bounce_rcpt(c->cfg, argv[0], clock_now(), &orig, &info);
	if (st == BOUNCE_OK) {
		state_msg_add_bounce(m, argv[0], buf_cstr(&orig), info.issued);
		log_info(m->qid, "bounce to %s: genuine, returns to <%s> (%ld days "
		    "old)", argv[0], buf_cstr(&orig), info.age_days);
	} else if (st != BOUNCE_NOT_OURS && m->trusted) {
		/*
		 * Our own clients (and Postfix's sendmail(1) path, which cannot
		 * take a recipient reject) are not refused: the address is
		 * delivered as addressed.
		 */
		log_notice(m->qid, "bounce to %s from a trusted client not "
		    "refused: %s", argv[0], bounce_status_text(st));
		st = BOUNCE_NOT_OURS;
	} else if (st != BOUNCE_NOT_OURS) {
		log_notice(m->qid, "bounce to %s refused: %s%s%s", argv[0],
		    bounce_status_text(st), info.detail != NULL ? ": " : "",
		    info.detail != NULL ? info.detail : "");
	}
	buf_free(&orig);
	v = verdict_bounce_rcpt(st);
	return cb_status(ctx, m->qid, v);
}

/* cb_header - keep each header for signing */
static enum engine_status
cb_header(struct engine_session *ctx, const char *name, const char *value)
{
	struct state_conn *c = cb_conn(ctx);

	if (c == NULL || c->msg == NULL)
		return ENGINE_CONTINUE;
	if (state_msg_add_header(c->msg, name, value ? value : "") != 0
	    && c->msg->hdr_overflow == 1) {
		c->msg->hdr_overflow = 2;	/* log once */
		log_warn(c->msg->qid, "headers exceed %u bytes; the message "
		    "will be refused", STATE_MAX_HEADER_BYTES);
	}
	return ENGINE_CONTINUE;
}

/* cb_delete_forged - delete the fields that claim to be ours (forgery.h), one log line */
static int
cb_delete_forged(struct engine_session *ctx, struct state_msg *m)
{
	char what[160];
	size_t i;

	for (i = 0; i < m->forged.ndel; i++)
		if (mta_delete_header(ctx, m->qid, m->forged.del[i].name,
		    m->forged.del[i].idx) != 0)
			return -1;
	if (m->forged.ndel > 0) {
		forgery_summary(&m->forged, what, sizeof(what));
		log_notice(m->qid, "removed forged header fields: %s", what);
	}
	return 0;
}

/*
 * cb_eoh_done - nothing more to do with this message, unless it is a
 * bounce to rewrite or carries forged fields to remove (also from our
 * own users: RFC 8601 5, removal at the boundary)
 */
static enum engine_status
cb_eoh_done(const struct state_msg *m)
{
	return m->nbounces > 0 || m->forged.ndel > 0 ? ENGINE_CONTINUE
	    : ENGINE_ACCEPT;
}

/*
 * cb_eoh_refuse - a header too large to have been checked whole, or more
 * forged fields than max_forged_headers: refused, never edited through
 */
static int
cb_eoh_refuse(struct engine_session *ctx, struct state_conn *c,
    struct state_msg *m, enum engine_status *rc)
{
	const struct config *cfg = c->cfg;
	struct verdict v;
	char what[160];

	if (m->hdr_overflow) {
		v = verdict_header_overflow(STATE_MAX_HEADER_BYTES);
		log_notice(m->qid, "refused: %s %s %s", v.rcode, v.xcode, v.text);
		*rc = cb_status(ctx, m->qid, v);
		return 1;
	}
	forgery_scan(cfg->authserv_id, m->trusted,
	    (size_t)cfg->max_forged_headers, m->hdrs, m->nhdrs, &m->forged);
	if (!m->forged.over)
		return 0;
	forgery_summary(&m->forged, what, sizeof(what));
	v = verdict_forged_headers(cfg);
	log_notice(m->qid, "refused: %s %s %s (at least %s)", v.rcode, v.xcode,
	    v.text, what);
	*rc = cb_status(ctx, m->qid, v);
	return 1;
}

/* cb_eoh - decide: sign or pass through */
static enum engine_status
cb_eoh(struct engine_session *ctx)
{
	struct state_conn *c = cb_conn(ctx);
	struct state_msg *m;
	struct mode_input in;
	enum engine_status rc;
	size_t i;

	if (c == NULL || (m = c->msg) == NULL)
		return ENGINE_CONTINUE;
	state_msg_set_qid(m, mta_macro(ctx, "i"));
	if (cb_eoh_refuse(ctx, c, m, &rc))
		return rc;
	memset(&in, 0, sizeof(in));
	in.auth_authen = m->auth_authen;
	in.client_addr = c->client_addr[0] ? c->client_addr : NULL;
	in.nfrom = m->nfrom;
	in.envelope_from = m->envfrom;
	for (i = 0; i < m->nhdrs; i++)
		if (strcasecmp(m->hdrs[i].name, "From") == 0)
			in.from_value = m->hdrs[i].value;
	mode_decide(c->cfg, &in, &m->mode);
	if (m->mode.unauthorized != NULL
	    && c->cfg->unauthorized_from == CONFIG_UNAUTHORIZED_REJECT) {
		struct verdict v = verdict_unauthorized(m->mode.unauthorized->name);

		log_notice(m->qid, "refused: %s; %s %s %s", m->mode.reason,
		    v.rcode, v.xcode, v.text);
		return cb_status(ctx, m->qid, v);
	}
	log_info(m->qid, "%s", m->mode.reason);
	if (m->mode.kind != MODE_SIGN) {
		if (m->trusted || m->in == NULL)
			return cb_eoh_done(m);	/* our own users' mail: not judged */
		inbound_headers(m->in, c->cfg, m->qid, m->hdrs, m->nhdrs,
		    !mta_header_leading_space(ctx));
		return ENGINE_CONTINUE;
	}
	m->out = outbound_begin(c->cfg, m->mode.domain, clock_now());
	if (m->out == NULL) {
		log_err(m->qid, "cannot start signing");
		m->eoh_failed = 1;	/* answered at end of message */
		return ENGINE_CONTINUE;
	}
	if (m->out->why[0] != '\0')
		log_warn(m->qid, "%s", m->out->why);
	if (!mta_header_leading_space(ctx)) {
		/* a signature known to be invalid is never made */
		m->out->relaxed_headers = 1;
		log_info(m->qid, "the MTA does not pass header leading spaces "
		    "(SMFIP_HDR_LEADSPC): signing with relaxed header "
		    "canonicalization");
	}
	if (m->out->nsigs == 0) {
		log_warn(m->qid, "not signed: no usable key for %s",
		    m->mode.domain != NULL ? m->mode.domain->name
		    : "the platform domain");
		outbound_free(m->out);
		m->out = NULL;
		return cb_eoh_done(m);
	}
	return ENGINE_CONTINUE;
}

/* cb_body - hash a body chunk */
static enum engine_status
cb_body(struct engine_session *ctx, const unsigned char *data, size_t len)
{
	struct state_conn *c = cb_conn(ctx);
	struct state_msg *m;

	if (c == NULL || (m = c->msg) == NULL)
		return ENGINE_CONTINUE;
	if (m->in != NULL && m->out == NULL)
		inbound_body(m->in, data, len);
	else if (m->out != NULL && !m->body_failed
	    && outbound_body(m->out, data, len) != 0) {
		/* acted on at end of message (no reply is sent per chunk) */
		log_err(m->qid, "body hashing failed");
		m->body_failed = 1;
	}
	return ENGINE_CONTINUE;
}

/* cb_eom_verify - judge an inbound message and write the results */
static enum engine_status
cb_eom_verify(struct engine_session *ctx, struct state_conn *c, struct state_msg *m)
{
	struct inbound *in = m->in;
	struct verdict v;

	inbound_finish(in, c->cfg, m->qid, m->mode.from_domain,
	    m->mode.from_problem);
	v = in->verdict;
	log_info(m->qid, "verified: %s", in->summary);
	if (v.action == VERDICT_REJECT || v.action == VERDICT_TEMPFAIL) {
		log_notice(m->qid, "%s: %s %s %s", v.action == VERDICT_REJECT ?
		    "rejected" : "tempfailed", v.rcode, v.xcode, v.text);
		return cb_status(ctx, m->qid, v);
	}
	if (cb_delete_forged(ctx, m) != 0)
		return cb_status(ctx, m->qid, verdict_internal_error(c->cfg));
	if (in->received_spf.len > 0) {
		struct buf val = BUF_INIT;
		int rc;

		/* leading space: header values go to the MTA as they are */
		buf_printf(&val, " %s", buf_cstr(&in->received_spf));
		rc = mta_insert_header(ctx, m->qid, 0, "Received-SPF",
		    buf_cstr(&val));
		buf_free(&val);
		if (rc != 0)
			return cb_status(ctx, m->qid, verdict_internal_error(c->cfg));
	}
	if (in->authres.len > 0) {
		struct buf val = BUF_INIT;

		buf_printf(&val, " %s", buf_cstr(&in->authres));
		if (mta_insert_header(ctx, m->qid, 0, "Authentication-Results",
		    buf_cstr(&val)) != 0) {
			buf_free(&val);
			return cb_status(ctx, m->qid, verdict_internal_error(c->cfg));
		}
		buf_free(&val);
	}
	if (v.quarantine == VERDICT_Q_HOLD) {
		log_notice(m->qid, "quarantined: %s", v.text);
		/* an MTA that did not grant quarantine gets the header instead */
		if (mta_quarantine(ctx, m->qid, v.text) != 0)
			v.quarantine = VERDICT_Q_HEADER;
	}
	if (v.quarantine == VERDICT_Q_HEADER) {
		struct buf val = BUF_INIT;

		log_notice(m->qid, "marked for quarantine: %s", v.text);
		buf_printf(&val, " %s", v.text);
		mta_insert_header(ctx, m->qid, 0, "X-Authmilter-Quarantine",
		    buf_cstr(&val));
		buf_free(&val);
	}
	return ENGINE_CONTINUE;
}

/* cb_eom_bounces - deliver genuine bounces to the original sender */
static int
cb_eom_bounces(struct engine_session *ctx, struct state_conn *c, struct state_msg *m)
{
	struct buf addr = BUF_INIT, hdr = BUF_INIT;
	struct tm tm;
	char day[16];
	size_t i;
	int rc = 0;

	(void)c;
	for (i = 0; rc == 0 && i < m->nbounces; i++) {
		const char *r = m->bounces[i].rcpt;
		/* smtpd passes "<addr>", cleanup's sendmail path a bare addr */
		int bare = r[0] != '<';

		buf_reset(&addr);
		buf_reset(&hdr);
		buf_printf(&addr, "<%s>", m->bounces[i].original);
		if (gmtime_r(&m->bounces[i].issued, &tm) == NULL
		    || strftime(day, sizeof(day), "%Y-%m-%d", &tm) == 0)
			snprintf(day, sizeof(day), "unknown");
		buf_printf(&hdr, " rcpt=%s%s%s; original=%s; issued=%s",
		    bare ? "<" : "", r, bare ? ">" : "", buf_cstr(&addr), day);
		if (mta_del_rcpt(ctx, m->qid, m->bounces[i].rcpt) != 0
		    || mta_add_rcpt(ctx, m->qid, buf_cstr(&addr)) != 0
		    || mta_insert_header(ctx, m->qid, 0, "X-Authmilter-Bounce",
		    buf_cstr(&hdr)) != 0)
			rc = -1;
		else
			log_info(m->qid, "bounce to %s delivered to %s",
			    m->bounces[i].rcpt, buf_cstr(&addr));
	}
	buf_free(&addr);
	buf_free(&hdr);
	return rc;
}

/* cb_eom_return_path - rewrite MAIL FROM into the customer's bounce domain */
static int
cb_eom_return_path(struct engine_session *ctx, struct state_conn *c, struct state_msg *m)
{
	struct buf addr = BUF_INIT, path = BUF_INIT;
	enum bounce_status st;
	int rc = 0;

	st = outbound_return_path(c->cfg, m->mode.domain, m->envfrom,
	    clock_now(), &addr);
	if (st == BOUNCE_OK) {
		buf_printf(&path, "<%s>", buf_cstr(&addr));
		rc = mta_change_from(ctx, m->qid, buf_cstr(&path), m->envfrom_args);
		if (rc == 0)
			log_info(m->qid, "Return-Path %s rewritten to %s", m->envfrom,
			    buf_cstr(&path));
	} else if (st == BOUNCE_TOO_LONG || st == BOUNCE_BAD_SENDER) {
		log_info(m->qid, "Return-Path %s kept: %s", m->envfrom,
		    bounce_status_text(st));
	} else if (st == BOUNCE_INTERNAL) {
		log_err(m->qid, "Return-Path %s not rewritten: %s", m->envfrom,
		    bounce_status_text(st));
		rc = -1;
	}
	buf_free(&addr);
	buf_free(&path);
	return rc;
}

/* cb_eom - make and insert the signatures */
static enum engine_status
cb_eom(struct engine_session *ctx)
{
	struct state_conn *c = cb_conn(ctx);
	struct state_msg *m;
	struct outbound_sig *s;
	char err[256];
	size_t i;
	enum engine_status rc = ENGINE_CONTINUE;

	if (c != NULL && (m = c->msg) != NULL && (m->eoh_failed
	    || (m->nbounces > 0 && cb_eom_bounces(ctx, c, m) != 0))) {
		rc = cb_status(ctx, m->qid, verdict_internal_error(c->cfg));
		state_msg_end(c);
		return rc == ENGINE_ACCEPT ? ENGINE_CONTINUE : rc;
	}
	if (c != NULL && (m = c->msg) != NULL && m->in != NULL && m->out == NULL) {
		state_msg_set_qid(m, mta_macro(ctx, "i"));
		rc = cb_eom_verify(ctx, c, m);
		state_msg_end(c);
		return rc;
	}
	if (c == NULL || (m = c->msg) == NULL || m->out == NULL) {
		rc = ENGINE_CONTINUE;
		if (c != NULL && c->msg != NULL
		    && cb_delete_forged(ctx, c->msg) != 0)
			rc = cb_status(ctx, c->msg->qid,
			    verdict_internal_error(c->cfg));
		if (c != NULL)
			state_msg_end(c);
		return rc == ENGINE_ACCEPT ? ENGINE_CONTINUE : rc;
	}
	state_msg_set_qid(m, mta_macro(ctx, "i"));
	if (m->body_failed || outbound_finish(m->out, m->hdrs, m->nhdrs,
	    clock_now(), err, sizeof(err)) != 0) {
		if (m->body_failed)
			snprintf(err, sizeof(err), "body hashing failed");
		log_err(m->qid, "signing failed: %s", err);
		rc = cb_status(ctx, m->qid, verdict_internal_error(c->cfg));
		if (rc == ENGINE_ACCEPT)
			rc = ENGINE_CONTINUE;
		state_msg_end(c);
		return rc;
	}
	/* insert in reverse plan order so the author's signature ends up on top */
	for (i = m->out->nsigs; i-- > 0;) {
		s = &m->out->sigs[i];
		if (mta_insert_header(ctx, m->qid, 0, "DKIM-Signature",
		    s->value) != 0) {
			rc = cb_status(ctx, m->qid, verdict_internal_error(c->cfg));
			break;
		}
		log_info(m->qid, "signed d=%s s=%s a=%s (%d bits)", s->dom->name,
		    s->key->selector, s->key->type == KEY_ED25519 ?
		    "ed25519-sha256" : "rsa-sha256", s->key->bits);
	}
	if (rc == ENGINE_CONTINUE && (cb_eom_return_path(ctx, c, m) != 0
	    || cb_delete_forged(ctx, m) != 0))
		rc = cb_status(ctx, m->qid, verdict_internal_error(c->cfg));
	if (rc == ENGINE_ACCEPT)
		rc = ENGINE_CONTINUE;
	state_msg_end(c);
	return rc;
}

/* cb_abort - the MTA abandoned the message */
static void
cb_abort(struct engine_session *ctx)
{
	struct state_conn *c = cb_conn(ctx);

	if (c != NULL) {
		if (c->msg != NULL)
			log_debug(c->msg->qid, "message aborted by the MTA");
		state_msg_end(c);
	}
}

/* cb_close - the connection ends */
static void
cb_close(struct engine_session *ctx)
{
	struct state_conn *c = cb_conn(ctx);

	if (c != NULL) {
		mta_set_state(ctx, NULL);
		state_conn_free(c);
	}
}

static const struct engine_callbacks callbacks_desc = {
	.actions_required = CB_ACTIONS,
	.actions_wanted = CB_ACTIONS_WANT,
	.proto_wanted = CB_PROTO_WANT,
	.proto_now = cb_proto_now,
	/* The macros the callbacks read, asked for by name (SETSYMLIST), so
	 * that a main.cf without {auth_authen} in milter_mail_macros cannot
	 * turn signing off; Postfix then sends no others to this milter. */
	.macros = {
		[PROTO_M_ENVFROM] = "i {auth_authen}",
		[PROTO_M_ENVRCPT] = "i",
		[PROTO_M_EOH] = "i",
		[PROTO_M_EOM] = "i",
	},
	.connect = cb_connect,
	.helo = cb_helo,
	.envfrom = cb_envfrom,
	.envrcpt = cb_envrcpt,
	.header = cb_header,
	.eoh = cb_eoh,
	.body = cb_body,
	.eom = cb_eom,
	.abort = cb_abort,
	.close = cb_close,
};

/* callbacks_table - the filter for the engine */
const struct engine_callbacks *
callbacks_table(void)
{
	return &callbacks_desc;
}
