/*
 * stats.h - the daemon's counters and fixed-bucket histograms, which any
 * layer may bump (dns.c counts its queries here, the callbacks their
 * messages); daemon/metrics.c reads and serves them.
 *
 * Lock-free: every thread adds to a shard of its own (relaxed atomics on
 * cache lines no other thread writes to while there are no more threads
 * than shards); a reader sums the shards. Nothing is allocated, nothing
 * is ever reset. Label sets are fixed at build time: a counter family is
 * a block of slots, one per label combination, given by the enums below
 * (and by the auth/ enums named in their comments, whose sizes metrics.c
 * checks at compile time). Never one slot per domain or per client.
 */
#ifndef AUTHMILTER_STATS_H
#define AUTHMILTER_STATS_H

#include <stddef.h>
#include <stdint.h>

/* What a message was: the message_summary's mode= */
enum stats_mode {
	STATS_MODE_SIGN,	/* signed (or meant to be, and refused) */
	STATS_MODE_UNSIGNED,	/* a trusted client's mail not signed */
	STATS_MODE_VERIFY,	/* an outside client's mail, checked */
	STATS_MODE_PASS,	/* a trusted client's mail, nothing to do */
	STATS_NMODES
};

/* What became of it */
enum stats_outcome {
	STATS_OUTCOME_ACCEPT,
	STATS_OUTCOME_QUARANTINE,	/* accepted, quarantined or marked */
	STATS_OUTCOME_TEMPFAIL,
	STATS_OUTCOME_REJECT,
	STATS_NOUTCOMES
};

/* Why a trusted client's message went out without our signature */
enum stats_unsigned {
	STATS_UNSIGNED_NO_FROM,		/* no single From domain */
	STATS_UNSIGNED_NO_BLOCK,	/* its domain has no block, no platform */
	STATS_UNSIGNED_UNAUTHORIZED,	/* the client may not sign for it */
	STATS_UNSIGNED_NO_KEY,		/* no usable key */
	STATS_UNSIGNED_INTERNAL_ERROR,	/* signing failed */
	STATS_NUNSIGNED
};

/* A policy action taken, with its reason */
enum stats_action {
	STATS_ACTION_SPF_REJECT,		/* spf_fail_action = reject */
	STATS_ACTION_DMARC_REJECT,
	STATS_ACTION_DMARC_QUARANTINE,
	STATS_ACTION_DMARC_TEMPFAIL,		/* DNS, on_dns_error = tempfail */
	STATS_ACTION_BAD_FROM_REJECT,		/* reject_bad_from */
	STATS_ACTION_FORGED_REJECT,		/* max_forged_headers */
	STATS_ACTION_HEADER_OVERFLOW_REJECT,	/* header too large */
	STATS_ACTION_UNAUTHORIZED_REJECT,	/* unauthorized_from = reject */
	STATS_ACTION_INTERNAL_ACCEPT,		/* on_internal_error = accept */
	STATS_ACTION_INTERNAL_TEMPFAIL,		/* on_internal_error = tempfail */
	STATS_NACTIONS
};

/* Why a recipient in a bounce domain was refused */
enum stats_bounce_refusal {
	STATS_BOUNCE_MALFORMED,
	STATS_BOUNCE_BAD_MAC,
	STATS_BOUNCE_EXPIRED,
	STATS_BOUNCE_UNKNOWN_LOCAL,
	STATS_BOUNCE_OTHER,
	STATS_NBOUNCE_REFUSALS
};

/* Why a signed message kept its envelope sender instead of a bounce address */
enum stats_bounce_kept {
	STATS_KEPT_TOO_LONG,		/* too long for the stateless form, no store */
	STATS_KEPT_STORE_FAILED,	/* the store failed or was too slow */
	STATS_KEPT_DOMAIN_BROKEN,	/* the bounce domain's DNS known broken */
	STATS_NBOUNCE_KEPT
};

/* What went wrong with a DNS query */
enum stats_dns_error {
	STATS_DNS_TIMEOUT,		/* no answer before the caller's deadline */
	STATS_DNS_SERVFAIL,
	STATS_DNS_REFUSED,
	STATS_DNS_OTHER_RCODE,		/* any other error rcode */
	STATS_DNS_BOGUS,		/* DNSSEC validation failed */
	STATS_DNS_RESOLVER,		/* libunbound refused or failed the query */
	STATS_NDNS_ERRORS
};

#define STATS_NKEY_TYPES	2	/* enum key_type (keys.h) */
#define STATS_NKEY_STATES	7	/* enum key_pub (keys.h) */
#define STATS_NSPF		7	/* enum spf_res (spf_eval.h) */
#define STATS_NDKIM		6	/* enum dkim_verify_res (dkim_verify.h) */
#define STATS_NDMARC		5	/* enum dmarc_result (dmarc.h) */

