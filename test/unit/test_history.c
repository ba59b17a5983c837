/*
 * test_history.c - the DMARC history: the SQLite store (insert, read back
 * with every field, prune, the reports sent), its migrations (an older
 * schema brought up to date with its rows kept, a newer one refused), the
 * store specs refused, and the writer's bounded queue (a full queue drops
 * and counts while the writer is held up by a lock on the database; an
 * unavailable store drops and counts; what was queued is written), and
 * the record built from an inbound message (fields, the reasons why the
 * disposition differs from the policy, none for a tempfail).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "base/stats.h"
#include "store/history.h"
#include "store/history_inbound.h"
#include "testutil.h"

#define T0 1767225600	/* 2026-01-01 00:00:00 UTC */

/* hist_db - a fresh database path in a new directory */
static char *
hist_db(void)
{
	static char path[512];
	char *d = testutil_tmpdir();

	assert_non_null(d);
	(void)snprintf(path, sizeof(path), "sqlite:%s/history.db", d);
	free(d);
	return path;
}

/* hist_rec - a record of a message from ip at t for domain */
static struct history_record *
hist_rec(time_t t, const char *ip, const char *domain, int nsig)
{
	struct history_record *r = history_record_new();
	int i;

	r->time = t;
	history_record_set(&r->source_ip, ip);
	history_record_set(&r->envelope_from, domain);
	history_record_set(&r->envelope_to, "example.net");
	history_record_set(&r->header_from, domain);
	history_record_set(&r->spf_result, "pass");
	history_record_set(&r->spf_domain, domain);
	history_record_set(&r->spf_scope, "mfrom");
	r->spf_aligned = 1;
	for (i = 0; i < nsig; i++)
		history_record_add_dkim(r, domain, i ? "s2" : "s1",
		    i ? "fail" : "pass");
	r->dkim_aligned = nsig > 0;
	history_record_set(&r->policy_domain, domain);
	history_record_set(&r->p, "reject");
	history_record_set(&r->sp, "quarantine");
	history_record_set(&r->adkim, "s");
	history_record_set(&r->aspf, "r");
	r->pct = 50;
	history_record_set(&r->psd, "u");
	history_record_set(&r->fo, "d");
	history_record_set(&r->result, "pass");
	history_record_set(&r->disposition, "none");
	history_record_set(&r->reasons, "local_policy");
	history_record_set(&r->rua, "mailto:a@x.example mailto:b@y.example!10m");
	return r;
}

struct hist_read {
	struct history_record *got[8];	/* copies of what came back */
	size_t n;
};

/* hist_keep - history_row_fn: keep a copy of the row's fields we check */
static int
hist_keep(void *arg, const struct history_record *r)
{
	struct hist_read *rd = arg;
	struct history_record *c;
	size_t i;

	if (rd->n == 8)
		return 1;
	c = hist_rec(r->time, r->source_ip, r->header_from, 0);
	c->id = r->id;
	history_record_set(&c->p, r->p);
	history_record_set(&c->sp, r->sp);
	history_record_set(&c->np, r->np);
	history_record_set(&c->adkim, r->adkim);
	history_record_set(&c->rua, r->rua);
	history_record_set(&c->reasons, r->reasons);
	history_record_set(&c->fo, r->fo);
	c->pct = r->pct;
	c->dkim_aligned = r->dkim_aligned;
	for (i = 0; i < r->ndkim; i++)
		history_record_add_dkim(c, r->dkim[i].domain, r->dkim[i].selector,
		    r->dkim[i].result);
	rd->got[rd->n++] = c;
	return 0;
}

/* hist_read_free - release what hist_keep kept */
static void
hist_read_free(struct hist_read *rd)
{
	size_t i;

	for (i = 0; i < rd->n; i++)
		history_record_free(rd->got[i]);
	rd->n = 0;
}

