/*
 * test_authres.c - Authentication-Results: building (all fields, no
 * signatures, header injection attempts, quoting, folding), recognizing
 * forged headers that claim our authserv-id, and a round trip through
 * Debian's python3-authres as the independent judge.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "auth/authres.h"
#include "base/buf.h"

#define ID "mx.example.net"

/* build - authres_build into a fresh string; *dropped gets the return value */
static char *
build(const struct authres_input *in, int *dropped)
{
	struct buf b = BUF_INIT;
	int rc = authres_build(in, &b);

	if (dropped != NULL)
		*dropped = rc;
	return buf_steal(&b);
}

/* check_folding - only "\n\t" line breaks, no CR, no line over 78 unless one word */
static void
check_folding(const char *v, size_t first_col)
{
	size_t col = first_col;
	const char *p;

	for (p = v; *p != '\0'; p++) {
		if (*p == '\r')
			fail_msg("CR in value: %s", v);
		if (*p == '\n') {
			if (p[1] != '\t')
				fail_msg("newline not followed by a tab: %s", v);
			col = 0;
			continue;
		}
		if ((unsigned char)*p < 0x20 && *p != '\t')
			fail_msg("control character in value: %s", v);
		if ((unsigned char)*p > 0x7e)
			fail_msg("8-bit byte in value: %s", v);
		col += *p == '\t' ? 8 : 1;
		if (col > 78 && strchr(p, ' ') != NULL && strchr(p, '\n') != NULL
		    && strchr(p, ' ') < strchr(p, '\n'))
			fail_msg("line over 78 columns with a space to fold at: %s", v);
	}
}

/* authres_builds_all_fields - spf mailfrom and helo, two signatures, dmarc */
static void
authres_builds_all_fields(void **state)
{
	static const struct authres_dkim sigs[] = {
		{ "pass", "example.com", "s2024", "rsa-sha256",
		  "abcDEF12ghij+klm/nop=", NULL },
		{ "fail", "esp.example.org", "sel", "ed25519-sha256", "Zm9v YmFy\r\n\tYmF6",
		  "bad signature" },
	};
	struct authres_input in = {
		.authserv_id = ID,
		.mailfrom = { "pass", "<bounce@example.com>", NULL },
		.helo = { "none", "mail.example.com", NULL },
		.dkim = sigs, .ndkim = 2,
		.dmarc = { "pass", "example.com", "reject", "quarantine", "none", NULL },
	};
	char *v;
	int dropped;

	(void)state;
	v = build(&in, &dropped);
	assert_int_equal(dropped, 0);
	assert_string_equal(v, ID ";\n"
	    "\tspf=pass smtp.mailfrom=bounce@example.com;\n"
	    "\tspf=none smtp.helo=mail.example.com;\n"
	    "\tdkim=pass header.d=example.com header.s=s2024 header.a=rsa-sha256\n"
	    "\theader.b=abcDEF12;\n"
	    "\tdkim=fail (bad signature) header.d=esp.example.org header.s=sel\n"
	    "\theader.a=ed25519-sha256 header.b=Zm9vYmFy;\n"
	    "\tdmarc=pass (p=REJECT sp=QUARANTINE dis=NONE) header.from=example.com\n"
	    "\tpolicy.dmarc=none");
	check_folding(v, AUTHRES_FIRST_COLUMN);
	free(v);
}

/* authres_no_signatures_is_dkim_none - and "none" when nothing was checked */
static void
authres_no_signatures_is_dkim_none(void **state)
{
	struct authres_input in = {
		.authserv_id = ID,
		.mailfrom = { "softfail", "example.org", NULL },
		.dmarc = { "none", "example.org", NULL, NULL, NULL, NULL },
	};
	struct authres_input nothing = { .authserv_id = ID, .dkim_skipped = 1 };
	char *v;

	(void)state;
	v = build(&in, NULL);
	assert_string_equal(v, ID ";\n\tspf=softfail smtp.mailfrom=example.org;\n"
	    "\tdkim=none;\n\tdmarc=none header.from=example.org");
	free(v);
	v = build(&nothing, NULL);
	assert_string_equal(v, ID "; none");
	free(v);
}

