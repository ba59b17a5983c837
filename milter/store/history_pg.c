/*
 * history_pg.c - the PostgreSQL backend of the DMARC history (libpq), for
 * several MTAs writing one shared store: the same tables and migration
 * versions as the SQLite backend (history_sqlite.c), the migrations taken
 * under an advisory lock so that daemons starting at once do not race.
 * The target is a libpq connection string or URI (postgresql://...).
 *
 * A handle is used by one thread at a time. A lost connection fails the
 * call; the writer (history.c) then reconnects with backoff.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "store/history_backend.h"
#include "base/buf.h"
#include "base/log.h"
#include "base/xalloc.h"

/* any number that is ours alone, for pg_advisory_xact_lock */
#define HISTORY_PG_LOCK 0x61756d68	/* "aumh" */

/* The migrations, as history_sqlite.c's: migration i brings version i + 1. */
static const char *const history_pg_migrations[] = {
	/* 1: the messages and their DKIM signatures */
	"CREATE TABLE messages ("
	" id BIGSERIAL PRIMARY KEY,"
	" received BIGINT NOT NULL,"
	HISTORY_SQL_MESSAGE_COLUMNS
	"CREATE INDEX messages_received ON messages (received);"
	"CREATE TABLE signatures ("
	" message_id BIGINT NOT NULL REFERENCES messages (id),"
	" seq INTEGER NOT NULL,"
	" domain TEXT NOT NULL,"
	" selector TEXT NOT NULL,"
	" result TEXT NOT NULL);"
	"CREATE INDEX signatures_message ON signatures (message_id);",
	/* 2: the aggregate reports sent (never the same twice) */
	"CREATE TABLE reports_sent ("
	" report_id TEXT PRIMARY KEY,"
	" policy_domain TEXT NOT NULL,"
	" period_begin BIGINT NOT NULL,"
	" period_end BIGINT NOT NULL,"
	" rua TEXT NOT NULL,"
	" status TEXT NOT NULL,"
	" sent_at BIGINT NOT NULL);",
	/* 3: the aggregate reports received (authmilter-report import) */
	"CREATE TABLE rua_reports ("
	" id BIGSERIAL PRIMARY KEY,"
	HISTORY_SQL_RUA_REPORT_COLUMNS
	"CREATE TABLE rua_rows ("
	" report BIGINT NOT NULL REFERENCES rua_reports (id),"
	HISTORY_SQL_RUA_ROW_COLUMNS,
	/* 4: the stored bounce addresses (bounce.h, stored form) */
	"CREATE TABLE bounce_tokens ("
	" token TEXT PRIMARY KEY,"
	" bounce_domain TEXT NOT NULL,"
	" original TEXT NOT NULL,"
	" created BIGINT NOT NULL);"
	"CREATE INDEX bounce_tokens_created ON bounce_tokens (created);",
};

#define HISTORY_PG_NMIGRATIONS (sizeof(history_pg_migrations) \
	/ sizeof(history_pg_migrations[0]))
_Static_assert(HISTORY_PG_NMIGRATIONS == HISTORY_SCHEMA_VERSION,
    "one PostgreSQL migration per schema version");

/* history_pg_ok - res is a success (freed either way); 0, or -1 with err */
static int
history_pg_ok(PGconn *db, PGresult *res, const char *what, char *err,
    size_t errlen)
{
	ExecStatusType st = PQresultStatus(res);
	int rc = 0;

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		(void)log_fail(err, errlen, "postgresql: %s: %s", what,
		    PQerrorMessage(db));
		rc = -1;
	}
	PQclear(res);
	return rc;
}

/* history_pg_exec - run SQL without parameters; 0 or -1 with err */
static int
history_pg_exec(PGconn *db, const char *sql, char *err, size_t errlen)
{
	return history_pg_ok(db, PQexec(db, sql), sql, err, errlen);
}

