/*
 * test_sign.c - the DKIM signer: RFC 6376 canonicalization (exact bytes),
 * streaming body hash in every chunking, header selection and oversigning,
 * tag order and folding, the exact signed bytes, error handling, and
 * signatures checked by an independent verifier (libopendkim).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <opendkim/dkim.h>

#include "base/buf.h"
#include "auth/pkctx.h"
#include "auth/sign.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static EVP_PKEY *rsa_key;		/* RSA-2048, made once */
static EVP_PKEY *ed_key;		/* Ed25519, made once */
static char keyfile[256];		/* libopendkim query file */

static const char *const std_sign[] = { "From", "To", "Subject", "Date",
	"Message-ID", "Cc" };
static const char *const std_over[] = { "From" };

/* sha256 - digest of p[0..n) */
static void
sha256(const void *p, size_t n, unsigned char md[SIGN_HASH_LEN])
{
	unsigned int len = 0;

	assert_int_equal(EVP_Digest(p, n, md, &len, EVP_sha256(), NULL), 1);
	assert_int_equal(len, SIGN_HASH_LEN);
}

/* body_hash - hash a body fed in chunks of at most chunk bytes */
static void
body_hash(enum sign_canon canon, const char *body, size_t len, size_t chunk,
    unsigned char bh[SIGN_HASH_LEN])
{
	struct sign_body *sb = sign_body_new(canon);
	size_t off, n;

	assert_non_null(sb);
	for (off = 0; off < len; off += n) {
		n = len - off < chunk ? len - off : chunk;
		assert_int_equal(sign_body_update(sb,
		    (const unsigned char *)body + off, n), 0);
	}
	assert_int_equal(sign_body_final(sb, bh), 0);
	sign_body_free(sb);
}

/* pub_b64 - p= value: DER SubjectPublicKeyInfo (RSA) or raw key (Ed25519) */
static char *
pub_b64(EVP_PKEY *key)
{
	unsigned char raw[64], *der = NULL, *p;
	size_t rawlen = sizeof(raw);
	char *out;
	int n;

	if (EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519) {
		assert_int_equal(EVP_PKEY_get_raw_public_key(key, raw, &rawlen), 1);
		p = raw;
		n = (int)rawlen;
	} else {
		n = i2d_PUBKEY(key, &der);
		assert_true(n > 0);
		p = der;
	}
	out = malloc(4 * ((size_t)n + 2) / 3 + 4);
	assert_non_null(out);
	EVP_EncodeBlock((unsigned char *)out, p, n);
	OPENSSL_free(der);
	return out;
}

/* b64_decode - decode base64 that may contain folding whitespace */
static size_t
b64_decode(const char *s, unsigned char *out, size_t outlen)
{
	char clean[2048];
	size_t n = 0, pad = 0;
	int r;

	for (; *s != '\0'; s++)
		if (*s != ' ' && *s != '\t' && *s != '\r' && *s != '\n')
			clean[n++] = *s;
	assert_true(n > 0 && n < sizeof(clean) && n % 4 == 0);
	assert_true(outlen >= n / 4 * 3);
	pad = (clean[n - 1] == '=') + (clean[n - 2] == '=');
	r = EVP_DecodeBlock(out, (unsigned char *)clean, (int)n);
	assert_true(r > 0);
	return (size_t)r - pad;
}

/* tag_value - value of one tag in a DKIM-Signature value, WSP removed */
static int
tag_value(const char *value, const char *tag, char *out, size_t outlen)
{
	char flat[4096], *p, *semi;
	size_t n = 0, tl = strlen(tag);

	for (; *value != '\0' && n + 1 < sizeof(flat); value++)
		if (*value != ' ' && *value != '\t' && *value != '\n')
			flat[n++] = *value;
	flat[n] = '\0';
	for (p = flat; p != NULL && *p != '\0'; p = semi ? semi + 1 : NULL) {
		semi = strchr(p, ';');
		if (semi != NULL)
			*semi = '\0';
		if (strncmp(p, tag, tl) == 0 && p[tl] == '=') {
			snprintf(out, outlen, "%s", p + tl + 1);
			return 0;
		}
	}
	return -1;
}

/* tag_names - "v,a,c,..." : the tag names of a value, in order */
static void
tag_names(const char *value, char *out, size_t outlen)
{
	size_t n = 0;
	int name = 1;

	for (; *value != '\0' && n + 2 < outlen; value++) {
		if (*value == ' ' || *value == '\t' || *value == '\n')
			continue;
		if (*value == ';') {
			name = 1;
		} else if (*value == '=' && name) {
			out[n++] = ',';
			name = 0;
		} else if (name) {
			out[n++] = *value;
		}
	}
	out[n] = '\0';
}

/* count - length of a NULL-terminated list */
static size_t
count(const char *const *list)
{
	size_t n = 0;

	while (list[n] != NULL)
		n++;
	return n;
}

/* nhdrs_of - number of headers before the { NULL } end mark */
static size_t
nhdrs_of(const struct sign_header *h)
{
	size_t n = 0;

	while (h[n].name != NULL)
		n++;
	return n;
}

/* std_request - a request over the standard header lists */
static struct sign_request
std_request(EVP_PKEY *key, enum sign_alg alg, enum sign_canon hc,
    enum sign_canon bc)
{
	struct sign_request r;

	memset(&r, 0, sizeof(r));
	r.domain = "example.com";
	r.selector = "sel";
	r.key = key;
	r.alg = alg;
	r.hcanon = hc;
	r.bcanon = bc;
	r.headers = std_sign;
	r.nheaders = NELEM(std_sign);
	r.oversign = std_over;
	r.noversign = NELEM(std_over);
	return r;
}

