/*
 * dns.c - the one DNS resolver of authmilter, over libunbound.
 *
 * Threading: one ub_ctx per struct dns, shared by every thread. Callers
 * submit with ub_resolve_async() and sleep on their slot's condition
 * variable; one internal thread sleeps in poll() on ub_fd() and runs
 * ub_process(), which calls dns_callback() for each answer. libunbound
 * itself runs its resolver in one more thread (ub_ctx_async(ctx, 1)),
 * never in a forked process.
 *
 * Ownership of a slot (struct dns_query): the caller owns it until it
 * gives up. Giving up (dns_query_finish before the answer is in, as on a
 * dns_resolve timeout) calls ub_cancel(); when that succeeds the callback is never
 * run (libunbound decides under its own lock), so the caller frees the
 * slot. When it fails the callback is in flight: the caller marks the slot
 * abandoned and the callback frees it. d->lock guards done/abandoned and
 * the orphan list, so exactly one side frees each slot. A slot's notify
 * runs under d->lock, so once dns_query_finish has taken that lock and
 * seen done, notify has returned.
 *
 * Never resolves from the root: an empty server list means the servers of
 * /etc/resolv.conf, forwarded to like configured ones.
 *
 * libunbound as a library has 16 outgoing UDP ports (outgoing-range), one
 * query on the wire per port: the 17th waits for a free one, whatever the
 * caller's concurrency. opt->max_queries raises that (and the mesh's
 * num-queries-per-thread, 1024) to what the caller can have in flight.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <unbound.h>

#include "base/dns.h"
#include "base/dnscache.h"
#include "base/log.h"
#include "base/stats.h"
#include "base/xalloc.h"

#define DNS_DEFAULT_TIMEOUT_MS	5000
#define DNS_LIB_PORTS		16	/* libunbound's outgoing-range as a library */
#define DNS_LIB_QUERIES		1024	/* and its num-queries-per-thread */

struct dns_query {
	struct dns *d;			/* resolver the query belongs to */
	pthread_cond_t cond;		/* signalled when done is set (no notify) */
	void (*notify)(void *);		/* or called when done is set */
	void *notify_arg;		/* borrowed, passed to notify */
	int id;				/* libunbound's, for ub_cancel */
	int rrtype;			/* for log lines */
	char name[256];			/* for log lines */
	int done;			/* the callback has stored err/res */
	int abandoned;			/* the caller left; the callback frees */
	int err;			/* libunbound error given to the callback */
	struct timespec t0;		/* submitted (CLOCK_MONOTONIC), for the latency */
	uint64_t usec;			/* submitted to answered, set with done */
	struct ub_result *res;		/* the answer (owned by the slot) */
	struct dns_query *next;		/* orphan list link */
	struct dns_query *prev;
};

struct dns {
	struct ub_ctx *ctx;		/* shared libunbound context */
	pthread_t thread;		/* runs ub_process() */
	int thread_started;		/* thread must be joined */
	int stop_pipe[2];		/* write end closed/written to stop it */
	int timeout_ms;			/* default per-query deadline */
	int batch_ms;			/* dns_options.batch_ms */
	struct dnscache *cache;		/* NULL: none (cache_entries 0) */
	int dnssec;			/* a trust anchor is configured */
	pthread_mutex_t lock;		/* guards slot states and orphans */
	struct dns_query *orphans;	/* abandoned slots awaiting callbacks */
	char servers[256];		/* who is asked, for the log */
	long err_logged_at;		/* second of the last error line (atomic) */
	long err_quiet;			/* errors not logged since (atomic) */
};

/* dns_slot_new - a fresh slot whose condition variable uses CLOCK_MONOTONIC */
static struct dns_query *
dns_slot_new(struct dns *d)
{
	struct dns_query *s = xcalloc(1, sizeof(*s));
	pthread_condattr_t ca;

	s->d = d;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cond, &ca);
	pthread_condattr_destroy(&ca);
	return s;
}

/* dns_slot_free - release a slot and any answer it still holds */
static void
dns_slot_free(struct dns_query *s)
{
	if (s->res != NULL)
		ub_resolve_free(s->res);
	pthread_cond_destroy(&s->cond);
	free(s);
}

