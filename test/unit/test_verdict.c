/*
 * test_verdict.c - every reply verdict.c can pick, one table: each row
 * names a verdict_* function, the conf that decides it (on_internal_error,
 * spf_fail_action, reject_bad_from, max_forged_headers, dmarc_reject_action,
 * dmarc_quarantine_action, on_dns_error) and the module outcome, and says
 * the action, reply codes, quarantine and reply text that must come out.
 * Each row runs as its own test, named by the row.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "auth/bounce.h"
#include "policy/config.h"
#include "policy/verdict.h"

/* Which verdict_* function a row calls. */
enum verdict_call {
	CALL_INTERNAL,		/* verdict_internal_error(conf) */
	CALL_INTERNAL_NOCONF,	/* verdict_internal_error(NULL) */
	CALL_SPF,		/* verdict_spf_mailfrom; in: enum spf_res */
	CALL_BAD_FROM,		/* verdict_bad_from; reason "no From header" */
	CALL_FORGED,		/* verdict_forged_headers */
	CALL_UNAUTHORIZED,	/* verdict_unauthorized(domain) */
	CALL_OVERFLOW,		/* verdict_header_overflow(8388608) */
	CALL_DMARC,		/* verdict_dmarc; in: enum dmarc_result */
	CALL_BOUNCE,		/* verdict_bounce_rcpt; in: enum bounce_status */
};

struct verdict_case {
	const char *name;
	enum verdict_call call;
	const char *conf;		/* conf text (no domains needed) */
	int in;				/* the outcome, per call */
	enum dmarc_policy disposition;	/* DMARC fail: what to enact */
	enum dmarc_policy at_stake;	/* DMARC temperror: what a fail would enact */
	const char *domain;		/* From / SPF / sender domain; NULL: example.com */
	enum verdict_action action;
	const char *rcode;		/* NULL: none */
	const char *xcode;		/* NULL: none */
	enum verdict_quarantine quarantine;
	const char *text;		/* the reply text holds this; "": text empty */
};

#define U DMARC_POLICY_UNSET
#define N DMARC_POLICY_NONE
#define Q DMARC_POLICY_QUARANTINE
#define R DMARC_POLICY_REJECT
#define CONT VERDICT_CONTINUE
#define ACC VERDICT_ACCEPT
#define TEMP VERDICT_TEMPFAIL
#define REJ VERDICT_REJECT
#define QN VERDICT_Q_NONE
#define QH VERDICT_Q_HEADER
#define QHOLD VERDICT_Q_HOLD

#define QTEXT "DMARC policy of example.com: quarantine"
#define RTEXT "rejected by the DMARC policy of example.com"
#define DNSTEXT "DMARC check of example.com could not be completed (DNS)"
#define BTEXT "no such bounce address ("

