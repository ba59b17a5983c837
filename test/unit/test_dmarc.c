/*
 * test_dmarc.c - DMARC record parsing, discovery (RFC 9989 tree walk and
 * RFC 7489 public suffix list), alignment and policy, with the DNS served
 * from in-memory zones through the lookup seam and pct= sampling from an
 * injected random source.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/dmarc.h"

/* The resolver is never used: dmarc's lookup is injected. */
enum dns_status
dns_resolve(struct dns *d, const char *name, int rrtype, int timeout_ms,
    struct dns_result *r)
{
	(void)d; (void)name; (void)rrtype; (void)timeout_ms;
	memset(r, 0, sizeof(*r));
	r->status = DNS_ERROR;
	return DNS_ERROR;
}

void
dns_result_free(struct dns_result *r)
{
	(void)r;
}

int
dns_txt(const struct dns_result *r, size_t i, struct buf *out)
{
	(void)r; (void)i; (void)out;
	return -1;
}

/* One resource record set of a fake zone. */
struct rr {
	const char *name;		/* owner */
	int type;			/* DMARC_RR_* */
	enum dns_status st;		/* DNS_OK, or an error to return */
	const char *txt[3];		/* TXT records (NULL-terminated) */
};

#define QLOG_MAX 64

/* A fake zone and the log of what was asked. */
struct zone {
	const struct rr *rr;
	size_t n;
	char qlog[QLOG_MAX][300];	/* "name/type" in order */
	int nq;
};

/* fake_ancestor - is name an ancestor (or equal) of owner */
static int
fake_ancestor(const char *name, const char *owner)
{
	size_t a = strlen(name), b = strlen(owner);

	if (a == b)
		return strcasecmp(name, owner) == 0;
	return b > a && owner[b - a - 1] == '.' && strcasecmp(owner + b - a, name) == 0;
}

/* fake_lookup - answer from the zone; NODATA for existing names, else NXDOMAIN */
static enum dns_status
fake_lookup(void *arg, const char *name, int rrtype, struct dmarc_txt *txt)
{
	struct zone *z = arg;
	size_t i, j;
	int exists = 0;

	if (z->nq < QLOG_MAX)
		snprintf(z->qlog[z->nq], sizeof(z->qlog[0]), "%s/%d", name, rrtype);
	z->nq++;
	for (i = 0; i < z->n; i++) {
		if (strcasecmp(z->rr[i].name, name) == 0 && z->rr[i].type == rrtype) {
			if (z->rr[i].st != DNS_OK)
				return z->rr[i].st;
			for (j = 0; j < 3 && z->rr[i].txt[j] != NULL && txt != NULL; j++)
				dmarc_txt_add(txt, z->rr[i].txt[j], strlen(z->rr[i].txt[j]));
			return DNS_OK;
		}
		if (fake_ancestor(name, z->rr[i].name))
			exists = 1;
	}
	return exists ? DNS_NODATA : DNS_NXDOMAIN;
}

static unsigned fixed_random_value;

/* fixed_random - the injected random source */
static unsigned
fixed_random(void *arg)
{
	(void)arg;
	return fixed_random_value;
}

/* evaluator - a dmarc over zone z in mode m */
static struct dmarc *
evaluator(struct zone *z, enum dmarc_mode m)
{
	struct dmarc_options o;
	char err[256];
	struct dmarc *d;

	memset(&o, 0, sizeof(o));
	o.mode = m;
	o.lookup = fake_lookup;
	o.lookup_arg = z;
	o.random = fixed_random;
	d = dmarc_new(&o, err, sizeof(err));
	if (d == NULL)
		fail_msg("dmarc_new: %s", err);
	return d;
}

#define ZONE(a) { a, sizeof(a) / sizeof(a[0]), { { 0 } }, 0 }

/* ---- record parser ---- */

struct parse_case {
	const char *name;
	const char *txt;
	int ret;			/* 0 DMARC record, -1 not one */
	enum dmarc_policy p, sp, np;
	unsigned bad;
	enum dmarc_align adkim, aspf;
	int pct, testing;
	enum dmarc_psd psd;
	unsigned fo;
	unsigned long ri;
	size_t nrua, nruf;
};

#define U DMARC_POLICY_UNSET
#define N DMARC_POLICY_NONE
#define Q DMARC_POLICY_QUARANTINE
#define R DMARC_POLICY_REJECT
#define RX DMARC_ALIGN_RELAXED
#define ST DMARC_ALIGN_STRICT
#define F0 DMARC_FO_0

static const struct parse_case parse_cases[] = {
	{ "minimal", "v=DMARC1; p=none", 0, N, U, U, 0, RX, RX, 100, 0, DMARC_PSD_U, F0, 86400, 0, 0 },
	{ "every_tag", "v=DMARC1; p=reject; sp=quarantine; np=reject; adkim=s; "
	  "aspf=s; pct=25; t=y; psd=n; rua=mailto:a@example.com; "
	  "ruf=mailto:f@example.com; fo=1:d:s; ri=3600; rf=afrf",
	  0, R, Q, R, 0, ST, ST, 25, 1, DMARC_PSD_N,
	  DMARC_FO_1 | DMARC_FO_D | DMARC_FO_S, 3600, 1, 1 },
	{ "no_p_tag", "v=DMARC1; rua=mailto:a@example.com", 0, U, U, U, 0, RX, RX, 100, 0, DMARC_PSD_U, F0, 86400, 1, 0 },
	{ "trailing_semicolon", "v=DMARC1; p=quarantine;", 0, Q, U, U, 0, RX, RX, 100, 0, DMARC_PSD_U, F0, 86400, 0, 0 },
	{ "whitespace_around_equals_and_separators", "v = DMARC1 ;\tp = reject\t;  sp=none  ", 0, R, N, U, 0, RX, RX, 100, 0, DMARC_PSD_U, F0, 86400, 0, 0 },
	{ "leading_whitespace_is_not_a_record", "  v=DMARC1; p=reject", -1, U, U, U, 0, RX, RX, 100, 0, DMARC_PSD_U, F0, 86400, 0, 0 },
	{ "no_spaces", "v=DMARC1;p=reject;sp=quarantine", 0, R, Q, U, 0, RX, RX, 100, 0, DMARC_PSD_U, F0, 86400, 0, 0 },
	{ "empty_segments", "v=DMARC1;;; p=reject ;;", 0, R, U, U, 0, RX, RX, 100, 0, DMARC_PSD_U, F0, 86400, 0, 0 },
	{ "uppercase_tag_names_and_values", "V=DMARC1; P=REJECT; SP=Quarantine; ADKIM=S", 0, R, Q, U, 0, ST, RX, 100, 0, DMARC_PSD_U, F0, 86400, 0, 0 },
	{ "unknown_tags_ignored", "v=DMARC1; foo=bar; p=reject; x=", 0, R, U, U, 0, RX, RX, 100, 0, DMARC_PSD_U, F0, 86400, 0, 0 },
	{ "garbage_segment_ignored", "v=DMARC1; this is not a tag; p=reject", 0, R, U, U, 0, RX, RX, 100, 0, DMARC_PSD_U, F0, 86400, 0, 0 },
	{ "bad_p_flagged", "v=DMARC1; p=rejected", 0, U, U, U, DMARC_BAD_P, RX, RX, 100, 0, DMARC_PSD_U, F0, 86400, 0, 0 },
	{ "empty_p_flagged", "v=DMARC1; p=", 0, U, U, U, DMARC_BAD_P, RX, RX, 100, 0, DMARC_PSD_U, F0, 86400, 0, 0 },
	{ "bad_sp_np_flagged", "v=DMARC1; p=none; sp=maybe; np=1", 0, N, U, U, DMARC_BAD_SP | DMARC_BAD_NP, RX, RX, 100, 0, DMARC_PSD_U, F0, 86400, 0, 0 },
	{ "duplicate_p_invalidates_record", "v=DMARC1; p=none; p=reject", -1, U, U, U, 0, RX, RX, 100, 0, DMARC_PSD_U, F0, 86400, 0, 0 },
	{ "duplicate_p_thrice_invalidates", "v=DMARC1; p=reject; p=reject; p=reject", -1, U, U, U, 0, RX, RX, 100, 0, DMARC_PSD_U, F0, 86400, 0, 0 },
	{ "duplicate_pct_invalidates", "v=DMARC1; p=reject; pct=10; pct=20", -1, U, U, U, 0, RX, RX, 100, 0, DMARC_PSD_U, F0, 86400, 0, 0 },
	{ "duplicate_rua_invalidates", "v=DMARC1; p=none; rua=mailto:a@x.example; rua=mailto:b@x.example", -1, U, U, U, 0, RX, RX, 100, 0, DMARC_PSD_U, F0, 86400, 0, 0 },
	{ "pct_out_of_range_default", "v=DMARC1; p=reject; pct=101", 0, R, U, U, 0, RX, RX, 100, 0, DMARC_PSD_U, F0, 86400, 0, 0 },
	{ "pct_negative_default", "v=DMARC1; p=reject; pct=-5", 0, R, U, U, 0, RX, RX, 100, 0, DMARC_PSD_U, F0, 86400, 0, 0 },
	{ "pct_four_digits_default", "v=DMARC1; p=reject; pct=0050", 0, R, U, U, 0, RX, RX, 100, 0, DMARC_PSD_U, F0, 86400, 0, 0 },
	{ "pct_zero", "v=DMARC1; p=reject; pct=0", 0, R, U, U, 0, RX, RX, 0, 0, DMARC_PSD_U, F0, 86400, 0, 0 },
	{ "pct_leading_zero", "v=DMARC1; p=reject; pct=050", 0, R, U, U, 0, RX, RX, 50, 0, DMARC_PSD_U, F0, 86400, 0, 0 },
	{ "fo_zero_and_one_exclusive", "v=DMARC1; p=none; fo=0:1", 0, N, U, U, 0, RX, RX, 100, 0, DMARC_PSD_U, F0, 86400, 0, 0 },
	{ "fo_bad_value_default", "v=DMARC1; p=none; fo=x", 0, N, U, U, 0, RX, RX, 100, 0, DMARC_PSD_U, F0, 86400, 0, 0 },
	{ "ri_overflow_default", "v=DMARC1; p=none; ri=99999999999999999999", 0, N, U, U, 0, RX, RX, 100, 0, DMARC_PSD_U, F0, 86400, 0, 0 },
	{ "t_and_psd_bad_values_default", "v=DMARC1; p=none; t=yes; psd=maybe", 0, N, U, U, 0, RX, RX, 100, 0, DMARC_PSD_U, F0, 86400, 0, 0 },
	{ "adkim_bad_value_default", "v=DMARC1; p=none; adkim=x; aspf=strict", 0, N, U, U, 0, RX, RX, 100, 0, DMARC_PSD_U, F0, 86400, 0, 0 },
	{ "psd_y", "v=DMARC1; p=reject; psd=y", 0, R, U, U, 0, RX, RX, 100, 0, DMARC_PSD_Y, F0, 86400, 0, 0 },
	{ "rua_list_with_size_and_bad_entries", "v=DMARC1; p=none; "
	  "rua=mailto:a@x.example!10m , nonsense, mailto:b@x.example,:x, http://r.example/%41",
	  0, N, U, U, 0, RX, RX, 100, 0, DMARC_PSD_U, F0, 86400, 3, 0 },
	{ "rua_bad_percent_escape", "v=DMARC1; p=none; rua=mailto:a%4@x.example", 0, N, U, U, 0, RX, RX, 100, 0, DMARC_PSD_U, F0, 86400, 0, 0 },
	{ "rua_unencoded_bang", "v=DMARC1; p=none; rua=mailto:a!b@x.example", 0, N, U, U, 0, RX, RX, 100, 0, DMARC_PSD_U, F0, 86400, 0, 0 },
	{ "control_char_in_p", "v=DMARC1; p=re\x01ject", 0, U, U, U, DMARC_BAD_P, RX, RX, 100, 0, DMARC_PSD_U, F0, 86400, 0, 0 },
	{ "eight_bit_in_p", "v=DMARC1; p=r\xc3\xa9ject", 0, U, U, U, DMARC_BAD_P, RX, RX, 100, 0, DMARC_PSD_U, F0, 86400, 0, 0 },
	{ "repeated_v_invalidates", "v=DMARC1; p=reject; v=DMARC2", -1, U, U, U, 0, RX, RX, 100, 0, DMARC_PSD_U, F0, 86400, 0, 0 },
	/* not DMARC records at all */
	{ "missing_v", "p=reject; v=DMARC1", -1, U, U, U, 0, RX, RX, 100, 0, DMARC_PSD_U, F0, 86400, 0, 0 },
	{ "v_not_first", "p=reject", -1, U, U, U, 0, RX, RX, 100, 0, DMARC_PSD_U, F0, 86400, 0, 0 },
	{ "v_value_case_sensitive", "v=dmarc1; p=reject", -1, U, U, U, 0, RX, RX, 100, 0, DMARC_PSD_U, F0, 86400, 0, 0 },
	{ "v_without_separator", "v=DMARC1 p=reject", -1, U, U, U, 0, RX, RX, 100, 0, DMARC_PSD_U, F0, 86400, 0, 0 },
	{ "v_glued", "v=DMARC1p=reject", -1, U, U, U, 0, RX, RX, 100, 0, DMARC_PSD_U, F0, 86400, 0, 0 },
	{ "spf_record", "v=spf1 -all", -1, U, U, U, 0, RX, RX, 100, 0, DMARC_PSD_U, F0, 86400, 0, 0 },
	{ "empty", "", -1, U, U, U, 0, RX, RX, 100, 0, DMARC_PSD_U, F0, 86400, 0, 0 },
	{ "only_v_tag_name", "v", -1, U, U, U, 0, RX, RX, 100, 0, DMARC_PSD_U, F0, 86400, 0, 0 },
	{ "prefixed_v", "xv=DMARC1; p=reject", -1, U, U, U, 0, RX, RX, 100, 0, DMARC_PSD_U, F0, 86400, 0, 0 },
	{ "v_dmarc2", "v=DMARC2; p=reject", -1, U, U, U, 0, RX, RX, 100, 0, DMARC_PSD_U, F0, 86400, 0, 0 },
};