/* setup_keys - generate both keys and the libopendkim key file */
static int
setup_keys(void **state)
{
	const char *tmp = getenv("TMPDIR");
	char *rp, *ep;
	FILE *f;
	int fd;

	(void)state;
	rsa_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	ed_key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (rsa_key == NULL || ed_key == NULL)
		return -1;
	if (snprintf(keyfile, sizeof(keyfile), "%s/test_sign.XXXXXX",
	    tmp ? tmp : "/tmp") >= (int)sizeof(keyfile))
		return -1;
	if ((fd = mkstemp(keyfile)) < 0 || (f = fdopen(fd, "w")) == NULL)
		return -1;
	rp = pub_b64(rsa_key);
	ep = pub_b64(ed_key);
	fprintf(f, "sel._domainkey.example.com v=DKIM1; k=rsa; p=%s\n", rp);
	fprintf(f, "ed._domainkey.example.com v=DKIM1; k=ed25519; p=%s\n", ep);
	free(rp);
	free(ep);
	return fclose(f) == 0 ? 0 : -1;
}

/* teardown_keys - free the keys, remove the key file */
static int
teardown_keys(void **state)
{
	(void)state;
	EVP_PKEY_free(rsa_key);
	EVP_PKEY_free(ed_key);
	unlink(keyfile);
	return 0;
}

/* --- canonicalization ------------------------------------------------ */

static const struct {
	const char *name;
	enum sign_canon canon;
	const char *hname, *hvalue, *want;
} hdr_cases[] = {
	/* RFC 6376 3.4.5: "A: X" and "B : Y <HTAB> CRLF <HTAB> Z  " */
	{ "rfc6376_3_4_5_relaxed_a", SIGN_CANON_RELAXED, "A", " X", "a:X\r\n" },
	{ "rfc6376_3_4_5_relaxed_b", SIGN_CANON_RELAXED, "B ", " Y\t\r\n\tZ  ",
	  "b:Y Z\r\n" },
	{ "rfc6376_3_4_5_simple_a", SIGN_CANON_SIMPLE, "A", " X", "A: X\r\n" },
	{ "rfc6376_3_4_5_simple_b", SIGN_CANON_SIMPLE, "B ", " Y\t\r\n\tZ  ",
	  "B : Y\t\r\n\tZ  \r\n" },
	{ "simple_lone_lf_fold_becomes_crlf", SIGN_CANON_SIMPLE, "Subject",
	  " a\n\tb", "Subject: a\r\n\tb\r\n" },
	{ "simple_keeps_case_and_spacing", SIGN_CANON_SIMPLE, "X-Foo",
	  "  Mixed\tCase ", "X-Foo:  Mixed\tCase \r\n" },
	{ "relaxed_lf_fold_unfolds", SIGN_CANON_RELAXED, "SUBJECT",
	  " a \n\t b ", "subject:a b\r\n" },
	{ "relaxed_value_without_leading_space", SIGN_CANON_RELAXED, "To",
	  "x@y", "to:x@y\r\n" },
	{ "relaxed_blank_value", SIGN_CANON_RELAXED, "X", " \t ", "x:\r\n" },
	{ "relaxed_empty_value", SIGN_CANON_RELAXED, "X", "", "x:\r\n" },
	/* the longest outputs for their input: written in place, so these
	 * check the room reserved (the ASan build reads past it otherwise) */
	{ "simple_every_byte_a_lone_lf", SIGN_CANON_SIMPLE, "X", "\n\n\n",
	  "X:\r\n\r\n\r\n\r\n" },
	{ "relaxed_nothing_to_squeeze", SIGN_CANON_RELAXED, "ABC", "d e f",
	  "abc:d e f\r\n" },
};

/* sign_canon_header_exact_bytes - header canonicalization byte for byte */
static void
sign_canon_header_exact_bytes(void **state)
{
	struct buf out = BUF_INIT;
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(hdr_cases); i++) {
		buf_reset(&out);
		buf_puts(&out, "prefix|");	/* it appends */
		sign_canon_header(hdr_cases[i].canon, hdr_cases[i].hname,
		    hdr_cases[i].hvalue, &out);
		if (strcmp(buf_cstr(&out) + 7, hdr_cases[i].want) != 0 ||
		    strncmp(buf_cstr(&out), "prefix|", 7) != 0 ||
		    out.len != 7 + strlen(hdr_cases[i].want))
			fail_msg("%s: got \"%s\"", hdr_cases[i].name, buf_cstr(&out));
	}
	buf_free(&out);
}