static const struct verdict_case cases[] = {
	/* on_internal_error */
	{ "internal_error_accepts_by_default", CALL_INTERNAL, "", 0, U, U, NULL,
	  ACC, NULL, NULL, QN, "" },
	{ "internal_error_accept", CALL_INTERNAL, "on_internal_error = accept\n",
	  0, U, U, NULL, ACC, NULL, NULL, QN, "" },
	{ "internal_error_tempfail", CALL_INTERNAL,
	  "on_internal_error = tempfail\n", 0, U, U, NULL,
	  TEMP, "451", "4.3.0", QN, "temporary internal error" },
	{ "internal_error_without_conf_accepts", CALL_INTERNAL_NOCONF, "", 0,
	  U, U, NULL, ACC, NULL, NULL, QN, "" },
	/* spf_fail_action: only fail, and only when asked, refuses */
	{ "spf_fail_action_none_lets_fail_continue", CALL_SPF, "",
	  SPF_RES_FAIL, U, U, NULL, CONT, NULL, NULL, QN, "" },
	{ "spf_fail_action_none_explicit", CALL_SPF, "spf_fail_action = none\n",
	  SPF_RES_FAIL, U, U, NULL, CONT, NULL, NULL, QN, "" },
	{ "spf_reject_refuses_fail", CALL_SPF, "spf_fail_action = reject\n",
	  SPF_RES_FAIL, U, U, "spf.example", REJ, "550", "5.7.23", QN,
	  "SPF check failed: spf.example does not allow this host" },
	{ "spf_reject_spares_softfail", CALL_SPF, "spf_fail_action = reject\n",
	  SPF_RES_SOFTFAIL, U, U, NULL, CONT, NULL, NULL, QN, "" },
	{ "spf_reject_spares_neutral", CALL_SPF, "spf_fail_action = reject\n",
	  SPF_RES_NEUTRAL, U, U, NULL, CONT, NULL, NULL, QN, "" },
	{ "spf_reject_spares_none", CALL_SPF, "spf_fail_action = reject\n",
	  SPF_RES_NONE, U, U, NULL, CONT, NULL, NULL, QN, "" },
	{ "spf_reject_spares_pass", CALL_SPF, "spf_fail_action = reject\n",
	  SPF_RES_PASS, U, U, NULL, CONT, NULL, NULL, QN, "" },
	{ "spf_reject_spares_temperror", CALL_SPF, "spf_fail_action = reject\n",
	  SPF_RES_TEMPERROR, U, U, NULL, CONT, NULL, NULL, QN, "" },
	{ "spf_reject_spares_permerror", CALL_SPF, "spf_fail_action = reject\n",
	  SPF_RES_PERMERROR, U, U, NULL, CONT, NULL, NULL, QN, "" },
	/* reject_bad_from */
	{ "bad_from_refused_by_default", CALL_BAD_FROM, "", 0, U, U, NULL,
	  REJ, "550", "5.7.1", QN,
	  "exactly one From header with one address (no From header)" },
	{ "bad_from_accepted_when_off", CALL_BAD_FROM, "reject_bad_from = no\n",
	  0, U, U, NULL, ACC, NULL, NULL, QN, "" },
	/* header refusals */
	{ "forged_headers_refused_naming_limit_and_id", CALL_FORGED,
	  "authserv_id = mx.example\nmax_forged_headers = 3\n", 0, U, U, NULL,
	  REJ, "550", "5.7.1", QN,
	  "more than 3 header fields forged in the name of mx.example" },
	{ "unauthorized_sender_refused_naming_domain", CALL_UNAUTHORIZED,
	  "unauthorized_from = reject\n", 0,
	  U, U, "victim.example", REJ, "550", "5.7.1", QN,
	  "this sender may not send mail as victim.example" },
	{ "unauthorized_sender_unsigned_by_default", CALL_UNAUTHORIZED, "", 0,
	  U, U, "victim.example", CONT, NULL, NULL, QN, "" },
	{ "header_overflow_refused_naming_limit", CALL_OVERFLOW, "", 0, U, U,
	  NULL, REJ, "552", "5.3.4", QN, "message header exceeds 8388608 bytes" },
	/* DMARC: pass, none, permerror never act */
	{ "dmarc_pass_accepts", CALL_DMARC, "", DMARC_RESULT_PASS, N, U, NULL,
	  ACC, NULL, NULL, QN, "" },
	{ "dmarc_pass_ignores_disposition", CALL_DMARC, "", DMARC_RESULT_PASS,
	  R, U, NULL, ACC, NULL, NULL, QN, "" },
	{ "dmarc_none_accepts", CALL_DMARC, "", DMARC_RESULT_NONE, N, U, NULL,
	  ACC, NULL, NULL, QN, "" },
	{ "dmarc_permerror_accepts", CALL_DMARC, "", DMARC_RESULT_PERMERROR,
	  R, R, NULL, ACC, NULL, NULL, QN, "" },
	/* DMARC fail, p=reject, per dmarc_reject_action */
	{ "fail_reject_refuses_by_default", CALL_DMARC, "", DMARC_RESULT_FAIL,
	  R, U, NULL, REJ, "550", "5.7.1", QN, RTEXT },
	{ "fail_reject_action_reject", CALL_DMARC,
	  "dmarc_reject_action = reject\n", DMARC_RESULT_FAIL, R, U, NULL,
	  REJ, "550", "5.7.1", QN, RTEXT },
	{ "fail_reject_action_quarantine_header", CALL_DMARC,
	  "dmarc_reject_action = quarantine\n", DMARC_RESULT_FAIL, R, U, NULL,
	  ACC, NULL, NULL, QH, QTEXT },
	{ "fail_reject_action_quarantine_hold", CALL_DMARC,
	  "dmarc_reject_action = quarantine\ndmarc_quarantine_action = hold\n",
	  DMARC_RESULT_FAIL, R, U, NULL, ACC, NULL, NULL, QHOLD, QTEXT },
	{ "fail_reject_action_quarantine_none", CALL_DMARC,
	  "dmarc_reject_action = quarantine\ndmarc_quarantine_action = none\n",
	  DMARC_RESULT_FAIL, R, U, NULL, ACC, NULL, NULL, QN, "" },
	{ "fail_reject_action_none_accepts", CALL_DMARC,
	  "dmarc_reject_action = none\n", DMARC_RESULT_FAIL, R, U, NULL,
	  ACC, NULL, NULL, QN, "" },
	{ "fail_reject_action_none_ignores_quarantine_action", CALL_DMARC,
	  "dmarc_reject_action = none\ndmarc_quarantine_action = hold\n",
	  DMARC_RESULT_FAIL, R, U, NULL, ACC, NULL, NULL, QN, "" },
	/* DMARC fail, p=quarantine, per dmarc_quarantine_action */
	{ "fail_quarantine_header_by_default", CALL_DMARC, "", DMARC_RESULT_FAIL,
	  Q, U, NULL, ACC, NULL, NULL, QH, QTEXT },
	{ "fail_quarantine_action_header", CALL_DMARC,
	  "dmarc_quarantine_action = header\n", DMARC_RESULT_FAIL, Q, U, NULL,
	  ACC, NULL, NULL, QH, QTEXT },
	{ "fail_quarantine_action_hold", CALL_DMARC,
	  "dmarc_quarantine_action = hold\n", DMARC_RESULT_FAIL, Q, U, NULL,
	  ACC, NULL, NULL, QHOLD, QTEXT },
	{ "fail_quarantine_action_none", CALL_DMARC,
	  "dmarc_quarantine_action = none\n", DMARC_RESULT_FAIL, Q, U, NULL,
	  ACC, NULL, NULL, QN, "" },
	{ "fail_quarantine_unmoved_by_reject_action", CALL_DMARC,
	  "dmarc_reject_action = none\n", DMARC_RESULT_FAIL, Q, U, NULL,
	  ACC, NULL, NULL, QH, QTEXT },
	/* DMARC fail with nothing to enact (p=none, pct/t= lowered) */
	{ "fail_none_accepts", CALL_DMARC, "", DMARC_RESULT_FAIL, N, U, NULL,
	  ACC, NULL, NULL, QN, "" },
	{ "fail_unset_disposition_accepts", CALL_DMARC, "", DMARC_RESULT_FAIL,
	  U, U, NULL, ACC, NULL, NULL, QN, "" },
	/* DMARC temperror, per on_dns_error: never enacts the policy */
	{ "temperror_reject_at_stake_tempfails", CALL_DMARC, "",
	  DMARC_RESULT_TEMPERROR, N, R, NULL, TEMP, "451", "4.7.5", QN, DNSTEXT },
	{ "temperror_quarantine_at_stake_tempfails", CALL_DMARC, "",
	  DMARC_RESULT_TEMPERROR, N, Q, NULL, TEMP, "451", "4.7.5", QN, DNSTEXT },
	{ "temperror_policy_unknown_tempfails", CALL_DMARC,
	  "on_dns_error = tempfail\n", DMARC_RESULT_TEMPERROR, N, U, NULL,
	  TEMP, "451", "4.7.5", QN, DNSTEXT },
	{ "temperror_without_domain_names_the_sender", CALL_DMARC, "",
	  DMARC_RESULT_TEMPERROR, N, R, "", TEMP, "451", "4.7.5", QN,
	  "DMARC check of the sender could not be completed" },
	{ "temperror_nothing_at_stake_accepts", CALL_DMARC, "",
	  DMARC_RESULT_TEMPERROR, N, N, NULL, ACC, NULL, NULL, QN, "" },
	{ "temperror_on_dns_error_accept_reject_at_stake", CALL_DMARC,
	  "on_dns_error = accept\n", DMARC_RESULT_TEMPERROR, N, R, NULL,
	  ACC, NULL, NULL, QN, "" },
	{ "temperror_on_dns_error_accept_policy_unknown", CALL_DMARC,
	  "on_dns_error = accept\n", DMARC_RESULT_TEMPERROR, N, U, NULL,
	  ACC, NULL, NULL, QN, "" },
	{ "temperror_never_held", CALL_DMARC, "dmarc_quarantine_action = hold\n",
	  DMARC_RESULT_TEMPERROR, N, Q, NULL, TEMP, "451", "4.7.5", QN, DNSTEXT },
	/* bounce-domain recipients: every status */
	{ "bounce_ok_continues", CALL_BOUNCE, "", BOUNCE_OK, U, U, NULL,
	  CONT, NULL, NULL, QN, "" },
	{ "bounce_not_ours_continues", CALL_BOUNCE, "", BOUNCE_NOT_OURS, U, U,
	  NULL, CONT, NULL, NULL, QN, "" },
	{ "bounce_internal_tempfails", CALL_BOUNCE, "", BOUNCE_INTERNAL, U, U,
	  NULL, TEMP, "451", "4.3.0", QN, "bounce address cannot be checked now" },
	{ "bounce_malformed_refused", CALL_BOUNCE, "", BOUNCE_MALFORMED, U, U,
	  NULL, REJ, "550", "5.1.1", QN, BTEXT },
	{ "bounce_bad_mac_refused", CALL_BOUNCE, "", BOUNCE_BAD_MAC, U, U,
	  NULL, REJ, "550", "5.1.1", QN, BTEXT },
	{ "bounce_expired_refused", CALL_BOUNCE, "", BOUNCE_EXPIRED, U, U,
	  NULL, REJ, "550", "5.1.1", QN, BTEXT },
	{ "bounce_null_sender_refused", CALL_BOUNCE, "", BOUNCE_NULL_SENDER, U, U,
	  NULL, REJ, "550", "5.1.1", QN, BTEXT },
	{ "bounce_bad_sender_refused", CALL_BOUNCE, "", BOUNCE_BAD_SENDER, U, U,
	  NULL, REJ, "550", "5.1.1", QN, BTEXT },
	{ "bounce_loop_refused", CALL_BOUNCE, "", BOUNCE_LOOP, U, U,
	  NULL, REJ, "550", "5.1.1", QN, BTEXT },
	{ "bounce_too_long_refused", CALL_BOUNCE, "", BOUNCE_TOO_LONG, U, U,
	  NULL, REJ, "550", "5.1.1", QN, BTEXT },
	{ "bounce_bad_domain_refused", CALL_BOUNCE, "", BOUNCE_BAD_DOMAIN, U, U,
	  NULL, REJ, "550", "5.1.1", QN, BTEXT },
	{ "bounce_unknown_local_refused", CALL_BOUNCE, "", BOUNCE_UNKNOWN_LOCAL,
	  U, U, NULL, REJ, "550", "5.1.1", QN, BTEXT },
};

