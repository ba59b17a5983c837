/*
 * keycheck.c - compare each key's DNS record with the private key.
 *
 * A lookup's verdict noted in its key, the carry-over of states across a
 * reload, and the checker thread (the comparison itself: keyrecord.c): it
 * owns its struct keycheck_thread, the reference to the snapshot it checks
 * and the lookups in flight; other threads touch only what the struct's
 * mutex guards.
 */
#include <arpa/nameser.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/dns.h"
#include "base/dnsstub.h"
#include "policy/keycheck.h"
#include "policy/keyrecord.h"
#include "policy/keyload.h"
#include "policy/keysched.h"
#include "policy/keystate.h"
#include "policy/runtime.h"
#include "base/log.h"
#include "base/stats.h"
#include "base/xalloc.h"

/* keycheck_note - store a lookup's verdict in k, log a change; 1 if a verdict changed */
int
keycheck_note(const char *domain, struct key *k, enum key_pub st,
    const struct keyrecord_info *info)
{
	enum key_pub old = keys_pub_get(k);

	keys_pub_set(k, st);
	if (st == old)
		return 0;
	if (st == KEY_PUB_UNKNOWN && old != KEY_PUB_UNCHECKED) {
		/* no answer: the known verdict stands; say so quietly */
		log_debug(NULL, "key %s of %s: %s; keeping \"%s\"", k->selector,
		    domain, info->detail, keys_pub_name(old));
		return 0;
	}
	/* the first "published" of each key is routine: 100,000 at a start;
	 * so is the first "unknown" when DNS is down (the pass's summary
	 * counts them, as a warning): 100,000 warnings would hide the rest */
	log_msg(st == KEY_PUB_PUBLISHED ? (old == KEY_PUB_UNCHECKED
	    || old == KEY_PUB_UNKNOWN ? LOG_DEBUG : LOG_INFO)
	    : st == KEY_PUB_UNKNOWN ? LOG_INFO : LOG_WARNING,
	    NULL, "key %s of %s (%d bits): record %s (%s)", k->selector, domain,
	    k->bits, keys_pub_name(st), info->detail);
	return st != KEY_PUB_UNKNOWN;
}

/* keycheck_carry_key - give k old's verdict if old is the same key with one; 1 if done */
static int
keycheck_carry_key(const struct config_domain *od, struct key *k)
{
	const struct key *ok;
	enum key_pub was;
	size_t m;

	for (m = 0; m < od->nkeys; m++) {
		ok = &od->keys[m];
		if (strcmp(ok->selector, k->selector) != 0)
			continue;
		was = keys_pub_get(ok);
		if (ok->pkey == NULL || k->pkey == NULL)
			return 0;	/* either not read (yet) */
		/* a new key file under the old selector: no verdict */
		if (was != KEY_PUB_UNCHECKED && was != KEY_PUB_UNKNOWN
		    && (ok->pkey == k->pkey
		    || EVP_PKEY_eq(ok->pkey, k->pkey) == 1)) {
			keys_pub_set(k, was);
			return 1;
		}
		return 0;
	}
	return 0;
}

/* keycheck_carry_block - one name's old and new block: the new one's keys get the old verdicts */
static void
keycheck_carry_block(const struct config_domain *od,
    const struct config_domain *nd, void *arg)
{
	size_t *n = arg, j;
	struct key *k;
	enum key_pub p;

	for (j = 0; od != NULL && nd != NULL && j < nd->nkeys; j++) {
		k = &nd->keys[j];	/* the new snapshot's, not yet installed */
		p = keys_pub_get(k);
		if (p == KEY_PUB_UNKNOWN || p == KEY_PUB_UNCHECKED)
			*n += (size_t)keycheck_carry_key(od, k);
	}
}

/* keycheck_carry_over - keys of new_cfg without a verdict take old_cfg's */
size_t
keycheck_carry_over(const struct config *old_cfg, struct config *new_cfg)
{
	size_t n = 0;

	if (old_cfg != NULL)
		config_pair_blocks(old_cfg, new_cfg, keycheck_carry_block, &n);
	return n;
}

