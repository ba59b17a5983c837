/*
 * callbacks.c - the engine's callbacks: fetch state, call modules, apply
 * the edits they return (cb_apply), turn their verdict into a status.
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
#include <strings.h>
#include <time.h>

#include "daemon/callbacks.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/edit.h"
#include "base/log.h"
#include "base/mailaddr.h"
#include "base/stats.h"
#include "policy/mode.h"
#include "daemon/mta.h"
#include "policy/forgery.h"
#include "policy/inbound.h"
#include "policy/outbound.h"
#include "policy/runtime.h"
#include "daemon/state.h"
#include "store/history.h"
#include "store/history_inbound.h"
#include "policy/verdict.h"
#include "base/xalloc.h"

/*
 * Actions and protocol steps we ask the MTA for. No replies to CONNECT,
 * HELO, headers, end of headers and body chunks (and MAIL and RCPT, see
 * cb_proto_now): the MTA streams a message to us and waits only for the
 * end-of-message reply.
 * An MTA that does not offer PROTO_P_NR_EOH still gets our ACCEPT at end of
 * headers for mail we have no more interest in, and skips the body.
 */
#define CB_ACTIONS (PROTO_F_ADDHDRS | PROTO_F_CHGHDRS)	/* required */
#define CB_ACTIONS_WANT (CB_ACTIONS | PROTO_F_QUARANTINE | PROTO_F_CHGFROM \
	| PROTO_F_ADDRCPT | PROTO_F_DELRCPT)
#define CB_PROTO_WANT (PROTO_P_HDR_LEADSPC | PROTO_P_NR_HDR | PROTO_P_NR_BODY \
	| PROTO_P_NR_CONN | PROTO_P_NR_HELO | PROTO_P_NR_EOH \
	| PROTO_P_NOUNKNOWN | PROTO_P_NODATA)

/* The DMARC history's writer (NULL: none), set once before serving. */
static struct history *cb_history;

/* callbacks_set_history - where inbound messages are recorded */
void
callbacks_set_history(struct history *h)
{
	__atomic_store_n(&cb_history, h, __ATOMIC_RELEASE);
}

/* The stored bounce addresses' map (NULL: none), set once before serving. */
static const struct bounce_map *cb_bounce_map;

/* callbacks_set_bounce_map - where stored-form bounce addresses are kept */
void
callbacks_set_bounce_map(const struct bounce_map *map)
{
	__atomic_store_n(&cb_bounce_map, map, __ATOMIC_RELEASE);
}

/* callbacks_history - the history's writer, for the control socket's status */
struct history *
callbacks_history(void)
{
	return __atomic_load_n(&cb_history, __ATOMIC_ACQUIRE);
}

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

/* cb_outcome - a verdict's outcome for the counters */
static enum stats_outcome
cb_outcome(struct verdict v)
{
	if (v.action == VERDICT_REJECT)
		return STATS_OUTCOME_REJECT;
	if (v.action == VERDICT_TEMPFAIL)
		return STATS_OUTCOME_TEMPFAIL;
	return v.quarantine != VERDICT_Q_NONE ? STATS_OUTCOME_QUARANTINE
	    : STATS_OUTCOME_ACCEPT;
}

/* cb_refusal - why a bounce address was refused, for the counters */
static size_t
cb_refusal(enum bounce_status st)
{
	switch (st) {
	case BOUNCE_MALFORMED:		return STATS_BOUNCE_MALFORMED;
	case BOUNCE_BAD_MAC:		return STATS_BOUNCE_BAD_MAC;
	case BOUNCE_EXPIRED:		return STATS_BOUNCE_EXPIRED;
	case BOUNCE_UNKNOWN_LOCAL:	return STATS_BOUNCE_UNKNOWN_LOCAL;
	default:			return STATS_BOUNCE_OTHER;
	}
}

/* cb_unsigned - why a trusted client's message in mode unsigned went without our signature */
static enum stats_unsigned
cb_unsigned(const struct state_msg *m)
{
	if (m->mode.kind == MODE_SIGN)
		return STATS_UNSIGNED_NO_KEY;	/* outbound_begin found none */
	if (m->mode.unauthorized != NULL)
		return STATS_UNSIGNED_UNAUTHORIZED;
	if (m->mode.from_domain == NULL)
		return STATS_UNSIGNED_NO_FROM;
	return STATS_UNSIGNED_NO_BLOCK;
}

