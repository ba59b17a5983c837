/*
 * test_dkim_tags.c - the builtin DKIM verifier's parsers on their own:
 * tag-lists (dkim_tags.c), DKIM-Signature fields (dkim_sig.c) and key
 * records (dkim_keyrec.c), with hostile input: duplicate tags, missing
 * v=, bad base64, huge values, embedded NULs, folded whitespace.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "base/buf.h"
#include "auth/dkim_keyrec.h"
#include "auth/dkim_sig.h"
#include "auth/dkim_tags.h"
#include "base/xalloc.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define NOW ((time_t)1772366400)	/* 2026-03-01T12:00:00Z */

/* dkim_tags_parses_and_refuses - one row per list: valid or why not */
static void
dkim_tags_parses_and_refuses(void **state)
{
	static const struct {
		const char *in;
		size_t len;		/* 0: strlen */
		enum dkim_tags_status want;
		size_t n;		/* tags when valid */
		const char *tag, *value;	/* one of them */
	} cases[] = {
		{ "a=1; b=2", 0, DKIM_TAGS_OK, 2, "b", "2" },
		{ "a=1; b=2;", 0, DKIM_TAGS_OK, 2, "a", "1" },
		{ " \r\n\ta = 1 ;\r\n b=\r\n\t x y  z\r\n ", 0, DKIM_TAGS_OK, 2, "b", "xyz" },
		{ "a=;b=", 0, DKIM_TAGS_OK, 2, "a", "" },
		{ "h=From : To :\n\tSubject", 0, DKIM_TAGS_OK, 1, "h", "From:To:Subject" },
		{ "a_1=x", 0, DKIM_TAGS_OK, 1, "a_1", "x" },
		{ "a=1; a=2", 0, DKIM_TAGS_DUPLICATE, 0, NULL, NULL },
		{ "d=x; s=y; d=x", 0, DKIM_TAGS_DUPLICATE, 0, NULL, NULL },
		{ "a=1; A=2", 0, DKIM_TAGS_OK, 2, "A", "2" },	/* case-sensitive */
		{ "", 0, DKIM_TAGS_SYNTAX, 0, NULL, NULL },
		{ "  \r\n ", 0, DKIM_TAGS_SYNTAX, 0, NULL, NULL },
		{ "a=1;; b=2", 0, DKIM_TAGS_SYNTAX, 0, NULL, NULL },
		{ ";a=1", 0, DKIM_TAGS_SYNTAX, 0, NULL, NULL },
		{ "a", 0, DKIM_TAGS_SYNTAX, 0, NULL, NULL },
		{ "a=1; b", 0, DKIM_TAGS_SYNTAX, 0, NULL, NULL },
		{ "1a=1", 0, DKIM_TAGS_SYNTAX, 0, NULL, NULL },
		{ "a b=1", 0, DKIM_TAGS_SYNTAX, 0, NULL, NULL },
		{ "a-b=1", 0, DKIM_TAGS_SYNTAX, 0, NULL, NULL },
		{ "a=1\x01", 0, DKIM_TAGS_SYNTAX, 0, NULL, NULL },
		{ "a=caf\xc3\xa9", 0, DKIM_TAGS_SYNTAX, 0, NULL, NULL },
		{ "a=1\0; b=2", 10, DKIM_TAGS_SYNTAX, 0, NULL, NULL },	/* NUL */
		{ "a=1; b=2\0", 9, DKIM_TAGS_SYNTAX, 0, NULL, NULL },
		{ "a=1\x7f", 0, DKIM_TAGS_SYNTAX, 0, NULL, NULL },
	};
	struct dkim_tags t;
	enum dkim_tags_status st;
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		st = dkim_tags_parse(&t, cases[i].in, cases[i].len != 0
		    ? cases[i].len : strlen(cases[i].in));
		if (st != cases[i].want)
			fail_msg("case %zu: %s, want %s", i, dkim_tags_status_name(st),
			    dkim_tags_status_name(cases[i].want));
		assert_int_equal(t.n, cases[i].n);
		if (cases[i].tag != NULL)
			assert_string_equal(dkim_tags_get(&t, cases[i].tag),
			    cases[i].value);
		if (st != DKIM_TAGS_OK)
			assert_null(dkim_tags_get(&t, "a"));
		dkim_tags_free(&t);
		assert_null(t.buf);
	}
}