#define KEYCHECK_BURST_MS 100	/* key_check_rate: lookups saved up, in ms of the rate */
#define KEYCHECK_BATCH 16	/* key_check_rate: wait for this many lookups' room (at most the burst) */
#define KEYCHECK_RETRY_MS 60000	/* no answer: ask again after (at most) */
#define KEYCHECK_SAVE_MS 60000	/* states changing: save at least this often */
#define KEYCHECK_QUIET_MS 2000	/* states changed, then none for this long: save */
#define KEYCHECK_IDLE_MS 1000	/* no snapshot yet: look again after */

/* A key of the snapshot being checked (both borrowed from it). */
struct keycheck_item {
	const char *domain;
	struct key *k;
};

/* One lookup in flight. */
struct keycheck_flight {
	struct keycheck_thread *kt;	/* borrowed: the notify's way back */
	size_t item;			/* the key, in kt->items */
	int urgent;			/* from the urgent queue */
	void *q;			/* the resolver's query, until finished */
	long long deadline;		/* ms, monotonic */
	int done;			/* its answer is in (kt->lock) */
	struct keycheck_flight *next;	/* kt->flights list */
};

/* The checker thread: what others tell it (under lock), and its own state. */
struct keycheck_thread {
	pthread_t tid;			/* the thread */
	struct keycheck_resolver res;	/* copied at start; res.arg borrowed */
	pthread_mutex_t lock;		/* guards stop, kick, nready, flights' done */
	pthread_cond_t wake;		/* CLOCK_MONOTONIC; stop, kick, an answer */
	int stop;			/* keycheck_stop was called */
	int kick;			/* keycheck_wake was called */
	int nready;			/* answers in since the last look */
	/* the thread's own */
	struct config *cur;		/* snapshot being checked (a reference) */
	struct keycheck_item *items;	/* its keys (owned array) */
	size_t nitems;
	size_t *first;			/* first[d]: domain d's first key in items (owned) */
	struct keysched sched;		/* what is due when */
	struct keycheck_flight *flights;	/* lookups in flight (owned) */
	size_t nflights;
	double tokens;			/* key_check_rate: lookups that may start now */
	long long tokens_at;		/* when tokens was last topped up (ms) */
	size_t urgent_left;		/* urgent keys not answered yet */
	long long round_start;		/* when the urgent pass began */
	int dirty;			/* states changed since the last save */
	long long changed_at;		/* when one last changed */
	long long saved_at;		/* when they were last saved */
	int own_dns;			/* the real resolver: dns is ours */
	struct dns *dns;		/* made afresh for each snapshot (owned) */
	struct dnsstub *stub;		/* and in front of it, with dns_servers
					 * and no DNSSEC: the lookups (owned) */
	/* keycheck_recheck's request and answer (lock) */
	pthread_cond_t rechecked;	/* a recheck is over (or cancelled) */
	char *recheck;			/* domain asked for, not taken yet (owned) */
	unsigned long recheck_asked;	/* requests made */
	unsigned long recheck_done;	/* the last request answered */
	int recheck_rc;			/* its outcome: 0, or -1 (not found) */
	int recheck_cancel;		/* keycheck_recheck_cancel: no more waits */
	/* the thread's own: the request being worked on */
	unsigned long recheck_id;	/* its number, 0: none */
	size_t recheck_lo, recheck_hi;	/* its keys in items */
	size_t recheck_left;		/* its keys not answered yet */
};

/* keycheck_now_ms - the monotonic clock in ms */
static long long
keycheck_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * keycheck_dns_start - the real resolver: the checker's own, made afresh
 * at each move to a new snapshot (keycheck_switch). The message path's
 * resolver keeps its cache across reloads, negative answers included; a
 * record published before a SIGHUP must be seen by the lookups it causes.
 */
static void *
keycheck_dns_start(void *arg, struct config *c, const char *name,
    void (*notify)(void *), void *narg)
{
	struct keycheck_thread *kt = arg;
	enum dns_status st;

	(void)c;
	if (kt->stub != NULL)
		return dnsstub_query_start(kt->stub, name, ns_t_txt, notify,
		    narg, &st);
	if (kt->dns == NULL)
		return NULL;
	return dns_query_start(kt->dns, name, ns_t_txt, notify, narg, &st);
}

/* keycheck_dns_finish - the real resolver's answer (the stub's, if there is one: it changes only once every lookup is finished) */
static enum dns_status
keycheck_dns_finish(void *arg, void *q, struct dns_result *r)
{
	struct keycheck_thread *kt = arg;

	if (kt->stub != NULL)
		return dnsstub_query_finish(q, r);
	return dns_query_finish(q, r);
}