/* history_pg_open - connect */
static void *
history_pg_open(const char *target, char *err, size_t errlen)
{
	PGconn *db = PQconnectdb(target);

	if (db == NULL || PQstatus(db) != CONNECTION_OK) {
		(void)log_fail(err, errlen, "postgresql: cannot connect: %s",
		    db != NULL ? PQerrorMessage(db) : "out of memory");
		PQfinish(db);
		return NULL;
	}
	/* warnings of CREATE ... IF NOT EXISTS are not ours to print */
	(void)history_pg_exec(db, "SET client_min_messages = warning", err,
	    errlen);
	return db;
}

/* history_pg_close - disconnect */
static void
history_pg_close(void *db)
{
	if (db != NULL)
		PQfinish(db);
}

/* history_pg_version - the stored schema version (0: none) */
static int
history_pg_version(void *h, char *err, size_t errlen)
{
	PGconn *db = h;
	PGresult *res;
	int v = -1;

	if (history_pg_exec(db, "CREATE TABLE IF NOT EXISTS schema_version "
	    "(version INTEGER NOT NULL, applied BIGINT NOT NULL)", err,
	    errlen) != 0)
		return -1;
	res = PQexec(db, "SELECT COALESCE(MAX(version), 0) FROM schema_version");
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
		v = atoi(PQgetvalue(res, 0, 0));
	else
		(void)log_fail(err, errlen, "postgresql: schema version: %s",
		    PQerrorMessage(db));
	PQclear(res);
	return v;
}

/* history_pg_migrate - the migrations above the stored version, under the lock */
static int
history_pg_migrate(void *h, int upto, char *err, size_t errlen)
{
	PGconn *db = h;
	char sql[128];
	int v, n;

	/* everything, even the first CREATE TABLE, under the lock */
	for (;;) {
		n = snprintf(sql, sizeof(sql), "SELECT pg_advisory_xact_lock(%d)",
		    HISTORY_PG_LOCK);
		if (n < 0 || (size_t)n >= sizeof(sql)
		    || history_pg_exec(db, "BEGIN", err, errlen) != 0
		    || history_pg_exec(db, sql, err, errlen) != 0)
			goto fail;
		/* another daemon may have migrated while we waited */
		if ((v = history_pg_version(db, err, errlen)) < 0)
			goto fail;
		if (v > (int)HISTORY_PG_NMIGRATIONS) {
			(void)log_fail(err, errlen, "postgresql: the history "
			    "database has schema version %d, newer than this "
			    "program's %d: upgrade authmilter", v,
			    (int)HISTORY_PG_NMIGRATIONS);
			goto fail;
		}
		if (v >= upto)
			return history_pg_exec(db, "COMMIT", err, errlen);
		n = snprintf(sql, sizeof(sql), "INSERT INTO schema_version VALUES "
		    "(%d, extract(epoch from now())::bigint)", v + 1);
		if (n < 0 || (size_t)n >= sizeof(sql)
		    || history_pg_exec(db, history_pg_migrations[v], err,
		    errlen) != 0 || history_pg_exec(db, sql, err, errlen) != 0
		    || history_pg_exec(db, "COMMIT", err, errlen) != 0)
			goto fail;
		log_info(NULL, "history: schema migrated to version %d", v + 1);
	}
fail:
	PQclear(PQexec(db, "ROLLBACK"));
	return -1;
}

/* The columns of messages, in the order insert and select use. */
#define HISTORY_PG_COLS "received, source_ip, envelope_from, " \
	"envelope_to, header_from, spf_result, spf_domain, spf_scope, " \
	"spf_aligned, dkim_aligned, policy_domain, p, sp, np, adkim, aspf, " \
	"pct, testing, psd, fo, result, disposition, reasons, rua"

#define HISTORY_PG_NCOLS 25	/* id and HISTORY_PG_COLS */

/* The numbers of one row as text, for the parameters of a batch. */
struct history_pg_nums {
	char id[24], t[24], sa[4], da[4], pct[16], testing[4];
};