/* dmarc_record_parse_table - good and hostile records, field by field */
static void
dmarc_record_parse_table(void **state)
{
	struct dmarc_record r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		const struct parse_case *c = &parse_cases[i];
		int ret = dmarc_record_parse(c->txt, strlen(c->txt), &r);

		if (ret != c->ret)
			fail_msg("%s: returned %d, wanted %d", c->name, ret, c->ret);
		if (r.p != c->p || r.sp != c->sp || r.np != c->np || r.bad != c->bad)
			fail_msg("%s: p=%d sp=%d np=%d bad=%u, wanted %d %d %d %u",
			    c->name, r.p, r.sp, r.np, r.bad, c->p, c->sp, c->np, c->bad);
		if (r.adkim != c->adkim || r.aspf != c->aspf || r.pct != c->pct
		    || r.testing != c->testing || r.psd != c->psd)
			fail_msg("%s: adkim=%d aspf=%d pct=%d t=%d psd=%d", c->name,
			    r.adkim, r.aspf, r.pct, r.testing, r.psd);
		if (r.fo != c->fo || r.ri != c->ri || r.nrua != c->nrua
		    || r.nruf != c->nruf)
			fail_msg("%s: fo=%u ri=%lu nrua=%zu nruf=%zu", c->name, r.fo,
			    r.ri, r.nrua, r.nruf);
		dmarc_record_free(&r);
	}
}

/* dmarc_record_keeps_uris_without_size - rua strings kept, the !size cut off into rua_limit (bytes) */
static void
dmarc_record_keeps_uris_without_size(void **state)
{
	static const char txt[] = "v=DMARC1; p=none; rua=mailto:a@x.example!10m, "
	    "mailto:b@x.example; ruf=mailto:f@x.example";
	struct dmarc_record r, c;

	(void)state;
	assert_int_equal(dmarc_record_parse(txt, strlen(txt), &r), 0);
	assert_int_equal(r.nrua, 2);
	assert_string_equal(r.rua[0], "mailto:a@x.example");
	assert_string_equal(r.rua[1], "mailto:b@x.example");
	assert_true(r.rua_limit[0] == 10ULL * 1024 * 1024);
	assert_true(r.rua_limit[1] == 0);
	assert_string_equal(r.ruf[0], "mailto:f@x.example");
	dmarc_record_copy(&c, &r);
	dmarc_record_free(&r);
	assert_string_equal(c.rua[1], "mailto:b@x.example");
	assert_true(c.rua_limit[0] == 10ULL * 1024 * 1024);
	dmarc_record_free(&c);
}

/* dmarc_record_nul_byte_in_value - an embedded NUL neither truncates nor passes */
static void
dmarc_record_nul_byte_in_value(void **state)
{
	static const char txt[] = "v=DMARC1; p=none\0; sp=reject";
	static const char dtxt[] = "v=DMARC1; p=none\0; p=reject";
	static const char vtxt[] = "v=DMARC1\0; p=reject";
	struct dmarc_record r;

	(void)state;
	assert_int_equal(dmarc_record_parse(txt, sizeof(txt) - 1, &r), 0);
	/* "none\0" is an invalid p, flagged; the tag after it still counts */
	assert_int_equal(r.p, DMARC_POLICY_UNSET);
	assert_true(r.bad & DMARC_BAD_P);
	assert_int_equal(r.sp, DMARC_POLICY_REJECT);
	dmarc_record_free(&r);
	/* a second p after it: a repeated tag, the record is invalid */
	assert_int_equal(dmarc_record_parse(dtxt, sizeof(dtxt) - 1, &r), -1);
	assert_int_equal(dmarc_record_parse(vtxt, sizeof(vtxt) - 1, &r), -1);
}

/* dmarc_record_huge_is_linear_and_bounded - 1 MB record, thousands of URIs */
static void
dmarc_record_huge_is_linear_and_bounded(void **state)
{
	struct buf b = BUF_INIT;
	struct dmarc_record r;
	int i;

	(void)state;
	buf_puts(&b, "v=DMARC1; rua=");
	for (i = 0; i < 20000; i++)
		buf_printf(&b, "%smailto:r%d@x.example", i ? "," : "", i);
	for (i = 0; i < 50000; i++)
		buf_puts(&b, "; x=yyyyyyyyyy");
	buf_puts(&b, "; p=reject");
	assert_int_equal(dmarc_record_parse(b.data, b.len, &r), 0);
	assert_int_equal(r.p, DMARC_POLICY_REJECT);
	assert_int_equal(r.nrua, DMARC_URI_MAX);
	dmarc_record_free(&r);
	buf_free(&b);
}

/* ---- discovery ---- */

/* expect_queries - the zone saw exactly these TXT/other queries, in order */
static void
expect_queries(const struct zone *z, const char *const *want, int n)
{
	int i;

	if (z->nq != n) {
		for (i = 0; i < z->nq && i < QLOG_MAX; i++)
			print_message("  query %d: %s\n", i, z->qlog[i]);
		fail_msg("%d queries, wanted %d", z->nq, n);
	}
	for (i = 0; i < n; i++)
		if (strcmp(z->qlog[i], want[i]) != 0)
			fail_msg("query %d: %s, wanted %s", i, z->qlog[i], want[i]);
}

