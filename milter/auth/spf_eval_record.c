/*
 * spf_eval_record.c - SPF record and term syntax (RFC 7208).
 *
 * See spf_eval_record.h. The grammar, from RFC 7208 4.5, 4.6.1, 5, 6:
 *   record    = version terms *SP
 *   version   = "v=spf1"
 *   terms     = *( 1*SP ( directive / modifier ) )
 *   directive = [ qualifier ] mechanism
 *   modifier  = redirect / explanation / unknown-modifier
 *   unknown-modifier = name "=" macro-string
 *   name      = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." )
 * A term that starts with a name and "=" is a modifier; anything else is
 * a directive, and a directive whose mechanism is unknown is an error.
 * Pure functions, no allocation.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "auth/spf_eval_macro.h"
#include "auth/spf_eval_record.h"

#define SPF_EVAL_TERM_SHOWN	64	/* octets of a bad term quoted in why */

/* The mechanisms, by name. */
static const struct {
	const char *name;
	enum spf_eval_kind kind;
} spf_eval_mechs[] = {
	{ "all", SPF_EVAL_ALL },
	{ "include", SPF_EVAL_INCLUDE },
	{ "a", SPF_EVAL_A },
	{ "mx", SPF_EVAL_MX },
	{ "ptr", SPF_EVAL_PTR },
	{ "ip4", SPF_EVAL_IP4 },
	{ "ip6", SPF_EVAL_IP6 },
	{ "exists", SPF_EVAL_EXISTS },
};

/* spf_eval_record_is_spf - "v=spf1" and a space or the end */
int
spf_eval_record_is_spf(const char *txt, size_t len)
{
	return len >= 6 && strncasecmp(txt, "v=spf1", 6) == 0 &&
	    (len == 6 || txt[6] == ' ');
}

/*
 * spf_eval_record_cidr - a CIDR length s[0..n): "0" or 1-3 digits without
 * a leading zero, at most max; -1 when it is not one
 */
static int
spf_eval_record_cidr(const char *s, size_t n, int max)
{
	int v = 0;
	size_t i;

	if (n == 0 || n > 3 || (n > 1 && s[0] == '0'))
		return -1;
	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v <= max ? v : -1;
}

/* spf_eval_record_ip4 - ip4-network s[0..n) (qnums, no leading zeros); 0/-1 */
static int
spf_eval_record_ip4(const char *s, size_t n, unsigned char *net)
{
	size_t i = 0, start;
	int part, v;

	for (part = 0; part < 4; part++) {
		if (part > 0) {
			if (i >= n || s[i] != '.')
				return -1;
			i++;
		}
		/* at most 4 digits are summed: a long run cannot overflow v */
		for (start = i, v = 0; i < n && isdigit((unsigned char)s[i]); i++)
			if (i - start < 4)
				v = v * 10 + (s[i] - '0');
		if (i == start || i - start > 3 || v > 255 ||
		    (i - start > 1 && s[start] == '0'))
			return -1;
		net[part] = (unsigned char)v;
	}
	return i == n ? 0 : -1;
}

/* spf_eval_record_ip6 - ip6-network s[0..n) (RFC 4291 text); 0/-1 */
static int
spf_eval_record_ip6(const char *s, size_t n, unsigned char *net)
{
	char tmp[INET6_ADDRSTRLEN];
	size_t i;

	if (n == 0 || n >= sizeof(tmp))
		return -1;
	for (i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]) && s[i] != ':' && s[i] != '.')
			return -1;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	return inet_pton(AF_INET6, tmp, net) == 1 ? 0 : -1;
}

/* spf_eval_record_ip - "ip4:" / "ip6:" rest s[0..n) into t; 0, or -1 with why */
static int
spf_eval_record_ip(const char *s, size_t n, struct spf_eval_term *t,
    char *why, size_t whylen)
{
	const char *slash;
	size_t netlen;
	int v4 = t->kind == SPF_EVAL_IP4;

	if (n < 2 || s[0] != ':') {
		(void)snprintf(why, whylen, "no network");
		return -1;
	}
	s++;
	n--;
	slash = memchr(s, '/', n);
	netlen = slash != NULL ? (size_t)(slash - s) : n;
	if ((v4 ? spf_eval_record_ip4(s, netlen, t->net)
	    : spf_eval_record_ip6(s, netlen, t->net)) < 0) {
		(void)snprintf(why, whylen, "bad %s network", v4 ? "ip4" : "ip6");
		return -1;
	}
	if (slash == NULL)
		return 0;
	if (v4)
		t->cidr4 = spf_eval_record_cidr(slash + 1, n - netlen - 1, 32);
	else
		t->cidr6 = spf_eval_record_cidr(slash + 1, n - netlen - 1, 128);
	if ((v4 ? t->cidr4 : t->cidr6) < 0) {
		(void)snprintf(why, whylen, "bad CIDR length");
		return -1;
	}
	return 0;
}

