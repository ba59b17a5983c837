/*
 * test_verdict.c - which SMTP reply each DMARC outcome gets, table-driven
 * over the conf options that decide it (on_dns_error, dmarc_reject_action,
 * dmarc_quarantine_action).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "verdict.h"

struct dmarc_verdict_case {
	const char *name;
	const char *conf;		/* conf text (no domains needed) */
	enum dmarc_result result;
	enum dmarc_policy disposition;	/* fail: what to enact */
	enum dmarc_policy at_stake;	/* temperror: what a fail would enact */
	enum verdict_action action;
	const char *rcode;		/* NULL: none */
	const char *xcode;
	enum verdict_quarantine quarantine;
};

#define U DMARC_POLICY_UNSET
#define N DMARC_POLICY_NONE
#define Q DMARC_POLICY_QUARANTINE
#define R DMARC_POLICY_REJECT

static const struct dmarc_verdict_case dmarc_cases[] = {
	{ "pass_accepts", "", DMARC_RESULT_PASS, N, U,
	  VERDICT_ACCEPT, NULL, NULL, VERDICT_Q_NONE },
	{ "fail_reject_refuses", "", DMARC_RESULT_FAIL, R, U,
	  VERDICT_REJECT, "550", "5.7.1", VERDICT_Q_NONE },
	{ "fail_quarantine_holds", "dmarc_quarantine_action = hold\n",
	  DMARC_RESULT_FAIL, Q, U, VERDICT_ACCEPT, NULL, NULL, VERDICT_Q_HOLD },
	{ "fail_none_accepts", "", DMARC_RESULT_FAIL, N, U,
	  VERDICT_ACCEPT, NULL, NULL, VERDICT_Q_NONE },
	/* unfinished DNS never enacts the policy: it waits, or accepts */
	{ "temperror_reject_at_stake_tempfails", "", DMARC_RESULT_TEMPERROR, N, R,
	  VERDICT_TEMPFAIL, "451", "4.7.5", VERDICT_Q_NONE },
	{ "temperror_quarantine_at_stake_tempfails", "", DMARC_RESULT_TEMPERROR, N, Q,
	  VERDICT_TEMPFAIL, "451", "4.7.5", VERDICT_Q_NONE },
	{ "temperror_policy_unknown_tempfails", "", DMARC_RESULT_TEMPERROR, N, U,
	  VERDICT_TEMPFAIL, "451", "4.7.5", VERDICT_Q_NONE },
	{ "temperror_nothing_at_stake_accepts", "", DMARC_RESULT_TEMPERROR, N, N,
	  VERDICT_ACCEPT, NULL, NULL, VERDICT_Q_NONE },
	{ "temperror_on_dns_error_accept", "on_dns_error = accept\n",
	  DMARC_RESULT_TEMPERROR, N, R, VERDICT_ACCEPT, NULL, NULL, VERDICT_Q_NONE },
	{ "temperror_never_held", "dmarc_quarantine_action = hold\n",
	  DMARC_RESULT_TEMPERROR, N, Q, VERDICT_TEMPFAIL, "451", "4.7.5", VERDICT_Q_NONE },
	{ "none_accepts", "", DMARC_RESULT_NONE, N, U,
	  VERDICT_ACCEPT, NULL, NULL, VERDICT_Q_NONE },
};

/* str_eq - both NULL or equal */
static int
str_eq(const char *a, const char *b)
{
	return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* verdict_dmarc_table - every DMARC result under the options that matter */
static void
verdict_dmarc_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(dmarc_cases) / sizeof(dmarc_cases[0]); i++) {
		const struct dmarc_verdict_case *c = &dmarc_cases[i];
		struct dmarc_outcome o;
		struct verdict v;
		struct config *cfg;
		char err[512];

		cfg = config_load_string(c->conf, "t.conf", err, sizeof(err));
		if (cfg == NULL)
			fail_msg("%s: %s", c->name, err);
		memset(&o, 0, sizeof(o));
		o.result = c->result;
		o.disposition = c->disposition;
		o.at_stake = c->at_stake;
		snprintf(o.from_domain, sizeof(o.from_domain), "example.com");
		v = verdict_dmarc(cfg, &o);
		if (v.action != c->action || !str_eq(v.rcode, c->rcode)
		    || !str_eq(v.xcode, c->xcode) || v.quarantine != c->quarantine)
			fail_msg("%s: action %d %s %s quarantine %d (%s)", c->name,
			    v.action, v.rcode ? v.rcode : "-", v.xcode ? v.xcode : "-",
			    v.quarantine, v.text);
		config_free(cfg);
	}
}

/* verdict_header_refusals - forged fields past the limit, a header too large */
static void
verdict_header_refusals(void **state)
{
	struct config *cfg;
	struct verdict v;
	char err[512];

	(void)state;
	cfg = config_load_string("authserv_id = mx.example\nmax_forged_headers = 3\n",
	    "t.conf", err, sizeof(err));
	assert_non_null(cfg);
	v = verdict_forged_headers(cfg);
	assert_int_equal(v.action, VERDICT_REJECT);
	assert_string_equal(v.rcode, "550");
	assert_string_equal(v.xcode, "5.7.1");
	assert_non_null(strstr(v.text, "more than 3 header fields forged in the "
	    "name of mx.example"));
	v = verdict_header_overflow(8388608);
	assert_int_equal(v.action, VERDICT_REJECT);
	assert_string_equal(v.rcode, "552");
	assert_string_equal(v.xcode, "5.3.4");
	assert_non_null(strstr(v.text, "8388608"));
	config_free(cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(verdict_dmarc_table),
		cmocka_unit_test(verdict_header_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
