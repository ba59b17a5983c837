/*
 * history.h - the DMARC history: one record for each inbound message DMARC
 * was evaluated for, what an aggregate report (RFC 7489 section 7.2,
 * Appendix C) is built from.
 *
 * Two parts. The store (struct history_store) is a database behind a small
 * backend interface (history_backend.h; SQLite, PostgreSQL):
 * open, migrate the schema, insert, read a period back, prune, and the
 * reports already sent. The writer (struct history) takes records from the
 * message path through a bounded queue and writes them in batches from a
 * thread of its own: the message path never waits for storage. When the
 * queue is full or the store unavailable, records are dropped and counted
 * (atomic counters), and the writer logs the drops once per interval.
 *
 * Threading: history_submit may be called from any number of threads; the
 * store functions are for one thread at a time (the writer, or a tool).
 */
#ifndef AUTHMILTER_HISTORY_H
#define AUTHMILTER_HISTORY_H

#include <stddef.h>
#include <time.h>

#include "store/rua.h"

#define HISTORY_SCHEMA_VERSION	4	/* the newest migration */

/*
 * The columns of the messages table after its id and received time, the
 * same in every backend (their migration 1 puts its own id and time type
 * in front); the statement's closing parenthesis included.
 */
#define HISTORY_SQL_MESSAGE_COLUMNS \
	" source_ip TEXT NOT NULL," \
	" envelope_from TEXT NOT NULL," \
	" envelope_to TEXT NOT NULL," \
	" header_from TEXT NOT NULL," \
	" spf_result TEXT NOT NULL," \
	" spf_domain TEXT NOT NULL," \
	" spf_scope TEXT NOT NULL," \
	" spf_aligned INTEGER NOT NULL," \
	" dkim_aligned INTEGER NOT NULL," \
	" policy_domain TEXT NOT NULL," \
	" p TEXT NOT NULL, sp TEXT NOT NULL, np TEXT NOT NULL," \
	" adkim TEXT NOT NULL, aspf TEXT NOT NULL," \
	" pct INTEGER NOT NULL, testing INTEGER NOT NULL, psd TEXT NOT NULL," \
	" fo TEXT NOT NULL," \
	" result TEXT NOT NULL," \
	" disposition TEXT NOT NULL," \
	" reasons TEXT NOT NULL," \
	" rua TEXT NOT NULL);"

/*
 * Migration 3, the aggregate reports received (authmilter-report import):
 * the columns of rua_reports after its id, and of rua_rows after the id
 * of its report; the same in every backend, closing parenthesis included.
 * (org_name, report_id) is unique: a report imported twice is one.
 */
#define HISTORY_SQL_RUA_REPORT_COLUMNS \
	" org_name TEXT NOT NULL, email TEXT NOT NULL," \
	" report_id TEXT NOT NULL," \
	" date_begin BIGINT NOT NULL, date_end BIGINT NOT NULL," \
	" domain TEXT NOT NULL, adkim TEXT NOT NULL, aspf TEXT NOT NULL," \
	" p TEXT NOT NULL, sp TEXT NOT NULL, np TEXT NOT NULL," \
	" pct TEXT NOT NULL, fo TEXT NOT NULL, testing TEXT NOT NULL," \
	" format TEXT NOT NULL, imported BIGINT NOT NULL," \
	" UNIQUE (org_name, report_id));" \
	"CREATE INDEX rua_reports_domain ON rua_reports (domain, date_end);"
#define HISTORY_SQL_RUA_ROW_COLUMNS \
	" source_ip TEXT NOT NULL, count BIGINT NOT NULL," \
	" disposition TEXT NOT NULL, dkim TEXT NOT NULL, spf TEXT NOT NULL," \
	" reasons TEXT NOT NULL, header_from TEXT NOT NULL," \
	" envelope_from TEXT NOT NULL, envelope_to TEXT NOT NULL," \
	" auth_dkim TEXT NOT NULL, auth_spf TEXT NOT NULL);" \
	"CREATE INDEX rua_rows_report ON rua_rows (report);"

/* The columns of rua_reports and rua_rows in the order insert and select use. */
#define HISTORY_RUA_REPORT_COLS "org_name, email, report_id, date_begin, " \
	"date_end, domain, adkim, aspf, p, sp, np, pct, fo, testing, format"