/* history_pg_ids - n fresh message ids in one round trip; 0 or -1 with err */
static int
history_pg_ids(PGconn *db, size_t n, struct history_pg_nums *nums, char *err,
    size_t errlen)
{
	char sql[128], num[24];
	const char *v[1] = { num };
	PGresult *res;
	size_t i;

	(void)snprintf(num, sizeof(num), "%zu", n);
	(void)snprintf(sql, sizeof(sql), "SELECT nextval('messages_id_seq') "
	    "FROM generate_series(1, $1::integer)");
	res = PQexecParams(db, sql, 1, NULL, v, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || (size_t)PQntuples(res)
	    != n) {
		(void)log_fail(err, errlen, "postgresql: ids: %s",
		    PQerrorMessage(db));
		PQclear(res);
		return -1;
	}
	for (i = 0; i < n; i++)
		(void)snprintf(nums[i].id, sizeof(nums[i].id), "%s",
		    PQgetvalue(res, (int)i, 0));
	PQclear(res);
	return 0;
}

/* history_pg_insert_messages - the batch's message rows in one statement */
static int
history_pg_insert_messages(PGconn *db, struct history_record *const *recs,
    size_t n, struct history_pg_nums *nums, char *err, size_t errlen)
{
	struct buf sql = BUF_INIT;
	const char **v = xcalloc(n * HISTORY_PG_NCOLS, sizeof(*v));
	const struct history_record *r;
	size_t i, k = 0, c;
	int rc;

	buf_puts(&sql, "INSERT INTO messages (id, " HISTORY_PG_COLS ") VALUES ");
	for (i = 0; i < n; i++) {
		r = recs[i];
		(void)snprintf(nums[i].t, sizeof(nums[i].t), "%lld",
		    (long long)r->time);
		(void)snprintf(nums[i].sa, sizeof(nums[i].sa), "%d",
		    r->spf_aligned ? 1 : 0);
		(void)snprintf(nums[i].da, sizeof(nums[i].da), "%d",
		    r->dkim_aligned ? 1 : 0);
		(void)snprintf(nums[i].pct, sizeof(nums[i].pct), "%d", r->pct);
		(void)snprintf(nums[i].testing, sizeof(nums[i].testing), "%d",
		    r->testing ? 1 : 0);
		v[k++] = nums[i].id; v[k++] = nums[i].t; v[k++] = r->source_ip;
		v[k++] = r->envelope_from; v[k++] = r->envelope_to;
		v[k++] = r->header_from; v[k++] = r->spf_result;
		v[k++] = r->spf_domain; v[k++] = r->spf_scope;
		v[k++] = nums[i].sa; v[k++] = nums[i].da;
		v[k++] = r->policy_domain; v[k++] = r->p; v[k++] = r->sp;
		v[k++] = r->np; v[k++] = r->adkim; v[k++] = r->aspf;
		v[k++] = nums[i].pct; v[k++] = nums[i].testing; v[k++] = r->psd;
		v[k++] = r->fo;
		v[k++] = r->result; v[k++] = r->disposition; v[k++] = r->reasons;
		v[k++] = r->rua;
		buf_puts(&sql, i ? ", (" : "(");
		for (c = 0; c < HISTORY_PG_NCOLS; c++)
			buf_printf(&sql, "%s$%zu", c ? ", " : "",
			    i * HISTORY_PG_NCOLS + c + 1);
		buf_putc(&sql, ')');
	}
	rc = history_pg_ok(db, PQexecParams(db, buf_cstr(&sql), (int)k, NULL, v,
	    NULL, NULL, 0), "insert", err, errlen);
	free(v);
	buf_free(&sql);
	return rc;
}

