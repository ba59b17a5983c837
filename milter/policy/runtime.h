/*
 * runtime.h - the live parts of a configuration snapshot: the resolver and
 * the SPF, DKIM-verification and DMARC engines built on it.
 *
 * A snapshot is parsed (config.c) wherever convenient, but its runtime is
 * started only in the serving process, after the fork to the background
 * and the privilege drop, because the resolver runs a thread. The runtime
 * is owned by the snapshot and freed with it.
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
	struct dns *dns;		/* the one resolver */
	struct spf *spf;		/* SPF checker */
	struct dkim_verify_lib *dkim_lib;	/* DKIM verifier */
	struct dmarc *dmarc;		/* DMARC evaluator */
};

/* runtime_start - build c's runtime (c->rt); 0, or -1 with err */
int runtime_start(struct config *c, char *err, size_t errlen);
/* runtime_of - the runtime of a snapshot (NULL before runtime_start) */
struct runtime *runtime_of(const struct config *c);

#endif
