/*
 * mode.h - decide whether a message is signed (outbound) or verified.
 *
 * Pure: the caller gathers the facts (authentication, client address,
 * From headers, envelope sender) and gets a decision with its reason.
 */
#ifndef AUTHMILTER_MODE_H
#define AUTHMILTER_MODE_H

#include "policy/config.h"

enum mode_kind {
	MODE_VERIFY,		/* inbound: check it (or pass it through) */
	MODE_SIGN,		/* outbound: sign it */
};

struct mode_input {
	const char *auth_authen;	/* SASL login ({auth_authen}), NULL/"": none */
	const char *client_addr;	/* client IP in text form, NULL: unknown */
	int local;			/* 1: a client without a network address
					 * (sendmail -bs, a unix socket) */
	size_t nfrom;			/* number of From header fields */
	const char *from_value;		/* value of the From field when nfrom == 1 */
	const char *envelope_from;	/* MAIL FROM path, e.g. "<a@b>" */
};

struct mode_result {
	enum mode_kind kind;		/* the decision: MODE_SIGN when domain
					 * or platform signs */
	int trusted;			/* authenticated or internal client */
	const struct config_domain *domain;	/* signing block (MODE_SIGN); NULL
						 * when the client may not sign
						 * for it (unauthorized) */
	const struct config_domain *unauthorized;	/* the block the client
						 * may not sign for, or NULL */
	const struct config_domain *platform;	/* platform block signing too
						 * (MODE_SIGN), or NULL */
	char *from_domain;		/* header From domain if one was found (malloc'd) */
	const char *from_problem;	/* why there is none (static text), or NULL */
	char reason[256];		/* why, for the log */
};

/* mode_decide - sign or verify, with the reason */
void mode_decide(const struct config *c, const struct mode_input *in,
    struct mode_result *out);
/*
 * mode_trusted - is the client authenticated, in internal_hosts, or local
 * (no network address) with local_clients_internal = yes?
 */
int mode_trusted(const struct config *c, const char *auth_authen,
    const char *client_addr, int local);
/* mode_result_free - release the fields of a result */
void mode_result_free(struct mode_result *r);

#endif
