/*
 * mta.h - what the callbacks may ask of the MTA: macros, modifications
 * and reply texts, over one engine session (engine.h).
 *
 * Thin functions that take const strings, log failures with the queue id
 * and return 0 / -1, so the callbacks never build protocol packets.
 * Modifications are only possible in the end-of-message callback and
 * only those the MTA agreed to in the negotiation.
 */
#ifndef AUTHMILTER_MTA_H
#define AUTHMILTER_MTA_H

#include "daemon/engine.h"

/* mta_get_state / mta_set_state - the connection's private pointer */
void *mta_get_state(struct engine_session *s);
void mta_set_state(struct engine_session *s, void *state);
/* mta_macro - a macro value ("i", "{auth_authen}"), NULL if unset */
const char *mta_macro(struct engine_session *s, const char *name);
/* mta_insert_header - insert a header at index idx (0: top); value keeps its leading space */
int mta_insert_header(struct engine_session *s, const char *qid, int idx,
    const char *name, const char *value);
/*
 * mta_header_leading_space - does the MTA pass header values with their
 * leading white space (PROTO_P_HDR_LEADSPC)? Without it the value lost what
 * followed the colon, and the MTA writes "Name: value" back.
 */
int mta_header_leading_space(struct engine_session *s);
/* mta_delete_header - delete the idx-th (1-based) header named name */
int mta_delete_header(struct engine_session *s, const char *qid,
    const char *name, int idx);
/* mta_quarantine - ask the MTA to quarantine (Postfix: hold queue) */
int mta_quarantine(struct engine_session *s, const char *qid,
    const char *reason);
/*
 * mta_granted - did the MTA grant action (PROTO_F_*) in the negotiation?
 * (Older MTAs offer fewer: no CHGFROM before Postfix 2.6, Sendmail 8.14.)
 */
int mta_granted(struct engine_session *s, unsigned long action);
/* mta_change_from - replace the envelope sender, keeping ESMTP args (may be NULL) */
int mta_change_from(struct engine_session *s, const char *qid,
    const char *from, const char *args);
/*
 * mta_sender_args - of MAIL FROM's ESMTP parameters (argv[1..], as the
 * envfrom callback gets them), those to hand back with a changed sender,
 * space separated (malloc'd), or NULL when none: Postfix (macro v) gets
 * RET and ENVID back, Sendmail (and any other MTA) none, so that it keeps
 * them all
 */
char *mta_sender_args(struct engine_session *s, char *const *argv);
/* mta_add_rcpt / mta_del_rcpt - add or remove an envelope recipient */
int mta_add_rcpt(struct engine_session *s, const char *qid, const char *rcpt);
int mta_del_rcpt(struct engine_session *s, const char *qid, const char *rcpt);
/* mta_set_reply - set the SMTP reply for the next reject/tempfail */
int mta_set_reply(struct engine_session *s, const char *qid,
    const char *rcode, const char *xcode, const char *text);

#endif
