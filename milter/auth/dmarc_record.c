/*
 * dmarc_record.c - DMARC policy records (RFC 7489, RFC 9989): parsing
 * with the RFCs' rules for invalid and repeated tags, and the names of
 * results and policies. Pure; no DNS.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/buf.h"
#include "auth/dmarc.h"
#include "base/xalloc.h"

enum dmarc_tag {
	T_V, T_P, T_SP, T_NP, T_ADKIM, T_ASPF, T_PCT, T_T, T_PSD, T_RUA, T_RUF,
	T_FO, T_RI, T_RF, T_COUNT
};

static const char *const dmarc_tag_names[T_COUNT] = {
	"v", "p", "sp", "np", "adkim", "aspf", "pct", "t", "psd", "rua", "ruf",
	"fo", "ri", "rf",
};

/* A piece of the record text. */
struct dmarc_span {
	const char *p;
	size_t n;
};

/* dmarc_result_name - registry name of a result */
const char *
dmarc_result_name(enum dmarc_result r)
{
	switch (r) {
	case DMARC_RESULT_NONE:		return "none";
	case DMARC_RESULT_PASS:		return "pass";
	case DMARC_RESULT_FAIL:		return "fail";
	case DMARC_RESULT_TEMPERROR:	return "temperror";
	case DMARC_RESULT_PERMERROR:	return "permerror";
	}
	return "permerror";
}

/* dmarc_policy_name - name of a policy value */
const char *
dmarc_policy_name(enum dmarc_policy p)
{
	switch (p) {
	case DMARC_POLICY_UNSET:	return "unset";
	case DMARC_POLICY_NONE:		return "none";
	case DMARC_POLICY_QUARANTINE:	return "quarantine";
	case DMARC_POLICY_REJECT:	return "reject";
	}
	return "unset";
}

/* dmarc_mode_parse - mode from its conf name */
int
dmarc_mode_parse(const char *s)
{
	if (s != NULL && strcasecmp(s, "rfc9989") == 0)
		return DMARC_MODE_RFC9989;
	if (s != NULL && strcasecmp(s, "rfc7489") == 0)
		return DMARC_MODE_RFC7489;
	return -1;
}

/* dmarc_mode_name - conf name of a mode */
const char *
dmarc_mode_name(enum dmarc_mode m)
{
	return m == DMARC_MODE_RFC7489 ? "rfc7489" : "rfc9989";
}

/* dmarc_record_init - every tag at its default */
void
dmarc_record_init(struct dmarc_record *r)
{
	memset(r, 0, sizeof(*r));
	r->p = r->sp = r->np = DMARC_POLICY_UNSET;
	r->adkim = r->aspf = DMARC_ALIGN_RELAXED;
	r->pct = 100;
	r->psd = DMARC_PSD_U;
	r->fo = DMARC_FO_0;
	r->ri = 86400;
}

/* dmarc_uris_free - release a URI list */
static void
dmarc_uris_free(char **v, size_t *n)
{
	size_t i;

	for (i = 0; i < *n; i++) {
		free(v[i]);
		v[i] = NULL;
	}
	*n = 0;
}

/* dmarc_record_free - release the strings and reset to defaults */
void
dmarc_record_free(struct dmarc_record *r)
{
	dmarc_uris_free(r->rua, &r->nrua);
	dmarc_uris_free(r->ruf, &r->nruf);
	dmarc_record_init(r);
}

/* dmarc_record_copy - deep copy */
void
dmarc_record_copy(struct dmarc_record *dst, const struct dmarc_record *src)
{
	size_t i;

	*dst = *src;
	for (i = 0; i < src->nrua; i++)
		dst->rua[i] = xstrdup(src->rua[i]);
	for (i = 0; i < src->nruf; i++)
		dst->ruf[i] = xstrdup(src->ruf[i]);
}

/* dmarc_wsp - WSP of RFC 5234 */
static int
dmarc_wsp(int c)
{
	return c == ' ' || c == '\t';
}

/* dmarc_trim - strip WSP at both ends */
static void
dmarc_trim(struct dmarc_span *s)
{
	while (s->n > 0 && dmarc_wsp((unsigned char)s->p[0])) {
		s->p++;
		s->n--;
	}
	while (s->n > 0 && dmarc_wsp((unsigned char)s->p[s->n - 1]))
		s->n--;
}

