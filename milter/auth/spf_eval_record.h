/*
 * spf_eval_record.h - SPF record syntax (RFC 7208 4.5, 4.6, 5, 6, 7.1).
 *
 * A record is checked whole before anything in it is evaluated (RFC 7208
 * 4.6: a syntax error anywhere is permerror), then walked term by term.
 * Terms point into the record text; nothing is allocated. Strict ABNF:
 * terms separated by spaces only, printable ASCII only, mechanism and
 * modifier names case-insensitive, ip4 without leading zeros, CIDR lengths
 * within range and without leading zeros, every domain-spec ending in a
 * macro or a top-level label, redirect= and exp= at most once each,
 * unknown modifiers with a valid macro-string.
 */
#ifndef AUTHMILTER_SPF_EVAL_RECORD_H
#define AUTHMILTER_SPF_EVAL_RECORD_H

#include <stddef.h>

#include "auth/spf_eval.h"

#define SPF_EVAL_RECORD_MAX	4096	/* longer records are permerror */
#define SPF_EVAL_TERMS_MAX	512	/* more terms are permerror */

enum spf_eval_kind {
	SPF_EVAL_ALL,
	SPF_EVAL_INCLUDE,
	SPF_EVAL_A,
	SPF_EVAL_MX,
	SPF_EVAL_PTR,
	SPF_EVAL_IP4,
	SPF_EVAL_IP6,
	SPF_EVAL_EXISTS,
	SPF_EVAL_REDIRECT,		/* modifiers from here on */
	SPF_EVAL_EXP,
	SPF_EVAL_MODIFIER,		/* unknown modifier: ignored */
};

/* One term. Pointers borrow the record text (not NUL-terminated). */
struct spf_eval_term {
	enum spf_eval_kind kind;
	enum spf_res qual;		/* a mechanism's result when it matches */
	const char *text;		/* the whole term */
	size_t len;
	const char *spec;		/* domain-spec or modifier value; NULL: none */
	size_t speclen;
	int cidr4;			/* a, mx, ip4: IPv4 prefix length (32) */
	int cidr6;			/* a, mx, ip6: IPv6 prefix length (128) */
	unsigned char net[16];		/* ip4 (first 4 octets) or ip6 network */
};

/* What spf_eval_record_check learnt about a whole record. */
struct spf_eval_record_info {
	size_t nterms;			/* terms, modifiers included */
	int has_all;			/* an "all" mechanism is present */
	int has_exp;			/* exp= is present (never looked up) */
	int has_redirect;		/* redirect is valid */
	struct spf_eval_term redirect;	/* the redirect= modifier */
};

/*
 * spf_eval_record_is_spf - does txt[0..len) start with "v=spf1"
 * (any case) followed by a space or its end (RFC 7208 4.5)?
 */
int spf_eval_record_is_spf(const char *txt, size_t len);
/*
 * spf_eval_record_check - the syntax of a whole record rec[0..len) (one
 * that spf_eval_record_is_spf accepts); 0 and info filled, or -1 with
 * the reason (naming the term) in why
 */
int spf_eval_record_check(const char *rec, size_t len,
    struct spf_eval_record_info *info, char *why, size_t whylen);
/*
 * spf_eval_record_next - the term after *pos (0: the first) into t,
 * advancing *pos: 1, 0 at the end, -1 with why on a syntax error
 */
int spf_eval_record_next(const char *rec, size_t len, size_t *pos,
    struct spf_eval_term *t, char *why, size_t whylen);

#endif
