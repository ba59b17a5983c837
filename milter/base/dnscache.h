/*
 * dnscache.h - answers kept in front of the resolver, so that a lookup
 * whose answer is known costs no hand-off to the resolver's threads.
 *
 * Keyed by lower-case name (a final dot ignored) and type; an answer is
 * kept for its TTL (at most DNSCACHE_MAX_TTL seconds); only definite ones
 * (records, NXDOMAIN, NODATA) with a TTL above 0. Sharded, each shard
 * under its own lock and bounded: the oldest entries go first. Thread-safe.
 */
#ifndef AUTHMILTER_DNSCACHE_H
#define AUTHMILTER_DNSCACHE_H

#include <stddef.h>

#include "base/dns.h"

#define DNSCACHE_MAX_TTL 3600

struct dnscache;

/* dnscache_new - a cache of at most max_entries answers (max_entries > 0) */
struct dnscache *dnscache_new(size_t max_entries);
/* dnscache_free - release it and every answer (NULL is fine) */
void dnscache_free(struct dnscache *dc);
/* dnscache_get - a copy of the answer for name/type into r (free it with dns_result_free): 1; 0 if none is kept (r untouched) */
int dnscache_get(struct dnscache *dc, const char *name, int rrtype,
    struct dns_result *r, long long now_ms);
/* dnscache_put - keep a copy of r for name/type, if it is worth keeping */
void dnscache_put(struct dnscache *dc, const char *name, int rrtype,
    const struct dns_result *r, long long now_ms);
/* dnscache_count - answers kept now */
size_t dnscache_count(struct dnscache *dc);

#endif
