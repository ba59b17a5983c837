/*
 * keycheck.h - is each DKIM key's record really published in DNS?
 *
 * Looks up SELECTOR._domainkey.DOMAIN and judges the answer (keyrecord.h:
 * published, missing, truncated, mismatched, revoked, or unknown); the
 * result goes into the key's atomic publication state, which key
 * selection reads.
 *
 * Also owns what happens to those states over time: a reload carries the
 * running snapshot's verdicts over to the same keys of the new one
 * (keycheck_carry_over), and one checker thread looks the keys up in the
 * background (keycheck_start/keycheck_wake/keycheck_stop), many at once
 * but never more than key_check_concurrency, in the order keysched.c
 * decides, and keeps the states in a file (keystate.c). Serving never waits
 * for it: a key not looked up yet keeps the state it had (unchecked, or the
 * one the file or the previous snapshot gave it).
 *
 * Threading: the checker thread is
 * owned by the struct keycheck_thread that keycheck_start returns; it
 * writes the keys' atomic states and nothing else shared. That struct's
 * mutex guards what other threads tell it (stop, a new snapshot, answers
 * in); the thread sleeps on its condition variable until a key is due, a
 * lookup's deadline passes or one of those comes, so stopping waits for
 * neither an interval nor a lookup. Start it with the signals the main
 * thread handles already blocked; it inherits the mask.
 */
#ifndef AUTHMILTER_KEYCHECK_H
#define AUTHMILTER_KEYCHECK_H

#include <stddef.h>

#include "policy/config.h"
#include "base/dns.h"
#include "auth/keys.h"
#include "policy/keyrecord.h"

/*
 * keycheck_note - store a lookup's verdict st in k (UNKNOWN keeps a
 * definite state) and log a change (a key's first "published" at debug,
 * other verdicts at info or warning); 1 if k's verdict changed
 */
int keycheck_note(const char *domain, struct key *k, enum key_pub st,
    const struct keyrecord_info *info);
/*
 * keycheck_carry_over - each key of new_cfg without a verdict (unchecked,
 * or unknown: DNS gave no answer) takes old_cfg's verdict for the same
 * domain, selector and key (equal public key), so that a reload need
 * not look up again what it knows and, during a DNS outage, does not bring
 * a known truncated or missing record back into use. A new key under an old
 * selector, a new selector or domain, and an old key never checked get
 * nothing. old_cfg may be NULL (nothing to carry); both are borrowed, only
 * new_cfg's key states are written. Returns how many keys took a verdict.
 */
size_t keycheck_carry_over(const struct config *old_cfg,
    struct config *new_cfg);

/*
 * The checker's way to DNS: the test seam. NULL to keycheck_start: the
 * resolver of the snapshot being checked (dns_query_start/finish).
 */
struct keycheck_resolver {
	/* start - submit a TXT lookup of name for snapshot c; notify(narg) once it is in (see dns_query_start); NULL: failed at once */
	void *(*start)(void *arg, struct config *c, const char *name,
	    void (*notify)(void *), void *narg);
	/* finish - its answer into r, TEMPFAIL if not in (cancelled); frees q */
	enum dns_status (*finish)(void *arg, void *q, struct dns_result *r);
	void *arg;			/* borrowed, passed to both */
};

struct keycheck_thread;

/*
 * keycheck_start - start the checker thread over the running snapshot
 * (config_acquire). It looks every key's record up at once (after giving
 * the keys the states of state_dir's keystates file), then each again
 * every key_check_interval, spread over the interval, and a key that got
 * no answer again after a minute (or the interval, if shorter); at most
 * key_check_concurrency lookups are in flight. After keycheck_wake it
 * moves to the newly installed snapshot, whose new, changed and
 * unpublished keys it looks up at once (the rest kept the running states:
 * keycheck_carry_over). It saves the states to the keystates file when a
 * pass of those lookups ends, when states changed and then stayed put for
 * two seconds (at least once a minute while they keep changing), and at
 * stop.
 * key_check = no: it looks nothing up. res NULL: the snapshot's resolver;
 * res is copied. NULL with err if the thread cannot start.
 */
struct keycheck_thread *keycheck_start(const struct keycheck_resolver *res,
    char *err, size_t errlen);
/* keycheck_wake - a new snapshot was installed: move to it (NULL: no-op) */
void keycheck_wake(struct keycheck_thread *kt);
/*
 * keycheck_recheck - look the keys of domain (its block's name in the
 * running snapshot) up again now, before anything else due, and wait up
 * to timeout_ms for their answers (authmilterctl check). 0: answered (the
 * keys' states are the new verdicts; a reload in between also ends the
 * wait), 1: not every answer in time (err says so; the lookups go on),
 * -1: no such domain with keys in the snapshot the checker checks,
 * key_check = no, or stopping (err). One request at a time is worked on;
 * callers from any thread but the checker's.
 */
int keycheck_recheck(struct keycheck_thread *kt, const char *domain,
    long timeout_ms, char *err, size_t errlen);
/* keycheck_recheck_cancel - end every keycheck_recheck wait, now and from now on (before keycheck_stop) */
void keycheck_recheck_cancel(struct keycheck_thread *kt);
/*
 * keycheck_stop - end the thread promptly: lookups in flight are
 * cancelled, not waited for; the states are saved if they changed. Frees
 * kt (NULL: no-op).
 */
void keycheck_stop(struct keycheck_thread *kt);

#endif
