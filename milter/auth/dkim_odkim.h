/*
 * dkim_odkim.h - the libopendkim DKIM verifier (dkim_verifier =
 * libopendkim): libopendkim 2.11 checks the signatures, its key lookups go
 * through our resolver. Called by dkim_verify.c only, which keeps the
 * public API (dkim_verify.h) and picks the engine; the functions mirror
 * that API one for one.
 *
 * Threading: one struct dkim_odkim_lib per snapshot, read-only and shared
 * (a libopendkim DKIM_LIB may be used by several threads at once); one
 * struct dkim_odkim per message, used by one thread at a time.
 */
#ifndef AUTHMILTER_DKIM_ODKIM_H
#define AUTHMILTER_DKIM_ODKIM_H

#include <stddef.h>

#include "auth/dkim_verify.h"

struct dkim_odkim_lib;
struct dkim_odkim;

/* dkim_odkim_lib_new - a libopendkim verifier; NULL with err on failure */
struct dkim_odkim_lib *dkim_odkim_lib_new(const struct dkim_verify_options *opt,
    char *err, size_t errlen);
/* dkim_odkim_lib_free - release it (NULL is fine) */
void dkim_odkim_lib_free(struct dkim_odkim_lib *lib);
/* dkim_odkim_begin - start a message */
struct dkim_odkim *dkim_odkim_begin(struct dkim_odkim_lib *lib, const char *qid);
/* dkim_odkim_header - one header field (see dkim_verify_header) */
void dkim_odkim_header(struct dkim_odkim *v, const char *name, const char *value);
/* dkim_odkim_eoh - end of the header */
void dkim_odkim_eoh(struct dkim_odkim *v);
/* dkim_odkim_body - a body chunk */
void dkim_odkim_body(struct dkim_odkim *v, const unsigned char *data, size_t len);
/* dkim_odkim_eom - look up keys and verify (see dkim_verify_eom) */
int dkim_odkim_eom(struct dkim_odkim *v, struct dkim_verify_results *out);
/* dkim_odkim_free - end the message; NULL is fine */
void dkim_odkim_free(struct dkim_odkim *v);

#endif