/* dns_orphan_unlink - take s off the orphan list (d->lock held) */
static void
dns_orphan_unlink(struct dns *d, struct dns_query *s)
{
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		d->orphans = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	s->next = s->prev = NULL;
}

/* dns_callback - libunbound's answer, run by the resolver thread */
static void
dns_callback(void *arg, int err, struct ub_result *res)
{
	struct dns_query *s = arg;
	struct dns *d = s->d;

	pthread_mutex_lock(&d->lock);
	if (s->abandoned) {
		/* The caller timed out and could not cancel: ours to free. */
		dns_orphan_unlink(d, s);
		pthread_mutex_unlock(&d->lock);
		if (res != NULL)
			ub_resolve_free(res);
		dns_slot_free(s);
		return;
	}
	s->err = err;
	s->res = res;
	s->usec = stats_usec_since(&s->t0);
	s->done = 1;
	/* under d->lock: dns_query_finish cannot free s before this ends */
	if (s->notify != NULL)
		s->notify(s->notify_arg);
	else
		pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&d->lock);
}

/* dns_thread - wait for answers and hand them to dns_callback */
static void *
dns_thread(void *arg)
{
	struct dns *d = arg;
	struct pollfd pfd[2];
	int rc;

	pfd[0].fd = ub_fd(d->ctx);
	pfd[0].events = POLLIN;
	pfd[1].fd = d->stop_pipe[0];
	pfd[1].events = POLLIN;
	for (;;) {
		rc = poll(pfd, 2, -1);
		if (rc < 0) {
			if (errno == EINTR)
				continue;
			char eb[128];

			log_err(NULL, "dns: poll: %s",
			    log_errstr(errno, eb, sizeof(eb)));
			break;
		}
		if (pfd[1].revents != 0)
			break;
		if (pfd[0].revents == 0)
			continue;
		if (d->batch_ms > 0) {	/* let more answers come: one wake-up */
			struct timespec ts = { 0, (long)d->batch_ms * 1000000L };

			(void)nanosleep(&ts, NULL);
		}
		rc = ub_process(d->ctx);
		if (rc != 0) {
			/* The pipe to libunbound's worker is gone: every
			 * later query times out (DNS_TEMPFAIL) instead of
			 * this thread spinning on a dead descriptor. */
			log_err(NULL, "dns: resolver stopped: %s", ub_strerror(rc));
			break;
		}
	}
	return NULL;
}

/* dns_set_number - set libunbound option name (with its colon) to n */
static int
dns_set_number(struct ub_ctx *ctx, const char *name, int n)
{
	char v[16];

	(void)snprintf(v, sizeof(v), "%d", n);
	return ub_ctx_set_option(ctx, name, v);
}

