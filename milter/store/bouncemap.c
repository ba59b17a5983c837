/*
 * bouncemap.c - token -> original sender mappings of the stored bounce
 * addresses, kept in the history store (table bounce_tokens), written and
 * read on the message path through a small pool of store handles.
 *
 * Threading: the pool (idle handles, how many are open, when the store
 * may be tried again) is guarded by one mutex, held only to take or give
 * back a handle, never across a statement. A handle is used by one
 * thread at a time. max_age and the next prune time are atomics.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "store/bouncemap.h"
#include "store/history.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/xalloc.h"

#define BOUNCEMAP_TIMEOUT_DEFAULT	2000	/* ms */
#define BOUNCEMAP_HANDLES_DEFAULT	4
#define BOUNCEMAP_RETRY		5	/* seconds before reopening a failed store */
#define BOUNCEMAP_PRUNE_EVERY	3600	/* seconds between two prunes */
#define BOUNCEMAP_SKEW		86400	/* kept a day longer than max_age */

struct bouncemap {
	struct bounce_map map;		/* what callers are given; arg is us */
	char *spec;			/* the store (owned) */
	long timeout_ms;		/* bound of a call */
	long max_age;			/* atomic: seconds a mapping is valid */
	time_t next_prune;		/* atomic: monotonic time of the next prune */
	pthread_mutex_t lock;		/* guards the pool fields below */
	pthread_cond_t freed;		/* a handle came back */
	struct history_store **idle;	/* idle handles (owned, cap slots) */
	size_t nidle, nopen, cap;	/* idle now, open in all, at most */
	time_t down_until;		/* monotonic: store failed, do not retry before */
};

