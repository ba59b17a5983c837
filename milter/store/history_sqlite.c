/*
 * history_sqlite.c - the SQLite backend of the DMARC history: one
 * database file in WAL mode (the daemon's writer and authmilter-report may
 * use it at once), the schema built by ordered migrations recorded in
 * schema_version.
 *
 * A handle is used by one thread at a time (the writer thread, or a tool).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store/history_backend.h"
#include "base/log.h"
#include "base/xalloc.h"

/*
 * The migrations, in order: migration i (from 0) brings the schema to
 * version i + 1. Never edit one that has shipped; add the next.
 */
static const char *const history_sqlite_migrations[] = {
	/* 1: the messages and their DKIM signatures */
	"CREATE TABLE messages ("
	" id INTEGER PRIMARY KEY,"
	" received INTEGER NOT NULL,"
	HISTORY_SQL_MESSAGE_COLUMNS
	"CREATE INDEX messages_received ON messages (received);"
	"CREATE TABLE signatures ("
	" message_id INTEGER NOT NULL REFERENCES messages (id),"
	" domain TEXT NOT NULL,"
	" selector TEXT NOT NULL,"
	" result TEXT NOT NULL);"
	"CREATE INDEX signatures_message ON signatures (message_id);",
	/* 2: the aggregate reports sent (never the same twice) */
	"CREATE TABLE reports_sent ("
	" report_id TEXT PRIMARY KEY,"
	" policy_domain TEXT NOT NULL,"
	" period_begin INTEGER NOT NULL,"
	" period_end INTEGER NOT NULL,"
	" rua TEXT NOT NULL,"
	" status TEXT NOT NULL,"
	" sent_at INTEGER NOT NULL);",
	/* 3: the aggregate reports received (authmilter-report import) */
	"CREATE TABLE rua_reports ("
	" id INTEGER PRIMARY KEY,"
	HISTORY_SQL_RUA_REPORT_COLUMNS
	"CREATE TABLE rua_rows ("
	" report INTEGER NOT NULL REFERENCES rua_reports (id),"
	HISTORY_SQL_RUA_ROW_COLUMNS,
	/* 4: the stored bounce addresses (bounce.h, stored form) */
	"CREATE TABLE bounce_tokens ("
	" token TEXT PRIMARY KEY,"
	" bounce_domain TEXT NOT NULL,"
	" original TEXT NOT NULL,"
	" created INTEGER NOT NULL);"
	"CREATE INDEX bounce_tokens_created ON bounce_tokens (created);",
};

#define HISTORY_SQLITE_NMIGRATIONS (sizeof(history_sqlite_migrations) \
	/ sizeof(history_sqlite_migrations[0]))
_Static_assert(HISTORY_SQLITE_NMIGRATIONS == HISTORY_SCHEMA_VERSION,
    "one SQLite migration per schema version");

/* history_sqlite_fail - err from the database's last error */
static int
history_sqlite_fail(sqlite3 *db, const char *what, char *err, size_t errlen)
{
	return log_fail(err, errlen, "sqlite: %s: %s", what,
	    db != NULL ? sqlite3_errmsg(db) : "out of memory");
}