/*
 * keycheck_new_dns - the checker's resolvers for c: libunbound's, and a
 * stub in front of it when c names DNS servers and does not validate
 * (a lookup through libunbound costs about 50 us of CPU, 100,000 a pass;
 * through the stub a few; truncated answers still go to libunbound)
 */
static void
keycheck_new_dns(struct keycheck_thread *kt, const struct config *c)
{
	char err[512];

	dnsstub_free(kt->stub);
	kt->stub = NULL;
	dns_free(kt->dns);
	if ((kt->dns = runtime_dns_new(c, err, sizeof(err))) == NULL) {
		log_warn(NULL, "key check: no resolver: %s", err);
		return;
	}
	if (!c->key_check_direct || c->dns_servers.n == 0
	    || c->trust_anchor_file[0] != '\0')
		return;
	kt->stub = dnsstub_new((const char *const *)c->dns_servers.v,
	    c->dns_servers.n, (int)(c->dns_timeout * 1000), kt->dns, err,
	    sizeof(err));
	if (kt->stub == NULL)
		log_warn(NULL, "key check: through libunbound: %s", err);
}

/* keycheck_notify - an answer is in: mark it, wake the thread (resolver's thread) */
static void
keycheck_notify(void *arg)
{
	struct keycheck_flight *f = arg;
	struct keycheck_thread *kt = f->kt;

	pthread_mutex_lock(&kt->lock);
	f->done = 1;
	kt->nready++;
	pthread_cond_signal(&kt->wake);
	pthread_mutex_unlock(&kt->lock);
}

/* keycheck_retry_ms - how long a key without an answer waits to be asked again */
static long long
keycheck_retry_ms(const struct config *c)
{
	long long every = (long long)c->key_check_interval * 1000;

	return every > 0 && every < KEYCHECK_RETRY_MS ? every : KEYCHECK_RETRY_MS;
}

/* keycheck_round_end - the urgent pass is over: one summary line */
static void
keycheck_round_end(struct keycheck_thread *kt, long long now)
{
	size_t i, n[KEY_PUB_UNKNOWN + 1] = { 0 };
	enum key_pub p;

	for (i = 0; i < kt->nitems; i++)
		if ((unsigned)(p = keys_pub_get(kt->items[i].k)) <= KEY_PUB_UNKNOWN)
			n[p]++;
	/* keys without an answer are news for the operator: DNS trouble */
	log_msg(n[KEY_PUB_UNKNOWN] > 0 ? LOG_WARNING : LOG_NOTICE, NULL,
	    "key check: pass done in %.1f s: %zu keys, %zu "
	    "published, %zu missing, %zu truncated, %zu mismatched, %zu "
	    "revoked, %zu unknown, %zu unchecked", (double)(now
	    - kt->round_start) / 1000.0, kt->nitems, n[KEY_PUB_PUBLISHED],
	    n[KEY_PUB_MISSING], n[KEY_PUB_TRUNCATED], n[KEY_PUB_MISMATCHED],
	    n[KEY_PUB_REVOKED], n[KEY_PUB_UNKNOWN], n[KEY_PUB_UNCHECKED]);
}

/*
 * keycheck_save - write the states file if states changed and then stayed
 * put for a moment, or a minute went by (force: at once)
 */
static void
keycheck_save(struct keycheck_thread *kt, long long now, int force)
{
	char err[1024];
	long n;

	if (!kt->dirty || kt->cur == NULL || kt->cur->state_dir[0] == '\0')
		return;
	/* not a file a minute while states keep changing (a DNS recovery) */
	if (!force && now - kt->changed_at < KEYCHECK_QUIET_MS
	    && now - kt->saved_at < KEYCHECK_SAVE_MS)
		return;
	kt->dirty = 0;
	kt->saved_at = now;
	if ((n = keystate_save(kt->cur, kt->cur->state_dir, err,
	    sizeof(err))) < 0)
		log_warn(NULL, "key states not saved: %s", err);
	else
		log_debug(NULL, "key states: %ld saved to %s/%s", n,
		    kt->cur->state_dir, KEYSTATE_FILE);
}