/* dmarc_7489_falls_back_to_psl_org_domain - a.b.example.co.uk uses _dmarc.example.co.uk */
static void
dmarc_7489_falls_back_to_psl_org_domain(void **state)
{
	static const struct rr rrs[] = {
		{ "_dmarc.example.co.uk", DMARC_RR_TXT, DNS_OK, { "v=DMARC1; p=reject; sp=quarantine" } },
	};
	static const char *const want[] = {
		"_dmarc.a.b.example.co.uk/16", "_dmarc.example.co.uk/16",
	};
	struct zone z = ZONE(rrs);
	struct dmarc *d = evaluator(&z, DMARC_MODE_RFC7489);
	struct dmarc_input in = { "A.B.Example.CO.UK.", DMARC_AUTH_FAIL, NULL, NULL, 0 };
	struct dmarc_outcome o;

	(void)state;
	dmarc_evaluate(d, &in, &o);
	assert_int_equal(o.result, DMARC_RESULT_FAIL);
	assert_string_equal(o.from_domain, "a.b.example.co.uk");
	assert_string_equal(o.policy_domain, "example.co.uk");
	assert_string_equal(o.org_domain, "example.co.uk");
	assert_int_equal(o.source, DMARC_SOURCE_SP);
	assert_int_equal(o.policy, DMARC_POLICY_QUARANTINE);
	assert_int_equal(o.disposition, DMARC_POLICY_QUARANTINE);
	expect_queries(&z, want, 2);
	dmarc_outcome_free(&o);
	dmarc_free(d);
}

/* dmarc_7489_skips_intermediate_names - no query between author and org domain */
static void
dmarc_7489_skips_intermediate_names(void **state)
{
	static const struct rr rrs[] = {
		{ "_dmarc.b.example.com", DMARC_RR_TXT, DNS_OK, { "v=DMARC1; p=reject" } },
	};
	static const char *const want[] = {
		"_dmarc.a.b.example.com/16", "_dmarc.example.com/16",
	};
	struct zone z = ZONE(rrs);
	struct dmarc *d = evaluator(&z, DMARC_MODE_RFC7489);
	struct dmarc_input in = { "a.b.example.com", DMARC_AUTH_NONE, NULL, NULL, 0 };
	struct dmarc_outcome o;

	(void)state;
	dmarc_evaluate(d, &in, &o);
	assert_int_equal(o.result, DMARC_RESULT_NONE);
	expect_queries(&z, want, 2);
	dmarc_outcome_free(&o);
	dmarc_free(d);
}

/* dmarc_multiple_records_are_none - two v=DMARC1 records at one name discard both */
static void
dmarc_multiple_records_are_none(void **state)
{
	static const struct rr rrs[] = {
		{ "_dmarc.example.com", DMARC_RR_TXT, DNS_OK,
		  { "v=DMARC1; p=reject", "v=DMARC1; p=none" } },
		{ "_dmarc.com", DMARC_RR_TXT, DNS_OK, { "v=DMARC1; p=none; psd=y" } },
	};
	static const struct rr rrs_sub[] = {
		{ "_dmarc.mail.example.com", DMARC_RR_TXT, DNS_OK,
		  { "v=DMARC1; p=reject", "v=spf1 -all", "v=DMARC1; p=reject" } },
		{ "_dmarc.example.com", DMARC_RR_TXT, DNS_OK, { "v=DMARC1; p=quarantine" } },
	};
	struct dmarc_input in = { "example.com", DMARC_AUTH_NONE, NULL, NULL, 0 };
	struct dmarc_input sub = { "mail.example.com", DMARC_AUTH_NONE, NULL, NULL, 0 };
	struct dmarc_outcome o;
	struct zone z1 = ZONE(rrs), z2 = ZONE(rrs_sub), z3 = ZONE(rrs_sub);
	struct dmarc *d7 = evaluator(&z1, DMARC_MODE_RFC7489);
	struct dmarc *d7b = evaluator(&z2, DMARC_MODE_RFC7489);
	struct dmarc *d9 = evaluator(&z3, DMARC_MODE_RFC9989);

	(void)state;
	/* RFC 7489: several records at the From domain end discovery */
	dmarc_evaluate(d7, &in, &o);
	assert_int_equal(o.result, DMARC_RESULT_NONE);
	dmarc_outcome_free(&o);
	dmarc_evaluate(d7b, &sub, &o);
	assert_int_equal(o.result, DMARC_RESULT_NONE);
	assert_int_equal(z2.nq, 1);
	dmarc_outcome_free(&o);
	/* RFC 9989: they are discarded and the walk goes on */
	dmarc_evaluate(d9, &sub, &o);
	assert_int_equal(o.result, DMARC_RESULT_FAIL);
	assert_string_equal(o.policy_domain, "example.com");
	assert_int_equal(o.policy, DMARC_POLICY_QUARANTINE);
	dmarc_outcome_free(&o);
	dmarc_free(d7);
	dmarc_free(d7b);
	dmarc_free(d9);
}

/* dmarc_9989_walk_caps_long_names - the eight queries of RFC 9989 4.10 */
static void
dmarc_9989_walk_caps_long_names(void **state)
{
	static const struct rr rrs[] = { { "nothing.invalid", DMARC_RR_A, DNS_OK, { NULL } } };
	static const char *const want[] = {
		"_dmarc.a.b.c.d.e.f.g.h.i.j.mail.example.com/16",
		"_dmarc.g.h.i.j.mail.example.com/16",
		"_dmarc.h.i.j.mail.example.com/16",
		"_dmarc.i.j.mail.example.com/16",
		"_dmarc.j.mail.example.com/16",
		"_dmarc.mail.example.com/16",
		"_dmarc.example.com/16",
		"_dmarc.com/16",
	};
	struct zone z = ZONE(rrs);
	struct dmarc *d = evaluator(&z, DMARC_MODE_RFC9989);
	struct dmarc_input in = { "a.b.c.d.e.f.g.h.i.j.mail.example.com",
	    DMARC_AUTH_NONE, NULL, NULL, 0 };
	struct dmarc_outcome o;

	(void)state;
	dmarc_evaluate(d, &in, &o);
	assert_int_equal(o.result, DMARC_RESULT_NONE);
	expect_queries(&z, want, 8);
	assert_int_equal(o.queries, 8);
	dmarc_outcome_free(&o);
	dmarc_free(d);
}

/* dmarc_9989_walk_finds_org_record_of_deep_name - B.4.2: policy from example.com, sp */
static void
dmarc_9989_walk_finds_org_record_of_deep_name(void **state)
{
	static const struct rr rrs[] = {
		{ "_dmarc.example.com", DMARC_RR_TXT, DNS_OK, { "v=DMARC1; p=reject; sp=quarantine" } },
		{ "_dmarc.signing.example.com", DMARC_RR_TXT, DNS_OK, { "v=DMARC1; p=none" } },
		{ "a.b.c.d.e.f.g.h.i.j.k.example.com", DMARC_RR_A, DNS_OK, { NULL } },
	};
	struct zone z = ZONE(rrs);
	struct dmarc *d = evaluator(&z, DMARC_MODE_RFC9989);
	struct dmarc_dkim sig = { DMARC_AUTH_PASS, "signing.example.com", "s1", 0 };
	struct dmarc_input in = { "a.b.c.d.e.f.g.h.i.j.k.example.com",
	    DMARC_AUTH_FAIL, "example.com", &sig, 1 };
	struct dmarc_input spf = { "a.b.c.d.e.f.g.h.i.j.k.example.com",
	    DMARC_AUTH_PASS, "example.com", NULL, 0 };
	struct dmarc_input fail = { "a.b.c.d.e.f.g.h.i.j.k.example.com",
	    DMARC_AUTH_FAIL, "example.com", NULL, 0 };
	struct dmarc_outcome o;

	(void)state;
	dmarc_evaluate(d, &in, &o);
	assert_int_equal(o.result, DMARC_RESULT_PASS);
	assert_string_equal(o.org_domain, "example.com");
	assert_false(o.spf_aligned);
	assert_true(o.dkim_aligned[0]);
	assert_int_equal(o.queries, 8 + 1);	/* signing.example.com is the only new name */
	dmarc_outcome_free(&o);
	dmarc_evaluate(d, &spf, &o);
	assert_int_equal(o.result, DMARC_RESULT_PASS);
	assert_true(o.spf_aligned);
	assert_int_equal(o.queries, 8);		/* example.com and com: already walked */
	dmarc_outcome_free(&o);
	dmarc_evaluate(d, &fail, &o);
	assert_int_equal(o.result, DMARC_RESULT_FAIL);
	assert_string_equal(o.policy_domain, "example.com");
	assert_int_equal(o.source, DMARC_SOURCE_SP);
	assert_int_equal(o.disposition, DMARC_POLICY_QUARANTINE);
	dmarc_outcome_free(&o);
	dmarc_free(d);
}

/* dmarc_9989_psd_y_example - B.4.3: org domain one label below the PSD */
static void
dmarc_9989_psd_y_example(void **state)
{
	static const struct rr rrs[] = {
		{ "_dmarc.bank.example", DMARC_RR_TXT, DNS_OK, { "v=DMARC1; p=reject; psd=y" } },
		{ "_dmarc.giant.bank.example", DMARC_RR_TXT, DNS_OK, { "v=DMARC1; p=quarantine" } },
	};
	struct zone z = ZONE(rrs);
	struct dmarc *d = evaluator(&z, DMARC_MODE_RFC9989);
	struct dmarc_dkim sig = { DMARC_AUTH_PASS, "mail.mega.bank.example", "s", 0 };
	struct dmarc_input spf_and_dkim = { "giant.bank.example", DMARC_AUTH_PASS,
	    "mail.giant.bank.example", &sig, 1 };
	struct dmarc_input dkim_only = { "giant.bank.example", DMARC_AUTH_FAIL,
	    "mail.giant.bank.example", &sig, 1 };
	struct dmarc_outcome o;

	(void)state;
	dmarc_evaluate(d, &spf_and_dkim, &o);
	assert_int_equal(o.result, DMARC_RESULT_PASS);
	assert_string_equal(o.org_domain, "giant.bank.example");
	assert_true(o.spf_aligned);
	assert_false(o.dkim_aligned[0]);	/* org of mega... is mega.bank.example */
	dmarc_outcome_free(&o);
	dmarc_evaluate(d, &dkim_only, &o);
	assert_int_equal(o.result, DMARC_RESULT_FAIL);
	assert_string_equal(o.policy_domain, "giant.bank.example");
	assert_int_equal(o.source, DMARC_SOURCE_P);
	assert_int_equal(o.policy, DMARC_POLICY_QUARANTINE);
	dmarc_outcome_free(&o);
	dmarc_free(d);
}

