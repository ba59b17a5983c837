/*
 * sign_body.c - the streaming DKIM body hash (RFC 6376 3.4.3, 3.4.4, 3.7)
 * of the signer and the verifier (see sign.h).
 *
 * Body canonicalization (simple, relaxed) streams into SHA-256. Text that
 * is canonical already (the usual case: words, single spaces, CRLF) is
 * found a word at a time and hashed as it is, in place or through a small
 * staging buffer; the rest goes byte by byte through a line state machine.
 * A run of empty lines is held back as a count, never as bytes, so memory
 * stays constant whatever the body and its chunking. With a limit (l=),
 * only the first canonical bytes reach the digest; all are counted.
 *
 * Threading: a struct sign_body belongs to one message; no shared state
 * (the SHA-256 implementation is sign.c's, fetched once).
 */
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "auth/sign.h"
#include "base/xalloc.h"

#define SIGN_STAGE_LEN	4096	/* bytes collected before each digest update */
#define SIGN_DIRECT_LEN	1024	/* canonical runs this long skip the stage */
#define SIGN_WORD_ONES	0x0101010101010101ULL	/* 0x01 in each byte of a word */
#define SIGN_WORD_HIGHS	0x8080808080808080ULL	/* 0x80 in each byte of a word */

/* Streaming body hash (or count) state. */
struct sign_body {
	EVP_MD_CTX *md;			/* SHA-256 of the canonical body; NULL:
					 * count only (owned) */
	unsigned long long len;		/* canonical bytes hashed or counted */
	unsigned long long limit;	/* hash only this many (l=); the count
					 * goes on past it */
	unsigned long long hashed;	/* canonical bytes given to the digest */
	enum sign_canon canon;		/* simple or relaxed */
	int failed;			/* a digest call failed; sticky */
	int done;			/* sign_body_final was called */
	int cr;				/* last byte was a CR not yet paired */
	int inline_;			/* current line has produced output */
	int wsp;			/* relaxed: WSP run pending in the line */
	int emitted;			/* anything at all was hashed */
	unsigned long long blanks;	/* empty lines held back */
	size_t nstage;			/* bytes used in stage */
	unsigned char stage[SIGN_STAGE_LEN];	/* output not yet hashed */
};
/* sign_body_is_wsp - SP or HTAB (RFC 5234 WSP) */
static int
sign_body_is_wsp(int c)
{
	return c == ' ' || c == '\t';
}

/* sign_body_digest - hash canonical bytes, up to the limit */
static void
sign_body_digest(struct sign_body *sb, const unsigned char *p, size_t n)
{
	sb->len += n;
	if (sb->md == NULL || sb->failed || sb->hashed >= sb->limit)
		return;
	if (n > sb->limit - sb->hashed)
		n = (size_t)(sb->limit - sb->hashed);
	sb->hashed += n;
	if (n > 0 && EVP_DigestUpdate(sb->md, p, n) != 1)
		sb->failed = 1;
}

/* sign_body_flush - hash (or count) the staged bytes */
static void
sign_body_flush(struct sign_body *sb)
{
	sign_body_digest(sb, sb->stage, sb->nstage);
	sb->nstage = 0;
}

/* sign_body_room - make room in the stage for n more bytes (n is small) */
static void
sign_body_room(struct sign_body *sb, size_t n)
{
	if (sizeof(sb->stage) - sb->nstage < n)
		sign_body_flush(sb);
}

/* sign_body_crlf - append CRLF to the hash input */
static void
sign_body_crlf(struct sign_body *sb)
{
	sign_body_room(sb, 2);
	sb->stage[sb->nstage++] = '\r';
	sb->stage[sb->nstage++] = '\n';
	sb->emitted = 1;
}

/* sign_body_append - append canonical bytes to the hash input; long runs are hashed in place */
static void
sign_body_append(struct sign_body *sb, const unsigned char *p, size_t n)
{
	if (n == 0)
		return;
	sb->emitted = 1;
	if (n >= SIGN_DIRECT_LEN) {
		sign_body_flush(sb);		/* staged bytes come first */
		sign_body_digest(sb, p, n);
		return;
	}
	if (n > sizeof(sb->stage) - sb->nstage)
		sign_body_flush(sb);
	memcpy(sb->stage + sb->nstage, p, n);
	sb->nstage += n;
}

