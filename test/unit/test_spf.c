/*
 * test_spf.c - the parts of dns.c and spf.c that need no DNS server:
 * TXT joining, identities that cannot be checked, Received-SPF quoting.
 * (Lookups and SPF results: test/integration/test_spf_dns.sh.)
 *
 * The resolver forwards to a loopback port where nothing listens; none of
 * these tests sends it a query, and one that did would show as temperror.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "base/dns.h"
#include "auth/spf.h"

struct fixture {
	struct dns *dns;
	struct spf *spf;
};

/* setup - a resolver that is never asked, and a checker over it */
static int
setup(void **state)
{
	static const char *const servers[] = { "127.0.0.1@9" };
	struct dns_options dopt = { servers, 1, NULL, 200 };
	struct spf_options sopt = { .receiver = "mx.test.example", .check_helo = 1 };
	struct fixture *f = calloc(1, sizeof(*f));
	char err[256];

	f->dns = dns_new(&dopt, err, sizeof(err));
	if (f->dns == NULL)
		fail_msg("dns_new: %s", err);
	f->spf = spf_new(f->dns, &sopt, err, sizeof(err));
	if (f->spf == NULL)
		fail_msg("spf_new: %s", err);
	*state = f;
	return 0;
}

/* teardown - stop the resolver thread, free everything */
static int
teardown(void **state)
{
	struct fixture *f = *state;

	spf_free(f->spf);
	dns_free(f->dns);
	free(f);
	return 0;
}

/* dns_txt_joins_strings - several character-strings make one TXT value */
static void
dns_txt_joins_strings(void **state)
{
	unsigned char rdata[] = "\x07v=spf1 \x0bip4:1.2.3.4\x00\x05 -all";
	unsigned char *data[1] = { rdata };
	size_t len[1] = { sizeof(rdata) - 1 };
	struct dns_result r = { DNS_OK, 0, 1, data, len, NULL, 0, 0, 300 };
	struct buf b = BUF_INIT;

	(void)state;
	assert_int_equal(dns_txt(&r, 0, &b), 0);
	assert_string_equal(buf_cstr(&b), "v=spf1 ip4:1.2.3.4 -all");
	assert_int_equal(dns_txt(&r, 1, &b), -1);
	buf_free(&b);
}

/* dns_txt_rejects_truncated - a length byte past the rdata is an error */
static void
dns_txt_rejects_truncated(void **state)
{
	unsigned char rdata[] = "\x03" "abc" "\x09" "de";
	unsigned char *data[1] = { rdata };
	size_t len[1] = { sizeof(rdata) - 1 };
	struct dns_result r = { DNS_OK, 0, 1, data, len, NULL, 0, 0, 300 };
	struct buf b = BUF_INIT;

	(void)state;
	assert_int_equal(dns_txt(&r, 0, &b), -1);
	buf_free(&b);
}

/* dns_status_names - every status has its name */
static void
dns_status_names(void **state)
{
	(void)state;
	assert_string_equal(dns_status_name(DNS_OK), "ok");
	assert_string_equal(dns_status_name(DNS_NXDOMAIN), "nxdomain");
	assert_string_equal(dns_status_name(DNS_NODATA), "nodata");
	assert_string_equal(dns_status_name(DNS_TEMPFAIL), "tempfail");
	assert_string_equal(dns_status_name(DNS_BOGUS), "bogus");
	assert_string_equal(dns_status_name(DNS_ERROR), "error");
}

struct none_case {
	const char *ip, *from, *helo;	/* input */
	const char *mf_identity;	/* smtp.mailfrom */
	const char *mf_comment;		/* start of the MAIL FROM comment */
	const char *helo_comment;	/* start of the HELO comment */
};

