/*
 * onboard.h - authmilter-check's onboarding checks of one customer
 * domain, in the conf or not yet: its DKIM records, its SPF record (does
 * it include the platform, what each include costs of the 10 lookups,
 * ptr), its DMARC record (present, policy, can SPF or DKIM align given
 * the bounce domain and the platform's signature, are the external report
 * addresses authorised), its bounce domain (CNAME or MX at the platform,
 * its SPF) and a Gmail/Yahoo bulk-sender summary.
 *
 * Each check gives a status (OK, WARN, FAIL), one line of detail and the
 * DNS records it read. onboard_run may run in many threads at once over
 * one struct dns (it writes only its result); the output functions are
 * pure.
 */
#ifndef AUTHMILTER_ONBOARD_H
#define AUTHMILTER_ONBOARD_H

#include <stddef.h>
#include <stdio.h>

#include "base/buf.h"
#include "base/dns.h"
#include "auth/keys.h"

enum onboard_level {
	ONBOARD_OK,
	ONBOARD_WARN,		/* works, an operator should look */
	ONBOARD_FAIL,		/* breaks mail or reports: fix before going live */
};

/* The checks, in output order; one result each (DKIM: one per key). */
enum onboard_kind {
	ONBOARD_DKIM,
	ONBOARD_SPF,		/* the record: one, lookups, ptr */
	ONBOARD_SPF_PLATFORM,	/* it includes the platform */
	ONBOARD_DMARC,		/* present, policy */
	ONBOARD_ALIGNMENT,	/* can SPF or DKIM align */
	ONBOARD_REPORTS,	/* rua/ruf authorised (RFC 7489 7.1) */
	ONBOARD_BOUNCE,		/* CNAME/MX at the platform */
	ONBOARD_BOUNCE_SPF,	/* the bounce domain's SPF */
	ONBOARD_BULK,		/* Gmail/Yahoo bulk-sender summary */
	ONBOARD_NKINDS
};

/* What the conf says about the platform (all borrowed). */
struct onboard_platform {
	const char *domain;	/* platform_domain; "" unknown */
	const char *spf_include;	/* what customers include; "" unknown */
	const char *bounce_host;	/* exact bounce target wanted; "" any
					 * name at or under domain */
	int signs;		/* the platform signs customer mail (d=domain) */
	int unsubscribe_signed;	/* List-Unsubscribe(-Post) in signed_headers */
	void *psl;		/* libpsl context (psl_ctx_t), borrowed */
};

/* One DKIM key to check: a selector, with the private key if known. */
struct onboard_key {
	const char *selector;	/* borrowed */
	const struct key *key;	/* borrowed; NULL: only the record's form */
};

/* One domain to check. */
struct onboard_target {
	char *domain;		/* owned, lowercase, no trailing dot */
	char *bounce;		/* owned; NULL: no bounce domain */
	struct onboard_key *keys;	/* owned array */
	size_t nkeys;
	struct key *own;	/* owned keys (keys[i].key may point into it) */
	size_t nown;
	char *error;		/* owned; set: the target itself is bad (no checks) */
};

/* One check's verdict. */
struct onboard_item {
	enum onboard_kind kind;
	enum onboard_level level;
	char what[300];		/* "DKIM s1._domainkey", "SPF", ... */
	struct buf detail;	/* one line */
	struct buf records;	/* records read, one "name TYPE value" a line */
};

/* Every verdict for one domain. */
struct onboard_result {
	const struct onboard_target *target;	/* borrowed */
	struct onboard_item *items;	/* owned */
	size_t n;
	enum onboard_level worst;
	unsigned queries;	/* DNS queries made */
};

/* Counts over many results, for the summary. */
struct onboard_summary {
	size_t domains;
	size_t by_level[3];		/* domains by worst verdict */
	size_t kinds[ONBOARD_NKINDS][3];	/* verdicts by check and level */
	unsigned long queries;
};

/* onboard_target_free - release a target's strings and keys array */
void onboard_target_free(struct onboard_target *t);
/* onboard_run - every check of t into r (free with onboard_result_free) */
void onboard_run(struct dns *d, const struct onboard_platform *p,
    const struct onboard_target *t, struct onboard_result *r);
/* onboard_result_free - release a result */
void onboard_result_free(struct onboard_result *r);
/* onboard_kind_name - "dkim", "spf", ... (JSON and summary names) */
const char *onboard_kind_name(enum onboard_kind k);
/* onboard_level_name - "OK", "WARN", "FAIL" */
const char *onboard_level_name(enum onboard_level l);
/* onboard_text - r as verdict lines (only WARN/FAIL with problems_only) into out */
void onboard_text(const struct onboard_result *r, int problems_only,
    struct buf *out);
/* onboard_json - r as one JSON object into out */
void onboard_json(const struct onboard_result *r, int problems_only,
    struct buf *out);
/* onboard_summary_add - count r in s */
void onboard_summary_add(struct onboard_summary *s,
    const struct onboard_result *r);
/* onboard_summary_text - the summary lines into out */
void onboard_summary_text(const struct onboard_summary *s, struct buf *out);
/* onboard_summary_json - the summary as a JSON object into out */
void onboard_summary_json(const struct onboard_summary *s, struct buf *out);
/* onboard_org - the organizational domain of name (libpsl), into org */
void onboard_org(const struct onboard_platform *p, const char *name,
    char *org, size_t orglen);

#endif
