/*
 * domaincheck.h - what authmilter-check says about one domain's DNS:
 * DKIM key records, SPF record (with its DNS lookup cost), DMARC record,
 * and the bounce domain. One verdict line per item.
 */
#ifndef AUTHMILTER_DOMAINCHECK_H
#define AUTHMILTER_DOMAINCHECK_H

#include <stdio.h>

#include "policy/config.h"
#include "base/dns.h"

enum domaincheck_level {
	DOMAINCHECK_OK,
	DOMAINCHECK_WARN,	/* works, but an operator should look */
	DOMAINCHECK_FAIL,	/* broken: fix before switching the customer on */
};

/* Cost of an SPF record tree (RFC 7208 4.6.4). */
struct domaincheck_spf {
	int records;		/* v=spf1 records at the name (must be 1) */
	int terms;		/* DNS-querying terms, includes counted through */
	int void_lookups;	/* includes/redirects that found nothing */
	int loops;		/* an include loop was found */
	int errors;		/* DNS errors met */
	int walked;		/* records looked up (a fan-out is cut) */
	char detail[512];	/* the record, or what went wrong */
};

/* domaincheck_spf_cost - walk an SPF record and its includes, counting lookups */
void domaincheck_spf_cost(struct dns *d, const char *domain,
    struct domaincheck_spf *out);
/* domaincheck_domain - print verdict lines for one domain block; returns the worst level */
enum domaincheck_level domaincheck_domain(struct dns *d,
    const struct config_domain *dom, FILE *fp);

#endif