/* authres_fail_writes_policy_and_disposition - dmarc=fail with quarantine after t=y */
static void
authres_fail_writes_policy_and_disposition(void **state)
{
	struct authres_input in = {
		.authserv_id = ID, .dkim_skipped = 1,
		.dmarc = { "FAIL", "example.com", "reject", NULL, "quarantine", NULL },
	};
	char *v;

	(void)state;
	v = build(&in, NULL);
	assert_string_equal(v, ID ";\n\tdmarc=fail (p=REJECT dis=QUARANTINE) "
	    "header.from=example.com\n\tpolicy.dmarc=quarantine");
	free(v);
}

/* authres_refuses_invalid_authserv_id - and leaves the buffer untouched */
static void
authres_refuses_invalid_authserv_id(void **state)
{
	static const char *const bad[] = {
		NULL, "", "mx example.net", "mx.example.net;", "(x)mx", "mx\r\n.example",
		".mx.example.net", "mx..example.net", "mx.example.net.", "\"mx\"", "m\xc3\xa9.example",
	};
	struct authres_input in = { .authserv_id = NULL };
	struct buf b = BUF_INIT;
	size_t i;

	(void)state;
	buf_puts(&b, "keep");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		in.authserv_id = bad[i];
		if (authres_build(&in, &b) != -1)
			fail_msg("authserv_id %zu accepted", i);
	}
	assert_string_equal(buf_cstr(&b), "keep");
	assert_true(authres_authserv_id_valid("mx1_out.example.net"));
	buf_free(&b);
}

struct inject_case {
	const char *name;
	struct authres_input in;
	const char *want;		/* exact value */
	int dropped;
};

static const struct authres_dkim evil_d = { "pass", "example.com;dkim=pass", "s", "rsa-sha256", "AAAAAAAAAA", NULL };
static const struct authres_dkim evil_s = { "pass", "example.com", "s (x) ; y", "rsa-sha256\r\nX: y", "AAAA\"AAAAAA", NULL };
static const struct authres_dkim evil_result = { "pass; dmarc=pass", "example.com", NULL, NULL, NULL, "x) ; dmarc=pass (y" };