/* dkim_tags_limits_hold - many tags refused; one huge value taken whole */
static void
dkim_tags_limits_hold(void **state)
{
	struct buf b = BUF_INIT;
	struct dkim_tags t;
	size_t i;

	(void)state;
	for (i = 0; i <= DKIM_TAGS_MAX; i++)
		buf_printf(&b, "t%zu=%zu;", i, i);
	assert_int_equal(dkim_tags_parse(&t, b.data, b.len), DKIM_TAGS_TOO_MANY);
	dkim_tags_free(&t);
	buf_reset(&b);
	buf_puts(&b, "v=1; b=");
	for (i = 0; i < 1000000; i++)
		buf_putc(&b, i % 77 == 76 ? ' ' : 'A');
	assert_int_equal(dkim_tags_parse(&t, b.data, b.len), DKIM_TAGS_OK);
	assert_int_equal(strlen(dkim_tags_get(&t, "b")), 1000000 - 1000000 / 77);
	dkim_tags_free(&t);
	buf_free(&b);
}

#define SIG_OK " v=1; a=rsa-sha256; c=relaxed/simple; d=example.com; s=sel;" \
	" h=From:To; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=dGVzdA=="

/* dkim_sig_checks_in_order - each broken signature, libopendkim's reason */
static void
dkim_sig_checks_in_order(void **state)
{
	static const struct {
		const char *value;
		const char *error;	/* NULL: usable */
		int fails;		/* a fail, not a malformed signature */
	} cases[] = {
		{ SIG_OK, NULL, 0 },
		{ SIG_OK "; l=0; t=1772366000; x=1772367000; i=@example.com", NULL, 0 },
		{ SIG_OK "; i=joe@mail.example.com; q=dns/txt", NULL, 0 },
		{ SIG_OK "; i=joe=40x@example.com", NULL, 0 },	/* qp */
		{ SIG_OK "; d=example.org", "duplicate tag", 0 },
		{ SIG_OK "; D=example.org", NULL, 0 },		/* another tag */
		{ " v=1; a=rsa-sha256; s=sel; h=from; bh=AAAA; b=AAAA", "domain tag missing", 0 },
		{ " v=1; a=rsa-sha256; d=; s=sel; h=from; bh=AAAA; b=AAAA", "domain tag empty", 0 },
		{ " v=1; a=rsa-sha256; d=x; h=from; bh=AAAA; b=AAAA", "selector tag missing", 0 },
		{ " a=rsa-sha256; d=x; s=y; h=from; bh=AAAA; b=AAAA", "version missing", 0 },
		{ " v=2; a=rsa-sha256; d=x; s=y; h=from; bh=AAAA; b=AAAA",
		  "unsupported signature version", 0 },
		{ SIG_OK "; i=joe@example.org", "invalid domain coverage", 0 },
		{ SIG_OK "; i=joe@badexample.com", "invalid domain coverage", 0 },
		{ SIG_OK "; i=joe.example.com", "invalid domain coverage", 0 },
		{ SIG_OK "; t=1000; x=1001", "signature expired", 1 },
		{ SIG_OK "; x=1772366200", NULL, 0 },	/* within the drift */
		{ SIG_OK "; t=1872366400", "signature timestamp in the future", 1 },
		{ SIG_OK "; t=1772366400; x=1772366400", "signature timestamp order error", 0 },
		{ SIG_OK "; t=12x", "invalid t= value", 0 },
		{ SIG_OK "; x=99999999999999999999999", "invalid x= value", 0 },
		{ " v=1; a=rsa-sha256; c=loose/simple; d=x; s=y; h=from; bh=A; b=AAAA",
		  "invalid header canonicalization", 0 },
		{ " v=1; a=rsa-sha256; c=simple/loose; d=x; s=y; h=from; bh=A; b=AAAA",
		  "invalid body canonicalization", 0 },
		{ " v=1; d=x; s=y; h=from; bh=AAAA; b=AAAA", "signature algorithm missing", 0 },
		{ " v=1; a=rsa-md5; d=x; s=y; h=from; bh=AAAA; b=AAAA",
		  "signature algorithm invalid", 0 },
		{ " v=1; a=rsa-sha256; d=x; s=y; bh=AAAA; b=AAAA", "header list missing", 0 },
		{ " v=1; a=rsa-sha256; d=x; s=y; h=; bh=AAAA; b=AAAA", "header list tag empty", 0 },
		{ " v=1; a=rsa-sha256; d=x; s=y; h=to:fromage; bh=AAAA; b=AAAA",
		  "header list missing required entries", 0 },
		{ SIG_OK "; l=-1", "body length value invalid", 0 },
		{ SIG_OK "; l=99999999999999999999", "body length value invalid", 0 },
		{ SIG_OK "; q=http", "query method invalid", 0 },
		{ SIG_OK "; q=dns/xml", "query option invalid", 0 },
		{ " v=1; a=rsa-sha256; d=x; s=y; h=from; b=AAAA", "body hash missing", 0 },
		{ " v=1; a=rsa-sha256; d=x; s=y; h=from; bh=; b=AAAA", "body hash empty", 0 },
		{ " v=1; a=rsa-sha256; d=x; s=y; h=from; bh=AAAA", "signature data missing", 0 },
		{ " v=1; a=rsa-sha256; d=x; s=y; h=from; bh=AAAA; b=", "signature data empty", 0 },
		{ " v=1; a=rsa-sha256; d=x; s=y; h=from; bh=AAAA; b=AB*D", "signature data corrupt", 0 },
		{ " v=1; a=rsa-sha256; d=x; s=y; h=from; bh=AAAA; b=A", "signature data corrupt", 0 },
		{ " v=1; a=rsa-sha256; d=x; s=y; h=from; bh=AAAA; b=AA=A", "signature data corrupt", 0 },
		{ " v=1; \x01garbage", "tag-list syntax error", 0 },
	};
	struct dkim_sig s;
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		dkim_sig_parse(&s, cases[i].value, NOW);
		if ((s.error == NULL) != (cases[i].error == NULL) ||
		    (s.error != NULL && strcmp(s.error, cases[i].error) != 0) ||
		    s.error_fails != cases[i].fails)
			fail_msg("case %zu: \"%s\" (fails %d), want \"%s\"", i,
			    s.error != NULL ? s.error : "(none)", s.error_fails,
			    cases[i].error != NULL ? cases[i].error : "(none)");
		dkim_sig_free(&s);
	}
}