/* cb_count_inbound - the SPF, DKIM and DMARC results, and the action they led to */
static void
cb_count_inbound(const struct state_msg *m, struct verdict v, int failed)
{
	const struct inbound *in = m->in;
	size_t i;

	if (in->spf_done && (unsigned)in->spf.mailfrom.res < STATS_NSPF)
		stats_inc(STATS_SPF + in->spf.mailfrom.res);
	if (!in->dmarc_done)
		return;
	for (i = 0; i < in->dkimres.n; i++)
		if ((unsigned)in->dkimres.sig[i].res < STATS_NDKIM)
			stats_inc(STATS_DKIM + in->dkimres.sig[i].res);
	if (in->dkimres.n == 0)
		stats_inc(STATS_DKIM_NONE);
	if ((unsigned)in->dmarc.result < STATS_NDMARC)
		stats_inc(STATS_DMARC + in->dmarc.result);
	if (failed)
		return;
	if (v.action == VERDICT_REJECT)
		stats_inc(STATS_ACTIONS + (m->mode.from_domain == NULL ?
		    STATS_ACTION_BAD_FROM_REJECT : STATS_ACTION_DMARC_REJECT));
	else if (v.action == VERDICT_TEMPFAIL)
		stats_inc(STATS_ACTIONS + STATS_ACTION_DMARC_TEMPFAIL);
	else if (v.quarantine != VERDICT_Q_NONE)
		stats_inc(STATS_ACTIONS + STATS_ACTION_DMARC_QUARANTINE);
}

/*
 * cb_count - a message's counters, once: its mode and outcome, its
 * signatures or why it has none, its inbound results, and the policy
 * action (the caller's, STATS_NACTIONS: none or the one the results led
 * to). Relaxed atomic adds to this thread's shard (stats.c): no lock.
 */
static void
cb_count(struct state_msg *m, enum stats_mode mode, struct verdict v,
    enum stats_action action)
{
	int failed = m->eoh_failed || m->body_failed || m->eom_failed;
	const struct key *k;
	size_t i;

	if (m->counted)
		return;
	m->counted = 1;
	stats_inc(STATS_MESSAGES + (size_t)mode * STATS_NOUTCOMES
	    + cb_outcome(v));
	if (failed)
		action = v.action == VERDICT_TEMPFAIL ?
		    STATS_ACTION_INTERNAL_TEMPFAIL : STATS_ACTION_INTERNAL_ACCEPT;
	if (action != STATS_NACTIONS)
		stats_inc(STATS_ACTIONS + action);
	if (m->in != NULL)
		cb_count_inbound(m, v, failed || action != STATS_NACTIONS);
	if (mode == STATS_MODE_UNSIGNED)
		stats_inc(STATS_UNSIGNED + cb_unsigned(m));
	else if (mode == STATS_MODE_SIGN && failed)
		stats_inc(STATS_UNSIGNED + STATS_UNSIGNED_INTERNAL_ERROR);
	else if (mode == STATS_MODE_SIGN && m->out != NULL
	    && cb_outcome(v) == STATS_OUTCOME_ACCEPT) {
		for (i = 0; i < m->out->nsigs; i++) {
			k = m->out->sigs[i].key;
			stats_inc(STATS_SIGNATURES + (size_t)k->type
			    * STATS_NKEY_STATES + (size_t)keys_pub_get(k));
		}
	}
}