/* history_pg_insert_signatures - the batch's signature rows in one statement */
static int
history_pg_insert_signatures(PGconn *db, struct history_record *const *recs,
    size_t n, const struct history_pg_nums *nums, char *err, size_t errlen)
{
	struct buf sql = BUF_INIT, seqs = BUF_INIT;
	const char **v;
	size_t i, j, k = 0, nsig = 0, c;
	size_t *off;
	int rc = 0;

	for (i = 0; i < n; i++)
		nsig += recs[i]->ndkim;
	if (nsig == 0)
		return 0;
	v = xcalloc(nsig * 5, sizeof(*v));
	off = xcalloc(nsig, sizeof(*off));
	/* the sequence numbers as text, one NUL-ended string each */
	for (i = 0; i < n; i++)
		for (j = 0; j < recs[i]->ndkim; j++) {
			off[k++] = seqs.len;
			buf_printf(&seqs, "%zu", j);
			buf_putc(&seqs, '\0');
		}
	buf_puts(&sql, "INSERT INTO signatures (message_id, seq, domain, "
	    "selector, result) VALUES ");
	k = 0;
	for (i = 0; i < n; i++)
		for (j = 0; j < recs[i]->ndkim; j++) {
			buf_puts(&sql, k ? ", (" : "(");
			for (c = 0; c < 5; c++)
				buf_printf(&sql, "%s$%zu", c ? ", " : "",
				    k * 5 + c + 1);
			buf_putc(&sql, ')');
			v[k * 5] = nums[i].id;
			v[k * 5 + 1] = seqs.data + off[k];
			v[k * 5 + 2] = recs[i]->dkim[j].domain;
			v[k * 5 + 3] = recs[i]->dkim[j].selector;
			v[k * 5 + 4] = recs[i]->dkim[j].result;
			k++;
		}
	rc = history_pg_ok(db, PQexecParams(db, buf_cstr(&sql), (int)(k * 5),
	    NULL, v, NULL, NULL, 0), "insert", err, errlen);
	free(v);
	free(off);
	buf_free(&sql);
	buf_free(&seqs);
	return rc;
}

/* history_pg_insert - n records in one transaction, four round trips */
static int
history_pg_insert(void *h, struct history_record *const *recs, size_t n,
    char *err, size_t errlen)
{
	PGconn *db = h;
	struct history_pg_nums *nums;
	size_t i;
	int rc = -1;

	if (PQstatus(db) != CONNECTION_OK)
		return log_fail(err, errlen, "postgresql: connection lost");
	if (n == 0)
		return 0;
	nums = xcalloc(n, sizeof(*nums));
	if (history_pg_exec(db, "BEGIN", err, errlen) != 0)
		goto done;
	if (history_pg_ids(db, n, nums, err, errlen) == 0
	    && history_pg_insert_messages(db, recs, n, nums, err, errlen) == 0
	    && history_pg_insert_signatures(db, recs, n, nums, err, errlen) == 0
	    && history_pg_exec(db, "COMMIT", err, errlen) == 0) {
		for (i = 0; i < n; i++)
			recs[i]->id = atoll(nums[i].id);
		rc = 0;
	} else
		PQclear(PQexec(db, "ROLLBACK"));
done:
	free(nums);
	return rc;
}

/* history_pg_row - the record of row i */
static void
history_pg_row(PGresult *res, int i, struct history_record *r)
{
	char **const text[] = { &r->source_ip, &r->envelope_from,
	    &r->envelope_to, &r->header_from, &r->spf_result, &r->spf_domain,
	    &r->spf_scope };
	char **const text2[] = { &r->policy_domain, &r->p, &r->sp, &r->np,
	    &r->adkim, &r->aspf };
	char **const text3[] = { &r->psd, &r->fo, &r->result,
	    &r->disposition, &r->reasons, &r->rua };
	int j, col = 0;

	r->id = atoll(PQgetvalue(res, i, col++));
	r->time = (time_t)atoll(PQgetvalue(res, i, col++));
	for (j = 0; j < 7; j++)
		history_record_set(text[j], PQgetvalue(res, i, col++));
	r->spf_aligned = atoi(PQgetvalue(res, i, col++));
	r->dkim_aligned = atoi(PQgetvalue(res, i, col++));
	for (j = 0; j < 6; j++)
		history_record_set(text2[j], PQgetvalue(res, i, col++));
	r->pct = atoi(PQgetvalue(res, i, col++));
	r->testing = atoi(PQgetvalue(res, i, col++));
	for (j = 0; j < 6; j++)
		history_record_set(text3[j], PQgetvalue(res, i, col++));
}