/* str_eq - both NULL or equal */
static int
str_eq(const char *a, const char *b)
{
	return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* verdict_run - call the row's function with its conf and outcome */
static struct verdict
verdict_run(const struct verdict_case *c, const struct config *cfg)
{
	const char *dom = c->domain ? c->domain : "example.com";
	struct spf_outcome so;
	struct dmarc_outcome dmo;

	switch (c->call) {
	case CALL_INTERNAL:
		return verdict_internal_error(cfg);
	case CALL_INTERNAL_NOCONF:
		return verdict_internal_error(NULL);
	case CALL_SPF:
		memset(&so, 0, sizeof(so));
		so.res = (enum spf_res)c->in;
		(void)snprintf(so.domain, sizeof(so.domain), "%s", dom);
		return verdict_spf_mailfrom(cfg, &so);
	case CALL_BAD_FROM:
		return verdict_bad_from(cfg, "no From header");
	case CALL_FORGED:
		return verdict_forged_headers(cfg);
	case CALL_UNAUTHORIZED:
		return verdict_unauthorized(cfg, dom);
	case CALL_OVERFLOW:
		return verdict_header_overflow(8388608);
	case CALL_DMARC:
		memset(&dmo, 0, sizeof(dmo));
		dmo.result = (enum dmarc_result)c->in;
		dmo.disposition = c->disposition;
		dmo.at_stake = c->at_stake;
		(void)snprintf(dmo.from_domain, sizeof(dmo.from_domain), "%s", dom);
		return verdict_dmarc(cfg, &dmo);
	case CALL_BOUNCE:
	default:
		return verdict_bounce_rcpt((enum bounce_status)c->in);
	}
}

/* verdict_row_ok - the verdict is the row's; a refused bounce names its status */
static int
verdict_row_ok(const struct verdict_case *c, const struct verdict *v)
{
	if (v->action != c->action || !str_eq(v->rcode, c->rcode)
	    || !str_eq(v->xcode, c->xcode) || v->quarantine != c->quarantine)
		return 0;
	if (c->text[0] == '\0' ? v->text[0] != '\0'
	    : strstr(v->text, c->text) == NULL)
		return 0;
	return c->call != CALL_BOUNCE || c->action != VERDICT_REJECT
	    || strstr(v->text, bounce_status_text((enum bounce_status)c->in))
	    != NULL;
}

/* verdict_row - one row, run as its own test (state: the row) */
static void
verdict_row(void **state)
{
	const struct verdict_case *c = *state;
	struct config *cfg;
	struct verdict v;
	char err[512];

	cfg = config_load_string(c->conf, "t.conf", err, sizeof(err));
	if (cfg == NULL)
		fail_msg("%s: %s", c->name, err);
	v = verdict_run(c, cfg);
	config_free(cfg);
	if (!verdict_row_ok(c, &v))
		fail_msg("row %s: action %d %s %s quarantine %d \"%s\"", c->name,
		    v.action, v.rcode ? v.rcode : "-", v.xcode ? v.xcode : "-",
		    v.quarantine, v.text);
}

int
main(void)
{
	enum { NCASES = sizeof(cases) / sizeof(cases[0]) };
	struct CMUnitTest tests[NCASES];
	size_t i;

	/* one test per row, named by the row */
	for (i = 0; i < NCASES; i++) {
		memset(&tests[i], 0, sizeof(tests[i]));
		tests[i].name = cases[i].name;
		tests[i].test_func = verdict_row;
		tests[i].initial_state = (void *)(uintptr_t)&cases[i];
	}
	return _cmocka_run_group_tests("verdict", tests, NCASES, NULL, NULL);
}
