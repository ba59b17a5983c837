/*
 * test_bouncecheck.c - what outbound_return_path makes of a bounce domain:
 * the stateless form, the stored form through a bounce_map (and the
 * sender kept when the map fails), nothing into a bounce domain known
 * broken (but into one unchecked or unknown); and the bounce domain
 * states a reload carries over.
 *
 * Snapshots are parsed from text without keys (CONFIG_SKIP_KEYS); the
 * secret is added by hand. The map is a fake that records its calls.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/bounce.h"
#include "base/buf.h"
#include "base/edit.h"
#include "base/stats.h"
#include "policy/bouncecheck.h"
#include "policy/config.h"
#include "policy/outbound.h"
#include "testutil.h"

#define NOW	((time_t)1772366400)	/* 2026-03-01T12:00:00Z */
#define VERP	"bounces+newsletter-2026-12345-rcpt=john.doe=gmail.com@a.example"

static const char conf_text[] =
    "bounce_secret = /nonexistent/bounce.key\n"
    "domain a.example {\n    key = s1 /nonexistent/a.pem\n"
    "    bounce_domain = bounce.a.example\n}\n"
    "domain b.example {\n    key = s1 /nonexistent/b.pem\n"
    "    bounce_domain = Bounce.B.Example\n}\n";

/* The fake map: what put was given, and whether it fails. */
struct fake_map {
	int fail;			/* put returns -1 */
	int puts;			/* put calls */
	char token[BOUNCE_TOKEN_CHARS + 1];	/* the last put's */
	char bdom[64], original[128];
};

/* fake_put - record the mapping, or fail */
static int
fake_put(void *arg, const char *token, const char *bounce_domain,
    const char *original, time_t created, char *err, size_t errlen)
{
	struct fake_map *f = arg;

	assert_int_equal(created, NOW);
	f->puts++;
	if (f->fail) {
		(void)snprintf(err, errlen, "database is locked");
		return -1;
	}
	(void)snprintf(f->token, sizeof(f->token), "%s", token);
	(void)snprintf(f->bdom, sizeof(f->bdom), "%s", bounce_domain);
	(void)snprintf(f->original, sizeof(f->original), "%s", original);
	return 0;
}

/* fake_get - never asked by outbound */
static int
fake_get(void *arg, const char *token, const char *bounce_domain,
    struct buf *original, time_t *created, char *err, size_t errlen)
{
	(void)arg; (void)token; (void)bounce_domain; (void)original;
	(void)created; (void)err; (void)errlen;
	fail_msg("outbound looked a token up");
	return -1;
}

/* fake_random - a fixed token: 00 01 ... 09 */
static int
fake_random(void *arg, unsigned char *out, size_t n)
{
	size_t i;

	(void)arg;
	for (i = 0; i < n; i++)
		out[i] = (unsigned char)i;
	return 0;
}

/* load - the test snapshot, with a secret */
static struct config *
load(void)
{
	static const char key[] = "0123456789abcdef0123456789abcdef";
	struct config *c;
	char err[512];

	c = config_load_from("t.conf", conf_text, NULL, CONFIG_SKIP_KEYS, NULL,
	    err, sizeof(err));
	if (c == NULL)
		fail_msg("%s", err);
	assert_non_null(config_find_domain(c, "a.example"));
	assert_int_equal(bounce_secrets_add(&c->secrets, key, sizeof(key) - 1,
	    "k", err, sizeof(err)), 0);
	return c;
}

/* sender_of - the EDIT_SENDER value of edits, or NULL */
static const char *
sender_of(const struct edit_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (l->v[i].kind == EDIT_SENDER)
			return l->v[i].value;
	return NULL;
}

/* slot - a counter's value now */
static uint64_t
slot(size_t s)
{
	struct stats_snapshot snap;

	stats_read(&snap);
	return snap.slot[s];
}

/* stored_form_through_the_map - a VERP sender: mapped, then ab2= */
static void
stored_form_through_the_map(void **state)
{
	struct config *c = load();
	const struct config_domain *d = config_find_domain(c, "a.example");
	struct fake_map f = { 0 };
	struct bounce_map map = { fake_put, fake_get, fake_random, &f };
	struct edit_list l;
	uint64_t stored = slot(STATS_BOUNCE_STORED);

	(void)state;
	edit_list_init(&l);
	assert_int_equal(outbound_return_path(c, d, "<" VERP ">", NULL, NOW,
	    "Q1", &map, &l), 0);
	assert_int_equal(f.puts, 1);
	assert_string_equal(f.token, "aaaqeayeaudaocaj");
	assert_string_equal(f.bdom, "bounce.a.example");
	assert_string_equal(f.original, VERP);
	assert_non_null(sender_of(&l));
	/* the MAC from Python's hmac, over the format in bounce.h */
	assert_string_equal(sender_of(&l),
	    "<ab2=bbuhwg2t5aaaaqeayeaudaocaj@bounce.a.example>");
	assert_int_equal(slot(STATS_BOUNCE_STORED), stored + 1);
	edit_list_free(&l);

	/* a short sender: the stateless form, the map not asked */
	edit_list_init(&l);
	assert_int_equal(outbound_return_path(c, d, "<no-reply@a.example>",
	    NULL, NOW, "Q2", &map, &l), 0);
	assert_int_equal(f.puts, 1);
	assert_true(strncmp(sender_of(&l), "<ab1=", 5) == 0);
	edit_list_free(&l);
	config_free(c);
}