/* dmarc_9989_psd_record_applies_to_unregistered_org - the PSD record, sp/np */
static void
dmarc_9989_psd_record_applies_to_unregistered_org(void **state)
{
	static const struct rr rrs[] = {
		{ "_dmarc.bank.example", DMARC_RR_TXT, DNS_OK,
		  { "v=DMARC1; p=none; sp=reject; psd=y" } },
		{ "small.bank.example", DMARC_RR_MX, DNS_OK, { NULL } },
	};
	struct zone z = ZONE(rrs);
	struct dmarc *d = evaluator(&z, DMARC_MODE_RFC9989);
	struct dmarc_input in = { "small.bank.example", DMARC_AUTH_NONE, NULL, NULL, 0 };
	struct dmarc_outcome o;

	(void)state;
	dmarc_evaluate(d, &in, &o);
	assert_int_equal(o.result, DMARC_RESULT_FAIL);
	assert_string_equal(o.org_domain, "small.bank.example");
	assert_string_equal(o.policy_domain, "bank.example");
	assert_int_equal(o.source, DMARC_SOURCE_SP);
	assert_int_equal(o.disposition, DMARC_POLICY_REJECT);
	dmarc_outcome_free(&o);
	dmarc_free(d);
}

/* dmarc_9989_psd_y_prefers_org_record - the org domain's own record beats the PSD's */
static void
dmarc_9989_psd_y_prefers_org_record(void **state)
{
	static const struct rr rrs[] = {
		{ "_dmarc.bank.example", DMARC_RR_TXT, DNS_OK, { "v=DMARC1; p=none; psd=y" } },
		{ "_dmarc.giant.bank.example", DMARC_RR_TXT, DNS_OK,
		  { "v=DMARC1; p=quarantine; sp=reject" } },
		{ "a.giant.bank.example", DMARC_RR_A, DNS_OK, { NULL } },
	};
	struct zone z = ZONE(rrs);
	struct dmarc *d = evaluator(&z, DMARC_MODE_RFC9989);
	struct dmarc_input in = { "a.giant.bank.example", DMARC_AUTH_NONE, NULL, NULL, 0 };
	struct dmarc_outcome o;

	(void)state;
	dmarc_evaluate(d, &in, &o);
	assert_int_equal(o.result, DMARC_RESULT_FAIL);
	assert_string_equal(o.org_domain, "giant.bank.example");
	assert_string_equal(o.policy_domain, "giant.bank.example");
	assert_int_equal(o.source, DMARC_SOURCE_SP);
	assert_int_equal(o.disposition, DMARC_POLICY_REJECT);
	dmarc_outcome_free(&o);
	dmarc_free(d);
}

/* dmarc_9989_psd_n_stops_walk - psd=n at mail.example.com is the org domain */
static void
dmarc_9989_psd_n_stops_walk(void **state)
{
	static const struct rr rrs[] = {
		{ "_dmarc.mail.example.com", DMARC_RR_TXT, DNS_OK, { "v=DMARC1; p=reject; psd=n" } },
		{ "_dmarc.example.com", DMARC_RR_TXT, DNS_OK, { "v=DMARC1; p=none" } },
		{ "a.mail.example.com", DMARC_RR_A, DNS_OK, { NULL } },
	};
	static const char *const want[] = {
		"_dmarc.a.mail.example.com/16", "_dmarc.mail.example.com/16",
	};
	struct zone z = ZONE(rrs);
	struct dmarc *d = evaluator(&z, DMARC_MODE_RFC9989);
	struct dmarc_dkim sig = { DMARC_AUTH_PASS, "example.com", "s", 0 };
	struct dmarc_input in = { "a.mail.example.com", DMARC_AUTH_NONE, NULL, &sig, 1 };
	struct dmarc_outcome o;

	(void)state;
	dmarc_evaluate(d, &in, &o);
	/* example.com is above the org domain mail.example.com: not aligned */
	assert_int_equal(o.result, DMARC_RESULT_FAIL);
	assert_string_equal(o.org_domain, "mail.example.com");
	assert_string_equal(o.policy_domain, "mail.example.com");
	assert_int_equal(o.disposition, DMARC_POLICY_REJECT);
	expect_queries(&z, want, 2);
	dmarc_outcome_free(&o);
	dmarc_free(d);
}

/* dmarc_9989_walk_picks_fewest_labels - intermediate psd=u records are skipped */
static void
dmarc_9989_walk_picks_fewest_labels(void **state)
{
	static const struct rr rrs[] = {
		{ "_dmarc.mail.example.com", DMARC_RR_TXT, DNS_OK, { "v=DMARC1; p=none" } },
		{ "_dmarc.example.com", DMARC_RR_TXT, DNS_OK, { "v=DMARC1; p=none; sp=reject" } },
		{ "a.mail.example.com", DMARC_RR_A, DNS_OK, { NULL } },
	};
	struct zone z = ZONE(rrs);
	struct dmarc *d = evaluator(&z, DMARC_MODE_RFC9989);
	struct dmarc_input in = { "a.mail.example.com", DMARC_AUTH_NONE, NULL, NULL, 0 };
	struct dmarc_outcome o;

	(void)state;
	dmarc_evaluate(d, &in, &o);
	assert_int_equal(o.result, DMARC_RESULT_FAIL);
	assert_string_equal(o.org_domain, "example.com");
	assert_string_equal(o.policy_domain, "example.com");
	assert_int_equal(o.policy, DMARC_POLICY_REJECT);
	dmarc_outcome_free(&o);
	dmarc_free(d);
}

/* ---- alignment ---- */

struct align_case {
	const char *name;
	enum dmarc_mode mode;
	const char *record;		/* at _dmarc.example.com */
	const char *from;
	enum dmarc_auth spf;
	const char *spf_domain;
	enum dmarc_auth dkim;
	const char *d;
	int partial;
	enum dmarc_result want;
	int spf_aligned, dkim_aligned;
};

static const struct align_case align_cases[] = {
	{ "spf_relaxed_subdomain", DMARC_MODE_RFC9989, "v=DMARC1; p=reject", "example.com",
	  DMARC_AUTH_PASS, "bounce.example.com", DMARC_AUTH_NONE, NULL, 0, DMARC_RESULT_PASS, 1, 0 },
	{ "spf_strict_subdomain_fails", DMARC_MODE_RFC9989, "v=DMARC1; p=reject; aspf=s", "example.com",
	  DMARC_AUTH_PASS, "bounce.example.com", DMARC_AUTH_NONE, NULL, 0, DMARC_RESULT_FAIL, 0, 0 },
	{ "spf_strict_exact", DMARC_MODE_RFC9989, "v=DMARC1; p=reject; aspf=s", "example.com",
	  DMARC_AUTH_PASS, "EXAMPLE.com.", DMARC_AUTH_NONE, NULL, 0, DMARC_RESULT_PASS, 1, 0 },
	{ "spf_fail_never_aligns", DMARC_MODE_RFC9989, "v=DMARC1; p=reject", "example.com",
	  DMARC_AUTH_FAIL, "example.com", DMARC_AUTH_NONE, NULL, 0, DMARC_RESULT_FAIL, 0, 0 },
	{ "spf_softfail_never_aligns", DMARC_MODE_RFC9989, "v=DMARC1; p=reject", "example.com",
	  DMARC_AUTH_OTHER, "example.com", DMARC_AUTH_NONE, NULL, 0, DMARC_RESULT_FAIL, 0, 0 },
	{ "spf_other_org_fails", DMARC_MODE_RFC9989, "v=DMARC1; p=reject", "example.com",
	  DMARC_AUTH_PASS, "example.net", DMARC_AUTH_NONE, NULL, 0, DMARC_RESULT_FAIL, 0, 0 },
	{ "spf_suffix_trick_fails", DMARC_MODE_RFC9989, "v=DMARC1; p=reject", "example.com",
	  DMARC_AUTH_PASS, "badexample.com", DMARC_AUTH_NONE, NULL, 0, DMARC_RESULT_FAIL, 0, 0 },
	{ "dkim_relaxed_parent_of_author", DMARC_MODE_RFC9989, "v=DMARC1; p=reject", "news.example.com",
	  DMARC_AUTH_NONE, NULL, DMARC_AUTH_PASS, "example.com", 0, DMARC_RESULT_PASS, 0, 1 },
	{ "dkim_relaxed_sibling", DMARC_MODE_RFC9989, "v=DMARC1; p=reject", "news.example.com",
	  DMARC_AUTH_NONE, NULL, DMARC_AUTH_PASS, "foo.example.com", 0, DMARC_RESULT_PASS, 0, 1 },
	{ "dkim_strict_sibling_fails", DMARC_MODE_RFC9989, "v=DMARC1; p=reject; adkim=s", "news.example.com",
	  DMARC_AUTH_NONE, NULL, DMARC_AUTH_PASS, "foo.example.com", 0, DMARC_RESULT_FAIL, 0, 0 },
	{ "dkim_strict_exact", DMARC_MODE_RFC9989, "v=DMARC1; p=reject; adkim=s", "example.com",
	  DMARC_AUTH_NONE, NULL, DMARC_AUTH_PASS, "Example.COM", 0, DMARC_RESULT_PASS, 0, 1 },
	{ "dkim_failed_signature_ignored", DMARC_MODE_RFC9989, "v=DMARC1; p=reject", "example.com",
	  DMARC_AUTH_NONE, NULL, DMARC_AUTH_FAIL, "example.com", 0, DMARC_RESULT_FAIL, 0, 0 },
	{ "dkim_partial_l_tag_ignored", DMARC_MODE_RFC9989, "v=DMARC1; p=reject", "example.com",
	  DMARC_AUTH_NONE, NULL, DMARC_AUTH_PASS, "example.com", 1, DMARC_RESULT_FAIL, 0, 0 },
	{ "dkim_invalid_domain_ignored", DMARC_MODE_RFC9989, "v=DMARC1; p=reject", "example.com",
	  DMARC_AUTH_NONE, NULL, DMARC_AUTH_PASS, "example.com;x", 0, DMARC_RESULT_FAIL, 0, 0 },
	{ "spf_strict_dkim_relaxed_mixed", DMARC_MODE_RFC9989, "v=DMARC1; p=reject; aspf=s", "example.com",
	  DMARC_AUTH_PASS, "bounce.example.com", DMARC_AUTH_PASS, "mail.example.com", 0, DMARC_RESULT_PASS, 0, 1 },
	{ "7489_spf_relaxed_via_psl", DMARC_MODE_RFC7489, "v=DMARC1; p=reject", "example.com",
	  DMARC_AUTH_PASS, "a.b.example.com", DMARC_AUTH_NONE, NULL, 0, DMARC_RESULT_PASS, 1, 0 },
	{ "7489_dkim_relaxed_via_psl", DMARC_MODE_RFC7489, "v=DMARC1; p=reject", "example.com",
	  DMARC_AUTH_NONE, NULL, DMARC_AUTH_PASS, "mail.example.com", 0, DMARC_RESULT_PASS, 0, 1 },
	{ "7489_dkim_strict_fails", DMARC_MODE_RFC7489, "v=DMARC1; p=reject; adkim=s", "example.com",
	  DMARC_AUTH_NONE, NULL, DMARC_AUTH_PASS, "mail.example.com", 0, DMARC_RESULT_FAIL, 0, 0 },
	{ "7489_public_suffix_never_aligns", DMARC_MODE_RFC7489, "v=DMARC1; p=reject", "example.com",
	  DMARC_AUTH_PASS, "com", DMARC_AUTH_PASS, "com", 0, DMARC_RESULT_FAIL, 0, 0 },
};