static const struct {
	const char *name;
	enum sign_canon canon;
	const char *in, *want;
} body_cases[] = {
	/* RFC 6376 3.4.5 body: " C <CRLF> D <HTAB> E <CRLF> <CRLF> <CRLF>" */
	{ "rfc6376_3_4_5_relaxed", SIGN_CANON_RELAXED,
	  " C \r\nD \t E\r\n\r\n\r\n", " C\r\nD E\r\n" },
	{ "rfc6376_3_4_5_simple", SIGN_CANON_SIMPLE,
	  " C \r\nD \t E\r\n\r\n\r\n", " C \r\nD \t E\r\n" },
	{ "empty_simple_is_crlf", SIGN_CANON_SIMPLE, "", "\r\n" },
	{ "empty_relaxed_is_empty", SIGN_CANON_RELAXED, "", "" },
	{ "only_blank_lines_simple", SIGN_CANON_SIMPLE, "\r\n\r\n\r\n", "\r\n" },
	{ "only_blank_lines_relaxed", SIGN_CANON_RELAXED, "\r\n\r\n\r\n", "" },
	{ "trailing_blank_lines_simple", SIGN_CANON_SIMPLE, "a\r\n\r\n\r\n",
	  "a\r\n" },
	{ "trailing_blank_lines_relaxed", SIGN_CANON_RELAXED, "a\r\n\r\n\r\n",
	  "a\r\n" },
	{ "inner_blank_lines_kept_simple", SIGN_CANON_SIMPLE,
	  "a\r\n\r\n\r\nb\r\n\r\n", "a\r\n\r\n\r\nb\r\n" },
	{ "inner_blank_lines_kept_relaxed", SIGN_CANON_RELAXED,
	  "a\r\n \r\n\r\nb\r\n\r\n", "a\r\n\r\n\r\nb\r\n" },
	{ "bare_lf_is_crlf_simple", SIGN_CANON_SIMPLE, "a\nb\n\n\n",
	  "a\r\nb\r\n" },
	{ "bare_lf_is_crlf_relaxed", SIGN_CANON_RELAXED, "a \n\n b\n\n",
	  "a\r\n\r\n b\r\n" },
	{ "missing_last_crlf_added_simple", SIGN_CANON_SIMPLE, "a\r\nb",
	  "a\r\nb\r\n" },
	{ "missing_last_crlf_added_relaxed", SIGN_CANON_RELAXED, "a  \r\nb \t",
	  "a\r\nb\r\n" },
	{ "wsp_only_last_lines_dropped_relaxed", SIGN_CANON_RELAXED,
	  "a\r\n \t\r\n  \r\n \t", "a\r\n" },
	{ "wsp_only_last_lines_kept_simple", SIGN_CANON_SIMPLE,
	  "a\r\n \t\r\n  \r\n", "a\r\n \t\r\n  \r\n" },
	{ "relaxed_squeezes_inner_and_leading_wsp", SIGN_CANON_RELAXED,
	  "\t\t a \t b  c\r\n", " a b c\r\n" },
	{ "bare_cr_is_content", SIGN_CANON_SIMPLE, "a\rb\r\n", "a\rb\r\n" },
	{ "cr_at_end_is_content", SIGN_CANON_RELAXED, "a\r", "a\r\r\n" },
	{ "blank_lines_then_text_released", SIGN_CANON_SIMPLE,
	  "\r\n\n\r\nx", "\r\n\r\n\r\nx\r\n" },
};

/* sign_body_canon_matches_rfc - each body hashes to SHA-256 of its canonical form */
static void
sign_body_canon_matches_rfc(void **state)
{
	unsigned char got[SIGN_HASH_LEN], want[SIGN_HASH_LEN];
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(body_cases); i++) {
		body_hash(body_cases[i].canon, body_cases[i].in,
		    strlen(body_cases[i].in), SIZE_MAX, got);
		sha256(body_cases[i].want, strlen(body_cases[i].want), want);
		if (memcmp(got, want, sizeof(got)) != 0)
			fail_msg("%s: hash differs from canonical form",
			    body_cases[i].name);
	}
}

/* sign_body_hash_same_in_every_split - chunking never changes the hash */
static void
sign_body_hash_same_in_every_split(void **state)
{
	unsigned char once[SIGN_HASH_LEN], got[SIGN_HASH_LEN];
	struct sign_body *sb;
	size_t i, cut, len, k;
	const unsigned char *in;

	(void)state;
	for (i = 0; i < NELEM(body_cases); i++) {
		in = (const unsigned char *)body_cases[i].in;
		len = strlen(body_cases[i].in);
		body_hash(body_cases[i].canon, body_cases[i].in, len, SIZE_MAX, once);
		/* Fixed chunk sizes 1..len (1 is byte by byte). */
		for (k = 1; k <= len; k++) {
			body_hash(body_cases[i].canon, body_cases[i].in, len, k, got);
			if (memcmp(got, once, sizeof(got)) != 0)
				fail_msg("%s: chunk size %zu differs",
				    body_cases[i].name, k);
		}
		/* Every two-way cut, including inside each CRLF; empty chunks too. */
		for (cut = 0; cut <= len; cut++) {
			sb = sign_body_new(body_cases[i].canon);
			assert_non_null(sb);
			assert_int_equal(sign_body_update(sb, in, cut), 0);
			assert_int_equal(sign_body_update(sb, in + cut, 0), 0);
			assert_int_equal(sign_body_update(sb, in + cut, len - cut), 0);
			assert_int_equal(sign_body_final(sb, got), 0);
			sign_body_free(sb);
			if (memcmp(got, once, sizeof(got)) != 0)
				fail_msg("%s: cut at %zu differs",
				    body_cases[i].name, cut);
		}
	}
}