/* history_pg_each - a period back, signatures with each message */
static int
history_pg_each(void *h, time_t begin, time_t end, history_row_fn fn,
    void *arg, char *err, size_t errlen)
{
	PGconn *db = h;
	PGresult *msg, *sig;
	struct history_record *r;
	char b[24], e[24];
	const char *v[2] = { b, e };
	int i, j = 0, nsig, rc = 0;

	(void)snprintf(b, sizeof(b), "%lld", (long long)begin);
	(void)snprintf(e, sizeof(e), "%lld", (long long)end);
	msg = PQexecParams(db, "SELECT id, " HISTORY_PG_COLS " FROM messages "
	    "WHERE received >= $1 AND received < $2 ORDER BY id", 2, NULL, v,
	    NULL, NULL, 0);
	sig = PQexecParams(db, "SELECT s.message_id, s.domain, s.selector, "
	    "s.result FROM signatures s JOIN messages m ON m.id = s.message_id "
	    "WHERE m.received >= $1 AND m.received < $2 ORDER BY s.message_id, "
	    "s.seq", 2, NULL, v, NULL, NULL, 0);
	if (PQresultStatus(msg) != PGRES_TUPLES_OK
	    || PQresultStatus(sig) != PGRES_TUPLES_OK) {
		rc = log_fail(err, errlen, "postgresql: select: %s",
		    PQerrorMessage(db));
		goto done;
	}
	nsig = PQntuples(sig);
	/* both in id order: the signatures of each message follow in step */
	for (i = 0; i < PQntuples(msg) && rc == 0; i++) {
		r = history_record_new();
		history_pg_row(msg, i, r);
		for (; j < nsig && atoll(PQgetvalue(sig, j, 0)) <= r->id; j++)
			if (atoll(PQgetvalue(sig, j, 0)) == r->id)
				history_record_add_dkim(r, PQgetvalue(sig, j, 1),
				    PQgetvalue(sig, j, 2), PQgetvalue(sig, j, 3));
		if (fn(arg, r) != 0)
			i = PQntuples(msg);
		history_record_free(r);
	}
done:
	PQclear(msg);
	PQclear(sig);
	return rc;
}

/* history_pg_prune - delete the messages before a time and their signatures */
static long
history_pg_prune(void *h, time_t before, char *err, size_t errlen)
{
	PGconn *db = h;
	PGresult *res;
	char b[24];
	const char *v[1] = { b };
	long n = -1;

	(void)snprintf(b, sizeof(b), "%lld", (long long)before);
	if (history_pg_exec(db, "BEGIN", err, errlen) != 0)
		return -1;
	if (history_pg_ok(db, PQexecParams(db, "DELETE FROM signatures WHERE "
	    "message_id IN (SELECT id FROM messages WHERE received < $1)", 1,
	    NULL, v, NULL, NULL, 0), "prune", err, errlen) != 0)
		goto done;
	res = PQexecParams(db, "DELETE FROM messages WHERE received < $1", 1,
	    NULL, v, NULL, NULL, 0);
	if (PQresultStatus(res) == PGRES_COMMAND_OK)
		n = atol(PQcmdTuples(res));
	if (history_pg_ok(db, res, "prune", err, errlen) != 0
	    || history_pg_exec(db, "COMMIT", err, errlen) != 0)
		n = -1;
done:
	if (n < 0)
		PQclear(PQexec(db, "ROLLBACK"));
	return n;
}