/* dmarc_alignment_table - strict and relaxed, SPF and DKIM, both modes */
static void
dmarc_alignment_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(align_cases) / sizeof(align_cases[0]); i++) {
		const struct align_case *c = &align_cases[i];
		struct rr rrs[] = {
			{ "_dmarc.example.com", DMARC_RR_TXT, DNS_OK, { c->record } },
		};
		struct zone z = ZONE(rrs);
		struct dmarc *d = evaluator(&z, c->mode);
		struct dmarc_dkim sig = { c->dkim, c->d, "sel", c->partial };
		struct dmarc_input in = { c->from, c->spf, c->spf_domain, &sig,
		    c->d != NULL ? 1 : 0 };
		struct dmarc_outcome o;

		dmarc_evaluate(d, &in, &o);
		if (o.result != c->want)
			fail_msg("%s: %s, wanted %s (%s)", c->name,
			    dmarc_result_name(o.result), dmarc_result_name(c->want),
			    o.reason);
		if (o.spf_aligned != c->spf_aligned)
			fail_msg("%s: spf_aligned %d", c->name, o.spf_aligned);
		if (in.ndkim == 1 && o.dkim_aligned[0] != c->dkim_aligned)
			fail_msg("%s: dkim_aligned %d", c->name, o.dkim_aligned[0]);
		dmarc_outcome_free(&o);
		dmarc_free(d);
	}
}

/* dmarc_second_signature_aligns - any one aligned passing signature is enough */
static void
dmarc_second_signature_aligns(void **state)
{
	static const struct rr rrs[] = {
		{ "_dmarc.example.com", DMARC_RR_TXT, DNS_OK, { "v=DMARC1; p=reject" } },
	};
	struct zone z = ZONE(rrs);
	struct dmarc *d = evaluator(&z, DMARC_MODE_RFC9989);
	struct dmarc_dkim sigs[] = {
		{ DMARC_AUTH_PASS, "esp.example.net", "s1", 0 },
		{ DMARC_AUTH_PASS, "example.com", "s2", 1 },
		{ DMARC_AUTH_PASS, "example.com", "s3", 0 },
	};
	struct dmarc_input in = { "example.com", DMARC_AUTH_NONE, NULL, sigs, 3 };
	struct dmarc_outcome o;

	(void)state;
	dmarc_evaluate(d, &in, &o);
	assert_int_equal(o.result, DMARC_RESULT_PASS);
	assert_int_equal(o.ndkim, 3);
	assert_false(o.dkim_aligned[0]);
	assert_false(o.dkim_aligned[1]);
	assert_true(o.dkim_aligned[2]);
	assert_int_equal(o.disposition, DMARC_POLICY_NONE);
	assert_non_null(strstr(o.reason, "d=example.com"));
	dmarc_outcome_free(&o);
	dmarc_free(d);
}

/* budget_run - 30 unaligned signatures under example.com, then last_d */
static void
budget_run(const char *last_d, enum dmarc_result want, int queries_at_cap)
{
	struct rr rrs[32];
	char junk[30][80], recname[30][40];
	struct dmarc_dkim sigs[31];
	struct dmarc_input in = { "example.com", DMARC_AUTH_NONE, NULL, sigs, 31 };
	struct dmarc_outcome o;
	struct zone z;
	struct dmarc *d;
	int i;

	memset(&z, 0, sizeof(z));
	memset(rrs, 0, sizeof(rrs));
	rrs[0].name = "_dmarc.example.com";
	rrs[0].type = DMARC_RR_TXT;
	rrs[0].st = DNS_OK;
	rrs[0].txt[0] = "v=DMARC1; p=reject";
	for (i = 0; i < 30; i++) {
		/* each junk d= has its own org domain v<i>.example.com (psd=n) */
		snprintf(junk[i], sizeof(junk[i]), "x.y%d.z%d.w%d.v%d.example.com",
		    i, i, i, i);
		snprintf(recname[i], sizeof(recname[i]), "_dmarc.v%d.example.com", i);
		rrs[i + 1].name = recname[i];
		rrs[i + 1].type = DMARC_RR_TXT;
		rrs[i + 1].st = DNS_OK;
		rrs[i + 1].txt[0] = "v=DMARC1; p=none; psd=n";
		sigs[i].result = DMARC_AUTH_PASS;
		sigs[i].domain = junk[i];
		sigs[i].selector = "s";
		sigs[i].partial = 0;
	}
	sigs[30].result = DMARC_AUTH_PASS;
	sigs[30].domain = last_d;
	sigs[30].selector = "s";
	sigs[30].partial = 0;
	z.rr = rrs;
	z.n = 31;
	d = evaluator(&z, DMARC_MODE_RFC9989);
	dmarc_evaluate(d, &in, &o);
	if (o.result != want)
		fail_msg("%s: %s (%s)", last_d, dmarc_result_name(o.result), o.reason);
	assert_true(o.queries <= DMARC_QUERY_MAX);
	assert_int_equal(z.nq, (int)o.queries);
	if (queries_at_cap)
		assert_int_equal(o.queries, DMARC_QUERY_MAX);
	assert_false(o.dkim_aligned[0]);
	assert_int_equal(o.dkim_aligned[30], want == DMARC_RESULT_PASS);
	dmarc_outcome_free(&o);
	dmarc_free(d);
}

/* dmarc_query_budget_bounds_many_signatures - hostile d= lists stay within the cap */
static void
dmarc_query_budget_bounds_many_signatures(void **state)
{
	(void)state;
	/* an identical d= needs no DNS: it aligns even after the budget is spent */
	budget_run("example.com", DMARC_RESULT_PASS, 0);
	/* a relaxed one would need a walk the budget no longer allows */
	budget_run("mail.example.com", DMARC_RESULT_FAIL, 1);
}

/* dmarc_unrelated_identifiers_cost_no_queries - no walk for d= outside the org domain */
static void
dmarc_unrelated_identifiers_cost_no_queries(void **state)
{
	static const struct rr rrs[] = {
		{ "_dmarc.example.com", DMARC_RR_TXT, DNS_OK, { "v=DMARC1; p=reject" } },
	};
	static const char *const want[] = { "_dmarc.example.com/16", "_dmarc.com/16" };
	struct zone z = ZONE(rrs);
	struct dmarc *d = evaluator(&z, DMARC_MODE_RFC9989);
	struct dmarc_dkim sigs[] = {
		{ DMARC_AUTH_PASS, "evil.example", "s", 0 },
		{ DMARC_AUTH_PASS, "notexample.com", "s", 0 },
	};
	struct dmarc_input in = { "example.com", DMARC_AUTH_PASS, "badexample.com", sigs, 2 };
	struct dmarc_outcome o;

	(void)state;
	dmarc_evaluate(d, &in, &o);
	assert_int_equal(o.result, DMARC_RESULT_FAIL);
	expect_queries(&z, want, 2);
	dmarc_outcome_free(&o);
	dmarc_free(d);
}

/* ---- policies ---- */

struct policy_case {
	const char *name;
	enum dmarc_mode mode;
	const char *record;		/* at _dmarc.example.com */
	const char *from;
	unsigned random;
	enum dmarc_result want;
	enum dmarc_source source;
	enum dmarc_policy policy, disposition;
	int sampled_out, testing, exists;
};