/* dns_setup - configure the context from the options; -1 with err */
static int
dns_setup(struct dns *d, const struct dns_options *opt, char *err,
    size_t errlen)
{
	struct ub_ctx *ctx = d->ctx;
	char eb[128];
	size_t i;
	int rc;

	/* A thread, not a forked process, for the background resolver. */
	if ((rc = ub_ctx_async(ctx, 1)) != 0) {
		(void)snprintf(err, errlen, "libunbound threads: %s", ub_strerror(rc));
		return -1;
	}
	/*
	 * Forwarders (and resolv.conf's servers) may live on loopback:
	 * a local caching resolver, or the test suite's DNS server.
	 */
	if ((rc = ub_ctx_set_option(ctx, "do-not-query-localhost:", "no")) != 0) {
		(void)snprintf(err, errlen, "libunbound do-not-query-localhost: %s",
		    ub_strerror(rc));
		return -1;
	}
	/*
	 * We only ever forward, to a resolver that applies its own policy:
	 * libunbound's built-in empty zones (RFC 6761 "test.", the private
	 * and documentation reverse zones) would hide what it serves.
	 * ("test. nodefault" is what unbound.conf would say, but libunbound
	 * 1.17's ub_ctx_set_option stores the whole value as the zone name;
	 * a transparent zone of the same name displaces the default too.)
	 */
	if ((rc = ub_ctx_set_option(ctx, "unblock-lan-zones:", "yes")) != 0 ||
	    (rc = ub_ctx_set_option(ctx, "insecure-lan-zones:", "yes")) != 0 ||
	    (rc = ub_ctx_set_option(ctx, "local-zone:", "test. transparent")) != 0) {
		(void)snprintf(err, errlen, "libunbound local zones: %s",
		    ub_strerror(rc));
		return -1;
	}
	/* raised only: fewer ports would queue the queries that timed out
	 * here but that libunbound still waits for */
	if (opt->max_queries > DNS_LIB_PORTS && (rc = dns_set_number(ctx,
	    "outgoing-range:", opt->max_queries)) != 0) {
		(void)snprintf(err, errlen, "libunbound outgoing-range %d: %s",
		    opt->max_queries, ub_strerror(rc));
		return -1;
	}
	if (opt->max_queries > DNS_LIB_QUERIES && (rc = dns_set_number(ctx,
	    "num-queries-per-thread:", opt->max_queries)) != 0) {
		(void)snprintf(err, errlen, "libunbound num-queries-per-thread "
		    "%d: %s", opt->max_queries, ub_strerror(rc));
		return -1;
	}
	if (opt->nservers == 0) {
		rc = ub_ctx_resolvconf(ctx, NULL);
		if (rc != 0) {
			(void)snprintf(err, errlen, "reading /etc/resolv.conf: %s",
			    rc == UB_READFILE ? log_errstr(errno, eb, sizeof(eb))
			    : ub_strerror(rc));
			return -1;
		}
		if ((rc = ub_ctx_hosts(ctx, NULL)) != 0)
			log_warn(NULL, "dns: reading /etc/hosts: %s",
			    ub_strerror(rc));
	}
	(void)snprintf(d->servers, sizeof(d->servers), "%s", opt->nservers > 0
	    ? "" : "/etc/resolv.conf's servers");
	for (i = 0; i < opt->nservers; i++) {
		size_t used = strlen(d->servers);

		(void)snprintf(d->servers + used, sizeof(d->servers) - used,
		    "%s%s", i ? ", " : "", opt->servers[i]);
		rc = ub_ctx_set_fwd(ctx, opt->servers[i]);
		if (rc != 0) {
			(void)snprintf(err, errlen, "DNS server \"%s\": %s (want an IP "
			    "address, optionally @port)", opt->servers[i],
			    ub_strerror(rc));
			return -1;
		}
	}
	if (opt->trust_anchor != NULL && opt->trust_anchor[0] != '\0') {
		rc = ub_ctx_add_ta_file(ctx, opt->trust_anchor);
		if (rc != 0) {
			(void)snprintf(err, errlen, "trust anchor file %s: %s",
			    opt->trust_anchor, ub_strerror(rc));
			return -1;
		}
		d->dnssec = 1;
	}
	return 0;
}

/* dns_new - start a resolver */
struct dns *
dns_new(const struct dns_options *opt, char *err, size_t errlen)
{
	struct dns *d = xcalloc(1, sizeof(*d));
	struct dns_result r;
	enum dns_status status;
	sigset_t all, old;
	char eb[128];
	int rc;

	d->stop_pipe[0] = d->stop_pipe[1] = -1;
	d->timeout_ms = opt->timeout_ms > 0 ? opt->timeout_ms : DNS_DEFAULT_TIMEOUT_MS;
	d->batch_ms = opt->batch_ms > 0 && opt->batch_ms < 1000 ? opt->batch_ms : 0;
	if (opt->cache_entries > 0)
		d->cache = dnscache_new(opt->cache_entries);
	pthread_mutex_init(&d->lock, NULL);
	d->ctx = ub_ctx_create();
	if (d->ctx == NULL) {
		(void)snprintf(err, errlen, "cannot create a libunbound context");
		goto fail;
	}
	if (dns_setup(d, opt, err, errlen) < 0)
		goto fail;
	if (pipe2(d->stop_pipe, O_CLOEXEC) < 0) {
		(void)snprintf(err, errlen, "pipe: %s", log_errstr(errno, eb, sizeof(eb)));
		goto fail;
	}
	/*
	 * Signals belong to the daemon's signal thread: block them while
	 * our thread starts, and while libunbound starts its own, which it
	 * does on the first query. That query, "localhost.", is answered by
	 * libunbound's built-in zone without a packet sent, and proves the
	 * whole path before the first message needs it.
	 */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = pthread_create(&d->thread, NULL, dns_thread, d);
	if (rc == 0) {
		d->thread_started = 1;
		dns_resolve(d, "localhost.", 1 /* A */, 0, &r);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		(void)snprintf(err, errlen, "resolver thread: %s",
		    log_errstr(rc, eb, sizeof(eb)));
		goto fail;
	}
	status = r.status;
	dns_result_free(&r);
	if (status != DNS_OK) {
		(void)snprintf(err, errlen, "resolver does not work: %s",
		    dns_status_name(status));
		goto fail;
	}
	log_info(NULL, "dns: resolving through %s, DNSSEC validation %s",
	    opt->nservers > 0 ? "the configured servers" : "/etc/resolv.conf",
	    d->dnssec ? "on" : "off");
	return d;
fail:
	dns_free(d);		/* takes a half-built resolver: context, pipe, thread */
	return NULL;
}