/* dmarc_ieq - span equals word, ASCII case-insensitively (ABNF literals) */
static int
dmarc_ieq(const struct dmarc_span *s, const char *word)
{
	size_t n = strlen(word);

	return s->n == n && strncasecmp(s->p, word, n) == 0;
}

/* dmarc_split_tag - "name = value" into trimmed name and value; -1 on bad syntax */
static int
dmarc_split_tag(const struct dmarc_span *seg, struct dmarc_span *name,
    struct dmarc_span *value)
{
	const char *eq = memchr(seg->p, '=', seg->n);
	size_t i;

	if (eq == NULL)
		return -1;
	name->p = seg->p;
	name->n = (size_t)(eq - seg->p);
	value->p = eq + 1;
	value->n = seg->n - name->n - 1;
	dmarc_trim(name);
	dmarc_trim(value);
	if (name->n == 0)
		return -1;
	for (i = 0; i < name->n; i++)
		if (!isalpha((unsigned char)name->p[i]))
			return -1;
	return 0;
}

/* dmarc_printable - every byte is dmarc-value (%x20-7E; ';' cannot occur) */
static int
dmarc_printable(const struct dmarc_span *v)
{
	size_t i;

	if (v->n == 0)
		return 0;
	for (i = 0; i < v->n; i++)
		if ((unsigned char)v->p[i] < 0x20 || (unsigned char)v->p[i] > 0x7e)
			return 0;
	return 1;
}

/* dmarc_parse_policy - none / quarantine / reject; UNSET if invalid */
static enum dmarc_policy
dmarc_parse_policy(const struct dmarc_span *v)
{
	if (dmarc_ieq(v, "none"))
		return DMARC_POLICY_NONE;
	if (dmarc_ieq(v, "quarantine"))
		return DMARC_POLICY_QUARANTINE;
	if (dmarc_ieq(v, "reject"))
		return DMARC_POLICY_REJECT;
	return DMARC_POLICY_UNSET;
}

/* dmarc_parse_number - 1..maxdigits DIGITs not above max; -1 if invalid */
static long
dmarc_parse_number(const struct dmarc_span *v, size_t maxdigits, long max)
{
	long n = 0;
	size_t i;

	if (v->n == 0 || v->n > maxdigits)
		return -1;
	for (i = 0; i < v->n; i++) {
		if (!isdigit((unsigned char)v->p[i]))
			return -1;
		n = n * 10 + (v->p[i] - '0');
	}
	return n <= max ? n : -1;
}

/* dmarc_uri_char - may c appear unencoded in a DMARC URI ("," and "!" may not) */
static int
dmarc_uri_char(int c)
{
	return isalnum(c) || strchr("-._~:/?#[]@$&'()*+;=", c) != NULL;
}

/*
 * dmarc_uri_len - length of a valid URI in s (obs "!size" cut off, its
 * bytes into *limit: RFC 7489's size limit of a report; 0 none); 0 if
 * invalid
 */
static size_t
dmarc_uri_len(const struct dmarc_span *s, unsigned long long *limit)
{
	const char *bang = NULL;
	size_t i, n = s->n, colon = 0;
	unsigned long long size = 0;
	int over = 0;

	for (i = 0; i < n; i++)
		if (s->p[i] == '!')
			bang = s->p + i;
	if (bang != NULL) {	/* obs-dmarc-report-size = "!" 1*DIGIT [k/m/g/t] */
		const char *q = bang + 1, *end = s->p + n;

		if (q == end || !isdigit((unsigned char)*q))
			return 0;
		while (q < end && isdigit((unsigned char)*q)) {
			if (size > (1ULL << 40))
				over = 1;	/* far beyond any mail: no limit */
			size = size * 10 + (unsigned)(*q - '0');
			q++;
		}
		if (q < end && strchr("kmgtKMGT", *q) != NULL) {
			switch (tolower((unsigned char)*q)) {
			case 't': size *= 1024; /* FALLTHROUGH */
			case 'g': size *= 1024; /* FALLTHROUGH */
			case 'm': size *= 1024; /* FALLTHROUGH */
			case 'k': size *= 1024; break;
			}
			q++;
		}
		if (q != end)
			return 0;
		n = (size_t)(bang - s->p);
		*limit = over ? 0 : size;
	}
	if (n == 0 || !isalpha((unsigned char)s->p[0]))
		return 0;
	for (i = 1; i < n && s->p[i] != ':'; i++)
		if (!isalnum((unsigned char)s->p[i]) && strchr("+-.", s->p[i]) == NULL)
			return 0;
	colon = i;
	if (colon >= n - 1)
		return 0;	/* no ':' or nothing after it */
	for (i = colon + 1; i < n; i++) {
		unsigned char c = (unsigned char)s->p[i];

		if (c == '%') {
			if (i + 2 >= n || !isxdigit((unsigned char)s->p[i + 1])
			    || !isxdigit((unsigned char)s->p[i + 2]))
				return 0;
			i += 2;
		} else if (c > 0x7e || !dmarc_uri_char(c))
			return 0;
	}
	return n;
}

