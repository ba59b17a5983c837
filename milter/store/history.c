/*
 * history.c - the DMARC history's records, its store (a backend picked by
 * the spec) and its writer: a bounded queue that the message path fills
 * without waiting, and a thread that empties it into the store in
 * batches.
 *
 * Threading: the queue is guarded by one mutex, held only to push or pop
 * pointers; the counters are atomic. The store handle belongs to the
 * writer thread alone. The writer is the only one that logs the drops,
 * once per log interval, so a full queue costs the message path no log
 * line.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/history.h"
#include "store/history_backend.h"
#include "base/log.h"
#include "base/stats.h"
#include "base/xalloc.h"

#define HISTORY_QUEUE_DEFAULT	10000
#define HISTORY_BATCH_DEFAULT	256
#define HISTORY_LOG_DEFAULT	60
#define HISTORY_TICK_MS		200	/* a partial batch waits this long at most */
#define HISTORY_RETRY_MIN	1	/* seconds before reopening a failed store */
#define HISTORY_RETRY_MAX	60

/* history_record_new - an empty record */
struct history_record *
history_record_new(void)
{
	struct history_record *r = xcalloc(1, sizeof(*r));
	char **const f[] = { &r->source_ip, &r->envelope_from, &r->envelope_to,
	    &r->header_from, &r->spf_result, &r->spf_domain, &r->spf_scope,
	    &r->policy_domain, &r->p, &r->sp, &r->np, &r->adkim, &r->aspf,
	    &r->psd, &r->fo, &r->result, &r->disposition, &r->reasons,
	    &r->rua };
	size_t i;

	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		*f[i] = xstrdup("");
	r->pct = 100;
	return r;
}

/* history_record_free - release a record */
void
history_record_free(struct history_record *r)
{
	size_t i;

	if (r == NULL)
		return;
	free(r->source_ip);
	free(r->envelope_from);
	free(r->envelope_to);
	free(r->header_from);
	free(r->spf_result);
	free(r->spf_domain);
	free(r->spf_scope);
	free(r->policy_domain);
	free(r->p);
	free(r->sp);
	free(r->np);
	free(r->adkim);
	free(r->aspf);
	free(r->psd);
	free(r->fo);
	free(r->result);
	free(r->disposition);
	free(r->reasons);
	free(r->rua);
	for (i = 0; i < r->ndkim; i++) {
		free(r->dkim[i].domain);
		free(r->dkim[i].selector);
		free(r->dkim[i].result);
	}
	free(r->dkim);
	free(r);
}

/* history_record_set - replace a string field */
void
history_record_set(char **field, const char *value)
{
	free(*field);
	*field = xstrdup(value != NULL ? value : "");
}

/* history_record_add_dkim - append a signature */
void
history_record_add_dkim(struct history_record *r, const char *domain,
    const char *selector, const char *result)
{
	struct history_dkim *d;

	r->dkim = xreallocarray(r->dkim, r->ndkim + 1, sizeof(*r->dkim));
	d = &r->dkim[r->ndkim++];
	d->domain = xstrdup(domain != NULL ? domain : "");
	d->selector = xstrdup(selector != NULL ? selector : "");
	d->result = xstrdup(result != NULL ? result : "");
}

/* ---- the store ---- */

struct history_store {
	const struct history_backend *be;	/* borrowed (static) */
	void *db;			/* the backend's handle (owned) */
	int version;			/* schema version after migrating */
};

/* history_store_pick - the backend and its target of a spec; NULL with err */
static const struct history_backend *
history_store_pick(const char *spec, const char **target, char *err,
    size_t errlen)
{
	if (spec == NULL || spec[0] == '\0') {
		(void)log_fail(err, errlen, "history: no store given");
		return NULL;
	}
	if (strncmp(spec, "sqlite:", 7) == 0) {
		*target = spec + 7;
		return &history_sqlite;
	}
	/* a libpq URI as it is (host=/dir in its query for a unix socket) */
	if (strncmp(spec, "postgresql://", 13) == 0
	    || strncmp(spec, "postgres://", 11) == 0) {
		*target = spec;
		return &history_pg;
	}
	if (spec[0] != '/') {
		(void)log_fail(err, errlen, "history: %s: give sqlite:PATH, an "
		    "absolute path, or a postgresql:// URI", spec);
		return NULL;
	}
	*target = spec;
	return &history_sqlite;
}