/* sign_body_relaxed_stop - may relaxed canonicalization change p[i] (or can it not tell yet)? */
static int
sign_body_relaxed_stop(const unsigned char *p, size_t i, size_t n)
{
	int c = p[i];

	if (c == '\t' || c == '\r' || c == '\n')
		return 1;
	if (c != ' ')
		return 0;
	/* One SP before other text is canonical already. */
	if (i + 1 == n)
		return 1;
	c = p[i + 1];
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* sign_body_simple_stop - is p[i] a bare LF, or a CR before an LF or at the chunk end? */
static int
sign_body_simple_stop(const unsigned char *p, size_t i, size_t n)
{
	return p[i] == '\n' || (p[i] == '\r' && (i + 1 == n || p[i + 1] == '\n'));
}

/* sign_body_word_flags - flag bytes of the word at p that may be relaxed stops (reads p[8]) */
static uint64_t
sign_body_word_flags(const unsigned char *p)
{
	uint64_t x, y;

	memcpy(&x, p, sizeof(x));
	memcpy(&y, p + 1, sizeof(y));	/* each byte's successor */

	/*
	 * Flag each byte below 0x20 (HTAB, CR, LF; other controls cost a
	 * second look only), or at most 0x20 with a successor at most 0x20
	 * (SP before WSP, CR or LF). (v - k * ONES) & ~v & HIGHS sets the top
	 * bit of every byte of v below k (k <= 0x80), and through a borrow
	 * maybe that of the next more significant byte too: never a miss,
	 * seldom a false alarm. The caller masks with HIGHS.
	 */
	return ((x - 0x20 * SIGN_WORD_ONES) | ((x - 0x21 * SIGN_WORD_ONES) &
	    (y - 0x21 * SIGN_WORD_ONES) & ~y)) & ~x;
}

/* sign_body_first_flag - memory index of the first flagged byte of a nonzero flag word */
static size_t
sign_body_first_flag(uint64_t m)
{
	unsigned char b[sizeof(m)];
	size_t k;

	memcpy(b, &m, sizeof(m));	/* memory order, whatever the byte order */
	for (k = 0; b[k] == 0; k++)
		;
	return k;
}

/* sign_body_crlf_end - index after the CRLF pairs starting at p[i] */
static size_t
sign_body_crlf_end(const unsigned char *p, size_t i, size_t n)
{
	while (n - i >= 2 && p[i] == '\r' && p[i + 1] == '\n')
		i += 2;
	return i;
}

/* sign_body_skip_text - from p[i], index of the first flagged byte, or one among the last 16 */
static size_t
sign_body_skip_text(const unsigned char *p, size_t i, size_t n)
{
	const size_t half = sizeof(uint64_t);
	uint64_t m0, m1;

	/* Two words at a time while they and one more byte are in p. */
	for (; n > 2 * half && i < n - 2 * half; i += 2 * half) {
		m0 = sign_body_word_flags(p + i) & SIGN_WORD_HIGHS;
		m1 = sign_body_word_flags(p + i + half) & SIGN_WORD_HIGHS;
		if ((m0 | m1) != 0)
			return i + (m0 != 0 ? sign_body_first_flag(m0) :
			    half + sign_body_first_flag(m1));
	}
	return i;
}

/*
 * sign_body_run_relaxed - length of the prefix of p that relaxed
 * canonicalization leaves as it is, for a line that has output and no WSP
 * or CR pending. It takes CRLF line ends and CRLF empty lines when a line
 * that starts with text follows them in p, and it ends before a stop, never
 * after a WSP or a line end: the line state after it is the state before.
 */
static size_t
sign_body_run_relaxed(const unsigned char *p, size_t n)
{
	size_t i = 0, j;

	if (p[0] <= ' ' && sign_body_relaxed_stop(p, 0, n))
		return 0;			/* a short cut for WSP-rich bodies */
	for (;;) {
		i = sign_body_skip_text(p, i, n);
		if (i == n)
			return n;
		if (p[i] == '\r') {
			j = sign_body_crlf_end(p, i, n);
			if (j == i || j == n || (p[j] <= ' ' &&
			    sign_body_relaxed_stop(p, j, n)))
				return i;	/* bare CR, or no text after CRLF */
			i = j;
		} else if (sign_body_relaxed_stop(p, i, n)) {
			return i;
		} else {
			i++;			/* false alarm, or the tail */
		}
	}
}

/* sign_body_run_simple - as sign_body_run_relaxed, for simple canonicalization */
static size_t
sign_body_run_simple(const unsigned char *p, size_t n)
{
	const unsigned char *lf;
	size_t i = 0, j;

	for (;;) {
		/* Only a line end, or a CR at the chunk end, can stop a run. */
		lf = memchr(p + i, '\n', n - i);
		if (lf == NULL)
			return p[n - 1] == '\r' ? n - 1 : n;
		i = (size_t)(lf - p);
		if (i == 0 || p[i - 1] != '\r')
			return i;		/* bare LF */
		i--;
		j = sign_body_crlf_end(p, i, n);
		if (j == n || sign_body_simple_stop(p, j, n))
			return i;
		i = j;
	}
}

/* sign_body_text - one byte of line content (not a line end) */
static void
sign_body_text(struct sign_body *sb, int c)
{
	if (sb->canon == SIGN_CANON_RELAXED && sign_body_is_wsp(c)) {
		sb->wsp = 1;		/* collapsed, or dropped at line end */
		return;
	}
	if (!sb->inline_) {
		/* Empty lines followed by content are not trailing: release. */
		for (; sb->blanks > 0; sb->blanks--)
			sign_body_crlf(sb);
		sb->inline_ = 1;
	}
	sign_body_room(sb, 2);
	if (sb->wsp) {
		sb->stage[sb->nstage++] = ' ';
		sb->wsp = 0;
	}
	sb->stage[sb->nstage++] = (unsigned char)c;
	sb->emitted = 1;
}

/* sign_body_eol - a line ended: emit CRLF, or count it if it was empty */
static void
sign_body_eol(struct sign_body *sb)
{
	if (sb->inline_) {
		sign_body_crlf(sb);
		sb->inline_ = 0;
	} else if (sb->blanks < ULLONG_MAX) {
		sb->blanks++;
	} else {
		sb->failed = 1;		/* 2^64 empty lines: not a real body */
	}
	sb->wsp = 0;
}

/* sign_body_blank_lines - at a line start, count the empty lines at p; returns the bytes they take */
static size_t
sign_body_blank_lines(struct sign_body *sb, const unsigned char *p, size_t n)
{
	unsigned long long k = 0;
	size_t i = 0;

	for (;; k++) {
		if (i < n && p[i] == '\n')
			i++;			/* bare LF counts as CRLF */
		else if (n - i >= 2 && p[i] == '\r' && p[i + 1] == '\n')
			i += 2;
		else
			break;
	}
	if (k > 0) {
		sb->wsp = 0;		/* the line had WSP only */
		if (k > ULLONG_MAX - sb->blanks) {
			sb->blanks = ULLONG_MAX;
			sb->failed = 1;	/* as in sign_body_eol */
		} else {
			sb->blanks += k;
		}
	}
	return i;
}

/* sign_body_wsp_run - relaxed: take the WSP at p, to become one SP or nothing; returns its length */
static size_t
sign_body_wsp_run(struct sign_body *sb, const unsigned char *p, size_t n)
{
	size_t i = 0;

	while (i < n && sign_body_is_wsp(p[i]))
		i++;
	if (i > 0)
		sb->wsp = 1;
	return i;
}

/* sign_body_byte - one body byte through the line state machine */
static void
sign_body_byte(struct sign_body *sb, int c)
{
	if (sb->cr) {
		sb->cr = 0;
		if (c == '\n') {
			sign_body_eol(sb);
			return;
		}
		sign_body_text(sb, '\r');	/* bare CR is content */
	}
	if (c == '\r')
		sb->cr = 1;
	else if (c == '\n')
		sign_body_eol(sb);		/* bare LF counts as CRLF */
	else
		sign_body_text(sb, c);
}
/* sign_body_count_new - the same canonicalization, counting bytes instead of hashing them */
struct sign_body *
sign_body_count_new(enum sign_canon canon)
{
	struct sign_body *sb;

	/* The stage needs no zeroing: it is written before it is read. */
	sb = xmalloc(sizeof(*sb));
	memset(sb, 0, offsetof(struct sign_body, stage));
	sb->canon = canon;
	sb->limit = ULLONG_MAX;
	return sb;
}

/* sign_body_new - start a streaming body hash with the given canonicalization */
struct sign_body *
sign_body_new(enum sign_canon canon)
{
	struct sign_body *sb = sign_body_count_new(canon);

	sb->md = EVP_MD_CTX_new();
	if (sb->md == NULL || EVP_DigestInit_ex(sb->md, sign_sha256(), NULL) != 1) {
		ERR_clear_error();
		sign_body_free(sb);
		return NULL;
	}
	return sb;
}

/* sign_body_limit_new - a body hash over the first limit canonical bytes (l=) */
struct sign_body *
sign_body_limit_new(enum sign_canon canon, unsigned long long limit)
{
	struct sign_body *sb = sign_body_new(canon);

	if (sb != NULL)
		sb->limit = limit;
	return sb;
}

/* sign_body_length - canonical bytes so far (all of them after sign_body_final) */
unsigned long long
sign_body_length(const struct sign_body *sb)
{
	return sb->len;
}

/* sign_body_update - feed body bytes in any chunking; returns 0, -1 on error */
int
sign_body_update(struct sign_body *sb, const unsigned char *data, size_t len)
{
	size_t i = 0, run;

	if (sb == NULL || sb->done || (data == NULL && len > 0))
		return -1;
	while (i < len) {
		/* What can be taken in bulk is; then one byte the slow way. */
		if (!sb->cr) {
			if (sb->inline_ && !sb->wsp) {
				run = sb->canon == SIGN_CANON_RELAXED ?
				    sign_body_run_relaxed(data + i, len - i) :
				    sign_body_run_simple(data + i, len - i);
				sign_body_append(sb, data + i, run);
				i += run;
			} else if (!sb->inline_) {
				i += sign_body_blank_lines(sb, data + i, len - i);
			}
			if (sb->canon == SIGN_CANON_RELAXED)
				i += sign_body_wsp_run(sb, data + i, len - i);
			if (i == len)
				break;
		}
		sign_body_byte(sb, data[i++]);
	}
	return sb->failed ? -1 : 0;
}

/* sign_body_final - finish and write the SHA-256 body hash; returns 0 or -1 */
int
sign_body_final(struct sign_body *sb, unsigned char bh[SIGN_HASH_LEN])
{
	unsigned int n = 0;

	if (sb == NULL || sb->done)
		return -1;
	sb->done = 1;
	if (sb->cr)
		sign_body_text(sb, '\r');
	/* An unterminated last line gets its CRLF; trailing empty lines go. */
	if (sb->inline_)
		sign_body_crlf(sb);
	/* RFC 6376 3.4.3: an empty body is one CRLF under simple only. */
	if (sb->canon == SIGN_CANON_SIMPLE && !sb->emitted)
		sign_body_crlf(sb);
	sign_body_flush(sb);
	if (sb->md == NULL || bh == NULL)
		return sb->failed ? -1 : 0;	/* counted only */
	if (sb->failed || EVP_DigestFinal_ex(sb->md, bh, &n) != 1 ||
	    n != SIGN_HASH_LEN) {
		ERR_clear_error();
		return -1;
	}
	return 0;
}

/* sign_body_free - release the hash state (NULL is fine) */
void
sign_body_free(struct sign_body *sb)
{
	if (sb == NULL)
		return;
	EVP_MD_CTX_free(sb->md);
	free(sb);
}