static const struct policy_case policy_cases[] = {
	{ "p_for_org_itself", DMARC_MODE_RFC9989, "v=DMARC1; p=reject; sp=none; np=quarantine",
	  "example.com", 0, DMARC_RESULT_FAIL, DMARC_SOURCE_P, R, R, 0, 0, -1 },
	{ "sp_for_existing_subdomain", DMARC_MODE_RFC9989, "v=DMARC1; p=reject; sp=quarantine; np=none",
	  "www.example.com", 0, DMARC_RESULT_FAIL, DMARC_SOURCE_SP, Q, Q, 0, 0, 1 },
	{ "np_for_nonexistent_subdomain", DMARC_MODE_RFC9989, "v=DMARC1; p=none; sp=quarantine; np=reject",
	  "ghost.example.com", 0, DMARC_RESULT_FAIL, DMARC_SOURCE_NP, R, R, 0, 0, 0 },
	{ "np_nodata_means_exists", DMARC_MODE_RFC9989, "v=DMARC1; p=reject; sp=quarantine; np=none",
	  "mail.example.com", 0, DMARC_RESULT_FAIL, DMARC_SOURCE_SP, Q, Q, 0, 0, 1 },
	{ "np_absent_uses_sp", DMARC_MODE_RFC9989, "v=DMARC1; p=none; sp=quarantine",
	  "ghost.example.com", 0, DMARC_RESULT_FAIL, DMARC_SOURCE_SP, Q, Q, 0, 0, -1 },
	{ "sp_absent_uses_p", DMARC_MODE_RFC9989, "v=DMARC1; p=reject",
	  "www.example.com", 0, DMARC_RESULT_FAIL, DMARC_SOURCE_SP, R, R, 0, 0, -1 },
	{ "np_same_as_sp_needs_no_lookup", DMARC_MODE_RFC9989, "v=DMARC1; p=none; sp=reject; np=reject",
	  "ghost.example.com", 0, DMARC_RESULT_FAIL, DMARC_SOURCE_SP, R, R, 0, 0, -1 },
	{ "np_ignored_in_7489", DMARC_MODE_RFC7489, "v=DMARC1; p=none; sp=quarantine; np=reject",
	  "ghost.example.com", 0, DMARC_RESULT_FAIL, DMARC_SOURCE_SP, Q, Q, 0, 0, -1 },
	{ "t_y_lowers_reject", DMARC_MODE_RFC9989, "v=DMARC1; p=reject; t=y",
	  "example.com", 0, DMARC_RESULT_FAIL, DMARC_SOURCE_P, R, Q, 0, 1, -1 },
	{ "t_y_lowers_quarantine", DMARC_MODE_RFC9989, "v=DMARC1; p=quarantine; t=y",
	  "example.com", 0, DMARC_RESULT_FAIL, DMARC_SOURCE_P, Q, N, 0, 1, -1 },
	{ "t_y_leaves_none", DMARC_MODE_RFC9989, "v=DMARC1; p=none; t=y",
	  "example.com", 0, DMARC_RESULT_FAIL, DMARC_SOURCE_P, N, N, 0, 0, -1 },
	{ "t_y_ignored_in_7489", DMARC_MODE_RFC7489, "v=DMARC1; p=reject; t=y",
	  "example.com", 0, DMARC_RESULT_FAIL, DMARC_SOURCE_P, R, R, 0, 0, -1 },
	{ "pct_0_always_sampled_out", DMARC_MODE_RFC7489, "v=DMARC1; p=reject; pct=0",
	  "example.com", 0, DMARC_RESULT_FAIL, DMARC_SOURCE_P, R, Q, 1, 0, -1 },
	{ "pct_0_quarantine_to_none", DMARC_MODE_RFC7489, "v=DMARC1; p=quarantine; pct=0",
	  "example.com", 99, DMARC_RESULT_FAIL, DMARC_SOURCE_P, Q, N, 1, 0, -1 },
	{ "pct_100_always_applied", DMARC_MODE_RFC7489, "v=DMARC1; p=reject; pct=100",
	  "example.com", 99, DMARC_RESULT_FAIL, DMARC_SOURCE_P, R, R, 0, 0, -1 },
	{ "pct_50_selected", DMARC_MODE_RFC7489, "v=DMARC1; p=reject; pct=50",
	  "example.com", 149, DMARC_RESULT_FAIL, DMARC_SOURCE_P, R, R, 0, 0, -1 },
	{ "pct_50_not_selected", DMARC_MODE_RFC7489, "v=DMARC1; p=reject; pct=50",
	  "example.com", 150, DMARC_RESULT_FAIL, DMARC_SOURCE_P, R, Q, 1, 0, -1 },
	{ "pct_ignored_in_9989", DMARC_MODE_RFC9989, "v=DMARC1; p=reject; pct=0",
	  "example.com", 0, DMARC_RESULT_FAIL, DMARC_SOURCE_P, R, R, 0, 0, -1 },
	{ "no_p_is_none_in_9989", DMARC_MODE_RFC9989, "v=DMARC1; adkim=s",
	  "example.com", 0, DMARC_RESULT_FAIL, DMARC_SOURCE_P, N, N, 0, 0, -1 },
	{ "no_p_no_rua_is_no_dmarc_in_7489", DMARC_MODE_RFC7489, "v=DMARC1; adkim=s",
	  "example.com", 0, DMARC_RESULT_NONE, DMARC_SOURCE_P, N, N, 0, 0, -1 },
	{ "bad_p_with_rua_is_p_none", DMARC_MODE_RFC9989, "v=DMARC1; p=rejekt; rua=mailto:r@example.com",
	  "example.com", 0, DMARC_RESULT_FAIL, DMARC_SOURCE_RUA_FALLBACK, N, N, 0, 0, -1 },
	{ "bad_p_with_rua_is_p_none_7489", DMARC_MODE_RFC7489, "v=DMARC1; p=rejekt; rua=mailto:r@example.com",
	  "example.com", 0, DMARC_RESULT_FAIL, DMARC_SOURCE_RUA_FALLBACK, N, N, 0, 0, -1 },
	{ "bad_p_without_rua_is_no_dmarc", DMARC_MODE_RFC9989, "v=DMARC1; p=rejekt",
	  "example.com", 0, DMARC_RESULT_NONE, DMARC_SOURCE_P, N, N, 0, 0, -1 },
	{ "bad_p_with_invalid_rua_is_no_dmarc", DMARC_MODE_RFC9989, "v=DMARC1; p=rejekt; rua=nonsense",
	  "example.com", 0, DMARC_RESULT_NONE, DMARC_SOURCE_P, N, N, 0, 0, -1 },
	{ "bad_sp_with_rua_overrides_p", DMARC_MODE_RFC9989, "v=DMARC1; p=reject; sp=x; rua=mailto:r@example.com",
	  "example.com", 0, DMARC_RESULT_FAIL, DMARC_SOURCE_RUA_FALLBACK, N, N, 0, 0, -1 },
	{ "bad_np_ignored_in_7489", DMARC_MODE_RFC7489, "v=DMARC1; p=reject; np=x",
	  "example.com", 0, DMARC_RESULT_FAIL, DMARC_SOURCE_P, R, R, 0, 0, -1 },
	{ "duplicate_p_with_rua_is_no_dmarc", DMARC_MODE_RFC9989, "v=DMARC1; p=reject; p=none; rua=mailto:r@example.com",
	  "example.com", 0, DMARC_RESULT_NONE, DMARC_SOURCE_P, N, N, 0, 0, -1 },
	{ "leading_space_is_no_dmarc", DMARC_MODE_RFC9989, " v=DMARC1; p=reject",
	  "example.com", 0, DMARC_RESULT_NONE, DMARC_SOURCE_P, N, N, 0, 0, -1 },
	{ "duplicate_p_without_rua_is_no_dmarc", DMARC_MODE_RFC9989, "v=DMARC1; p=reject; p=none",
	  "example.com", 0, DMARC_RESULT_NONE, DMARC_SOURCE_P, N, N, 0, 0, -1 },
};

/* dmarc_policy_table - p/sp/np, pct with injected random, t=y, invalid p */
static void
dmarc_policy_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(policy_cases) / sizeof(policy_cases[0]); i++) {
		const struct policy_case *c = &policy_cases[i];
		struct rr rrs[] = {
			{ "_dmarc.example.com", DMARC_RR_TXT, DNS_OK, { c->record } },
			{ "www.example.com", DMARC_RR_A, DNS_OK, { NULL } },
			{ "mail.example.com", DMARC_RR_MX, DNS_OK, { NULL } },	/* A: NODATA */
		};
		struct zone z = ZONE(rrs);
		struct dmarc *d = evaluator(&z, c->mode);
		struct dmarc_input in = { c->from, DMARC_AUTH_FAIL, c->from, NULL, 0 };
		struct dmarc_outcome o;

		fixed_random_value = c->random;
		dmarc_evaluate(d, &in, &o);
		if (o.result != c->want)
			fail_msg("%s: %s, wanted %s (%s)", c->name,
			    dmarc_result_name(o.result), dmarc_result_name(c->want),
			    o.reason);
		if (c->want == DMARC_RESULT_FAIL && (o.source != c->source
		    || o.policy != c->policy || o.disposition != c->disposition))
			fail_msg("%s: source %d policy %s disposition %s (%s)", c->name,
			    o.source, dmarc_policy_name(o.policy),
			    dmarc_policy_name(o.disposition), o.reason);
		if (o.pct_ignored != (c->mode == DMARC_MODE_RFC9989
		    && strstr(c->record, "pct=0") != NULL))
			fail_msg("%s: pct_ignored %d", c->name, o.pct_ignored);
		if (o.sampled_out != c->sampled_out || o.testing != c->testing
		    || o.exists != c->exists)
			fail_msg("%s: sampled_out %d testing %d exists %d", c->name,
			    o.sampled_out, o.testing, o.exists);
		dmarc_outcome_free(&o);
		dmarc_free(d);
	}
}

/* dmarc_np_checks_a_aaaa_mx - all three NXDOMAIN before np applies */
static void
dmarc_np_checks_a_aaaa_mx(void **state)
{
	static const struct rr rrs[] = {
		{ "_dmarc.example.com", DMARC_RR_TXT, DNS_OK, { "v=DMARC1; p=none; np=reject" } },
		/* not a real zone's answers: makes all three lookups happen */
		{ "mx-only.example.com", DMARC_RR_A, DNS_NXDOMAIN, { NULL } },
		{ "mx-only.example.com", DMARC_RR_AAAA, DNS_NXDOMAIN, { NULL } },
		{ "mx-only.example.com", DMARC_RR_MX, DNS_OK, { NULL } },
	};
	static const char *const want[] = {
		"_dmarc.mx-only.example.com/16", "_dmarc.example.com/16", "_dmarc.com/16",
		"mx-only.example.com/1", "mx-only.example.com/28", "mx-only.example.com/15",
	};
	struct zone z = ZONE(rrs);
	struct dmarc *d = evaluator(&z, DMARC_MODE_RFC9989);
	struct dmarc_input in = { "mx-only.example.com", DMARC_AUTH_NONE, NULL, NULL, 0 };
	struct dmarc_outcome o;

	(void)state;
	dmarc_evaluate(d, &in, &o);
	assert_int_equal(o.result, DMARC_RESULT_FAIL);
	assert_int_equal(o.exists, 1);
	assert_int_equal(o.source, DMARC_SOURCE_SP);
	assert_int_equal(o.policy, DMARC_POLICY_NONE);
	expect_queries(&z, want, 6);
	dmarc_outcome_free(&o);
	dmarc_free(d);
}

