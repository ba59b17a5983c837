/*
 * forgery.h - header fields of an incoming message that pretend to be
 * ours: Authentication-Results naming our authserv-id (RFC 8601 5: remove
 * at the boundary, also from our own users' mail) and, on mail from
 * clients that are neither authenticated nor internal, any X-Authmilter-*
 * field (X-Authmilter-Bounce and -Quarantine are ours to write; a
 * downstream bounce processor or filter trusts them).
 *
 * Pure: the message's headers in, the deletions to make out, in an order
 * that keeps every index valid while they are applied. Owned by the
 * connection's thread; the caller applies the deletions through mta.c and
 * refuses a message carrying more than max_forged_headers of them instead
 * of editing it field by field (thousands of deletions stall Postfix's
 * cleanup).
 */
#ifndef AUTHMILTER_FORGERY_H
#define AUTHMILTER_FORGERY_H

#include <stddef.h>

#include "base/edit.h"
#include "auth/sign.h"

/* One deletion: the idx-th (1-based) field of that name, names compared without case. */
struct forgery_del {
	const char *name;	/* the field name as received (borrowed from the headers) */
	int idx;		/* 1-based among the fields of that name */
};

struct forgery {
	struct forgery_del *del;	/* deletions in the order to apply them (owned) */
	size_t ndel;
	size_t nauthres;	/* of them: Authentication-Results claiming us */
	size_t nours;		/* of them: X-Authmilter-* fields */
	int over;		/* more than limit such fields (del holds limit) */
};

/*
 * forgery_scan - find the fields to delete among n headers (in message
 * order). trusted: the client is authenticated or internal, whose
 * X-Authmilter-* fields are kept. More than limit of them sets over and
 * stops the scan (the cost stays n x limit). Fills out (release with
 * forgery_free).
 */
void forgery_scan(const char *authserv_id, int trusted, size_t limit,
    const struct sign_header *hdrs, size_t n, struct forgery *out);
/* forgery_free - release the deletion list (a zeroed struct is fine) */
void forgery_free(struct forgery *f);
/* forgery_edits - the deletions as edits, in order; one log line once made */
void forgery_edits(const struct forgery *f, struct edit_list *edits);
/* forgery_summary - one log line's worth: "2 Authentication-Results, 1 X-Authmilter-*" */
void forgery_summary(const struct forgery *f, char *out, size_t len);

#endif