/* dmarc_parse_uris - keep the syntactically valid URIs of a list (and their size limits, when limits is not NULL) */
static void
dmarc_parse_uris(const struct dmarc_span *v, char **out, size_t *nout,
    unsigned long long *limits)
{
	const char *p = v->p, *end = v->p + v->n, *comma;
	struct dmarc_span u;
	unsigned long long limit;
	size_t n;

	while (p < end) {
		comma = memchr(p, ',', (size_t)(end - p));
		u.p = p;
		u.n = comma ? (size_t)(comma - p) : (size_t)(end - p);
		p = comma ? comma + 1 : end;
		dmarc_trim(&u);
		limit = 0;
		n = dmarc_uri_len(&u, &limit);
		if (n > 0 && *nout < DMARC_URI_MAX) {
			if (limits != NULL)
				limits[*nout] = limit;
			out[(*nout)++] = xstrndup(u.p, n);
		}
	}
}

/* dmarc_parse_fo - colon-separated 0/1/d/s, 0 and 1 exclusive; 0 if invalid */
static unsigned
dmarc_parse_fo(const struct dmarc_span *v)
{
	const char *p = v->p, *end = v->p + v->n, *colon;
	struct dmarc_span w;
	unsigned fo = 0, bit;

	while (p <= end) {
		colon = memchr(p, ':', (size_t)(end - p));
		w.p = p;
		w.n = colon ? (size_t)(colon - p) : (size_t)(end - p);
		dmarc_trim(&w);
		if (dmarc_ieq(&w, "0"))
			bit = DMARC_FO_0;
		else if (dmarc_ieq(&w, "1"))
			bit = DMARC_FO_1;
		else if (dmarc_ieq(&w, "d"))
			bit = DMARC_FO_D;
		else if (dmarc_ieq(&w, "s"))
			bit = DMARC_FO_S;
		else
			return 0;
		if (fo & bit)
			return 0;
		fo |= bit;
		if (colon == NULL)
			break;
		p = colon + 1;
	}
	if ((fo & DMARC_FO_0) && (fo & DMARC_FO_1))
		return 0;
	return fo;
}

/* dmarc_set_policy - p/sp/np value, flagging bad ones */
static void
dmarc_set_policy(struct dmarc_record *r, int tag, const struct dmarc_span *v)
{
	enum dmarc_policy pol = dmarc_parse_policy(v);
	enum dmarc_policy *slot = tag == T_P ? &r->p : tag == T_SP ? &r->sp : &r->np;
	unsigned bad = tag == T_P ? DMARC_BAD_P : tag == T_SP ? DMARC_BAD_SP
	    : DMARC_BAD_NP;

	*slot = pol;
	if (pol == DMARC_POLICY_UNSET)
		r->bad |= bad;
}

