/*
 * verdict.c - the outcomes the daemon can give the MTA, chosen on purpose.
 *
 * Pure: configuration and module results in, action and reply out.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "policy/verdict.h"

/* verdict_init - accept, nothing to say */
static struct verdict
verdict_init(void)
{
	struct verdict v;

	memset(&v, 0, sizeof(v));
	v.action = VERDICT_ACCEPT;
	return v;
}

/* verdict_make - an action with its reply codes and text */
static struct verdict __attribute__((format(printf, 4, 5)))
verdict_make(enum verdict_action action, const char *rcode, const char *xcode,
    const char *fmt, ...)
{
	struct verdict v = verdict_init();
	va_list ap;

	v.action = action;
	v.rcode = rcode;
	v.xcode = xcode;
	va_start(ap, fmt);
	(void)vsnprintf(v.text, sizeof(v.text), fmt, ap);	/* a cut reply is fine */
	va_end(ap);
	return v;
}

/* verdict_continue - carry on: nothing refused */
struct verdict
verdict_continue(void)
{
	struct verdict v = verdict_init();

	v.action = VERDICT_CONTINUE;
	return v;
}

/* verdict_internal_error - accept unsigned or tempfail, as configured */
struct verdict
verdict_internal_error(const struct config *c)
{
	struct verdict v = verdict_init();

	if (c != NULL && c->on_internal_error == CONFIG_ON_ERROR_TEMPFAIL) {
		v.action = VERDICT_TEMPFAIL;
		v.rcode = "451";
		v.xcode = "4.3.0";
		(void)snprintf(v.text, sizeof(v.text), "temporary internal error, "
		    "try again later");
	}
	return v;
}

/* verdict_spf_mailfrom - reject on SPF fail at MAIL FROM if configured */
struct verdict
verdict_spf_mailfrom(const struct config *c, const struct spf_outcome *o)
{
	struct verdict v = verdict_init();

	v.action = VERDICT_CONTINUE;
	if (c->spf_fail_action == CONFIG_SPF_ACTION_REJECT
	    && o->res == SPF_RES_FAIL) {
		v.action = VERDICT_REJECT;
		v.rcode = "550";
		v.xcode = "5.7.23";
		(void)snprintf(v.text, sizeof(v.text), "SPF check failed: %s does not "
		    "allow this host to send its mail", o->domain);
	}
	return v;
}

/* verdict_bad_from - one From address is required */
struct verdict
verdict_bad_from(const struct config *c, const char *reason)
{
	if (!c->reject_bad_from)
		return verdict_init();
	return verdict_make(VERDICT_REJECT, "550", "5.7.1", "message must have "
	    "exactly one From header with one address (%s)", reason);
}

/* verdict_forged_headers - too many fields claim to be ours: refuse whole */
struct verdict
verdict_forged_headers(const struct config *c)
{
	return verdict_make(VERDICT_REJECT, "550", "5.7.1", "message carries "
	    "more than %d header fields forged in the name of %s",
	    c->max_forged_headers, c->authserv_id);
}

/* verdict_unauthorized - a trusted client that may not sign for its From domain */
struct verdict
verdict_unauthorized(const struct config *c, const char *domain)
{
	if (c->unauthorized_from != CONFIG_UNAUTHORIZED_REJECT)
		return verdict_continue();	/* unsigned for it, still sent */
	return verdict_make(VERDICT_REJECT, "550", "5.7.1", "this sender may not "
	    "send mail as %s", domain);
}

/* verdict_header_overflow - a header too large to check is never let through */
struct verdict
verdict_header_overflow(unsigned long limit)
{
	return verdict_make(VERDICT_REJECT, "552", "5.3.4", "message header "
	    "exceeds %lu bytes", limit);
}

/* verdict_quarantine - how a quarantine disposition is carried out */
static void
verdict_quarantine(const struct config *c, const struct dmarc_outcome *o,
    struct verdict *v)
{
	switch (c->dmarc_quarantine_action) {
	case CONFIG_QUARANTINE_HOLD:
		v->quarantine = VERDICT_Q_HOLD;
		break;
	case CONFIG_QUARANTINE_HEADER:
		v->quarantine = VERDICT_Q_HEADER;
		break;
	default:
		return;
	}
	(void)snprintf(v->text, sizeof(v->text), "DMARC policy of %s: quarantine",
	    o->from_domain);
}

/* verdict_dmarc - act on a DMARC outcome */
struct verdict
verdict_dmarc(const struct config *c, const struct dmarc_outcome *o)
{
	struct verdict v = verdict_init();

	if (o->result == DMARC_RESULT_TEMPERROR) {
		/*
		 * Unfinished DNS never enacts the domain's policy (RFC 9989);
		 * it waits for the DNS unless a fail would have changed nothing.
		 */
		if (o->at_stake == DMARC_POLICY_NONE)
			return v;
		if (c->on_dns_error == CONFIG_ON_ERROR_TEMPFAIL) {
			v.action = VERDICT_TEMPFAIL;
			v.rcode = "451";
			v.xcode = "4.7.5";
			(void)snprintf(v.text, sizeof(v.text), "DMARC check of %s could not "
			    "be completed (DNS), try again later",
			    o->from_domain[0] ? o->from_domain : "the sender");
		}
		return v;
	}
	if (o->result != DMARC_RESULT_FAIL)
		return v;
	if (o->disposition == DMARC_POLICY_REJECT) {
		switch (c->dmarc_reject_action) {
		case CONFIG_DMARC_ACTION_REJECT:
			v.action = VERDICT_REJECT;
			v.rcode = "550";
			v.xcode = "5.7.1";
			(void)snprintf(v.text, sizeof(v.text), "rejected by the DMARC policy "
			    "of %s: the message is not authenticated as coming "
			    "from that domain", o->from_domain);
			return v;
		case CONFIG_DMARC_ACTION_QUARANTINE:
			verdict_quarantine(c, o, &v);
			return v;
		default:
			return v;
		}
	}
	if (o->disposition == DMARC_POLICY_QUARANTINE)
		verdict_quarantine(c, o, &v);
	return v;
}

/* verdict_bounce_rcpt - refuse forged, stale or broken bounce addresses */
struct verdict
verdict_bounce_rcpt(enum bounce_status st)
{
	struct verdict v = verdict_init();

	v.action = VERDICT_CONTINUE;
	switch (st) {
	case BOUNCE_OK:
	case BOUNCE_NOT_OURS:
		return v;
	case BOUNCE_INTERNAL:
		v.action = VERDICT_TEMPFAIL;
		v.rcode = "451";
		v.xcode = "4.3.0";
		(void)snprintf(v.text, sizeof(v.text), "bounce address cannot be "
		    "checked now, try again later");
		return v;
	default:
		v.action = VERDICT_REJECT;
		v.rcode = "550";
		v.xcode = "5.1.1";
		(void)snprintf(v.text, sizeof(v.text), "no such bounce address (%s)",
		    bounce_status_text(st));
		return v;
	}
}
