/*
 * test_mode.c - the sign-or-verify decision, table-driven.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "mode.h"
#include "testutil.h"

static char *dir;
static struct config *cfg;		/* internal 10/8, ::1; example.com block */
static struct config *cfg_env;		/* same with sign_from = envelope */

/* setup - a key and two snapshots */
static int
setup(void **state)
{
	char key[512], text[1024], err[512];

	(void)state;
	dir = testutil_tmpdir();
	snprintf(key, sizeof(key), "%s/k.pem", dir);
	if (testutil_write_key(key, "ED25519", 0, 0600) != 0)
		return -1;
	snprintf(text, sizeof(text), "internal_hosts = 10.0.0.0/8, ::1\n"
	    "domain example.com {\nkey = s1 %s\n}\n", key);
	cfg = config_load_string(text, "t.conf", err, sizeof(err));
	snprintf(text, sizeof(text), "internal_hosts = 10.0.0.0/8, ::1\n"
	    "sign_from = envelope\ndomain example.com {\nkey = s1 %s\n}\n", key);
	cfg_env = config_load_string(text, "t.conf", err, sizeof(err));
	return cfg && cfg_env ? 0 : -1;
}

/* teardown - free them */
static int
teardown(void **state)
{
	(void)state;
	config_free(cfg);
	config_free(cfg_env);
	testutil_rmtree(dir);
	free(dir);
	return 0;
}

struct mode_case {
	const char *name;
	int envelope;			/* use cfg_env */
	const char *auth;
	const char *addr;
	size_t nfrom;
	const char *from;
	const char *envfrom;
	enum mode_kind want;
	int want_trusted;
	const char *want_reason;	/* substring */
};

static const struct mode_case cases[] = {
	{ "authenticated outside client signs", 0, "alice", "192.0.2.7", 1,
	  " Alice <alice@example.com>", "<x@y.net>", MODE_SIGN, 1, "authenticated" },
	{ "internal client signs", 0, NULL, "10.1.2.3", 1, " a@Example.COM",
	  "<>", MODE_SIGN, 1, "internal client" },
	{ "internal IPv6 signs", 0, NULL, "::1", 1, " a@example.com", "<>",
	  MODE_SIGN, 1, "internal" },
	{ "IPv4-mapped internal signs", 0, NULL, "::ffff:10.0.0.1", 1,
	  " a@example.com", "<>", MODE_SIGN, 1, "internal" },
	{ "outside client verifies", 0, NULL, "192.0.2.7", 1, " a@example.com",
	  "<a@example.com>", MODE_VERIFY, 0, "neither authenticated" },
	{ "empty auth is not auth", 0, "", "192.0.2.7", 1, " a@example.com",
	  "<>", MODE_VERIFY, 0, "neither" },
	{ "unknown client verifies", 0, NULL, NULL, 1, " a@example.com", "<>",
	  MODE_VERIFY, 0, "(unknown)" },
	{ "unconfigured From domain not signed", 0, "alice", "192.0.2.7", 1,
	  " a@other.example", "<>", MODE_VERIFY, 1, "other.example has no domain block" },
	{ "subdomain is not the domain", 0, "alice", "192.0.2.7", 1,
	  " a@sub.example.com", "<>", MODE_VERIFY, 1, "no domain block" },
	{ "no From not signed", 0, "alice", "192.0.2.7", 0, NULL, "<>",
	  MODE_VERIFY, 1, "no From header" },
	{ "two From not signed", 0, "alice", "192.0.2.7", 2, " a@example.com",
	  "<>", MODE_VERIFY, 1, "more than one From" },
	{ "two addresses not signed", 0, "alice", "192.0.2.7", 1,
	  " a@example.com, b@example.com", "<>", MODE_VERIFY, 1, "several addresses" },
	{ "From without domain not signed", 0, "alice", "192.0.2.7", 1,
	  " alice", "<>", MODE_VERIFY, 1, "without a valid domain" },
	{ "malformed From not signed", 0, "alice", "192.0.2.7", 1,
	  " \"unterminated <a@example.com>", "<>", MODE_VERIFY, 1, "malformed" },
	{ "envelope mode uses MAIL FROM", 1, "alice", "192.0.2.7", 1,
	  " a@other.example", "<bounce@example.com>", MODE_SIGN, 1, "domain example.com" },
	{ "envelope mode null sender not signed", 1, "alice", "192.0.2.7", 1,
	  " a@example.com", "<>", MODE_VERIFY, 1, "envelope sender domain (none)" },
};

