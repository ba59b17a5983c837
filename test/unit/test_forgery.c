/*
 * test_forgery.c - which header fields claim to be ours, and in which
 * order their deletions keep every index right; table-driven.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "policy/forgery.h"

#define MAXH 8

struct forgery_case {
	const char *name;
	int trusted;
	size_t limit;
	const char *hdr[MAXH][2];	/* name, value; NULL name ends */
	const char *want;		/* deletions "Name#idx ..." in order */
	size_t nauthres, nours;
	int over;
};

static const struct forgery_case cases[] = {
	{ "none_claims_us", 0, 10,
	  { { "Authentication-Results", " other.example; spf=pass" },
	    { "Subject", " hi" } }, "", 0, 0, 0 },
	{ "ours_around_foreign_last_first", 0, 10,
	  { { "Authentication-Results", " mx.example; dkim=pass" },
	    { "Authentication-Results", " other.example; spf=pass" },
	    { "authentication-results", " (c) MX.EXAMPLE.; dmarc=pass" } },
	  "authentication-results#3 Authentication-Results#1", 2, 0, 0 },
	{ "longer_id_is_not_ours", 0, 10,
	  { { "Authentication-Results", " mx.example.evil.example; dkim=pass" } },
	  "", 0, 0, 0 },
	{ "x_authmilter_from_outside", 0, 10,
	  { { "X-Authmilter-Bounce", " rcpt=<a@b>" },
	    { "Subject", " s" },
	    { "x-authmilter-quarantine", " q" },
	    { "X-Authmilter-Bounce", " rcpt=<c@d>" } },
	  "X-Authmilter-Bounce#2 x-authmilter-quarantine#1 X-Authmilter-Bounce#1",
	  0, 3, 0 },
	{ "x_authmilter_kept_for_trusted", 1, 10,
	  { { "X-Authmilter-Bounce", " rcpt=<a@b>" },
	    { "Authentication-Results", " mx.example; dkim=pass" } },
	  "Authentication-Results#1", 1, 0, 0 },
	{ "lookalike_name_is_not_ours", 0, 10,
	  { { "X-Authmilterx", " 1" }, { "X-Authmilte-Bounce", " 2" } }, "", 0, 0, 0 },
	{ "at_the_limit", 0, 2,
	  { { "Authentication-Results", " mx.example; a=b" },
	    { "Authentication-Results", " mx.example; a=b" } },
	  "Authentication-Results#2 Authentication-Results#1", 2, 0, 0 },
	{ "over_the_limit_stops", 0, 2,
	  { { "Authentication-Results", " mx.example; a=b" },
	    { "X-Authmilter-Bounce", " x" },
	    { "Authentication-Results", " mx.example; a=b" } },
	  "Authentication-Results#2 X-Authmilter-Bounce#1", 1, 1, 1 },
};

/* forgery_table - deletions, counts and the limit */
static void
forgery_table(void **state)
{
	size_t i, j, n;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct forgery_case *c = &cases[i];
		struct sign_header h[MAXH];
		struct forgery f;
		char got[512] = "";

		for (n = 0; n < MAXH && c->hdr[n][0] != NULL; n++) {
			h[n].name = c->hdr[n][0];
			h[n].value = c->hdr[n][1];
		}
		forgery_scan("mx.example", c->trusted, c->limit, h, n, &f);
		for (j = 0; j < f.ndel; j++)
			snprintf(got + strlen(got), sizeof(got) - strlen(got),
			    "%s%s#%d", j ? " " : "", f.del[j].name, f.del[j].idx);
		if (strcmp(got, c->want) != 0 || f.nauthres != c->nauthres
		    || f.nours != c->nours || f.over != c->over)
			fail_msg("%s: got \"%s\" (%zu A-R, %zu ours, over %d)",
			    c->name, got, f.nauthres, f.nours, f.over);
		forgery_free(&f);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(forgery_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