/* bounce_tokens_put_get_prune - a mapping comes back in its bounce domain only, and is pruned */
static void
bounce_tokens_put_get_prune(void **state)
{
	struct history_store *s, *old;
	char err[256], *orig = NULL;
	time_t created = 0;

	(void)state;
	s = history_store_open(hist_db(), err, sizeof(err));
	assert_non_null(s);
	assert_int_equal(history_store_limit(s, 500, err, sizeof(err)), 0);
	assert_int_equal(history_store_bounce_put(s, "aaaqeayeaudaocaj",
	    "bounce.a.example", "bounces+c-1-rcpt=gmail.com@platform.example",
	    T0, err, sizeof(err)), 0);
	assert_int_equal(history_store_bounce_put(s, "bbbqeayeaudaocaj",
	    "bounce.a.example", "x@y.example", T0 + 86400, err, sizeof(err)), 0);
	/* a token is issued once */
	assert_int_equal(history_store_bounce_put(s, "aaaqeayeaudaocaj",
	    "bounce.a.example", "other@y.example", T0, err, sizeof(err)), -1);
	assert_int_equal(history_store_bounce_get(s, "aaaqeayeaudaocaj",
	    "bounce.a.example", &orig, &created, err, sizeof(err)), 1);
	assert_string_equal(orig, "bounces+c-1-rcpt=gmail.com@platform.example");
	assert_int_equal(created, T0);
	free(orig);
	assert_int_equal(history_store_bounce_get(s, "aaaqeayeaudaocaj",
	    "bounce.b.example", &orig, &created, err, sizeof(err)), 0);
	assert_null(orig);
	assert_int_equal(history_store_bounce_get(s, "cccqeayeaudaocaj",
	    "bounce.a.example", &orig, &created, err, sizeof(err)), 0);
	assert_int_equal(history_store_bounce_prune(s, T0 + 1, err,
	    sizeof(err)), 1);
	assert_int_equal(history_store_bounce_get(s, "aaaqeayeaudaocaj",
	    "bounce.a.example", &orig, &created, err, sizeof(err)), 0);
	assert_int_equal(history_store_bounce_get(s, "bbbqeayeaudaocaj",
	    "bounce.a.example", &orig, &created, err, sizeof(err)), 1);
	free(orig);
	history_store_close(s);
	/* a store still at version 2 has no table: an error, not a miss */
	old = history_store_open_at("sqlite::memory:", 2, err, sizeof(err));
	assert_non_null(old);
	assert_int_equal(history_store_bounce_get(old, "aaaqeayeaudaocaj",
	    "bounce.a.example", &orig, &created, err, sizeof(err)), -1);
	history_store_close(old);
}