/* rss_kb - resident set size of this process, in kB */
static long
rss_kb(void)
{
	long pages = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	assert_non_null(f);
	assert_int_equal(fscanf(f, "%ld %ld", &pages, &resident), 2);
	fclose(f);
	return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* sign_body_blank_lines_use_constant_memory - 50 MB of empty lines, no 50 MB buffer */
static void
sign_body_blank_lines_use_constant_memory(void **state)
{
	static const struct { enum sign_canon canon; const char *empty; } cases[] = {
		{ SIGN_CANON_SIMPLE, "\r\n" }, { SIGN_CANON_RELAXED, "" },
	};
	static char chunk[65536];
	unsigned char got[SIGN_HASH_LEN], want[SIGN_HASH_LEN];
	struct sign_body *sb;
	long before, grown;
	size_t i, k;

	(void)state;
	for (k = 0; k < sizeof(chunk); k += 2)
		memcpy(chunk + k, "\r\n", 2);
	for (i = 0; i < NELEM(cases); i++) {
		sb = sign_body_new(cases[i].canon);
		assert_non_null(sb);
		before = rss_kb();
		for (k = 0; k < 800; k++)	/* 800 * 64 KiB = 50 MiB */
			assert_int_equal(sign_body_update(sb,
			    (unsigned char *)chunk, sizeof(chunk)), 0);
		grown = rss_kb() - before;	/* measured while sb is live */
		assert_true(grown < 8 * 1024);
		assert_int_equal(sign_body_final(sb, got), 0);
		sign_body_free(sb);
		sha256(cases[i].empty, strlen(cases[i].empty), want);
		assert_memory_equal(got, want, sizeof(got));
	}
}

/* sign_body_held_blank_lines_released_before_text - counted lines come back as CRLFs */
static void
sign_body_held_blank_lines_released_before_text(void **state)
{
	static char chunk[65536];
	unsigned char got[SIGN_HASH_LEN], want[SIGN_HASH_LEN];
	struct sign_body *sb;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned int len = 0;
	size_t k;

	(void)state;
	for (k = 0; k < sizeof(chunk); k += 2)
		memcpy(chunk + k, "\r\n", 2);
	sb = sign_body_new(SIGN_CANON_RELAXED);
	assert_non_null(sb);
	assert_non_null(md);
	assert_int_equal(EVP_DigestInit_ex(md, EVP_sha256(), NULL), 1);
	for (k = 0; k < 64; k++) {		/* 4 MiB of empty lines */
		assert_int_equal(sign_body_update(sb, (unsigned char *)chunk,
		    sizeof(chunk)), 0);
		assert_int_equal(EVP_DigestUpdate(md, chunk, sizeof(chunk)), 1);
	}
	assert_int_equal(sign_body_update(sb, (const unsigned char *)"x  y", 4), 0);
	assert_int_equal(EVP_DigestUpdate(md, "x y\r\n", 5), 1);
	assert_int_equal(sign_body_final(sb, got), 0);
	assert_int_equal(EVP_DigestFinal_ex(md, want, &len), 1);
	assert_memory_equal(got, want, sizeof(got));
	/* Finished: no more input, no second result. */
	assert_int_equal(sign_body_update(sb, (const unsigned char *)"z", 1), -1);
	assert_int_equal(sign_body_final(sb, got), -1);
	sign_body_free(sb);
	EVP_MD_CTX_free(md);
}

/* sign_canon_parse_and_name - names round-trip; unknown names are refused */
static void
sign_canon_parse_and_name(void **state)
{
	(void)state;
	assert_int_equal(sign_canon_parse("relaxed"), SIGN_CANON_RELAXED);
	assert_int_equal(sign_canon_parse("simple"), SIGN_CANON_SIMPLE);
	assert_int_equal(sign_canon_parse("Relaxed"), SIGN_CANON_RELAXED);
	assert_int_equal(sign_canon_parse("relax"), -1);
	assert_int_equal(sign_canon_parse(""), -1);
	assert_int_equal(sign_canon_parse(NULL), -1);
	assert_string_equal(sign_canon_name(SIGN_CANON_RELAXED), "relaxed");
	assert_string_equal(sign_canon_name(SIGN_CANON_SIMPLE), "simple");
}

/* --- header selection and format ------------------------------------- */

static const struct {
	const char *name;
	struct sign_header hdrs[6];
	const char *sign[6];
	const char *over[3];
	const char *want_h;		/* NULL: the request must fail */
} sel_cases[] = {
	{ "from_oversigned_once_more_each_instance_listed",
	  { { "From", " a@example.com" }, { "To", " b@x" }, { "Subject", " s" },
	    { "To", " c@x" }, { NULL, NULL } },
	  { "From", "To", "Subject", "Date", NULL }, { "From", NULL },
	  "From:From:To:To:Subject" },
	{ "absent_headers_not_listed",
	  { { "From", " a@example.com" }, { NULL, NULL } },
	  { "From", "Cc", "Reply-To", NULL }, { NULL }, "From" },
	{ "absent_oversigned_header_listed_once",
	  { { "From", " a@example.com" }, { NULL, NULL } },
	  { "From", "Reply-To", NULL }, { "Reply-To", NULL }, "From:Reply-To" },
	{ "names_compare_case_insensitively",
	  { { "FROM", " a@example.com" }, { "sUbJeCt", " s" }, { NULL, NULL } },
	  { "From", "Subject", NULL }, { "from", NULL }, "From:From:Subject" },
	{ "oversign_only_name_is_signed_too",
	  { { "From", " a@example.com" }, { "List-Id", " <l.x>" }, { NULL, NULL } },
	  { "From", NULL }, { "List-Id", NULL }, "From:List-Id:List-Id" },
	{ "repeated_config_name_listed_once_per_instance",
	  { { "From", " a@example.com" }, { NULL, NULL } },
	  { "From", "from", NULL }, { NULL }, "From" },
	{ "absent_from_not_oversigned_is_refused",
	  { { "Subject", " s" }, { NULL, NULL } },
	  { "From", "Subject", NULL }, { NULL }, NULL },
	{ "absent_from_oversigned_lists_from",
	  { { "Subject", " s" }, { NULL, NULL } },
	  { "From", "Subject", NULL }, { "From", NULL }, "From:Subject" },
};

/* sign_selects_headers_per_rfc6376_5_4_2 - h= lists instances and oversigned names */
static void
sign_selects_headers_per_rfc6376_5_4_2(void **state)
{
	unsigned char bh[SIGN_HASH_LEN] = { 0 };
	struct sign_request r;
	struct buf out = BUF_INIT;
	char err[256], h[512];
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < NELEM(sel_cases); i++) {
		r = std_request(ed_key, SIGN_ALG_ED25519_SHA256, SIGN_CANON_RELAXED,
		    SIGN_CANON_RELAXED);
		r.headers = sel_cases[i].sign;
		r.nheaders = count(sel_cases[i].sign);
		r.oversign = sel_cases[i].over;
		r.noversign = count(sel_cases[i].over);
		buf_reset(&out);
		err[0] = '\0';
		rc = sign_header_value(&r, sel_cases[i].hdrs,
		    nhdrs_of(sel_cases[i].hdrs), bh, &out, err, sizeof(err));
		if (sel_cases[i].want_h == NULL) {
			if (rc != -1 || err[0] == '\0' || out.len != 0)
				fail_msg("%s: not refused", sel_cases[i].name);
			continue;
		}
		if (rc != 0)
			fail_msg("%s: %s", sel_cases[i].name, err);
		assert_int_equal(tag_value(buf_cstr(&out), "h", h, sizeof(h)), 0);
		if (strcmp(h, sel_cases[i].want_h) != 0)
			fail_msg("%s: h=%s", sel_cases[i].name, h);
	}
	buf_free(&out);
}