#define HISTORY_RUA_ROW_COLS "source_ip, count, disposition, dkim, spf, " \
	"reasons, header_from, envelope_from, envelope_to, auth_dkim, auth_spf"

/* One DKIM signature of a message. */
struct history_dkim {
	char *domain;			/* d= (owned) */
	char *selector;			/* s= (owned) */
	char *result;			/* pass, fail, neutral, ... (owned) */
};

/*
 * One inbound message DMARC was evaluated for. Every string is owned and
 * never NULL ("" for none); policy tags that were absent are "".
 */
struct history_record {
	long long id;			/* row id once stored (0 before) */
	time_t time;			/* when the message ended (UTC seconds) */
	char *source_ip;		/* the connecting client's address */
	char *envelope_from;		/* MAIL FROM domain ("" for <>) */
	char *envelope_to;		/* the first RCPT TO's domain */
	char *header_from;		/* RFC5322.From domain */
	char *spf_result;		/* SPF result of the MAIL FROM check */
	char *spf_domain;		/* the domain SPF checked */
	char *spf_scope;		/* mfrom, or helo (null sender) */
	int spf_aligned;		/* SPF passed and aligned */
	int dkim_aligned;		/* some signature passed and aligned */
	struct history_dkim *dkim;	/* every signature verified (owned) */
	size_t ndkim;
	char *policy_domain;		/* where the record was found; "" none */
	char *p, *sp, *np;		/* none, quarantine, reject; "" absent */
	char *adkim, *aspf;		/* r or s */
	int pct;			/* pct= (RFC 7489), 100 by default */
	int testing;			/* t=y (RFC 9989) */
	char *psd;			/* psd=: y, n or u */
	char *fo;			/* fo= as published: 0, 1, d, s joined
					 * by ":" ("0" by default) */
	char *result;			/* DMARC result: pass, fail, none, ... */
	char *disposition;		/* applied: none, quarantine, reject */
	char *reasons;			/* policy override reasons, space
					 * separated (local_policy, sampled_out,
					 * ...); "" none */
	char *rua;			/* rua URIs, space separated; "" none */
};

/* history_record_new - an empty record (every string "") */
struct history_record *history_record_new(void);
/* history_record_free - release a record (NULL is fine) */
void history_record_free(struct history_record *r);
/* history_record_set - replace string field *field by a copy of value (NULL: "") */
void history_record_set(char **field, const char *value);
/* history_record_add_dkim - append a signature */
void history_record_add_dkim(struct history_record *r, const char *domain,
    const char *selector, const char *result);

/* ---- the store ---- */

struct history_store;

/*
 * history_store_open - open the store named by spec: "sqlite:PATH", a
 * plain PATH (SQLite), or a libpq URI "postgresql://..." (PostgreSQL).
 * Applies the migrations up to HISTORY_SCHEMA_VERSION. NULL with err.
 */
struct history_store *history_store_open(const char *spec, char *err,
    size_t errlen);
/*
 * history_store_open_at - as history_store_open, migrating only up to
 * version (1..HISTORY_SCHEMA_VERSION; the tests' older schema)
 */
struct history_store *history_store_open_at(const char *spec, int version,
    char *err, size_t errlen);
/*
 * history_spec_check - is spec a store history_store_open understands (it
 * is not opened)? 0, or -1 with err
 */
int history_spec_check(const char *spec, char *err, size_t errlen);
/* history_store_close - close (NULL is fine) */
void history_store_close(struct history_store *s);
/* history_store_version - the schema version of the open store */
int history_store_version(struct history_store *s);
/* history_store_insert - write n records in one transaction; 0 or -1 with err */
int history_store_insert(struct history_store *s,
    struct history_record *const *recs, size_t n, char *err, size_t errlen);
/* history_row_fn - one record read back (borrowed for the call); nonzero stops */
typedef int (*history_row_fn)(void *arg, const struct history_record *r);
/* history_store_each - every record with begin <= time < end, in time order; 0 or -1 with err */
int history_store_each(struct history_store *s, time_t begin, time_t end,
    history_row_fn fn, void *arg, char *err, size_t errlen);
