/*
 * spf.h - SPF checks (RFC 7208) of the MAIL FROM and HELO identities.
 *
 * Two engines behind one interface: our own evaluator (spf_eval.h, the
 * default) and libspf2 (spf_engine = libspf2, kept as the differential
 * oracle of the tests). Every DNS query of either goes through our
 * resolver (dns.h): libspf2's by a per-check DNS layer (spf_layer.h) that
 * also enforces the RFC 7208 4.6.4 limits libspf2 gets wrong or lacks.
 * Both count 10 DNS-querying terms over the whole evaluation (includes
 * too), 10 MX names, 2 void lookups, and share one time budget between
 * the MAIL FROM and HELO checks of a message.
 *
 * Threading: one struct spf per configuration snapshot, read-only after
 * spf_new and shared by every thread; spf_check is thread-safe. Results
 * are plain values owned by the caller. Nothing here picks an SMTP reply.
 *
 * Test seam: a lookup function in the options replaces the resolver for
 * the built-in engine.
 */
#ifndef AUTHMILTER_SPF_H
#define AUTHMILTER_SPF_H

#include <stddef.h>

#include "base/buf.h"
#include "base/dns.h"
#include "auth/spf_eval.h"

#define SPF_IDENTITY_MAX	320	/* local-part@domain, with its NUL */
#define SPF_DOMAIN_MAX		256	/* a domain name, with its NUL */
#define SPF_COMMENT_MAX		512	/* explanation, with its NUL */

/* enum spf_res (none, neutral, pass, ...) comes from spf_eval.h. */

enum spf_engine {
	SPF_ENGINE_BUILTIN,	/* our evaluator (spf_eval.c) */
	SPF_ENGINE_LIBSPF2,	/* libspf2 over spf_layer.c */
};

struct spf_options {
	const char *receiver;	/* our name in comments (authserv_id); NULL: "localhost" */
	int time_budget_ms;	/* MAIL FROM and HELO checks of one message together; 0: 20000 */
	int max_terms;		/* DNS-querying terms; 0: 10 (RFC 7208 4.6.4) */
	int max_void;		/* void lookups; 0: 2; -1: no limit */
	int check_helo;		/* also check the HELO identity */
	enum spf_engine engine;	/* which evaluator; 0: built-in */
	spf_eval_lookup_fn lookup;	/* built-in engine's DNS; NULL: the resolver */
	void *lookup_arg;	/* its argument (borrowed) */
};

struct spf_outcome {
	enum spf_res res;			/* the result */
	char identity[SPF_IDENTITY_MAX];	/* smtp.mailfrom / smtp.helo value */
	char domain[SPF_DOMAIN_MAX];		/* domain checked ("" if none) */
	char comment[SPF_COMMENT_MAX];		/* why, one line, printable ASCII */
	int lookups;				/* DNS queries made */
};

struct spf_result {
	struct spf_outcome mailfrom;	/* MAIL FROM (postmaster@HELO when null) */
	struct spf_outcome helo;	/* HELO; none when not checked or not a domain */
	char client_ip[64];		/* address checked, text form */
	char envelope_from[SPF_IDENTITY_MAX];	/* MAIL FROM as given, no <> */
	char helo_name[SPF_DOMAIN_MAX];	/* HELO argument, printable ASCII */
};

struct spf;

/*
 * spf_new - SPF checker over resolver dns (borrowed; outlives it; may be
 * NULL for the built-in engine with a lookup function); NULL with err
 */
struct spf *spf_new(struct dns *dns, const struct spf_options *opt, char *err,
    size_t errlen);
/* spf_free - release a checker (NULL is fine) */
void spf_free(struct spf *s);
/*
 * spf_check - check MAIL FROM (path with or without <>; "" or "<>" for
 * the null sender) and HELO against the client address (IPv4 or IPv6
 * text). qid prefixes log lines (may be NULL). Always fills out.
 */
void spf_check(struct spf *s, const char *qid, const char *client_ip,
    const char *mailfrom, const char *helo, struct spf_result *out);
/*
 * spf_received_header - the value of a Received-SPF header field (RFC
 * 7208 9.1) for the MAIL FROM outcome, appended to out; one line, no CR/LF
 * whatever the input held.
 */
void spf_received_header(const struct spf *s, const struct spf_result *r,
    struct buf *out);
/* spf_res_name - "pass", "fail", ... as in Authentication-Results */
const char *spf_res_name(enum spf_res r);
/* spf_engine_name - "builtin" or "libspf2" */
const char *spf_engine_name(enum spf_engine e);

#endif