/* relax_sig - test-side relaxed form of a DKIM-Signature value (no CRLF) */
static void
relax_sig(const char *v, struct buf *out)
{
	int wsp = 0, started = 0;

	buf_puts(out, "dkim-signature:");
	for (; *v != '\0'; v++) {
		if (*v == '\r' || *v == '\n')
			continue;
		if (*v == ' ' || *v == '\t') {
			wsp = 1;
			continue;
		}
		if (wsp && started)
			buf_putc(out, ' ');
		wsp = 0;
		started = 1;
		buf_putc(out, *v);
	}
}

/* crlf_sig - test-side simple form of a DKIM-Signature value (no CRLF) */
static void
crlf_sig(const char *v, struct buf *out)
{
	buf_puts(out, "DKIM-Signature:");
	for (; *v != '\0'; v++) {
		if (*v == '\n')
			buf_putc(out, '\r');
		buf_putc(out, *v);
	}
}

/* verify_raw - check sig over data with OpenSSL: RFC 6376 / RFC 8463 rules */
static int
verify_raw(EVP_PKEY *key, const unsigned char *sig, size_t siglen,
    const unsigned char *data, size_t len)
{
	unsigned char md[SIGN_HASH_LEN];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok;

	assert_non_null(ctx);
	if (EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519) {
		sha256(data, len, md);
		ok = EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, key) == 1 &&
		    EVP_DigestVerify(ctx, sig, siglen, md, sizeof(md)) == 1;
	} else {
		ok = EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key) == 1 &&
		    EVP_DigestVerify(ctx, sig, siglen, data, len) == 1;
	}
	EVP_MD_CTX_free(ctx);
	return ok;
}

static const struct {
	const char *name;
	int ed;
	enum sign_canon hc;
	const char *hdrbytes;		/* the selected headers, canonical */
} exact_cases[] = {
	{ "rsa_simple", 0, SIGN_CANON_SIMPLE,
	  "From: Joe  Q <joe@example.com>\r\nTo: b@example.net\r\n"
	  "To: a@example.net\r\nSubject: Hello\r\n\t  world \r\n" },
	{ "rsa_relaxed", 0, SIGN_CANON_RELAXED,
	  "from:Joe Q <joe@example.com>\r\nto:b@example.net\r\n"
	  "to:a@example.net\r\nsubject:Hello world\r\n" },
	{ "ed25519_simple", 1, SIGN_CANON_SIMPLE,
	  "From: Joe  Q <joe@example.com>\r\nTo: b@example.net\r\n"
	  "To: a@example.net\r\nSubject: Hello\r\n\t  world \r\n" },
	{ "ed25519_relaxed", 1, SIGN_CANON_RELAXED,
	  "from:Joe Q <joe@example.com>\r\nto:b@example.net\r\n"
	  "to:a@example.net\r\nsubject:Hello world\r\n" },
};

/* sign_signs_exact_header_bytes - signature covers headers bottom-up, then itself with empty b= */
static void
sign_signs_exact_header_bytes(void **state)
{
	static const struct sign_header hdrs[] = {
		{ "From", " Joe  Q <joe@example.com>" }, { "To", " a@example.net" },
		{ "Subject", " Hello\n\t  world " }, { "To", " b@example.net" },
		{ "X-Unsigned", " zzz" },
	};
	static const char *const names[] = { "From", "To", "Subject" };
	unsigned char bh[SIGN_HASH_LEN] = { 1, 2, 3 }, sig[1024];
	struct buf out = BUF_INIT, data = BUF_INIT;
	struct sign_request r;
	char err[256], *b, *prefix;
	size_t i, siglen;

	(void)state;
	for (i = 0; i < NELEM(exact_cases); i++) {
		r = std_request(exact_cases[i].ed ? ed_key : rsa_key,
		    exact_cases[i].ed ? SIGN_ALG_ED25519_SHA256 : SIGN_ALG_RSA_SHA256,
		    exact_cases[i].hc, SIGN_CANON_SIMPLE);
		r.headers = names;
		r.nheaders = NELEM(names);
		r.noversign = 0;
		buf_reset(&out);
		buf_reset(&data);
		assert_int_equal(sign_header_value(&r, hdrs, NELEM(hdrs), bh, &out,
		    err, sizeof(err)), 0);
		b = strstr(buf_cstr(&out), " b=");
		if (b == NULL)
			b = strstr(buf_cstr(&out), "\tb=");
		assert_non_null(b);
		prefix = strndup(buf_cstr(&out), (size_t)(b + 3 - out.data));
		buf_puts(&data, exact_cases[i].hdrbytes);
		if (exact_cases[i].hc == SIGN_CANON_SIMPLE)
			crlf_sig(prefix, &data);
		else
			relax_sig(prefix, &data);
		siglen = b64_decode(b + 3, sig, sizeof(sig));
		if (!verify_raw(r.key, sig, siglen, (unsigned char *)data.data,
		    data.len))
			fail_msg("%s: signature is not over the expected bytes",
			    exact_cases[i].name);
		free(prefix);
	}
	buf_free(&out);
	buf_free(&data);
}

/* sign_value - sign_header_value's output for a fixed message with key;
 * NULL when it fails (the caller asserts: a thread cannot fail the test) */
