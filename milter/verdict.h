/*
 * verdict.h - turn module outcomes and configuration into an MTA action
 * and SMTP reply. The one place that picks reply codes.
 */
#ifndef AUTHMILTER_VERDICT_H
#define AUTHMILTER_VERDICT_H

#include "config.h"

enum verdict_action {
	VERDICT_CONTINUE,	/* carry on with the message */
	VERDICT_ACCEPT,		/* accept, no further work on this message */
	VERDICT_TEMPFAIL,	/* 4xx: try again later */
	VERDICT_REJECT,		/* 5xx */
};

struct verdict {
	enum verdict_action action;
	const char *rcode;	/* "451", "550"; NULL: MTA default */
	const char *xcode;	/* "4.3.0"; NULL: none */
	const char *text;	/* reply text; NULL: none */
};

/* verdict_internal_error - outcome of an internal error, per on_internal_error */
struct verdict verdict_internal_error(const struct config *c);

#endif
