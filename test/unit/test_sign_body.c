/*
 * test_sign_body.c - the streaming body canonicalizer (sign_body_*) against
 * a reference written here, byte by byte, straight from RFC 6376 3.4.3 and
 * 3.4.4 (plus our rule that a bare LF ends a line too), on random bodies in
 * random chunkings, on a table of edge cases, and with a stop at every
 * offset of a line of text. The reference knows nothing of chunks, runs or
 * words: the body is whole when it sees it. The counting mode the verifier
 * uses (sign_body_count_new) is run beside every hash: its length must be
 * the reference's, so counting and hashing canonicalize alike.
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

#include "auth/sign.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

#define RANDOM_BODIES	3000	/* random bodies per canonicalization */
#define MAX_BODY	6000	/* longest random body */
#define MAX_CHUNKS	4	/* chunks in an edge-table row */

/* A chunking: where each chunk ends, in order; the last one is the body length. */
struct cuts {
	size_t end[MAX_BODY + 8];	/* ends of the chunks */
	size_t n;			/* number of chunks */
};

static uint64_t rng_state = 0x5eed0f5166e4a1b3ULL;	/* fixed: reproducible */

/* rng_next - xorshift64* pseudo-random numbers */
static uint64_t
rng_next(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

/* rng_below - a pseudo-random number in [0, n) */
static size_t
rng_below(size_t n)
{
	return n == 0 ? 0 : (size_t)((rng_next() >> 11) % n);
}

/* canon_name - for messages */
static const char *
canon_name(enum sign_canon canon)
{
	return canon == SIGN_CANON_RELAXED ? "relaxed" : "simple";
}

/*
 * ref_canon - the canonical body of in[0..len) into out (room for
 * 2 * len + 2 bytes); returns its length. A line ends at CRLF or at a bare
 * LF; any other CR is content. Simple (3.4.3): lines as they are, empty
 * lines at the end dropped, an empty body is one CRLF. Relaxed (3.4.4):
 * WSP at a line end ignored, other WSP runs one SP, empty lines at the end
 * dropped, an empty body stays empty. A last line without a line end gets
 * a CRLF, if anything of it is left.
 */
static size_t
ref_canon(enum sign_canon canon, const unsigned char *in, size_t len,
    unsigned char *out)
{
	size_t i, o = 0, line = 0, keep = 0;
	int wsp = 0, c;

	for (i = 0; i < len; i++) {
		c = in[i];
		if (c == '\n' || (c == '\r' && i + 1 < len && in[i + 1] == '\n')) {
			if (c == '\r')
				i++;
			out[o++] = '\r';
			out[o++] = '\n';
			if (o - 2 > line)
				keep = o;	/* not an empty line */
			line = o;
			wsp = 0;		/* WSP at a line end is ignored */
			continue;
		}
		if (canon == SIGN_CANON_RELAXED && (c == ' ' || c == '\t')) {
			wsp = 1;
			continue;
		}
		if (wsp)
			out[o++] = ' ';
		wsp = 0;
		out[o++] = (unsigned char)c;
	}
	if (o > line) {
		out[o++] = '\r';
		out[o++] = '\n';
		keep = o;
	}
	o = keep;				/* empty lines at the end go */
	if (canon == SIGN_CANON_SIMPLE && o == 0) {
		out[o++] = '\r';
		out[o++] = '\n';
	}
	return o;
}

/* ref_hash - SHA-256 of the reference canonical form; returns its length */
static size_t
ref_hash(enum sign_canon canon, const unsigned char *in, size_t len,
    unsigned char bh[SIGN_HASH_LEN])
{
	unsigned char *out = malloc(2 * len + 2);
	unsigned int n = 0;
	size_t olen;

	assert_non_null(out);
	olen = ref_canon(canon, in, len, out);
	assert_int_equal(EVP_Digest(out, olen, bh, &n, EVP_sha256(), NULL), 1);
	assert_int_equal(n, SIGN_HASH_LEN);
	free(out);
	return olen;
}

/* body_feed - in, in the chunks that cuts gives, into sb; then sign_body_final; sb is freed */
static void
body_feed(struct sign_body *sb, const unsigned char *in,
    const struct cuts *cuts, unsigned char *bh, unsigned long long *len)
{
	size_t k, start = 0;

	assert_non_null(sb);
	for (k = 0; k < cuts->n; k++) {
		assert_int_equal(sign_body_update(sb, in + start,
		    cuts->end[k] - start), 0);
		start = cuts->end[k];
	}
	assert_int_equal(sign_body_final(sb, bh), 0);
	*len = sign_body_length(sb);
	sign_body_free(sb);
}

/* body_hash - sign_body_* over in, fed in the chunks that cuts gives; the bytes hashed */
static unsigned long long
body_hash(enum sign_canon canon, const unsigned char *in, const struct cuts *cuts,
    unsigned char bh[SIGN_HASH_LEN])
{
	unsigned long long len;

	body_feed(sign_body_new(canon), in, cuts, bh, &len);
	return len;
}

/* body_count - the canonical length sign_body_count_new gives over in, in the chunks that cuts gives */
static unsigned long long
body_count(enum sign_canon canon, const unsigned char *in,
    const struct cuts *cuts)
{
	unsigned long long n;

	body_feed(sign_body_count_new(canon), in, cuts, NULL, &n);
	return n;
}

/* escape - in[0..len) as a C string literal body, shortened, for messages */
static const char *
escape(const unsigned char *in, size_t len)
{
	static char buf[4096];
	size_t i, o = 0;
	int n;

	for (i = 0; i < len && o + 8 < sizeof(buf); i++) {
		if (in[i] >= 0x20 && in[i] < 0x7f && in[i] != '\\' && in[i] != '"')
			buf[o++] = (char)in[i];
		else {
			n = snprintf(buf + o, sizeof(buf) - o, "\\x%02x", in[i]);
			if (n < 0 || (size_t)n >= sizeof(buf) - o)
				break;
			o += (size_t)n;
		}
	}
	buf[o] = '\0';
	return buf;
}

/* cuts_string - the chunk lengths of a chunking, for messages */
static const char *
cuts_string(const struct cuts *cuts)
{
	static char buf[512];
	size_t k, o = 0, start = 0;
	int n;

	buf[0] = '\0';
	for (k = 0; k < cuts->n; k++) {
		n = snprintf(buf + o, sizeof(buf) - o, "%s%zu", k ? "," : "",
		    cuts->end[k] - start);
		if (n < 0 || (size_t)n >= sizeof(buf) - o)
			break;
		o += (size_t)n;
		start = cuts->end[k];
	}
	return buf;
}

/* check_chunking - the streamed hash in this chunking equals the reference hash */
static void
check_chunking(const char *what, enum sign_canon canon, const unsigned char *in,
    size_t len, const struct cuts *cuts)
{
	unsigned char got[SIGN_HASH_LEN], want[SIGN_HASH_LEN];
	unsigned long long counted, hashed;
	size_t olen;

	olen = ref_hash(canon, in, len, want);
	hashed = body_hash(canon, in, cuts, got);
	if (memcmp(got, want, sizeof(got)) != 0)
		fail_msg("%s, %s, chunks %s: hash differs from the reference; "
		    "body \"%s\"", what, canon_name(canon), cuts_string(cuts),
		    escape(in, len));
	counted = body_count(canon, in, cuts);
	if (counted != olen || hashed != olen)
		fail_msg("%s, %s, chunks %s: counted %llu canonical bytes, hashed "
		    "%llu, the reference has %zu; body \"%s\"", what,
		    canon_name(canon), cuts_string(cuts), counted, hashed, olen,
		    escape(in, len));
}

/* cuts_whole - the body in one chunk (none for an empty body) */
static void
cuts_whole(struct cuts *cuts, size_t len)
{
	cuts->n = 0;
	if (len > 0)
		cuts->end[cuts->n++] = len;
}

/* cuts_random - chunks of random sizes up to a random bound, some empty, some of one byte */
static void
cuts_random(struct cuts *cuts, size_t len)
{
	static const size_t bounds[] = { 1, 2, 3, 8, 17, 64, 1000, MAX_BODY };
	size_t bound = bounds[rng_below(NELEM(bounds))], at = 0, step;

	cuts->n = 0;
	while (at < len && cuts->n + 2 < NELEM(cuts->end)) {
		step = rng_below(16) == 0 ? 0 : 1 + rng_below(bound);
		at = step > len - at ? len : at + step;
		cuts->end[cuts->n++] = at;
	}
	if (at < len)
		cuts->end[cuts->n++] = len;
}

/* gen_weighted - random bytes, mostly SP, HTAB, CR, LF and 'a' */
static size_t
gen_weighted(unsigned char *out)
{
	static const unsigned char alphabet[] = {
		' ', ' ', ' ', ' ', ' ', ' ', '\t', '\t', '\t',
		'\r', '\r', '\r', '\r', '\n', '\n', '\n', '\n',
		'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'b', 'b',
		'!', 0x00, 0x01, 0x0b, 0x0c, 0x1f, 0x7f, 0x80, 0xa0, 0xff,
	};
	size_t len, i;

	/* Mostly short, so that every small shape comes up; some long. */
	len = rng_below(8) == 0 ? rng_below(MAX_BODY + 1) : rng_below(64);
	for (i = 0; i < len; i++)
		out[i] = alphabet[rng_below(sizeof(alphabet))];
	return len;
}

/* gen_text - random words, single spaces and CRLFs, with rare oddities among them */
static size_t
gen_text(unsigned char *out)
{
	static const char *const odd[] = {
		"  ", "\t", " \t ", " \r\n", "\t\r\n", "\r\n\r\n", "\r\n \r\n",
		"\r\n\t", "\r\n ", "\r\n  ", "\n", " \n", "\n\n", "\r", "\r\r\n",
		" \r ", "\x01", " !", "! ", "\x80 ", " \xff", "\r\n\r\n\r\n",
		"\r\n\n", "\n\r\n", " \x1f ", "\x0b",
	};
	static const char *const ends[] = { "\r\n", "", " ", "\r", "\r\n\r\n",
		"\n", " \r\n", "\t" };
	size_t len, want, k, wl;
	const char *sep;

	want = rng_below(4) == 0 ? rng_below(MAX_BODY - 64) : rng_below(400);
	len = 0;
	while (len < want) {
		wl = 1 + rng_below(12);
		for (k = 0; k < wl; k++)
			out[len++] = (unsigned char)('a' + rng_below(26));
		if (rng_below(40) == 0)
			sep = odd[rng_below(NELEM(odd))];
		else if (rng_below(8) == 0)
			sep = "\r\n";
		else
			sep = " ";
		memcpy(out + len, sep, strlen(sep));
		len += strlen(sep);
	}
	sep = ends[rng_below(NELEM(ends))];
	memcpy(out + len, sep, strlen(sep));
	return len + strlen(sep);
}

/* check_body - one body, both canonicalizations, whole, byte by byte and in random chunks */
static void
check_body(const char *what, const unsigned char *in, size_t len)
{
	static struct cuts cuts;
	static const enum sign_canon canons[] = { SIGN_CANON_SIMPLE,
		SIGN_CANON_RELAXED };
	size_t c, k;

	for (c = 0; c < NELEM(canons); c++) {
		cuts_whole(&cuts, len);
		check_chunking(what, canons[c], in, len, &cuts);
		for (k = 0; k < len; k++)
			cuts.end[k] = k + 1;
		cuts.n = len;
		check_chunking(what, canons[c], in, len, &cuts);
		cuts_random(&cuts, len);
		check_chunking(what, canons[c], in, len, &cuts);
	}
}

/* sign_body_matches_reference_on_random_bodies - thousands of bodies, fixed seed */
static void
sign_body_matches_reference_on_random_bodies(void **state)
{
	static unsigned char body[MAX_BODY + 64];
	char what[64];
	size_t i, len;

	(void)state;
	for (i = 0; i < RANDOM_BODIES; i++) {
		len = i % 2 == 0 ? gen_weighted(body) : gen_text(body);
		assert_true(len <= sizeof(body));
		assert_true(snprintf(what, sizeof(what), "random body %zu", i) <
		    (int)sizeof(what));
		check_body(what, body, len);
	}
}

static const struct {
	const char *name;
	const char *chunks[MAX_CHUNKS + 1];	/* NULL-terminated */
	const char *relaxed, *simple;		/* canonical forms */
} edge_cases[] = {
	{ "empty_body_no_update", { NULL }, "", "\r\n" },
	{ "empty_body_empty_update", { "", NULL }, "", "\r\n" },
	{ "only_crlfs", { "\r\n\r\n\r\n", NULL }, "", "\r\n" },
	{ "only_crlfs_split_inside", { "\r", "\n\r", "\n", NULL }, "", "\r\n" },
	{ "only_wsp", { "  \t ", NULL }, "", "  \t \r\n" },
	{ "only_wsp_lines", { " \r\n\t\r\n", " ", NULL }, "", " \r\n\t\r\n \r\n" },
	{ "rfc6376_3_4_5_example", { " C \r\nD \t E\r\n\r\n\r\n", NULL },
	  " C\r\nD E\r\n", " C \r\nD \t E\r\n" },
	{ "trailing_sp_split_from_crlf", { "abc  ", "  \r\ndef", NULL },
	  "abc\r\ndef\r\n", "abc    \r\ndef\r\n" },
	{ "trailing_sp_then_cr_then_lf", { "abc ", "\r", "\n", NULL },
	  "abc\r\n", "abc \r\n" },
	{ "sp_at_chunk_end_then_text", { "the quick brown fox jumps over ",
	  "the lazy dog\r\n", NULL }, "the quick brown fox jumps over the lazy dog\r\n",
	  "the quick brown fox jumps over the lazy dog\r\n" },
	{ "sp_at_chunk_end_then_sp", { "the quick brown fox jumps over ",
	  " the lazy dog\r\n", NULL }, "the quick brown fox jumps over the lazy dog\r\n",
	  "the quick brown fox jumps over  the lazy dog\r\n" },
	{ "cr_at_chunk_end_lf_next", { "line one\r", "\nline two\r\n", NULL },
	  "line one\r\nline two\r\n", "line one\r\nline two\r\n" },
	{ "cr_at_chunk_end_cr_next", { "a\r", "\r\n", NULL }, "a\r\r\n", "a\r\r\n" },
	{ "cr_at_chunk_end_text_next", { "a\r", "b\r\n", NULL }, "a\rb\r\n",
	  "a\rb\r\n" },
	{ "bare_cr_is_content", { "a\rb\r\n", NULL }, "a\rb\r\n", "a\rb\r\n" },
	{ "bare_cr_between_wsp", { "a\t\r\tb", NULL }, "a \r b\r\n",
	  "a\t\r\tb\r\n" },
	{ "bare_cr_at_end", { "a\r", NULL }, "a\r\r\n", "a\r\r\n" },
	{ "sp_then_bare_cr_at_end", { "a \r", NULL }, "a \r\r\n", "a \r\r\n" },
	{ "bare_lf_ends_lines", { "a\nb\n", NULL }, "a\r\nb\r\n", "a\r\nb\r\n" },
	{ "trailing_bare_lf_blank_lines", { "a\n\n", "\n", NULL }, "a\r\n",
	  "a\r\n" },
	{ "mixed_crlf_lf_inner_blanks_wsp_run", { "a\r\n\n\r\n \t b \t\n", NULL },
	  "a\r\n\r\n\r\n b\r\n", "a\r\n\r\n\r\n \t b \t\r\n" },
	{ "bare_lf_after_wsp", { "a \n\n", NULL }, "a\r\n", "a \r\n" },
	{ "bare_lf_then_leading_sp", { "a\n", " b\n", NULL }, "a\r\n b\r\n",
	  "a\r\n b\r\n" },
	{ "no_final_crlf", { "a\r\nb", NULL }, "a\r\nb\r\n", "a\r\nb\r\n" },
	{ "no_final_crlf_trailing_wsp", { "a\r\nb", " \t", NULL }, "a\r\nb\r\n",
	  "a\r\nb \t\r\n" },
	{ "no_final_crlf_leading_sp", { " x", NULL }, " x\r\n", " x\r\n" },
	{ "inner_blank_lines_kept", { "a\r\n\r\n", "\r\nb", NULL },
	  "a\r\n\r\n\r\nb\r\n", "a\r\n\r\n\r\nb\r\n" },
	{ "inner_wsp_lines_empty_in_relaxed", { "a\r\n \t\r\n\tb\r\n \r\n", NULL },
	  "a\r\n\r\n b\r\n", "a\r\n \t\r\n\tb\r\n \r\n" },
	{ "wsp_line_split_from_its_crlf", { "a\r\n \t", "\r\nb\r\n", NULL },
	  "a\r\n\r\nb\r\n", "a\r\n \t\r\nb\r\n" },
	{ "leading_wsp_of_body", { "\t\t a", NULL }, " a\r\n", "\t\t a\r\n" },
	{ "controls_are_content", { "a\x01 \x0b b\x1f\r\n", NULL },
	  "a\x01 \x0b b\x1f\r\n", "a\x01 \x0b b\x1f\r\n" },
	{ "bang_after_sp_in_long_line", { "one ! two !  three !\t!\r\nfour ! \r\n",
	  NULL }, "one ! two ! three ! !\r\nfour !\r\n",
	  "one ! two !  three !\t!\r\nfour ! \r\n" },
	{ "eight_bit_text", { "\xc3\xa9t\xc3\xa9 \xe2\x82\xac  \xff\r\n", NULL },
	  "\xc3\xa9t\xc3\xa9 \xe2\x82\xac \xff\r\n",
	  "\xc3\xa9t\xc3\xa9 \xe2\x82\xac  \xff\r\n" },
	{ "long_paragraphs", { "The quick brown fox jumps over the lazy dog.\r\n"
	  "Pack my box with five dozen liquor jugs.\r\n\r\n",
	  "Sphinx of black quartz, judge my vow.\r\n\r\n\r\n", NULL },
	  "The quick brown fox jumps over the lazy dog.\r\n"
	  "Pack my box with five dozen liquor jugs.\r\n\r\n"
	  "Sphinx of black quartz, judge my vow.\r\n",
	  "The quick brown fox jumps over the lazy dog.\r\n"
	  "Pack my box with five dozen liquor jugs.\r\n\r\n"
	  "Sphinx of black quartz, judge my vow.\r\n" },
};

/* edge_body - the concatenated chunks of an edge-table row, and the chunk ends */
static size_t
edge_body(size_t row, unsigned char *body, size_t room, struct cuts *cuts)
{
	size_t k, len = 0, n;

	cuts->n = 0;
	for (k = 0; edge_cases[row].chunks[k] != NULL; k++) {
		n = strlen(edge_cases[row].chunks[k]);
		assert_true(len + n <= room);
		memcpy(body + len, edge_cases[row].chunks[k], n);
		len += n;
		cuts->end[cuts->n++] = len;
	}
	return len;
}

/* sign_body_reference_gives_edge_table_forms - the reference itself, checked by hand */
static void
sign_body_reference_gives_edge_table_forms(void **state)
{
	static struct cuts cuts;
	unsigned char body[256], out[2 * 256 + 2];
	const char *want;
	size_t row, len, olen, c;

	(void)state;
	for (row = 0; row < NELEM(edge_cases); row++) {
		len = edge_body(row, body, sizeof(body), &cuts);
		for (c = 0; c < 2; c++) {
			want = c ? edge_cases[row].relaxed : edge_cases[row].simple;
			olen = ref_canon(c ? SIGN_CANON_RELAXED : SIGN_CANON_SIMPLE,
			    body, len, out);
			if (olen != strlen(want) || memcmp(out, want, olen) != 0)
				fail_msg("%s, %s: reference gives \"%s\"",
				    edge_cases[row].name, c ? "relaxed" : "simple",
				    escape(out, olen));
		}
	}
}

/* sign_body_matches_reference_in_edge_cases - given chunks, then every cut into two and three */
static void
sign_body_matches_reference_in_edge_cases(void **state)
{
	static struct cuts cuts;
	unsigned char body[256];
	enum sign_canon canon;
	size_t row, len, a, b, c;

	(void)state;
	for (row = 0; row < NELEM(edge_cases); row++) {
		for (c = 0; c < 2; c++) {
			canon = c ? SIGN_CANON_RELAXED : SIGN_CANON_SIMPLE;
			len = edge_body(row, body, sizeof(body), &cuts);
			check_chunking(edge_cases[row].name, canon, body, len, &cuts);
			for (a = 0; a <= len; a++) {
				for (b = a; b <= len; b++) {
					cuts.end[0] = a;
					cuts.end[1] = b;
					cuts.end[2] = len;
					cuts.n = 3;
					check_chunking(edge_cases[row].name, canon,
					    body, len, &cuts);
				}
			}
		}
	}
}

/* sign_body_count_equals_hash_form - per edge row: the count is the length of the form the hash is of */
static void
sign_body_count_equals_hash_form(void **state)
{
	static struct cuts cuts;
	unsigned char body[256], got[SIGN_HASH_LEN], want[SIGN_HASH_LEN];
	const char *form;
	unsigned int n;
	size_t row, c;

	(void)state;
	for (row = 0; row < NELEM(edge_cases); row++) {
		for (c = 0; c < 2; c++) {
			enum sign_canon canon = c ? SIGN_CANON_RELAXED :
			    SIGN_CANON_SIMPLE;

			form = c ? edge_cases[row].relaxed : edge_cases[row].simple;
			(void)edge_body(row, body, sizeof(body), &cuts);
			assert_int_equal(EVP_Digest(form, strlen(form), want, &n,
			    EVP_sha256(), NULL), 1);
			body_hash(canon, body, &cuts, got);
			if (memcmp(got, want, sizeof(got)) != 0)
				fail_msg("%s, %s: hash is not of \"%s\"",
				    edge_cases[row].name, canon_name(canon),
				    escape((const unsigned char *)form, strlen(form)));
			if (body_count(canon, body, &cuts) != strlen(form))
				fail_msg("%s, %s: count is not %zu", edge_cases[row].name,
				    canon_name(canon), strlen(form));
		}
	}
}

/* sign_body_limit_hashes_a_prefix - per edge row and l= (0 to past the end): the hash is of the first l canonical bytes, the count of all */
static void
sign_body_limit_hashes_a_prefix(void **state)
{
	static struct cuts cuts;
	unsigned char body[256], got[SIGN_HASH_LEN], want[SIGN_HASH_LEN];
	const char *form;
	unsigned long long len;
	unsigned int n;
	size_t row, c, limit, flen;

	(void)state;
	for (row = 0; row < NELEM(edge_cases); row++) {
		for (c = 0; c < 2; c++) {
			enum sign_canon canon = c ? SIGN_CANON_RELAXED :
			    SIGN_CANON_SIMPLE;

			form = c ? edge_cases[row].relaxed : edge_cases[row].simple;
			flen = strlen(form);
			for (limit = 0; limit <= flen + 1; limit++) {
				(void)edge_body(row, body, sizeof(body), &cuts);
				assert_int_equal(EVP_Digest(form, limit < flen ? limit
				    : flen, want, &n, EVP_sha256(), NULL), 1);
				body_feed(sign_body_limit_new(canon, limit), body,
				    &cuts, got, &len);
				if (memcmp(got, want, sizeof(got)) != 0 || len != flen)
					fail_msg("%s, %s, l=%zu: not the prefix's hash,"
					    " or count %llu", edge_cases[row].name,
					    canon_name(canon), limit, len);
			}
		}
	}
}

/* sign_body_limit_on_long_bodies - random text bodies, random chunks, l= anywhere (runs hashed in place too) */
static void
sign_body_limit_on_long_bodies(void **state)
{
	static unsigned char body[MAX_BODY + 64], form[2 * (MAX_BODY + 64) + 2];
	static struct cuts cuts;
	unsigned char got[SIGN_HASH_LEN], want[SIGN_HASH_LEN];
	unsigned long long len;
	unsigned int n;
	size_t i, blen, flen, limit, c;

	(void)state;
	for (i = 0; i < 200; i++) {
		blen = gen_text(body);
		for (c = 0; c < 2; c++) {
			enum sign_canon canon = c ? SIGN_CANON_RELAXED :
			    SIGN_CANON_SIMPLE;

			flen = ref_canon(canon, body, blen, form);
			limit = rng_below(flen + 2);
			assert_int_equal(EVP_Digest(form, limit < flen ? limit : flen,
			    want, &n, EVP_sha256(), NULL), 1);
			cuts_random(&cuts, blen);
			body_feed(sign_body_limit_new(canon, limit), body, &cuts,
			    got, &len);
			if (memcmp(got, want, sizeof(got)) != 0 || len != flen)
				fail_msg("body %zu, %s, l=%zu of %zu: not the prefix's"
				    " hash, or count %llu", i, canon_name(canon), limit,
				    flen, len);
		}
	}
}

/* sign_body_matches_reference_at_every_word_offset - each kind of stop at each offset of a text line */
static void
sign_body_matches_reference_at_every_word_offset(void **state)
{
	static const char *const stops[] = {
		"  ", "\t", "\tx", " \t", "\t ", " \r\n", "\r\n", "\n", " \n", "\r",
		"\r\r\n", "\r\n\r\n", "\r\n \r\n", "\r\n\t", "\r\n  x", "\r\n x",
		" !", "!", "\x01", "\x01x", " \x01", "\x80", " \xff", "\x1f ", "\r\n\n",
		" ",
	};
	static struct cuts cuts;
	static const char tail[] = " tail words and more words here\r\n"
	    "next line of words\r\n\r\nafter a blank line\r\n";
	unsigned char body[256];
	char what[64];
	enum sign_canon canon;
	size_t s, k, len, cut, c;

	(void)state;
	for (s = 0; s < NELEM(stops); s++) {
		for (k = 0; k < 48; k++) {
			/* One byte of text first: runs start in a line. */
			len = 0;
			body[len++] = 'x';
			memset(body + len, 'a', k);
			len += k;
			memcpy(body + len, stops[s], strlen(stops[s]));
			len += strlen(stops[s]);
			memcpy(body + len, tail, sizeof(tail) - 1);
			len += sizeof(tail) - 1;
			assert_true(snprintf(what, sizeof(what), "stop %zu at %zu",
			    s, k) < (int)sizeof(what));
			for (c = 0; c < 2; c++) {
				canon = c ? SIGN_CANON_RELAXED : SIGN_CANON_SIMPLE;
				cuts_whole(&cuts, len);
				check_chunking(what, canon, body, len, &cuts);
				/* Cuts around the stop; the tail has its own tests. */
				for (cut = k; cut < k + strlen(stops[s]) + 4; cut++) {
					cuts.end[0] = cut;
					cuts.end[1] = len;
					cuts.n = 2;
					check_chunking(what, canon, body, len, &cuts);
				}
			}
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sign_body_reference_gives_edge_table_forms),
		cmocka_unit_test(sign_body_limit_hashes_a_prefix),
		cmocka_unit_test(sign_body_limit_on_long_bodies),
		cmocka_unit_test(sign_body_matches_reference_in_edge_cases),
		cmocka_unit_test(sign_body_count_equals_hash_form),
		cmocka_unit_test(sign_body_matches_reference_at_every_word_offset),
		cmocka_unit_test(sign_body_matches_reference_on_random_bodies),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