/*
 * spf_eval_record_dual_cidr - take dual-cidr-length ("/N", "//M" or
 * "/N//M") off the end of s[0..*n) into t; 0, or -1 with why when one is
 * there but out of range
 */
static int
spf_eval_record_dual_cidr(const char *s, size_t *n, struct spf_eval_term *t,
    char *why, size_t whylen)
{
	size_t e = *n, j;

	for (j = e; j > 0 && isdigit((unsigned char)s[j - 1]); j--)
		;
	if (j < e && j >= 2 && s[j - 1] == '/' && s[j - 2] == '/') {
		t->cidr6 = spf_eval_record_cidr(s + j, e - j, 128);
		if (t->cidr6 < 0) {
			(void)snprintf(why, whylen, "bad ip6 CIDR length");
			return -1;
		}
		e = j - 2;
	}
	for (j = e; j > 0 && isdigit((unsigned char)s[j - 1]); j--)
		;
	if (j < e && j >= 1 && s[j - 1] == '/' && (j < 2 || s[j - 2] != '/')) {
		t->cidr4 = spf_eval_record_cidr(s + j, e - j, 32);
		if (t->cidr4 < 0) {
			(void)snprintf(why, whylen, "bad ip4 CIDR length");
			return -1;
		}
		e = j - 1;
	}
	*n = e;
	return 0;
}

/*
 * spf_eval_record_target - the optional (need 0) or required (need 1)
 * ":" domain-spec of s[0..n) into t; 0, or -1 with why
 */
static int
spf_eval_record_target(const char *s, size_t n, int need,
    struct spf_eval_term *t, char *why, size_t whylen)
{
	if (n == 0 && !need)
		return 0;
	if (n == 0 || s[0] != ':') {
		(void)snprintf(why, whylen, n == 0 ? "no domain-spec"
		    : "junk after the mechanism name");
		return -1;
	}
	t->spec = s + 1;
	t->speclen = n - 1;
	return spf_eval_macro_check(t->spec, t->speclen, SPF_EVAL_MACRO_DOMAIN,
	    why, whylen);
}

/* spf_eval_record_modifier - name "=" value, the name k octets long */
static int
spf_eval_record_modifier(const char *s, size_t n, size_t k,
    struct spf_eval_term *t, char *why, size_t whylen)
{
	int flags = SPF_EVAL_MACRO_DOMAIN;

	if (k == 8 && strncasecmp(s, "redirect", 8) == 0)
		t->kind = SPF_EVAL_REDIRECT;
	else if (k == 3 && strncasecmp(s, "exp", 3) == 0)
		t->kind = SPF_EVAL_EXP;
	else {
		t->kind = SPF_EVAL_MODIFIER;
		flags = 0;
	}
	t->spec = s + k + 1;
	t->speclen = n - k - 1;
	return spf_eval_macro_check(t->spec, t->speclen, flags, why, whylen);
}

/* spf_eval_record_mech - which mechanism s[0..n) names; -1: none */
static int
spf_eval_record_mech(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < sizeof(spf_eval_mechs) / sizeof(spf_eval_mechs[0]); i++)
		if (strlen(spf_eval_mechs[i].name) == n &&
		    strncasecmp(spf_eval_mechs[i].name, s, n) == 0)
			return (int)spf_eval_mechs[i].kind;
	return -1;
}