/* keycheck_urgent_done - one urgent key answered or given up on: the pass may be over */
static void
keycheck_urgent_done(struct keycheck_thread *kt, long long now)
{
	if (kt->urgent_left > 0 && --kt->urgent_left == 0) {
		keycheck_round_end(kt, now);
		keycheck_save(kt, now, 1);
	}
}

/* keycheck_recheck_answer - the request being worked on is over: rc to its waiter */
static void
keycheck_recheck_answer(struct keycheck_thread *kt, int rc)
{
	pthread_mutex_lock(&kt->lock);
	kt->recheck_done = kt->recheck_id;
	kt->recheck_rc = rc;
	pthread_cond_broadcast(&kt->rechecked);
	pthread_mutex_unlock(&kt->lock);
	kt->recheck_id = 0;
	kt->recheck_left = 0;
}

/* keycheck_recheck_progress - item answered (or given up on): the recheck may be over */
static void
keycheck_recheck_progress(struct keycheck_thread *kt, size_t item)
{
	if (kt->recheck_left > 0 && item >= kt->recheck_lo
	    && item < kt->recheck_hi && --kt->recheck_left == 0)
		keycheck_recheck_answer(kt, 0);
}

/* keycheck_land - finish f; its answer into its key unless drop */
static void
keycheck_land(struct keycheck_thread *kt, struct keycheck_flight *f,
    long long now, int drop)
{
	struct keycheck_item *it = &kt->items[f->item];
	struct keyrecord_info info;
	struct dns_result r;
	struct buf name = BUF_INIT;
	enum key_pub st;

	kt->res.finish(kt->res.arg, f->q, &r);
	if (!drop) {
		keyrecord_name(it->domain, it->k, &name);
		st = keyrecord_answer(buf_cstr(&name), it->k, &r, &info);
		stats_inc(STATS_KEYCHECK + (size_t)st);
		if (keycheck_note(it->domain, it->k, st, &info)) {
			kt->dirty = 1;
			kt->changed_at = now;
		}
		/* each look also notes the key's schedule (logged on change) */
		keys_phase_log(it->k, it->domain, clock_now(),
		    kt->cur->key_expiry_warning, NULL);
		if (st == KEY_PUB_UNKNOWN)
			keysched_retry(&kt->sched, f->item, now
			    + keycheck_retry_ms(kt->cur));
	}
	dns_result_free(&r);
	buf_free(&name);
	if (f->urgent && !drop)
		keycheck_urgent_done(kt, now);
	if (!drop)
		keycheck_recheck_progress(kt, f->item);
}

/* keycheck_reap - finish the lookups answered or past their deadline (all: every one, dropped) */
static void
keycheck_reap(struct keycheck_thread *kt, long long now, int all)
{
	struct keycheck_flight **fp = &kt->flights, *f;
	int done;

	pthread_mutex_lock(&kt->lock);
	kt->nready = 0;		/* answers from now on wake the next wait */
	pthread_mutex_unlock(&kt->lock);
	while ((f = *fp) != NULL) {
		pthread_mutex_lock(&kt->lock);
		done = f->done;
		pthread_mutex_unlock(&kt->lock);
		if (!done && !all && now < f->deadline) {
			fp = &f->next;
			continue;
		}
		*fp = f->next;
		kt->nflights--;
		keycheck_land(kt, f, now, all);
		free(f);
	}
}

/* keycheck_burst - key_check_rate's bucket: how many lookups may be saved up */
static double
keycheck_burst(const struct config *c)
{
	double b = (double)c->key_check_rate * KEYCHECK_BURST_MS / 1000;

	return b < 1 ? 1 : b;
}

/*
 * keycheck_room - may one more lookup start now? key_check_rate is a
 * token bucket: a pass over 100,000 keys takes a fixed share of the CPU
 * (at 2,000 a second about a tenth of a core), whatever the load, while
 * a reload's few new keys, or authmilterctl's, go at once from what was
 * saved up
 */
static int
keycheck_room(struct keycheck_thread *kt, long long now)
{
	const struct config *c = kt->cur;

	if (kt->nflights >= (size_t)c->key_check_concurrency)
		return 0;
	if (c->key_check_rate <= 0)
		return 1;
	if (now > kt->tokens_at) {
		kt->tokens += (double)(now - kt->tokens_at)
		    * c->key_check_rate / 1000;
		if (kt->tokens > keycheck_burst(c))
			kt->tokens = keycheck_burst(c);
		kt->tokens_at = now;
	}
	return kt->tokens >= 1;
}

