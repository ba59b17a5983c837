/*
 * keysched.h - which DKIM key record the key checker looks up next, and
 * when: the pure part of the checker (keycheck.c). No threads, no clock of
 * its own: times are milliseconds on the caller's monotonic clock.
 *
 * Keys are numbered 0..n-1. Three sources, taken in this order:
 *   - the urgent queue: due at once (every key at start; new, changed and
 *     unpublished keys at a reload);
 *   - the retry queue: keys that got no DNS answer, each due at its time;
 *   - the periodic pass: in each period of `interval` ms, key i comes due
 *     at period_start + i * interval / n, so that checking n keys is
 *     spread over the interval instead of sent as one burst.
 * How many lookups are in flight at once is the caller's bound: it asks
 * for the next key only when it has room for one.
 *
 * Threading: a struct keysched belongs to one thread.
 */
#ifndef AUTHMILTER_KEYSCHED_H
#define AUTHMILTER_KEYSCHED_H

#include <stddef.h>

/* A FIFO of keys with the time each comes due (nondecreasing). */
struct keysched_fifo {
	size_t *item;			/* keys (owned) */
	long long *due;			/* their times (owned) */
	size_t head;			/* first live entry */
	size_t len;			/* entries used, from 0 */
	size_t cap;			/* entries allocated */
};

struct keysched {
	struct keysched_fifo urgent;	/* due at once */
	struct keysched_fifo retry;	/* due at their times */
	size_t n;			/* keys in the periodic pass */
	long long interval;		/* ms; 0: no periodic pass */
	long long period_start;		/* when key 0 of this period is due */
	size_t cursor;			/* next key of the periodic pass */
};

/* Where keysched_next found the key. */
enum keysched_from {
	KEYSCHED_NONE,			/* nothing is due */
	KEYSCHED_URGENT,
	KEYSCHED_RETRY,
	KEYSCHED_PERIODIC,
};

/* keysched_init - n keys, nothing queued; the first period begins one interval after now */
void keysched_init(struct keysched *s, size_t n, long long interval,
    long long now);
/*
 * keysched_reset - a new set of n keys (a reload): queues emptied, the
 * periodic pass keeps its phase (the same fraction of the period is done)
 */
void keysched_reset(struct keysched *s, size_t n, long long interval,
    long long now);
/* keysched_free - release the queues */
void keysched_free(struct keysched *s);
/* keysched_urgent - key i is due at once */
void keysched_urgent(struct keysched *s, size_t i);
/* keysched_retry - key i is due at time due (not earlier than the last retry queued) */
void keysched_retry(struct keysched *s, size_t i, long long due);
/* keysched_urgent_left - keys still in the urgent queue */
size_t keysched_urgent_left(const struct keysched *s);
/* keysched_due - when the periodic pass's key i (< n) is due in this period */
long long keysched_due(const struct keysched *s, size_t i);
/* keysched_next - take the next key due at now into *i; where it came from */
enum keysched_from keysched_next(struct keysched *s, long long now,
    size_t *i);
/* keysched_wake - when the next key comes due (now or earlier: one is due; LLONG_MAX: none) */
long long keysched_wake(const struct keysched *s, long long now);

#endif