static const struct inject_case inject_cases[] = {
	{ "from_with_parenthesis", { .authserv_id = ID, .dkim_skipped = 1,
	  .dmarc = { "pass", "example.com (evil)", "reject", NULL, "none", NULL } },
	  ID ";\n\tdmarc=permerror (invalid identity omitted)", 1 },
	{ "from_with_semicolon", { .authserv_id = ID, .dkim_skipped = 1,
	  .dmarc = { "pass", "evil.example;dmarc=pass", "reject", NULL, "none", NULL } },
	  ID ";\n\tdmarc=permerror (invalid identity omitted)", 1 },
	{ "from_with_crlf", { .authserv_id = ID, .dkim_skipped = 1,
	  .dmarc = { "fail", "example.com\r\nX-Evil: 1", "reject", NULL, "reject", NULL } },
	  ID ";\n\tdmarc=permerror (invalid identity omitted)", 1 },
	{ "from_with_space", { .authserv_id = ID, .dkim_skipped = 1,
	  .dmarc = { "pass", "example.com header.from=bank.example", NULL, NULL, NULL, NULL } },
	  ID ";\n\tdmarc=permerror (invalid identity omitted)", 1 },
	{ "from_eight_bit", { .authserv_id = ID, .dkim_skipped = 1,
	  .dmarc = { "pass", "b\xc3\xbc" "cher.example", NULL, NULL, NULL, NULL } },
	  ID ";\n\tdmarc=permerror (invalid identity omitted)", 1 },
	{ "from_missing", { .authserv_id = ID, .dkim_skipped = 1,
	  .dmarc = { "permerror", NULL, NULL, NULL, NULL, "several From headers" } },
	  ID ";\n\tdmarc=permerror (several From headers)", 0 },
	{ "dmarc_bogus_result", { .authserv_id = ID, .dkim_skipped = 1,
	  .dmarc = { "pass header.from=x", "example.com", "bogus", "reject\n", "none", NULL } },
	  ID ";\n\tdmarc=permerror header.from=example.com", 0 },
	{ "mailfrom_domain_with_semicolon", { .authserv_id = ID, .dkim_skipped = 1,
	  .mailfrom = { "pass", "a@example.com;dkim=pass", NULL } },
	  ID ";\n\tspf=pass (identity not representable, omitted)", 1 },
	{ "mailfrom_local_with_crlf_keeps_domain", { .authserv_id = ID, .dkim_skipped = 1,
	  .mailfrom = { "pass", "a\r\nX-Evil: 1@example.com", NULL } },
	  ID ";\n\tspf=pass smtp.mailfrom=example.com", 0 },
	{ "mailfrom_local_with_specials_quoted", { .authserv_id = ID, .dkim_skipped = 1,
	  .mailfrom = { "pass", "a;b (c)\"d\\@example.com", NULL } },
	  ID ";\n\tspf=pass smtp.mailfrom=\"a;b (c)\\\"d\\\\\"@example.com", 0 },
	{ "helo_address_literal", { .authserv_id = ID, .dkim_skipped = 1,
	  .helo = { "none", "[192.0.2.1]", NULL } },
	  ID ";\n\tspf=none (identity not representable, omitted)", 1 },
	{ "helo_single_label_omitted", { .authserv_id = ID, .dkim_skipped = 1,
	  .helo = { "none", "A2345678", NULL } },
	  ID ";\n\tspf=none (identity not representable, omitted)", 1 },
	{ "null_sender_single_label_omitted", { .authserv_id = ID, .dkim_skipped = 1,
	  .mailfrom = { "none", "postmaster@A2345678", NULL } },
	  ID ";\n\tspf=none (identity not representable, omitted)", 1 },
	{ "utf8_local_part_leaves_the_domain", { .authserv_id = ID, .dkim_skipped = 1,
	  .mailfrom = { "pass", "j\xc3\xb6rg@example.com", NULL } },
	  ID ";\n\tspf=pass smtp.mailfrom=example.com", 0 },
	{ "spf_bogus_result", { .authserv_id = ID, .dkim_skipped = 1,
	  .mailfrom = { "pass smtp.mailfrom=bank.example", "example.com", NULL } },
	  ID ";\n\tspf=permerror smtp.mailfrom=example.com", 0 },
	{ "dkim_domain_with_semicolon", { .authserv_id = ID, .dkim = &evil_d, .ndkim = 1 },
	  ID ";\n\tdkim=permerror (invalid identity omitted)", 1 },
	{ "dkim_selector_algorithm_b_dropped", { .authserv_id = ID, .dkim = &evil_s, .ndkim = 1 },
	  ID ";\n\tdkim=pass header.d=example.com", 3 },
	{ "dkim_result_and_comment_escaped", { .authserv_id = ID, .dkim = &evil_result, .ndkim = 1 },
	  ID ";\n\tdkim=permerror (x\\) ; dmarc=pass \\(y) header.d=example.com", 0 },
	{ "comment_with_newlines_and_8bit", { .authserv_id = ID, .dkim_skipped = 1,
	  .mailfrom = { "pass", "example.com", "line\r\nX-Evil: \xff" } },
	  ID ";\n\tspf=pass (line??X-Evil: ?) smtp.mailfrom=example.com", 0 },
};

/* authres_omits_injection_attempts - hostile identities never reach the header raw */
static void
authres_omits_injection_attempts(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(inject_cases) / sizeof(inject_cases[0]); i++) {
		const struct inject_case *c = &inject_cases[i];
		int dropped;
		char *v = build(&c->in, &dropped);

		if (strcmp(v, c->want) != 0)
			fail_msg("%s:\n got  [%s]\n want [%s]", c->name, v, c->want);
		if (dropped != c->dropped)
			fail_msg("%s: dropped %d, wanted %d", c->name, dropped, c->dropped);
		check_folding(v, AUTHRES_FIRST_COLUMN);
		free(v);
	}
}