/* spf_eval_record_term - parse term s[0..n) into t; 0, or -1 with why */
static int
spf_eval_record_term(const char *s, size_t n, struct spf_eval_term *t,
    char *why, size_t whylen)
{
	size_t i = 0, k;
	int kind;

	memset(t, 0, sizeof(*t));
	t->text = s;
	t->len = n;
	t->qual = SPF_RES_PASS;
	t->cidr4 = 32;
	t->cidr6 = 128;
	if (isalpha((unsigned char)s[0])) {
		for (k = 1; k < n && (isalnum((unsigned char)s[k]) ||
		    s[k] == '-' || s[k] == '_' || s[k] == '.'); k++)
			;
		if (k < n && s[k] == '=')
			return spf_eval_record_modifier(s, n, k, t, why, whylen);
	}
	switch (s[0]) {
	case '+': t->qual = SPF_RES_PASS; i = 1; break;
	case '-': t->qual = SPF_RES_FAIL; i = 1; break;
	case '~': t->qual = SPF_RES_SOFTFAIL; i = 1; break;
	case '?': t->qual = SPF_RES_NEUTRAL; i = 1; break;
	}
	for (k = i; k < n && isalnum((unsigned char)s[k]); k++)
		;
	if ((kind = spf_eval_record_mech(s + i, k - i)) < 0) {
		(void)snprintf(why, whylen, "unknown mechanism");
		return -1;
	}
	t->kind = (enum spf_eval_kind)kind;
	s += k;
	n -= k;
	switch (t->kind) {
	case SPF_EVAL_ALL:
		if (n == 0)
			return 0;
		(void)snprintf(why, whylen, "junk after \"all\"");
		return -1;
	case SPF_EVAL_INCLUDE:
	case SPF_EVAL_EXISTS:
		return spf_eval_record_target(s, n, 1, t, why, whylen);
	case SPF_EVAL_PTR:
		return spf_eval_record_target(s, n, 0, t, why, whylen);
	case SPF_EVAL_A:
	case SPF_EVAL_MX:
		if (spf_eval_record_dual_cidr(s, &n, t, why, whylen) < 0)
			return -1;
		return spf_eval_record_target(s, n, 0, t, why, whylen);
	default:		/* ip4, ip6 */
		return spf_eval_record_ip(s, n, t, why, whylen);
	}
}

/* spf_eval_record_next - the next term */
int
spf_eval_record_next(const char *rec, size_t len, size_t *pos,
    struct spf_eval_term *t, char *why, size_t whylen)
{
	char detail[SPF_EVAL_TERM_SHOWN * 2];
	size_t i = *pos > 6 ? *pos : 6, e, shown;

	while (i < len && rec[i] == ' ')
		i++;
	if (i >= len) {
		*pos = len;
		return 0;
	}
	for (e = i; e < len && rec[e] != ' '; e++)
		;
	*pos = e;
	if (spf_eval_record_term(rec + i, e - i, t, detail, sizeof(detail)) == 0)
		return 1;
	shown = e - i > SPF_EVAL_TERM_SHOWN ? SPF_EVAL_TERM_SHOWN : e - i;
	(void)snprintf(why, whylen, "%s in \"%.*s%s\"", detail, (int)shown,
	    rec + i, shown < e - i ? "..." : "");
	return -1;
}

/* spf_eval_record_check - the whole record's syntax */
int
spf_eval_record_check(const char *rec, size_t len,
    struct spf_eval_record_info *info, char *why, size_t whylen)
{
	struct spf_eval_term t;
	size_t pos = 0, i;
	int rc;

	memset(info, 0, sizeof(*info));
	if (len > SPF_EVAL_RECORD_MAX) {
		(void)snprintf(why, whylen, "record of %zu octets, over %d", len,
		    SPF_EVAL_RECORD_MAX);
		return -1;
	}
	if (!spf_eval_record_is_spf(rec, len)) {
		(void)snprintf(why, whylen, "not an SPF record");
		return -1;
	}
	for (i = 0; i < len; i++)
		if ((unsigned char)rec[i] < 0x20 || (unsigned char)rec[i] > 0x7e) {
			(void)snprintf(why, whylen, "character 0x%02x at offset "
			    "%zu", (unsigned char)rec[i], i);
			return -1;
		}
	while ((rc = spf_eval_record_next(rec, len, &pos, &t, why, whylen)) > 0) {
		if (++info->nterms > SPF_EVAL_TERMS_MAX) {
			(void)snprintf(why, whylen, "more than %d terms",
			    SPF_EVAL_TERMS_MAX);
			return -1;
		}
		if (t.kind == SPF_EVAL_ALL)
			info->has_all = 1;
		else if ((t.kind == SPF_EVAL_REDIRECT && info->has_redirect) ||
		    (t.kind == SPF_EVAL_EXP && info->has_exp)) {
			(void)snprintf(why, whylen, "%s= given twice",
			    t.kind == SPF_EVAL_EXP ? "exp" : "redirect");
			return -1;
		} else if (t.kind == SPF_EVAL_REDIRECT) {
			info->has_redirect = 1;
			info->redirect = t;
		} else if (t.kind == SPF_EVAL_EXP)
			info->has_exp = 1;
	}
	return rc;
}
