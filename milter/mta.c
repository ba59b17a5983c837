/*
 * mta.c - wrappers around libmilter's smfi_* functions.
 *
 * libmilter takes char * where it means const char *; the casts live here
 * and nowhere else.
 */
#include <string.h>

#include "log.h"
#include "mta.h"

/* mta_get_state - connection private data */
void *
mta_get_state(SMFICTX *ctx)
{
	return smfi_getpriv(ctx);
}

/* mta_set_state - set connection private data */
void
mta_set_state(SMFICTX *ctx, void *state)
{
	smfi_setpriv(ctx, state);
}

/* mta_macro - a macro value, NULL if unset */
const char *
mta_macro(SMFICTX *ctx, const char *name)
{
	return smfi_getsymval(ctx, (char *)name);
}

/* mta_insert_header - insert a header */
int
mta_insert_header(SMFICTX *ctx, const char *qid, int idx, const char *name,
    const char *value)
{
	if (smfi_insheader(ctx, idx, (char *)name, (char *)value) != MI_SUCCESS) {
		log_err(qid, "could not insert %s header (MTA refused or "
		    "connection lost)", name);
		return -1;
	}
	return 0;
}

/* mta_delete_header - delete one header */
int
mta_delete_header(SMFICTX *ctx, const char *qid, const char *name, int idx)
{
	if (smfi_chgheader(ctx, (char *)name, idx, NULL) != MI_SUCCESS) {
		log_err(qid, "could not delete %s header #%d", name, idx);
		return -1;
	}
	return 0;
}

/* mta_quarantine - quarantine the message */
int
mta_quarantine(SMFICTX *ctx, const char *qid, const char *reason)
{
	if (smfi_quarantine(ctx, (char *)reason) != MI_SUCCESS) {
		log_err(qid, "could not quarantine the message");
		return -1;
	}
	return 0;
}

/* mta_change_from - replace the envelope sender */
int
mta_change_from(SMFICTX *ctx, const char *qid, const char *from,
    const char *args)
{
	if (smfi_chgfrom(ctx, (char *)from, (char *)args) != MI_SUCCESS) {
		log_err(qid, "could not change the envelope sender to %s", from);
		return -1;
	}
	return 0;
}

/* mta_add_rcpt - add an envelope recipient */
int
mta_add_rcpt(SMFICTX *ctx, const char *qid, const char *rcpt)
{
	if (smfi_addrcpt(ctx, (char *)rcpt) != MI_SUCCESS) {
		log_err(qid, "could not add recipient %s", rcpt);
		return -1;
	}
	return 0;
}

/* mta_del_rcpt - remove an envelope recipient */
int
mta_del_rcpt(SMFICTX *ctx, const char *qid, const char *rcpt)
{
	if (smfi_delrcpt(ctx, (char *)rcpt) != MI_SUCCESS) {
		log_err(qid, "could not remove recipient %s", rcpt);
		return -1;
	}
	return 0;
}

/* mta_set_reply - set an SMTP reply */
int
mta_set_reply(SMFICTX *ctx, const char *qid, const char *rcode,
    const char *xcode, const char *text)
{
	char msg[512];
	size_t i, j = 0;

	/* '%' would be taken as a format by some MTAs: double it */
	for (i = 0; text != NULL && text[i] != '\0' && j + 2 < sizeof(msg); i++) {
		if (text[i] == '%')
			msg[j++] = '%';
		msg[j++] = text[i];
	}
	msg[j] = '\0';
	if (smfi_setreply(ctx, (char *)rcode, (char *)xcode,
	    text != NULL ? msg : NULL) != MI_SUCCESS) {
		log_warn(qid, "could not set reply %s %s", rcode, xcode);
		return -1;
	}
	return 0;
}