/* history_pg_sent - is a report recorded? */
static int
history_pg_sent(void *h, const char *report_id, char *err, size_t errlen)
{
	PGconn *db = h;
	const char *v[1] = { report_id };
	PGresult *res;
	int rc = -1;

	res = PQexecParams(db, "SELECT 1 FROM reports_sent WHERE report_id = $1",
	    1, NULL, v, NULL, NULL, 0);
	if (PQresultStatus(res) == PGRES_TUPLES_OK)
		rc = PQntuples(res) > 0;
	else
		(void)log_fail(err, errlen, "postgresql: reports_sent: %s",
		    PQerrorMessage(db));
	PQclear(res);
	return rc;
}

/* history_pg_sent_add - record a report */
static int
history_pg_sent_add(void *h, const char *report_id, const char *domain,
    time_t begin, time_t end, const char *rua, const char *status, char *err,
    size_t errlen)
{
	char b[24], e[24];
	const char *v[6] = { report_id, domain, b, e, rua, status };

	(void)snprintf(b, sizeof(b), "%lld", (long long)begin);
	(void)snprintf(e, sizeof(e), "%lld", (long long)end);
	return history_pg_ok(h, PQexecParams(h, "INSERT INTO reports_sent "
	    "(report_id, policy_domain, period_begin, period_end, rua, status, "
	    "sent_at) VALUES ($1, $2, $3, $4, $5, $6, extract(epoch from now())"
	    "::bigint) ON CONFLICT (report_id) DO UPDATE SET status = "
	    "EXCLUDED.status, rua = EXCLUDED.rua", 6, NULL, v, NULL, NULL, 0),
	    "reports_sent", err, errlen);
}

/* history_pg_rua_rows - a report's rows under its id, one statement each */
static int
history_pg_rua_rows(PGconn *db, const char *id, const struct rua_report *r,
    char *err, size_t errlen)
{
	const struct rua_row *w;
	const char *v[12];
	char count[24];
	size_t i;

	for (i = 0; i < r->nrows; i++) {
		w = &r->rows[i];
		(void)snprintf(count, sizeof(count), "%llu", w->count);
		v[0] = id; v[1] = w->source_ip; v[2] = count;
		v[3] = w->disposition; v[4] = w->dkim; v[5] = w->spf;
		v[6] = w->reasons; v[7] = w->header_from; v[8] = w->envelope_from;
		v[9] = w->envelope_to; v[10] = w->auth_dkim; v[11] = w->auth_spf;
		if (history_pg_ok(db, PQexecParams(db, "INSERT INTO rua_rows "
		    "(report, " HISTORY_RUA_ROW_COLS ") VALUES ($1, $2, $3, $4, "
		    "$5, $6, $7, $8, $9, $10, $11, $12)", 12, NULL, v, NULL, NULL,
		    0), "rua_rows", err, errlen) != 0)
			return -1;
	}
	return 0;
}