/* sqlite_insert_read_back_prune - rows come back whole; prune removes the old ones */
static void
sqlite_insert_read_back_prune(void **state)
{
	struct history_record *r[3];
	struct hist_read rd = { { NULL }, 0 };
	struct history_store *s;
	char err[256];
	size_t i;

	(void)state;
	s = history_store_open(hist_db(), err, sizeof(err));
	assert_non_null(s);
	assert_int_equal(history_store_version(s), HISTORY_SCHEMA_VERSION);
	r[0] = hist_rec(T0 + 10, "192.0.2.1", "a.example", 2);
	r[1] = hist_rec(T0 + 20, "2001:db8::1", "b.example", 0);
	r[2] = hist_rec(T0 + 90000, "192.0.2.3", "a.example", 1);
	assert_int_equal(history_store_insert(s, r, 3, err, sizeof(err)), 0);
	for (i = 0; i < 3; i++)
		assert_true(r[i]->id > 0);
	/* one day: the first two, in time order */
	assert_int_equal(history_store_each(s, T0, T0 + 86400, hist_keep, &rd,
	    err, sizeof(err)), 0);
	assert_int_equal(rd.n, 2);
	assert_string_equal(rd.got[0]->source_ip, "192.0.2.1");
	assert_int_equal(rd.got[0]->time, T0 + 10);
	assert_int_equal(rd.got[0]->ndkim, 2);
	assert_string_equal(rd.got[0]->dkim[0].selector, "s1");
	assert_string_equal(rd.got[0]->dkim[1].result, "fail");
	assert_string_equal(rd.got[0]->p, "reject");
	assert_string_equal(rd.got[0]->sp, "quarantine");
	assert_string_equal(rd.got[0]->np, "");
	assert_string_equal(rd.got[0]->adkim, "s");
	assert_int_equal(rd.got[0]->pct, 50);
	assert_int_equal(rd.got[0]->dkim_aligned, 1);
	assert_string_equal(rd.got[0]->reasons, "local_policy");
	assert_string_equal(rd.got[0]->fo, "d");
	assert_string_equal(rd.got[0]->rua,
	    "mailto:a@x.example mailto:b@y.example!10m");
	assert_string_equal(rd.got[1]->source_ip, "2001:db8::1");
	assert_int_equal(rd.got[1]->ndkim, 0);
	hist_read_free(&rd);
	/* prune the first day: two messages go, the third stays */
	assert_int_equal(history_store_prune(s, T0 + 86400, err, sizeof(err)), 2);
	assert_int_equal(history_store_each(s, 0, T0 + 10 * 86400, hist_keep,
	    &rd, err, sizeof(err)), 0);
	assert_int_equal(rd.n, 1);
	assert_string_equal(rd.got[0]->source_ip, "192.0.2.3");
	assert_int_equal(rd.got[0]->ndkim, 1);
	hist_read_free(&rd);
	/* the reports sent */
	assert_int_equal(history_store_sent(s, "r1", err, sizeof(err)), 0);
	assert_int_equal(history_store_sent_add(s, "r1", "a.example", T0,
	    T0 + 86400, "mailto:a@x.example", "sent", err, sizeof(err)), 0);
	assert_int_equal(history_store_sent(s, "r1", err, sizeof(err)), 1);
	for (i = 0; i < 3; i++)
		history_record_free(r[i]);
	history_store_close(s);
}

/* migrations_upgrade_keep_rows - a version 1 store becomes the newest version with its rows */
static void
migrations_upgrade_keep_rows(void **state)
{
	struct history_record *r = hist_rec(T0, "192.0.2.9", "c.example", 1);
	struct hist_read rd = { { NULL }, 0 };
	const char *spec = hist_db();
	struct history_store *s;
	char err[256];

	(void)state;
	s = history_store_open_at(spec, 1, err, sizeof(err));
	assert_non_null(s);
	assert_int_equal(history_store_version(s), 1);
	assert_int_equal(history_store_insert(s, &r, 1, err, sizeof(err)), 0);
	/* version 1 has no reports_sent */
	assert_int_equal(history_store_sent(s, "x", err, sizeof(err)), -1);
	history_store_close(s);
	s = history_store_open(spec, err, sizeof(err));
	assert_non_null(s);
	assert_int_equal(history_store_version(s), HISTORY_SCHEMA_VERSION);
	assert_int_equal(history_store_each(s, 0, T0 + 1, hist_keep, &rd, err,
	    sizeof(err)), 0);
	assert_int_equal(rd.n, 1);
	assert_string_equal(rd.got[0]->source_ip, "192.0.2.9");
	hist_read_free(&rd);
	assert_int_equal(history_store_sent(s, "x", err, sizeof(err)), 0);
	history_store_close(s);
	/* opening again migrates nothing and keeps the version */
	s = history_store_open(spec, err, sizeof(err));
	assert_non_null(s);
	assert_int_equal(history_store_version(s), HISTORY_SCHEMA_VERSION);
	history_store_close(s);
	history_record_free(r);
}

/* A received aggregate report, as small as one can be. */
static const char hist_rua_xml[] =
    "<feedback><report_metadata><org_name>rcv.example</org_name>"
    "<report_id>r-1</report_id><date_range><begin>86400</begin>"
    "<end>172799</end></date_range></report_metadata><policy_published>"
    "<domain>c.example</domain><p>none</p></policy_published>"
    "<record><row><source_ip>192.0.2.7</source_ip><count>3</count>"
    "<policy_evaluated><disposition>none</disposition><dkim>pass</dkim>"
    "<spf>fail</spf></policy_evaluated></row><identifiers>"
    "<header_from>c.example</header_from></identifiers><auth_results>"
    "<dkim><domain>c.example</domain><selector>s1</selector>"
    "<result>pass</result></dkim></auth_results></record></feedback>";