/* bouncemap_mono - monotonic seconds */
static time_t
bouncemap_mono(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* bouncemap_deadline - the realtime deadline ms from now, for a timed wait */
static void
bouncemap_deadline(long ms, struct timespec *ts)
{
	(void)clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* bouncemap_take - borrow a handle, opening one when none is idle; NULL with err */
static struct history_store *
bouncemap_take(struct bouncemap *bm, char *err, size_t errlen)
{
	struct history_store *s = NULL;
	struct timespec until;
	time_t wait;

	bouncemap_deadline(bm->timeout_ms, &until);
	pthread_mutex_lock(&bm->lock);
	while (bm->nidle == 0 && bm->nopen >= bm->cap
	    && bouncemap_mono() >= bm->down_until)
		if (pthread_cond_timedwait(&bm->freed, &bm->lock, &until)
		    == ETIMEDOUT)
			break;
	if ((wait = bm->down_until - bouncemap_mono()) > 0) {
		pthread_mutex_unlock(&bm->lock);
		(void)log_fail(err, errlen, "bounce store %s unavailable (tried "
		    "again in %ld s)", bm->spec, (long)wait);
		return NULL;
	}
	if (bm->nidle > 0) {
		s = bm->idle[--bm->nidle];
		pthread_mutex_unlock(&bm->lock);
		return s;
	}
	if (bm->nopen >= bm->cap) {
		pthread_mutex_unlock(&bm->lock);
		(void)log_fail(err, errlen, "bounce store %s: no free handle "
		    "within %ld ms", bm->spec, bm->timeout_ms);
		return NULL;
	}
	bm->nopen++;
	pthread_mutex_unlock(&bm->lock);
	if ((s = history_store_open(bm->spec, err, errlen)) != NULL
	    && history_store_limit(s, bm->timeout_ms, err, errlen) != 0) {
		history_store_close(s);
		s = NULL;
	}
	if (s == NULL) {
		pthread_mutex_lock(&bm->lock);
		bm->nopen--;
		bm->down_until = bouncemap_mono() + BOUNCEMAP_RETRY;
		pthread_cond_broadcast(&bm->freed);
		pthread_mutex_unlock(&bm->lock);
	}
	return s;
}

/* bouncemap_give - return a handle; one whose call failed is closed (it may be broken) */
static void
bouncemap_give(struct bouncemap *bm, struct history_store *s, int failed)
{
	pthread_mutex_lock(&bm->lock);
	if (failed) {
		history_store_close(s);
		bm->nopen--;
	} else {
		bm->idle[bm->nidle++] = s;
	}
	pthread_cond_signal(&bm->freed);
	pthread_mutex_unlock(&bm->lock);
}

/* bouncemap_prune - once an hour, delete the mappings no bounce can use any more */
static void
bouncemap_prune(struct bouncemap *bm, struct history_store *s, time_t now)
{
	time_t next = __atomic_load_n(&bm->next_prune, __ATOMIC_RELAXED);
	time_t mono = bouncemap_mono();
	long max_age = __atomic_load_n(&bm->max_age, __ATOMIC_RELAXED);
	char err[256];
	long n;

	/* one thread wins the prune; the others go on */
	if (mono < next || !__atomic_compare_exchange_n(&bm->next_prune, &next,
	    mono + BOUNCEMAP_PRUNE_EVERY, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		return;
	n = history_store_bounce_prune(s, now - max_age - BOUNCEMAP_SKEW, err,
	    sizeof(err));
	if (n < 0)
		log_warn(NULL, "bounce store: pruning expired mappings failed: %s",
		    err);
	else if (n > 0)
		log_info(NULL, "bounce store: %ld expired mappings pruned", n);
}

/* bouncemap_put - the bounce_map's put */
static int
bouncemap_put(void *arg, const char *token, const char *bounce_domain,
    const char *original, time_t created, char *err, size_t errlen)
{
	struct bouncemap *bm = arg;
	struct history_store *s;
	int rc;

	if ((s = bouncemap_take(bm, err, errlen)) == NULL)
		return -1;
	rc = history_store_bounce_put(s, token, bounce_domain, original, created,
	    err, errlen);
	if (rc == 0)
		bouncemap_prune(bm, s, created);
	bouncemap_give(bm, s, rc != 0);
	return rc;
}

/* bouncemap_get - the bounce_map's get */
static int
bouncemap_get(void *arg, const char *token, const char *bounce_domain,
    struct buf *original, time_t *created, char *err, size_t errlen)
{
	struct bouncemap *bm = arg;
	struct history_store *s;
	char *orig = NULL;
	int rc;

	buf_reset(original);
	if ((s = bouncemap_take(bm, err, errlen)) == NULL)
		return -1;
	rc = history_store_bounce_get(s, token, bounce_domain, &orig, created,
	    err, errlen);
	bouncemap_give(bm, s, rc < 0);
	if (rc == 1)
		buf_puts(original, orig);
	free(orig);
	return rc;
}

/* bouncemap_random - the kernel's random octets */
static int
bouncemap_random(void *arg, unsigned char *out, size_t n)
{
	(void)arg;
	return getrandom(out, n, 0) == (ssize_t)n ? 0 : -1;
}

/* bouncemap_new - a pool over the store */
struct bouncemap *
bouncemap_new(const struct bouncemap_options *opt)
{
	struct bouncemap *bm = xcalloc(1, sizeof(*bm));

	bm->spec = xstrdup(opt->spec != NULL ? opt->spec : "");
	bm->timeout_ms = opt->timeout_ms > 0 ? opt->timeout_ms
	    : BOUNCEMAP_TIMEOUT_DEFAULT;
	bm->max_age = opt->max_age;
	bm->cap = opt->handles > 0 ? opt->handles : BOUNCEMAP_HANDLES_DEFAULT;
	bm->idle = xcalloc(bm->cap, sizeof(*bm->idle));
	pthread_mutex_init(&bm->lock, NULL);
	pthread_cond_init(&bm->freed, NULL);
	bm->map.put = bouncemap_put;
	bm->map.get = bouncemap_get;
	bm->map.random = bouncemap_random;
	bm->map.arg = bm;
	return bm;
}

/* bouncemap_map - the bounce_map */
const struct bounce_map *
bouncemap_map(const struct bouncemap *bm)
{
	return bm != NULL ? &bm->map : NULL;
}

/* bouncemap_set_max_age - a reloaded bounce_max_age */
void
bouncemap_set_max_age(struct bouncemap *bm, long max_age)
{
	if (bm != NULL)
		__atomic_store_n(&bm->max_age, max_age, __ATOMIC_RELAXED);
}

/* bouncemap_free - close every handle */
void
bouncemap_free(struct bouncemap *bm)
{
	size_t i;

	if (bm == NULL)
		return;
	for (i = 0; i < bm->nidle; i++)
		history_store_close(bm->idle[i]);
	pthread_mutex_destroy(&bm->lock);
	pthread_cond_destroy(&bm->freed);
	free(bm->idle);
	free(bm->spec);
	free(bm);
}
