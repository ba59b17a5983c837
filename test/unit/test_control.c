/*
 * test_control.c - authmilterctl's requests and answers (control_cmd.c):
 * one table of request lines, parsed or refused with the reason; the
 * keys, domain and status answers of a snapshot whose key states are set
 * by hand, as text and JSON.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "auth/keys.h"
#include "base/buf.h"
#include "daemon/control.h"
#include "policy/config.h"
#include "testutil.h"

static char *dir;		/* holds ed.pem and rsa.pem */

/* One request line and what parsing it gives. */
struct parse_case {
	const char *name;
	const char *line;
	int ok;			/* 1: parsed */
	enum control_cmd cmd;	/* when parsed */
	int json;
	int state;		/* -1: any */
	const char *domain;
	const char *err;	/* when refused: part of the reason */
};

static const struct parse_case parse_cases[] = {
	{ "status_plain", "status", 1, CONTROL_STATUS, 0, -1, "", NULL },
	{ "status_json_blanks_around", " \tstatus  --json \t", 1, CONTROL_STATUS,
	  1, -1, "", NULL },
	{ "keys_every_filter", "keys --state missing --domain Example.COM --json",
	  1, CONTROL_KEYS, 1, KEY_PUB_MISSING, "Example.COM", NULL },
	{ "keys_ulabel_domain", "keys --domain b\xc3\xbc" "cher.example", 1,
	  CONTROL_KEYS, 0, -1, "b\xc3\xbc" "cher.example", NULL },
	{ "domain_one_argument", "domain a.example", 1, CONTROL_DOMAIN, 0, -1,
	  "a.example", NULL },
	{ "check_one_argument", "check a.example", 1, CONTROL_CHECK, 0, -1,
	  "a.example", NULL },
	{ "reload_alone", "reload", 1, CONTROL_RELOAD, 0, -1, "", NULL },
	{ "empty_refused", "   ", 0, 0, 0, -1, NULL, "empty request" },
	{ "unknown_command", "frobnicate now", 0, 0, 0, -1, NULL,
	  "unknown command \"frobnicate\"" },
	{ "unknown_state", "keys --state sleepy", 0, 0, 0, -1, NULL,
	  "unknown state \"sleepy\"" },
	{ "state_without_value", "keys --state", 0, 0, 0, -1, NULL,
	  "--state needs a value" },
	{ "option_of_another_command", "status --domain a.example", 0, 0, 0, -1,
	  NULL, "status: unknown option \"--domain\"" },
	{ "domain_without_argument", "domain", 0, 0, 0, -1, NULL,
	  "usage: domain DOMAIN" },
	{ "check_two_arguments", "check a.example b.example", 0, 0, 0, -1, NULL,
	  "usage: check DOMAIN" },
	{ "reload_with_argument", "reload now", 0, 0, 0, -1, NULL,
	  "usage: reload" },
	{ "control_character", "status\x01", 0, 0, 0, -1, NULL,
	  "control character" },
	{ "too_many_words", "keys a b c d e f g h i j k l m n o p q", 0, 0, 0, -1,
	  NULL, "too many words" },
	{ "long_domain", "domain aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	  0, 0, 0, -1, NULL, "domain name too long" },
};

/* control_parse_row - one request line (state: the row) */
static void
control_parse_row(void **state)
{
	const struct parse_case *pc = *state;
	struct control_req r;
	char err[256] = "";
	int rc = control_parse(pc->line, &r, err, sizeof(err));

	if (pc->ok) {
		if (rc != 0)
			fail_msg("row %s refused: %s", pc->name, err);
		assert_int_equal(r.cmd, pc->cmd);
		assert_int_equal(r.json, pc->json);
		assert_int_equal(r.state, pc->state);
		assert_string_equal(r.domain, pc->domain);
	} else {
		assert_int_equal(rc, -1);
		if (strstr(err, pc->err) == NULL)
			fail_msg("row %s: \"%s\", want \"%s\"", pc->name, err,
			    pc->err);
	}
}

/* control_parse_request_too_long - a line of the maximum size is refused, not cut */
static void
control_parse_request_too_long(void **state)
{
	char line[CONTROL_MAX_REQUEST + 8], err[128];
	struct control_req r;

	(void)state;
	memset(line, 'a', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\0';
	assert_int_equal(control_parse(line, &r, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "too long"));
}

/* control_json_escapes - quotes, backslashes and control bytes escaped; UTF-8 kept */
static void
control_json_escapes(void **state)
{
	struct buf b = BUF_INIT;

	(void)state;
	control_json_string(&b, "a\"b\\c\nd\x01" "\xc3\xbc");
	assert_string_equal(buf_cstr(&b), "\"a\\\"b\\\\c\\nd\\u0001\xc3\xbc\"");
	buf_free(&b);
}

/* snapshot - two blocks: a.example (ed25519 s1, rsa s2, rsa s3 from 2099), b\xc3\xbc" "cher.example (rsa s1) */
static struct config *
snapshot(void)
{
	char text[2048], err[512];
	struct config *c;

	(void)snprintf(text, sizeof(text),
	    "domain a.example {\n"
	    "key = s1 %s/ed.pem\n"
	    "key = s2 %s/rsa.pem\n"
	    "key = s3 %s/rsa.pem not_before=2099-01-01\n"
	    "}\n"
	    "domain b\xc3\xbc" "cher.example {\n"
	    "key = s1 %s/rsa.pem\n"
	    "}\n", dir, dir, dir, dir);
	c = config_load_string(text, "t.conf", err, sizeof(err));
	if (c == NULL)
		fail_msg("%s", err);
	return c;
}

/* key_of - the key named selector in block domain */
static struct key *
key_of(struct config *c, const char *domain, const char *selector)
{
	const struct config_domain *d = config_find_domain(c, domain);
	size_t i;

	assert_non_null(d);
	for (i = 0; i < d->nkeys; i++)
		if (strcmp(d->keys[i].selector, selector) == 0)
			return &d->keys[i];
	fail_msg("no key %s in %s", selector, domain);
	return NULL;
}

/* control_keys_filters_and_marks_the_signing_keys - every key; --state and --domain (U-labels) keep some */
static void
control_keys_filters_and_marks_the_signing_keys(void **state)
{
	struct config *c = snapshot();
	struct control_req r;
	struct buf out = BUF_INIT;
	const char *want;
	char err[256];
	time_t now = 1767225600;	/* 2026-01-01 */

	(void)state;
	keys_pub_set(key_of(c, "a.example", "s1"), KEY_PUB_PUBLISHED);
	keys_pub_set(key_of(c, "a.example", "s2"), KEY_PUB_MISSING);
	assert_int_equal(control_parse("keys", &r, err, sizeof(err)), 0);
	assert_int_equal(control_format_keys(c, &r, now, &out, err, sizeof(err)), 0);
	/* s2 is missing, but no other RSA key is in its window: it signs */
	assert_non_null(strstr(buf_cstr(&out), "a.example                      "
	    "s1               ed25519   256 published  active   yes"));
	assert_non_null(strstr(buf_cstr(&out), "s2               rsa      "));
	assert_non_null(strstr(buf_cstr(&out), "missing    active   yes"));
	assert_non_null(strstr(buf_cstr(&out), "unchecked  pending  no "
	    "not_before=2099-01-01T00:00Z"));
	assert_non_null(strstr(buf_cstr(&out), "xn--bcher-kva.example"));

	buf_reset(&out);
	assert_int_equal(control_parse("keys --state missing --json", &r, err,
	    sizeof(err)), 0);
	assert_int_equal(control_format_keys(c, &r, now, &out, err, sizeof(err)), 0);
	want = "[\n  {\"domain\": \"a.example\", \"selector\": \"s2\", "
	    "\"type\": \"rsa\", \"bits\": 1024, \"file\": \"read\", "
	    "\"state\": \"missing\", "
	    "\"window\": \"active\", \"signs\": true, \"not_before\": null, "
	    "\"not_after\": null, \"path\": \"";
	if (strncmp(buf_cstr(&out), want, strlen(want)) != 0
	    || strcmp(buf_cstr(&out) + out.len - 5, "\"}\n]\n") != 0)
		fail_msg("keys --state missing --json: %s", buf_cstr(&out));
	buf_reset(&out);
	assert_int_equal(control_parse("keys --domain B\xc3\x9c" "CHER.example "
	    "--json", &r, err, sizeof(err)), 0);
	assert_int_equal(control_format_keys(c, &r, now, &out, err, sizeof(err)), 0);
	assert_non_null(strstr(buf_cstr(&out), "\"domain\": \"xn--bcher-kva.example\""));
	assert_null(strstr(buf_cstr(&out), "\"a.example\""));

	buf_reset(&out);
	assert_int_equal(control_parse("keys --state revoked --json", &r, err,
	    sizeof(err)), 0);
	assert_int_equal(control_format_keys(c, &r, now, &out, err, sizeof(err)), 0);
	assert_string_equal(buf_cstr(&out), "[]\n");

	assert_int_equal(control_parse("keys --domain nope.example", &r, err,
	    sizeof(err)), 0);
	assert_int_equal(control_format_keys(c, &r, now, &out, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no domain block nope.example"));
	buf_free(&out);
	config_free(c);
}

/* control_domain_says_which_key_signs_and_why - a known bad ed25519 key is left out while an RSA key is usable */
static void
control_domain_says_which_key_signs_and_why(void **state)
{
	struct config *c = snapshot();
	struct buf out = BUF_INIT;
	char err[256];
	time_t now = 1767225600;

	(void)state;
	keys_pub_set(key_of(c, "a.example", "s1"), KEY_PUB_TRUNCATED);
	keys_pub_set(key_of(c, "a.example", "s2"), KEY_PUB_PUBLISHED);
	assert_int_equal(control_format_domain(c, "A.Example", now, &out, err,
	    sizeof(err)), 0);
	assert_non_null(strstr(buf_cstr(&out), "# t.conf, line 1\ndomain a.example {\n"));
	assert_non_null(strstr(buf_cstr(&out), "DNS record truncated"));
	assert_non_null(strstr(buf_cstr(&out), "  rsa      s2 (record published): "
	    "the first of its type"));
	assert_non_null(strstr(buf_cstr(&out), "  ed25519  none: no key of this "
	    "type may sign now"));
	assert_non_null(strstr(buf_cstr(&out), "a.example: s1: known bad, left out"));
	buf_reset(&out);
	assert_int_equal(control_format_domain(c, "nope.example", now, &out, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "no domain block nope.example"));
	buf_free(&out);
	config_free(c);
}

/* control_status_text_and_json - the snapshot's numbers and the last reload */
static void
control_status_text_and_json(void **state)
{
	struct config *c = snapshot();
	struct control_status st;
	struct buf out = BUF_INIT;

	(void)state;
	memset(&st, 0, sizeof(st));
	st.version = "9.9";
	st.pid = 42;
	st.uptime = 100;
	st.messages = 3;
	st.connections = 2;
	st.reloads = 1;
	st.last_ok = 0;
	st.last_age = 5;
	st.last_result = "reload failed, keeping the running configuration: \"x\"";
	c->generation = 7;
	c->installed = 1000;
	keys_pub_set(key_of(c, "a.example", "s1"), KEY_PUB_PUBLISHED);
	control_format_status(&st, c, 1010, 0, &out);
	assert_non_null(strstr(buf_cstr(&out), "snapshot: generation 7, 10 s old, "
	    "from t.conf\ndomains: 2 loaded, 0 failed\nkeys: 4 (3 unchecked, "
	    "1 published)\nin flight: 3 messages, 2 MTA connections\nreload: "
	    "idle\nlast reload: failed, 5 s ago: reload failed"));
	assert_non_null(strstr(buf_cstr(&out), "\nhistory: not kept\n"));
	buf_reset(&out);
	st.history = 1;
	st.hist.written = 10;
	st.hist.pending = 2;
	st.hist.dropped_full = 3;
	st.hist.dropped_store = 4;
	control_format_status(&st, c, 1010, 0, &out);
	assert_non_null(strstr(buf_cstr(&out), "\nhistory: 10 written, 2 "
	    "waiting, dropped 3 (queue full) and 4 (store unavailable)\n"));
	buf_reset(&out);
	st.hist.queued = 15;
	control_format_status(&st, c, 1010, 1, &out);
	assert_non_null(strstr(buf_cstr(&out), "\"history\": {\"queued\": 15, "
	    "\"written\": 10, \"pending\": 2, \"dropped_queue_full\": 3, "
	    "\"dropped_store_unavailable\": 4}"));
	st.history = 0;
	buf_reset(&out);
	control_format_status(&st, c, 1010, 1, &out);
	assert_non_null(strstr(buf_cstr(&out), "\"generation\": 7, "
	    "\"snapshot_age\": 10"));
	assert_non_null(strstr(buf_cstr(&out), "\"key_states\": {\"unchecked\": 3, "
	    "\"published\": 1,"));
	assert_non_null(strstr(buf_cstr(&out), "\"last_reload\": {\"ok\": false, "
	    "\"age\": 5, \"result\": \"reload failed, keeping the running "
	    "configuration: \\\"x\\\"\"}}\n"));
	buf_reset(&out);
	st.reloads = 0;
	control_format_status(&st, NULL, 1010, 1, &out);
	assert_non_null(strstr(buf_cstr(&out), "\"last_reload\": null}"));
	buf_free(&out);
	config_free(c);
}

/* setup - the key files */
static int
setup(void **state)
{
	char path[512];

	(void)state;
	if ((dir = testutil_tmpdir()) == NULL)
		return -1;
	(void)snprintf(path, sizeof(path), "%s/ed.pem", dir);
	if (testutil_write_key(path, "ED25519", 0, 0600) != 0)
		return -1;
	(void)snprintf(path, sizeof(path), "%s/rsa.pem", dir);
	return testutil_write_key(path, "RSA", 1024, 0600);
}

/* teardown - remove them */
static int
teardown(void **state)
{
	(void)state;
	testutil_rmtree(dir);
	free(dir);
	return 0;
}

static const struct CMUnitTest other_tests[] = {
	cmocka_unit_test(control_parse_request_too_long),
	cmocka_unit_test(control_json_escapes),
	cmocka_unit_test(control_keys_filters_and_marks_the_signing_keys),
	cmocka_unit_test(control_domain_says_which_key_signs_and_why),
	cmocka_unit_test(control_status_text_and_json),
};

int
main(void)
{
	enum {
		NPARSE = sizeof(parse_cases) / sizeof(parse_cases[0]),
		NOTHER = sizeof(other_tests) / sizeof(other_tests[0]),
	};
	struct CMUnitTest tests[NPARSE + NOTHER];
	size_t i;

	memset(tests, 0, sizeof(tests));
	for (i = 0; i < NPARSE; i++) {
		tests[i].name = parse_cases[i].name;
		tests[i].test_func = control_parse_row;
		tests[i].initial_state = (void *)(uintptr_t)&parse_cases[i];
	}
	for (i = 0; i < NOTHER; i++)
		tests[NPARSE + i] = other_tests[i];
	return _cmocka_run_group_tests("control", tests, NPARSE + NOTHER, setup,
	    teardown);
}