/* rua_keep - count the reports read back and their first row's count */
static int
rua_keep(void *arg, const struct rua_report *r)
{
	unsigned long long *got = arg;

	got[0]++;
	got[1] += r->nrows ? r->rows[0].count : 0;
	assert_string_equal(r->rows[0].auth_dkim, "c.example s1 pass");
	return 0;
}

/* rua_migration_and_duplicate - version 2 has no rua tables; version 3 stores a report once */
static void
rua_migration_and_duplicate(void **state)
{
	const char *spec = hist_db();
	unsigned long long got[2] = { 0, 0 };
	struct history_store *s;
	struct rua_report r;
	char err[256];

	(void)state;
	assert_int_equal(rua_parse(hist_rua_xml, sizeof(hist_rua_xml) - 1, &r,
	    err, sizeof(err)), 0);
	s = history_store_open_at(spec, 2, err, sizeof(err));
	assert_non_null(s);
	assert_int_equal(history_store_rua_add(s, &r, err, sizeof(err)), -1);
	history_store_close(s);
	s = history_store_open(spec, err, sizeof(err));
	assert_non_null(s);
	assert_int_equal(history_store_rua_add(s, &r, err, sizeof(err)), 0);
	assert_int_equal(history_store_rua_add(s, &r, err, sizeof(err)), 1);
	assert_int_equal(history_store_rua_each(s, "c.example", 0, rua_keep, got,
	    err, sizeof(err)), 0);
	assert_int_equal(got[0], 1);
	assert_int_equal(got[1], 3);
	/* a period ending before --since is left out */
	assert_int_equal(history_store_rua_each(s, "c.example", 172800, rua_keep,
	    got, err, sizeof(err)), 0);
	assert_int_equal(got[0], 1);
	history_store_close(s);
	rua_report_free(&r);
}