static const struct none_case none_cases[] = {
	{ "", "user@example.com", "mx.example.com", "user@example.com",
	  "no client IP address", "no client IP address" },
	{ "not-an-address", "<user@example.com>", "mx.example.com",
	  "user@example.com", "no client IP address", "no client IP address" },
	{ "192.0.2.1", "user@localhost", "[192.0.2.1]", "user@localhost",
	  "MAIL FROM domain localhost is not a domain name",
	  "HELO [192.0.2.1] is not a domain name" },
	{ "192.0.2.1", "user@1.2.3.4", "bare", "user@1.2.3.4",
	  "MAIL FROM domain 1.2.3.4 is not a domain name",
	  "HELO bare is not a domain name" },
	{ "192.0.2.1", "<>", "[192.0.2.1]", "postmaster@[192.0.2.1]",
	  "null sender and HELO [192.0.2.1] is not a domain name",
	  "HELO [192.0.2.1] is not a domain name" },
	{ "2001:db8::1", "user@exa mple.com", "a..b", "user@exa mple.com",
	  "MAIL FROM domain exa mple.com is not a domain name",
	  "HELO a..b is not a domain name" },
};

/* spf_uncheckable_identities_are_none - no DNS for what cannot be checked */
static void
spf_uncheckable_identities_are_none(void **state)
{
	struct fixture *f = *state;
	struct spf_result r;
	size_t i;

	for (i = 0; i < sizeof(none_cases) / sizeof(none_cases[0]); i++) {
		const struct none_case *c = &none_cases[i];

		spf_check(f->spf, NULL, c->ip, c->from, c->helo, &r);
		if (r.mailfrom.res != SPF_RES_NONE || r.helo.res != SPF_RES_NONE)
			fail_msg("case %zu: %s/%s", i, spf_res_name(r.mailfrom.res),
			    spf_res_name(r.helo.res));
		assert_string_equal(r.mailfrom.identity, c->mf_identity);
		if (strncmp(r.mailfrom.comment, c->mf_comment,
		    strlen(c->mf_comment)) != 0)
			fail_msg("case %zu: mailfrom comment \"%s\"", i,
			    r.mailfrom.comment);
		if (strncmp(r.helo.comment, c->helo_comment,
		    strlen(c->helo_comment)) != 0)
			fail_msg("case %zu: helo comment \"%s\"", i, r.helo.comment);
		assert_int_equal(r.mailfrom.lookups + r.helo.lookups, 0);
	}
}

/* The names a checker asked for; every answer is NXDOMAIN. */
struct asked {
	char names[8][300];
	size_t n;
};

/* nx_lookup - record the question, answer NXDOMAIN */
static enum dns_status
nx_lookup(void *arg, const char *name, int rrtype, int timeout_ms,
    struct dns_result *r)
{
	struct asked *a = arg;

	(void)timeout_ms;
	if (a->n < 8)
		snprintf(a->names[a->n++], sizeof(a->names[0]), "%s/%d", name, rrtype);
	memset(r, 0, sizeof(*r));
	r->status = DNS_NXDOMAIN;
	r->rcode = 3;
	return r->status;
}

/*
 * spf_u_label_mail_from_is_checked_as_its_a_labels - a MAIL FROM domain in
 * U-labels (SMTPUTF8) is looked up and reported in A-labels, with the
 * outcome of the same domain written in A-labels (DMARC compares the
 * A-labels)
 */
static void
spf_u_label_mail_from_is_checked_as_its_a_labels(void **state)
{
	static const char *const froms[] = {
		"<user@B\xc3\xbc" "cher.example>", "<user@xn--bcher-kva.example>",
	};
	struct spf_options sopt = { .receiver = "mx.test.example" };
	struct spf_result r[2];
	struct asked a;
	struct spf *spf;
	char err[256];
	size_t i;

	(void)state;
	sopt.lookup = nx_lookup;
	sopt.lookup_arg = &a;
	for (i = 0; i < 2; i++) {
		memset(&a, 0, sizeof(a));
		spf = spf_new(NULL, &sopt, err, sizeof(err));
		if (spf == NULL)
			fail_msg("spf_new: %s", err);
		spf_check(spf, NULL, "192.0.2.1", froms[i], "mx.example.com", &r[i]);
		spf_free(spf);
		assert_string_equal(r[i].mailfrom.domain, "xn--bcher-kva.example");
		assert_string_equal(r[i].mailfrom.identity,
		    "user@xn--bcher-kva.example");
		assert_true(a.n >= 1);
		assert_string_equal(a.names[0], "xn--bcher-kva.example/16");
		assert_int_equal(r[i].mailfrom.res, SPF_RES_NONE);
	}
	assert_string_equal(r[0].mailfrom.comment, r[1].mailfrom.comment);
}

