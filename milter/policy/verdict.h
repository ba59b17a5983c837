/*
 * verdict.h - turn module outcomes and configuration into an MTA action
 * and SMTP reply. The one place that picks reply codes.
 */
#ifndef AUTHMILTER_VERDICT_H
#define AUTHMILTER_VERDICT_H

#include "auth/bounce.h"
#include "policy/config.h"
#include "auth/dmarc.h"
#include "auth/spf.h"

enum verdict_action {
	VERDICT_CONTINUE,	/* carry on with the message */
	VERDICT_ACCEPT,		/* accept, no further work on this message */
	VERDICT_TEMPFAIL,	/* 4xx: try again later */
	VERDICT_REJECT,		/* 5xx */
};

enum verdict_quarantine {
	VERDICT_Q_NONE,		/* deliver normally */
	VERDICT_Q_HEADER,	/* deliver with a quarantine header */
	VERDICT_Q_HOLD,		/* MTA quarantine */
};

struct verdict {
	enum verdict_action action;
	enum verdict_quarantine quarantine;	/* for accepted mail */
	const char *rcode;	/* "451", "550"; NULL: MTA default */
	const char *xcode;	/* "4.3.0"; NULL: none */
	char text[512];		/* reply text (or quarantine reason); "" none */
};

/* verdict_continue - carry on with the message, nothing refused */
struct verdict verdict_continue(void);
/* verdict_internal_error - outcome of an internal error, per on_internal_error */
struct verdict verdict_internal_error(const struct config *c);
/* verdict_spf_mailfrom - reject at MAIL FROM on SPF fail when spf_fail_action = reject */
struct verdict verdict_spf_mailfrom(const struct config *c,
    const struct spf_outcome *o);
/* verdict_bad_from - a message without exactly one From address (reason: why) */
struct verdict verdict_bad_from(const struct config *c, const char *reason);
/* verdict_forged_headers - more than max_forged_headers fields claim to be ours: 550 5.7.1 */
struct verdict verdict_forged_headers(const struct config *c);
/*
 * verdict_unauthorized - a trusted client that may not sign for domain:
 * with unauthorized_from = reject, 550 5.7.1 naming it; else continue
 */
struct verdict verdict_unauthorized(const struct config *c,
    const char *domain);
/* verdict_header_overflow - the header is over limit bytes, so not all of it was checked: 552 5.3.4 */
struct verdict verdict_header_overflow(unsigned long limit);
/* verdict_dmarc - act on a DMARC outcome per dmarc_*_action and on_dns_error */
struct verdict verdict_dmarc(const struct config *c,
    const struct dmarc_outcome *o);

/* verdict_bounce_rcpt - a recipient in a bounce domain that did not verify */
struct verdict verdict_bounce_rcpt(enum bounce_status st);

#endif