/* store_failure_keeps_the_sender - the map fails: no rewrite, counted, no error */
static void
store_failure_keeps_the_sender(void **state)
{
	struct config *c = load();
	const struct config_domain *d = config_find_domain(c, "a.example");
	struct fake_map f = { .fail = 1 };
	struct bounce_map map = { fake_put, fake_get, fake_random, &f };
	struct edit_list l;
	uint64_t failed = slot(STATS_BOUNCE_KEPT + STATS_KEPT_STORE_FAILED);
	uint64_t nostore = slot(STATS_BOUNCE_KEPT + STATS_KEPT_TOO_LONG);

	(void)state;
	edit_list_init(&l);
	assert_int_equal(outbound_return_path(c, d, VERP, NULL, NOW, "Q3", &map,
	    &l), 0);
	assert_int_equal(f.puts, 1);
	assert_null(sender_of(&l));
	assert_int_equal(slot(STATS_BOUNCE_KEPT + STATS_KEPT_STORE_FAILED),
	    failed + 1);
	/* no map at all (no history): kept too, counted apart */
	assert_int_equal(outbound_return_path(c, d, VERP, NULL, NOW, "Q4", NULL,
	    &l), 0);
	assert_null(sender_of(&l));
	assert_int_equal(slot(STATS_BOUNCE_KEPT + STATS_KEPT_TOO_LONG),
	    nostore + 1);
	edit_list_free(&l);
	config_free(c);
}

/* broken_bounce_domain_is_not_rewritten_into - only broken stops the rewrite */
static void
broken_bounce_domain_is_not_rewritten_into(void **state)
{
	static const enum bounce_health rewrite[] = { BOUNCE_HEALTH_UNCHECKED,
	    BOUNCE_HEALTH_OK, BOUNCE_HEALTH_UNKNOWN };
	struct config *c = load();
	const struct config_domain *d = config_find_domain(c, "a.example");
	struct edit_list l;
	uint64_t broken = slot(STATS_BOUNCE_KEPT + STATS_KEPT_DOMAIN_BROKEN);
	enum bounce_why why;
	size_t i;

	(void)state;
	assert_int_equal(bouncecheck_get(d, &why), BOUNCE_HEALTH_UNCHECKED);
	for (i = 0; i < sizeof(rewrite) / sizeof(rewrite[0]); i++) {
		bouncecheck_set(d, rewrite[i], BOUNCE_WHY_NONE);
		edit_list_init(&l);
		assert_int_equal(outbound_return_path(c, d, "no-reply@a.example",
		    NULL, NOW, "Q5", NULL, &l), 0);
		if (sender_of(&l) == NULL)
			fail_msg("state %s: not rewritten",
			    bouncecheck_health_name(rewrite[i]));
		edit_list_free(&l);
	}
	bouncecheck_set(d, BOUNCE_HEALTH_BROKEN, BOUNCE_WHY_NO_MX);
	edit_list_init(&l);
	assert_int_equal(outbound_return_path(c, d, "no-reply@a.example", NULL,
	    NOW, "Q6", NULL, &l), 0);
	assert_null(sender_of(&l));
	assert_int_equal(slot(STATS_BOUNCE_KEPT + STATS_KEPT_DOMAIN_BROKEN),
	    broken + 1);
	assert_int_equal(bouncecheck_get(d, &why), BOUNCE_HEALTH_BROKEN);
	assert_int_equal(why, BOUNCE_WHY_NO_MX);
	edit_list_free(&l);
	config_free(c);
}

/* reload_carries_states_over - the same bounce domain keeps its state, any case */
static void
reload_carries_states_over(void **state)
{
	struct config *old = load(), *c = load();
	enum bounce_why why;

	(void)state;
	bouncecheck_set(config_find_domain(old, "a.example"),
	    BOUNCE_HEALTH_BROKEN, BOUNCE_WHY_SPF);
	bouncecheck_set(config_find_domain(old, "b.example"), BOUNCE_HEALTH_OK,
	    BOUNCE_WHY_NONE);
	assert_int_equal(bouncecheck_carry_over(NULL, c), 0);
	assert_int_equal(bouncecheck_carry_over(old, c), 2);
	assert_int_equal(bouncecheck_get(config_find_domain(c, "a.example"),
	    &why), BOUNCE_HEALTH_BROKEN);
	assert_int_equal(why, BOUNCE_WHY_SPF);
	assert_int_equal(bouncecheck_get(config_find_domain(c, "b.example"),
	    NULL), BOUNCE_HEALTH_OK);
	config_free(old);
	config_free(c);
}

/* names_are_distinct - every state and reason has its own name */
static void
names_are_distinct(void **state)
{
	int i, j;

	(void)state;
	for (i = 0; i < BOUNCE_NHEALTH; i++)
		for (j = 0; j < i; j++)
			assert_string_not_equal(bouncecheck_health_name(i),
			    bouncecheck_health_name(j));
	for (i = 0; i < BOUNCE_NWHY; i++)
		for (j = 0; j < i; j++)
			assert_string_not_equal(bouncecheck_why_name(i),
			    bouncecheck_why_name(j));
	assert_string_equal(bouncecheck_health_name(BOUNCE_NHEALTH), "?");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(stored_form_through_the_map),
		cmocka_unit_test(store_failure_keeps_the_sender),
		cmocka_unit_test(broken_bounce_domain_is_not_rewritten_into),
		cmocka_unit_test(reload_carries_states_over),
		cmocka_unit_test(names_are_distinct),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