static char *
sign_value(EVP_PKEY *key)
{
	static const struct sign_header hdrs[] = {
		{ "From", " a@example.com" }, { "Subject", " kept contexts" },
	};
	unsigned char bh[SIGN_HASH_LEN] = { 7 };
	struct sign_request r = std_request(key, SIGN_ALG_RSA_SHA256,
	    SIGN_CANON_RELAXED, SIGN_CANON_RELAXED);
	struct buf out = BUF_INIT;
	char err[256];

	r.timestamp = 1700000000;
	if (sign_header_value(&r, hdrs, NELEM(hdrs), bh, &out, err,
	    sizeof(err)) != 0) {
		fprintf(stderr, "signing: %s\n", err);
		buf_free(&out);
		return NULL;
	}
	return buf_steal(&out);
}

/* sign_value_thread - sign_value in a thread of its own, which then ends */
static void *
sign_value_thread(void *arg)
{
	return sign_value(arg);
}

/*
 * sign_rsa_contexts_kept_per_thread - a thread keeps a signing context
 * per recent key (sign.c): the second signature with a key, one after its
 * context was pushed out by other keys, and one in another thread (whose
 * contexts go with it: ASan's leak check) are all the bytes the first one
 * was, and other keys' differ (RSA PKCS#1 v1.5
 * is deterministic). The keys freed at the end are still referenced
 * by this thread's contexts: freeing them is the caller's business, as
 * after a reload.
 */
static void
sign_rsa_contexts_kept_per_thread(void **state)
{
	EVP_PKEY *other[PKCTX_KEEP + 1];	/* one more than a thread keeps */
	char *first, *v;
	pthread_t t;
	size_t i;

	(void)state;
	first = sign_value(rsa_key);
	assert_non_null(first);
	v = sign_value(rsa_key);
	assert_non_null(v);
	assert_string_equal(v, first);
	free(v);
	for (i = 0; i < NELEM(other); i++) {
		other[i] = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
		assert_non_null(other[i]);
		v = sign_value(other[i]);
		assert_non_null(v);
		assert_string_not_equal(v, first);
		free(v);
	}
	v = sign_value(rsa_key);	/* its context was replaced meanwhile */
	assert_non_null(v);
	assert_string_equal(v, first);
	free(v);
	assert_int_equal(pthread_create(&t, NULL, sign_value_thread, rsa_key), 0);
	assert_int_equal(pthread_join(t, (void **)&v), 0);
	assert_non_null(v);
	assert_string_equal(v, first);
	free(v);
	for (i = 0; i < NELEM(other); i++)
		EVP_PKEY_free(other[i]);
	free(first);
}

/*
 * pkctx_verifies_as_digestverify - a thread's kept RSA contexts (pkctx.c)
 * give EVP_DigestVerify's answers: a good signature passes, a changed
 * byte or a short signature fails, and after a context was dropped the
 * next one works; an Ed25519 key gets none
 */
static void
pkctx_verifies_as_digestverify(void **state)
{
	static const unsigned char data[] = "from:a@example.com\r\n";
	unsigned char md[SIGN_HASH_LEN], sig[512];
	EVP_PKEY_CTX *s, *v;
	size_t siglen = sizeof(sig);

	(void)state;
	sha256(data, sizeof(data) - 1, md);
	s = pkctx_rsa(rsa_key, PKCTX_SIGN);
	v = pkctx_rsa(rsa_key, PKCTX_VERIFY);
	assert_non_null(s);
	assert_non_null(v);
	assert_ptr_not_equal(s, v);
	assert_ptr_equal(pkctx_rsa(rsa_key, PKCTX_SIGN), s);
	assert_int_equal(EVP_PKEY_sign(s, sig, &siglen, md, sizeof(md)), 1);
	assert_true(verify_raw(rsa_key, sig, siglen, data, sizeof(data) - 1));
	assert_int_equal(EVP_PKEY_verify(v, sig, siglen, md, sizeof(md)), 1);
	sig[siglen / 2] ^= 1;
	assert_false(verify_raw(rsa_key, sig, siglen, data, sizeof(data) - 1));
	assert_true(EVP_PKEY_verify(v, sig, siglen, md, sizeof(md)) != 1);
	sig[siglen / 2] ^= 1;
	assert_true(EVP_PKEY_verify(v, sig, siglen - 1, md, sizeof(md)) != 1);
	assert_true(EVP_PKEY_verify(v, sig, siglen + 1, md, sizeof(md)) != 1);
	assert_int_equal(EVP_PKEY_verify(v, sig, siglen, md, sizeof(md)), 1);
	pkctx_drop(v);
	v = pkctx_rsa(rsa_key, PKCTX_VERIFY);
	assert_non_null(v);
	assert_int_equal(EVP_PKEY_verify(v, sig, siglen, md, sizeof(md)), 1);
	assert_null(pkctx_rsa(ed_key, PKCTX_SIGN));
	assert_null(pkctx_rsa(ed_key, PKCTX_VERIFY));
	pkctx_thread_stop();		/* and then a fresh one */
	assert_non_null(pkctx_rsa(rsa_key, PKCTX_VERIFY));
	ERR_clear_error();	/* the failed checks' errors: not the next test's */
}

/* check_folding - lines fit, folds are "\n\t", never inside a tag name or right after "=" */
static void
check_folding(const char *v)
{
	size_t col = strlen("DKIM-Signature:");
	int name = 1, seen = 0;		/* in a tag name; name octets seen */
	const char *p;

	assert_true(v[0] == ' ');
	for (p = v; *p != '\0'; p++) {
		if (*p == '\n') {
			assert_true(col <= 78);
			assert_true(p[1] == '\t');
			assert_false(name && seen);	/* "b\n\th=" */
			assert_false(p[-1] == '=');	/* "b=\n\t..." */
			col = 0;
			continue;
		}
		col++;
		if (*p == ';') {
			name = 1;
			seen = 0;
		} else if (*p == '=' && name) {
			name = 0;
		} else if (name && *p != ' ' && *p != '\t') {
			seen = 1;
		}
	}
	assert_true(col <= 78);
	assert_false(p[-1] == ' ' || p[-1] == '\t' || p[-1] == ';');
}

