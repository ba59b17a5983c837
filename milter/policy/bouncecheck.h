/*
 * bouncecheck.h - is each custom bounce domain's DNS really pointing at
 * us? The bounce domains' counterpart of keycheck.h.
 *
 * A bounce domain is healthy when its MX (or the target of its CNAME)
 * names one of bounce_mx_hosts, and its SPF passes for each of
 * bounce_check_ips (or, without them, its record includes
 * platform_spf_include). A broken one is not rewritten into: mail leaves
 * with its own Return-Path (SPF would fail for the rewritten one, and
 * bounces would be lost). The verdict lives in the domain block's atomic
 * bounce_health, which outbound.c reads; not checked yet (unchecked) or
 * DNS trouble at the first check (unknown) keeps the rewrite.
 *
 * One checker thread looks the bounce domains of the running snapshot up,
 * one domain at a time (a few queries in flight at most), all at once
 * after the start and each reload's new domains, then each again every
 * key_check_interval, spread evenly over the interval; a domain without an
 * answer is tried again after a minute. A change of verdict is logged
 * once; the states are saved to state_dir/bouncestates.
 *
 * Threading: bouncecheck_get/_set, _carry_over and the names may be called
 * from any thread (atomics only). The checker thread owns its struct; other
 * threads touch only what its mutex guards (wake, stop).
 */
#ifndef AUTHMILTER_BOUNCECHECK_H
#define AUTHMILTER_BOUNCECHECK_H

#include <stddef.h>

#include "policy/config.h"

#define BOUNCECHECK_FILE "bouncestates"	/* the states file in state_dir */

enum bounce_health {
	BOUNCE_HEALTH_UNCHECKED,	/* not looked up yet: rewritten into */
	BOUNCE_HEALTH_OK,		/* MX and SPF point at us */
	BOUNCE_HEALTH_BROKEN,		/* known broken: not rewritten into */
	BOUNCE_HEALTH_UNKNOWN,		/* no DNS answer yet: rewritten into */
	BOUNCE_NHEALTH
};

enum bounce_why {
	BOUNCE_WHY_NONE,		/* ok, unchecked */
	BOUNCE_WHY_NO_MX,		/* no MX, the name (or CNAME target) missing */
	BOUNCE_WHY_MX_ELSEWHERE,	/* MX or CNAME at hosts not ours */
	BOUNCE_WHY_SPF,			/* SPF does not pass for our addresses */
	BOUNCE_WHY_SPF_INCLUDE,		/* SPF record does not include us */
	BOUNCE_WHY_DNS,			/* DNS gave no answer (unknown) */
	BOUNCE_NWHY
};

/* bouncecheck_health_name - "unchecked", "ok", "broken", "unknown" */
const char *bouncecheck_health_name(enum bounce_health h);
/* bouncecheck_why_name - "no-mx", "mx-elsewhere", "spf", ... ("" for none) */
const char *bouncecheck_why_name(enum bounce_why w);
/* bouncecheck_get - d's bounce domain state (atomic read) */
enum bounce_health bouncecheck_get(const struct config_domain *d,
    enum bounce_why *why);
/* bouncecheck_set - store a state (atomic) */
void bouncecheck_set(const struct config_domain *d, enum bounce_health h,
    enum bounce_why why);
/*
 * bouncecheck_domain - look bounce domain bdom up with c's resolver and SPF
 * checker (waits for the answers): OK, BROKEN, UNKNOWN (DNS trouble) or
 * UNCHECKED (nothing configured to check); why and a line for the log
 */
enum bounce_health bouncecheck_domain(const struct config *c,
    const char *bdom, enum bounce_why *why, char *detail, size_t detaillen);
/*
 * bouncecheck_carry_over - each bounce domain of new_cfg takes old_cfg's
 * state for the same bounce domain (a reload keeps what is known); how
 * many did
 */
size_t bouncecheck_carry_over(const struct config *old_cfg,
    const struct config *new_cfg);

struct bouncecheck_thread;

/* bouncecheck_start - the checker thread over the running snapshot; NULL with err */
struct bouncecheck_thread *bouncecheck_start(char *err, size_t errlen);
/* bouncecheck_wake - a new snapshot was installed (NULL: no-op) */
void bouncecheck_wake(struct bouncecheck_thread *bt);
/*
 * bouncecheck_stop - end the thread: a lookup under way is waited for
 * (dns_timeout at most), the domain's remaining ones are not made; the
 * states are saved if they changed. Frees bt (NULL: no-op).
 */
void bouncecheck_stop(struct bouncecheck_thread *bt);

#endif
