/*
 * test_bounce.c - bounce address codec, its secrets and authmilter-bounce.
 *
 * Every test uses fixed secrets and a fixed clock (NOW, 2026-03-01 12:00
 * UTC). The known-answer rows were computed outside this code (Python's
 * hmac module, following the format in bounce.h), so a change of format
 * fails here before it breaks the bounces of mail already sent. The CLI
 * tests run the built binary ($top_builddir/milter/authmilter-bounce).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "auth/bounce.h"
#include "base/buf.h"
#include "base/secret.h"
#include "testutil.h"

#define NOW		((time_t)1772366400)	/* 2026-03-01T12:00:00Z, day 20513 */
#define DAY		86400L
#define BDOM		"bounce.customer.example"
#define ALPHABET	"abcdefghijklmnopqrstuvwxyz0123456789=-_.+"

static const char key_a[] = "0123456789abcdef0123456789abcdef";
static const char key_b[] = "an older secret, still verifying";
static const char key_c[] = "a secret nobody ever signed with";

/* secrets_of - a set holding the given NUL-terminated keys, in order */
static void
secrets_of(struct bounce_secrets *s, const char *k1, const char *k2)
{
	char err[256];

	bounce_secrets_init(s);
	assert_int_equal(bounce_secrets_add(s, k1, strlen(k1), "k1", err,
	    sizeof(err)), 0);
	if (k2 != NULL)
		assert_int_equal(bounce_secrets_add(s, k2, strlen(k2), "k2", err,
		    sizeof(err)), 0);
}

/* encode_ok - encode with secrets s at time t, asserting success */
static void
encode_ok(const struct bounce_secrets *s, const char *orig, time_t t,
    struct buf *out)
{
	enum bounce_status st = bounce_encode(s, orig, BDOM, t, out);

	if (st != BOUNCE_OK)
		fail_msg("encode %s: %s", orig, bounce_status_name(st));
}

/* local_len - octets before the '@' */
static size_t
local_len(const char *addr)
{
	const char *at = strrchr(addr, '@');

	assert_non_null(at);
	return (size_t)(at - addr);
}

/* assert_dot_atom - the local part: our alphabet, <= 64, no stray dots */
static void
assert_dot_atom(const char *addr)
{
	size_t i, n = local_len(addr);

	assert_true(n <= BOUNCE_LOCAL_MAX);
	assert_true(n > 0 && addr[0] != '.' && addr[n - 1] != '.');
	for (i = 0; i < n; i++) {
		if (strchr(ALPHABET, addr[i]) == NULL)
			fail_msg("%s: octet %zu (0x%02x) not in the alphabet", addr,
			    i, (unsigned char)addr[i]);
		if (addr[i] == '.' && addr[i + 1] == '.')
			fail_msg("%s: double dot at %zu", addr, i);
	}
}

/* Senders that encode, and what decoding gives back. */
static const struct {
	const char *name;
	const char *orig;	/* as the MTA hands it over */
	const char *back;	/* what decode returns */
} roundtrips[] = {
	{ "ordinary", "no-reply@platform.example", "no-reply@platform.example" },
	{ "angle brackets", "<no-reply@platform.example>",
	  "no-reply@platform.example" },
	{ "upper case kept in local part, folded in domain",
	  "No-Reply@Platform.EXAMPLE", "No-Reply@platform.example" },
	{ "plus-addressed", "user+tag@x.example", "user+tag@x.example" },
	{ "quoted with space", "\"john doe\"@x.example",
	  "\"john doe\"@x.example" },
	{ "quoted with escaped quote", "\"a\\\"b\"@x.example",
	  "\"a\\\"b\"@x.example" },
	{ "quoted with at sign", "\"a@b\"@x.example", "\"a@b\"@x.example" },
	{ "quoted with double and final dots", "\"a..b.\"@x.example",
	  "\"a..b.\"@x.example" },
	{ "double dot in domain", "u@x..example", "u@x..example" },
	{ "equals and underscore", "a=b_c@x.example", "a=b_c@x.example" },
	{ "SRS original", "srs0=abcd=tt=ex.com=u@fwd.example",
	  "srs0=abcd=tt=ex.com=u@fwd.example" },
	{ "UTF-8 local part (SMTPUTF8)", "δοκιμή@x.example",
	  "δοκιμή@x.example" },
	{ "UTF-8 accent", "josé@example.com", "josé@example.com" },
	{ "UTF-8 domain", "müller@bücher.example", "müller@bücher.example" },
	{ "domain literal", "user@[192.0.2.1]", "user@[192.0.2.1]" },
	{ "equals and upper case in domain", "u=v@A=B.example", "u=v@a=b.example" },
	{ "trailing dot on domain", "user@x.example.", "user@x.example" },
	{ "source route dropped", "<@relay.example:user@x.example>",
	  "user@x.example" },
	{ "exactly 64 octets", "aaaaaaaaaabbbbbbbbbbccccccccccddddddddd@x.example",
	  "aaaaaaaaaabbbbbbbbbbccccccccccddddddddd@x.example" },
};

#define NROUNDTRIPS	(sizeof(roundtrips) / sizeof(roundtrips[0]))

/* roundtrip_returns_original - every encodable sender decodes to itself */
static void
roundtrip_returns_original(void **state)
{
	struct bounce_secrets s;
	struct buf enc = BUF_INIT, dec = BUF_INIT;
	struct bounce_info info;
	enum bounce_status st;
	size_t i;

	(void)state;
	secrets_of(&s, key_a, NULL);
	for (i = 0; i < NROUNDTRIPS; i++) {
		encode_ok(&s, roundtrips[i].orig, NOW, &enc);
		assert_dot_atom(enc.data);
		assert_string_equal(strrchr(enc.data, '@'), "@" BDOM);
		st = bounce_decode(&s, enc.data, NULL, NOW, 0, &dec, &info);
		if (st != BOUNCE_OK || strcmp(dec.data, roundtrips[i].back) != 0)
			fail_msg("%s: %s decoded as %s (%s)", roundtrips[i].name,
			    enc.data, dec.data, bounce_status_name(st));
		assert_int_equal(info.secret, 0);
		assert_int_equal(info.age_days, 0);
		assert_int_equal(info.issued, NOW - NOW % DAY);
	}
	/* The last row fills the local part exactly. */
	assert_int_equal(local_len(enc.data), BOUNCE_LOCAL_MAX);
	buf_free(&enc);
	buf_free(&dec);
	bounce_secrets_free(&s);
}

/* decode_ignores_case - lowercased or uppercased addresses still verify */
static void
decode_ignores_case(void **state)
{
	struct bounce_secrets s;
	struct buf enc = BUF_INIT, dec = BUF_INIT, v = BUF_INIT;
	size_t i, j;

	(void)state;
	secrets_of(&s, key_a, NULL);
	for (i = 0; i < NROUNDTRIPS; i++) {
		encode_ok(&s, roundtrips[i].orig, NOW, &enc);
		for (j = 0; j < 2; j++) {
			const char *p;

			buf_reset(&v);
			for (p = enc.data; *p != '\0'; p++)
				buf_putc(&v, j ? toupper((unsigned char)*p)
				    : tolower((unsigned char)*p));
			assert_int_equal(bounce_decode(&s, v.data,
			    j ? "BOUNCE.Customer.Example." : BDOM, NOW, 0, &dec,
			    NULL), BOUNCE_OK);
			assert_string_equal(dec.data, roundtrips[i].back);
		}
	}
	buf_free(&enc);
	buf_free(&dec);
	buf_free(&v);
	bounce_secrets_free(&s);
}

