/*
 * mta.h - the only door to libmilter's smfi_* calls from the message path.
 *
 * Thin wrappers that take const strings, log failures with the queue id
 * and return 0 / -1, so the rest of the daemon never includes mfapi.h.
 */
#ifndef AUTHMILTER_MTA_H
#define AUTHMILTER_MTA_H

#include <libmilter/mfapi.h>

/* mta_get_state / mta_set_state - the connection's private pointer */
void *mta_get_state(SMFICTX *ctx);
void mta_set_state(SMFICTX *ctx, void *state);
/* mta_macro - a macro value ("i", "{auth_authen}"), NULL if unset */
const char *mta_macro(SMFICTX *ctx, const char *name);
/* mta_insert_header - insert a header at index idx (0: top); value keeps its leading space */
int mta_insert_header(SMFICTX *ctx, const char *qid, int idx,
    const char *name, const char *value);
/* mta_delete_header - delete the idx-th (1-based) header named name */
int mta_delete_header(SMFICTX *ctx, const char *qid, const char *name, int idx);
/* mta_quarantine - ask the MTA to quarantine (Postfix: hold queue) */
int mta_quarantine(SMFICTX *ctx, const char *qid, const char *reason);
/* mta_change_from - replace the envelope sender, keeping ESMTP args (may be NULL) */
int mta_change_from(SMFICTX *ctx, const char *qid, const char *from,
    const char *args);
/* mta_add_rcpt / mta_del_rcpt - add or remove an envelope recipient */
int mta_add_rcpt(SMFICTX *ctx, const char *qid, const char *rcpt);
int mta_del_rcpt(SMFICTX *ctx, const char *qid, const char *rcpt);
/* mta_set_reply - set the SMTP reply for a reject/tempfail */
int mta_set_reply(SMFICTX *ctx, const char *qid, const char *rcode,
    const char *xcode, const char *text);

#endif