/*
 * The counter families, each the first slot of its block; add the label
 * index (e.g. STATS_MESSAGES + mode * STATS_NOUTCOMES + outcome).
 */
enum stats_counter {
	STATS_MESSAGES = 0,		/* [stats_mode][stats_outcome] */
	STATS_MESSAGES_ABORTED = STATS_MESSAGES + STATS_NMODES * STATS_NOUTCOMES,
	STATS_SIGNATURES = STATS_MESSAGES_ABORTED + 1,	/* [key_type][key_pub] */
	STATS_UNSIGNED = STATS_SIGNATURES + STATS_NKEY_TYPES * STATS_NKEY_STATES,
	STATS_SPF = STATS_UNSIGNED + STATS_NUNSIGNED,	/* [spf_res] MAIL FROM */
	STATS_DKIM = STATS_SPF + STATS_NSPF,	/* [dkim_verify_res] a signature */
	STATS_DKIM_NONE = STATS_DKIM + STATS_NDKIM,	/* messages without one */
	STATS_DMARC = STATS_DKIM_NONE + 1,	/* [dmarc_result] */
	STATS_ACTIONS = STATS_DMARC + STATS_NDMARC,	/* [stats_action] */
	STATS_BOUNCE_ISSUED = STATS_ACTIONS + STATS_NACTIONS,
	STATS_BOUNCE_ACCEPTED = STATS_BOUNCE_ISSUED + 1,
	STATS_BOUNCE_REFUSED = STATS_BOUNCE_ACCEPTED + 1,	/* [refusal] */
	STATS_DNS_QUERIES = STATS_BOUNCE_REFUSED + STATS_NBOUNCE_REFUSALS,
	STATS_DNS_ERRORS = STATS_DNS_QUERIES + 1,	/* [stats_dns_error] */
	STATS_RELOADS = STATS_DNS_ERRORS + STATS_NDNS_ERRORS,	/* [0 ok, 1 failed] */
	STATS_GENERATION = STATS_RELOADS + 2,	/* snapshots installed */
	STATS_HISTORY_WRITTEN = STATS_GENERATION + 1,	/* DMARC history records stored */
	STATS_HISTORY_DROPPED = STATS_HISTORY_WRITTEN + 1,	/* [0 queue full,
							 * 1 store unavailable] */
	STATS_DNS_CACHE_HITS = STATS_HISTORY_DROPPED + 2,	/* lookups answered
							 * from dnscache */
	STATS_BOUNCE_STORED = STATS_DNS_CACHE_HITS + 1,	/* stored-form addresses issued */
	STATS_BOUNCE_KEPT = STATS_BOUNCE_STORED + 1,	/* [stats_bounce_kept] */
	STATS_KEYCHECK = STATS_BOUNCE_KEPT + STATS_NBOUNCE_KEPT,	/* [key_pub]
							 * key check lookups ended */
	STATS_NSLOTS = STATS_KEYCHECK + STATS_NKEY_STATES
};

/* The histograms; each has its own bounds (stats_bounds) */
enum stats_histogram {
	STATS_H_DNS,		/* DNS query latency */
	STATS_H_EOM,		/* time from end of message to the reply */
	STATS_H_RELOAD,		/* reload duration */
	STATS_NHISTOGRAMS
};

#define STATS_NBOUNDS	12	/* finite bucket bounds of each histogram */

/* Everything summed over the shards, for one exposition. */
struct stats_snapshot {
	uint64_t slot[STATS_NSLOTS];	/* counter values */
	/* per histogram: observations in each bucket (not cumulative), the
	 * last beyond every bound (+Inf), then the sum in microseconds */
	uint64_t hist[STATS_NHISTOGRAMS][STATS_NBOUNDS + 2];
};

/* stats_mode_name - "sign", "unsigned", "verify" or "pass": the label, and message_summary's mode= */
const char *stats_mode_name(enum stats_mode m);
/* stats_add - add n to slot s (a family plus its label index); out of range: ignored */
void stats_add(size_t s, uint64_t n);
/* stats_inc - add 1 to slot s */
void stats_inc(size_t s);
/* stats_observe - one observation of usec microseconds in histogram h */
void stats_observe(enum stats_histogram h, uint64_t usec);
/* stats_bounds - histogram h's STATS_NBOUNDS upper bounds in microseconds, increasing */
const uint64_t *stats_bounds(enum stats_histogram h);
/* stats_read - sum the shards into out (a moment's view: each value is read once, relaxed) */
void stats_read(struct stats_snapshot *out);
/* stats_usec_since - microseconds from t0 (CLOCK_MONOTONIC) to now; 0 if the clock went back */
struct timespec;
uint64_t stats_usec_since(const struct timespec *t0);

#endif
