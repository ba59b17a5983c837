/*
 * dmarc.h - DMARC evaluation (RFC 9989, with RFC 7489 behaviour selectable).
 *
 * The module consumes results it is given (the From domain, the SPF result
 * and its domain, the DKIM results) and finds the DMARC policy record in
 * the DNS: RFC 9989 by the DNS Tree Walk (psd=, np=, t=), RFC 7489 at the
 * From domain and then at its organizational domain from the public suffix
 * list (libpsl over Debian's publicsuffix; pct= honoured). It never touches
 * the MTA session (mta_*) and never picks an SMTP reply: the caller turns the outcome into
 * a verdict.
 *
 * Threading: a struct dmarc is built once per configuration snapshot and
 * is immutable afterwards; dmarc_evaluate may run in any number of threads
 * at once. Each evaluation keeps its own small DNS cache.
 *
 * Test seams: the DNS lookup and the random source of pct= are function
 * pointers in struct dmarc_options.
 */
#ifndef AUTHMILTER_DMARC_H
#define AUTHMILTER_DMARC_H

#include <stddef.h>

#include "base/buf.h"
#include "base/dns.h"

/* DNS record types dmarc asks for */
#define DMARC_RR_A	1
#define DMARC_RR_MX	15
#define DMARC_RR_TXT	16
#define DMARC_RR_AAAA	28

#define DMARC_DOMAIN_BUF 256	/* a domain name (<= 253) and its NUL */
#define DMARC_URI_MAX	16	/* reporting URIs kept per tag */
#define DMARC_WALK_MAX	8	/* DNS queries of one RFC 9989 tree walk */
#define DMARC_QUERY_MAX	40	/* DNS queries of one evaluation, all walks */

enum dmarc_mode {
	DMARC_MODE_RFC9989,	/* DNS Tree Walk, psd=, np=, t= */
	DMARC_MODE_RFC7489,	/* public suffix list, pct= */
};

enum dmarc_result {
	DMARC_RESULT_NONE,	/* no policy record applies */
	DMARC_RESULT_PASS,	/* an aligned identifier passed */
	DMARC_RESULT_FAIL,	/* a record applies and nothing aligned passed */
	DMARC_RESULT_TEMPERROR,	/* a needed DNS answer did not come */
	DMARC_RESULT_PERMERROR,	/* no usable From domain */
};

enum dmarc_policy {
	DMARC_POLICY_UNSET,	/* tag absent (or discarded as invalid) */
	DMARC_POLICY_NONE,
	DMARC_POLICY_QUARANTINE,
	DMARC_POLICY_REJECT,
};

/* Which tag of the record gave the policy. */
enum dmarc_source {
	DMARC_SOURCE_NONE,	/* no record */
	DMARC_SOURCE_P,
	DMARC_SOURCE_SP,
	DMARC_SOURCE_NP,
	DMARC_SOURCE_RUA_FALLBACK,	/* invalid p/sp/np, valid rua: p=none */
};

enum dmarc_align {
	DMARC_ALIGN_RELAXED,	/* same organizational domain */
	DMARC_ALIGN_STRICT,	/* identical domains */
};

enum dmarc_psd {
	DMARC_PSD_U,		/* unspecified (default) */
	DMARC_PSD_Y,		/* a public suffix domain */
	DMARC_PSD_N,		/* an organizational domain */
};

/* Result of an underlying mechanism, as the caller maps it. Only PASS counts. */
enum dmarc_auth {
	DMARC_AUTH_NONE,
	DMARC_AUTH_PASS,
	DMARC_AUTH_FAIL,
	DMARC_AUTH_TEMPERROR,
	DMARC_AUTH_PERMERROR,
	DMARC_AUTH_OTHER,	/* softfail, neutral, policy, ... */
};

/* bits of struct dmarc_record.bad: a tag present with an invalid value or repeated */
#define DMARC_BAD_P	0x1
#define DMARC_BAD_SP	0x2
#define DMARC_BAD_NP	0x4

