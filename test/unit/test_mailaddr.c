/*
 * test_mailaddr.c - From header and SMTP path parsing, including hostile input
 * (the "Composition Kills" / espoofer class: a From that different parsers
 * read as different authors must give no domain at all).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/mailaddr.h"

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
	{ " team: a@one.example, b@two.example;", -1, NULL },
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

/*
 * What DMARC gets from a From value: the domain it evaluates, or NULL when
 * the From is "bad" (not exactly one mailbox with a usable domain).
 */
struct from_case {
	const char *what;	/* the behaviour */
	const char *value;	/* From header value */
	const char *domain;	/* the domain DMARC evaluates; NULL: bad From */
};

static const struct from_case from_cases[] = {
	/* issue 12: each got dmarc=pass for attacker.com */
	{ "addr-spec followed by an angle-addr is bad",
	  "ceo@victim.com<a@attacker.com>", NULL },
	{ "comments hiding a quote around an addr-spec are bad",
	  "(\")ceo@victim.com(\") a@attacker.com", NULL },
	{ "two at-signs are bad", "ceo@victim.com@attacker.com", NULL },
	{ "backslash outside a quoted string is bad",
	  "ceo\\@victim.com@attacker.com", NULL },
	{ "angle-addr followed by an addr-spec is bad",
	  "<a@attacker.com>ceo@victim.com", NULL },
	/* several authors */
	{ "two addr-specs are bad", " ceo@victim.com, a@attacker.com", NULL },
	{ "two angle-addrs are bad", " <a@attacker.com>,<ceo@victim.com>", NULL },
	{ "two name-addrs are bad",
	  " CEO <ceo@victim.com>, Eve <a@attacker.com>", NULL },
	{ "encoded-word then an address is two mailboxes",
	  " =?utf-8?b?Y2VvQHZpY3RpbS5jb20=?=,<a@attacker.com>", NULL },
	{ "unquoted comma in a display name makes two",
	  " Victim, CEO <a@attacker.com>", NULL },
	/* no author */
	{ "empty value is bad", "", NULL },
	{ "blank value is bad", "   ", NULL },
	{ "folded blank value is bad", " \r\n ", NULL },
	{ "null address is bad", " <>", NULL },
	{ "display name with a null address is bad", " CEO <>", NULL },
	{ "only a comment is bad", " (ceo@victim.com)", NULL },
	{ "only a display name is bad", " \"ceo@victim.com\"", NULL },
	{ "empty group is bad", " undisclosed-recipients:;", NULL },
	{ "group with one member is bad", " victim.com: a@attacker.com;", NULL },
	{ "group then a mailbox is bad",
	  " g:;, a@attacker.com", NULL },
	{ "mailbox then a group is bad",
	  " a@attacker.com, g: ceo@victim.com;", NULL },
	/* no usable domain */
	{ "empty domain is bad", " ceo@", NULL },
	{ "empty domain in angles is bad", " <ceo@>", NULL },
	{ "no at-sign is bad", " ceo", NULL },
	{ "domain literal has no usable domain", " a@[192.0.2.1]", NULL },
	{ "domain with an empty label is bad", " a@attacker..com", NULL },
	{ "domain starting with a dot is bad", " a@.attacker.com", NULL },
	/* unbalanced */
	{ "missing closing angle is bad", " CEO <a@attacker.com", NULL },
	{ "missing opening angle is bad", " a@attacker.com>", NULL },
	{ "doubled angles are bad", " <<a@attacker.com>>", NULL },
	{ "an extra closing angle is bad", " <a@attacker.com>>", NULL },
	{ "unclosed quoted string is bad",
	  " \"ceo@victim.com <a@attacker.com>", NULL },
	{ "escaped closing quote leaves the string open",
	  " \"ceo@victim.com\\\" <a@attacker.com>", NULL },
	{ "unclosed comment is bad", " a@attacker.com (ceo@victim.com", NULL },
	{ "unclosed nested comment is bad",
	  " ((ceo@victim.com) a@attacker.com", NULL },
	{ "stray closing parenthesis is bad", " a@attacker.com)", NULL },
	{ "escaped closing parenthesis leaves the comment open",
	  " (x\\) a@attacker.com", NULL },
	{ "stray quote after the address is bad", " a@attacker.com\"", NULL },
	{ "angle-addr inside angles is bad",
	  " <ceo@victim.com<a@attacker.com>>", NULL },
	/* trailing garbage */
	{ "word after an addr-spec is bad", " a@attacker.com ceo", NULL },
	{ "word after an angle-addr is bad", " <a@attacker.com> ceo", NULL },
	{ "semicolon after the address is bad",
	  " a@attacker.com;ceo@victim.com", NULL },
	{ "colon after the address is bad", " a@attacker.com:ceo", NULL },
	{ "at-sign after an angle-addr is bad", " <a@attacker.com>@victim.com", NULL },
	{ "bracket after the domain is bad", " a@attacker.com[x]", NULL },
	{ "route without a colon is bad", " <@victim.com a@attacker.com>", NULL },
	/* phrases and local parts that are neither */
	{ "two words before an at-sign are bad", " ceo victim@attacker.com", NULL },
	{ "display name without angles is bad",
	  " CEO ceo@victim.com a@attacker.com", NULL },
	{ "display name starting with a dot is bad", " .CEO <a@attacker.com>", NULL },
	{ "backslash in a display name is bad", " CEO\\ <a@attacker.com>", NULL },
	{ "unquoted quote-pair in a local part is bad", " a\\\"b@attacker.com", NULL },
	/* control characters, bare line ends */
	{ "control character in a local part is bad", " a\001b@attacker.com", NULL },
	{ "control character in a domain is bad", " a@attacker\033.com", NULL },
	{ "DEL after the address is bad", " a@attacker.com\177", NULL },
	{ "C1 control (UTF-8) in a display name is bad",
	  " \xc2\x85" "CEO <a@attacker.com>", NULL },
	{ "raw 8-bit control byte in a domain is bad", " a@attacker.com\x85", NULL },
	{ "malformed UTF-8 in a local part is bad", " \xc3(@attacker.com", NULL },
	{ "Latin-1 in a raw display name passes (legacy mailers)", " J\xf6rg <a@attacker.com>", "attacker.com" },
	{ "Latin-1 in a local part is bad (not RFC 6532)", " j\xf6rg@b.example", NULL },
	{ "Latin-1 in an angle-addr local part is bad", " Joerg <j\xf6rg@b.example>", NULL },
	{ "Latin-1 in a domain is bad", " a@b\xf6.example", NULL },
	{ "overlong UTF-8 at-sign is bad", " ceo\xc1\x80victim.com@attacker.com", NULL },
	{ "line end not followed by white space is bad",
	  " ceo@victim.com\r\n<a@attacker.com>", NULL },
	{ "bare LF then a second address is bad",
	  " a@attacker.com\nceo@victim.com", NULL },
	{ "bare CR inside the address is bad", " a@attacker\r.com", NULL },
	/* valid, and the domain is the one DMARC must judge */
	{ "address in a quoted display name is only a name",
	  " \"ceo@victim.com\" <a@attacker.com>", "attacker.com" },
	{ "angle-addr in a quoted display name is only a name",
	  " \"CEO <ceo@victim.com>\" <a@attacker.com>", "attacker.com" },
	{ "encoded-word display name", " =?utf-8?b?Q0VPIDxjZW9AdmljdGltLmNvbT4=?= "
	  "<a@attacker.com>", "attacker.com" },
	{ "quoted encoded-word display name",
	  " \"=?utf-8?Q?ceo=40victim.com?=\" <a@attacker.com>", "attacker.com" },
	{ "quoted local part holding an address",
	  " \"ceo@victim.com\"@attacker.com", "attacker.com" },
	{ "quoted-pair in a quoted local part", " \"ceo\\\"@victim.com\"@attacker.com",
	  "attacker.com" },
	{ "escaped backslash ends a quoted local part", " \"a\\\\\"@attacker.com",
	  "attacker.com" },
	{ "route-addr: the route is not the author",
	  " <@victim.com:a@attacker.com>", "attacker.com" },
	{ "route-addr with two hops and a display name",
	  " CEO <@victim.com,@relay.example:a@attacker.com>", "attacker.com" },
	{ "route-addr with empty hops and comments",
	  " <,@victim.com, ,(x) @relay.example:a@attacker.com>", "attacker.com" },
	{ "address in a trailing comment is only a comment",
	  " a@attacker.com (ceo@victim.com)", "attacker.com" },
	{ "address in a comment inside angles", " <(ceo@victim.com)a@attacker.com>",
	  "attacker.com" },
	{ "comment between local part and at-sign",
	  " ceo(@attacker.com)@victim.com", "victim.com" },
	{ "comment after the at-sign", " ceo@(attacker.com)victim.com", "victim.com" },
	{ "nested comments", " ((a@attacker.com) (b (c))) ceo@victim.com ((x))",
	  "victim.com" },
	{ "quoted-pair parentheses in a comment",
	  " (\\(a@attacker.com) ceo@victim.com", "victim.com" },
	{ "quote inside a comment is only text", " (\") ceo@victim.com (\")",
	  "victim.com" },
	/* real mail that must keep working */
	{ "name-addr", " Alice <alice@Example.COM>", "example.com" },
	{ "quoted display name with a comma",
	  " \"Last, First\" <first.last@b.example>", "b.example" },
	{ "addr-spec with a trailing comment", " a@b.example (Comment)", "b.example" },
	{ "bare angle-addr", "<a@b.example>", "b.example" },
	{ "no space before the angle", " Alice<a@b.example>", "b.example" },
	{ "folded (CRLF) before the angle", " Alice Example\r\n <a@b.example>",
	  "b.example" },
	{ "folded (LF, as Postfix passes it) before the angle",
	  " Alice Example\n\t<a@b.example>", "b.example" },
	{ "folded inside a quoted display name",
	  " \"Alice\r\n Example\" <a@b.example>", "b.example" },
	{ "folded with a white-space-only line (obs-FWS)",
	  " Mary Smith\r\n \r\n <mary@example.net>", "example.net" },
	{ "obs-phrase with dots", " Joe Q. Public <john.q.public@example.com>",
	  "example.com" },
	{ "obs-phrase ending with a dot", " Public Jr. <a@b.example>", "b.example" },
	{ "words and quoted strings mixed", " \"Joe\" Q \"Public\" <a@b.example>",
	  "b.example" },
	{ "RFC 5322 A.5 comments everywhere",
	  " Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>",
	  "silly.test" },
	{ "RFC 5322 A.6.3 CFWS inside the domain",
	  " John Doe <jdoe@machine(comment).  example>", "machine.example" },
	{ "white space inside angles (obs)", " < a . b @ c . example >", "c.example" },
	{ "plus and other atext", " first.last+tag=x/y{z}@sub.b.example", "sub.b.example" },
	{ "trailing dot in the domain", " a@b.example.", "b.example" },
	{ "upper case domain", " A@B.EXAMPLE", "b.example" },
	{ "one mailbox and a trailing comma (obs-mbox-list)", " a@b.example,",
	  "b.example" },
	{ "consecutive and trailing dots in a local part (deployed mail)",
	  " x..y.@docomo.example.jp", "docomo.example.jp" },
	{ "tab-separated", "\tAlice\t<a@b.example>\t", "b.example" },
	{ "UTF-8 quoted display name",
	  " \"J\xc3\xb6rg M\xc3\xbcller\" <j@b.example>", "b.example" },
	{ "UTF-8 unquoted display name (RFC 6532)",
	  " J\xc3\xb6rg <j@b.example>", "b.example" },
	{ "Latin-1 in a quoted display name",
	  " \"J\xf6rg\" <j@b.example>", "b.example" },
	{ "UTF-8 local part (RFC 6532)", " j\xc3\xb6rg@b.example", "b.example" },
	{ "UTF-8 domain",
	  " a@b\xc3\xbc" "cher.example", "b\xc3\xbc" "cher.example" },
	{ "A-label domain", " a@xn--bcher-kva.example", "xn--bcher-kva.example" },
	{ "four-byte UTF-8 in a display name",
	  " \xf0\x9f\x93\xa7 Mail <a@b.example>", "b.example" },
};