/* authres_header_b_prefix_is_unique - signatures sharing 8+ characters get longer prefixes */
static void
authres_header_b_prefix_is_unique(void **state)
{
	static const struct authres_dkim sigs[] = {
		{ "pass", "a.example", "s", NULL, "0123456789abcXYZ", NULL },
		{ "pass", "b.example", "s", NULL, "0123456789abdXYZ", NULL },
		{ "pass", "c.example", "s", NULL, "0123", NULL },
		{ "pass", "d.example", "s", NULL, "0123456789abcXYZ", NULL },
		{ "pass", "e.example", "s", NULL, "ab/cdefghij", NULL },
		{ "pass", "f.example", "s", NULL, "abcdefg=", NULL },
	};
	struct authres_input in = { .authserv_id = ID, .dkim = sigs, .ndkim = 6 };
	char *v;

	(void)state;
	v = build(&in, NULL);
	assert_non_null(strstr(v, "header.d=a.example header.s=s header.b=0123456789abc;"));
	assert_non_null(strstr(v, "header.d=b.example header.s=s header.b=0123456789abd;"));
	assert_non_null(strstr(v, "header.d=c.example header.s=s header.b=0123;"));
	/* an identical signature cannot be told apart: a prefix is enough */
	assert_non_null(strstr(v, "header.d=d.example header.s=s header.b=0123456789abc;"));
	/* "/" and "=" are not token characters: quoted */
	assert_non_null(strstr(v, "header.d=e.example header.s=s header.b=\"ab/cdefg\";"));
	assert_non_null(strstr(v, "header.d=f.example header.s=s header.b=\"abcdefg=\""));
	free(v);
}

/* authres_header_b_from_whole_values - folded b= alike for 20 characters: 21 written, 8 for the third */
static void
authres_header_b_from_whole_values(void **state)
{
	static const struct authres_dkim sigs[] = {
		{ "fail", "a.example", "s", NULL, "ABCDEFGHIJ KLMNOPQRST\r\n\tU123",
		  NULL },
		{ "fail", "a.example", "s", NULL, "ABCDEFGHIJKLMNOPQRSTV456", NULL },
		{ "fail", "a.example", "s", NULL, "Zz0123456789", NULL },
	};
	struct authres_input in = { .authserv_id = ID, .dkim = sigs, .ndkim = 3 };
	char *v;

	(void)state;
	v = build(&in, NULL);
	assert_non_null(strstr(v, "header.b=ABCDEFGHIJKLMNOPQRSTU;"));
	assert_non_null(strstr(v, "header.b=ABCDEFGHIJKLMNOPQRSTV;"));
	assert_non_null(strstr(v, "header.b=Zz012345"));
	assert_null(strstr(v, "header.b=Zz0123456"));
	free(v);
}

/* authres_folds_long_values - many signatures, long names: every line within bounds */
static void
authres_folds_long_values(void **state)
{
	struct authres_dkim sigs[12];
	char dom[12][80];
	struct authres_input in = { .authserv_id = ID, .dkim = sigs, .ndkim = 12,
	    .mailfrom = { "pass", "very.long.local.part.for.testing@a-rather-long-"
	    "subdomain-name.of-a-long-organizational-domain.example", NULL } };
	char *v;
	int i;

	(void)state;
	for (i = 0; i < 12; i++) {
		snprintf(dom[i], sizeof(dom[i]), "signer-number-%d.long-signing-"
		    "domain.example", i);
		sigs[i].result = "pass";
		sigs[i].domain = dom[i];
		sigs[i].selector = "selector-2024-rotation";
		sigs[i].algorithm = "rsa-sha256";
		sigs[i].b = "dGhpcyBpcyBub3QgYSByZWFsIHNpZ25hdHVyZQ==";
		sigs[i].comment = NULL;
	}
	v = build(&in, NULL);
	check_folding(v, AUTHRES_FIRST_COLUMN);
	assert_non_null(strstr(v, "\n\t"));
	free(v);
}

struct claim_case {
	const char *value;
	int want;
};