/* history_store_prune - delete records older than before; how many, or -1 with err */
long history_store_prune(struct history_store *s, time_t before, char *err,
    size_t errlen);
/* history_store_sent - was report_id sent already? 1 yes, 0 no, -1 err */
int history_store_sent(struct history_store *s, const char *report_id,
    char *err, size_t errlen);
/*
 * history_store_sent_add - record a report as sent (or, status other than
 * "sent", as given up on); 0 or -1 with err
 */
int history_store_sent_add(struct history_store *s, const char *report_id,
    const char *domain, time_t begin, time_t end, const char *rua,
    const char *status, char *err, size_t errlen);

/*
 * history_store_rua_add - store a received aggregate report (schema 3);
 * 0 stored, 1 a report of the same org_name and report_id is there
 * already (nothing written), -1 with err
 */
int history_store_rua_add(struct history_store *s, const struct rua_report *r,
    char *err, size_t errlen);
/* history_rua_fn - one stored report with its rows (borrowed for the call); nonzero stops */
typedef int (*history_rua_fn)(void *arg, const struct rua_report *r);
/*
 * history_store_rua_each - the received reports of domain (NULL: all)
 * whose period ends at or after since, by begin; 0 or -1 with err
 */
int history_store_rua_each(struct history_store *s, const char *domain,
    long long since, history_rua_fn fn, void *arg, char *err, size_t errlen);
/*
 * The stored bounce addresses (schema version 4, table bounce_tokens):
 * token -> original envelope sender, for senders too long for the
 * stateless bounce address (bounce.h, the stored form). Written on the
 * message path (bouncemap.c), not by the writer thread: a mapping must be
 * committed before the message it belongs to is accepted.
 */
/* history_store_bounce_put - store one mapping (a commit of its own); 0 or -1 with err */
int history_store_bounce_put(struct history_store *s, const char *token,
    const char *bounce_domain, const char *original, time_t created,
    char *err, size_t errlen);
/*
 * history_store_bounce_get - the mapping of token in bounce_domain: 1
 * found (original and created set), 0 unknown, -1 err
 */
int history_store_bounce_get(struct history_store *s, const char *token,
    const char *bounce_domain, char **original, time_t *created, char *err,
    size_t errlen);
/* history_store_bounce_prune - delete mappings made before a time; how many, or -1 with err */
long history_store_bounce_prune(struct history_store *s, time_t before,
    char *err, size_t errlen);
/*
 * history_store_limit - bound every later statement of this handle to ms
 * milliseconds (SQLite: the wait for a lock; PostgreSQL: statement_timeout)
 * and make its commits durable (SQLite: synchronous = FULL); 0 or -1
 */
int history_store_limit(struct history_store *s, long ms, char *err,
    size_t errlen);

/* ---- the writer ---- */

struct history;

struct history_options {
	const char *spec;		/* the store (history_store_open) */
	size_t queue;			/* records waiting at most; 0: 10000 */
	long log_interval;		/* seconds between two drop reports; 0: 60 */
	size_t batch;			/* records per transaction; 0: 256 */
};

struct history_stats {
	unsigned long long queued;	/* accepted into the queue */
	unsigned long long written;	/* stored */
	unsigned long long dropped_full;	/* queue full */
	unsigned long long dropped_store;	/* store unavailable or failing */
	unsigned long long pending;	/* in the queue now (not yet popped) */
};

/*
 * history_start - start the writer thread. The store is opened by the
 * thread (and again, with backoff up to a minute, when it fails or a
 * write fails): while it is down the queue keeps what fits, the rest is
 * dropped and counted; a batch whose write fails is dropped and counted.
 * NULL (err) only when the thread cannot start.
 */
struct history *history_start(const struct history_options *opt, char *err,
    size_t errlen);
/*
 * history_submit - hand a record to the writer (takes it, whatever
 * happens). Never blocks on storage: 0 queued, -1 dropped (queue full,
 * or h NULL).
 */
int history_submit(struct history *h, struct history_record *r);
/* history_flush - wait until every record queued so far is stored or dropped (tests, stop) */
void history_flush(struct history *h);
/* history_get_stats - the counters */
void history_get_stats(struct history *h, struct history_stats *st);
/* history_stop - write what is queued, stop the thread, free (NULL is fine) */
void history_stop(struct history *h);

#endif