/* encode_matches_known_answers - the wire format does not drift */
static void
encode_matches_known_answers(void **state)
{
	static const struct {
		const char *orig;
		const char *addr;
	} rows[] = {
		{ "no-reply@platform.example",
		  "ab1=bbgibotsr4=no-reply=platform.example@" BDOM },
		{ "\"john doe\"@x.example",
		  "ab1=bbj3wxcuen=_22john_20doe_22=x.example@" BDOM },
	};
	struct bounce_secrets s;
	struct buf enc = BUF_INIT;
	size_t i;

	(void)state;
	secrets_of(&s, key_a, key_b);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		/* Any time of the same UTC day gives the same address. */
		encode_ok(&s, rows[i].orig, NOW - NOW % DAY, &enc);
		assert_string_equal(enc.data, rows[i].addr);
		encode_ok(&s, rows[i].orig, NOW - NOW % DAY + DAY - 1, &enc);
		assert_string_equal(enc.data, rows[i].addr);
		assert_int_equal(bounce_encode(&s, rows[i].orig, "Bounce.Customer."
		    "Example", NOW, &enc), BOUNCE_OK);
		assert_string_equal(enc.data, rows[i].addr);
	}
	buf_free(&enc);
	bounce_secrets_free(&s);
}

/* encode_refuses_what_it_cannot_rewrite - distinct statuses, empty output */
static void
encode_refuses_what_it_cannot_rewrite(void **state)
{
	static const struct {
		const char *orig;
		const char *bdom;
		enum bounce_status st;
	} rows[] = {
		{ "", BDOM, BOUNCE_NULL_SENDER },
		{ "<>", BDOM, BOUNCE_NULL_SENDER },
		{ "no-reply", BDOM, BOUNCE_BAD_SENDER },
		{ "<no-reply>", BDOM, BOUNCE_BAD_SENDER },
		{ "@x.example", BDOM, BOUNCE_BAD_SENDER },
		{ "user@", BDOM, BOUNCE_BAD_SENDER },
		{ "user@...", BDOM, BOUNCE_BAD_SENDER },
		{ "us\ter@x.example", BDOM, BOUNCE_BAD_SENDER },
		{ "user@x.example\r", BDOM, BOUNCE_BAD_SENDER },
		{ "us\x7f" "er@x.example", BDOM, BOUNCE_BAD_SENDER },
		{ "x@" BDOM, BDOM, BOUNCE_LOOP },
		{ "x@Bounce.Customer.Example.", BDOM, BOUNCE_LOOP },
		{ "aaaaaaaaaabbbbbbbbbbccccccccccdddddddddd@x.example", BDOM,
		  BOUNCE_TOO_LONG },
		{ "ABCDEFGHIJKLMNOP@x.example", BDOM, BOUNCE_TOO_LONG },
		{ "no-reply@platform.example", "", BOUNCE_BAD_DOMAIN },
		{ "no-reply@platform.example", "bad domain", BOUNCE_BAD_DOMAIN },
		{ "no-reply@platform.example", "-x.example", BOUNCE_BAD_DOMAIN },
		{ "no-reply@platform.example", "a..example", BOUNCE_BAD_DOMAIN },
		{ "no-reply@platform.example", "x@y.example", BOUNCE_BAD_DOMAIN },
		{ "no-reply@platform.example", NULL, BOUNCE_BAD_DOMAIN },
	};
	struct bounce_secrets s;
	struct buf enc = BUF_INIT;
	enum bounce_status st;
	size_t i;

	(void)state;
	secrets_of(&s, key_a, NULL);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		buf_puts(&enc, "left over");
		st = bounce_encode(&s, rows[i].orig, rows[i].bdom, NOW, &enc);
		if (st != rows[i].st)
			fail_msg("row %zu (%s): %s, expected %s", i, rows[i].orig,
			    bounce_status_name(st), bounce_status_name(rows[i].st));
		assert_int_equal(enc.len, 0);
	}
	buf_free(&enc);
	bounce_secrets_free(&s);
}

/* predicted_len - the local part length by the rules of bounce.h, computed apart */
static size_t
predicted_len(const char *local, size_t llen, const char *dom, size_t dlen)
{
	size_t i, n = 16;
	char prev = '=';

	for (i = 0; i < llen + dlen; i++) {
		int is_local = i < llen;
		char c = is_local ? local[i] : dom[i - llen];
		int plain = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
		    || c == '-' || c == '+' || (c == '=' && is_local)
		    || (c == '.' && prev != '.');

		if (i == llen)
			prev = '=';
		if (c == '.' && prev == '.')
			plain = 0;
		n += plain ? 1 : 3;
		prev = plain ? c : 'x';
	}
	return n;
}

/* encode_fits_64_octets_for_every_encodable_sender - random senders, exact lengths */
static void
encode_fits_64_octets_for_every_encodable_sender(void **state)
{
	static const char *const pieces[] = {
		"a", "z", "0", "9", "-", "+", "=", "_", ".", ".", "A", "Q", "\"",
		"\\", " ", "@", "!", "#", "é", "δ", "€", "~",
	};
	const size_t npieces = sizeof(pieces) / sizeof(pieces[0]);
	struct bounce_secrets s;
	struct buf orig = BUF_INIT, enc = BUF_INIT, dec = BUF_INIT;
	uint32_t rnd = 12345;
	size_t i, j, llen, dlen, ok = 0, toolong = 0;
	enum bounce_status st;

	(void)state;
	secrets_of(&s, key_a, NULL);
	for (i = 0; i < 4000; i++) {
		buf_reset(&orig);
		rnd = rnd * 1103515245u + 12345u;
		llen = 1 + (rnd >> 16) % 40;
		for (j = 0; j < llen; j++) {
			rnd = rnd * 1103515245u + 12345u;
			buf_puts(&orig, pieces[(rnd >> 16) % npieces]);
		}
		llen = orig.len;
		rnd = rnd * 1103515245u + 12345u;
		buf_puts(&orig, (rnd >> 16) % 2 ? "@x.example" : "@mail.example.org");
		dlen = orig.len - llen - 1;
		st = bounce_encode(&s, orig.data, BDOM, NOW, &enc);
		if (predicted_len(orig.data, llen, orig.data + llen + 1, dlen)
		    > BOUNCE_LOCAL_MAX) {
			if (st != BOUNCE_TOO_LONG)
				fail_msg("%s: %s, expected too-long", orig.data,
				    bounce_status_name(st));
			toolong++;
			continue;
		}
		if (st != BOUNCE_OK)
			fail_msg("%s: %s", orig.data, bounce_status_name(st));
		assert_dot_atom(enc.data);
		assert_int_equal(local_len(enc.data), predicted_len(orig.data,
		    llen, orig.data + llen + 1, dlen));
		assert_int_equal(bounce_decode(&s, enc.data, BDOM, NOW, 0, &dec,
		    NULL), BOUNCE_OK);
		assert_string_equal(dec.data, orig.data);
		ok++;
	}
	/* Both branches were exercised. */
	assert_true(ok > 500 && toolong > 500);
	buf_free(&orig);
	buf_free(&enc);
	buf_free(&dec);
	bounce_secrets_free(&s);
}