/* ---- errors ---- */

/* dmarc_bad_from_domain_is_permerror - NULL and hostile domains, no DNS asked */
static void
dmarc_bad_from_domain_is_permerror(void **state)
{
	static const char *const bad[] = {
		NULL, "", ".", "exa mple.com", "example.com;", "(evil).example.com",
		"example.com\r\nX-Injected: 1", "a..b.example", "-a.example",
		"[192.0.2.1]", "example..com", "x\xff\xfe.example", "example.com..",
		"a.b\tc.example", "\"quoted\".example",
	};
	static const struct rr rrs[] = { { "_dmarc.example.com", DMARC_RR_TXT, DNS_OK, { "v=DMARC1; p=reject" } } };
	struct zone z = ZONE(rrs);
	struct dmarc *d = evaluator(&z, DMARC_MODE_RFC9989);
	struct dmarc_input in = { NULL, DMARC_AUTH_PASS, "example.com", NULL, 0 };
	struct dmarc_outcome o;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		in.from_domain = bad[i];
		dmarc_evaluate(d, &in, &o);
		if (o.result != DMARC_RESULT_PERMERROR)
			fail_msg("case %zu: %s", i, dmarc_result_name(o.result));
		assert_string_equal(o.from_domain, "");
		dmarc_outcome_free(&o);
	}
	assert_int_equal(z.nq, 0);
	dmarc_free(d);
}

/* dmarc_idn_from_domain_queries_a_label - U-labels become A-labels */
static void
dmarc_idn_from_domain_queries_a_label(void **state)
{
	static const struct rr rrs[] = {
		{ "_dmarc.xn--bcher-kva.example", DMARC_RR_TXT, DNS_OK, { "v=DMARC1; p=reject" } },
	};
	struct zone z = ZONE(rrs);
	struct dmarc *d = evaluator(&z, DMARC_MODE_RFC9989);
	struct dmarc_input in = { "B\xc3\xbc" "cher.example", DMARC_AUTH_PASS,
	    "xn--bcher-kva.example", NULL, 0 };
	struct dmarc_outcome o;

	(void)state;
	dmarc_evaluate(d, &in, &o);
	assert_string_equal(o.from_domain, "xn--bcher-kva.example");
	assert_int_equal(o.result, DMARC_RESULT_PASS);
	dmarc_outcome_free(&o);
	dmarc_free(d);
}

/*
 * dmarc_u_label_from_is_judged_as_its_a_labels - a From subdomain in
 * U-labels, signed by its parent in A-labels (what subdomains = yes
 * signs), gets the outcome of the same From written in A-labels: relaxed
 * alignment passes, the policy is the parent's
 */
static void
dmarc_u_label_from_is_judged_as_its_a_labels(void **state)
{
	static const struct rr rrs[] = {
		{ "_dmarc.xn--bcher-kva.example", DMARC_RR_TXT, DNS_OK, { "v=DMARC1; p=reject" } },
	};
	static const struct dmarc_dkim sig = { DMARC_AUTH_PASS,
	    "xn--bcher-kva.example", "s1", 0 };
	static const char *const froms[] = {
		"News.B\xc3\xbc" "cher.example", "news.xn--bcher-kva.example",
	};
	struct zone z = ZONE(rrs);
	struct dmarc *d = evaluator(&z, DMARC_MODE_RFC9989);
	struct dmarc_outcome o[2];
	size_t i;

	(void)state;
	for (i = 0; i < 2; i++) {
		struct dmarc_input in = { froms[i], DMARC_AUTH_NONE,
		    "b\xc3\xbc" "cher.example", &sig, 1 };

		dmarc_evaluate(d, &in, &o[i]);
		assert_string_equal(o[i].from_domain, "news.xn--bcher-kva.example");
		assert_int_equal(o[i].result, DMARC_RESULT_PASS);
		assert_string_equal(o[i].policy_domain, "xn--bcher-kva.example");
	}
	assert_int_equal(o[0].record.p, o[1].record.p);
	dmarc_outcome_free(&o[0]);
	dmarc_outcome_free(&o[1]);
	dmarc_free(d);
}

struct temp_case {
	const char *name;
	const char *failing;		/* owner whose lookup fails */
	int type;
	enum dns_status st;
	struct dmarc_input in;
	enum dmarc_result want;
};

/* dmarc_dns_errors_are_temperror - at discovery, walk, alignment, existence */
static void
dmarc_dns_errors_are_temperror(void **state)
{
	static const struct dmarc_dkim sub = { DMARC_AUTH_PASS, "mail.example.com", "s", 0 };
	static const struct dmarc_dkim exact = { DMARC_AUTH_PASS, "www.example.com", "s", 0 };
	static const struct temp_case cases[] = {
		{ "author_timeout", "_dmarc.www.example.com", DMARC_RR_TXT, DNS_TEMPFAIL,
		  { "www.example.com", DMARC_AUTH_NONE, NULL, NULL, 0 }, DMARC_RESULT_TEMPERROR },
		{ "author_bogus", "_dmarc.www.example.com", DMARC_RR_TXT, DNS_BOGUS,
		  { "www.example.com", DMARC_AUTH_NONE, NULL, NULL, 0 }, DMARC_RESULT_TEMPERROR },
		{ "walk_parent_servfail", "_dmarc.com", DMARC_RR_TXT, DNS_TEMPFAIL,
		  { "www.example.com", DMARC_AUTH_NONE, NULL, NULL, 0 }, DMARC_RESULT_TEMPERROR },
		{ "alignment_walk_servfail", "_dmarc.mail.example.com", DMARC_RR_TXT, DNS_TEMPFAIL,
		  { "example.com", DMARC_AUTH_NONE, NULL, &sub, 1 }, DMARC_RESULT_TEMPERROR },
		{ "alignment_walk_servfail_but_exact_match_passes", "_dmarc.mail.example.com",
		  DMARC_RR_TXT, DNS_TEMPFAIL,
		  { "www.example.com", DMARC_AUTH_NONE, NULL, &exact, 1 }, DMARC_RESULT_PASS },
		{ "existence_check_timeout", "ghost.example.com", DMARC_RR_A, DNS_TEMPFAIL,
		  { "ghost.example.com", DMARC_AUTH_NONE, NULL, NULL, 0 }, DMARC_RESULT_TEMPERROR },
		{ "7489_org_timeout", "_dmarc.example.com", DMARC_RR_TXT, DNS_TEMPFAIL,
		  { "www.example.com", DMARC_AUTH_NONE, NULL, NULL, 0 }, DMARC_RESULT_TEMPERROR },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct temp_case *c = &cases[i];
		struct rr rrs[] = {
			{ c->failing, c->type, c->st, { NULL } },
			{ "_dmarc.example.com", DMARC_RR_TXT, DNS_OK,
			  { "v=DMARC1; p=reject; sp=reject; np=quarantine" } },
			{ "www.example.com", DMARC_RR_A, DNS_OK, { NULL } },
		};
		struct zone z = ZONE(rrs);
		struct dmarc *d = evaluator(&z, strncmp(c->name, "7489", 4) == 0
		    ? DMARC_MODE_RFC7489 : DMARC_MODE_RFC9989);
		struct dmarc_outcome o;

		dmarc_evaluate(d, &c->in, &o);
		if (o.result != c->want)
			fail_msg("%s: %s, wanted %s (%s)", c->name,
			    dmarc_result_name(o.result), dmarc_result_name(c->want),
			    o.reason);
		dmarc_outcome_free(&o);
		dmarc_free(d);
	}
}

/* One row of the "which result when DNS did not finish" table. */
struct unfinished_case {
	const char *name;
	enum dmarc_mode mode;
	const char *record;		/* at _dmarc.example.com */
	unsigned random;		/* pct= draw (RFC 7489) */
	enum dmarc_auth spf;
	const char *spf_domain;
	enum dmarc_auth dkim1;		/* first signature */
	const char *d1;
	enum dmarc_auth dkim2;		/* second signature (d2 NULL: none) */
	const char *d2;
	enum dmarc_result want;
	enum dmarc_policy at_stake;	/* checked when want is temperror */
	enum dmarc_policy disposition;	/* checked when want is fail */
};

#define T_ DMARC_AUTH_TEMPERROR
#define P_ DMARC_AUTH_PASS
#define F_ DMARC_AUTH_FAIL
#define E_ DMARC_AUTH_PERMERROR
#define U_ DMARC_POLICY_UNSET

/*
 * An SPF or DKIM check that ended in temperror, for an identifier that
 * would align, leaves DMARC undecided when nothing aligned passed (RFC
 * 9989, DMARC validation with DNS errors): temperror, never the domain's
 * reject. Permerror and unaligned temperrors stay fail.
 */