/* history_pg_rua_add - a received report, unless there already (another importer may race: ON CONFLICT) */
static int
history_pg_rua_add(void *h, const struct rua_report *r, char *err,
    size_t errlen)
{
	PGconn *db = h;
	PGresult *res;
	char begin[24], end[24], id[24];
	const char *v[15];
	int rc = -1;

	(void)snprintf(begin, sizeof(begin), "%lld", r->begin);
	(void)snprintf(end, sizeof(end), "%lld", r->end);
	v[0] = r->org_name; v[1] = r->email; v[2] = r->report_id; v[3] = begin;
	v[4] = end; v[5] = r->domain; v[6] = r->adkim; v[7] = r->aspf;
	v[8] = r->p; v[9] = r->sp; v[10] = r->np; v[11] = r->pct; v[12] = r->fo;
	v[13] = r->testing; v[14] = r->format;
	if (history_pg_exec(db, "BEGIN", err, errlen) != 0)
		return -1;
	res = PQexecParams(db, "INSERT INTO rua_reports (" HISTORY_RUA_REPORT_COLS
	    ", imported) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, "
	    "$12, $13, $14, $15, extract(epoch from now())::bigint) ON CONFLICT "
	    "(org_name, report_id) DO NOTHING RETURNING id", 15, NULL, v, NULL,
	    NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		(void)log_fail(err, errlen, "postgresql: rua_reports: %s",
		    PQerrorMessage(db));
		PQclear(res);
		goto done;
	}
	if (PQntuples(res) == 0) {
		PQclear(res);
		rc = 1;
		goto done;
	}
	(void)snprintf(id, sizeof(id), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	if (history_pg_rua_rows(db, id, r, err, errlen) != 0
	    || history_pg_exec(db, "COMMIT", err, errlen) != 0)
		goto done;
	return 0;
done:
	PQclear(PQexec(db, "ROLLBACK"));
	return rc;
}

/* history_pg_rua_report - the report of row i of a select */
static void
history_pg_rua_report(PGresult *res, int i, struct rua_report *r)
{
	char **const text[] = { &r->org_name, &r->email, &r->report_id };
	char **const text2[] = { &r->domain, &r->adkim, &r->aspf, &r->p,
	    &r->sp, &r->np, &r->pct, &r->fo, &r->testing, &r->format };
	int k;

	r->id = strtoll(PQgetvalue(res, i, 0), NULL, 10);
	for (k = 0; k < 3; k++)
		rua_set(text[k], PQgetvalue(res, i, 1 + k));
	r->begin = strtoll(PQgetvalue(res, i, 4), NULL, 10);
	r->end = strtoll(PQgetvalue(res, i, 5), NULL, 10);
	for (k = 0; k < 10; k++)
		rua_set(text2[k], PQgetvalue(res, i, 6 + k));
}

/* history_pg_rua_fill - the rows of the report with id r->id */
static int
history_pg_rua_fill(PGconn *db, struct rua_report *r, char *err,
    size_t errlen)
{
	PGresult *res;
	struct rua_row *w;
	char id[24];
	const char *v[1] = { id };
	int i, k;

	(void)snprintf(id, sizeof(id), "%lld", r->id);
	res = PQexecParams(db, "SELECT " HISTORY_RUA_ROW_COLS " FROM rua_rows "
	    "WHERE report = $1 ORDER BY ctid", 1, NULL, v, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		(void)log_fail(err, errlen, "postgresql: rua_rows: %s",
		    PQerrorMessage(db));
		PQclear(res);
		return -1;
	}
	for (i = 0; i < PQntuples(res); i++) {
		char **text[9];

		w = rua_report_add_row(r);
		text[0] = &w->disposition; text[1] = &w->dkim; text[2] = &w->spf;
		text[3] = &w->reasons; text[4] = &w->header_from;
		text[5] = &w->envelope_from; text[6] = &w->envelope_to;
		text[7] = &w->auth_dkim; text[8] = &w->auth_spf;
		rua_set(&w->source_ip, PQgetvalue(res, i, 0));
		w->count = strtoull(PQgetvalue(res, i, 1), NULL, 10);
		for (k = 0; k < 9; k++)
			rua_set(text[k], PQgetvalue(res, i, 2 + k));
	}
	PQclear(res);
	return 0;
}

/* history_pg_rua_each - received reports with their rows */
static int
history_pg_rua_each(void *h, const char *domain, long long since,
    history_rua_fn fn, void *arg, char *err, size_t errlen)
{
	PGconn *db = h;
	PGresult *res;
	struct rua_report r;
	char s[24];
	const char *v[2] = { domain, s };
	int i, rc = 0;

	(void)snprintf(s, sizeof(s), "%lld", since);
	res = PQexecParams(db, "SELECT id, " HISTORY_RUA_REPORT_COLS " FROM "
	    "rua_reports WHERE ($1::text IS NULL OR domain = $1) AND date_end "
	    ">= $2::bigint ORDER BY date_begin, id", 2, NULL, v, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		(void)log_fail(err, errlen, "postgresql: rua_reports: %s",
		    PQerrorMessage(db));
		PQclear(res);
		return -1;
	}
	for (i = 0; i < PQntuples(res) && rc == 0; i++) {
		rua_report_init(&r);
		history_pg_rua_report(res, i, &r);
		if (history_pg_rua_fill(db, &r, err, errlen) != 0)
			rc = -1;
		else if (fn(arg, &r) != 0)
			i = PQntuples(res);
		rua_report_free(&r);
	}
	PQclear(res);
	return rc;
}

/* history_pg_bounce_put - one mapping, committed when it returns (autocommit) */
static int
history_pg_bounce_put(void *h, const char *token, const char *bounce_domain,
    const char *original, time_t created, char *err, size_t errlen)
{
	char c[24];
	const char *v[4] = { token, bounce_domain, original, c };

	(void)snprintf(c, sizeof(c), "%lld", (long long)created);
	return history_pg_ok(h, PQexecParams(h, "INSERT INTO bounce_tokens "
	    "(token, bounce_domain, original, created) VALUES ($1, $2, $3, $4)",
	    4, NULL, v, NULL, NULL, 0), "bounce_tokens", err, errlen);
}

/* history_pg_bounce_get - look a token up (its primary key) */
static int
history_pg_bounce_get(void *h, const char *token, const char *bounce_domain,
    char **original, time_t *created, char *err, size_t errlen)
{
	PGconn *db = h;
	const char *v[2] = { token, bounce_domain };
	PGresult *res;
	int rc = -1;

	res = PQexecParams(db, "SELECT original, created FROM bounce_tokens "
	    "WHERE token = $1 AND bounce_domain = $2", 2, NULL, v, NULL, NULL,
	    0);
	if (PQresultStatus(res) == PGRES_TUPLES_OK) {
		rc = PQntuples(res) > 0;
		if (rc) {
			*original = xstrdup(PQgetvalue(res, 0, 0));
			*created = (time_t)atoll(PQgetvalue(res, 0, 1));
		}
	} else
		(void)log_fail(err, errlen, "postgresql: bounce_tokens: %s",
		    PQerrorMessage(db));
	PQclear(res);
	return rc;
}

/* history_pg_bounce_prune - delete mappings made before a time */
static long
history_pg_bounce_prune(void *h, time_t before, char *err, size_t errlen)
{
	PGconn *db = h;
	PGresult *res;
	char b[24];
	const char *v[1] = { b };
	long n = -1;

	(void)snprintf(b, sizeof(b), "%lld", (long long)before);
	res = PQexecParams(db, "DELETE FROM bounce_tokens WHERE created < $1", 1,
	    NULL, v, NULL, NULL, 0);
	if (PQresultStatus(res) == PGRES_COMMAND_OK)
		n = atol(PQcmdTuples(res));
	if (history_pg_ok(db, res, "bounce_tokens", err, errlen) != 0)
		n = -1;
	return n;
}

/* history_pg_limit - statement_timeout; commits are durable by default */
static int
history_pg_limit(void *h, long ms, char *err, size_t errlen)
{
	char sql[64];
	int n;

	n = snprintf(sql, sizeof(sql), "SET statement_timeout = %ld",
	    ms > 0 ? ms : 1);
	if (n < 0 || (size_t)n >= sizeof(sql))
		return log_fail(err, errlen, "postgresql: bad timeout");
	/* a server set to synchronous_commit = off would lose acknowledged
	 * mappings in a crash: ask for it on this session */
	if (history_pg_exec(h, sql, err, errlen) != 0)
		return -1;
	return history_pg_exec(h, "SET synchronous_commit = on", err, errlen);
}

const struct history_backend history_pg = {
	.name = "postgresql",
	.open = history_pg_open,
	.close = history_pg_close,
	.version = history_pg_version,
	.migrate = history_pg_migrate,
	.insert = history_pg_insert,
	.each = history_pg_each,
	.prune = history_pg_prune,
	.sent = history_pg_sent,
	.sent_add = history_pg_sent_add,
	.rua_add = history_pg_rua_add,
	.rua_each = history_pg_rua_each,
	.bounce_put = history_pg_bounce_put,
	.bounce_get = history_pg_bounce_get,
	.bounce_prune = history_pg_bounce_prune,
	.limit = history_pg_limit,
};