/* spf_header_quotes_values - dot-atoms bare, anything else quoted */
static void
spf_header_quotes_values(void **state)
{
	struct fixture *f = *state;
	struct spf_result r;
	struct buf b = BUF_INIT;

	memset(&r, 0, sizeof(r));
	r.mailfrom.res = SPF_RES_SOFTFAIL;
	snprintf(r.mailfrom.comment, sizeof(r.mailfrom.comment), "%s", "a (nested) comment \\ here");
	snprintf(r.client_ip, sizeof(r.client_ip), "%s", "2001:db8::1");
	snprintf(r.envelope_from, sizeof(r.envelope_from), "%s", "\"odd user\"@example.com");
	snprintf(r.helo_name, sizeof(r.helo_name), "%s", "mx.example.com");
	spf_received_header(f->spf, &r, &b);
	assert_string_equal(buf_cstr(&b),
	    "softfail (mx.test.example: a \\(nested\\) comment \\\\ here) "
	    "client-ip=\"2001:db8::1\"; "
	    "envelope-from=\"\\\"odd user\\\"@example.com\"; "
	    "helo=mx.example.com; receiver=mx.test.example; identity=mailfrom;");
	buf_free(&b);
}

/* spf_header_never_breaks_the_line - no CR/LF and under 998 octets */
static void
spf_header_never_breaks_the_line(void **state)
{
	struct fixture *f = *state;
	struct spf_result r;
	struct buf b = BUF_INIT;

	memset(&r, 0, sizeof(r));
	r.mailfrom.res = SPF_RES_PASS;
	memset(r.mailfrom.comment, 'c', sizeof(r.mailfrom.comment) - 1);
	r.mailfrom.comment[5] = '\r';
	r.mailfrom.comment[6] = '\n';
	snprintf(r.client_ip, sizeof(r.client_ip), "%s", "192.0.2.1");
	memset(r.envelope_from, 'e', sizeof(r.envelope_from) - 1);
	r.envelope_from[10] = '\n';
	memset(r.helo_name, 'h', sizeof(r.helo_name) - 1);
	r.helo_name[3] = '\r';
	spf_received_header(f->spf, &r, &b);
	assert_null(strchr(buf_cstr(&b), '\r'));
	assert_null(strchr(buf_cstr(&b), '\n'));
	assert_true(b.len + strlen("Received-SPF: ") < 998);
	assert_non_null(strstr(buf_cstr(&b), "...) client-ip=192.0.2.1; "));
	buf_free(&b);
}

/* spf_result_names - the Authentication-Results keywords */
static void
spf_result_names(void **state)
{
	(void)state;
	assert_string_equal(spf_res_name(SPF_RES_NONE), "none");
	assert_string_equal(spf_res_name(SPF_RES_NEUTRAL), "neutral");
	assert_string_equal(spf_res_name(SPF_RES_PASS), "pass");
	assert_string_equal(spf_res_name(SPF_RES_FAIL), "fail");
	assert_string_equal(spf_res_name(SPF_RES_SOFTFAIL), "softfail");
	assert_string_equal(spf_res_name(SPF_RES_TEMPERROR), "temperror");
	assert_string_equal(spf_res_name(SPF_RES_PERMERROR), "permerror");
}

/* dns_new_rejects_bad_servers - a server must be an address[@port] */
static void
dns_new_rejects_bad_servers(void **state)
{
	static const char *const bad[] = { "dns.example.com" };
	struct dns_options opt = { bad, 1, NULL, 0 };
	char err[256] = "";

	(void)state;
	assert_null(dns_new(&opt, err, sizeof(err)));
	assert_non_null(strstr(err, "dns.example.com"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(dns_txt_joins_strings),
		cmocka_unit_test(dns_txt_rejects_truncated),
		cmocka_unit_test(dns_status_names),
		cmocka_unit_test(dns_new_rejects_bad_servers),
		cmocka_unit_test(spf_result_names),
		cmocka_unit_test(spf_u_label_mail_from_is_checked_as_its_a_labels),
		cmocka_unit_test_setup_teardown(spf_uncheckable_identities_are_none,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(spf_header_quotes_values, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(spf_header_never_breaks_the_line,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