static const struct claim_case claim_cases[] = {
	{ "mx.example.net; spf=pass smtp.mailfrom=example.com", 1 },
	{ "MX.Example.NET; spf=pass", 1 },
	{ " mx.example.net;", 1 },
	{ "mx.example.net;", 1 },
	{ "mx.example.net", 1 },
	{ "mx.example.net 1; none", 1 },
	{ "mx.example.net 1 (version comment); none", 1 },
	{ " (comment)\n\t MX.Example.NET ; spf=pass", 1 },
	{ " (comment)\r\n\t MX.Example.NET ; spf=pass", 1 },
	{ "(nested (comment) here) mx.example.net; none", 1 },
	{ "(escaped \\) paren) mx.example.net; none", 1 },
	{ "\r\n\tmx.example.net;dkim=pass", 1 },
	{ "\t \tmx.example.net\t;spf=fail", 1 },
	{ "\"mx.example.net\"; spf=pass", 1 },
	{ "\"MX.example.\\net\"; spf=pass", 1 },
	{ "mx.example.net.; spf=pass", 1 },
	{ "mx.example.net(comment); spf=pass", 1 },
	{ "mx.example.net/1; none", 1 },
	{ "mx.example.net.evil.com; spf=pass", 0 },
	{ "evil.mx.example.net; spf=pass", 0 },
	{ "xmx.example.net; spf=pass", 0 },
	{ "mx.example.netx; spf=pass", 0 },
	{ "mx.example.net..; spf=pass", 0 },
	{ "mx-example.net; spf=pass", 0 },
	{ "mx.example.ne; spf=pass", 0 },
	{ "(mx.example.net) other.example; spf=pass", 0 },
	{ "(unterminated mx.example.net; spf=pass", 0 },
	{ "(a (b) mx.example.net; spf=pass", 0 },
	{ ") mx.example.net; spf=pass", 0 },
	{ "", 0 },
	{ "   ", 0 },
	{ "; spf=pass mx.example.net", 0 },
	{ "other.example; spf=pass header.from=mx.example.net", 0 },
	{ "\"mx.example.net.evil\"; spf=pass", 0 },
	{ "\"mx.example.net; spf=pass", 0 },
	{ "other.example (mx.example.net); spf=pass", 0 },
};

/* authres_claims_id_table - ours in every spelling, never a longer or shorter name */
static void
authres_claims_id_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(claim_cases) / sizeof(claim_cases[0]); i++)
		if (authres_claims_id(claim_cases[i].value, ID) != claim_cases[i].want)
			fail_msg("[%s]: %d, wanted %d", claim_cases[i].value,
			    !claim_cases[i].want, claim_cases[i].want);
	assert_false(authres_claims_id(NULL, ID));
	assert_false(authres_claims_id("mx.example.net;", NULL));
	assert_false(authres_claims_id("mx.example.net;", ""));
	assert_true(authres_claims_id("mx.example.net;", "MX.EXAMPLE.NET."));
}

/* authres_claims_own_output - what we build is recognized as ours */
static void
authres_claims_own_output(void **state)
{
	struct authres_input in = { .authserv_id = ID,
	    .mailfrom = { "pass", "example.com", NULL } };
	char *v;

	(void)state;
	v = build(&in, NULL);
	assert_true(authres_claims_id(v, ID));
	assert_false(authres_claims_id(v, "example.net"));
	free(v);
}

/* ---- round trip through python3-authres ---- */

/* json_str - write s as a JSON string */
static void
json_str(FILE *fp, const char *s)
{
	fputc('"', fp);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(fp, "\\%c", c);
		else if (c < 0x20 || c > 0x7e)
			fprintf(fp, "\\u%04x", c);
		else
			fputc(c, fp);
	}
	fputc('"', fp);
}

/* rt_emit - one line: the value and the results it must parse back to */
static void
rt_emit(FILE *fp, const struct authres_input *in, const char *expect)
{
	char *v = build(in, NULL);

	fputs("{\"value\": ", fp);
	json_str(fp, v);
	fputs(", \"id\": ", fp);
	json_str(fp, in->authserv_id);
	fprintf(fp, ", \"results\": %s}\n", expect);
	free(v);
}

