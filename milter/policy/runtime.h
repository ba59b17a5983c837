/*
 * runtime.h - the live parts of a configuration snapshot: the resolver and
 * the SPF, DKIM-verification and DMARC engines built on it.
 *
 * A snapshot is parsed (config.c) wherever convenient, but its runtime is
 * started only in the serving process, after the fork to the background
 * and the privilege drop, because the resolver runs a thread. The runtime
 * is owned by the snapshot and freed with it; a reload that changes none of
 * the options it is built from shares it (reference counted), so the
 * resolver keeps its cache.
 */
#ifndef AUTHMILTER_RUNTIME_H
#define AUTHMILTER_RUNTIME_H

#include <stddef.h>

#include "policy/config.h"
#include "auth/dkim_verify.h"
#include "auth/dmarc.h"
#include "base/dns.h"
#include "auth/spf.h"

struct runtime {
	int refs;			/* snapshots sharing it (atomic) */
	struct dns *dns;		/* the one resolver */
	struct spf *spf;		/* SPF checker */
	struct dkim_verify_lib *dkim_lib;	/* DKIM verifier */
	struct dmarc *dmarc;		/* DMARC evaluator */
};

/*
 * runtime_start - give c its runtime (c->rt): prev's (a reload; may be
 * NULL), shared with its resolver's cache, when c's DNS, SPF, DKIM and
 * DMARC options are prev's; else a new one. 0, or -1 with err.
 */
int runtime_start(struct config *c, const struct config *prev, char *err,
    size_t errlen);
/* runtime_dns_new - a resolver of its own with c's DNS options (the key check's); NULL with err */
struct dns *runtime_dns_new(const struct config *c, char *err, size_t errlen);
/* runtime_dns_tool - a resolver with c's servers, trust anchor and timeout only (the command-line tools'); NULL with err */
struct dns *runtime_dns_tool(const struct config *c, char *err, size_t errlen);
/* runtime_of - the runtime of a snapshot (NULL before runtime_start) */
struct runtime *runtime_of(const struct config *c);

#endif