/* decode_rejects_every_single_character_change - tampering anywhere fails */
static void
decode_rejects_every_single_character_change(void **state)
{
	static const char *const origs[] = {
		"no-reply@platform.example", "\"john doe\"@x.example",
		"δοκιμή@x.example", "a.b+c=d@x.example",
	};
	struct bounce_secrets s;
	struct buf enc = BUF_INIT, dec = BUF_INIT, v = BUF_INIT;
	const char *c;
	enum bounce_status st;
	size_t i, pos, n, tried = 0;

	(void)state;
	secrets_of(&s, key_a, NULL);
	for (i = 0; i < sizeof(origs) / sizeof(origs[0]); i++) {
		encode_ok(&s, origs[i], NOW, &enc);
		n = local_len(enc.data);
		for (pos = 0; pos < n; pos++) {
			for (c = ALPHABET; *c != '\0'; c++) {
				if (*c == enc.data[pos])
					continue;
				buf_reset(&v);
				buf_puts(&v, enc.data);
				v.data[pos] = *c;
				st = bounce_decode(&s, v.data, NULL, NOW, 0, &dec,
				    NULL);
				if (st == BOUNCE_OK || (pos >= 4 && st != BOUNCE_MALFORMED
				    && st != BOUNCE_BAD_MAC) || (pos < 4
				    && st != BOUNCE_NOT_OURS && st != BOUNCE_MALFORMED))
					fail_msg("%s: %s", v.data, bounce_status_name(st));
				assert_int_equal(dec.len, 0);
				tried++;
			}
		}
	}
	assert_true(tried > 4 * 40 * 30);
	buf_free(&enc);
	buf_free(&dec);
	buf_free(&v);
	bounce_secrets_free(&s);
}

/* decode_rejects_truncated - every shorter local part fails */
static void
decode_rejects_truncated(void **state)
{
	struct bounce_secrets s;
	struct buf enc = BUF_INIT, dec = BUF_INIT, v = BUF_INIT;
	enum bounce_status st;
	size_t n, cut;

	(void)state;
	secrets_of(&s, key_a, NULL);
	encode_ok(&s, "no-reply@platform.example", NOW, &enc);
	n = local_len(enc.data);
	for (cut = 0; cut < n; cut++) {
		buf_reset(&v);
		buf_append(&v, enc.data, cut);
		buf_puts(&v, "@" BDOM);
		st = bounce_decode(&s, v.data, NULL, NOW, 0, &dec, NULL);
		if (cut < 4 ? st != BOUNCE_NOT_OURS
		    : st != BOUNCE_MALFORMED && st != BOUNCE_BAD_MAC)
			fail_msg("%s: %s", v.data, bounce_status_name(st));
	}
	buf_free(&enc);
	buf_free(&dec);
	buf_free(&v);
	bounce_secrets_free(&s);
}

/* decode_rejects_other_bounce_domain - the MAC binds the bounce domain */
static void
decode_rejects_other_bounce_domain(void **state)
{
	struct bounce_secrets s;
	struct buf enc = BUF_INIT, dec = BUF_INIT, v = BUF_INIT;
	struct bounce_info info;

	(void)state;
	secrets_of(&s, key_a, NULL);
	encode_ok(&s, "no-reply@platform.example", NOW, &enc);
	buf_append(&v, enc.data, local_len(enc.data));
	/* The bare local part, checked for the right and a wrong domain. */
	assert_int_equal(bounce_decode(&s, v.data, BDOM, NOW, 0, &dec, NULL),
	    BOUNCE_OK);
	assert_int_equal(bounce_decode(&s, v.data, "bounce.other.example", NOW,
	    0, &dec, NULL), BOUNCE_BAD_MAC);
	buf_puts(&v, "@bounce.other.example");
	assert_int_equal(bounce_decode(&s, v.data, NULL, NOW, 0, &dec, NULL),
	    BOUNCE_BAD_MAC);
	assert_int_equal(bounce_decode(&s, v.data, "bounce.other.example", NOW,
	    0, &dec, NULL), BOUNCE_BAD_MAC);
	/* An address of another domain is not one of this bounce domain's. */
	assert_int_equal(bounce_decode(&s, v.data, BDOM, NOW, 0, &dec, &info),
	    BOUNCE_NOT_OURS);
	assert_non_null(strstr(info.detail, "not in the bounce domain"));
	assert_int_equal(dec.len, 0);
	buf_free(&enc);
	buf_free(&dec);
	buf_free(&v);
	bounce_secrets_free(&s);
}

/* decode_checks_age - max_age in days, one day of future skew, no wrap-around */
static void
decode_checks_age(void **state)
{
	static const struct {
		const char *name;
		long made;		/* encode at NOW + made days */
		long later;		/* decode at NOW + later seconds */
		long max_age;		/* seconds; 0: default */
		enum bounce_status st;
		long age;		/* expected info.age_days */
	} rows[] = {
		{ "same moment", 0, 0, 0, BOUNCE_OK, 0 },
		{ "last second of day 30", 0, 30 * DAY + 43199, 0, BOUNCE_OK, 30 },
		{ "first second of day 31", 0, 30 * DAY + 43200, 0,
		  BOUNCE_EXPIRED, 31 },
		{ "default is 30 days", 0, 31 * DAY, 0, BOUNCE_EXPIRED, 31 },
		{ "7 days, day 7", 0, 7 * DAY, 7 * DAY, BOUNCE_OK, 7 },
		{ "7 days, day 8", 0, 8 * DAY, 7 * DAY, BOUNCE_EXPIRED, 8 },
		{ "36 hours round up to 2 days", 0, 2 * DAY, 36 * 3600,
		  BOUNCE_OK, 2 },
		{ "36 hours, day 3", 0, 3 * DAY, 36 * 3600, BOUNCE_EXPIRED, 3 },
		{ "capped at 1000 days: day 1000", 0, 1000 * DAY, 5000 * DAY,
		  BOUNCE_OK, 1000 },
		{ "capped at 1000 days: day 1001", 0, 1001 * DAY, 5000 * DAY,
		  BOUNCE_EXPIRED, 1001 },
		{ "wrap: 1023 days", 0, 1023 * DAY, 0, BOUNCE_EXPIRED, 1023 },
		{ "wrap: 1024 days is not day 0", 0, 1024 * DAY, 1000 * DAY,
		  BOUNCE_EXPIRED, 1024 },
		{ "wrap: 1030 days", 0, 1030 * DAY, 1000 * DAY, BOUNCE_EXPIRED,
		  1030 },
		{ "two wraps: no longer verifies", 0, 2048 * DAY, 0,
		  BOUNCE_BAD_MAC, 0 },
		{ "made tomorrow (clock skew)", 1, 0, 0, BOUNCE_OK, -1 },
		{ "made in two days", 2, 0, 0, BOUNCE_EXPIRED, -2 },
		{ "made in ten days", 10, 0, 0, BOUNCE_EXPIRED, -10 },
		{ "made in 500 days", 500, 0, 1000 * DAY, BOUNCE_EXPIRED, -500 },
	};
	struct bounce_secrets s;
	struct buf enc = BUF_INIT, dec = BUF_INIT;
	struct bounce_info info;
	enum bounce_status st;
	time_t made;
	size_t i;

	(void)state;
	secrets_of(&s, key_a, NULL);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		made = NOW + rows[i].made * DAY;
		encode_ok(&s, "no-reply@platform.example", made, &enc);
		st = bounce_decode(&s, enc.data, NULL, NOW + rows[i].later,
		    rows[i].max_age, &dec, &info);
		if (st != rows[i].st || (st != BOUNCE_BAD_MAC
		    && info.age_days != rows[i].age))
			fail_msg("%s: %s, age %ld", rows[i].name,
			    bounce_status_name(st), info.age_days);
		if (st == BOUNCE_BAD_MAC) {
			assert_int_equal(dec.len, 0);
			continue;
		}
		/* A stale address is still genuine: its sender is reported. */
		assert_string_equal(dec.data, "no-reply@platform.example");
		assert_int_equal(info.issued, made - (made % DAY + DAY) % DAY);
	}
	/* Days before 1970 count down, not towards zero. */
	encode_ok(&s, "no-reply@platform.example", -3 * DAY + 5, &enc);
	assert_int_equal(bounce_decode(&s, enc.data, NULL, -2 * DAY + 5, 0, &dec,
	    &info), BOUNCE_OK);
	assert_int_equal(info.age_days, 1);
	assert_int_equal(info.issued, -3 * DAY);
	buf_free(&enc);
	buf_free(&dec);
	bounce_secrets_free(&s);
}

