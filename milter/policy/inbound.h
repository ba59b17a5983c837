/*
 * inbound.h - the verifying path of one message: SPF at MAIL FROM, DKIM
 * while the message streams, DMARC and the Authentication-Results header
 * at its end.
 *
 * Owned by the connection's thread. Modules do the checking; this file
 * only sequences them and gathers what the callbacks must apply.
 */
#ifndef AUTHMILTER_INBOUND_H
#define AUTHMILTER_INBOUND_H

#include <stddef.h>
#include <time.h>

#include "base/buf.h"
#include "policy/config.h"
#include "auth/dkim_verify.h"
#include "auth/dmarc.h"
#include "base/edit.h"
#include "auth/sign.h"
#include "auth/spf.h"
#include "policy/verdict.h"

#define INBOUND_BOUNCE_FIELD "X-Authmilter-Bounce"	/* on a genuine bounce */
#define INBOUND_QUARANTINE_FIELD "X-Authmilter-Quarantine"	/* its reason */

struct inbound {
	struct spf_result spf;		/* SPF of MAIL FROM and HELO */
	int spf_done;			/* spf is filled */
	struct dkim_verify *dkim;		/* verifier of this message */
	struct dkim_verify_results dkimres;	/* its results, after finish */
	struct dmarc_outcome dmarc;	/* DMARC, after finish */
	int dmarc_done;
	struct buf authres;		/* Authentication-Results value ("": none) */
	struct buf received_spf;	/* Received-SPF value ("": none) */
	struct verdict verdict;		/* what to do with the message */
	char summary[512];		/* one log line */
};

/* inbound_new - empty state */
struct inbound *inbound_new(void);
/* inbound_free - release (NULL is fine) */
void inbound_free(struct inbound *in);
/* inbound_spf - check SPF for MAIL FROM and HELO; returns the MAIL FROM verdict */
struct verdict inbound_spf(struct inbound *in, const struct config *c,
    const char *qid, const char *client_ip, const char *mailfrom,
    const char *helo);
/*
 * inbound_headers - start DKIM verification with the message's headers;
 * space_stripped: the MTA passes values without the white space after the
 * colon (no PROTO_P_HDR_LEADSPC), and one space is put back, as Postfix and
 * Sendmail write "Name: value"
 */
void inbound_headers(struct inbound *in, const struct config *c,
    const char *qid, const struct sign_header *hdrs, size_t nhdrs,
    int space_stripped);
/* inbound_body - feed a body chunk */
void inbound_body(struct inbound *in, const unsigned char *data, size_t len);
/*
 * inbound_finish - DKIM results, DMARC, the A-R and Received-SPF values
 * and the verdict (in->verdict, logged). from_domain is the single From
 * address's domain, or NULL with from_problem saying what is wrong with
 * the From header. For mail not refused, the fields to add and the
 * quarantine are appended to edits.
 */
void inbound_finish(struct inbound *in, const struct config *c,
    const char *qid, const char *from_domain, const char *from_problem,
    struct edit_list *edits);
/*
 * inbound_bounce_edits - a genuine bounce to rcpt (as the MTA gave it)
 * goes to original instead, with an X-Authmilter-Bounce field saying so
 * (and, status not NULL, what its delivery status report said: "; failed=
 * <a>,...; status=5.1.1,...", dsn_format's words)
 */
void inbound_bounce_edits(const char *rcpt, const char *original,
    time_t issued, const char *status, struct edit_list *edits);

/*
 * inbound_bounce_rcpt - is rcpt an address in one of our bounce domains,
 * and does it verify? BOUNCE_NOT_OURS when it is not in a bounce domain
 * (or not in our format); BOUNCE_OK with the original sender in original.
 * A stored-form address is looked up in map (NULL: none, refused): an
 * unknown token is BOUNCE_BAD_MAC, one older than bounce_max_age
 * BOUNCE_EXPIRED, a store failure BOUNCE_INTERNAL (logged with qid).
 */
enum bounce_status inbound_bounce_rcpt(const struct config *c,
    const char *rcpt, time_t now, const struct bounce_map *map,
    const char *qid, struct buf *original, struct bounce_info *info);

#endif