/* mailaddr_from_domain - the domain mode_from_domain would take, or NULL */
static char *
mailaddr_from_domain(const char *value)
{
	struct mailaddr_list l;
	char *d = NULL;

	if (mailaddr_parse_list(value, &l) == 1 && l.v[0].domain != NULL
	    && mailaddr_domain_ok(l.v[0].domain, strlen(l.v[0].domain),
	    MAILADDR_DOMAIN_UTF8))
		d = strdup(l.v[0].domain);
	mailaddr_list_free(&l);
	return d;
}

/* mailaddr_from_has_one_author - the domain DMARC judges, or a bad From */
static void
mailaddr_from_has_one_author(void **state)
{
	size_t i, bad = 0;
	char *d;

	(void)state;
	for (i = 0; i < sizeof(from_cases) / sizeof(from_cases[0]); i++) {
		d = mailaddr_from_domain(from_cases[i].value);
		if ((d == NULL) != (from_cases[i].domain == NULL)
		    || (d != NULL && strcmp(d, from_cases[i].domain) != 0)) {
			print_message("FAIL %s: \"%s\" gave %s, wanted %s\n",
			    from_cases[i].what, from_cases[i].value,
			    d ? d : "bad", from_cases[i].domain ?
			    from_cases[i].domain : "bad");
			bad++;
		}
		free(d);
	}
	if (bad > 0)
		fail_msg("%zu of %zu From cases wrong", bad, i);
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
	assert_null(mailaddr_envelope_domain("<user@>"));
	d = mailaddr_envelope_domain("<@relay.example:User@Dest.example>");
	assert_string_equal(d, "dest.example");
	free(d);
	d = mailaddr_envelope_domain("<\"a@b.example\"@c.example>");
	assert_string_equal(d, "c.example");
	free(d);
	d = mailaddr_envelope_domain("<x..y.@docomo.example.jp>");
	assert_string_equal(d, "docomo.example.jp");
	free(d);
}