/* secrets_rotate - the first signs, every listed secret verifies */
static void
secrets_rotate(void **state)
{
	struct bounce_secrets old, rotated, removed, other;
	struct buf enc = BUF_INIT, dec = BUF_INIT;
	struct bounce_info info;

	(void)state;
	secrets_of(&old, key_b, NULL);
	secrets_of(&rotated, key_a, key_b);
	secrets_of(&removed, key_a, NULL);
	secrets_of(&other, key_c, NULL);
	/* Mail sent before the rotation, bounced after it. */
	encode_ok(&old, "no-reply@platform.example", NOW, &enc);
	assert_int_equal(bounce_decode(&rotated, enc.data, NULL, NOW, 0, &dec,
	    &info), BOUNCE_OK);
	assert_int_equal(info.secret, 1);
	assert_int_equal(bounce_decode(&removed, enc.data, NULL, NOW, 0, &dec,
	    NULL), BOUNCE_BAD_MAC);
	assert_int_equal(bounce_decode(&other, enc.data, NULL, NOW, 0, &dec,
	    NULL), BOUNCE_BAD_MAC);
	/* Mail sent after the rotation is signed with the new first secret. */
	encode_ok(&rotated, "no-reply@platform.example", NOW, &enc);
	assert_int_equal(bounce_decode(&removed, enc.data, NULL, NOW, 0, &dec,
	    &info), BOUNCE_OK);
	assert_int_equal(info.secret, 0);
	assert_int_equal(bounce_decode(&old, enc.data, NULL, NOW, 0, &dec,
	    NULL), BOUNCE_BAD_MAC);
	buf_free(&enc);
	buf_free(&dec);
	bounce_secrets_free(&old);
	bounce_secrets_free(&rotated);
	bounce_secrets_free(&removed);
	bounce_secrets_free(&other);
}

/* decode_classifies_foreign_and_broken - NOT_OURS vs MALFORMED, with reasons */
static void
decode_classifies_foreign_and_broken(void **state)
{
	static const struct {
		const char *addr;
		enum bounce_status st;
		const char *detail;	/* substring of info.detail, or NULL */
	} rows[] = {
		{ "postmaster@" BDOM, BOUNCE_NOT_OURS, "prefix" },
		{ "abuse@" BDOM, BOUNCE_NOT_OURS, "prefix" },
		{ "ab=x@" BDOM, BOUNCE_NOT_OURS, "prefix" },
		{ "ab1@" BDOM, BOUNCE_NOT_OURS, "prefix" },
		{ "abc1=x@" BDOM, BOUNCE_NOT_OURS, "prefix" },
		{ "\"ab1=bbgibotsr4=no-reply=platform.example\"@" BDOM,
		  BOUNCE_NOT_OURS, "prefix" },
		{ "", BOUNCE_NOT_OURS, "prefix" },
		{ "<>", BOUNCE_NOT_OURS, "prefix" },
		{ "ab1=bbgibotsr4=no-reply=platform.example@mx.example",
		  BOUNCE_NOT_OURS, "not in the bounce domain" },
		{ "ab3=bbgibotsr4=no-reply=platform.example@" BDOM,
		  BOUNCE_MALFORMED, "version" },
		{ "ab2=bbgibotsr4=no-reply=platform.example@" BDOM,
		  BOUNCE_MALFORMED, "wrong length" },
		{ "ab2=bbgibotsr4aaaaaaaaaaaaaaa1@" BDOM, BOUNCE_MALFORMED,
		  "bad character" },
		{ "ab2=bbgibotsr4aaaaaaaaaaaaaaaaa@" BDOM, BOUNCE_MALFORMED,
		  "wrong length" },
		{ "ab2=bbgibotsr4aaaaaaaaaaaaaaaa@" BDOM, BOUNCE_BAD_MAC, NULL },
		{ "ab01=bbgibotsr4=no-reply=platform.example@" BDOM,
		  BOUNCE_MALFORMED, "version" },
		{ "ab1=bbgibotsr4=no_2dreply=platform.example@" BDOM,
		  BOUNCE_MALFORMED, "canonical" },
		{ "ab1=bbgibotsr4=_6eo-reply=platform.example@" BDOM,
		  BOUNCE_MALFORMED, "canonical" },
		{ "ab1=bbgibotsr4=_22john_20doe_22=x.ex_41mple@" BDOM,
		  BOUNCE_MALFORMED, "canonical" },
		{ "ab1=bbgibotsr4=a..b=x.example@" BDOM, BOUNCE_MALFORMED,
		  "canonical" },
		{ "ab1=bbgibotsr4=a=x.example_2e@" BDOM, BOUNCE_MALFORMED,
		  "canonical" },
		{ "ab1=bbgibotsr4=a=x_40y.example@" BDOM, BOUNCE_MALFORMED,
		  "canonical" },
		{ "ab1=bbgibotsr4=a_0ab=x.example@" BDOM, BOUNCE_MALFORMED,
		  "canonical" },
		{ "ab1=bbgibotsr8=no-reply=platform.example@" BDOM,
		  BOUNCE_MALFORMED, "date and MAC" },
		{ "ab1=bbgibotsr=no-reply=platform.example@" BDOM,
		  BOUNCE_MALFORMED, "date and MAC" },
		{ "ab1=bbgibotsr4@" BDOM, BOUNCE_MALFORMED, "date and MAC" },
		{ "ab1=bbgibotsr4=no-reply@" BDOM, BOUNCE_MALFORMED, "original" },
		{ "ab1=bbgibotsr4==platform.example@" BDOM, BOUNCE_MALFORMED,
		  "original" },
		{ "ab1=bbgibotsr4=no-reply=@" BDOM, BOUNCE_MALFORMED, "original" },
		{ "ab1=bbgibotsr4=no_zzreply=x.example@" BDOM, BOUNCE_MALFORMED,
		  "original" },
		{ "ab1=bbgibotsr4=no-reply_2=x.example@" BDOM, BOUNCE_MALFORMED,
		  "original" },
		{ "ab1=bbgibotsr4=no!reply=x.example@" BDOM, BOUNCE_MALFORMED,
		  "original" },
		{ "ab1=bbgibotsr4=né=x.example@" BDOM, BOUNCE_MALFORMED,
		  "original" },
		{ "ab1=bbgibotsr4=aaaaaaaaaabbbbbbbbbbccccccccccddddddddddeeeeeeeeee"
		  "@" BDOM, BOUNCE_MALFORMED, "64" },
		{ "<ab1=bbgibotsr4=no-reply=platform.example@" BDOM ">",
		  BOUNCE_OK, NULL },
		{ "ab1=bbgibotsr4=no-reply=platform.example", BOUNCE_OK, NULL },
	};
	struct bounce_secrets s;
	struct buf dec = BUF_INIT;
	struct bounce_info info;
	enum bounce_status st;
	size_t i;

	(void)state;
	secrets_of(&s, key_a, NULL);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		st = bounce_decode(&s, rows[i].addr, BDOM, NOW, 0, &dec, &info);
		if (st != rows[i].st)
			fail_msg("%s: %s, expected %s", rows[i].addr,
			    bounce_status_name(st), bounce_status_name(rows[i].st));
		if (rows[i].detail != NULL && (info.detail == NULL
		    || strstr(info.detail, rows[i].detail) == NULL))
			fail_msg("%s: detail %s", rows[i].addr, info.detail);
		assert_int_equal(dec.len, st == BOUNCE_OK ? 25 : 0);
	}
	assert_int_equal(bounce_decode(&s, NULL, BDOM, NOW, 0, &dec, NULL),
	    BOUNCE_NOT_OURS);
	assert_int_equal(bounce_decode(&s, "ab1=bbgibotsr4=a=b", NULL, NOW, 0,
	    &dec, NULL), BOUNCE_BAD_DOMAIN);
	assert_int_equal(bounce_decode(&s, "ab1=bbgibotsr4=a=b", "a b", NOW, 0,
	    &dec, NULL), BOUNCE_BAD_DOMAIN);
	buf_free(&dec);
	bounce_secrets_free(&s);
}