/* mode_decides_by_table - every case gets its decision and reason */
static void
mode_decides_by_table(void **state)
{
	struct mode_input in;
	struct mode_result r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&in, 0, sizeof(in));
		in.auth_authen = cases[i].auth;
		in.client_addr = cases[i].addr;
		in.nfrom = cases[i].nfrom;
		in.from_value = cases[i].from;
		in.envelope_from = cases[i].envfrom;
		mode_decide(cases[i].envelope ? cfg_env : cfg, &in, &r);
		if (r.kind != cases[i].want || r.trusted != cases[i].want_trusted
		    || strstr(r.reason, cases[i].want_reason) == NULL)
			fail_msg("case \"%s\": kind %d trusted %d reason \"%s\"",
			    cases[i].name, r.kind, r.trusted, r.reason);
		if (r.kind == MODE_SIGN)
			assert_string_equal(r.domain->name, "example.com");
		mode_result_free(&r);
	}
}

/* A platform with tenants: which trusted client may sign for which block. */
struct tenant_case {
	const char *name;
	const char *auth;
	const char *addr;
	const char *from;
	const char *signed_for;		/* block signed for, NULL: none */
	const char *refused;		/* block the client may not sign for */
	const char *want_reason;	/* substring */
};

static const struct tenant_case tenant_cases[] = {
	{ "login of the tenant's own domain", "ceo@customer-a.example", "192.0.2.7",
	  " ceo@customer-a.example", "customer-a.example", NULL, "sign: authenticated" },
	{ "login case does not matter", "CEO@Customer-A.Example", "192.0.2.7",
	  " ceo@customer-a.example", "customer-a.example", NULL, "sign" },
	{ "another tenant's login", "x@customer-a.example", "192.0.2.7",
	  " ceo@victim.example", NULL, "victim.example",
	  "login x@customer-a.example is not among the signers of victim.example" },
	{ "a login at a subdomain is not the domain", "x@sub.victim.example", "192.0.2.7",
	  " ceo@victim.example", NULL, "victim.example", "not among the signers" },
	{ "a bare login matches no *@%d", "alice", "192.0.2.7",
	  " a@customer-a.example", NULL, "customer-a.example", "not among" },
	{ "an exact login listed", "relay-1", "192.0.2.7",
	  " a@victim.example", "victim.example", NULL, "sign" },
	{ "login from an allowed network still judged by login",
	  "x@customer-a.example", "10.9.0.1", " a@victim.example", NULL,
	  "victim.example", "not among" },
	{ "internal client in the block's networks", NULL, "10.9.0.1",
	  " a@victim.example", "victim.example", NULL, "internal" },
	{ "internal client outside the block's networks", NULL, "10.1.0.1",
	  " a@victim.example", NULL, "victim.example",
	  "client 10.1.0.1 is not in the signer_networks of victim.example" },
	{ "block without networks: all internal hosts", NULL, "10.1.0.1",
	  " a@customer-a.example", "customer-a.example", NULL, "internal" },
	{ "the global default applies to blocks that say nothing", "any@else.example",
	  "192.0.2.7", " a@open.example", "open.example", NULL, "sign" },
};

/* mode_tenants_sign_only_their_domains - signers and signer_networks */
static void
mode_tenants_sign_only_their_domains(void **state)
{
	struct config *t;
	struct mode_input in;
	struct mode_result r;
	char text[2048], err[512];
	size_t i;

	(void)state;
	snprintf(text, sizeof(text), "internal_hosts = 10.0.0.0/8\n"
	    "signers = *\n"
	    "domain customer-a.example {\nkey = s1 %s/k.pem\nsigners = *@%%d\n}\n"
	    "domain victim.example {\nkey = s1 %s/k.pem\n"
	    "signers = *@%%d, relay-1\nsigner_networks = 10.9.0.0/16\n}\n"
	    "domain open.example {\nkey = s1 %s/k.pem\n}\n", dir, dir, dir);
	t = config_load_string(text, "t.conf", err, sizeof(err));
	if (t == NULL)
		fail_msg("config: %s", err);
	for (i = 0; i < sizeof(tenant_cases) / sizeof(tenant_cases[0]); i++) {
		const struct tenant_case *c = &tenant_cases[i];

		memset(&in, 0, sizeof(in));
		in.auth_authen = c->auth;
		in.client_addr = c->addr;
		in.nfrom = 1;
		in.from_value = c->from;
		in.envelope_from = "<>";
		mode_decide(t, &in, &r);
		if (strstr(r.reason, c->want_reason) == NULL
		    || (c->signed_for == NULL) != (r.domain == NULL)
		    || (c->signed_for != NULL && strcmp(r.domain->name, c->signed_for) != 0)
		    || (c->refused == NULL) != (r.unauthorized == NULL)
		    || (c->refused != NULL && strcmp(r.unauthorized->name, c->refused) != 0)
		    || !r.trusted)
			fail_msg("case \"%s\": domain %s refused %s reason \"%s\"",
			    c->name, r.domain ? r.domain->name : "-",
			    r.unauthorized ? r.unauthorized->name : "-", r.reason);
		mode_result_free(&r);
	}
	config_free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(mode_decides_by_table),
		cmocka_unit_test(mode_tenants_sign_only_their_domains),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