/* migrations_refuse_newer - a store from a newer program is not touched */
static void
migrations_refuse_newer(void **state)
{
	const char *spec = hist_db();
	struct history_store *s;
	sqlite3 *db;
	char err[256];

	(void)state;
	s = history_store_open(spec, err, sizeof(err));
	assert_non_null(s);
	history_store_close(s);
	assert_int_equal(sqlite3_open(spec + 7, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "INSERT INTO schema_version VALUES "
	    "(99, 0)", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	s = history_store_open(spec, err, sizeof(err));
	assert_null(s);
	assert_non_null(strstr(err, "schema version 99"));
}

/* store_specs_refused - what is not a store we can open says why */
static void
store_specs_refused(void **state)
{
	static const struct { const char *spec, *says; } bad[] = {
		{ "", "no store" },
		{ "relative/history.db", "absolute path" },
		{ "mysql://localhost/authmilter", "absolute path" },
		{ "sqlite:", "no database path" },
		{ "sqlite:/nonexistent-dir/sub/history.db", "cannot open" },
	};
	char err[256];
	size_t i;

	(void)state;
	assert_int_equal(history_spec_check("sqlite:/var/lib/h.db", err,
	    sizeof(err)), 0);
	assert_int_equal(history_spec_check("/var/lib/h.db", err, sizeof(err)),
	    0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		/* the syntax alone: all but the missing directory */
		assert_int_equal(history_spec_check(bad[i].spec, err,
		    sizeof(err)), i < 4 ? -1 : 0);
		assert_null(history_store_open(bad[i].spec, err, sizeof(err)));
		if (strstr(err, bad[i].says) == NULL)
			fail_msg("%s: \"%s\" does not say \"%s\"", bad[i].spec, err,
			    bad[i].says);
	}
}

/* hist_wait_popped - poll until the writer took everything queued */
static void
hist_wait_popped(struct history *h)
{
	struct history_stats st;
	int i;

	for (i = 0; i < 5000; i++) {
		history_get_stats(h, &st);
		if (st.pending == 0)
			return;
		usleep(1000);
	}
	fail_msg("the writer never took the queued record");
}

/* queue_full_drops_and_counts - a writer held up by a lock: the queue fills, the rest is dropped */
static void
queue_full_drops_and_counts(void **state)
{
	struct history_options ho = { NULL, 16, 60, 4 };
	struct stats_snapshot snap;
	struct hist_read rd = { { NULL }, 0 };
	struct history_stats st;
	struct history_store *s;
	struct history *h;
	const char *spec = hist_db();
	sqlite3 *db;
	char err[256];
	int i, dropped = 0;

	(void)state;
	s = history_store_open(spec, err, sizeof(err));
	assert_non_null(s);
	/* another writer holds the database: ours waits in its insert */
	assert_int_equal(sqlite3_open(spec + 7, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL),
	    SQLITE_OK);
	ho.spec = spec;
	h = history_start(&ho, err, sizeof(err));
	assert_non_null(h);
	assert_int_equal(history_submit(h, hist_rec(T0, "192.0.2.1",
	    "a.example", 0)), 0);
	hist_wait_popped(h);
	for (i = 0; i < 20; i++)
		if (history_submit(h, hist_rec(T0 + 1 + i, "192.0.2.2",
		    "a.example", 1)) != 0)
			dropped++;
	assert_int_equal(dropped, 4);	/* 16 fit */
	stats_read(&snap);
	assert_true(snap.slot[STATS_HISTORY_DROPPED] == 4);
	history_get_stats(h, &st);
	assert_int_equal(st.dropped_full, 4);
	assert_int_equal(st.queued, 17);
	assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	history_flush(h);
	history_get_stats(h, &st);
	assert_int_equal(st.written, 17);
	assert_int_equal(st.dropped_store, 0);
	stats_read(&snap);
	assert_true(snap.slot[STATS_HISTORY_WRITTEN] >= 17);
	history_stop(h);
	assert_int_equal(history_store_each(s, 0, T0 + 100, hist_keep, &rd, err,
	    sizeof(err)), 0);
	assert_int_equal(rd.n, 8);	/* hist_keep keeps 8 and stops */
	hist_read_free(&rd);
	history_store_close(s);
	/* a NULL writer (history off) drops without a crash */
	assert_int_equal(history_submit(NULL, hist_rec(T0, "192.0.2.1",
	    "a.example", 0)), -1);
	assert_int_equal(history_submit(NULL, NULL), -1);
}

/* store_unavailable_drops_and_counts - records for a store that cannot open are counted, not kept */
static void
store_unavailable_drops_and_counts(void **state)
{
	struct history_options ho = { "sqlite:/nonexistent-dir/history.db", 0,
	    60, 0 };
	struct history_stats st;
	struct history *h;
	char err[256];
	int i;

	(void)state;
	h = history_start(&ho, err, sizeof(err));
	assert_non_null(h);
	for (i = 0; i < 5; i++)
		assert_int_equal(history_submit(h, hist_rec(T0 + i, "192.0.2.1",
		    "a.example", 1)), 0);
	history_flush(h);
	history_get_stats(h, &st);
	assert_int_equal(st.queued, 5);
	assert_int_equal(st.written, 0);
	assert_int_equal(st.dropped_store, 5);
	history_stop(h);
}

/* hist_inbound - an evaluated inbound message: DMARC fail of p=reject at a.example */
static struct inbound *
hist_inbound(void)
{
	struct inbound *in = inbound_new();

	in->spf_done = 1;
	in->spf.mailfrom.res = SPF_RES_FAIL;
	(void)snprintf(in->spf.mailfrom.domain, sizeof(in->spf.mailfrom.domain),
	    "a.example");
	(void)snprintf(in->spf.envelope_from, sizeof(in->spf.envelope_from),
	    "u@a.example");
	in->dmarc_done = 1;
	in->dmarc.result = DMARC_RESULT_FAIL;
	(void)snprintf(in->dmarc.from_domain, sizeof(in->dmarc.from_domain),
	    "a.example");
	(void)snprintf(in->dmarc.policy_domain, sizeof(in->dmarc.policy_domain),
	    "a.example");
	in->dmarc.have_record = 1;
	dmarc_record_init(&in->dmarc.record);
	in->dmarc.record.p = DMARC_POLICY_REJECT;
	in->dmarc.record.adkim = DMARC_ALIGN_STRICT;
	in->dmarc.record.pct = 50;
	in->dmarc.record.fo = DMARC_FO_1 | DMARC_FO_S;
	in->dmarc.record.rua[0] = strdup("mailto:d@a.example");
	in->dmarc.record.rua_limit[0] = 10240;
	in->dmarc.record.nrua = 1;
	in->dmarc.policy = DMARC_POLICY_REJECT;
	in->dmarc.disposition = DMARC_POLICY_REJECT;
	return in;
}

/* inbound_record_fields_and_reasons - what a message's record says, and why the disposition differs */
static void
inbound_record_fields_and_reasons(void **state)
{
	struct verdict v;
	struct inbound *in = hist_inbound();
	struct history_record *r;

	(void)state;
	memset(&v, 0, sizeof(v));
	v.action = VERDICT_REJECT;
	r = history_inbound_record(in, T0, "192.0.2.1", "<u@A.example>",
	    "example.net", &v);
	assert_non_null(r);
	assert_string_equal(r->envelope_from, "a.example");
	assert_string_equal(r->spf_result, "fail");
	assert_string_equal(r->spf_scope, "mfrom");
	assert_string_equal(r->p, "reject");
	assert_string_equal(r->sp, "");
	assert_string_equal(r->adkim, "s");
	assert_int_equal(r->pct, 50);
	assert_string_equal(r->fo, "1:s");
	assert_string_equal(r->disposition, "reject");
	assert_string_equal(r->reasons, "");
	assert_string_equal(r->rua, "mailto:d@a.example!10240");
	history_record_free(r);
	/* dmarc_reject_action = quarantine: a local policy */
	v.action = VERDICT_CONTINUE;
	v.quarantine = VERDICT_Q_HEADER;
	r = history_inbound_record(in, T0, "192.0.2.1", "<>", NULL, &v);
	assert_string_equal(r->disposition, "quarantine");
	assert_string_equal(r->reasons, "local_policy");
	assert_string_equal(r->envelope_from, "");
	history_record_free(r);
	/* pct= spared it: sampled_out, and nothing done is what was asked */
	in->dmarc.sampled_out = 1;
	in->dmarc.disposition = DMARC_POLICY_NONE;
	v.quarantine = VERDICT_Q_NONE;
	r = history_inbound_record(in, T0, "192.0.2.1", NULL, NULL, &v);
	assert_string_equal(r->reasons, "sampled_out");
	history_record_free(r);
	/* t=y lowered it */
	in->dmarc.sampled_out = 0;
	in->dmarc.testing = 1;
	in->dmarc.disposition = DMARC_POLICY_QUARANTINE;
	v.quarantine = VERDICT_Q_HEADER;
	r = history_inbound_record(in, T0, "192.0.2.1", NULL, NULL, &v);
	assert_string_equal(r->reasons, "other:t=y");
	history_record_free(r);
	/* tempfailed: not recorded (it comes back) */
	v.action = VERDICT_TEMPFAIL;
	assert_null(history_inbound_record(in, T0, "192.0.2.1", NULL, NULL, &v));
	inbound_free(in);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sqlite_insert_read_back_prune),
		cmocka_unit_test(bounce_tokens_put_get_prune),
		cmocka_unit_test(migrations_upgrade_keep_rows),
		cmocka_unit_test(migrations_refuse_newer),
		cmocka_unit_test(rua_migration_and_duplicate),
		cmocka_unit_test(store_specs_refused),
		cmocka_unit_test(queue_full_drops_and_counts),
		cmocka_unit_test(store_unavailable_drops_and_counts),
		cmocka_unit_test(inbound_record_fields_and_reasons),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