/* codec_without_secret_is_internal_error - never signs or verifies with nothing */
static void
codec_without_secret_is_internal_error(void **state)
{
	struct bounce_secrets s;
	struct buf out = BUF_INIT;

	(void)state;
	bounce_secrets_init(&s);
	assert_int_equal(bounce_encode(&s, "a@x.example", BDOM, NOW, &out),
	    BOUNCE_INTERNAL);
	assert_int_equal(bounce_encode(NULL, "a@x.example", BDOM, NOW, &out),
	    BOUNCE_INTERNAL);
	assert_int_equal(bounce_decode(&s, "ab1=bbgibotsr4=no-reply="
	    "platform.example@" BDOM, NULL, NOW, 0, &out, NULL),
	    BOUNCE_INTERNAL);
	assert_int_equal(out.len, 0);
	buf_free(&out);
}

/* domain_valid_matches_encode - what config accepts, encode accepts */
static void
domain_valid_matches_encode(void **state)
{
	static const struct {
		const char *d;
		int ok;
	} rows[] = {
		{ BDOM, 1 }, { "Bounce.Customer.Example.", 1 }, { "b-1.x9.example", 1 },
		{ "", 0 }, { ".", 0 }, { "a b.example", 0 }, { "-a.example", 0 },
		{ "a-.example", 0 }, { "a..example", 0 }, { ".a.example", 0 },
		{ "x@y.example", 0 }, { "b\xc3\xbc" "cher.example", 1 },
		{ "\xcc\x81" "abc.example", 0 },
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		  ".example", 0 },
		{ NULL, 0 },
	};
	struct bounce_secrets s;
	struct buf enc = BUF_INIT;
	size_t i;

	(void)state;
	secrets_of(&s, key_a, NULL);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		if (bounce_domain_valid(rows[i].d) != rows[i].ok)
			fail_msg("%s: expected %d", rows[i].d ? rows[i].d : "NULL",
			    rows[i].ok);
		assert_int_equal(bounce_encode(&s, "a@x.example", rows[i].d, NOW,
		    &enc) == BOUNCE_BAD_DOMAIN, !rows[i].ok);
	}
	buf_free(&enc);
	bounce_secrets_free(&s);
}

/*
 * u_labels_encode_and_decode_as_their_a_labels - a bounce domain written
 * in U-labels gives what its A-labels give: the same ASCII bounce
 * address, the loop check for a sender already in it (written either
 * way), and a bounce to its U-label spelling verifies. The sender is
 * kept as written (a UTF-8 sender comes back as it went out).
 */
static void
u_labels_encode_and_decode_as_their_a_labels(void **state)
{
	struct bounce_secrets s;
	struct buf u = BUF_INIT, a = BUF_INIT, dec = BUF_INIT, v = BUF_INIT;

	(void)state;
	secrets_of(&s, key_a, NULL);
	assert_int_equal(bounce_encode(&s, "<user@b\xc3\xbc" "cher.example>",
	    "Bounce.\xe4\xbe\x8b\xe3\x81\x88.jp", NOW, &u), BOUNCE_OK);
	assert_int_equal(bounce_encode(&s, "<user@b\xc3\xbc" "cher.example>",
	    "bounce.xn--r8jz45g.jp", NOW, &a), BOUNCE_OK);
	assert_string_equal(buf_cstr(&u), buf_cstr(&a));
	assert_non_null(strstr(buf_cstr(&a), "@bounce.xn--r8jz45g.jp"));
	/* the bounce comes back to the U-label spelling of the domain */
	buf_append(&v, a.data, local_len(a.data));
	buf_puts(&v, "@bounce.\xe4\xbe\x8b\xe3\x81\x88.jp");
	assert_int_equal(bounce_decode(&s, buf_cstr(&v), "bounce.xn--r8jz45g.jp",
	    NOW, 0, &dec, NULL), BOUNCE_OK);
	assert_string_equal(buf_cstr(&dec), "user@b\xc3\xbc" "cher.example");
	/* a sender already in the bounce domain, in U-labels: no nesting */
	assert_int_equal(bounce_encode(&s, "<x@bounce.\xe4\xbe\x8b\xe3\x81\x88.jp>",
	    "bounce.xn--r8jz45g.jp", NOW, &u), BOUNCE_LOOP);
	assert_int_equal(bounce_encode(&s, "<x@bounce.xn--r8jz45g.jp>",
	    "bounce.\xe4\xbe\x8b\xe3\x81\x88.jp", NOW, &u), BOUNCE_LOOP);
	buf_free(&u);
	buf_free(&a);
	buf_free(&dec);
	buf_free(&v);
	bounce_secrets_free(&s);
}

/* status_names_are_distinct - every status has its own name and text */
static void
status_names_are_distinct(void **state)
{
	int i, j;

	(void)state;
	for (i = BOUNCE_OK; i <= BOUNCE_STORED; i++) {
		assert_string_not_equal(bounce_status_name(i), "unknown");
		assert_string_not_equal(bounce_status_text(i), "unknown status");
		for (j = BOUNCE_OK; j < i; j++) {
			assert_string_not_equal(bounce_status_name(i),
			    bounce_status_name(j));
			assert_string_not_equal(bounce_status_text(i),
			    bounce_status_text(j));
		}
	}
	assert_string_equal(bounce_status_name(BOUNCE_STORED + 1), "unknown");
}

