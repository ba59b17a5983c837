/*
 * test_onboard.c - authmilter-check's onboarding output, the pure half:
 * JSON strings of hostile DNS text (json.c), a domain's verdicts as text
 * lines (all, and --problems-only) and as a JSON object, and the summary
 * counts over several domains. The checks themselves run against a real
 * DNS server in test_check_onboarding.sh.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/json.h"
#include "tools/onboard.h"

/* json_string_escapes - quotes, backslashes, controls and high bytes give valid ASCII JSON */
static void
json_string_escapes(void **state)
{
	static const struct {
		const char *in, *want;
	} rows[] = {
		{ "", "\"\"" },
		{ "v=spf1 -all", "\"v=spf1 -all\"" },
		{ "a\"b\\c", "\"a\\\"b\\\\c\"" },
		{ "l1\nl2", "\"l1\\nl2\"" },
		{ "\001\037\177", "\"\\u0001\\u001f\\u007f\"" },
		{ "caf\303\251", "\"caf\\u00c3\\u00a9\"" },
	};
	struct buf b = BUF_INIT;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		buf_reset(&b);
		json_string(&b, rows[i].in);
		assert_string_equal(buf_cstr(&b), rows[i].want);
	}
	buf_free(&b);
}

/* result_make - a result of domain with one item per level given (OK, WARN, FAIL) */
static void
result_make(struct onboard_result *r, struct onboard_target *t,
    const char *domain, const enum onboard_level *levels, size_t n)
{
	static const enum onboard_kind kinds[] = { ONBOARD_SPF, ONBOARD_DMARC,
	    ONBOARD_BOUNCE };
	size_t i;

	memset(t, 0, sizeof(*t));
	memset(r, 0, sizeof(*r));
	t->domain = (char *)domain;
	r->target = t;
	r->items = calloc(n, sizeof(*r->items));
	assert_non_null(r->items);
	r->n = n;
	r->queries = 7;
	for (i = 0; i < n; i++) {
		r->items[i].kind = kinds[i % 3];
		r->items[i].level = levels[i];
		(void)snprintf(r->items[i].what, sizeof(r->items[i].what), "%s",
		    onboard_kind_name(kinds[i % 3]));
		buf_printf(&r->items[i].detail, "detail %zu", i);
		if (levels[i] > r->worst)
			r->worst = levels[i];
	}
}

/* text_lines_and_problems_only - the verdict lines; --problems-only drops OK and clean domains */
static void
text_lines_and_problems_only(void **state)
{
	static const enum onboard_level lv[] = { ONBOARD_OK, ONBOARD_FAIL,
	    ONBOARD_WARN };
	static const enum onboard_level clean[] = { ONBOARD_OK };
	struct onboard_result r, c;
	struct onboard_target t, tc;
	struct buf out = BUF_INIT;

	(void)state;
	result_make(&r, &t, "a.example", lv, 3);
	onboard_text(&r, 0, &out);
	assert_string_equal(buf_cstr(&out), "== a.example\n"
	    "OK   spf                                      detail 0\n"
	    "FAIL dmarc                                    detail 1\n"
	    "WARN bounce                                   detail 2\n"
	    "FAIL a.example\n");
	buf_reset(&out);
	onboard_text(&r, 1, &out);
	assert_null(strstr(buf_cstr(&out), "OK   spf"));
	assert_non_null(strstr(buf_cstr(&out), "FAIL dmarc"));
	result_make(&c, &tc, "clean.example", clean, 1);
	buf_reset(&out);
	onboard_text(&c, 1, &out);
	assert_string_equal(buf_cstr(&out), "");
	onboard_result_free(&r);
	onboard_result_free(&c);
	buf_free(&out);
}

/* json_object_shape - one domain as JSON: fields, records split per line, null bounce */
static void
json_object_shape(void **state)
{
	static const enum onboard_level lv[] = { ONBOARD_WARN };
	struct onboard_result r;
	struct onboard_target t;
	struct buf out = BUF_INIT;

	(void)state;
	result_make(&r, &t, "j.example", lv, 1);
	buf_puts(&r.items[0].records, "j.example TXT \"v=spf1 \"q\" -all\"\n"
	    "x.j.example TXT \"v=spf1 -all\"\n");
	onboard_json(&r, 0, &out);
	assert_string_equal(buf_cstr(&out), "{\"domain\":\"j.example\","
	    "\"bounce_domain\":null,\"status\":\"WARN\",\"queries\":7,"
	    "\"checks\":[{\"check\":\"spf\",\"name\":\"spf\",\"status\":\"WARN\","
	    "\"detail\":\"detail 0\",\"records\":[\"j.example TXT \\\"v=spf1 "
	    "\\\"q\\\" -all\\\"\",\"x.j.example TXT \\\"v=spf1 -all\\\"\"]}]}");
	buf_reset(&out);
	t.bounce = (char *)"b.j.example";
	onboard_json(&r, 0, &out);
	assert_non_null(strstr(buf_cstr(&out), "\"bounce_domain\":\"b.j.example\""));
	onboard_result_free(&r);
	buf_free(&out);
}

/* summary_counts - domains by worst verdict, verdicts by check, queries */
static void
summary_counts(void **state)
{
	static const enum onboard_level a[] = { ONBOARD_OK, ONBOARD_FAIL };
	static const enum onboard_level b[] = { ONBOARD_OK, ONBOARD_OK,
	    ONBOARD_WARN };
	struct onboard_summary s;
	struct onboard_result ra, rb;
	struct onboard_target ta, tb;
	struct buf out = BUF_INIT;

	(void)state;
	memset(&s, 0, sizeof(s));
	result_make(&ra, &ta, "a.example", a, 2);
	result_make(&rb, &tb, "b.example", b, 3);
	onboard_summary_add(&s, &ra);
	onboard_summary_add(&s, &rb);
	assert_int_equal(s.domains, 2);
	assert_int_equal(s.by_level[ONBOARD_FAIL], 1);
	assert_int_equal(s.by_level[ONBOARD_WARN], 1);
	assert_int_equal(s.kinds[ONBOARD_SPF][ONBOARD_OK], 2);
	assert_int_equal(s.kinds[ONBOARD_DMARC][ONBOARD_FAIL], 1);
	assert_int_equal(s.kinds[ONBOARD_DMARC][ONBOARD_OK], 1);
	assert_int_equal(s.queries, 14);
	onboard_summary_text(&s, &out);
	assert_non_null(strstr(buf_cstr(&out), "== summary: 2 domains: 0 OK, "
	    "1 WARN, 1 FAIL; 14 DNS queries\n"));
	assert_non_null(strstr(buf_cstr(&out), "summary dmarc          OK 1 WARN "
	    "0 FAIL 1\n"));
	buf_reset(&out);
	onboard_summary_json(&s, &out);
	assert_non_null(strstr(buf_cstr(&out), "{\"domains\":2,\"OK\":0,\"WARN\":1,"
	    "\"FAIL\":1,\"queries\":14,\"checks\":{\"dkim\":{\"OK\":0,"));
	assert_non_null(strstr(buf_cstr(&out), "\"bounce\":{\"OK\":0,\"WARN\":1,"
	    "\"FAIL\":0}"));
	onboard_result_free(&ra);
	onboard_result_free(&rb);
	buf_free(&out);
}

/* main - run the onboarding output tests */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(json_string_escapes),
		cmocka_unit_test(text_lines_and_problems_only),
		cmocka_unit_test(json_object_shape),
		cmocka_unit_test(summary_counts),
	};

	return cmocka_run_group_tests_name("onboard", tests, NULL, NULL);
}