/* keycheck_launch - start lookups of the keys due, while there is room */
static void
keycheck_launch(struct keycheck_thread *kt, long long now)
{
	struct keycheck_flight *f;
	struct buf name = BUF_INIT;
	enum keysched_from from;
	size_t i;

	while (kt->cur != NULL && keycheck_room(kt, now)
	    && (from = keysched_next(&kt->sched, now, &i)) != KEYSCHED_NONE) {
		if (kt->items[i].k->pkey == NULL) {	/* its file failed */
			if (from == KEYSCHED_URGENT)
				keycheck_urgent_done(kt, now);
			continue;
		}
		kt->tokens--;
		f = xcalloc(1, sizeof(*f));
		f->kt = kt;
		f->item = i;
		f->urgent = from == KEYSCHED_URGENT;
		f->deadline = now + (long long)kt->cur->dns_timeout * 1000;
		keyrecord_name(kt->items[i].domain, kt->items[i].k, &name);
		f->q = kt->res.start(kt->res.arg, kt->cur, buf_cstr(&name),
		    keycheck_notify, f);
		if (f->q == NULL) {
			/* not even sent: no answer, ask again later */
			keysched_retry(&kt->sched, i, now
			    + keycheck_retry_ms(kt->cur));
			if (f->urgent)
				keycheck_urgent_done(kt, now);
			keycheck_recheck_progress(kt, i);
			free(f);
			continue;
		}
		f->next = kt->flights;
		kt->flights = f;
		kt->nflights++;
	}
	buf_free(&name);
}

/*
 * keycheck_fresh_dns - a new resolver, its cache cold, so that a record
 * just changed is read afresh (the checker's own caches it for its TTL).
 * The lookups in flight on the old one are dropped and queued again.
 */
static void
keycheck_fresh_dns(struct keycheck_thread *kt, long long now)
{
	struct keycheck_flight *f;

	if (kt->urgent_left == 0)
		kt->round_start = now;
	for (f = kt->flights; f != NULL; f = f->next) {
		keysched_urgent(&kt->sched, f->item);
		if (!f->urgent)		/* an urgent one is still counted */
			kt->urgent_left++;
	}
	keycheck_reap(kt, now, 1);
	keycheck_new_dns(kt, kt->cur);
}

/*
 * keycheck_recheck_take - a keycheck_recheck request: its domain's keys
 * go to the urgent queue (counted in the urgent pass, so that its end is
 * logged and saved as any other); none such, or key_check = no: answered
 * at once with -1
 */
static void
keycheck_recheck_take(struct keycheck_thread *kt, long long now)
{
	const struct config_domain *d = NULL;
	char *name;
	size_t i;

	pthread_mutex_lock(&kt->lock);
	name = kt->recheck;
	kt->recheck = NULL;
	if (name != NULL)
		kt->recheck_id = kt->recheck_asked;
	pthread_mutex_unlock(&kt->lock);
	if (name == NULL)
		return;
	if (kt->cur != NULL && kt->cur->key_check)
		d = config_find_domain(kt->cur, name);
	free(name);
	if (d == NULL || d->nkeys == 0) {
		keycheck_recheck_answer(kt, -1);
		return;
	}
	if (kt->own_dns)
		keycheck_fresh_dns(kt, now);
	kt->recheck_lo = kt->first[d - kt->cur->domains];
	kt->recheck_hi = kt->recheck_lo + d->nkeys;
	kt->recheck_left = d->nkeys;
	if (kt->urgent_left == 0)
		kt->round_start = now;
	for (i = kt->recheck_lo; i < kt->recheck_hi; i++) {
		keysched_urgent(&kt->sched, i);
		kt->urgent_left++;
	}
}

/* keycheck_items - the keys of c in one array; first[d]: the index of domain d's first */
static size_t
keycheck_items(struct config *c, struct keycheck_item **items, size_t **first)
{
	size_t i, j, n = 0;

	for (i = 0; i < c->ndomains; i++)
		n += c->domains[i].nkeys;
	*items = xreallocarray(NULL, n ? n : 1, sizeof(**items));
	*first = xreallocarray(NULL, c->ndomains + 1, sizeof(**first));
	for (i = 0, n = 0; i < c->ndomains; i++) {
		(*first)[i] = n;
		for (j = 0; j < c->domains[i].nkeys; j++, n++) {
			(*items)[n].domain = c->domains[i].name;
			(*items)[n].k = &c->domains[i].keys[j];
		}
	}
	(*first)[c->ndomains] = n;
	return n;
}

