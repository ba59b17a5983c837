/*
 * test_mailaddr.c - From header and SMTP path parsing, including hostile input.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "mailaddr.h"

struct addr_case {
	const char *value;	/* header value */
	int count;		/* addresses, or -1 for malformed */
	const char *domain;	/* domain of the first address, NULL: none */
};

static const struct addr_case cases[] = {
	{ " alice@example.com", 1, "example.com" },
	{ " Alice <alice@Example.COM>", 1, "example.com" },
	{ " \"Smith, Alice\" <alice@example.com>", 1, "example.com" },
	{ " \"a@evil.example\" <alice@example.com>", 1, "example.com" },
	{ " alice@example.com (Alice @ evil.example)", 1, "example.com" },
	{ " (comment, with comma) alice@example.com", 1, "example.com" },
	{ " \"quoted local\"@example.com", 1, "example.com" },
	{ " <@route.example:alice@example.com>", 1, "example.com" },
	{ " alice@example.com.", 1, "example.com" },
	{ " a@one.example, b@two.example", 2, "one.example" },
	{ " a@one.example,\n\tb@two.example", 2, "one.example" },
	{ " team: a@one.example, b@two.example;", 2, "one.example" },
	{ " undisclosed-recipients:;", 0, NULL },
	{ " alice", 1, NULL },
	{ " alice@", 1, NULL },
	{ "", 0, NULL },
	{ " ,,", 0, NULL },
	{ " <>", -1, NULL },
	{ " \"unterminated <a@example.com>", -1, NULL },
	{ " Alice <alice@example.com", -1, NULL },
	{ " (unclosed comment alice@example.com", -1, NULL },
	{ " <<a@example.com>>", -1, NULL },
	{ " a@[192.0.2.1]", 1, "[192.0.2.1]" },
};

/* mailaddr_parses_from_values - count and first domain for each case */
static void
mailaddr_parses_from_values(void **state)
{
	struct mailaddr_list l;
	size_t i;
	int n;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		n = mailaddr_parse_list(cases[i].value, &l);
		if (n != cases[i].count)
			fail_msg("\"%s\": %d addresses, wanted %d", cases[i].value,
			    n, cases[i].count);
		if (n > 0) {
			const char *d = l.v[0].domain;

			if ((d == NULL) != (cases[i].domain == NULL)
			    || (d != NULL && strcmp(d, cases[i].domain) != 0))
				fail_msg("\"%s\": domain %s, wanted %s", cases[i].value,
				    d ? d : "(none)", cases[i].domain ? cases[i].domain : "(none)");
		}
		mailaddr_list_free(&l);
	}
}

/* mailaddr_envelope_domain_cases - MAIL FROM paths */
static void
mailaddr_envelope_domain_cases(void **state)
{
	char *d;

	(void)state;
	d = mailaddr_envelope_domain("<Bounce@Example.COM>");
	assert_string_equal(d, "example.com");
	free(d);
	d = mailaddr_envelope_domain("user@example.net");
	assert_string_equal(d, "example.net");
	free(d);
	assert_null(mailaddr_envelope_domain("<>"));
	assert_null(mailaddr_envelope_domain(""));
	assert_null(mailaddr_envelope_domain("<postmaster>"));
}

/* mailaddr_domain_syntax - what counts as a domain name */
static void
mailaddr_domain_syntax(void **state)
{
	static const char *good[] = { "example.com", "a.b-c.d", "xn--bcher-kva.example",
		"b\xc3\xbc" "cher.example", "_dmarc.example.com", "com", NULL };
	static const char *bad[] = { "", ".example.com", "a..b", "-a.com", "a-.com",
		"a b.com", "a;b.com", "exa\nmple.com",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com",
		NULL };
	size_t i;

	(void)state;
	for (i = 0; good[i] != NULL; i++)
		if (!mailaddr_domain_valid(good[i]))
			fail_msg("\"%s\" should be valid", good[i]);
	for (i = 0; bad[i] != NULL; i++)
		if (mailaddr_domain_valid(bad[i]))
			fail_msg("\"%s\" should be invalid", bad[i]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(mailaddr_parses_from_values),
		cmocka_unit_test(mailaddr_envelope_domain_cases),
		cmocka_unit_test(mailaddr_domain_syntax),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
