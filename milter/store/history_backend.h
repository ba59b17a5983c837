/*
 * history_backend.h - what a database must do to hold the DMARC history
 * (private to history*.c and their tests). One table of functions per
 * backend; history.c picks it by the store spec and calls nothing else.
 * SQLite is history_sqlite.c, PostgreSQL (libpq) history_pg.c: the same
 * schema and the same migration versions.
 *
 * A backend handle is used by one thread at a time.
 */
#ifndef AUTHMILTER_HISTORY_BACKEND_H
#define AUTHMILTER_HISTORY_BACKEND_H

#include <stddef.h>
#include <time.h>

#include "store/history.h"

struct history_backend {
	const char *name;		/* "sqlite" */
	/* open - connect to target (a path, a conninfo); NULL with err */
	void *(*open)(const char *target, char *err, size_t errlen);
	/* close - disconnect (NULL is fine) */
	void (*close)(void *db);
	/* version - the schema version stored (0: an empty database); -1 with err */
	int (*version)(void *db, char *err, size_t errlen);
	/* migrate - apply migrations above the stored version up to upto, each in a transaction; 0 or -1 with err */
	int (*migrate)(void *db, int upto, char *err, size_t errlen);
	/* insert - n records in one transaction; 0 or -1 with err */
	int (*insert)(void *db, struct history_record *const *recs, size_t n,
	    char *err, size_t errlen);
	/* each - records with begin <= time < end, by time; 0 or -1 with err */
	int (*each)(void *db, time_t begin, time_t end, history_row_fn fn,
	    void *arg, char *err, size_t errlen);
	/* prune - delete records before a time; how many or -1 with err */
	long (*prune)(void *db, time_t before, char *err, size_t errlen);
	/* sent - 1 when report_id was recorded, 0 not, -1 err */
	int (*sent)(void *db, const char *report_id, char *err, size_t errlen);
	/* sent_add - record a report */
	int (*sent_add)(void *db, const char *report_id, const char *domain,
	    time_t begin, time_t end, const char *rua, const char *status,
	    char *err, size_t errlen);
	/* rua_add - a received report and its rows in one transaction; 0, 1 duplicate, -1 err */
	int (*rua_add)(void *db, const struct rua_report *r, char *err,
	    size_t errlen);
	/* rua_each - received reports of a domain (NULL all) ending at or after since */
	int (*rua_each)(void *db, const char *domain, long long since,
	    history_rua_fn fn, void *arg, char *err, size_t errlen);
	/* bounce_put - one token mapping, committed; 0 or -1 with err */
	int (*bounce_put)(void *db, const char *token, const char *bounce_domain,
	    const char *original, time_t created, char *err, size_t errlen);
	/* bounce_get - 1 found (*original allocated), 0 unknown, -1 err */
	int (*bounce_get)(void *db, const char *token, const char *bounce_domain,
	    char **original, time_t *created, char *err, size_t errlen);
	/* bounce_prune - delete mappings made before a time; how many or -1 */
	long (*bounce_prune)(void *db, time_t before, char *err, size_t errlen);
	/* limit - statement time bound in ms, durable commits; 0 or -1 */
	int (*limit)(void *db, long ms, char *err, size_t errlen);
};

/* The SQLite backend (history_sqlite.c). */
extern const struct history_backend history_sqlite;
/* The PostgreSQL backend (history_pg.c). */
extern const struct history_backend history_pg;

#endif
