/*
 * test_cidr.c - network lists: parsing and matching.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "base/cidr.h"

struct match_case {
	const char *list;
	const char *addr;
	int want;
};

static const struct match_case cases[] = {
	{ "127.0.0.0/8", "127.1.2.3", 1 },
	{ "127.0.0.0/8", "128.0.0.1", 0 },
	{ "192.0.2.1", "192.0.2.1", 1 },
	{ "192.0.2.1", "192.0.2.2", 0 },
	{ "10.0.0.0/9", "10.127.255.255", 1 },
	{ "10.0.0.0/9", "10.128.0.0", 0 },
	{ "0.0.0.0/0", "203.0.113.9", 1 },
	{ "::1", "::1", 1 },
	{ "::1", "::2", 0 },
	{ "2001:db8::/32", "2001:db8:ffff::1", 1 },
	{ "2001:db8::/33", "2001:db8:8000::1", 0 },
	{ "10.0.0.0/8", "::ffff:10.9.9.9", 1 },
	{ "10.0.0.0/8", "2001:db8::1", 0 },
	{ "", "127.0.0.1", 0 },
	{ "10.1.2.3/8", "10.200.0.1", 1 },	/* host bits ignored */
	{ "10.0.0.0/8", "not-an-ip", 0 },
};

/* cidr_matches_by_table - text matches */
static void
cidr_matches_by_table(void **state)
{
	struct cidr_list l;
	char err[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(cidr_list_parse(cases[i].list, &l, err, sizeof(err)), 0);
		if (cidr_list_match_str(&l, cases[i].addr) != cases[i].want)
			fail_msg("%s in %s: wanted %d", cases[i].addr, cases[i].list,
			    cases[i].want);
		cidr_list_free(&l);
	}
}

/* cidr_matches_sockaddr - IPv4 and mapped IPv6 socket addresses */
static void
cidr_matches_sockaddr(void **state)
{
	struct sockaddr_in s4;
	struct sockaddr_in6 s6;
	struct cidr_list l;
	char err[128], text[128];

	(void)state;
	assert_int_equal(cidr_list_parse("127.0.0.0/8, ::1", &l, err, sizeof(err)), 0);
	memset(&s4, 0, sizeof(s4));
	s4.sin_family = AF_INET;
	inet_pton(AF_INET, "127.0.0.1", &s4.sin_addr);
	assert_true(cidr_list_match(&l, (struct sockaddr *)&s4));
	memset(&s6, 0, sizeof(s6));
	s6.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "::ffff:127.0.0.2", &s6.sin6_addr);
	assert_true(cidr_list_match(&l, (struct sockaddr *)&s6));
	inet_pton(AF_INET6, "::2", &s6.sin6_addr);
	assert_false(cidr_list_match(&l, (struct sockaddr *)&s6));
	assert_false(cidr_list_match(&l, NULL));
	cidr_list_format(&l, text, sizeof(text));
	assert_string_equal(text, "127.0.0.0/8, ::1/128");
	cidr_list_free(&l);
}

/* cidr_rejects_garbage - bad entries are errors */
static void
cidr_rejects_garbage(void **state)
{
	static const char *bad[] = { "300.0.0.1", "10.0.0.0/", "10.0.0.0/x",
		"::1/129", "1.2.3.4/-1", "example.com", NULL };
	struct cidr_list l;
	char err[128];
	size_t i;

	(void)state;
	for (i = 0; bad[i] != NULL; i++)
		if (cidr_list_parse(bad[i], &l, err, sizeof(err)) == 0)
			fail_msg("\"%s\" accepted", bad[i]);
}

struct hostport_case {
	const char *text;
	int family;		/* 0: refused */
	unsigned short port;
};

/* cidr_parses_listen_addresses - ADDR:PORT and [ADDR6]:PORT, numeric, port 1-65535 */
static void
cidr_parses_listen_addresses(void **state)
{
	static const struct hostport_case cases[] = {
		{ "127.0.0.1:9187", AF_INET, 9187 },
		{ "0.0.0.0:1", AF_INET, 1 },
		{ "[::1]:65535", AF_INET6, 65535 },
		{ "[2001:db8::5]:80", AF_INET6, 80 },
		{ "127.0.0.1", 0, 0 },
		{ "127.0.0.1:", 0, 0 },
		{ "127.0.0.1:0", 0, 0 },
		{ "127.0.0.1:65536", 0, 0 },
		{ "127.0.0.1:+80", 0, 0 },
		{ "127.0.0.1:80x", 0, 0 },
		{ ":9187", 0, 0 },
		{ "localhost:9187", 0, 0 },
		{ "::1:9187", 0, 0 },
		{ "[::1]9187", 0, 0 },
		{ "[127.0.0.1]:9187", 0, 0 },
		{ "[::1", 0, 0 },
		{ "", 0, 0 },
	};
	struct sockaddr_storage ss;
	socklen_t len;
	char err[256];
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		rc = cidr_parse_hostport(cases[i].text, &ss, &len, err, sizeof(err));
		if (cases[i].family == 0) {
			if (rc == 0)
				fail_msg("\"%s\" accepted", cases[i].text);
			assert_true(err[0] != '\0');
			continue;
		}
		if (rc != 0)
			fail_msg("\"%s\": %s", cases[i].text, err);
		assert_int_equal(ss.ss_family, cases[i].family);
		assert_int_equal(ntohs(cases[i].family == AF_INET ?
		    ((struct sockaddr_in *)&ss)->sin_port
		    : ((struct sockaddr_in6 *)&ss)->sin6_port), cases[i].port);
		assert_int_equal(len, cases[i].family == AF_INET ?
		    sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(cidr_matches_by_table),
		cmocka_unit_test(cidr_matches_sockaddr),
		cmocka_unit_test(cidr_rejects_garbage),
		cmocka_unit_test(cidr_parses_listen_addresses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
