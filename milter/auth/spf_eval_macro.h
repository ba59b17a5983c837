/*
 * spf_eval_macro.h - SPF macros (RFC 7208 7): the syntax of macro-strings
 * and domain-specs, and their expansion into target names.
 *
 * Pure functions over borrowed strings; the only outside call is the %{p}
 * callback of the environment (the evaluator's validated PTR names).
 * Expansion output is bounded: a domain-spec of any length keeps only the
 * last SPF_EVAL_MACRO_KEEP octets while it grows, enough to cut the name
 * on the left to 253 octets (RFC 7208 7.3) exactly as the whole would be.
 */
#ifndef AUTHMILTER_SPF_EVAL_MACRO_H
#define AUTHMILTER_SPF_EVAL_MACRO_H

#include <stddef.h>

#include "base/buf.h"

#define SPF_EVAL_NAME_MAX	253	/* a target name, in octets */
#define SPF_EVAL_MACRO_KEEP	512	/* octets kept when an expansion is cut */

/* flags of spf_eval_macro_check */
#define SPF_EVAL_MACRO_DOMAIN	0x1	/* a domain-spec: non-empty, ends in a
					 * macro or in "." toplabel ["."] */

/* What the macro letters stand for. Strings are borrowed. */
struct spf_eval_macro_env {
	const char *sender;		/* %{s}: local-part@domain */
	const char *local;		/* %{l} */
	const char *sender_domain;	/* %{o} */
	const char *domain;		/* %{d}: the current domain */
	const char *helo;		/* %{h} */
	int family;			/* AF_INET or AF_INET6: %{i}, %{v} */
	const unsigned char *addr;	/* the client (4 or 16 octets) */
	/* %{p}: the validated name of the client for domain, or "unknown" */
	const char *(*ptr_name)(void *arg, const char *domain);
	void *ptr_arg;
};

/*
 * spf_eval_macro_check - is s[0..n) a macro-string (flags 0) or a
 * domain-spec (SPF_EVAL_MACRO_DOMAIN) of RFC 7208 7.1? The letters c, r
 * and t belong to explanation text only and are refused. 0, or -1 with
 * a reason in why.
 */
int spf_eval_macro_check(const char *s, size_t n, int flags, char *why,
    size_t whylen);
/*
 * spf_eval_macro_expand - the target name of a checked domain-spec
 * s[0..n) into out (replacing its contents): macros expanded, one
 * trailing dot dropped, whole labels cut on the left until it fits in
 * 253 octets. 0, or -1 when s is not a valid macro-string.
 */
int spf_eval_macro_expand(const char *s, size_t n,
    const struct spf_eval_macro_env *env, struct buf *out);

#endif
