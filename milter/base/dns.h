/*
 * dns.h - the one DNS resolver of authmilter (libunbound).
 *
 * One struct dns per configuration snapshot, shared by every thread: a
 * libunbound context (caching, forwarding to dns_servers, optional DNSSEC
 * validation with a trust anchor file) driven by one internal thread that
 * runs ub_process(); callers submit queries and wait on a condition
 * variable with a per-query deadline, cancelling the query on timeout
 * (dns_resolve), or submit many and collect each when told it is in
 * (dns_query_start, dns_query_finish: the key publication checks).
 * DKIM (libopendkim callbacks), SPF (a libspf2 SPF_dns_server_t layer),
 * DMARC and the key publication checks all resolve through it; no code path
 * uses the libc resolver.
 *
 * Test seam: dns_servers in the conf points at a local authoritative
 * server (knot on a loopback port in the tests).
 */
#ifndef AUTHMILTER_DNS_H
#define AUTHMILTER_DNS_H

#include <stddef.h>

#include "base/buf.h"

enum dns_status {
	DNS_OK,			/* answer with records */
	DNS_NXDOMAIN,		/* name does not exist */
	DNS_NODATA,		/* name exists, no records of that type */
	DNS_TEMPFAIL,		/* timeout, SERVFAIL, network error */
	DNS_BOGUS,		/* DNSSEC validation failed */
	DNS_ERROR,		/* bad query (name too long, ...) */
};

struct dns_result {
	enum dns_status status;		/* outcome */
	int secure;			/* DNSSEC validated */
	size_t n;			/* number of records */
	unsigned char **data;		/* rdata of each record (wire form) */
	size_t *len;			/* length of each */
	unsigned char *packet;		/* whole answer packet (wire form) */
	size_t packet_len;
	int rcode;			/* DNS rcode */
	int ttl;			/* TTL of the answer */
};

struct dns_options {
	const char *const *servers;	/* "host[@port]" forwarders; NULL/0: system */
	size_t nservers;
	const char *trust_anchor;	/* trust anchor file; NULL: no DNSSEC */
	int timeout_ms;			/* per-query deadline */
	int max_queries;		/* queries in flight at once (libunbound's
					 * ports, 16 as a library, raised to it) */
	size_t cache_entries;		/* >0: dns_resolve keeps up to this many
					 * answers for their TTL and answers from
					 * them in the caller's thread (dnscache.h) */
	int batch_ms;			/* >0: answers are handed over at most
					 * every batch_ms, several a wake-up (a
					 * caller of many lookups that can wait a
					 * little: fewer thread switches) */
};

struct dns;
struct dns_query;

/* dns_new - start a resolver; NULL with err on failure */
struct dns *dns_new(const struct dns_options *opt, char *err, size_t errlen);
/* dns_free - stop the resolver thread and free everything (NULL is fine) */
void dns_free(struct dns *d);
/*
 * dns_resolve - look up name/type (class IN), waiting at most the
 * configured timeout (or timeout_ms if > 0). Always fills r (free it with
 * dns_result_free). Returns r->status. Thread-safe.
 */
enum dns_status dns_resolve(struct dns *d, const char *name, int rrtype,
    int timeout_ms, struct dns_result *r);
/*
 * dns_query_start - submit a lookup of name/type (class IN) without
 * waiting, for a caller that keeps many in flight: notify(arg) is called
 * once the answer is in, from the resolver's thread and under its lock, so
 * it must only note the fact and wake the caller (never call dns_*).
 * Collect every query with dns_query_finish, once; the deadline is the
 * caller's. NULL when it could not be submitted (why in *status).
 */
struct dns_query *dns_query_start(struct dns *d, const char *name,
    int rrtype, void (*notify)(void *), void *arg, enum dns_status *status);
/*
 * dns_query_finish - the answer of q into r (free it with dns_result_free);
 * a query not answered yet is cancelled and gives DNS_TEMPFAIL. Frees q:
 * notify is never called for q after this returns. Returns r->status.
 */
enum dns_status dns_query_finish(struct dns_query *q, struct dns_result *r);
/* dns_timeout_ms - the configured per-query deadline */
int dns_timeout_ms(const struct dns *d);
/* dns_result_free - release a result */
void dns_result_free(struct dns_result *r);
/* dns_txt - the character-strings of TXT record i joined; they replace out's content; 0 or -1 */
int dns_txt(const struct dns_result *r, size_t i, struct buf *out);
/* dns_status_name - "ok", "nxdomain", ... */
const char *dns_status_name(enum dns_status s);

#endif
