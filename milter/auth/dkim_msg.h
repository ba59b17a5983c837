/*
 * dkim_msg.h - the builtin DKIM verifier: one message's signatures checked
 * by our own RFC 6376 / RFC 8463 code (dkim_verify_builtin in the conf).
 *
 * Called by dkim_verify.c only, which keeps the public API
 * (dkim_verify.h) and picks the engine. The header fields are kept until
 * the end of the message; the body streams through one hash per distinct
 * (body canonicalization, l=) of the verifiable signatures (sign.c's
 * canonicalizer), shared by all of them. Key records are looked up at the
 * end of the message, topmost signature first, under the time budget;
 * a key record is fetched once per message for each selector and domain.
 *
 * Threading: a struct dkim_msg is used by one thread at a time; the
 * options are read-only and shared.
 */
#ifndef AUTHMILTER_DKIM_MSG_H
#define AUTHMILTER_DKIM_MSG_H

#include <stddef.h>

#include "auth/dkim_verify.h"

struct dkim_msg;

/* dkim_msg_begin - start a message; opt (defaults applied) must outlive it */
struct dkim_msg *dkim_msg_begin(const struct dkim_verify_options *opt,
    const char *qid);
/* dkim_msg_header - one header field, as dkim_verify_header takes it */
void dkim_msg_header(struct dkim_msg *m, const char *name, const char *value);
/* dkim_msg_eoh - end of the header: the signatures are read */
void dkim_msg_eoh(struct dkim_msg *m);
/* dkim_msg_body - a body chunk */
void dkim_msg_body(struct dkim_msg *m, const unsigned char *data, size_t len);
/* dkim_msg_eom - look up keys and verify; as dkim_verify_eom */
int dkim_msg_eom(struct dkim_msg *m, struct dkim_verify_results *out);
/* dkim_msg_free - end the message; NULL is fine */
void dkim_msg_free(struct dkim_msg *m);

#endif