/* keycheck_mark - flag in need c's copy of item it: same domain, selector and key (numbered by first) */
static void
keycheck_mark(struct config *c, const size_t *first, unsigned char *need,
    const struct keycheck_item *it)
{
	const struct config_domain *d = config_find_domain(c, it->domain);
	size_t j;

	for (j = 0; d != NULL && j < d->nkeys; j++) {
		if (strcmp(d->keys[j].selector, it->k->selector) != 0)
			continue;
		if (d->keys[j].pkey == NULL || it->k->pkey == NULL)
			return;		/* not read: no lookup */
		if (d->keys[j].pkey == it->k->pkey
		    || EVP_PKEY_eq(d->keys[j].pkey, it->k->pkey) == 1)
			need[first[d - c->domains] + j] = 1;
		return;
	}
}

/*
 * keycheck_pending - flag in need the keys of c that the running pass has
 * not answered yet (queued urgent, or in flight): they are looked up again
 * on c, or a reload during a start-up pass would leave them unchecked
 */
static void
keycheck_pending(const struct keycheck_thread *kt, struct config *c,
    const size_t *first, unsigned char *need)
{
	const struct keysched_fifo *u = &kt->sched.urgent;
	const struct keycheck_flight *f;
	size_t i;

	for (i = u->head; i < u->len; i++)
		keycheck_mark(c, first, need, &kt->items[u->item[i]]);
	for (f = kt->flights; f != NULL; f = f->next)
		keycheck_mark(c, first, need, &kt->items[f->item]);
}

/* keycheck_restore - the states file's states into c's keys, at start */
static void
keycheck_restore(struct config *c)
{
	char err[1024];
	long n;

	if (c->state_dir[0] == '\0')
		return;
	if ((n = keystate_load(c, c->state_dir, err, sizeof(err))) < 0)
		log_warn(NULL, "key states file ignored: %s", err);
	else
		log_notice(NULL, "key states: %ld restored from %s/%s", n,
		    c->state_dir, KEYSTATE_FILE);
}

/* keycheck_queue - after a move to kt->cur: the flagged keys are urgent */
static void
keycheck_queue(struct keycheck_thread *kt, const unsigned char *need,
    int first_time, long long now)
{
	struct config *c = kt->cur;
	long long every = (long long)c->key_check_interval * 1000;
	size_t i, n = c->key_check ? kt->nitems : 0;

	if (first_time)
		keysched_init(&kt->sched, n, every, now);
	else
		keysched_reset(&kt->sched, n, every, now);
	kt->urgent_left = 0;
	kt->round_start = now;
	for (i = 0; i < n; i++) {
		if (need[i] || keys_pub_get(kt->items[i].k) != KEY_PUB_PUBLISHED) {
			keysched_urgent(&kt->sched, i);
			kt->urgent_left++;
		}
	}
	if (c->key_check) {
		char rate[64] = "";

		if (c->key_check_rate > 0)
			(void)snprintf(rate, sizeof(rate), ", at most %d a second",
			    c->key_check_rate);
		log_info(NULL, "key check: %zu keys, %zu to look up now, "
		    "%d at a time%s, %s", kt->nitems, kt->urgent_left,
		    c->key_check_concurrency, rate, kt->stub != NULL
		    ? "asking the DNS servers directly" : "through libunbound");
	}
}

/* keycheck_switch - move to the installed snapshot if it is another */
static void
keycheck_switch(struct keycheck_thread *kt, long long now)
{
	struct config *c = config_acquire();
	struct keycheck_item *items;
	unsigned char *need;
	size_t *first, n, i;
	int first_time = kt->cur == NULL;

	/* a snapshot still reading its keys is checked once they are read
	 * (keyload's done hook wakes us) */
	if (c == NULL || c == kt->cur || keyload_busy(c)) {
		config_release(c);
		return;
	}
	n = keycheck_items(c, &items, &first);
	need = xcalloc(n ? n : 1, 1);
	if (first_time && c->key_check) {
		keycheck_restore(c);
		for (i = 0; i < n; i++)
			need[i] = 1;	/* at start every key, restored or not */
	} else if (!first_time)
		keycheck_pending(kt, c, first, need);
	keycheck_reap(kt, now, 1);	/* the old snapshot's, redone on c */
	if (kt->recheck_id != 0)	/* its keys: the new snapshot's now */
		keycheck_recheck_answer(kt, 0);
	if (kt->own_dns)		/* a cold cache for c's lookups */
		keycheck_new_dns(kt, c);
	free(kt->items);
	free(kt->first);
	config_release(kt->cur);
	kt->cur = c;
	kt->items = items;
	kt->first = first;
	kt->nitems = n;
	keycheck_queue(kt, need, first_time, now);
	free(need);
}