/* bits of struct dmarc_record.fo */
#define DMARC_FO_0	0x1
#define DMARC_FO_1	0x2
#define DMARC_FO_D	0x4
#define DMARC_FO_S	0x8

/* A parsed DMARC policy record. Owns its URI strings. */
struct dmarc_record {
	enum dmarc_policy p;		/* UNSET when absent or bad */
	enum dmarc_policy sp;		/* UNSET when absent or bad */
	enum dmarc_policy np;		/* UNSET when absent or bad (RFC 9989) */
	unsigned bad;			/* DMARC_BAD_*: p/sp/np present but unusable */
	enum dmarc_align adkim;		/* default relaxed */
	enum dmarc_align aspf;		/* default relaxed */
	int pct;			/* 0..100, default 100 (RFC 7489) */
	int testing;			/* t=y (RFC 9989) */
	enum dmarc_psd psd;		/* psd= (RFC 9989), default u */
	unsigned fo;			/* DMARC_FO_*, default DMARC_FO_0 */
	unsigned long ri;		/* report interval, default 86400 */
	char *rua[DMARC_URI_MAX];	/* syntactically valid aggregate URIs */
	unsigned long long rua_limit[DMARC_URI_MAX];	/* each one's "!size"
					 * in bytes (RFC 7489 6.2); 0: none */
	size_t nrua;
	char *ruf[DMARC_URI_MAX];	/* syntactically valid failure URIs */
	size_t nruf;
};

/* TXT answer: each record's character-strings joined, in answer order. */
struct dmarc_txt {
	struct buf *v;			/* the records */
	size_t n;			/* how many */
};

/*
 * dmarc_lookup_fn - resolve name/rrtype (DMARC_RR_*). For TXT, txt is
 * non-NULL and receives every record (dmarc_txt_add); for A, AAAA and MX
 * it is NULL and only the status matters. Returns DNS_OK, DNS_NODATA,
 * DNS_NXDOMAIN, or an error status (TEMPFAIL, BOGUS, ERROR).
 */
typedef enum dns_status (*dmarc_lookup_fn)(void *arg, const char *name,
    int rrtype, struct dmarc_txt *txt);
/* dmarc_random_fn - a random number for pct= sampling (any range; taken mod 100) */
typedef unsigned (*dmarc_random_fn)(void *arg);

struct dmarc_options {
	enum dmarc_mode mode;		/* rfc9989 (default) or rfc7489 */
	dmarc_lookup_fn lookup;		/* NULL: dmarc_lookup_dns */
	void *lookup_arg;		/* for dmarc_lookup_dns: the struct dns * */
	dmarc_random_fn random;		/* NULL: getrandom(2) */
	void *random_arg;
	const char *psl_file;		/* RFC 7489: PSL file; NULL: libpsl's newest */
};

struct dmarc;

/* The identifiers a message brings. Strings are borrowed. */
struct dmarc_dkim {
	enum dmarc_auth result;		/* only PASS counts */
	const char *domain;		/* d= */
	const char *selector;		/* s= (kept for reports) */
	int partial;			/* l= left body content unsigned: never counts */
};

struct dmarc_input {
	const char *from_domain;	/* RFC5322.From domain; NULL: none */
	enum dmarc_auth spf;		/* SPF result of spf_domain */
	const char *spf_domain;		/* MAIL FROM domain checked by SPF */
	const struct dmarc_dkim *dkim;	/* verified signatures */
	size_t ndkim;
};