/* dkim_sig_reads_tags - the values a usable signature gives */
static void
dkim_sig_reads_tags(void **state)
{
	struct dkim_sig s;

	(void)state;
	dkim_sig_parse(&s, SIG_OK "; l=42;\r\n\ti=joe@example.com", NOW);
	assert_null(s.error);
	assert_string_equal(s.domain, "example.com");
	assert_string_equal(s.selector, "sel");
	assert_string_equal(s.identity, "joe@example.com");
	assert_int_equal(s.alg, DKIM_SIG_RSA_SHA256);
	assert_int_equal(s.hcanon, SIGN_CANON_RELAXED);
	assert_int_equal(s.bcanon, SIGN_CANON_SIMPLE);
	assert_int_equal(s.length, 42);
	assert_int_equal(s.siglen, 4);
	assert_memory_equal(s.sig, "test", 4);
	dkim_sig_free(&s);
	dkim_sig_parse(&s, " v=1; a=ED25519-SHA256; c=relaxed; d=x; s=y; h=from;"
	    " bh=AAAA; b=AAAA", NOW);
	assert_null(s.error);
	assert_int_equal(s.alg, DKIM_SIG_ED25519_SHA256);
	assert_int_equal(s.bcanon, SIGN_CANON_SIMPLE);	/* c=relaxed: body simple */
	assert_int_equal(s.length, DKIM_SIG_NOLIMIT);
	dkim_sig_free(&s);
}

/* dkim_sig_strips_b_only - b= emptied (whitespace and all); bh= and the rest kept */
static void
dkim_sig_strips_b_only(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ " a=1; bh=xyz; b=abc; c=2", " a=1; bh=xyz; b=; c=2" },
		{ " a=1; b = ab\r\n\tc ;c=2", " a=1; b =;c=2" },
		{ " b=abc", " b=" },
		{ " a=1;\n\tb=abc\n\t def", " a=1;\n\tb=" },
		{ " bh=1; b=2;", " bh=1; b=;" },
	};
	struct buf out = BUF_INIT;
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		buf_reset(&out);
		dkim_sig_strip_b(cases[i].in, &out);
		if (strcmp(buf_cstr(&out), cases[i].out) != 0)
			fail_msg("case %zu: \"%s\", want \"%s\"", i, buf_cstr(&out),
			    cases[i].out);
	}
	buf_free(&out);
}

