/*
 * forgery.c - which incoming header fields claim to be ours (forgery.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>

#include "auth/authres.h"
#include "policy/forgery.h"
#include "base/xalloc.h"

#define FORGERY_PREFIX "X-Authmilter-"

/* forgery_ours - a field name only we may write */
static int
forgery_ours(const char *name)
{
	return strncasecmp(name, FORGERY_PREFIX, sizeof(FORGERY_PREFIX) - 1) == 0;
}

/* forgery_index - 1-based position of hdrs[i] among the fields of its name */
static int
forgery_index(const struct sign_header *hdrs, size_t i)
{
	int idx = 1;
	size_t j;

	for (j = 0; j < i; j++)
		if (strcasecmp(hdrs[j].name, hdrs[i].name) == 0)
			idx++;
	return idx;
}

/* forgery_scan - the deletions, last field first; stops past limit */
void
forgery_scan(const char *authserv_id, int trusted, size_t limit,
    const struct sign_header *hdrs, size_t n, struct forgery *out)
{
	size_t i, cap = 0;
	int ar;

	memset(out, 0, sizeof(*out));
	/*
	 * From the last field up: deleting a later field never moves an
	 * earlier one of the same name, so every index stays right while
	 * the MTA applies them in this order.
	 */
	for (i = n; i-- > 0;) {
		ar = strcasecmp(hdrs[i].name, "Authentication-Results") == 0
		    && authres_claims_id(hdrs[i].value, authserv_id);
		if (!ar && (trusted || !forgery_ours(hdrs[i].name)))
			continue;
		if (out->ndel == limit) {
			out->over = 1;	/* refused whole: no need to count on */
			break;
		}
		if (out->ndel == cap) {
			cap = cap ? cap * 2 : 4;
			out->del = xreallocarray(out->del, cap, sizeof(*out->del));
		}
		out->del[out->ndel].name = hdrs[i].name;
		out->del[out->ndel].idx = forgery_index(hdrs, i);
		out->ndel++;
		if (ar)
			out->nauthres++;
		else
			out->nours++;
	}
}

/* forgery_free - release */
void
forgery_free(struct forgery *f)
{
	free(f->del);
	memset(f, 0, sizeof(*f));
}

/* forgery_summary - counts per kind for the log */
void
forgery_summary(const struct forgery *f, char *out, size_t len)
{
	(void)snprintf(out, len, "%zu Authentication-Results claiming our "
	    "authserv-id, %zu " FORGERY_PREFIX "*", f->nauthres, f->nours);
}

/* forgery_edits - the deletions as edits, the last one noting them all */
void
forgery_edits(const struct forgery *f, struct edit_list *edits)
{
	struct edit *e = NULL;
	char what[160];
	size_t i;

	for (i = 0; i < f->ndel; i++) {
		e = edit_add(edits, EDIT_HEADER_DELETE, f->del[i].name, NULL);
		e->idx = f->del[i].idx;
	}
	if (e != NULL) {
		forgery_summary(f, what, sizeof(what));
		edit_note(e, LOG_NOTICE, "removed forged header fields: %s", what);
	}
}