/* stored_form_known_answer_and_roundtrip - 30 octets, verified, the token back */
static void
stored_form_known_answer_and_roundtrip(void **state)
{
	static const unsigned char tok[BOUNCE_TOKEN_OCTETS] = {
		0, 1, 2, 3, 4, 5, 6, 7, 8, 9 };
	struct bounce_secrets s, other;
	struct buf enc = BUF_INIT, dec = BUF_INIT;
	struct bounce_info info;
	char text[BOUNCE_TOKEN_CHARS + 1];
	char *up;
	size_t i;

	(void)state;
	secrets_of(&s, key_a, NULL);
	secrets_of(&other, key_c, NULL);
	assert_int_equal(bounce_encode_stored(&s, tok, "Bounce.Customer.Example.",
	    NOW, &enc, text), BOUNCE_OK);
	/* the token: base32 of 00 01 02 ... 09; the MAC from Python's hmac */
	assert_string_equal(text, "aaaqeayeaudaocaj");
	assert_string_equal(enc.data, "ab2=bbc47cds33aaaqeayeaudaocaj@" BDOM);
	assert_int_equal(strlen(text), BOUNCE_TOKEN_CHARS);
	assert_int_equal(strchr(enc.data, '@') - enc.data, BOUNCE_STORED_CHARS);
	assert_true(strncmp(enc.data, "ab2=bb", 6) == 0);
	assert_string_equal(strchr(enc.data, '@') + 1, BDOM);
	assert_int_equal(bounce_decode(&s, enc.data, BDOM, NOW, 0, &dec, &info),
	    BOUNCE_STORED);
	assert_string_equal(info.token, text);
	assert_int_equal(dec.len, 0);
	assert_int_equal(info.issued, NOW - NOW % DAY);
	/* folded to upper case by some MTA: still ours */
	up = strdup(enc.data);
	for (i = 0; up[i] != '\0'; i++)
		up[i] = (char)toupper((unsigned char)up[i]);
	assert_int_equal(bounce_decode(&s, up, NULL, NOW, 0, &dec, &info),
	    BOUNCE_STORED);
	free(up);
	/* another secret, another domain, too old: refused */
	assert_int_equal(bounce_decode(&other, enc.data, BDOM, NOW, 0, &dec,
	    &info), BOUNCE_BAD_MAC);
	assert_string_equal(info.token, "");
	assert_int_equal(bounce_decode(&s, enc.data, "bounce.other.example", NOW,
	    0, &dec, &info), BOUNCE_NOT_OURS);
	assert_int_equal(bounce_decode(&s, enc.data, BDOM, NOW + 40 * DAY, 0,
	    &dec, &info), BOUNCE_EXPIRED);
	assert_string_equal(info.token, text);
	assert_int_equal(bounce_encode_stored(&s, tok, "not a domain", NOW, &enc,
	    text), BOUNCE_BAD_DOMAIN);
	assert_int_equal(enc.len, 0);
	bounce_secrets_free(&s);
	bounce_secrets_free(&other);
	buf_free(&enc);
	buf_free(&dec);
}

/* stored_form_rejects_every_single_character_change - the MAC covers the token */
static void
stored_form_rejects_every_single_character_change(void **state)
{
	static const unsigned char tok[BOUNCE_TOKEN_OCTETS] = {
		0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6 };
	static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";
	struct bounce_secrets s;
	struct buf enc = BUF_INIT, dec = BUF_INIT, v = BUF_INIT;
	char text[BOUNCE_TOKEN_CHARS + 1];
	enum bounce_status st;
	size_t i, k;

	(void)state;
	secrets_of(&s, key_a, NULL);
	assert_int_equal(bounce_encode_stored(&s, tok, BDOM, NOW, &enc, text),
	    BOUNCE_OK);
	/* past the prefix and the day (a changed day may only expire it) */
	for (i = strlen(BOUNCE_STORED_PREFIX) + 2; i < BOUNCE_STORED_CHARS; i++)
		for (k = 0; k < 32; k++) {
			if (b32[k] == enc.data[i])
				continue;
			buf_reset(&v);
			buf_append(&v, enc.data, enc.len);
			v.data[i] = b32[k];
			st = bounce_decode(&s, v.data, NULL, NOW, 0, &dec, NULL);
			if (st != BOUNCE_BAD_MAC)
				fail_msg("%s: %s", v.data, bounce_status_name(st));
		}
	/* a stateless and a stored address never decode as each other */
	assert_int_equal(bounce_encode(&s, "bounces+campaign-12345-rcpt=gmail"
	    ".com@platform.example", BDOM, NOW, &v), BOUNCE_TOO_LONG);
	bounce_secrets_free(&s);
	buf_free(&enc);
	buf_free(&dec);
	buf_free(&v);
}

/* sender_canonical_is_what_stateless_decodes_to - one spelling in both forms */
static void
sender_canonical_is_what_stateless_decodes_to(void **state)
{
	struct buf out = BUF_INIT;

	(void)state;
	assert_int_equal(bounce_sender_canonical("<@relay.example:Bounces+x=y"
	    "@Platform.Example.>", &out), BOUNCE_OK);
	assert_string_equal(buf_cstr(&out), "Bounces+x=y@platform.example");
	assert_int_equal(bounce_sender_canonical("<>", &out),
	    BOUNCE_NULL_SENDER);
	assert_int_equal(bounce_sender_canonical("no-at-sign", &out),
	    BOUNCE_BAD_SENDER);
	assert_int_equal(out.len, 0);
	buf_free(&out);
}

/* local_unquoted_as_the_mta_delivers - quotes and escapes resolved, and said */
static void
local_unquoted_as_the_mta_delivers(void **state)
{
	static const struct {
		const char *in, *local;
		int altered;
	} cases[] = {
		{ "<ab1=x@b.example>", "ab1=x", 0 },
		{ "ab1=x@b.example", "ab1=x", 0 },
		{ "<\"ab1=x\"@b.example>", "ab1=x", 1 },
		{ "<\"a@b\"@b.example>", "a@b", 1 },
		{ "<ab1\\=x@b.example>", "ab1=x", 1 },
		{ "<\"ab1=\\\"x\"@b.example>", "ab1=\"x", 1 },
		{ "<@relay.example:Postmaster@b.example>", "Postmaster", 0 },
		{ "<>", "", 0 },
		{ "no-at-sign", "no-at-sign", 0 },
	};
	struct buf b = BUF_INIT;
	size_t i;
	int altered;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bounce_local_unquoted(cases[i].in, &b, &altered);
		if (strcmp(buf_cstr(&b), cases[i].local) != 0
		    || altered != cases[i].altered)
			fail_msg("%s: \"%s\" altered %d", cases[i].in, buf_cstr(&b),
			    altered);
	}
	buf_free(&b);
}

/* write_secret - a file with given bytes and mode; its path in p */
static void
write_secret(struct buf *p, const char *dir, const char *name,
    const void *bytes, size_t len, mode_t mode)
{
	int fd;

	buf_reset(p);
	buf_printf(p, "%s/%s", dir, name);
	fd = open(p->data, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, bytes, len), (ssize_t)len);
	close(fd);
	assert_int_equal(chmod(p->data, mode), 0);
}

/* load_files - the secret files read (secret_read) and added in order, as authmilter-bounce does; the set is freed on error */
static int
load_files(struct bounce_secrets *s, const char *const *paths, size_t n,
    int group_ok, char *err, size_t errlen)
{
	struct buf b = BUF_INIT;
	size_t i;
	int rc = 0;

	for (i = 0; i < n && rc == 0; i++) {
		rc = secret_read(paths[i], BOUNCE_SECRET_WHAT,
		    BOUNCE_SECRET_FILE_MAX, group_ok ? SECRET_ALLOW_GROUP : 0, &b,
		    err, errlen);
		if (rc == 0)
			rc = bounce_secrets_add(s, b.data, b.len, paths[i], err,
			    errlen);
	}
	buf_free(&b);
	if (rc != 0)
		bounce_secrets_free(s);
	return rc;
}

