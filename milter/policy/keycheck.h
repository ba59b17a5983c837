/*
 * keycheck.h - is each DKIM key's record really published in DNS?
 *
 * Looks up SELECTOR._domainkey.DOMAIN through the daemon's resolver and
 * compares the published p= with the private key: published, missing,
 * truncated (a cut-off prefix of the right key: the DNS host truncated a
 * long record), mismatched, revoked, or unknown (DNS trouble). The result
 * goes into the key's atomic publication state, which key selection reads.
 *
 * Also owns what happens to those states over time: a reload carries the
 * running snapshot's verdicts over to the same keys of the new one
 * (keycheck_carry_over), and one checker thread re-checks the running
 * snapshot's keys every key_check_interval (keycheck_start/keycheck_stop).
 *
 * Threading: keycheck_compare and keycheck_parse_p are pure; keycheck_key
 * and keycheck_config may run in any thread and write nothing shared but
 * the keys' atomic states. The checker thread is owned by the struct
 * keycheck_thread that keycheck_start returns; its mutex and condition
 * variable live in that struct and guard only its stop flag: the thread
 * sleeps on the condition variable between rounds, and keycheck_stop sets
 * the flag and signals it, so stopping never waits out an interval (only a
 * round already under way, bounded by the DNS timeout). Start it with the
 * signals the main thread handles already blocked; it inherits the mask.
 */
#ifndef AUTHMILTER_KEYCHECK_H
#define AUTHMILTER_KEYCHECK_H

#include <stddef.h>

#include "policy/config.h"
#include "base/dns.h"
#include "auth/keys.h"

struct keycheck_info {
	size_t record_len;	/* length of the joined TXT record */
	size_t nstrings;	/* character-strings in the record */
	size_t longest;		/* longest character-string */
	char detail[640];	/* human explanation */
};

/* keycheck_parse_p - the p= value (FWS removed) of a DKIM key record, NULL if not one; malloc'd */
char *keycheck_parse_p(const char *record, char *ktype, size_t ktypelen);
/* keycheck_compare - publication state of a record for a key (pure) */
enum key_pub keycheck_compare(const struct key *k, const char *record,
    char *detail, size_t detaillen);
/* keycheck_key - look one key up and compare */
enum key_pub keycheck_key(struct dns *d, const char *domain,
    const struct key *k, struct keycheck_info *info);
/* keycheck_config - check every key of every domain, store the states, log changes; returns problems found */
int keycheck_config(struct config *c, struct dns *d);
/*
 * keycheck_carry_over - a key of new_cfg the reload could not check (DNS
 * gave no answer: KEY_PUB_UNKNOWN) takes old_cfg's verdict for the same
 * domain, selector and key (equal public key), so that a reload during a
 * DNS outage does not bring a known truncated or missing record back into
 * use. A new key under an old selector, a new selector or domain, and an
 * old key never checked keep UNKNOWN. old_cfg may be NULL (nothing to
 * carry); both are borrowed, only new_cfg's key states are written.
 */
void keycheck_carry_over(const struct config *old_cfg, struct config *new_cfg);

#define KEYCHECK_IDLE_MS 60000	/* checks off: ask again after a minute */

/* What the checker thread does: the test seam (NULL: the running snapshot). */
struct keycheck_ops {
	long (*interval_ms)(void *arg);	/* wait before a round; <= 0: off */
	void (*check)(void *arg);	/* one round */
	void *arg;			/* borrowed, passed to both */
	long idle_ms;			/* off: ask again after; 0: KEYCHECK_IDLE_MS */
};

struct keycheck_thread;

/*
 * keycheck_start - start the checker thread: it waits interval_ms (asked
 * again before every wait; checks off: it waits idle_ms and asks again),
 * then runs check, until stopped. The first round comes after the first
 * wait: the start-up check is the caller's. ops NULL: the interval is the
 * running snapshot's key_check_interval and a round is keycheck_config
 * over its keys with its resolver. ops is copied. NULL with err if the
 * thread cannot start.
 */
struct keycheck_thread *keycheck_start(const struct keycheck_ops *ops,
    char *err, size_t errlen);
/* keycheck_stop - wake the thread, wait for its end, free kt (NULL: no-op) */
void keycheck_stop(struct keycheck_thread *kt);

#endif