/* dns_free - stop the resolver thread and free everything */
void
dns_free(struct dns *d)
{
	struct dns_query *s;

	if (d == NULL)
		return;
	if (d->thread_started) {
		char c = 0, eb[128];

		if (write(d->stop_pipe[1], &c, 1) != 1)
			log_err(NULL, "dns: cannot stop the resolver thread: %s",
			    log_errstr(errno, eb, sizeof(eb)));
		pthread_join(d->thread, NULL);
	}
	/* Stops libunbound's own thread; pending callbacks never run. */
	if (d->ctx != NULL)
		ub_ctx_delete(d->ctx);
	while ((s = d->orphans) != NULL) {
		dns_orphan_unlink(d, s);
		dns_slot_free(s);
	}
	if (d->stop_pipe[0] >= 0)
		close(d->stop_pipe[0]);
	if (d->stop_pipe[1] >= 0)
		close(d->stop_pipe[1]);
	pthread_mutex_destroy(&d->lock);
	dnscache_free(d->cache);
	free(d);
}

/* dns_deadline - now (CLOCK_MONOTONIC) plus ms */
static struct timespec
dns_deadline(int ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

/* dns_fill - copy a libunbound answer into r and classify it */
static void
dns_fill(struct dns_result *r, const struct ub_result *u)
{
	size_t i, n = 0;

	r->rcode = u->rcode;
	r->secure = u->secure;
	r->ttl = u->ttl;
	if (u->answer_packet != NULL && u->answer_len > 0) {
		r->packet_len = (size_t)u->answer_len;
		r->packet = xmalloc(r->packet_len);
		memcpy(r->packet, u->answer_packet, r->packet_len);
	}
	if (u->bogus) {
		r->status = DNS_BOGUS;
		return;
	}
	if (u->havedata && u->data != NULL)
		while (u->data[n] != NULL)
			n++;
	if (n > 0) {
		r->n = n;
		r->data = xcalloc(n, sizeof(*r->data));
		r->len = xcalloc(n, sizeof(*r->len));
		for (i = 0; i < n; i++) {
			r->len[i] = u->len[i] > 0 ? (size_t)u->len[i] : 0;
			r->data[i] = xmalloc(r->len[i]);
			memcpy(r->data[i], u->data[i], r->len[i]);
		}
		r->status = DNS_OK;
	} else if (u->nxdomain)
		r->status = DNS_NXDOMAIN;
	else if (u->rcode == 0)
		r->status = DNS_NODATA;
	else
		r->status = DNS_TEMPFAIL;	/* SERVFAIL, REFUSED, ... */
}

/* dns_query_start - submit a lookup; notify (or the slot's cond) says when it is in */
struct dns_query *
dns_query_start(struct dns *d, const char *name, int rrtype,
    void (*notify)(void *), void *arg, enum dns_status *status)
{
	struct dns_query *s;
	int rc;

	*status = DNS_ERROR;
	if (name == NULL || strlen(name) > 254)
		return NULL;
	s = dns_slot_new(d);
	s->notify = notify;
	s->notify_arg = arg;
	s->rrtype = rrtype;
	memcpy(s->name, name, strlen(name) + 1);
	(void)clock_gettime(CLOCK_MONOTONIC, &s->t0);
	rc = ub_resolve_async(d->ctx, name, rrtype, 1 /* IN */, s,
	    dns_callback, &s->id);
	if (rc != 0) {
		log_warn(NULL, "dns: %s/%d: %s", name, rrtype, ub_strerror(rc));
		stats_inc(STATS_DNS_QUERIES);
		stats_inc(STATS_DNS_ERRORS + STATS_DNS_RESOLVER);
		*status = rc == UB_SYNTAX ? DNS_ERROR : DNS_TEMPFAIL;
		dns_slot_free(s);
		return NULL;
	}
	*status = DNS_OK;
	return s;
}

/*
 * dns_count - count a query that ended: its latency (to the answer, or to
 * the caller giving up) and its error kind, if any; s is still ours
 */
static void
dns_count(const struct dns_query *s, const struct dns_result *r)
{
	int kind = -1;

	stats_inc(STATS_DNS_QUERIES);
	stats_observe(STATS_H_DNS, s->done ? s->usec : stats_usec_since(&s->t0));
	if (!s->done)
		kind = STATS_DNS_TIMEOUT;
	else if (s->err != 0 || s->res == NULL)
		kind = STATS_DNS_RESOLVER;
	else if (r->status == DNS_BOGUS)
		kind = STATS_DNS_BOGUS;
	else if (r->status == DNS_TEMPFAIL)
		kind = r->rcode == 2 ? STATS_DNS_SERVFAIL : r->rcode == 5
		    ? STATS_DNS_REFUSED : STATS_DNS_OTHER_RCODE;
	if (kind >= 0)
		stats_inc(STATS_DNS_ERRORS + (size_t)kind);
}

/* dns_rcode_name - "SERVFAIL", "REFUSED", ... (buf for the others) */
static const char *
dns_rcode_name(int rcode, char *buf, size_t len)
{
	static const char *const names[] = { "NOERROR", "FORMERR", "SERVFAIL",
	    "NXDOMAIN", "NOTIMP", "REFUSED" };

	if (rcode >= 0 && (size_t)rcode < sizeof(names) / sizeof(names[0]))
		return names[rcode];
	(void)snprintf(buf, len, "rcode %d", rcode);
	return buf;
}

/*
 * dns_log_error - a lookup that got no usable answer, at info with the
 * servers asked: one line a second at most (a DNS outage on a busy MX),
 * the next saying how many were not logged
 */
static void
dns_log_error(struct dns *d, const char *name, int rrtype, const char *what)
{
	struct timespec now;
	long sec, last, quiet;

	clock_gettime(CLOCK_MONOTONIC, &now);
	sec = (long)now.tv_sec;
	last = __atomic_load_n(&d->err_logged_at, __ATOMIC_RELAXED);
	if (last == sec || !__atomic_compare_exchange_n(&d->err_logged_at,
	    &last, sec, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
		__atomic_add_fetch(&d->err_quiet, 1, __ATOMIC_RELAXED);
		return;
	}
	quiet = __atomic_exchange_n(&d->err_quiet, 0, __ATOMIC_RELAXED);
	if (quiet > 0)
		log_info(NULL, "dns: %s/%d: %s (asked %s; %ld more lookups failed "
		    "since the last such line)", name, rrtype, what, d->servers,
		    quiet);
	else
		log_info(NULL, "dns: %s/%d: %s (asked %s)", name, rrtype, what,
		    d->servers);
}

/*
 * dns_query_finish - the answer of s into r, or TEMPFAIL if it is not in:
 * then the query is cancelled, or, when libunbound is already running its
 * callback, left to that callback to free (abandoned)
 */
enum dns_status
dns_query_finish(struct dns_query *s, struct dns_result *r)
{
	struct dns *d = s->d;
	int cancelled;

	memset(r, 0, sizeof(*r));
	r->rcode = -1;
	pthread_mutex_lock(&d->lock);
	if (!s->done) {
		pthread_mutex_unlock(&d->lock);
		cancelled = ub_cancel(d->ctx, s->id) == 0;
		pthread_mutex_lock(&d->lock);
		if (!s->done && !cancelled) {
			/* The callback is in flight; it frees the slot. */
			s->abandoned = 1;
			s->next = d->orphans;
			if (s->next != NULL)
				s->next->prev = s;
			d->orphans = s;
			r->status = DNS_TEMPFAIL;
			/* under the lock: once it is let go the callback frees s */
			dns_count(s, r);
			dns_log_error(d, s->name, s->rrtype, "timed out");
			pthread_mutex_unlock(&d->lock);
			return r->status;
		}
	}
	pthread_mutex_unlock(&d->lock);
	/* Here the callback either ran (done) or never will (cancelled). */
	if (!s->done) {
		r->status = DNS_TEMPFAIL;
		dns_log_error(d, s->name, s->rrtype, "timed out");
	} else if (s->err != 0 || s->res == NULL) {
		r->status = s->err == UB_SYNTAX ? DNS_ERROR : DNS_TEMPFAIL;
		dns_log_error(d, s->name, s->rrtype, ub_strerror(s->err));
	} else {
		dns_fill(r, s->res);
		if (r->status == DNS_TEMPFAIL) {
			char rb[32];

			dns_log_error(d, s->name, s->rrtype, dns_rcode_name(
			    s->res->rcode, rb, sizeof(rb)));
		}
		if (r->status == DNS_BOGUS)
			log_warn(NULL, "dns: %s/%d: DNSSEC bogus: %s", s->name,
			    s->rrtype, s->res->why_bogus != NULL
			    ? s->res->why_bogus : "?");
	}
	dns_count(s, r);
	dns_slot_free(s);
	return r->status;
}

/* dns_now_ms - the monotonic clock in ms (the cache's TTLs) */
static long long
dns_now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* dns_resolve - look up name/type, waiting at most the deadline */
enum dns_status
dns_resolve(struct dns *d, const char *name, int rrtype, int timeout_ms,
    struct dns_result *r)
{
	struct dns_query *s;
	struct timespec deadline;
	enum dns_status status;

	if (d->cache != NULL && dnscache_get(d->cache, name, rrtype, r,
	    dns_now_ms())) {
		stats_inc(STATS_DNS_CACHE_HITS);
		return r->status;
	}
	s = dns_query_start(d, name, rrtype, NULL, NULL, &status);
	if (s == NULL) {
		memset(r, 0, sizeof(*r));
		r->rcode = -1;
		r->status = status;
		return status;
	}
	deadline = dns_deadline(timeout_ms > 0 ? timeout_ms : d->timeout_ms);
	pthread_mutex_lock(&d->lock);
	while (!s->done && pthread_cond_timedwait(&s->cond, &d->lock,
	    &deadline) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&d->lock);
	status = dns_query_finish(s, r);
	if (d->cache != NULL)
		dnscache_put(d->cache, name, rrtype, r, dns_now_ms());
	return status;
}

/* dns_timeout_ms - the configured per-query deadline */
int
dns_timeout_ms(const struct dns *d)
{
	return d->timeout_ms;
}

/* dns_result_free - release a result */
void
dns_result_free(struct dns_result *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->n; i++)
		free(r->data[i]);
	free(r->data);
	free(r->len);
	free(r->packet);
	memset(r, 0, sizeof(*r));
}

/* dns_txt - join the character-strings of TXT rdata i */
int
dns_txt(const struct dns_result *r, size_t i, struct buf *out)
{
	const unsigned char *p, *end;
	size_t n;

	buf_reset(out);		/* callers loop over records with one buffer */
	if (r == NULL || i >= r->n)
		return -1;
	p = r->data[i];
	end = p + r->len[i];
	while (p < end) {
		n = *p++;
		if (n > (size_t)(end - p))
			return -1;	/* truncated character-string */
		buf_append(out, p, n);
		p += n;
	}
	return 0;
}

/* dns_status_name - "ok", "nxdomain", ... */
const char *
dns_status_name(enum dns_status s)
{
	switch (s) {
	case DNS_OK:		return "ok";
	case DNS_NXDOMAIN:	return "nxdomain";
	case DNS_NODATA:	return "nodata";
	case DNS_TEMPFAIL:	return "tempfail";
	case DNS_BOGUS:		return "bogus";
	case DNS_ERROR:		return "error";
	}
	return "unknown";
}