/* sign_tags_in_order_and_folded - v a c d s t x i h bh b, folded at 78 */
static void
sign_tags_in_order_and_folded(void **state)
{
	static const char *const many[] = { "From", "To", "Cc", "Subject", "Date",
		"Message-ID", "Reply-To", "In-Reply-To", "References",
		"Content-Type", "Content-Transfer-Encoding", "MIME-Version",
		"List-Id", "List-Unsubscribe", "List-Unsubscribe-Post" };
	struct sign_header hdrs[NELEM(many)];
	unsigned char bh[SIGN_HASH_LEN] = { 0 };
	struct buf out = BUF_INIT;
	struct sign_request r;
	char err[256], val[1024];
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(many); i++) {
		hdrs[i].name = many[i];
		hdrs[i].value = " v";
	}
	r = std_request(rsa_key, SIGN_ALG_RSA_SHA256, SIGN_CANON_RELAXED,
	    SIGN_CANON_SIMPLE);
	r.headers = many;
	r.nheaders = NELEM(many);
	r.timestamp = 1700000000;
	r.ttl = 86400;
	r.identity = "joe@mail.example.com";
	assert_int_equal(sign_header_value(&r, hdrs, NELEM(hdrs), bh, &out, err,
	    sizeof(err)), 0);
	check_folding(buf_cstr(&out));
	assert_non_null(strchr(buf_cstr(&out), '\n'));	/* it did fold */
	/* Tag names in exactly the required order, and never l=. */
	tag_names(buf_cstr(&out), val, sizeof(val));
	assert_string_equal(val, "v,a,c,d,s,t,x,i,h,bh,b,");
	assert_int_equal(tag_value(buf_cstr(&out), "c", val, sizeof(val)), 0);
	assert_string_equal(val, "relaxed/simple");
	assert_int_equal(tag_value(buf_cstr(&out), "x", val, sizeof(val)), 0);
	assert_string_equal(val, "1700086400");
	assert_int_equal(tag_value(buf_cstr(&out), "bh", val, sizeof(val)), 0);
	assert_string_equal(val, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
	buf_free(&out);
}

/* sign_refuses_bad_requests - each bad request fails with a reason, out untouched */
static void
sign_refuses_bad_requests(void **state)
{
	static const char *const bad_name[] = { "From", "Sub ject" };
	static const struct sign_header hdrs[] = { { "From", " a@example.com" } };
	unsigned char bh[SIGN_HASH_LEN] = { 0 };
	struct sign_request r;
	struct buf out = BUF_INIT;
	char err[256];
	int i;

	(void)state;
	for (i = 0; i < 8; i++) {
		r = std_request(rsa_key, SIGN_ALG_RSA_SHA256, SIGN_CANON_RELAXED,
		    SIGN_CANON_RELAXED);
		switch (i) {
		case 0: r.alg = SIGN_ALG_ED25519_SHA256; break;	/* key mismatch */
		case 1: r.key = ed_key; break;			/* key mismatch */
		case 2: r.headers = bad_name; r.nheaders = 2; break;
		case 3: r.identity = "joe@example.org"; break;	/* outside d= */
		case 4: r.ttl = 60; break;			/* x= without t= */
		case 5: r.domain = "example.com; x=1"; break;
		case 6: r.selector = ""; break;
		case 7: r.key = NULL; break;
		}
		buf_reset(&out);
		buf_puts(&out, "kept");
		err[0] = '\0';
		if (sign_header_value(&r, hdrs, NELEM(hdrs), bh, &out, err,
		    sizeof(err)) != -1 || err[0] == '\0')
			fail_msg("bad request %d accepted", i);
		assert_string_equal(buf_cstr(&out), "kept");
	}
	buf_free(&out);
}

/* --- independent verification: libopendkim --------------------------- */

/* header_line - "name:value" with lone LF folds as CRLF, no final CRLF */
static void
header_line(struct buf *b, const char *name, const char *value)
{
	buf_reset(b);
	buf_puts(b, name);
	buf_putc(b, ':');
	for (; *value != '\0'; value++) {
		if (*value == '\n')
			buf_putc(b, '\r');
		buf_putc(b, *value);
	}
}

/* odkim_check - 1 if libopendkim passes the one signature; says why if not expect */
static int
odkim_check(const char *sigvalue, const struct sign_header *hdrs, size_t n,
    const char *body, int expect)
{
	dkim_query_t qm = DKIM_QUERY_FILE;
	struct buf line = BUF_INIT;
	DKIM_SIGINFO **sigs = NULL;
	DKIM_LIB *lib;
	DKIM_STAT st;
	DKIM *d;
	int nsigs = 0, pass = 0;
	size_t i;

	lib = dkim_init(NULL, NULL);
	assert_non_null(lib);
	assert_int_equal(dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_QUERYMETHOD,
	    &qm, sizeof(qm)), DKIM_STAT_OK);
	assert_int_equal(dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_QUERYINFO,
	    keyfile, strlen(keyfile)), DKIM_STAT_OK);
	d = dkim_verify(lib, (const unsigned char *)"test", NULL, &st);
	assert_non_null(d);
	header_line(&line, "DKIM-Signature", sigvalue);
	assert_int_equal(dkim_header(d, (u_char *)line.data, line.len), 0);
	for (i = 0; i < n; i++) {
		header_line(&line, hdrs[i].name, hdrs[i].value);
		assert_int_equal(dkim_header(d, (u_char *)line.data, line.len), 0);
	}
	assert_int_equal(dkim_eoh(d), DKIM_STAT_OK);
	assert_int_equal(dkim_body(d, (u_char *)body, strlen(body)), 0);
	st = dkim_eom(d, NULL);
	if (dkim_getsiglist(d, &sigs, &nsigs) == DKIM_STAT_OK && nsigs == 1)
		pass = st == DKIM_STAT_OK && DKIM_SIG_CHECK(sigs[0]);
	if (pass != expect && nsigs == 1)
		print_message("# libopendkim: %s (%s)\n", dkim_getresultstr(st),
		    dkim_sig_geterrorstr(dkim_sig_geterror(sigs[0])));
	dkim_free(d);
	dkim_close(lib);
	buf_free(&line);
	return pass;
}