/* rt_generated - a matrix of valid inputs with expectations built alongside */
static void
rt_generated(FILE *fp)
{
	static const char *const spf[] = { "pass", "fail", "softfail", "neutral",
	    "none", "temperror", "permerror" };
	static const char *const dkim[] = { "pass", "fail", "neutral", "policy",
	    "temperror", "permerror" };
	static const char *const dmarc[] = { "pass", "fail", "none", "temperror" };
	static const char *const bs[] = { "abcdefghijk", "ab/defghijk", "abcdefg=",
	    "A+B+C+D+E+F+", "Zm9v/mFy" };
	static const char *const locals[][2] = {
		{ "user", "user" }, { "first.last", "first.last" },
		{ "a+tag=x/y", "a+tag=x/y" }, { "\"john doe\"", "\\\"john doe\\\"" },
		{ "a..b", "\\\"a..b\\\"" }, { "", "" },
	};
	struct authres_dkim sig;
	struct authres_input in;
	char addr[128], expect[2048], mf[160], b8[16];
	size_t i;

	for (i = 0; i < 7 * 6 * 4; i++) {
		const char *ls = locals[i % 6][0], *lx = locals[i % 6][1];
		const char *b = bs[i % 5];
		size_t blen = strlen(b) < 8 ? strlen(b) : 8;

		snprintf(addr, sizeof(addr), "%s%sbounce%zu.example.com", ls,
		    *ls ? "@" : "", i);
		snprintf(mf, sizeof(mf), "%s%sbounce%zu.example.com", lx,
		    *lx ? "@" : "", i);
		snprintf(b8, sizeof(b8), "%.*s", (int)blen, b);
		memset(&in, 0, sizeof(in));
		sig.result = dkim[i % 6];
		sig.domain = "example.com";
		sig.selector = i % 2 ? "sel-1" : "s";
		sig.algorithm = i % 3 ? "rsa-sha256" : "ed25519-sha256";
		sig.b = b;
		sig.comment = i % 4 ? NULL : "a (nested) comment; with \\ specials";
		in.authserv_id = i % 2 ? ID : "MX2.Example.Org";
		in.mailfrom.result = spf[i % 7];
		in.mailfrom.identity = addr;
		in.helo.result = spf[(i / 7) % 7];
		in.helo.identity = "helo.example.com";
		in.dkim = &sig;
		in.ndkim = 1;
		in.dmarc.result = dmarc[i % 4];
		in.dmarc.from_domain = "example.com";
		in.dmarc.p = "reject";
		in.dmarc.disposition = i % 4 == 1 ? "quarantine" : "none";
		snprintf(expect, sizeof(expect), "[[\"spf\", \"%s\", [[\"smtp\", "
		    "\"mailfrom\", \"%s\"]]], [\"spf\", \"%s\", [[\"smtp\", \"helo\", "
		    "\"helo.example.com\"]]], [\"dkim\", \"%s\", [[\"header\", \"d\", "
		    "\"example.com\"], [\"header\", \"s\", \"%s\"], [\"header\", \"a\", "
		    "\"%s\"], [\"header\", \"b\", \"%s\"]]], [\"dmarc\", \"%s\", "
		    "[[\"header\", \"from\", \"example.com\"]%s%s%s]]]",
		    spf[i % 7], mf, spf[(i / 7) % 7], dkim[i % 6], sig.selector,
		    sig.algorithm, b8, dmarc[i % 4],
		    i % 4 < 2 ? ", [\"policy\", \"dmarc\", \"" : "",
		    i % 4 < 2 ? in.dmarc.disposition : "", i % 4 < 2 ? "\"]" : "");
		rt_emit(fp, &in, expect);
	}
}

/* rt_fixed - hand-written cases, hostile ones included */
static void
rt_fixed(FILE *fp)
{
	size_t i;

	for (i = 0; i < sizeof(inject_cases) / sizeof(inject_cases[0]); i++) {
		const struct inject_case *c = &inject_cases[i];
		const char *expect[] = {
			"[[\"dmarc\", \"permerror\", []]]",
			"[[\"dmarc\", \"permerror\", []]]",
			"[[\"dmarc\", \"permerror\", []]]",
			"[[\"dmarc\", \"permerror\", []]]",
			"[[\"dmarc\", \"permerror\", []]]",
			"[[\"dmarc\", \"permerror\", []]]",
			"[[\"dmarc\", \"permerror\", [[\"header\", \"from\", \"example.com\"]]]]",
			"[[\"spf\", \"pass\", []]]",
			"[[\"spf\", \"pass\", [[\"smtp\", \"mailfrom\", \"example.com\"]]]]",
			"[[\"spf\", \"pass\", [[\"smtp\", \"mailfrom\", \"\\\"a;b (c)\\\\\\\"d\\\\\\\\\\\"@example.com\"]]]]",
			"[[\"spf\", \"none\", []]]",
			"[[\"spf\", \"none\", []]]",
			"[[\"spf\", \"none\", []]]",
			"[[\"spf\", \"pass\", [[\"smtp\", \"mailfrom\", \"example.com\"]]]]",
			"[[\"spf\", \"permerror\", [[\"smtp\", \"mailfrom\", \"example.com\"]]]]",
			"[[\"dkim\", \"permerror\", []]]",
			"[[\"dkim\", \"pass\", [[\"header\", \"d\", \"example.com\"]]]]",
			"[[\"dkim\", \"permerror\", [[\"header\", \"d\", \"example.com\"]]]]",
			"[[\"spf\", \"pass\", [[\"smtp\", \"mailfrom\", \"example.com\"]]]]",
		};

		if (i >= sizeof(expect) / sizeof(expect[0]))
			fail_msg("no expectation for %s", c->name);
		rt_emit(fp, &c->in, expect[i]);
	}
}

