/*
 * dnsstub.h - a stub resolver for many lookups of one kind at a steady
 * rate (the key publication checks): UDP queries straight to the
 * configured forwarders (dns_servers), answers read by one thread in
 * batches. No cache, no recursion, no DNSSEC: what a forwarder answers.
 *
 * Why beside dns.h: a lookup through libunbound costs the key check
 * about 50 us of CPU (its module stack, a pipe to its thread and back,
 * allocations), 100,000 of them a pass; here it is a sendto, a share of a
 * recvmmsg and a parse. A truncated answer (TC) is asked again through the
 * fallback resolver given at dnsstub_new (libunbound, over TCP).
 *
 * Spoofing: each query goes out from one of DNSSTUB_SOCKS sockets on
 * ports the kernel picked, with a random ID; an answer counts only from
 * the server asked, to that socket, with that ID and the same question.
 *
 * Threading: dnsstub_query_start and _finish from any thread; notify is
 * called from the stub's reader thread under its lock (note and wake
 * only, as dns_query_start's).
 */
#ifndef AUTHMILTER_DNSSTUB_H
#define AUTHMILTER_DNSSTUB_H
#include <stddef.h>
#include "base/dns.h"

struct dnsstub;
struct dnsstub_query;

/*
 * dnsstub_new - a stub asking servers ("IP[@port]", numeric), the first
 * one until it fails to answer three times in a row, then the next;
 * timeout_ms is how long a query waits for its answer before it counts
 * against its server (the caller keeps its own deadline); fallback (may
 * be NULL, borrowed) takes truncated answers. NULL with err.
 */
struct dnsstub *dnsstub_new(const char *const *servers, size_t nservers,
    int timeout_ms, struct dns *fallback, char *err, size_t errlen);
/* dnsstub_free - stop the reader thread, free the stub (NULL is fine); every query must be finished */
void dnsstub_free(struct dnsstub *s);
/* dnsstub_query_start - as dns_query_start */
struct dnsstub_query *dnsstub_query_start(struct dnsstub *s, const char *name,
    int rrtype, void (*notify)(void *), void *arg, enum dns_status *status);
/* dnsstub_query_finish - as dns_query_finish */
enum dns_status dnsstub_query_finish(struct dnsstub_query *q,
    struct dns_result *r);
/*
 * dnsstub_parse - the answer packet pkt to a query of name/rrtype, into r
 * (free it with dns_result_free): its records of rrtype at the end of the
 * CNAME chain from name. 0, or -1 if pkt is no answer to that question
 * (r then untouched); a truncated answer gives 0 with *tc set.
 * Exposed for the tests and the fuzz target.
 */
int dnsstub_parse(const unsigned char *pkt, size_t len, const char *name,
    int rrtype, struct dns_result *r, int *tc);
#endif