/* dmarc_set_tag - store one valid-looking tag's value */
static void
dmarc_set_tag(struct dmarc_record *r, int tag, const struct dmarc_span *v)
{
	long n;

	switch (tag) {
	case T_P: case T_SP: case T_NP:
		dmarc_set_policy(r, tag, v);
		break;
	case T_ADKIM: case T_ASPF:
		if (dmarc_ieq(v, "s") || dmarc_ieq(v, "r")) {
			enum dmarc_align a = dmarc_ieq(v, "s") ? DMARC_ALIGN_STRICT
			    : DMARC_ALIGN_RELAXED;

			if (tag == T_ADKIM)
				r->adkim = a;
			else
				r->aspf = a;
		}
		break;
	case T_PCT:
		if ((n = dmarc_parse_number(v, 3, 100)) >= 0)
			r->pct = (int)n;
		break;
	case T_T:
		if (dmarc_ieq(v, "y") || dmarc_ieq(v, "n"))
			r->testing = dmarc_ieq(v, "y");
		break;
	case T_PSD:
		if (dmarc_ieq(v, "y"))
			r->psd = DMARC_PSD_Y;
		else if (dmarc_ieq(v, "n"))
			r->psd = DMARC_PSD_N;
		break;		/* "u" and invalid values: the default */
	case T_RUA:
		dmarc_parse_uris(v, r->rua, &r->nrua, r->rua_limit);
		break;
	case T_RUF:
		dmarc_parse_uris(v, r->ruf, &r->nruf, NULL);
		break;
	case T_FO:
		if ((r->fo = dmarc_parse_fo(v)) == 0)
			r->fo = DMARC_FO_0;
		break;
	case T_RI:
		if ((n = dmarc_parse_number(v, 10, 4294967295L)) >= 0)
			r->ri = (unsigned long)n;
		break;
	default:	/* v repeated, rf: nothing to keep */
		break;
	}
}

/* dmarc_apply_tag - one "name=value" after v=DMARC1 */
static void
dmarc_apply_tag(struct dmarc_record *r, const struct dmarc_span *name,
    const struct dmarc_span *value, unsigned *seen, unsigned *dup)
{
	int tag;

	for (tag = 0; tag < T_COUNT; tag++)
		if (dmarc_ieq(name, dmarc_tag_names[tag]))
			break;
	if (tag == T_COUNT)
		return;			/* unknown tags MUST be ignored */
	if (*seen & (1u << tag)) {
		/* RFC 6376 3.2: a repeated tag makes the whole tag-list invalid */
		*dup |= 1u << tag;
		return;
	}
	*seen |= 1u << tag;
	if (!dmarc_printable(value)) {
		if (tag == T_P || tag == T_SP || tag == T_NP)
			dmarc_set_policy(r, tag, value);	/* flags it bad */
		return;
	}
	dmarc_set_tag(r, tag, value);
}

/* dmarc_record_parse - a TXT record to a DMARC record; -1 if not one */
int
dmarc_record_parse(const char *txt, size_t len, struct dmarc_record *r)
{
	const char *p, *end, *semi;
	struct dmarc_span seg, name, value;
	unsigned seen = 1u << T_V, dup = 0;

	dmarc_record_init(r);
	/* the record starts with "v" (no leading blanks: RFC 7489 6.4) */
	if (txt == NULL || len == 0 || (txt[0] != 'v' && txt[0] != 'V'))
		return -1;
	end = txt + len;
	semi = memchr(txt, ';', len);
	seg.p = txt;
	seg.n = semi ? (size_t)(semi - txt) : len;
	if (dmarc_split_tag(&seg, &name, &value) != 0 || !dmarc_ieq(&name, "v")
	    || value.n != 6 || memcmp(value.p, "DMARC1", 6) != 0)
		return -1;	/* v=DMARC1 must come first; DMARC1 is case-sensitive */
	for (p = semi ? semi + 1 : end; p < end; ) {
		semi = memchr(p, ';', (size_t)(end - p));
		seg.p = p;
		seg.n = semi ? (size_t)(semi - p) : (size_t)(end - p);
		p = semi ? semi + 1 : end;
		dmarc_trim(&seg);
		if (seg.n == 0)
			continue;
		if (dmarc_split_tag(&seg, &name, &value) != 0)
			continue;	/* syntax errors are ignored */
		dmarc_apply_tag(r, &name, &value, &seen, &dup);
	}
	if (dup != 0) {
		dmarc_record_free(r);
		dmarc_record_init(r);
		return -1;
	}
	return 0;
}