/* odkim_has_ed25519 - does this libopendkim verify ed25519-sha256? */
static int
odkim_has_ed25519(void)
{
	DKIM_LIB *lib = dkim_init(NULL, NULL);
	int yes;

	assert_non_null(lib);
	yes = dkim_libfeature(lib, DKIM_FEATURE_ED25519);
	dkim_close(lib);
	return yes;
}

static const struct {
	const char *name;
	int ed;
	enum sign_canon hc, bc;
} verify_cases[] = {
	{ "rsa_relaxed_relaxed", 0, SIGN_CANON_RELAXED, SIGN_CANON_RELAXED },
	{ "rsa_simple_simple", 0, SIGN_CANON_SIMPLE, SIGN_CANON_SIMPLE },
	{ "rsa_relaxed_simple", 0, SIGN_CANON_RELAXED, SIGN_CANON_SIMPLE },
	{ "rsa_simple_relaxed", 0, SIGN_CANON_SIMPLE, SIGN_CANON_RELAXED },
	{ "ed25519_relaxed_relaxed", 1, SIGN_CANON_RELAXED, SIGN_CANON_RELAXED },
	{ "ed25519_simple_simple", 1, SIGN_CANON_SIMPLE, SIGN_CANON_SIMPLE },
};

static const char verify_body[] =
	"Hello  world \t\r\n\r\n  second\tline  \r\nthird\r\n\r\n\r\n";

/* sign_verifies_with_libopendkim - pass as signed; a changed byte or added From fails */
static void
sign_verifies_with_libopendkim(void **state)
{
	/* hdrs[0] is only for the added-From check; the message is hdrs + 1. */
	struct sign_header all[] = {
		{ "From", " Mallory <m@example.org>" },
		{ "Received", " from x by y; Mon, 1 Jan 2024 00:00:00 +0000" },
		{ "From", " Joe <joe@example.com>" },
		{ "To", " a@example.net" },
		{ "Subject", " A folded\n\t  subject  line" },
		{ "To", " b@example.net" },
		{ "Date", " Mon, 1 Jan 2024 00:00:00 +0000" },
		{ "Message-ID", " <1@example.com>" },
	};
	const struct sign_header *hdrs = all + 1;
	const size_t nh = NELEM(all) - 1;
	unsigned char bh[SIGN_HASH_LEN];
	struct sign_request r;
	struct buf out = BUF_INIT;
	char err[256], *body;
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(verify_cases); i++) {
		if (verify_cases[i].ed && !odkim_has_ed25519())
			fail_msg("libopendkim lacks ed25519; see sign_signs_exact_header_bytes");
		r = std_request(verify_cases[i].ed ? ed_key : rsa_key,
		    verify_cases[i].ed ? SIGN_ALG_ED25519_SHA256 : SIGN_ALG_RSA_SHA256,
		    verify_cases[i].hc, verify_cases[i].bc);
		r.selector = verify_cases[i].ed ? "ed" : "sel";
		r.timestamp = time(NULL);
		r.ttl = 3600;
		r.identity = "joe@mail.example.com";
		body_hash(verify_cases[i].bc, verify_body, strlen(verify_body), 7, bh);
		buf_reset(&out);
		if (sign_header_value(&r, hdrs, nh, bh, &out, err, sizeof(err)) != 0)
			fail_msg("%s: %s", verify_cases[i].name, err);
		if (!odkim_check(buf_cstr(&out), hdrs, nh, verify_body, 1))
			fail_msg("%s: libopendkim did not pass it:\n%s",
			    verify_cases[i].name, buf_cstr(&out));
		/* One body byte changed. */
		body = strdup(verify_body);
		body[1] = 'E';
		if (odkim_check(buf_cstr(&out), hdrs, nh, body, 0))
			fail_msg("%s: passed with a changed body", verify_cases[i].name);
		free(body);
		/*
		 * A second From added on top after signing: bottom-up selection
		 * alone would still pass (it picks the original); oversigning
		 * makes the extra "From" in h= cover it.
		 */
		if (odkim_check(buf_cstr(&out), all, nh + 1, verify_body, 0))
			fail_msg("%s: passed with an added From", verify_cases[i].name);
	}
	buf_free(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		/* First, while the process is small: the memory check. */
		cmocka_unit_test(sign_body_blank_lines_use_constant_memory),
		cmocka_unit_test(sign_body_held_blank_lines_released_before_text),
		cmocka_unit_test(sign_canon_header_exact_bytes),
		cmocka_unit_test(sign_body_canon_matches_rfc),
		cmocka_unit_test(sign_body_hash_same_in_every_split),
		cmocka_unit_test(sign_canon_parse_and_name),
		cmocka_unit_test(sign_selects_headers_per_rfc6376_5_4_2),
		cmocka_unit_test(sign_signs_exact_header_bytes),
		cmocka_unit_test(sign_tags_in_order_and_folded),
		cmocka_unit_test(sign_refuses_bad_requests),
		cmocka_unit_test(sign_rsa_contexts_kept_per_thread),
		cmocka_unit_test(pkctx_verifies_as_digestverify),
		cmocka_unit_test(sign_verifies_with_libopendkim),
	};

	return cmocka_run_group_tests(tests, setup_keys, teardown_keys);
}