/* history_sqlite_exec - run SQL without results; 0 or -1 with err */
static int
history_sqlite_exec(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		(void)log_fail(err, errlen, "sqlite: %s", msg ? msg
		    : sqlite3_errmsg(db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

/* history_sqlite_open - open (create) the database file, WAL mode */
static void *
history_sqlite_open(const char *target, char *err, size_t errlen)
{
	sqlite3 *db = NULL;

	if (target == NULL || target[0] == '\0') {
		(void)log_fail(err, errlen, "sqlite: no database path");
		return NULL;
	}
	if (sqlite3_open_v2(target, &db, SQLITE_OPEN_READWRITE
	    | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		(void)log_fail(err, errlen, "sqlite: cannot open %s: %s", target,
		    db != NULL ? sqlite3_errmsg(db) : "out of memory");
		goto fail;
	}
	/* the report tool may read while the daemon writes */
	(void)sqlite3_busy_timeout(db, 5000);
	if (history_sqlite_exec(db, "PRAGMA journal_mode = WAL;"
	    "PRAGMA synchronous = NORMAL;", err, errlen) != 0)
		goto fail;
	return db;
fail:
	sqlite3_close(db);
	return NULL;
}

/* history_sqlite_close - close the database */
static void
history_sqlite_close(void *db)
{
	if (db != NULL)
		sqlite3_close(db);
}

/* history_sqlite_version - the stored schema version (0: none yet) */
static int
history_sqlite_version(void *h, char *err, size_t errlen)
{
	sqlite3 *db = h;
	sqlite3_stmt *st = NULL;
	int v = -1, rc;

	if (history_sqlite_exec(db, "CREATE TABLE IF NOT EXISTS schema_version "
	    "(version INTEGER NOT NULL, applied INTEGER NOT NULL);", err,
	    errlen) != 0)
		return -1;
	if (sqlite3_prepare_v2(db, "SELECT COALESCE(MAX(version), 0) FROM "
	    "schema_version", -1, &st, NULL) != SQLITE_OK) {
		(void)history_sqlite_fail(db, "schema version", err, errlen);
		goto done;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	else
		(void)history_sqlite_fail(db, "schema version", err, errlen);
done:
	sqlite3_finalize(st);
	return v;
}

/* history_sqlite_migrate - the migrations above the stored version, up to upto */
static int
history_sqlite_migrate(void *h, int upto, char *err, size_t errlen)
{
	sqlite3 *db = h;
	char sql[128];
	int v, n;

	if ((v = history_sqlite_version(db, err, errlen)) < 0)
		return -1;
	if (v > (int)HISTORY_SQLITE_NMIGRATIONS)
		return log_fail(err, errlen, "sqlite: the history database has "
		    "schema version %d, newer than this program's %d: "
		    "upgrade authmilter", v, (int)HISTORY_SQLITE_NMIGRATIONS);
	for (; v < upto; v++) {
		if (history_sqlite_exec(db, "BEGIN IMMEDIATE", err, errlen) != 0)
			return -1;
		n = snprintf(sql, sizeof(sql), "INSERT INTO schema_version "
		    "VALUES (%d, strftime('%%s', 'now'))", v + 1);
		if (n < 0 || (size_t)n >= sizeof(sql)
		    || history_sqlite_exec(db, history_sqlite_migrations[v], err,
		    errlen) != 0 || history_sqlite_exec(db, sql, err, errlen) != 0
		    || history_sqlite_exec(db, "COMMIT", err, errlen) != 0) {
			(void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
			return -1;
		}
		log_info(NULL, "history: schema migrated to version %d", v + 1);
	}
	return 0;
}

/* The columns of messages, in the order both insert and select use. */
#define HISTORY_SQLITE_COLS "received, source_ip, envelope_from, " \
	"envelope_to, header_from, spf_result, spf_domain, spf_scope, " \
	"spf_aligned, dkim_aligned, policy_domain, p, sp, np, adkim, aspf, " \
	"pct, testing, psd, fo, result, disposition, reasons, rua"

/* history_sqlite_bind - bind one record's columns to an insert */
static int
history_sqlite_bind(sqlite3_stmt *st, const struct history_record *r)
{
	const char *const text[] = { r->source_ip, r->envelope_from,
	    r->envelope_to, r->header_from, r->spf_result, r->spf_domain,
	    r->spf_scope };
	const char *const text2[] = { r->policy_domain, r->p, r->sp, r->np,
	    r->adkim, r->aspf };
	const char *const text3[] = { r->psd, r->fo, r->result,
	    r->disposition, r->reasons, r->rua };
	int i, col = 1, rc = SQLITE_OK;

	rc |= sqlite3_bind_int64(st, col++, (sqlite3_int64)r->time);
	for (i = 0; i < 7; i++)
		rc |= sqlite3_bind_text(st, col++, text[i], -1, SQLITE_STATIC);
	rc |= sqlite3_bind_int(st, col++, r->spf_aligned);
	rc |= sqlite3_bind_int(st, col++, r->dkim_aligned);
	for (i = 0; i < 6; i++)
		rc |= sqlite3_bind_text(st, col++, text2[i], -1, SQLITE_STATIC);
	rc |= sqlite3_bind_int(st, col++, r->pct);
	rc |= sqlite3_bind_int(st, col++, r->testing);
	for (i = 0; i < 6; i++)
		rc |= sqlite3_bind_text(st, col++, text3[i], -1, SQLITE_STATIC);
	return rc == SQLITE_OK ? 0 : -1;
}

/* history_sqlite_insert_one - a message row and its signature rows */
static int
history_sqlite_insert_one(sqlite3 *db, sqlite3_stmt *msg, sqlite3_stmt *sig,
    struct history_record *r)
{
	sqlite3_int64 id;
	size_t i;

	sqlite3_reset(msg);
	if (history_sqlite_bind(msg, r) != 0 || sqlite3_step(msg) != SQLITE_DONE)
		return -1;
	id = sqlite3_last_insert_rowid(db);
	r->id = id;
	for (i = 0; i < r->ndkim; i++) {
		sqlite3_reset(sig);
		if (sqlite3_bind_int64(sig, 1, id) != SQLITE_OK
		    || sqlite3_bind_text(sig, 2, r->dkim[i].domain, -1,
		    SQLITE_STATIC) != SQLITE_OK
		    || sqlite3_bind_text(sig, 3, r->dkim[i].selector, -1,
		    SQLITE_STATIC) != SQLITE_OK
		    || sqlite3_bind_text(sig, 4, r->dkim[i].result, -1,
		    SQLITE_STATIC) != SQLITE_OK
		    || sqlite3_step(sig) != SQLITE_DONE)
			return -1;
	}
	return 0;
}

/* history_sqlite_insert - n records in one transaction */
static int
history_sqlite_insert(void *h, struct history_record *const *recs, size_t n,
    char *err, size_t errlen)
{
	sqlite3 *db = h;
	sqlite3_stmt *msg = NULL, *sig = NULL;
	size_t i;
	int rc = -1;

	if (history_sqlite_exec(db, "BEGIN IMMEDIATE", err, errlen) != 0)
		return -1;
	if (sqlite3_prepare_v2(db, "INSERT INTO messages (" HISTORY_SQLITE_COLS
	    ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
	    "?, ?, ?, ?, ?)", -1, &msg, NULL) != SQLITE_OK
	    || sqlite3_prepare_v2(db, "INSERT INTO signatures (message_id, "
	    "domain, selector, result) VALUES (?, ?, ?, ?)", -1, &sig, NULL)
	    != SQLITE_OK) {
		(void)history_sqlite_fail(db, "insert", err, errlen);
		goto done;
	}
	for (i = 0; i < n; i++)
		if (history_sqlite_insert_one(db, msg, sig, recs[i]) != 0) {
			(void)history_sqlite_fail(db, "insert", err, errlen);
			goto done;
		}
	if (history_sqlite_exec(db, "COMMIT", err, errlen) == 0)
		rc = 0;
done:
	sqlite3_finalize(msg);
	sqlite3_finalize(sig);
	if (rc != 0)
		(void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

/* history_sqlite_text - column i as text ("" for NULL) */
static const char *
history_sqlite_text(sqlite3_stmt *st, int i)
{
	const unsigned char *s = sqlite3_column_text(st, i);

	return s != NULL ? (const char *)s : "";
}

/* history_sqlite_row - the record of the current row of a select */
static void
history_sqlite_row(sqlite3_stmt *st, struct history_record *r)
{
	char **const text[] = { &r->source_ip, &r->envelope_from,
	    &r->envelope_to, &r->header_from, &r->spf_result, &r->spf_domain,
	    &r->spf_scope };
	char **const text2[] = { &r->policy_domain, &r->p, &r->sp, &r->np,
	    &r->adkim, &r->aspf };
	char **const text3[] = { &r->psd, &r->fo, &r->result,
	    &r->disposition, &r->reasons, &r->rua };
	int i, col = 0;

	r->id = sqlite3_column_int64(st, col++);
	r->time = (time_t)sqlite3_column_int64(st, col++);
	for (i = 0; i < 7; i++)
		history_record_set(text[i], history_sqlite_text(st, col++));
	r->spf_aligned = sqlite3_column_int(st, col++);
	r->dkim_aligned = sqlite3_column_int(st, col++);
	for (i = 0; i < 6; i++)
		history_record_set(text2[i], history_sqlite_text(st, col++));
	r->pct = sqlite3_column_int(st, col++);
	r->testing = sqlite3_column_int(st, col++);
	for (i = 0; i < 6; i++)
		history_record_set(text3[i], history_sqlite_text(st, col++));
}

/* history_sqlite_each - read a period back, signatures with each message */
static int
history_sqlite_each(void *h, time_t begin, time_t end, history_row_fn fn,
    void *arg, char *err, size_t errlen)
{
	sqlite3 *db = h;
	sqlite3_stmt *msg = NULL, *sig = NULL;
	struct history_record *r = NULL;
	int rc = -1, step;

	if (sqlite3_prepare_v2(db, "SELECT id, " HISTORY_SQLITE_COLS " FROM "
	    "messages WHERE received >= ? AND received < ? ORDER BY received, "
	    "id", -1, &msg, NULL) != SQLITE_OK
	    || sqlite3_prepare_v2(db, "SELECT domain, selector, result FROM "
	    "signatures WHERE message_id = ? ORDER BY rowid", -1, &sig, NULL)
	    != SQLITE_OK) {
		(void)history_sqlite_fail(db, "select", err, errlen);
		goto done;
	}
	(void)sqlite3_bind_int64(msg, 1, (sqlite3_int64)begin);
	(void)sqlite3_bind_int64(msg, 2, (sqlite3_int64)end);
	while ((step = sqlite3_step(msg)) == SQLITE_ROW) {
		history_record_free(r);
		r = history_record_new();
		history_sqlite_row(msg, r);
		sqlite3_reset(sig);
		(void)sqlite3_bind_int64(sig, 1, (sqlite3_int64)r->id);
		while ((step = sqlite3_step(sig)) == SQLITE_ROW)
			history_record_add_dkim(r, history_sqlite_text(sig, 0),
			    history_sqlite_text(sig, 1),
			    history_sqlite_text(sig, 2));
		if (step != SQLITE_DONE)
			break;
		if (fn(arg, r) != 0) {
			step = SQLITE_DONE;
			break;
		}
	}
	if (step != SQLITE_DONE)
		(void)history_sqlite_fail(db, "select", err, errlen);
	else
		rc = 0;
done:
	history_record_free(r);
	sqlite3_finalize(msg);
	sqlite3_finalize(sig);
	return rc;
}

/* history_sqlite_prune - delete the messages before a time, and their signatures */
static long
history_sqlite_prune(void *h, time_t before, char *err, size_t errlen)
{
	sqlite3 *db = h;
	sqlite3_stmt *s1 = NULL, *s2 = NULL;
	long n = -1;

	if (history_sqlite_exec(db, "BEGIN IMMEDIATE", err, errlen) != 0)
		return -1;
	if (sqlite3_prepare_v2(db, "DELETE FROM signatures WHERE message_id IN "
	    "(SELECT id FROM messages WHERE received < ?)", -1, &s1, NULL)
	    != SQLITE_OK || sqlite3_prepare_v2(db, "DELETE FROM messages "
	    "WHERE received < ?", -1, &s2, NULL) != SQLITE_OK) {
		(void)history_sqlite_fail(db, "prune", err, errlen);
		goto done;
	}
	(void)sqlite3_bind_int64(s1, 1, (sqlite3_int64)before);
	(void)sqlite3_bind_int64(s2, 1, (sqlite3_int64)before);
	if (sqlite3_step(s1) != SQLITE_DONE || sqlite3_step(s2) != SQLITE_DONE) {
		(void)history_sqlite_fail(db, "prune", err, errlen);
		goto done;
	}
	n = (long)sqlite3_changes(db);
	if (history_sqlite_exec(db, "COMMIT", err, errlen) != 0)
		n = -1;
done:
	sqlite3_finalize(s1);
	sqlite3_finalize(s2);
	if (n < 0)
		(void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return n;
}

/* history_sqlite_sent - is a report recorded? */
static int
history_sqlite_sent(void *h, const char *report_id, char *err, size_t errlen)
{
	sqlite3 *db = h;
	sqlite3_stmt *st = NULL;
	int rc = -1, step;

	if (sqlite3_prepare_v2(db, "SELECT 1 FROM reports_sent WHERE "
	    "report_id = ?", -1, &st, NULL) != SQLITE_OK) {
		(void)history_sqlite_fail(db, "reports_sent", err, errlen);
		goto done;
	}
	(void)sqlite3_bind_text(st, 1, report_id, -1, SQLITE_STATIC);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW)
		rc = 1;
	else if (step == SQLITE_DONE)
		rc = 0;
	else
		(void)history_sqlite_fail(db, "reports_sent", err, errlen);
done:
	sqlite3_finalize(st);
	return rc;
}

/* history_sqlite_sent_add - record a report */
static int
history_sqlite_sent_add(void *h, const char *report_id, const char *domain,
    time_t begin, time_t end, const char *rua, const char *status, char *err,
    size_t errlen)
{
	sqlite3 *db = h;
	sqlite3_stmt *st = NULL;
	int rc = -1;

	if (sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO reports_sent "
	    "(report_id, policy_domain, period_begin, period_end, rua, status, "
	    "sent_at) VALUES (?, ?, ?, ?, ?, ?, strftime('%s', 'now'))", -1,
	    &st, NULL) != SQLITE_OK) {
		(void)history_sqlite_fail(db, "reports_sent", err, errlen);
		goto done;
	}
	(void)sqlite3_bind_text(st, 1, report_id, -1, SQLITE_STATIC);
	(void)sqlite3_bind_text(st, 2, domain, -1, SQLITE_STATIC);
	(void)sqlite3_bind_int64(st, 3, (sqlite3_int64)begin);
	(void)sqlite3_bind_int64(st, 4, (sqlite3_int64)end);
	(void)sqlite3_bind_text(st, 5, rua, -1, SQLITE_STATIC);
	(void)sqlite3_bind_text(st, 6, status, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		(void)history_sqlite_fail(db, "reports_sent", err, errlen);
	else
		rc = 0;
done:
	sqlite3_finalize(st);
	return rc;
}

/* history_sqlite_rua_rows - insert a report's rows under its id */
static int
history_sqlite_rua_rows(sqlite3 *db, sqlite3_int64 id,
    const struct rua_report *r)
{
	sqlite3_stmt *st = NULL;
	const struct rua_row *w;
	size_t i;
	int rc = -1, k;

	if (sqlite3_prepare_v2(db, "INSERT INTO rua_rows (report, "
	    HISTORY_RUA_ROW_COLS ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	    -1, &st, NULL) != SQLITE_OK)
		goto done;
	for (i = 0; i < r->nrows; i++) {
		const char *text[9];

		w = &r->rows[i];
		text[0] = w->disposition; text[1] = w->dkim; text[2] = w->spf;
		text[3] = w->reasons; text[4] = w->header_from;
		text[5] = w->envelope_from; text[6] = w->envelope_to;
		text[7] = w->auth_dkim; text[8] = w->auth_spf;
		sqlite3_reset(st);
		k = sqlite3_bind_int64(st, 1, id)
		    | sqlite3_bind_text(st, 2, w->source_ip, -1, SQLITE_STATIC)
		    | sqlite3_bind_int64(st, 3, (sqlite3_int64)w->count);
		for (int j = 0; j < 9; j++)
			k |= sqlite3_bind_text(st, 4 + j, text[j], -1,
			    SQLITE_STATIC);
		if (k != SQLITE_OK || sqlite3_step(st) != SQLITE_DONE)
			goto done;
	}
	rc = 0;
done:
	sqlite3_finalize(st);
	return rc;
}

/* history_sqlite_rua_add - a received report, unless there already */
static int
history_sqlite_rua_add(void *h, const struct rua_report *r, char *err,
    size_t errlen)
{
	sqlite3 *db = h;
	sqlite3_stmt *st = NULL;
	const char *text[] = { r->org_name, r->email, r->report_id };
	const char *text2[] = { r->domain, r->adkim, r->aspf, r->p, r->sp,
	    r->np, r->pct, r->fo, r->testing, r->format };
	int rc = -1, k = SQLITE_OK, step, i;

	if (history_sqlite_exec(db, "BEGIN IMMEDIATE", err, errlen) != 0)
		return -1;
	if (sqlite3_prepare_v2(db, "SELECT 1 FROM rua_reports WHERE org_name = ? "
	    "AND report_id = ?", -1, &st, NULL) != SQLITE_OK)
		goto fail;
	(void)sqlite3_bind_text(st, 1, r->org_name, -1, SQLITE_STATIC);
	(void)sqlite3_bind_text(st, 2, r->report_id, -1, SQLITE_STATIC);
	if ((step = sqlite3_step(st)) == SQLITE_ROW) {
		rc = 1;
		goto done;
	}
	if (step != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(st);
	if (sqlite3_prepare_v2(db, "INSERT INTO rua_reports ("
	    HISTORY_RUA_REPORT_COLS ", imported) VALUES (?, ?, ?, ?, ?, ?, ?, ?, "
	    "?, ?, ?, ?, ?, ?, ?, strftime('%s', 'now'))", -1, &st, NULL)
	    != SQLITE_OK)
		goto fail;
	for (i = 0; i < 3; i++)
		k |= sqlite3_bind_text(st, 1 + i, text[i], -1, SQLITE_STATIC);
	k |= sqlite3_bind_int64(st, 4, (sqlite3_int64)r->begin);
	k |= sqlite3_bind_int64(st, 5, (sqlite3_int64)r->end);
	for (i = 0; i < 10; i++)
		k |= sqlite3_bind_text(st, 6 + i, text2[i], -1, SQLITE_STATIC);
	if (k != SQLITE_OK || sqlite3_step(st) != SQLITE_DONE
	    || history_sqlite_rua_rows(db, sqlite3_last_insert_rowid(db), r) != 0)
		goto fail;
	sqlite3_finalize(st);
	st = NULL;
	if (history_sqlite_exec(db, "COMMIT", err, errlen) != 0)
		goto done;
	return 0;
fail:
	(void)history_sqlite_fail(db, "rua_reports", err, errlen);
	rc = -1;
done:
	sqlite3_finalize(st);
	(void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

/* history_sqlite_rua_report - the report of the current row of a select */
static void
history_sqlite_rua_report(sqlite3_stmt *st, struct rua_report *r)
{
	char **const text[] = { &r->org_name, &r->email, &r->report_id };
	char **const text2[] = { &r->domain, &r->adkim, &r->aspf, &r->p,
	    &r->sp, &r->np, &r->pct, &r->fo, &r->testing, &r->format };
	int i;

	r->id = sqlite3_column_int64(st, 0);
	for (i = 0; i < 3; i++)
		rua_set(text[i], history_sqlite_text(st, 1 + i));
	r->begin = sqlite3_column_int64(st, 4);
	r->end = sqlite3_column_int64(st, 5);
	for (i = 0; i < 10; i++)
		rua_set(text2[i], history_sqlite_text(st, 6 + i));
}

/* history_sqlite_rua_row - a rua_rows row into a new row of r */
static void
history_sqlite_rua_row(sqlite3_stmt *st, struct rua_report *r)
{
	struct rua_row *w = rua_report_add_row(r);
	char **const text[] = { &w->disposition, &w->dkim, &w->spf,
	    &w->reasons, &w->header_from, &w->envelope_from, &w->envelope_to,
	    &w->auth_dkim, &w->auth_spf };
	int i;

	rua_set(&w->source_ip, history_sqlite_text(st, 0));
	w->count = (unsigned long long)sqlite3_column_int64(st, 1);
	for (i = 0; i < 9; i++)
		rua_set(text[i], history_sqlite_text(st, 2 + i));
}

/* history_sqlite_rua_each - received reports with their rows */
static int
history_sqlite_rua_each(void *h, const char *domain, long long since,
    history_rua_fn fn, void *arg, char *err, size_t errlen)
{
	sqlite3 *db = h;
	sqlite3_stmt *rep = NULL, *row = NULL;
	struct rua_report r;
	int rc = -1, step = SQLITE_DONE, stop = 0;

	rua_report_init(&r);
	if (sqlite3_prepare_v2(db, "SELECT id, " HISTORY_RUA_REPORT_COLS " FROM "
	    "rua_reports WHERE (?1 IS NULL OR domain = ?1) AND date_end >= ?2 "
	    "ORDER BY date_begin, id", -1, &rep, NULL) != SQLITE_OK
	    || sqlite3_prepare_v2(db, "SELECT " HISTORY_RUA_ROW_COLS " FROM "
	    "rua_rows WHERE report = ? ORDER BY rowid", -1, &row, NULL)
	    != SQLITE_OK) {
		(void)history_sqlite_fail(db, "rua_reports", err, errlen);
		goto done;
	}
	if (domain != NULL)
		(void)sqlite3_bind_text(rep, 1, domain, -1, SQLITE_STATIC);
	(void)sqlite3_bind_int64(rep, 2, (sqlite3_int64)since);
	while (!stop && (step = sqlite3_step(rep)) == SQLITE_ROW) {
		rua_report_free(&r);
		rua_report_init(&r);
		history_sqlite_rua_report(rep, &r);
		sqlite3_reset(row);
		(void)sqlite3_bind_int64(row, 1, (sqlite3_int64)r.id);
		while ((step = sqlite3_step(row)) == SQLITE_ROW)
			history_sqlite_rua_row(row, &r);
		if (step != SQLITE_DONE)
			break;
		stop = fn(arg, &r) != 0;
		step = SQLITE_DONE;
	}
	if (step != SQLITE_DONE)
		(void)history_sqlite_fail(db, "rua_reports", err, errlen);
	else
		rc = 0;
done:
	rua_report_free(&r);
	sqlite3_finalize(rep);
	sqlite3_finalize(row);
	return rc;
}

/* history_sqlite_bounce_put - one mapping, its own (autocommit) transaction */
static int
history_sqlite_bounce_put(void *h, const char *token, const char *bounce_domain,
    const char *original, time_t created, char *err, size_t errlen)
{
	sqlite3 *db = h;
	sqlite3_stmt *st = NULL;
	int rc = -1;

	if (sqlite3_prepare_v2(db, "INSERT INTO bounce_tokens (token, "
	    "bounce_domain, original, created) VALUES (?, ?, ?, ?)", -1, &st,
	    NULL) != SQLITE_OK) {
		(void)history_sqlite_fail(db, "bounce_tokens", err, errlen);
		goto done;
	}
	(void)sqlite3_bind_text(st, 1, token, -1, SQLITE_STATIC);
	(void)sqlite3_bind_text(st, 2, bounce_domain, -1, SQLITE_STATIC);
	(void)sqlite3_bind_text(st, 3, original, -1, SQLITE_STATIC);
	(void)sqlite3_bind_int64(st, 4, (sqlite3_int64)created);
	if (sqlite3_step(st) != SQLITE_DONE)
		(void)history_sqlite_fail(db, "bounce_tokens", err, errlen);
	else
		rc = 0;
done:
	sqlite3_finalize(st);
	return rc;
}

/* history_sqlite_bounce_get - look a token up (its primary key) */
static int
history_sqlite_bounce_get(void *h, const char *token, const char *bounce_domain,
    char **original, time_t *created, char *err, size_t errlen)
{
	sqlite3 *db = h;
	sqlite3_stmt *st = NULL;
	int rc = -1, step;

	if (sqlite3_prepare_v2(db, "SELECT original, created FROM bounce_tokens "
	    "WHERE token = ? AND bounce_domain = ?", -1, &st, NULL)
	    != SQLITE_OK) {
		(void)history_sqlite_fail(db, "bounce_tokens", err, errlen);
		goto done;
	}
	(void)sqlite3_bind_text(st, 1, token, -1, SQLITE_STATIC);
	(void)sqlite3_bind_text(st, 2, bounce_domain, -1, SQLITE_STATIC);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW) {
		*original = xstrdup(history_sqlite_text(st, 0));
		*created = (time_t)sqlite3_column_int64(st, 1);
		rc = 1;
	} else if (step == SQLITE_DONE)
		rc = 0;
	else
		(void)history_sqlite_fail(db, "bounce_tokens", err, errlen);
done:
	sqlite3_finalize(st);
	return rc;
}

/* history_sqlite_bounce_prune - delete mappings made before a time */
static long
history_sqlite_bounce_prune(void *h, time_t before, char *err, size_t errlen)
{
	sqlite3 *db = h;
	sqlite3_stmt *st = NULL;
	long n = -1;

	if (sqlite3_prepare_v2(db, "DELETE FROM bounce_tokens WHERE created < ?",
	    -1, &st, NULL) != SQLITE_OK) {
		(void)history_sqlite_fail(db, "bounce_tokens", err, errlen);
		goto done;
	}
	(void)sqlite3_bind_int64(st, 1, (sqlite3_int64)before);
	if (sqlite3_step(st) != SQLITE_DONE)
		(void)history_sqlite_fail(db, "bounce_tokens", err, errlen);
	else
		n = (long)sqlite3_changes(db);
done:
	sqlite3_finalize(st);
	return n;
}

/* history_sqlite_limit - wait at most ms for a lock; commits survive a power cut */
static int
history_sqlite_limit(void *h, long ms, char *err, size_t errlen)
{
	sqlite3 *db = h;

	(void)sqlite3_busy_timeout(db, ms > 0 ? (int)ms : 1);
	/* WAL with NORMAL may lose the last commits on power loss */
	return history_sqlite_exec(db, "PRAGMA synchronous = FULL;", err,
	    errlen);
}

const struct history_backend history_sqlite = {
	.name = "sqlite",
	.open = history_sqlite_open,
	.close = history_sqlite_close,
	.version = history_sqlite_version,
	.migrate = history_sqlite_migrate,
	.insert = history_sqlite_insert,
	.each = history_sqlite_each,
	.prune = history_sqlite_prune,
	.sent = history_sqlite_sent,
	.sent_add = history_sqlite_sent_add,
	.rua_add = history_sqlite_rua_add,
	.rua_each = history_sqlite_rua_each,
	.bounce_put = history_sqlite_bounce_put,
	.bounce_get = history_sqlite_bounce_get,
	.bounce_prune = history_sqlite_bounce_prune,
	.limit = history_sqlite_limit,
};
