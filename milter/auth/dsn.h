/*
 * dsn.h - the failed recipients of a delivery status notification
 * (RFC 3464; RFC 6533's global form too), read as a bounce's body streams
 * past: what a sender's suppression list needs (which address failed, with
 * which status), handed on in the X-Authmilter-Bounce field.
 *
 * Bounded: at most DSN_MAX_RCPTS recipients are kept, each field cut to
 * its size, lines cut at DSN_LINE_MAX; memory does not grow with the body.
 * Anything that is not a multipart/report with a delivery-status part
 * gives no recipient, never an error.
 */
#ifndef AUTHMILTER_DSN_H
#define AUTHMILTER_DSN_H

#include <stddef.h>

#include "base/buf.h"

#define DSN_MAX_RCPTS 8		/* recipients kept (the first, in order) */
#define DSN_LINE_MAX 1024	/* a line's bytes kept (the rest is cut) */

struct dsn;

/*
 * dsn_new - a reader for a body whose Content-Type field value is
 * content_type: NULL unless it is multipart/report with a boundary
 */
struct dsn *dsn_new(const char *content_type);
/* dsn_feed - the next bytes of the body (any split) */
void dsn_feed(struct dsn *d, const unsigned char *data, size_t len);
/*
 * dsn_format - after the body: "; failed=<a>,<b>; status=5.1.1,5.2.2" for
 * the recipients whose Action is failed, "; dsn=delayed" for a delay
 * notice with none failed, nothing else; appended to out. How many failed.
 */
size_t dsn_format(struct dsn *d, struct buf *out);
/* dsn_free - release a reader (NULL is fine) */
void dsn_free(struct dsn *d);

#endif
