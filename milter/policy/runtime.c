/*
 * runtime.c - start and stop a snapshot's resolver and engines.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/runtime.h"
#include "base/xalloc.h"

/* DNS queries in flight at most: unbound's own default as a server
 * (outgoing-range); each port costs libunbound about 1 KB */
#define RUNTIME_MAX_DNS_QUERIES 4096

/* runtime_free - release a runtime (the snapshot's rt_free hook) */
static void
runtime_free(void *arg)
{
	struct runtime *rt = arg;

	if (rt == NULL || __atomic_sub_fetch(&rt->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	dmarc_free(rt->dmarc);
	dkim_verify_lib_free(rt->dkim_lib);
	spf_free(rt->spf);
	dns_free(rt->dns);
	free(rt);
}

/* runtime_same_words - two lists alike, word by word */
static int
runtime_same_words(const struct config_words *a, const struct config_words *b)
{
	size_t i;

	if (a->n != b->n)
		return 0;
	for (i = 0; i < a->n; i++)
		if (strcmp(a->v[i], b->v[i]) != 0)
			return 0;
	return 1;
}

/* runtime_same - are the options the runtime is built from the same in a and b? */
static int
runtime_same(const struct config *a, const struct config *b)
{
	return runtime_same_words(&a->dns_servers, &b->dns_servers)
	    && strcmp(a->trust_anchor_file, b->trust_anchor_file) == 0
	    && a->dns_timeout == b->dns_timeout
	    && a->max_connections == b->max_connections
	    && a->key_check_concurrency == b->key_check_concurrency
	    && strcmp(a->authserv_id, b->authserv_id) == 0
	    && a->spf_time_budget == b->spf_time_budget
	    && a->spf_engine == b->spf_engine
	    && a->dkim_max_signatures == b->dkim_max_signatures
	    && a->dkim_verifier == b->dkim_verifier
	    && a->dmarc_mode == b->dmarc_mode;
}

/* The key check's resolver hands answers over at most this often: at
 * thousands of lookups a second, several per wake-up of its threads
 * instead of one (its lookups wait seconds anyway). */
#define RUNTIME_CHECK_BATCH_MS 2

/* Answers the message path's resolver keeps in front of libunbound (for
 * their TTL): a lookup answered there costs no hand-off to its threads
 * (SPF, DKIM keys and DMARC records of the senders seen recently). */
#define RUNTIME_DNS_CACHE 20000

/* runtime_dns_options - the resolver options of c */
static void
runtime_dns_options(const struct config *c, struct dns_options *dopt)
{
	memset(dopt, 0, sizeof(*dopt));
	dopt->servers = (const char *const *)c->dns_servers.v;
	dopt->nservers = c->dns_servers.n;
	dopt->trust_anchor = c->trust_anchor_file[0] ? c->trust_anchor_file : NULL;
	dopt->timeout_ms = (int)(c->dns_timeout * 1000);
	/* each connection waits for one answer at a time; the key check
	 * keeps key_check_concurrency in flight besides */
	dopt->max_queries = c->max_connections + c->key_check_concurrency;
	if (dopt->max_queries > RUNTIME_MAX_DNS_QUERIES)
		dopt->max_queries = RUNTIME_MAX_DNS_QUERIES;
	dopt->cache_entries = RUNTIME_DNS_CACHE;
}

/* runtime_dns_new - a resolver of its own with c's options (the key check's: answers handed over in batches) */
struct dns *
runtime_dns_new(const struct config *c, char *err, size_t errlen)
{
	struct dns_options dopt;

	runtime_dns_options(c, &dopt);
	dopt.batch_ms = RUNTIME_CHECK_BATCH_MS;
	dopt.cache_entries = 0;	/* it asks what DNS says now */
	return dns_new(&dopt, err, errlen);
}

struct dns *
runtime_dns_tool(const struct config *c, char *err, size_t errlen)
{
	struct dns_options o;

	memset(&o, 0, sizeof(o));
	o.servers = (const char *const *)c->dns_servers.v;
	o.nservers = c->dns_servers.n;
	o.trust_anchor = c->trust_anchor_file[0] ? c->trust_anchor_file : NULL;
	o.timeout_ms = (int)(c->dns_timeout * 1000);
	return dns_new(&o, err, errlen);
}

/* runtime_start - share prev's runtime, or build the resolver and engines of a snapshot */
int
runtime_start(struct config *c, const struct config *prev, char *err,
    size_t errlen)
{
	struct runtime *rt;
	struct dns_options dopt = { 0 };
	struct spf_options sopt = { 0 };
	struct dkim_verify_options vopt = { 0 };
	struct dmarc_options mopt = { 0 };

	if (prev != NULL && prev->rt != NULL && runtime_same(c, prev)) {
		rt = prev->rt;
		__atomic_add_fetch(&rt->refs, 1, __ATOMIC_ACQ_REL);
		c->rt = rt;
		c->rt_free = runtime_free;
		return 0;
	}
	rt = xcalloc(1, sizeof(*rt));
	rt->refs = 1;

	runtime_dns_options(c, &dopt);
	if ((rt->dns = dns_new(&dopt, err, errlen)) == NULL)
		goto fail;
	sopt.receiver = c->authserv_id;
	sopt.time_budget_ms = (int)(c->spf_time_budget * 1000);
	sopt.check_helo = 1;
	sopt.engine = c->spf_engine == CONFIG_SPF_ENGINE_LIBSPF2
	    ? SPF_ENGINE_LIBSPF2 : SPF_ENGINE_BUILTIN;
	if ((rt->spf = spf_new(rt->dns, &sopt, err, errlen)) == NULL)
		goto fail;
	vopt.dns = rt->dns;
	vopt.dnssec = dopt.trust_anchor != NULL;
	vopt.max_signatures = (unsigned)c->dkim_max_signatures;
	vopt.engine = c->dkim_verifier == CONFIG_DKIM_VERIFIER_LIBOPENDKIM
	    ? DKIM_VERIFY_ENGINE_LIBOPENDKIM : DKIM_VERIFY_ENGINE_BUILTIN;
	if ((rt->dkim_lib = dkim_verify_lib_new(&vopt, err, errlen)) == NULL)
		goto fail;
	mopt.mode = c->dmarc_mode == CONFIG_DMARC_RFC7489 ? DMARC_MODE_RFC7489
	    : DMARC_MODE_RFC9989;
	mopt.lookup_arg = rt->dns;
	if ((rt->dmarc = dmarc_new(&mopt, err, errlen)) == NULL)
		goto fail;
	c->rt = rt;
	c->rt_free = runtime_free;
	return 0;
fail:
	runtime_free(rt);
	return -1;
}

/* runtime_of - a snapshot's runtime */
struct runtime *
runtime_of(const struct config *c)
{
	return c != NULL ? c->rt : NULL;
}
