/*
 * metrics.h - the Prometheus endpoint: the counters of base/stats.h and
 * gauges read at scrape time, in the text exposition format 0.0.4, served
 * over HTTP by libmicrohttpd (GET /metrics) in a thread of its own.
 */
#ifndef AUTHMILTER_METRICS_H
#define AUTHMILTER_METRICS_H

#include <stddef.h>
#include <time.h>

#include "base/buf.h"
#include "base/stats.h"
#include "policy/bouncecheck.h"

/* What a scrape reads besides the counters: the state of the moment. */
struct metrics_gauges {
	long connections;		/* MTA connections open */
	long parked;			/* ... of which idle, parked (no thread) */
	long in_flight;			/* messages between MAIL FROM and their end */
	int have_config;		/* a snapshot is installed (domains, keys valid) */
	size_t domains;			/* its domain blocks */
	size_t keys[STATS_NKEY_STATES];	/* its keys by enum key_pub */
	size_t bounce[BOUNCE_NHEALTH];	/* its bounce domains by enum bounce_health */
	struct timespec start;		/* when the daemon started (CLOCK_REALTIME) */
	const char *version;		/* the daemon's version (borrowed) */
	const char *engine;		/* the milter engine's name (borrowed) */
};

/* The server's settings, from the start. */
struct metrics_options {
	const char *listen;		/* ADDR:PORT or [ADDR6]:PORT (borrowed) */
	const char *engine;		/* milter engine name (static) */
	long (*sessions)(void);		/* MTA connections open now */
	long (*parked)(void);		/* ... of which parked (NULL: none) */
	struct timespec start;		/* the daemon's start (CLOCK_REALTIME) */
};

/*
 * metrics_render - the exposition of s and g into out (appended): # HELP
 * and # TYPE for every family, counters in _total, histograms as
 * cumulative _bucket{le=...}, _sum and _count
 */
void metrics_render(const struct stats_snapshot *s,
    const struct metrics_gauges *g, struct buf *out);
/* metrics_escape - a label value with \, " and newline escaped, appended to out */
void metrics_escape(const char *value, struct buf *out);
/*
 * metrics_start - listen on o->listen and serve GET /metrics from a thread
 * of libmicrohttpd's (call with the signals blocked, as every thread);
 * 0, or -1 with err (cannot listen: the start fails)
 */
int metrics_start(const struct metrics_options *o, char *err, size_t errlen);
/* metrics_reload - a reload's metrics_listen: a change is logged, taking a restart */
void metrics_reload(const char *listen);
/* metrics_stop - stop serving, close the socket (nothing started: nothing done) */
void metrics_stop(void);

#endif