/* history_spec_check - the spec's syntax only */
int
history_spec_check(const char *spec, char *err, size_t errlen)
{
	const char *target = NULL;
	const struct history_backend *be;

	if ((be = history_store_pick(spec, &target, err, errlen)) == NULL)
		return -1;
	if (target[0] == '\0')
		return log_fail(err, errlen, "history: %s: no database path",
		    spec);
	return 0;
}

/* history_store_open_at - open and migrate up to version */
struct history_store *
history_store_open_at(const char *spec, int version, char *err, size_t errlen)
{
	const struct history_backend *be;
	struct history_store *s = NULL;
	const char *target = NULL;

	if (version < 1 || version > HISTORY_SCHEMA_VERSION) {
		(void)log_fail(err, errlen, "history: no schema version %d",
		    version);
		return NULL;
	}
	if ((be = history_store_pick(spec, &target, err, errlen)) == NULL)
		return NULL;
	s = xcalloc(1, sizeof(*s));
	s->be = be;
	if ((s->db = be->open(target, err, errlen)) == NULL
	    || be->migrate(s->db, version, err, errlen) != 0
	    || (s->version = be->version(s->db, err, errlen)) < 0)
		goto fail;
	return s;
fail:
	history_store_close(s);
	return NULL;
}

/* history_store_open - open and migrate to the newest schema */
struct history_store *
history_store_open(const char *spec, char *err, size_t errlen)
{
	return history_store_open_at(spec, HISTORY_SCHEMA_VERSION, err, errlen);
}

/* history_store_close - close */
void
history_store_close(struct history_store *s)
{
	if (s == NULL)
		return;
	if (s->db != NULL)
		s->be->close(s->db);
	free(s);
}

/* history_store_version - the schema version */
int
history_store_version(struct history_store *s)
{
	return s->version;
}

/* history_store_insert - write records */
int
history_store_insert(struct history_store *s,
    struct history_record *const *recs, size_t n, char *err, size_t errlen)
{
	return n == 0 ? 0 : s->be->insert(s->db, recs, n, err, errlen);
}

/* history_store_each - read a period back */
int
history_store_each(struct history_store *s, time_t begin, time_t end,
    history_row_fn fn, void *arg, char *err, size_t errlen)
{
	return s->be->each(s->db, begin, end, fn, arg, err, errlen);
}

/* history_store_prune - delete old records */
long
history_store_prune(struct history_store *s, time_t before, char *err,
    size_t errlen)
{
	return s->be->prune(s->db, before, err, errlen);
}

/* history_store_sent - was a report sent? */
int
history_store_sent(struct history_store *s, const char *report_id, char *err,
    size_t errlen)
{
	if (s->version < 2)
		return log_fail(err, errlen, "history: schema version %d has no "
		    "reports_sent", s->version);
	return s->be->sent(s->db, report_id, err, errlen);
}

/* history_store_sent_add - record a report */
int
history_store_sent_add(struct history_store *s, const char *report_id,
    const char *domain, time_t begin, time_t end, const char *rua,
    const char *status, char *err, size_t errlen)
{
	if (s->version < 2)
		return log_fail(err, errlen, "history: schema version %d has no "
		    "reports_sent", s->version);
	return s->be->sent_add(s->db, report_id, domain, begin, end, rua, status,
	    err, errlen);
}

/* history_store_rua_add - store a received report */
int
history_store_rua_add(struct history_store *s, const struct rua_report *r,
    char *err, size_t errlen)
{
	if (s->version < 3)
		return log_fail(err, errlen, "history: schema version %d has no "
		    "rua_reports", s->version);
	return s->be->rua_add(s->db, r, err, errlen);
}

/* history_store_rua_each - read received reports back */
int
history_store_rua_each(struct history_store *s, const char *domain,
    long long since, history_rua_fn fn, void *arg, char *err, size_t errlen)
{
	if (s->version < 3)
		return log_fail(err, errlen, "history: schema version %d has no "
		    "rua_reports", s->version);
	return s->be->rua_each(s->db, domain, since, fn, arg, err, errlen);
}

/* history_store_bounce_ok - has the schema the bounce_tokens table? */
static int
history_store_bounce_ok(struct history_store *s, char *err, size_t errlen)
{
	if (s->version < 4)
		return log_fail(err, errlen, "history: schema version %d has no "
		    "bounce_tokens", s->version);
	return 0;
}

