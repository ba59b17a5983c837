/*
 * spf_eval.h - our RFC 7208 evaluator: check_host() for one identity.
 *
 * spf.c prepares the identity (client address, sender, domain, HELO) and
 * turns the result into an outcome and its comment; this module selects
 * the record, checks its whole syntax (spf_eval_record.c), expands macros
 * (spf_eval_macro.c) and evaluates the mechanisms, include and redirect
 * under the RFC 7208 4.6.4 limits: max_terms DNS-querying terms over the
 * whole evaluation, max_void void lookups, 10 MX names per mx, 10 PTR
 * names per ptr, and the time budget (a deadline shared with the other
 * identity of the message).
 *
 * exp= is parsed and validated but never looked up: the explanation only
 * feeds SMTP replies, which are not ours to write. DNS goes through the
 * lookup function of the options (spf.c: the shared resolver; tests: a
 * fake zone). Memory: each nested record is one copy of its text (at
 * most SPF_EVAL_RECORD_MAX octets) plus fixed state; nesting is bounded
 * by the term limit.
 *
 * Threading: spf_eval_check keeps all its state on the caller's stack and
 * in its own allocations; it may run in any number of threads at once if
 * the lookup function may.
 */
#ifndef AUTHMILTER_SPF_EVAL_H
#define AUTHMILTER_SPF_EVAL_H

#include <stddef.h>
#include <time.h>

#include "base/dns.h"

/* An SPF result (RFC 7208 2.6); spf.h's interface re-exports it. */
enum spf_res {
	SPF_RES_NONE,		/* no record, or no checkable domain */
	SPF_RES_NEUTRAL,
	SPF_RES_PASS,
	SPF_RES_FAIL,
	SPF_RES_SOFTFAIL,
	SPF_RES_TEMPERROR,	/* DNS trouble or time budget exceeded */
	SPF_RES_PERMERROR,	/* bad record or a processing limit exceeded */
};

/* DNS record types asked for */
#define SPF_EVAL_RR_A		1
#define SPF_EVAL_RR_PTR		12
#define SPF_EVAL_RR_MX		15
#define SPF_EVAL_RR_TXT		16
#define SPF_EVAL_RR_AAAA	28

#define SPF_EVAL_NAMES_MAX	10	/* MX and PTR names per term (4.6.4) */
#define SPF_EVAL_WHY_MAX	200	/* detail of an error, with its NUL */
#define SPF_EVAL_SENDER_MAX	320	/* local-part@domain, with its NUL */

/*
 * spf_eval_lookup_fn - resolve name/rrtype within timeout_ms (0: the
 * resolver's default). Fills r as dns_resolve does (rdata in wire form;
 * the evaluator releases it with dns_result_free) and returns r->status.
 * name is the target as expanded: any octets but NUL, at most 253.
 */
typedef enum dns_status (*spf_eval_lookup_fn)(void *arg, const char *name,
    int rrtype, int timeout_ms, struct dns_result *r);

struct spf_eval_options {
	spf_eval_lookup_fn lookup;	/* required */
	void *lookup_arg;		/* its argument (borrowed) */
	int max_terms;			/* DNS-querying terms; <= 0: 10 */
	int max_void;			/* void lookups; 0: 2; -1: no limit */
	int query_timeout_ms;		/* one query's wait; 0: resolver's */
	struct timespec deadline;	/* CLOCK_MONOTONIC end of the budget */
	const char *qid;		/* prefixes debug log lines; may be NULL */
};

/* The identity checked. Strings are borrowed. */
struct spf_eval_request {
	int family;			/* AF_INET or AF_INET6 */
	unsigned char addr[16];		/* client (IPv4 in the first 4 octets) */
	const char *sender;		/* local-part@domain, %{s} */
	const char *domain;		/* domain whose record is checked */
	const char *helo;		/* HELO name, %{h} */
};

/* Why the evaluation stopped early. */
enum spf_eval_stop {
	SPF_EVAL_STOP_NONE,
	SPF_EVAL_STOP_TERMS,		/* more than max_terms DNS terms */
	SPF_EVAL_STOP_VOID,		/* more than max_void void lookups */
	SPF_EVAL_STOP_MXNAMES,		/* an MX answer with over 10 names */
	SPF_EVAL_STOP_DEPTH,		/* include/redirect nested too deep */
	SPF_EVAL_STOP_BUDGET,		/* the deadline passed */
};

struct spf_eval_result {
	enum spf_res res;		/* the result */
	enum spf_eval_stop stop;	/* a limit hit (res permerror or, for
					 * the budget, temperror) */
	char why[SPF_EVAL_WHY_MAX];	/* permerror/temperror detail, printable */
	char stop_name[256];		/* the name being looked up at a stop */
	int queries;			/* DNS queries made */
	int terms;			/* DNS-querying terms evaluated */
	int voids;			/* void lookups */
};

/*
 * spf_eval_check - check_host() for req under opt; always fills out.
 * req->domain must already be a checkable domain (RFC 7208 4.3).
 */
void spf_eval_check(const struct spf_eval_options *opt,
    const struct spf_eval_request *req, struct spf_eval_result *out);
/* spf_eval_stop_name - "terms", "void", ... for log lines */
const char *spf_eval_stop_name(enum spf_eval_stop s);

#endif