/* authres_round_trips_through_python_authres - the independent parser agrees */
static void
authres_round_trips_through_python_authres(void **state)
{
	static const struct authres_dkim sigs[] = {
		{ "pass", "example.com", "s2024", "rsa-sha256", "abcDEF12ghij+klm/nop=", NULL },
		{ "fail", "esp.example.org", "sel", "ed25519-sha256", "Zm9vYmFy", "bad signature" },
	};
	struct authres_input full = {
		.authserv_id = ID,
		.mailfrom = { "pass", "<bounce@example.com>", NULL },
		.helo = { "none", "mail.example.com", NULL },
		.dkim = sigs, .ndkim = 2,
		.dmarc = { "pass", "example.com", "reject", "quarantine", "none", NULL },
	};
	struct authres_input nothing = { .authserv_id = ID, .dkim_skipped = 1 };
	const char *srcdir = getenv("top_srcdir");
	char path[] = "/tmp/authres-rt-XXXXXX", cmd[1024];
	int fd, rc;
	FILE *fp;

	(void)state;
	if (system("/usr/bin/python3 -c 'import authres' 2>/dev/null") != 0) {
		print_message("python3-authres not installed (apt-get install "
		    "python3-authres): round trip skipped\n");
		skip();
	}
	fd = mkstemp(path);
	assert_true(fd >= 0);
	fp = fdopen(fd, "w");
	assert_non_null(fp);
	rt_emit(fp, &full, "[[\"spf\", \"pass\", [[\"smtp\", \"mailfrom\", "
	    "\"bounce@example.com\"]]], [\"spf\", \"none\", [[\"smtp\", \"helo\", "
	    "\"mail.example.com\"]]], [\"dkim\", \"pass\", [[\"header\", \"d\", "
	    "\"example.com\"], [\"header\", \"s\", \"s2024\"], [\"header\", \"a\", "
	    "\"rsa-sha256\"], [\"header\", \"b\", \"abcDEF12\"]]], [\"dkim\", "
	    "\"fail\", [[\"header\", \"d\", \"esp.example.org\"], [\"header\", "
	    "\"s\", \"sel\"], [\"header\", \"a\", \"ed25519-sha256\"], [\"header\", "
	    "\"b\", \"Zm9vYmFy\"]]], [\"dmarc\", \"pass\", [[\"header\", \"from\", "
	    "\"example.com\"], [\"policy\", \"dmarc\", \"none\"]]]]");
	rt_emit(fp, &nothing, "[]");
	rt_fixed(fp);
	rt_generated(fp);
	assert_int_equal(fclose(fp), 0);
	rc = snprintf(cmd, sizeof(cmd), "/usr/bin/python3 %s/test/unit/"
	    "authres_roundtrip.py %s", srcdir ? srcdir : ".", path);
	assert_true(rc > 0 && (size_t)rc < sizeof(cmd));
	rc = system(cmd);
	unlink(path);
	if (rc != 0)
		fail_msg("authres_roundtrip.py rejected our headers (status %d)", rc);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(authres_builds_all_fields),
		cmocka_unit_test(authres_no_signatures_is_dkim_none),
		cmocka_unit_test(authres_fail_writes_policy_and_disposition),
		cmocka_unit_test(authres_refuses_invalid_authserv_id),
		cmocka_unit_test(authres_omits_injection_attempts),
		cmocka_unit_test(authres_header_b_prefix_is_unique),
		cmocka_unit_test(authres_header_b_from_whole_values),
		cmocka_unit_test(authres_folds_long_values),
		cmocka_unit_test(authres_claims_id_table),
		cmocka_unit_test(authres_claims_own_output),
		cmocka_unit_test(authres_round_trips_through_python_authres),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