/* keycheck_wake_at - when the thread must look again (ms, monotonic) */
static long long
keycheck_wake_at(const struct keycheck_thread *kt, long long now)
{
	const struct keycheck_flight *f;
	long long at = now + KEYCHECK_IDLE_MS, save;

	if (kt->cur == NULL)
		return at;
	at = LLONG_MAX;
	if (kt->nflights < (size_t)kt->cur->key_check_concurrency)
		at = keysched_wake(&kt->sched, now);
	if (at != LLONG_MAX && kt->cur->key_check_rate > 0) {
		/* due, but the bucket is low: when a batch's worth is in */
		double want = keycheck_burst(kt->cur) < KEYCHECK_BATCH
		    ? keycheck_burst(kt->cur) : KEYCHECK_BATCH;
		long long full;

		if (kt->tokens < want) {
			full = kt->tokens_at + (long long)((want - kt->tokens)
			    * 1000 / kt->cur->key_check_rate) + 1;
			if (full > at)
				at = full;
		}
	}
	for (f = kt->flights; f != NULL; f = f->next)
		if (f->deadline < at)
			at = f->deadline;
	if (kt->dirty && kt->cur->state_dir[0] != '\0') {
		save = kt->changed_at + KEYCHECK_QUIET_MS;
		if (kt->saved_at + KEYCHECK_SAVE_MS < save)
			save = kt->saved_at + KEYCHECK_SAVE_MS;
		if (save < at)
			at = save;
	}
	return at;
}

/* keycheck_wait - sleep until at, an answer, a new snapshot or stop; 1 to stop */
static int
keycheck_wait(struct keycheck_thread *kt, long long at)
{
	struct timespec until;
	int stop;

	/* far enough to be "never", near enough for time_t */
	if (at > keycheck_now_ms() + 86400000LL)
		at = keycheck_now_ms() + 86400000LL;
	until.tv_sec = (time_t)(at / 1000);
	until.tv_nsec = (long)(at % 1000) * 1000000L;
	pthread_mutex_lock(&kt->lock);
	/* 0: an answer, a wake-up or a spurious one; ETIMEDOUT: time */
	while (!kt->stop && !kt->kick && kt->nready == 0
	    && (kt->recheck == NULL || kt->recheck_id != 0)
	    && pthread_cond_timedwait(&kt->wake, &kt->lock, &until) == 0)
		;
	stop = kt->stop;
	pthread_mutex_unlock(&kt->lock);
	return stop;
}

/*
 * keycheck_thread_main - move to new snapshots, finish answered lookups,
 * start due ones, save, sleep; in a thread of its own so that a slow DNS
 * never delays serving, a reload or a stop
 */
static void *
keycheck_thread_main(void *arg)
{
	struct keycheck_thread *kt = arg;
	long long now;
	int kick;

	/* mail first: key_check_rate bounds the share of the CPU a pass
	 * takes (keycheck_room); a nice value would not: one niced thread
	 * against sixteen busy connections gets under 1% of a core */
	for (;;) {
		now = keycheck_now_ms();
		pthread_mutex_lock(&kt->lock);
		kick = kt->kick;
		kt->kick = 0;
		pthread_mutex_unlock(&kt->lock);
		if (kick || kt->cur == NULL)
			keycheck_switch(kt, now);
		if (kt->recheck_id == 0)
			keycheck_recheck_take(kt, now);
		keycheck_reap(kt, now, 0);
		keycheck_launch(kt, now);
		keycheck_save(kt, now, 0);
		if (keycheck_wait(kt, keycheck_wake_at(kt, now)))
			break;
	}
	keycheck_reap(kt, keycheck_now_ms(), 1);
	keycheck_save(kt, keycheck_now_ms(), 1);
	if (kt->recheck_id != 0)
		keycheck_recheck_answer(kt, 0);
	keysched_free(&kt->sched);
	dnsstub_free(kt->stub);
	dns_free(kt->dns);
	free(kt->items);
	free(kt->first);
	config_release(kt->cur);
	OPENSSL_thread_stop();	/* its per-thread state, now */
	return NULL;
}