struct dmarc_outcome {
	enum dmarc_result result;
	char from_domain[DMARC_DOMAIN_BUF];	/* normalized (lowercase A-label); "" if invalid */
	char org_domain[DMARC_DOMAIN_BUF];	/* its organizational domain; "" if not needed */
	char policy_domain[DMARC_DOMAIN_BUF];	/* where the applied record was found; "" none */
	int have_record;			/* record below is valid */
	struct dmarc_record record;		/* the applied record */
	enum dmarc_source source;		/* which tag gave policy */
	enum dmarc_policy policy;		/* requested policy (p, sp or np) */
	enum dmarc_policy disposition;		/* to enact: none on pass; after pct/t on fail */
	enum dmarc_policy at_stake;		/* temperror: what a fail would have
						 * enacted; UNSET when not known */
	int sampled_out;			/* RFC 7489 pct= spared this message */
	int testing;				/* RFC 9989 t=y lowered the policy */
	int pct_ignored;			/* RFC 9989: the record's pct= < 100
						 * was not honoured (pct is gone) */
	int exists;				/* From domain exists: 1, 0, -1 not checked */
	int spf_aligned;			/* SPF passed and aligned */
	unsigned char *dkim_aligned;		/* per input signature: passed and aligned */
	size_t ndkim;
	unsigned queries;			/* DNS queries made */
	char reason[256];			/* one line for logs */
};

/* dmarc_new - build the evaluator of a snapshot; NULL with err on failure */
struct dmarc *dmarc_new(const struct dmarc_options *opt, char *err,
    size_t errlen);
/* dmarc_free - release it (NULL is fine) */
void dmarc_free(struct dmarc *d);

/*
 * dmarc_evaluate - evaluate one message. Always fills out (release it with
 * dmarc_outcome_free). A NULL or syntactically invalid From domain gives
 * permerror; DNS trouble that prevents a conclusion gives temperror.
 */
void dmarc_evaluate(const struct dmarc *d, const struct dmarc_input *in,
    struct dmarc_outcome *out);
/* dmarc_outcome_free - release an outcome */
void dmarc_outcome_free(struct dmarc_outcome *o);

/*
 * dmarc_record_parse - parse one TXT record of len bytes. Returns 0 and
 * fills r (release with dmarc_record_free) when it is a DMARC record
 * ("v=DMARC1" first); -1 when it is not (r is then empty). Unknown tags
 * and invalid values of other tags are ignored in favour of defaults;
 * invalid or repeated p, sp, np are flagged in r->bad.
 */
int dmarc_record_parse(const char *txt, size_t len, struct dmarc_record *r);
/* dmarc_record_init - a record with every default */
void dmarc_record_init(struct dmarc_record *r);
/* dmarc_record_free - release a record's strings; it is reinitialized */
void dmarc_record_free(struct dmarc_record *r);
/* dmarc_record_copy - deep copy into an uninitialized dst */
void dmarc_record_copy(struct dmarc_record *dst, const struct dmarc_record *src);

/* dmarc_txt_add - append one TXT record of len bytes (for lookup functions) */
void dmarc_txt_add(struct dmarc_txt *t, const void *data, size_t len);
/* dmarc_txt_free - release a TXT answer */
void dmarc_txt_free(struct dmarc_txt *t);
/* dmarc_lookup_dns - the default lookup: dns_resolve on arg (a struct dns *) */
enum dns_status dmarc_lookup_dns(void *arg, const char *name, int rrtype,
    struct dmarc_txt *txt);

/* dmarc_result_name - "pass", "fail", "none", "temperror", "permerror" */
const char *dmarc_result_name(enum dmarc_result r);
/* dmarc_policy_name - "none", "quarantine", "reject"; "unset" for UNSET */
const char *dmarc_policy_name(enum dmarc_policy p);
/* dmarc_mode_parse - "rfc9989" / "rfc7489" to a mode; -1 when unknown */
int dmarc_mode_parse(const char *s);
/* dmarc_mode_name - the inverse */
const char *dmarc_mode_name(enum dmarc_mode m);
/*
 * dmarc_domain_normalize - lowercase, drop one trailing dot, convert
 * U-labels to A-labels, check the syntax. 0 with out filled, -1 if invalid.
 */
int dmarc_domain_normalize(const char *in, char out[DMARC_DOMAIN_BUF]);

#endif