/* history_store_bounce_put - store one mapping */
int
history_store_bounce_put(struct history_store *s, const char *token,
    const char *bounce_domain, const char *original, time_t created,
    char *err, size_t errlen)
{
	if (history_store_bounce_ok(s, err, errlen) != 0)
		return -1;
	return s->be->bounce_put(s->db, token, bounce_domain, original, created,
	    err, errlen);
}

/* history_store_bounce_get - look a token up */
int
history_store_bounce_get(struct history_store *s, const char *token,
    const char *bounce_domain, char **original, time_t *created, char *err,
    size_t errlen)
{
	*original = NULL;
	*created = 0;
	if (history_store_bounce_ok(s, err, errlen) != 0)
		return -1;
	return s->be->bounce_get(s->db, token, bounce_domain, original, created,
	    err, errlen);
}

/* history_store_bounce_prune - delete old mappings */
long
history_store_bounce_prune(struct history_store *s, time_t before, char *err,
    size_t errlen)
{
	if (history_store_bounce_ok(s, err, errlen) != 0)
		return -1;
	return s->be->bounce_prune(s->db, before, err, errlen);
}

/* history_store_limit - bound statements, durable commits */
int
history_store_limit(struct history_store *s, long ms, char *err,
    size_t errlen)
{
	return s->be->limit(s->db, ms, err, errlen);
}

/* ---- the writer ---- */

struct history {
	char *spec;			/* the store (owned) */
	size_t batch;			/* records per transaction */
	long log_interval;		/* seconds between drop reports */
	pthread_t tid;			/* the writer thread */
	pthread_mutex_t lock;		/* guards the fields below */
	pthread_cond_t wake;		/* the writer: work or stop */
	pthread_cond_t idle;		/* history_flush: the queue drained */
	struct history_record **ring;	/* the queue (owned, cap slots) */
	size_t cap, head, n;		/* capacity, oldest slot, how many */
	int busy;			/* the writer holds a popped batch */
	int flushing;			/* history_flush waits: write what is queued */
	int stop;			/* history_stop asked */
	unsigned long long queued;	/* atomic counters (history_stats) */
	unsigned long long written;
	unsigned long long dropped_full;
	unsigned long long dropped_store;
	/* the writer thread's own: a batch whose insert failed (the store
	 * went away mid-transaction, rolled back), written first once the
	 * store is back, dropped only by a flush or the stop */
	struct history_record **held;
	size_t nheld;
};