/* keycheck_start - start the checker thread */
struct keycheck_thread *
keycheck_start(const struct keycheck_resolver *res, char *err, size_t errlen)
{
	static const struct keycheck_resolver dns = {
		keycheck_dns_start, keycheck_dns_finish, NULL
	};
	struct keycheck_thread *kt = xcalloc(1, sizeof(*kt));
	pthread_condattr_t ca;
	int rc;

	kt->res = res != NULL ? *res : dns;
	if (res == NULL) {
		kt->res.arg = kt;
		kt->own_dns = 1;
	}
	pthread_mutex_init(&kt->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&kt->wake, &ca);
	pthread_cond_init(&kt->rechecked, &ca);
	pthread_condattr_destroy(&ca);
	if ((rc = pthread_create(&kt->tid, NULL, keycheck_thread_main, kt)) != 0) {
		errno = rc;
		(void)snprintf(err, errlen, "cannot start the key check thread: "
		    "%m");
		pthread_cond_destroy(&kt->wake);
		pthread_cond_destroy(&kt->rechecked);
		pthread_mutex_destroy(&kt->lock);
		free(kt);
		return NULL;
	}
	return kt;
}

/* keycheck_signal - set a flag of kt under its lock and wake the thread */
static void
keycheck_signal(struct keycheck_thread *kt, int *flag)
{
	pthread_mutex_lock(&kt->lock);
	*flag = 1;
	pthread_cond_signal(&kt->wake);
	pthread_mutex_unlock(&kt->lock);
}

/* keycheck_wake - move to the newly installed snapshot */
void
keycheck_wake(struct keycheck_thread *kt)
{
	if (kt != NULL)
		keycheck_signal(kt, &kt->kick);
}

/* keycheck_stop - end the checker thread and free it */
void
keycheck_stop(struct keycheck_thread *kt)
{
	if (kt == NULL)
		return;
	keycheck_signal(kt, &kt->stop);
	pthread_join(kt->tid, NULL);
	free(kt->recheck);
	pthread_cond_destroy(&kt->rechecked);
	pthread_cond_destroy(&kt->wake);
	pthread_mutex_destroy(&kt->lock);
	free(kt);
}

/* keycheck_recheck - look domain's keys up again now, wait for the answers */
int
keycheck_recheck(struct keycheck_thread *kt, const char *domain,
    long timeout_ms, char *err, size_t errlen)
{
	struct timespec until;
	unsigned long id;
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&kt->lock);
	if (kt->recheck_cancel) {
		pthread_mutex_unlock(&kt->lock);
		(void)snprintf(err, errlen, "stopping");
		return -1;
	}
	free(kt->recheck);	/* one asked, not taken yet: this one instead */
	kt->recheck = xstrdup(domain);
	id = ++kt->recheck_asked;
	pthread_cond_signal(&kt->wake);
	while (kt->recheck_done < id && !kt->recheck_cancel
	    && pthread_cond_timedwait(&kt->rechecked, &kt->lock, &until) == 0)
		;
	rc = kt->recheck_done >= id ? kt->recheck_rc : kt->recheck_cancel ? -1
	    : 1;
	pthread_mutex_unlock(&kt->lock);
	if (rc < 0)
		(void)snprintf(err, errlen, "%s", kt->recheck_cancel ? "stopping"
		    : "not checked: no such domain with keys, or key_check = no");
	else if (rc > 0)
		(void)snprintf(err, errlen, "no answer for every key within "
		    "%ld ms (looked up in the background still)", timeout_ms);
	return rc;
}

/* keycheck_recheck_cancel - end every recheck wait, now and later */
void
keycheck_recheck_cancel(struct keycheck_thread *kt)
{
	if (kt == NULL)
		return;
	pthread_mutex_lock(&kt->lock);
	kt->recheck_cancel = 1;
	pthread_cond_broadcast(&kt->rechecked);
	pthread_mutex_unlock(&kt->lock);
}