/* mailaddr_domain_syntax - what counts as a domain name, ASCII and with UTF-8 labels */
static void
mailaddr_domain_syntax(void **state)
{
	static char l63[64], l64[65], n253[254], n254[255];
	static const struct {
		const char *s;		/* the name (NULL: a long one filled in) */
		size_t len;		/* octets to check; 0: strlen */
		int ascii, utf8;	/* valid without, with MAILADDR_DOMAIN_UTF8 */
	} rows[] = {
		{ "example.com", 0, 1, 1 },
		{ "a.b-c.d", 0, 1, 1 },
		{ "xn--bcher-kva.example", 0, 1, 1 },
		{ "_dmarc.example.com", 0, 1, 1 },
		{ "com", 0, 1, 1 },
		{ "EXAMPLE.Com", 0, 1, 1 },
		{ "b\xc3\xbc" "cher.example", 0, 0, 1 },
		{ "\xe2\x82\xac.example", 0, 0, 1 },	/* a 3-octet character */
		{ "\xf0\x9f\x93\xa7.example", 0, 0, 1 },	/* a 4-octet one */
		{ "\xff.example", 0, 0, 0 },		/* not UTF-8 */
		{ "b\xc3" "cher.example", 0, 0, 0 },	/* a cut character */
		{ "x\xc3", 0, 0, 0 },			/* cut at the end */
		{ "\xc2\x85.example", 0, 0, 0 },	/* a C1 control */
		{ "\xed\xa0\x80.example", 0, 0, 0 },	/* a surrogate */
		{ "", 0, 0, 0 },
		{ ".example.com", 0, 0, 0 },
		{ "example.com.", 0, 0, 0 },		/* no trailing dot */
		{ "a..b", 0, 0, 0 },
		{ "-a.com", 0, 0, 0 },
		{ "a-.com", 0, 0, 0 },
		{ "a.-b.com", 0, 0, 0 },
		{ "a b.com", 0, 0, 0 },
		{ "a;b.com", 0, 0, 0 },
		{ "x@y.example", 0, 0, 0 },
		{ "exa\nmple.com", 0, 0, 0 },
		{ "example.com;evil", 11, 1, 1 },	/* only len octets count */
		{ "exa\0mple.com", 12, 0, 0 },		/* a NUL inside */
		{ NULL, 63, 1, 1 },			/* l63.com */
		{ NULL, 64, 0, 0 },			/* l64.com */
		{ NULL, 253, 1, 1 },			/* 253 octets */
		{ NULL, 254, 0, 0 },			/* 254 octets */
	};
	struct buf b = BUF_INIT;
	const char *s;
	size_t i, len;

	(void)state;
	memset(l63, 'a', 63);
	memset(l64, 'a', 64);
	memset(n253, 'a', 253);
	memset(n254, 'a', 254);
	for (i = 0; i < 253; i += 2)
		n253[i + 1] = n254[i + 1] = '.';	/* "a.a.a...a" */
	n254[253] = 'b';
	n254[252] = 'a';
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		buf_reset(&b);
		if (rows[i].s != NULL) {
			s = rows[i].s;
			len = rows[i].len != 0 ? rows[i].len : strlen(s);
		} else if (rows[i].len <= 64) {
			buf_printf(&b, "%s.com", rows[i].len == 63 ? l63 : l64);
			s = b.data;
			len = b.len;
		} else {
			s = rows[i].len == 253 ? n253 : n254;
			len = rows[i].len;
		}
		if (mailaddr_domain_ok(s, len, 0) != rows[i].ascii)
			fail_msg("row %zu \"%.*s\": ASCII check gives %d", i,
			    (int)len, s, !rows[i].ascii);
		if (mailaddr_domain_ok(s, len, MAILADDR_DOMAIN_UTF8) != rows[i].utf8)
			fail_msg("row %zu \"%.*s\": UTF-8 check gives %d", i,
			    (int)len, s, !rows[i].utf8);
	}
	assert_int_equal(mailaddr_domain_ok(NULL, 0, 0), 0);
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(mailaddr_parses_from_values),
		cmocka_unit_test(mailaddr_from_has_one_author),
		cmocka_unit_test(mailaddr_envelope_domain_cases),
		cmocka_unit_test(mailaddr_domain_syntax),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