/* history_now - monotonic seconds */
static time_t
history_now(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* history_submit - queue a record, or drop and count it */
int
history_submit(struct history *h, struct history_record *r)
{
	if (r == NULL)
		return -1;
	if (h == NULL) {
		history_record_free(r);
		return -1;
	}
	pthread_mutex_lock(&h->lock);
	if (h->n == h->cap || h->stop) {
		pthread_mutex_unlock(&h->lock);
		__atomic_add_fetch(&h->dropped_full, 1, __ATOMIC_RELAXED);
		stats_inc(STATS_HISTORY_DROPPED);
		history_record_free(r);
		return -1;
	}
	h->ring[(h->head + h->n) % h->cap] = r;
	/* the writer wakes for a whole batch, or at its tick: one
	 * transaction per batch, not one per message */
	if (++h->n == h->batch)
		pthread_cond_signal(&h->wake);
	pthread_mutex_unlock(&h->lock);
	__atomic_add_fetch(&h->queued, 1, __ATOMIC_RELAXED);
	return 0;
}

/* history_get_stats - the counters */
void
history_get_stats(struct history *h, struct history_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (h == NULL)
		return;
	st->queued = __atomic_load_n(&h->queued, __ATOMIC_RELAXED);
	st->written = __atomic_load_n(&h->written, __ATOMIC_RELAXED);
	st->dropped_full = __atomic_load_n(&h->dropped_full, __ATOMIC_RELAXED);
	st->dropped_store = __atomic_load_n(&h->dropped_store, __ATOMIC_RELAXED);
	pthread_mutex_lock(&h->lock);
	st->pending = h->n;
	pthread_mutex_unlock(&h->lock);
}

/* history_pop - take up to max records (lock held); how many */
static size_t
history_pop(struct history *h, struct history_record **out, size_t max)
{
	size_t k = 0;

	while (h->n > 0 && k < max) {
		out[k++] = h->ring[h->head];
		h->head = (h->head + 1) % h->cap;
		h->n--;
	}
	return k;
}

/* history_report_drops - log the drops since the last report, once an interval */
static void
history_report_drops(struct history *h, unsigned long long *seen_full,
    unsigned long long *seen_store, time_t *last, int force)
{
	unsigned long long full, store;
	time_t now = history_now();

	if (!force && now - *last < h->log_interval)
		return;
	full = __atomic_load_n(&h->dropped_full, __ATOMIC_RELAXED);
	store = __atomic_load_n(&h->dropped_store, __ATOMIC_RELAXED);
	if (full != *seen_full || store != *seen_store)
		log_warn(NULL, "history: %llu records dropped (queue full: %llu, "
		    "store unavailable: %llu; %llu and %llu since the start); "
		    "mail is not affected", full - *seen_full + store
		    - *seen_store, full - *seen_full, store - *seen_store, full,
		    store);
	*seen_full = full;
	*seen_store = store;
	*last = now;
}

/* history_write - store a batch, opening the store when needed; frees the records */
static void
history_write(struct history *h, struct history_store **s,
    struct history_record **batch, size_t k, time_t *retry_at, long *backoff)
{
	char err[512];
	size_t i;

	if (*s == NULL && history_now() >= *retry_at) {
		if ((*s = history_store_open(h->spec, err, sizeof(err))) == NULL) {
			log_err(NULL, "history: store unavailable, records wait "
			    "in the queue while it has room, the rest are "
			    "dropped and counted (retry in %ld s): %s", *backoff,
			    err);
			*retry_at = history_now() + *backoff;
			*backoff = *backoff * 2 > HISTORY_RETRY_MAX
			    ? HISTORY_RETRY_MAX : *backoff * 2;
		} else {
			log_info(NULL, "history: store %s open (schema version "
			    "%d)", h->spec, history_store_version(*s));
			*backoff = HISTORY_RETRY_MIN;
		}
	}
	if (*s != NULL && history_store_insert(*s, batch, k, err,
	    sizeof(err)) == 0) {
		__atomic_add_fetch(&h->written, k, __ATOMIC_RELAXED);
		stats_add(STATS_HISTORY_WRITTEN, k);
	} else if (k > 0) {
		if (*s != NULL) {
			log_err(NULL, "history: writing %zu records failed, "
			    "reopening the store (they are written first once "
			    "it is back): %s", k, err);
			history_store_close(*s);
			*s = NULL;
			*retry_at = history_now() + *backoff;
			if (h->nheld == 0) {	/* kept, not dropped */
				memcpy(h->held, batch, k * sizeof(*batch));
				h->nheld = k;
				return;
			}
		}
		__atomic_add_fetch(&h->dropped_store, k, __ATOMIC_RELAXED);
		stats_add(STATS_HISTORY_DROPPED + 1, k);
	}
	for (i = 0; i < k; i++)
		history_record_free(batch[i]);
}

/* history_write_held - the batch a failed insert left, into the store now open (again), or dropped and counted (drop) */
static void
history_write_held(struct history *h, struct history_store **s,
    time_t *retry_at, long *backoff, int drop)
{
	char err[512];
	size_t i, k = h->nheld;

	if (k == 0 || (*s == NULL && !drop))
		return;
	if (!drop && history_store_insert(*s, h->held, k, err,
	    sizeof(err)) == 0) {
		__atomic_add_fetch(&h->written, k, __ATOMIC_RELAXED);
		stats_add(STATS_HISTORY_WRITTEN, k);
		log_info(NULL, "history: %zu records held since the store "
		    "failed are written", k);
	} else if (!drop) {
		log_err(NULL, "history: writing %zu held records failed, "
		    "reopening the store: %s", k, err);
		history_store_close(*s);
		*s = NULL;
		*retry_at = history_now() + *backoff;
		return;			/* still held */
	} else {
		__atomic_add_fetch(&h->dropped_store, k, __ATOMIC_RELAXED);
		stats_add(STATS_HISTORY_DROPPED + 1, k);
	}
	for (i = 0; i < k; i++)
		history_record_free(h->held[i]);
	h->nheld = 0;
}

/* history_thread - the writer: batches from the queue into the store */
static void *
history_thread(void *arg)
{
	struct history *h = arg;
	struct history_store *s = NULL;
	struct history_record **batch = xcalloc(h->batch, sizeof(*batch));
	unsigned long long seen_full = 0, seen_store = 0;
	time_t last = history_now(), retry_at = 0;
	long backoff = HISTORY_RETRY_MIN;
	struct timespec until;
	size_t k;
	int stop, down, drop;

	h->held = xcalloc(h->batch, sizeof(*h->held));
	for (;;) {
		if (s == NULL)		/* (re)open when its time has come */
			history_write(h, &s, batch, 0, &retry_at, &backoff);
		history_write_held(h, &s, &retry_at, &backoff, 0);
		down = s == NULL;
		pthread_mutex_lock(&h->lock);
		(void)clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += HISTORY_TICK_MS * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		/* a whole batch, the tick (also the drop report's), a flush or the stop */
		while ((down || h->n < h->batch) && !h->stop && !h->flushing)
			if (pthread_cond_timedwait(&h->wake, &h->lock, &until)
			    == ETIMEDOUT)
				break;
		/* the store down: the queue keeps what fits until it is back
		 * (a flush or the stop drops it) */
		k = down && !h->stop && !h->flushing ? 0
		    : history_pop(h, batch, h->batch);
		stop = h->stop && k == 0;
		h->busy = k > 0;
		drop = down && (h->stop || h->flushing);
		pthread_mutex_unlock(&h->lock);
		if (drop)		/* the held batch goes with the queue */
			history_write_held(h, &s, &retry_at, &backoff, 1);
		if (stop)
			break;
		if (k > 0)
			history_write(h, &s, batch, k, &retry_at, &backoff);
		pthread_mutex_lock(&h->lock);
		h->busy = 0;
		if (h->n == 0) {
			h->flushing = 0;
			pthread_cond_broadcast(&h->idle);
		}
		pthread_mutex_unlock(&h->lock);
		history_report_drops(h, &seen_full, &seen_store, &last, 0);
	}
	history_write_held(h, &s, &retry_at, &backoff, s == NULL);
	history_write_held(h, &s, &retry_at, &backoff, 1);	/* what is left */
	history_report_drops(h, &seen_full, &seen_store, &last, 1);
	history_store_close(s);
	free(h->held);
	free(batch);
	return NULL;
}

/* history_start - the queue and its writer thread */
struct history *
history_start(const struct history_options *opt, char *err, size_t errlen)
{
	struct history *h = xcalloc(1, sizeof(*h));

	h->spec = xstrdup(opt->spec != NULL ? opt->spec : "");
	h->cap = opt->queue > 0 ? opt->queue : HISTORY_QUEUE_DEFAULT;
	h->batch = opt->batch > 0 ? opt->batch : HISTORY_BATCH_DEFAULT;
	if (h->batch > h->cap / 2)	/* a small queue is written in halves */
		h->batch = h->cap / 2 > 0 ? h->cap / 2 : 1;
	h->log_interval = opt->log_interval > 0 ? opt->log_interval
	    : HISTORY_LOG_DEFAULT;
	h->ring = xcalloc(h->cap, sizeof(*h->ring));
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->wake, NULL);
	pthread_cond_init(&h->idle, NULL);
	if (pthread_create(&h->tid, NULL, history_thread, h) != 0) {
		(void)log_fail(err, errlen, "history: cannot start the writer "
		    "thread");
		pthread_mutex_destroy(&h->lock);
		pthread_cond_destroy(&h->wake);
		pthread_cond_destroy(&h->idle);
		free(h->ring);
		free(h->spec);
		free(h);
		return NULL;
	}
	return h;
}

/* history_flush - wait for the queue to drain */
void
history_flush(struct history *h)
{
	if (h == NULL)
		return;
	pthread_mutex_lock(&h->lock);
	if (h->n > 0)
		h->flushing = 1;
	pthread_cond_signal(&h->wake);
	while (h->n > 0 || h->busy)
		pthread_cond_wait(&h->idle, &h->lock);
	pthread_mutex_unlock(&h->lock);
}

/* history_stop - drain, stop and free */
void
history_stop(struct history *h)
{
	size_t i;

	if (h == NULL)
		return;
	pthread_mutex_lock(&h->lock);
	h->stop = 1;
	pthread_cond_signal(&h->wake);
	pthread_mutex_unlock(&h->lock);
	pthread_join(h->tid, NULL);
	for (i = 0; i < h->n; i++)
		history_record_free(h->ring[(h->head + i) % h->cap]);
	pthread_mutex_destroy(&h->lock);
	pthread_cond_destroy(&h->wake);
	pthread_cond_destroy(&h->idle);
	free(h->ring);
	free(h->spec);
	free(h);
}