static const struct unfinished_case unfinished_cases[] = {
	{ "dkim_key_timeout_aligned_spf_fail", DMARC_MODE_RFC9989, "v=DMARC1; p=reject", 0,
	  F_, "example.com", T_, "example.com", 0, NULL, DMARC_RESULT_TEMPERROR, R, N },
	{ "dkim_key_timeout_relaxed_subdomain", DMARC_MODE_RFC9989, "v=DMARC1; p=reject", 0,
	  F_, "example.com", T_, "mail.example.com", 0, NULL, DMARC_RESULT_TEMPERROR, R, N },
	{ "dkim_key_timeout_strict_subdomain_cannot_align", DMARC_MODE_RFC9989,
	  "v=DMARC1; p=reject; adkim=s", 0,
	  F_, "example.com", T_, "mail.example.com", 0, NULL, DMARC_RESULT_FAIL, U_, R },
	{ "dkim_key_timeout_other_org", DMARC_MODE_RFC9989, "v=DMARC1; p=reject", 0,
	  F_, "example.com", T_, "esp.example.net", 0, NULL, DMARC_RESULT_FAIL, U_, R },
	{ "dkim_key_permerror_stays_fail", DMARC_MODE_RFC9989, "v=DMARC1; p=reject", 0,
	  F_, "example.com", E_, "example.com", 0, NULL, DMARC_RESULT_FAIL, U_, R },
	{ "spf_timeout_aligned_no_dkim", DMARC_MODE_RFC9989, "v=DMARC1; p=reject", 0,
	  T_, "bounce.example.com", 0, NULL, 0, NULL, DMARC_RESULT_TEMPERROR, R, N },
	{ "spf_timeout_strict_subdomain_cannot_align", DMARC_MODE_RFC9989,
	  "v=DMARC1; p=reject; aspf=s", 0,
	  T_, "bounce.example.com", 0, NULL, 0, NULL, DMARC_RESULT_FAIL, U_, R },
	{ "spf_timeout_other_org", DMARC_MODE_RFC9989, "v=DMARC1; p=reject", 0,
	  T_, "bounces.esp.example.net", F_, "example.com", 0, NULL, DMARC_RESULT_FAIL, U_, R },
	{ "spf_permerror_stays_fail", DMARC_MODE_RFC9989, "v=DMARC1; p=reject", 0,
	  E_, "example.com", 0, NULL, 0, NULL, DMARC_RESULT_FAIL, U_, R },
	{ "aligned_pass_wins_over_timeout", DMARC_MODE_RFC9989, "v=DMARC1; p=reject", 0,
	  T_, "example.com", P_, "example.com", 0, NULL, DMARC_RESULT_PASS, U_, N },
	{ "aligned_pass_of_second_signature_wins", DMARC_MODE_RFC9989, "v=DMARC1; p=reject", 0,
	  F_, "example.com", T_, "example.com", P_, "mail.example.com", DMARC_RESULT_PASS, U_, N },
	{ "unaligned_pass_does_not_hide_timeout", DMARC_MODE_RFC9989, "v=DMARC1; p=reject", 0,
	  F_, "example.com", P_, "esp.example.net", T_, "example.com", DMARC_RESULT_TEMPERROR, R, N },
	{ "alignment_walk_timeout_counts_as_could_align", DMARC_MODE_RFC9989, "v=DMARC1; p=reject", 0,
	  F_, "example.com", T_, "slow.example.com", 0, NULL, DMARC_RESULT_TEMPERROR, R, N },
	{ "p_none_nothing_at_stake", DMARC_MODE_RFC9989, "v=DMARC1; p=none", 0,
	  F_, "example.com", T_, "example.com", 0, NULL, DMARC_RESULT_TEMPERROR, N, N },
	{ "p_quarantine_at_stake", DMARC_MODE_RFC9989, "v=DMARC1; p=quarantine", 0,
	  F_, "example.com", T_, "example.com", 0, NULL, DMARC_RESULT_TEMPERROR, Q, N },
	{ "t_y_lowers_what_is_at_stake", DMARC_MODE_RFC9989, "v=DMARC1; p=reject; t=y", 0,
	  F_, "example.com", T_, "example.com", 0, NULL, DMARC_RESULT_TEMPERROR, Q, N },
	{ "7489_dkim_key_timeout_aligned", DMARC_MODE_RFC7489, "v=DMARC1; p=reject", 0,
	  F_, "example.com", T_, "mail.example.com", 0, NULL, DMARC_RESULT_TEMPERROR, R, N },
	{ "7489_spf_timeout_aligned", DMARC_MODE_RFC7489, "v=DMARC1; p=quarantine", 0,
	  T_, "example.com", 0, NULL, 0, NULL, DMARC_RESULT_TEMPERROR, Q, N },
	{ "7489_pct_0_sampled_out", DMARC_MODE_RFC7489, "v=DMARC1; p=reject; pct=0", 0,
	  F_, "example.com", T_, "example.com", 0, NULL, DMARC_RESULT_TEMPERROR, Q, N },
	{ "7489_timeout_other_org_stays_fail", DMARC_MODE_RFC7489, "v=DMARC1; p=reject", 0,
	  F_, "example.com", T_, "example.net", 0, NULL, DMARC_RESULT_FAIL, U_, R },
};

/* dmarc_unfinished_checks_table - DKIM/SPF temperror with and without alignment */
static void
dmarc_unfinished_checks_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(unfinished_cases) / sizeof(unfinished_cases[0]); i++) {
		const struct unfinished_case *c = &unfinished_cases[i];
		struct rr rrs[] = {
			{ "_dmarc.example.com", DMARC_RR_TXT, DNS_OK, { c->record } },
			{ "_dmarc.slow.example.com", DMARC_RR_TXT, DNS_TEMPFAIL, { NULL } },
		};
		struct zone z = ZONE(rrs);
		struct dmarc *d = evaluator(&z, c->mode);
		struct dmarc_dkim sigs[2] = {
			{ c->dkim1, c->d1, "s1", 0 }, { c->dkim2, c->d2, "s2", 0 },
		};
		struct dmarc_input in = { "example.com", c->spf, c->spf_domain, sigs,
		    c->d2 != NULL ? 2 : c->d1 != NULL ? 1 : 0 };
		struct dmarc_outcome o;

		fixed_random_value = c->random;
		dmarc_evaluate(d, &in, &o);
		if (o.result != c->want)
			fail_msg("%s: %s, wanted %s (%s)", c->name,
			    dmarc_result_name(o.result), dmarc_result_name(c->want),
			    o.reason);
		if (c->want == DMARC_RESULT_TEMPERROR && (o.at_stake != c->at_stake
		    || o.disposition != DMARC_POLICY_NONE
		    || strstr(o.reason, "did not finish") == NULL))
			fail_msg("%s: at_stake %d disposition %d (%s)", c->name,
			    o.at_stake, o.disposition, o.reason);
		if (c->want == DMARC_RESULT_FAIL && o.disposition != c->disposition)
			fail_msg("%s: disposition %s (%s)", c->name,
			    dmarc_policy_name(o.disposition), o.reason);
		dmarc_outcome_free(&o);
		dmarc_free(d);
	}
}

#undef T_
#undef P_
#undef F_
#undef E_
#undef U_

/* dmarc_default_lookup_without_resolver_is_temperror - no struct dns: temperror */
static void
dmarc_default_lookup_without_resolver_is_temperror(void **state)
{
	struct dmarc_options opt;
	struct dmarc_input in = { "example.com", DMARC_AUTH_PASS, "example.com", NULL, 0 };
	struct dmarc_outcome o;
	struct dmarc *d;
	char err[128];

	(void)state;
	memset(&opt, 0, sizeof(opt));
	d = dmarc_new(&opt, err, sizeof(err));
	assert_non_null(d);
	dmarc_evaluate(d, &in, &o);
	assert_int_equal(o.result, DMARC_RESULT_TEMPERROR);
	dmarc_outcome_free(&o);
	dmarc_free(d);
}

/* dmarc_new_reports_missing_psl_file - a clear error naming the package */
static void
dmarc_new_reports_missing_psl_file(void **state)
{
	struct dmarc_options opt;
	char err[256];

	(void)state;
	memset(&opt, 0, sizeof(opt));
	opt.mode = DMARC_MODE_RFC7489;
	opt.psl_file = "/nonexistent/public_suffix_list.dat";
	assert_null(dmarc_new(&opt, err, sizeof(err)));
	assert_non_null(strstr(err, "publicsuffix"));
}

/* dmarc_names_round_trip - mode and result names */
static void
dmarc_names_round_trip(void **state)
{
	(void)state;
	assert_int_equal(dmarc_mode_parse("rfc9989"), DMARC_MODE_RFC9989);
	assert_int_equal(dmarc_mode_parse("RFC7489"), DMARC_MODE_RFC7489);
	assert_int_equal(dmarc_mode_parse("dmarcbis"), -1);
	assert_string_equal(dmarc_mode_name(DMARC_MODE_RFC7489), "rfc7489");
	assert_string_equal(dmarc_result_name(DMARC_RESULT_TEMPERROR), "temperror");
	assert_string_equal(dmarc_policy_name(DMARC_POLICY_QUARANTINE), "quarantine");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(dmarc_record_parse_table),
		cmocka_unit_test(dmarc_record_keeps_uris_without_size),
		cmocka_unit_test(dmarc_record_nul_byte_in_value),
		cmocka_unit_test(dmarc_record_huge_is_linear_and_bounded),
		cmocka_unit_test(dmarc_7489_falls_back_to_psl_org_domain),
		cmocka_unit_test(dmarc_7489_skips_intermediate_names),
		cmocka_unit_test(dmarc_multiple_records_are_none),
		cmocka_unit_test(dmarc_9989_walk_caps_long_names),
		cmocka_unit_test(dmarc_9989_walk_finds_org_record_of_deep_name),
		cmocka_unit_test(dmarc_9989_psd_y_example),
		cmocka_unit_test(dmarc_9989_psd_record_applies_to_unregistered_org),
		cmocka_unit_test(dmarc_9989_psd_y_prefers_org_record),
		cmocka_unit_test(dmarc_9989_psd_n_stops_walk),
		cmocka_unit_test(dmarc_9989_walk_picks_fewest_labels),
		cmocka_unit_test(dmarc_alignment_table),
		cmocka_unit_test(dmarc_second_signature_aligns),
		cmocka_unit_test(dmarc_query_budget_bounds_many_signatures),
		cmocka_unit_test(dmarc_unrelated_identifiers_cost_no_queries),
		cmocka_unit_test(dmarc_policy_table),
		cmocka_unit_test(dmarc_np_checks_a_aaaa_mx),
		cmocka_unit_test(dmarc_bad_from_domain_is_permerror),
		cmocka_unit_test(dmarc_idn_from_domain_queries_a_label),
		cmocka_unit_test(dmarc_u_label_from_is_judged_as_its_a_labels),
		cmocka_unit_test(dmarc_dns_errors_are_temperror),
		cmocka_unit_test(dmarc_unfinished_checks_table),
		cmocka_unit_test(dmarc_default_lookup_without_resolver_is_temperror),
		cmocka_unit_test(dmarc_new_reports_missing_psl_file),
		cmocka_unit_test(dmarc_names_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
