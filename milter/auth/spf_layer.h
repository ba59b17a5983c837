/*
 * spf_layer.h - libspf2's DNS layer over our resolver (internal to spf.c).
 *
 * One layer per identity check: libspf2 calls it synchronously from the
 * checking thread, so its counters need no lock. Besides answering A,
 * AAAA, MX, PTR and TXT queries through dns_resolve(), it enforces the
 * RFC 7208 4.6.4 limits that libspf2 lacks or counts wrongly (libspf2
 * restarts its term count inside every include): more than max_terms
 * DNS-querying terms, more than 10 MX names, more than max_void void
 * lookups, or a record term long enough to overflow libspf2's compiler
 * (the integer underflow fixed upstream in 2023, d14abff, which Debian's
 * 1.2.10 lacks: a crafted record smashes the stack). The first limit hit is
 * recorded in stop, and every lookup from then on is refused with
 * TRY_AGAIN, so libspf2 unwinds with temperror; the caller turns that
 * into permerror because stop says why. The time budget works the same
 * and stays temperror.
 *
 * Type SPF (99) is never queried (RFC 7208 3.1) and exp= is never looked
 * up: the sender's explanation only feeds SMTP replies, which are not
 * ours to write.
 */
#ifndef AUTHMILTER_SPF_LAYER_H
#define AUTHMILTER_SPF_LAYER_H

#include <sys/types.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>

#include <spf2/spf.h>
#include <spf2/spf_dns.h>

#include "base/dns.h"
#include "auth/spf.h"

#define SPF_MAX_NAMES	10	/* MX and PTR names looked up (RFC 7208 4.6.4) */
#define SPF_TERM_MAX	200	/* longer record terms are refused */
#define SPF_NAME_MAX	1025	/* a wire name as escaped text */

/* Resolver and limits, shared read-only by every layer of a struct spf. */
struct spf_limits {
	struct dns *dns;		/* resolver */
	int budget_ms;			/* time budget of one message's checks
					 * (MAIL FROM and HELO together) */
	int max_terms;			/* DNS-querying terms */
	int max_void;			/* void lookups; -1: no limit */
};

/* Why the layer stopped answering. */
enum spf_stop {
	SPF_STOP_NONE,
	SPF_STOP_TERMS,			/* too many DNS-querying terms */
	SPF_STOP_VOID,			/* too many void lookups */
	SPF_STOP_MXNAMES,		/* an MX answer with over 10 names */
	SPF_STOP_RECORD,		/* a record term over SPF_TERM_MAX */
	SPF_STOP_BUDGET,		/* time budget exhausted */
};

struct spf_layer {
	SPF_dns_server_t base;		/* what libspf2 holds; must be first */
	const struct spf_limits *lim;	/* resolver and limits */
	const char *qid;		/* for log lines */
	struct timespec deadline;	/* end of the budget (CLOCK_MONOTONIC) */
	int queries;			/* DNS queries sent */
	int terms;			/* DNS-querying terms seen */
	int voids;			/* NXDOMAIN or NODATA answers */
	int seen_record;		/* the identity's own TXT lookup was made */
	enum spf_stop stop;		/* first limit hit */
	char stop_name[SPF_DOMAIN_MAX];	/* the name being looked up then */
	char pending[SPF_MAX_NAMES][SPF_NAME_MAX];	/* last MX/PTR names */
	int npending;			/* names in pending */
	int next_pending;		/* the address lookup expected next */
};

/*
 * spf_layer_new - a layer for one identity check that stops asking at
 * deadline (CLOCK_MONOTONIC): the identities of one message share it
 */
struct spf_layer *spf_layer_new(const struct spf_limits *lim, const char *qid,
    const struct timespec *deadline);
/* spf_layer_free - release a layer (after its libspf2 server) */
void spf_layer_free(struct spf_layer *l);

#endif