/* secret_files_are_vetted - size, type and permission rules of secret files */
static void
secret_files_are_vetted(void **state)
{
	static const struct {
		const char *name;
		const char *bytes;	/* NULL: a directory; "": missing */
		size_t len;
		mode_t mode;
		int group_ok;
		const char *err;	/* substring, NULL: loads */
	} rows[] = {
		{ "random 32", "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x00\x0c"
		  "\x0d\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b"
		  "\x1c\x1d\x1e\x1f\x20", 32, 0600, 0, NULL },
		{ "exactly 16", "0123456789abcdef", 16, 0400, 0, NULL },
		{ "15 octets", "0123456789abcde", 15, 0600, 0, "15 octets" },
		{ "16 with newline", "0123456789abcde\n", 16, 0600, 0,
		  "15 octets" },
		{ "empty", "x", 0, 0600, 0, "0 octets" },
		{ "hex line", "00112233445566778899aabbccddeeff\n", 33, 0600, 0,
		  NULL },
		{ "group readable", "0123456789abcdef", 16, 0640, 0, "its group" },
		{ "group readable, allowed", "0123456789abcdef", 16, 0640, 1, NULL },
		{ "group writable", "0123456789abcdef", 16, 0620, 0, "its group" },
		{ "world readable", "0123456789abcdef", 16, 0644, 1, "others" },
		{ "others only", "0123456789abcdef", 16, 0604, 0, "others" },
		{ "directory", NULL, 0, 0700, 0, "not a regular file" },
		{ "missing", "", 0, 0600, 0, "cannot open" },
	};
	char big[BOUNCE_SECRET_MAX + 3], err[512];
	const char *dir = *state;
	struct bounce_secrets s;
	struct buf p = BUF_INIT;
	const char *path;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		buf_reset(&p);
		buf_printf(&p, "%s/secret%zu", dir, i);
		if (rows[i].bytes == NULL)
			assert_int_equal(mkdir(p.data, rows[i].mode), 0);
		else if (rows[i].bytes[0] != '\0' || rows[i].len > 0)
			write_secret(&p, dir, strrchr(p.data, '/') + 1,
			    rows[i].bytes, rows[i].len, rows[i].mode);
		path = p.data;
		bounce_secrets_init(&s);
		err[0] = '\0';
		rc = load_files(&s, &path, 1, rows[i].group_ok, err, sizeof(err));
		if (rows[i].err == NULL ? rc != 0 || s.n != 1
		    : rc == 0 || strstr(err, rows[i].err) == NULL
		    || strstr(err, path) == NULL || s.n != 0)
			fail_msg("%s: rc %d, %s", rows[i].name, rc, err);
		bounce_secrets_free(&s);
	}
	memset(big, 'k', sizeof(big));
	write_secret(&p, dir, "big", big, sizeof(big), 0600);
	path = p.data;
	assert_int_equal(load_files(&s, &path, 1, 0, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "larger than"));
	buf_free(&p);
}

/* secret_load_keeps_order_and_fails_whole - first file signs; one bad file, no set */
static void
secret_load_keeps_order_and_fails_whole(void **state)
{
	const char *dir = *state;
	struct buf p1 = BUF_INIT, p2 = BUF_INIT, p3 = BUF_INIT;
	struct buf enc = BUF_INIT, enc2 = BUF_INIT;
	struct bounce_secrets s, mem;
	const char *paths[3];
	char err[512];

	write_secret(&p1, dir, "new.key", key_a, strlen(key_a), 0600);
	write_secret(&p2, dir, "old.key", key_b, strlen(key_b), 0600);
	write_secret(&p3, dir, "bad.key", key_c, strlen(key_c), 0644);
	paths[0] = p1.data;
	paths[1] = p2.data;
	paths[2] = p3.data;
	bounce_secrets_init(&s);
	assert_int_equal(load_files(&s, paths, 2, 0, err, sizeof(err)),
	    0);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.v[1].name, p2.data);
	/* The file's bytes are the key: same address as from memory. */
	secrets_of(&mem, key_a, NULL);
	encode_ok(&s, "no-reply@platform.example", NOW, &enc);
	encode_ok(&mem, "no-reply@platform.example", NOW, &enc2);
	assert_string_equal(enc.data, enc2.data);
	bounce_secrets_free(&s);
	bounce_secrets_free(&mem);
	assert_int_equal(load_files(&s, paths, 3, 0, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, p3.data));
	assert_int_equal(s.n, 0);
	assert_null(s.v);
	buf_free(&p1);
	buf_free(&p2);
	buf_free(&p3);
	buf_free(&enc);
	buf_free(&enc2);
}

/* secret_final_newline_is_ignored - "KEY", "KEY\n" and "KEY\r\n" are one key */
static void
secret_final_newline_is_ignored(void **state)
{
	static const char *const forms[] = {
		"00112233445566778899aabbccddeeff",
		"00112233445566778899aabbccddeeff\n",
		"00112233445566778899aabbccddeeff\r\n",
	};
	struct bounce_secrets s;
	struct buf enc = BUF_INIT, first = BUF_INIT;
	char err[256];
	size_t i;

	(void)state;
	for (i = 0; i < 3; i++) {
		bounce_secrets_init(&s);
		assert_int_equal(bounce_secrets_add(&s, forms[i], strlen(forms[i]),
		    "hex", err, sizeof(err)), 0);
		assert_int_equal(s.v[0].len, 32);
		encode_ok(&s, "no-reply@platform.example", NOW, &enc);
		if (i == 0)
			buf_puts(&first, enc.data);
		assert_string_equal(enc.data, first.data);
		bounce_secrets_free(&s);
	}
	/* A different key gives a different address. */
	secrets_of(&s, "00112233445566778899aabbccddeefe", NULL);
	encode_ok(&s, "no-reply@platform.example", NOW, &enc);
	assert_string_not_equal(enc.data, first.data);
	bounce_secrets_free(&s);
	buf_free(&enc);
	buf_free(&first);
}

/* file_text - a whole file as a malloc'd string */
static char *
file_text(const char *path)
{
	struct buf b = BUF_INIT;
	char chunk[1024];
	size_t n;
	FILE *fp = fopen(path, "r");

	assert_non_null(fp);
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		buf_append(&b, chunk, n);
	fclose(fp);
	buf_puts(&b, "");
	return buf_steal(&b);
}

/* cli_run - run authmilter-bounce with args in dir; exit status, output */
static int
cli_run(const char *dir, const char *const *args, char **out, char **errout)
{
	const char *top = getenv("top_builddir");
	struct buf prog = BUF_INIT, o = BUF_INIT, e = BUF_INIT;
	char *argv[24], *abs;
	size_t n = 0;
	pid_t pid;
	int status;

	/* The child runs in dir: top_builddir may be relative. */
	buf_printf(&prog, "%s/milter/authmilter-bounce", top ? top : ".");
	abs = realpath(prog.data, NULL);
	if (abs == NULL)
		fail_msg("%s: not built", prog.data);
	argv[n++] = abs;
	while (*args != NULL && n < 23)
		argv[n++] = (char *)*args++;
	argv[n] = NULL;
	buf_printf(&o, "%s/stdout", dir);
	buf_printf(&e, "%s/stderr", dir);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (chdir(dir) != 0 || freopen(o.data, "w", stdout) == NULL
		    || freopen(e.data, "w", stderr) == NULL)
			_exit(99);
		unsetenv("AUTHMILTER_TEST_TIME");
		execv(argv[0], argv);
		_exit(98);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_true(WEXITSTATUS(status) < 98);
	*out = file_text(o.data);
	*errout = file_text(e.data);
	free(abs);
	buf_free(&prog);
	buf_free(&o);
	buf_free(&e);
	return WEXITSTATUS(status);
}