/* cb_abandoned - a message the MTA left before its end (abort, or the connection closed) */
static void
cb_abandoned(struct state_conn *c)
{
	if (c->msg != NULL && !c->msg->counted) {
		c->msg->counted = 1;
		stats_inc(STATS_MESSAGES_ABORTED);
	}
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
	/* the engine gives no address for a client without one: local */
	c->local = addr == NULL;
	if (addr == NULL || strlen(addr) >= sizeof(c->client_addr)) {
		/* never a cut address: that would be another client's */
		if (addr != NULL)
			log_warn(NULL, "client address too long, taken as "
			    "unknown: %.80s", addr);
		addr = "";
	}
	memcpy(c->client_addr, addr, strlen(addr) + 1);
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

static void cb_summary(const struct state_conn *c, const struct state_msg *m,
    const char *mode, const char *reason, struct verdict v);
static void cb_end(const struct state_conn *c, struct state_msg *m,
    enum stats_mode mode, const char *reason, struct verdict v,
    enum stats_action action);

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
	m->envfrom_args = mta_sender_args(ctx, argv);
	auth = mta_macro(ctx, "{auth_authen}");
	if (auth != NULL && *auth != '\0')
		m->auth_authen = xstrdup(auth);
	m->trusted = mode_trusted(c->cfg, m->auth_authen,
	    c->client_addr[0] ? c->client_addr : NULL, c->local);
	if (m->trusted || runtime_of(c->cfg) == NULL)
		return ENGINE_CONTINUE;
	m->in = inbound_new();
	v = inbound_spf(m->in, c->cfg, m->qid, c->client_addr, m->envfrom,
	    c->helo ? c->helo : "");
	if (v.action == VERDICT_REJECT) {
		cb_end(c, m, STATS_MODE_VERIFY, "spf_fail", v,
		    STATS_ACTION_SPF_REJECT);
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
	if (m->rcpt_domain == NULL)
		m->rcpt_domain = mailaddr_envelope_domain(argv[0]);
	st = inbound_bounce_rcpt(c->cfg, argv[0], clock_now(),
	    __atomic_load_n(&cb_bounce_map, __ATOMIC_ACQUIRE), m->qid, &orig,
	    &info);
	if (st == BOUNCE_OK) {
		stats_inc(STATS_BOUNCE_ACCEPTED);
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
	if (v.action == VERDICT_REJECT || v.action == VERDICT_TEMPFAIL) {
		/* a recipient refused, not the message: not cb_end */
		stats_inc(STATS_BOUNCE_REFUSED + cb_refusal(st));
		cb_summary(c, m, "verify", "bounce_refused", v);
	}
	return cb_status(ctx, m->qid, v);
}

/* cb_header - keep each header for signing */
static enum engine_status
cb_header(struct engine_session *ctx, const char *name, const char *value)
{
	struct state_conn *c = cb_conn(ctx);

	if (c == NULL || c->msg == NULL)
		return ENGINE_CONTINUE;
	if (!c->msg->hdr_overflow	/* logged once */
	    && state_msg_add_header(c->msg, name, value ? value : "") != 0)
		log_warn(c->msg->qid, "headers exceed %u bytes; the message "
		    "will be refused", STATE_MAX_HEADER_BYTES);
	return ENGINE_CONTINUE;
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
 * cb_summary - message_summary's line: what was done with the message, in
 * key=value words (values without spaces), at notice; reason (NULL: none)
 * names a refusal before the end of the message
 */
static void
cb_summary(const struct state_conn *c, const struct state_msg *m,
    const char *mode, const char *reason, struct verdict v)
{
	static const char *const actions[] = { "accept", "accept", "tempfail",
	    "reject" };
	static const char *const quar[] = { "", " quarantine=header",
	    " quarantine=hold" };
	const struct inbound *in = m->in;
	struct buf line = BUF_INIT;
	enum dmarc_policy pol;
	struct timespec now;
	long ms;
	size_t i;

	if (c->cfg == NULL || !c->cfg->message_summary)
		return;
	(void)clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (long)(now.tv_sec - m->t0.tv_sec) * 1000
	    + (now.tv_nsec - m->t0.tv_nsec) / 1000000;
	buf_printf(&line, "msg mode=%s client=%s", mode, c->client_addr[0] ?
	    c->client_addr : "local");
	if (m->auth_authen != NULL)
		buf_printf(&line, " auth=%s", m->auth_authen);
	buf_printf(&line, " from=%s", m->mode.from_domain != NULL ?
	    m->mode.from_domain : "-");
	if (m->out != NULL && v.action != VERDICT_TEMPFAIL) {
		buf_puts(&line, " signed=");
		for (i = 0; i < m->out->nsigs; i++)
			buf_printf(&line, "%s%s:%s:%s", i ? "," : "",
			    m->out->sigs[i].dom->name,
			    m->out->sigs[i].key->selector,
			    keys_type_name(m->out->sigs[i].key->type));
		if (m->out->nsigs == 0)
			buf_putc(&line, '-');
	}
	if (in != NULL && in->dmarc_done) {
		buf_printf(&line, " spf=%s spf_domain=%s", in->spf_done ?
		    spf_res_name(in->spf.mailfrom.res) : "none",
		    in->spf_done && in->spf.mailfrom.domain[0] ?
		    in->spf.mailfrom.domain : "-");
		buf_puts(&line, " dkim=");
		for (i = 0; i < in->dkimres.n; i++)
			buf_printf(&line, "%s%s:%s:%s", i ? "," : "",
			    in->dkimres.sig[i].domain, in->dkimres.sig[i].selector,
			    dkim_verify_res_name(in->dkimres.sig[i].res));
		if (in->dkimres.n == 0)
			buf_putc(&line, '-');
		/* the policy asked for; a pass leaves it unset: the record's
		 * (sp for a subdomain, when the record has one) */
		pol = in->dmarc.policy;
		if (in->dmarc.result == DMARC_RESULT_PASS && in->dmarc.have_record)
			pol = strcasecmp(in->dmarc.policy_domain,
			    in->dmarc.from_domain) != 0 && in->dmarc.record.sp
			    != DMARC_POLICY_UNSET ? in->dmarc.record.sp
			    : in->dmarc.record.p;
		buf_printf(&line, " dmarc=%s policy=%s",
		    dmarc_result_name(in->dmarc.result), pol != DMARC_POLICY_UNSET
		    ? dmarc_policy_name(pol) : "-");
	} else if (in != NULL && in->spf_done)	/* refused at MAIL FROM */
		buf_printf(&line, " spf=%s spf_domain=%s",
		    spf_res_name(in->spf.mailfrom.res),
		    in->spf.mailfrom.domain[0] ? in->spf.mailfrom.domain : "-");
	if (reason != NULL)
		buf_printf(&line, " reason=%s", reason);
	buf_printf(&line, " action=%s%s ms=%ld",
	    (size_t)v.action < sizeof(actions) / sizeof(actions[0]) ?
	    actions[v.action] : "?", (size_t)v.quarantine < sizeof(quar)
	    / sizeof(quar[0]) ? quar[v.quarantine] : "", ms);
	log_notice(m->qid, "%s", buf_cstr(&line));
	buf_free(&line);
}

/*
 * cb_end - a message ends, or is refused before its end: its counters
 * (cb_count; action the caller's, STATS_NACTIONS: none, or what its
 * results led to) and message_summary's line (cb_summary)
 */
static void
cb_end(const struct state_conn *c, struct state_msg *m, enum stats_mode mode,
    const char *reason, struct verdict v, enum stats_action action)
{
	cb_count(m, mode, v, action);
	cb_summary(c, m, stats_mode_name(mode), reason, v);
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
		cb_end(c, m, m->trusted ? STATS_MODE_SIGN : STATS_MODE_VERIFY,
		    "header_overflow", v, STATS_ACTION_HEADER_OVERFLOW_REJECT);
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
	cb_end(c, m, m->trusted ? STATS_MODE_SIGN : STATS_MODE_VERIFY,
	    "forged_headers", v, STATS_ACTION_FORGED_REJECT);
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
	struct verdict v;
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
	in.local = c->local;
	in.nfrom = m->nfrom;
	in.envelope_from = m->envfrom;
	for (i = 0; i < m->nhdrs; i++)
		if (strcasecmp(m->hdrs[i].name, "From") == 0)
			in.from_value = m->hdrs[i].value;
	mode_decide(c->cfg, &in, &m->mode);
	if (m->mode.unauthorized != NULL && (v = verdict_unauthorized(c->cfg,
	    m->mode.unauthorized->name)).action == VERDICT_REJECT) {
		log_notice(m->qid, "refused: %s; %s %s %s", m->mode.reason,
		    v.rcode, v.xcode, v.text);
		cb_end(c, m, STATS_MODE_SIGN, NULL, v,
		    STATS_ACTION_UNAUTHORIZED_REJECT);
		return cb_status(ctx, m->qid, v);
	}
	log_info(m->qid, "%s", m->mode.reason);
	if (m->mode.kind != MODE_SIGN) {
		if (m->trusted || m->in == NULL) {
			if (m->nbounces == 0 && m->forged.ndel == 0)
				cb_end(c, m, STATS_MODE_PASS, NULL,
				    verdict_continue(), STATS_NACTIONS);
			return cb_eoh_done(m);	/* our own users' mail: not judged */
		}
		inbound_headers(m->in, c->cfg, m->qid, m->hdrs, m->nhdrs,
		    !mta_header_leading_space(ctx));
		return ENGINE_CONTINUE;
	}
	m->out = outbound_begin(c->cfg, m->mode.domain, m->mode.platform,
	    clock_now(), m->qid, !mta_header_leading_space(ctx),
	    &m->eoh_failed);
	if (m->out == NULL && !m->eoh_failed) {
		if (m->nbounces == 0 && m->forged.ndel == 0)
			cb_end(c, m, STATS_MODE_UNSIGNED, NULL,
			    verdict_continue(), STATS_NACTIONS);
		return cb_eoh_done(m);
	}
	/* an internal error is answered at end of message */
	return ENGINE_CONTINUE;
}

/* cb_body_dsn - a bounce's body: its delivery status report, if it is one */
static void
cb_body_dsn(struct state_msg *m, const unsigned char *data, size_t len)
{
	size_t i;

	if (!m->dsn_tried) {
		m->dsn_tried = 1;
		for (i = 0; i < m->nhdrs; i++)
			if (strcasecmp(m->hdrs[i].name, "Content-Type") == 0) {
				m->dsn = dsn_new(m->hdrs[i].value);
				break;
			}
	}
	dsn_feed(m->dsn, data, len);
}

/* cb_body - hash a body chunk */
static enum engine_status
cb_body(struct engine_session *ctx, const unsigned char *data, size_t len)
{
	struct state_conn *c = cb_conn(ctx);
	struct state_msg *m;

	if (c == NULL || (m = c->msg) == NULL)
		return ENGINE_CONTINUE;
	if (m->nbounces > 0)
		cb_body_dsn(m, data, len);
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

/* cb_apply - make the edits, in order; 0, or -1 at the first the MTA refused */
static int
cb_apply(struct engine_session *ctx, const char *qid,
    const struct edit_list *edits)
{
	const struct edit *e;
	struct buf val = BUF_INIT;
	size_t i;
	int rc = 0;

	for (i = 0; rc == 0 && i < edits->n; i++) {
		e = &edits->v[i];
		/* header values go to the MTA with the space after the colon */
		if (e->kind == EDIT_HEADER_INSERT || e->kind == EDIT_QUARANTINE) {
			buf_reset(&val);
			buf_putc(&val, ' ');
			buf_puts(&val, e->value);
		}
		switch (e->kind) {
		case EDIT_HEADER_INSERT:
			rc = mta_insert_header(ctx, qid, e->idx, e->name,
			    buf_cstr(&val));
			break;
		case EDIT_HEADER_DELETE:
			rc = mta_delete_header(ctx, qid, e->name, e->idx);
			break;
		case EDIT_SENDER:
			/*
			 * An MTA without CHGFROM (engine.c logs the offer once):
			 * the message goes on, signed, with its own sender;
			 * only the SPF alignment the rewrite gives is lost
			 */
			if (!mta_granted(ctx, PROTO_F_CHGFROM)) {
				log_warn(qid, "Return-Path not rewritten to %s: "
				    "the MTA does not offer CHGFROM (milter "
				    "negotiation); sent with the sender it has",
				    e->value);
				continue;
			}
			rc = mta_change_from(ctx, qid, e->value, e->args);
			if (rc == 0)	/* only outbound_return_path changes it */
				stats_inc(STATS_BOUNCE_ISSUED);
			break;
		case EDIT_RCPT_ADD:
			rc = mta_add_rcpt(ctx, qid, e->value);
			break;
		case EDIT_RCPT_DELETE:
			rc = mta_del_rcpt(ctx, qid, e->value);
			break;
		case EDIT_QUARANTINE:
			/* an MTA that did not grant quarantine gets the field */
			if (mta_quarantine(ctx, qid, e->value) != 0) {
				rc = mta_insert_header(ctx, qid, 0, e->name,
				    buf_cstr(&val));
				log_notice(qid, "marked for quarantine instead: %s",
				    e->value);
				continue;
			}
			break;
		}
		if (rc == 0 && e->note != NULL)
			log_msg(e->note_level, qid, "%s", e->note);
	}
	buf_free(&val);
	return rc;
}

/*
 * cb_eom_plan - what the message's path decides at its end: the verdict,
 * and the edits to make if it is not a refusal. Forged fields go first,
 * while the indices the scan found still count only received fields.
 */
static struct verdict
cb_eom_plan(struct state_conn *c, struct state_msg *m,
    struct edit_list *edits)
{
	const struct config *cfg = c->cfg;
	struct verdict v = verdict_continue();
	struct buf status = BUF_INIT;
	size_t i;

	if (m->eoh_failed)
		return verdict_internal_error(cfg);	/* eoh_failed says so */
	if (m->body_failed) {
		log_err(m->qid, "signing failed: body hashing failed");
		return verdict_internal_error(cfg);
	}
	forgery_edits(&m->forged, edits);
	if (m->nbounces > 0 && m->dsn != NULL)
		(void)dsn_format(m->dsn, &status);
	for (i = 0; i < m->nbounces; i++)
		inbound_bounce_edits(m->bounces[i].rcpt, m->bounces[i].original,
		    m->bounces[i].issued, buf_cstr(&status), edits);
	buf_free(&status);
	if (m->out != NULL) {
		if (outbound_finish(m->out, m->hdrs, m->nhdrs, clock_now(),
		    m->qid, edits) != 0 || outbound_return_path(cfg,
		    m->mode.domain, m->envfrom, m->envfrom_args, clock_now(),
		    m->qid, __atomic_load_n(&cb_bounce_map, __ATOMIC_ACQUIRE),
		    edits) != 0) {
			m->eom_failed = 1;
			v = verdict_internal_error(cfg);
		}
	} else if (m->in != NULL) {
		inbound_finish(m->in, cfg, m->qid, m->mode.from_domain,
		    m->mode.from_problem, edits);
		v = m->in->verdict;
	}
	return v;
}

/* cb_record - queue the message's DMARC history record for the writer thread (never waits for the store) */
static void
cb_record(const struct state_conn *c, const struct state_msg *m,
    const struct verdict *v)
{
	struct history *h = __atomic_load_n(&cb_history, __ATOMIC_ACQUIRE);

	if (h != NULL && m->in != NULL)
		(void)history_submit(h, history_inbound_record(m->in, clock_now(),
		    c->client_addr, m->envfrom, m->rcpt_domain, v));
}

/* cb_eom - the message's end: sign or judge, apply the edits, answer */
static enum engine_status
cb_eom(struct engine_session *ctx)
{
	struct state_conn *c = cb_conn(ctx);
	struct edit_list edits = EDIT_LIST_INIT;
	struct state_msg *m;
	struct verdict v;
	enum engine_status rc = ENGINE_CONTINUE;
	struct timespec t0;

	if (c == NULL || (m = c->msg) == NULL)
		return ENGINE_CONTINUE;
	(void)clock_gettime(CLOCK_MONOTONIC, &t0);
	state_msg_set_qid(m, mta_macro(ctx, "i"));
	v = cb_eom_plan(c, m, &edits);
	if ((v.action == VERDICT_CONTINUE || v.action == VERDICT_ACCEPT)
	    && cb_apply(ctx, m->qid, &edits) != 0) {
		m->eom_failed = 1;
		v = verdict_internal_error(c->cfg);
	}
	cb_end(c, m, m->out != NULL || m->eoh_failed ? STATS_MODE_SIGN
	    : m->in != NULL ? STATS_MODE_VERIFY : m->mode.kind == MODE_SIGN
	    ? STATS_MODE_UNSIGNED : STATS_MODE_PASS, NULL, v, STATS_NACTIONS);
	cb_record(c, m, &v);
	rc = cb_status(ctx, m->qid, v);
	/*
	 * At the end of a message, accept and continue both deliver it with
	 * the edits made; the answer is always "continue", so that it does
	 * not depend on which path (or on_internal_error = accept) chose it.
	 */
	if (rc == ENGINE_ACCEPT)
		rc = ENGINE_CONTINUE;
	edit_list_free(&edits);
	state_msg_end(c);
	stats_observe(STATS_H_EOM, stats_usec_since(&t0));
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
		cb_abandoned(c);
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
		cb_abandoned(c);
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
	 * turn signing off; Postfix then sends no others to this milter.
	 * v (the MTA's name and version) says which MTA it is: Sendmail and
	 * Postfix keep MAIL FROM's parameters differently (mta_sender_args). */
	.macros = {
		[PROTO_M_CONNECT] = "v",
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