/* dkim_keyrec_checks_in_order - each record, its status and libopendkim's reason */
static void
dkim_keyrec_checks_in_order(void **state)
{
	static const struct {
		const char *txt;
		size_t len;		/* 0: strlen */
		enum dkim_keyrec_status want;
		const char *why;	/* of BAD */
	} cases[] = {
		{ "v=DKIM1; p=AAAA", 0, DKIM_KEYREC_OK, NULL },
		{ "p=AAAA", 0, DKIM_KEYREC_OK, NULL },		/* v= is optional */
		{ "v=DKIM1; k=rsa; h=sha1:sha256; s=email:*; t=y; p=AAAA", 0,
		  DKIM_KEYREC_OK, NULL },
		{ "v=DKIM1; k=rsa; p=", 0, DKIM_KEYREC_REVOKED, NULL },
		{ "v=DKIM2; p=AAAA", 0, DKIM_KEYREC_BAD, "unknown key version" },
		{ "v=dkim1; p=AAAA", 0, DKIM_KEYREC_BAD, "unknown key version" },
		{ "h=md5; p=AAAA", 0, DKIM_KEYREC_BAD, "unknown key hash" },
		{ "h=sha1; p=AAAA", 0, DKIM_KEYREC_BAD, "signature-key hash mismatch" },
		{ "s=web; p=AAAA", 0, DKIM_KEYREC_BAD, "not an e-mail key" },
		{ "k=dsa; p=AAAA", 0, DKIM_KEYREC_BAD, "unknown key type" },
		{ "v=DKIM1; k=rsa", 0, DKIM_KEYREC_BAD, "key DNS reply corrupt" },
		{ "v=DKIM1; p=AA*A", 0, DKIM_KEYREC_BAD, "key DNS reply corrupt" },
		{ "v=DKIM1; p=AAAAA", 0, DKIM_KEYREC_BAD, "key DNS reply corrupt" },
		{ "v=DKIM1; p=AAAA; p=BBBB", 0, DKIM_KEYREC_BAD, "key DNS reply corrupt" },
		{ "v=DKIM1; p=AA\0AA", 15, DKIM_KEYREC_BAD, "key DNS reply corrupt" },
		{ "", 0, DKIM_KEYREC_BAD, "key DNS reply corrupt" },
		{ "oversize", 0, DKIM_KEYREC_BAD, "key DNS reply corrupt" },
		{ "v=DKIM1; p=A\r\n A A\tA", 0, DKIM_KEYREC_OK, NULL },	/* folded */
	};
	struct dkim_keyrec k;
	const char *why;
	enum dkim_keyrec_status st;
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		st = dkim_keyrec_parse(&k, cases[i].txt, cases[i].len != 0
		    ? cases[i].len : strlen(cases[i].txt), "sha256", &why);
		if (st != cases[i].want || (st == DKIM_KEYREC_BAD &&
		    strcmp(why, cases[i].why) != 0))
			fail_msg("case %zu: status %d (%s), want %d (%s)", i, (int)st,
			    why != NULL ? why : "", (int)cases[i].want,
			    cases[i].why != NULL ? cases[i].why : "");
		dkim_keyrec_free(&k);
	}
}

/* dkim_keyrec_flags_and_keys - t= flags; keys decode only to their k= type; huge records refused */
static void
dkim_keyrec_flags_and_keys(void **state)
{
	EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519"), *pk;
	unsigned char raw[32];
	size_t rawlen = sizeof(raw);
	char b64[64], txt[256];
	struct dkim_keyrec k;
	const char *why;
	char *big;

	(void)state;
	assert_non_null(ed);
	assert_int_equal(EVP_PKEY_get_raw_public_key(ed, raw, &rawlen), 1);
	EVP_EncodeBlock((unsigned char *)b64, raw, (int)rawlen);
	(void)snprintf(txt, sizeof(txt), "v=DKIM1; k=ed25519; t=y:s; p=%s", b64);
	assert_int_equal(dkim_keyrec_parse(&k, txt, strlen(txt), "sha256", &why),
	    DKIM_KEYREC_OK);
	assert_int_equal(k.type, DKIM_KEYREC_ED25519);
	assert_true(k.testing && k.strict);
	pk = dkim_keyrec_pkey(&k);
	assert_non_null(pk);
	assert_int_equal(EVP_PKEY_eq(pk, ed), 1);
	EVP_PKEY_free(pk);
	dkim_keyrec_free(&k);
	/* the same 32 bytes called an RSA key decode to nothing */
	(void)snprintf(txt, sizeof(txt), "v=DKIM1; k=rsa; p=%s", b64);
	assert_int_equal(dkim_keyrec_parse(&k, txt, strlen(txt), "sha256", &why),
	    DKIM_KEYREC_OK);
	assert_false(k.testing || k.strict);
	assert_null(dkim_keyrec_pkey(&k));
	dkim_keyrec_free(&k);
	/* a record longer than DKIM_KEYREC_MAX */
	big = xmalloc(DKIM_KEYREC_MAX + 64);
	memcpy(big, "v=DKIM1; p=", 11);
	memset(big + 11, 'A', DKIM_KEYREC_MAX);
	assert_int_equal(dkim_keyrec_parse(&k, big, DKIM_KEYREC_MAX + 11, "sha256",
	    &why), DKIM_KEYREC_BAD);
	dkim_keyrec_free(&k);
	free(big);
	EVP_PKEY_free(ed);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(dkim_tags_parses_and_refuses),
		cmocka_unit_test(dkim_tags_limits_hold),
		cmocka_unit_test(dkim_sig_checks_in_order),
		cmocka_unit_test(dkim_sig_reads_tags),
		cmocka_unit_test(dkim_sig_strips_b_only),
		cmocka_unit_test(dkim_keyrec_checks_in_order),
		cmocka_unit_test(dkim_keyrec_flags_and_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