/* cli_exit_status_and_messages - command lines and what they print */
static void
cli_exit_status_and_messages(void **state)
{
#define NOWS	"1772366400"
#define LATER	"1776000000"	/* NOW + 42 days */
#define GOOD	"ab1=bbgibotsr4=no-reply=platform.example@" BDOM
	static const struct {
		const char *args[14];	/* NULL-terminated */
		int status;
		const char *out;	/* stdout exactly, or NULL: any */
		const char *err;	/* substring of stderr, or NULL */
	} rows[] = {
		{ { "-k", "a.key", "-d", BDOM, "--now", NOWS, "encode",
		    "no-reply@platform.example" }, 0, GOOD "\n", NULL },
		{ { "-k", "a.key", "--now", NOWS, "decode", GOOD }, 0,
		  "no-reply@platform.example\n", "valid: made on 2026-03-01 "
		  "(0 days ago, max age 30), verified with secret 1 (a.key)" },
		{ { "-k", "a.key", "-d", "BOUNCE.customer.example", "--now", NOWS,
		    "decode", "<" GOOD ">" }, 0, "no-reply@platform.example\n",
		  "valid" },
		{ { "-k", "a.key", "-d", BDOM, "--now", NOWS, "decode",
		    "ab1=bbgibotsr4=no-reply=platform.example" }, 0,
		  "no-reply@platform.example\n", "valid" },
		{ { "-k", "b.key", "-k", "a.key", "--now", NOWS, "decode", GOOD },
		  0, "no-reply@platform.example\n", "secret 2 (a.key)" },
		{ { "-k", "b.key", "--now", NOWS, "decode", GOOD }, 1, "",
		  "invalid: forged or tampered" },
		{ { "-k", "a.key", "--now", NOWS, "decode",
		    "ab1=bbgibotsr5=no-reply=platform.example@" BDOM }, 1, "",
		  "invalid: forged or tampered" },
		{ { "-k", "a.key", "--now", LATER, "decode", GOOD }, 1, "",
		  "invalid: expired (or dated in the future): made on 2026-03-01 "
		  "(42 days ago, max age 30); the original sender was "
		  "no-reply@platform.example" },
		{ { "-k", "a.key", "--now", LATER, "--max-age", "60", "decode",
		    GOOD }, 0, "no-reply@platform.example\n", "max age 60" },
		{ { "-k", "a.key", "--now", NOWS, "-d", "other.example", "decode",
		    GOOD }, 1, "", "not a bounce address: address is not in the "
		  "bounce domain" },
		{ { "-k", "a.key", "--now", NOWS, "decode", "postmaster@" BDOM },
		  1, "", "not a bounce address: no bounce address prefix" },
		{ { "-k", "a.key", "--now", NOWS, "decode", "ab1=x@" BDOM }, 1, "",
		  "malformed bounce address: truncated" },
		{ { "-k", "a.key", "-d", BDOM, "encode", "<>" }, 1, "",
		  "cannot encode <>: null sender" },
		{ { "-k", "a.key", "-d", BDOM, "encode", "user" }, 1, "",
		  "not local@domain" },
		{ { "-k", "a.key", "-d", BDOM, "encode",
		    "aaaaaaaaaabbbbbbbbbbccccccccccdddddddddd@x.example" }, 1, "",
		  "exceed 64 octets" },
		{ { "-k", "world.key", "-d", BDOM, "encode", "a@x.example" }, 1,
		  "", "world.key has mode 0644" },
		{ { "-k", "group.key", "-d", BDOM, "encode", "a@x.example" }, 1,
		  "", "readable by its group (chmod 600)" },
		{ { "-g", "-k", "group.key", "-d", BDOM, "encode", "a@x.example" },
		  0, NULL, NULL },
		{ { "-k", "missing.key", "-d", BDOM, "encode", "a@x.example" }, 1,
		  "", "cannot open bounce secret missing.key" },
		{ { "-d", BDOM, "encode", "a@x.example" }, 2, "", "-k SECRET" },
		{ { "-k", "a.key", "encode", "a@x.example" }, 2, "",
		  "encode needs -d" },
		{ { "-k", "a.key", "verify", "a@x.example" }, 2, "",
		  "unknown command: verify" },
		{ { "-k", "a.key", "decode" }, 2, "", "expected: decode ADDRESS" },
		{ { "-k", "a.key", "decode", "a", "b" }, 2, "", "expected" },
		{ { "-k", "a.key", "--max-age", "0", "decode", GOOD }, 2, "",
		  "--max-age: expected days from 1 to 1000: 0" },
		{ { "-k", "a.key", "--max-age", "1001", "decode", GOOD }, 2, "",
		  "--max-age" },
		{ { "-k", "a.key", "--now", "yesterday", "decode", GOOD }, 2, "",
		  "--now: expected seconds since 1970" },
		{ { "-k", "a.key", "-q", "decode", GOOD }, 2, "", "Try '" },
		{ { "-h" }, 0, NULL, NULL },
	};
	const char *dir = *state;
	struct buf p = BUF_INIT;
	char *out, *errout;
	size_t i;
	int st;

	write_secret(&p, dir, "a.key", key_a, strlen(key_a), 0600);
	write_secret(&p, dir, "b.key", key_b, strlen(key_b), 0600);
	write_secret(&p, dir, "world.key", key_a, strlen(key_a), 0644);
	write_secret(&p, dir, "group.key", key_a, strlen(key_a), 0640);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		st = cli_run(dir, rows[i].args, &out, &errout);
		if (st != rows[i].status
		    || (rows[i].out != NULL && strcmp(out, rows[i].out) != 0)
		    || (rows[i].err != NULL && strstr(errout, rows[i].err) == NULL))
			fail_msg("row %zu: status %d\nstdout: %s\nstderr: %s", i, st,
			    out, errout);
		if (rows[i].args[0] != NULL && strcmp(rows[i].args[0], "-h") == 0)
			assert_non_null(strstr(out, "usage:"));
		free(out);
		free(errout);
	}
	buf_free(&p);
#undef NOWS
#undef LATER
#undef GOOD
}

/* tmpdir_setup - a private directory for secret files */
static int
tmpdir_setup(void **state)
{
	*state = testutil_tmpdir();
	return *state != NULL ? 0 : -1;
}

/* tmpdir_teardown - remove it */
static int
tmpdir_teardown(void **state)
{
	testutil_rmtree(*state);
	free(*state);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(roundtrip_returns_original),
		cmocka_unit_test(decode_ignores_case),
		cmocka_unit_test(encode_matches_known_answers),
		cmocka_unit_test(encode_refuses_what_it_cannot_rewrite),
		cmocka_unit_test(encode_fits_64_octets_for_every_encodable_sender),
		cmocka_unit_test(decode_rejects_every_single_character_change),
		cmocka_unit_test(decode_rejects_truncated),
		cmocka_unit_test(decode_rejects_other_bounce_domain),
		cmocka_unit_test(decode_checks_age),
		cmocka_unit_test(secrets_rotate),
		cmocka_unit_test(decode_classifies_foreign_and_broken),
		cmocka_unit_test(codec_without_secret_is_internal_error),
		cmocka_unit_test(domain_valid_matches_encode),
		cmocka_unit_test(u_labels_encode_and_decode_as_their_a_labels),
		cmocka_unit_test(status_names_are_distinct),
		cmocka_unit_test(local_unquoted_as_the_mta_delivers),
		cmocka_unit_test(stored_form_known_answer_and_roundtrip),
		cmocka_unit_test(stored_form_rejects_every_single_character_change),
		cmocka_unit_test(sender_canonical_is_what_stateless_decodes_to),
		cmocka_unit_test_setup_teardown(secret_files_are_vetted,
		    tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(
		    secret_load_keeps_order_and_fails_whole, tmpdir_setup,
		    tmpdir_teardown),
		cmocka_unit_test(secret_final_newline_is_ignored),
		cmocka_unit_test_setup_teardown(cli_exit_status_and_messages,
		    tmpdir_setup, tmpdir_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
