/*
 * spf_eval.c - check_host() of RFC 7208 over a DNS lookup function.
 *
 * See spf_eval.h. One struct spf_eval_state per identity check, on the
 * caller's stack: the counters the limits need, the validated PTR names
 * of the client (looked up once, for ptr and %{p}), and the first error.
 * A limit hit or the deadline records a stop; from then on every lookup
 * is refused and the evaluation unwinds with permerror (temperror for the
 * deadline). spf_eval_host() is called again for include and redirect,
 * each call counted as a DNS-querying term first, so nesting is bounded
 * by max_terms (and SPF_EVAL_DEPTH_MAX whatever the options say).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/buf.h"
#include "base/dns.h"
#include "base/log.h"
#include "auth/spf_eval.h"
#include "auth/spf_eval_macro.h"
#include "auth/spf_eval_record.h"
#include "base/xalloc.h"

#define SPF_EVAL_DEFAULT_TERMS	10	/* RFC 7208 4.6.4 */
#define SPF_EVAL_DEFAULT_VOID	2	/* RFC 7208 4.6.4 */
#define SPF_EVAL_DEPTH_MAX	32	/* include/redirect nesting, at most */

/* The client's validated PTR names (RFC 7208 5.5), looked up once. */
struct spf_eval_ptr {
	int done;			/* looked up (or given up) */
	int n;				/* names in names */
	char names[SPF_EVAL_NAMES_MAX][SPF_EVAL_NAME_MAX + 1];
};

struct spf_eval_state {
	const struct spf_eval_options *opt;	/* borrowed */
	const struct spf_eval_request *req;	/* borrowed */
	struct spf_eval_result *out;		/* counters, stop, why */
	int max_terms;
	int max_void;				/* -1: no limit */
	char local[SPF_EVAL_SENDER_MAX];	/* %{l} */
	const char *sender_domain;		/* %{o} (borrows req->sender) */
	enum spf_res err;			/* result of the failed step */
	struct spf_eval_ptr ptr;
};

/* spf_eval_stop_name - a stop reason's name */
const char *
spf_eval_stop_name(enum spf_eval_stop s)
{
	switch (s) {
	case SPF_EVAL_STOP_NONE:	return "none";
	case SPF_EVAL_STOP_TERMS:	return "terms";
	case SPF_EVAL_STOP_VOID:	return "void";
	case SPF_EVAL_STOP_MXNAMES:	return "mx-names";
	case SPF_EVAL_STOP_DEPTH:	return "depth";
	case SPF_EVAL_STOP_BUDGET:	return "budget";
	}
	return "?";
}

/* spf_eval_fail - the step fails with res; the first reason is kept; -1 */
static int __attribute__((format(printf, 3, 4)))
spf_eval_fail(struct spf_eval_state *st, enum spf_res res, const char *fmt, ...)
{
	va_list ap;

	st->err = res;
	if (st->out->why[0] == '\0') {
		va_start(ap, fmt);
		(void)vsnprintf(st->out->why, sizeof(st->out->why), fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* spf_eval_stopped - record the first limit hit (at name); -1 */
static int
spf_eval_stopped(struct spf_eval_state *st, enum spf_eval_stop why,
    const char *name)
{
	if (st->out->stop == SPF_EVAL_STOP_NONE) {
		st->out->stop = why;
		(void)snprintf(st->out->stop_name, sizeof(st->out->stop_name),
		    "%s", name);
	}
	st->err = st->out->stop == SPF_EVAL_STOP_BUDGET ? SPF_RES_TEMPERROR
	    : SPF_RES_PERMERROR;
	return -1;
}

/*
 * spf_eval_remaining - ms left before the deadline, rounded up: 0 exactly
 * when it has passed, as spf.c sees it before an identity starts
 */
static long
spf_eval_remaining(const struct spf_eval_state *st)
{
	struct timespec now;
	long long ns;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ns = (long long)(st->opt->deadline.tv_sec - now.tv_sec) * 1000000000LL +
	    (st->opt->deadline.tv_nsec - now.tv_nsec);
	return ns <= 0 ? 0 : (long)((ns + 999999) / 1000000);
}

/*
 * spf_eval_query - one DNS query within the budget into r (always filled,
 * free it); 0, or -1 when stopped (a limit hit earlier, or the deadline)
 */
static int
spf_eval_query(struct spf_eval_state *st, const char *name, int type,
    struct dns_result *r)
{
	long left;
	int timeout;

	memset(r, 0, sizeof(*r));
	r->status = DNS_TEMPFAIL;
	if (st->out->stop != SPF_EVAL_STOP_NONE)
		return -1;
	left = spf_eval_remaining(st);
	if (left <= 0)
		return spf_eval_stopped(st, SPF_EVAL_STOP_BUDGET, name);
	if (left > INT_MAX)
		left = INT_MAX;
	timeout = st->opt->query_timeout_ms > 0 && left >=
	    st->opt->query_timeout_ms ? 0 : (int)left;
	st->out->queries++;
	st->opt->lookup(st->opt->lookup_arg, name, type, timeout, r);
	log_debug(st->opt->qid, "spf: %s/%d: %s, %zu records", name, type,
	    dns_status_name(r->status), r->n);
	if ((r->status == DNS_TEMPFAIL || r->status == DNS_BOGUS) &&
	    spf_eval_remaining(st) <= 0)
		return spf_eval_stopped(st, SPF_EVAL_STOP_BUDGET, name);
	return 0;
}

/* spf_eval_void - count a void lookup of name; -1 over the limit */
static int
spf_eval_void(struct spf_eval_state *st, const char *name)
{
	if (++st->out->voids > st->max_void && st->max_void >= 0)
		return spf_eval_stopped(st, SPF_EVAL_STOP_VOID, name);
	return 0;
}

/* spf_eval_count - count a DNS-querying term; -1 over the limit */
static int
spf_eval_count(struct spf_eval_state *st, const struct spf_eval_term *t)
{
	char name[80];

	if (++st->out->terms <= st->max_terms)
		return 0;
	(void)snprintf(name, sizeof(name), "%.*s", (int)(t->len < 64 ? t->len
	    : 64), t->text);
	return spf_eval_stopped(st, SPF_EVAL_STOP_TERMS, name);
}

/*
 * spf_eval_name_ok - can name be asked for: 1 to 253 octets in labels of
 * 1 to 63 (RFC 7208 4.3, 4.8)? Other names match nothing.
 */
static int
spf_eval_name_ok(const char *name)
{
	size_t len = strlen(name), label = 0, i;

	if (len == 0 || len > SPF_EVAL_NAME_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		if (name[i] != '.') {
			if (++label > 63)
				return 0;
		} else if (label == 0)
			return 0;
		else
			label = 0;
	}
	return label > 0;
}

/*
 * spf_eval_wire_name - the uncompressed wire name p[0..len) as text into
 * out; -1 when malformed or holding octets text would misread
 */
static int
spf_eval_wire_name(const unsigned char *p, size_t len, char *out,
    size_t outlen)
{
	const unsigned char *end = p + len;
	size_t o = 0, n;

	while (p < end && *p != 0) {
		n = *p++;
		if (n > 63 || n > (size_t)(end - p) || o + n + 2 > outlen)
			return -1;
		if (o > 0)
			out[o++] = '.';
		for (; n > 0; n--, p++) {
			if (*p < 0x20 || *p > 0x7e || *p == '.')
				return -1;
			out[o++] = (char)*p;
		}
	}
	if (p >= end)
		return -1;		/* no root label */
	out[o] = '\0';
	return 0;
}

/* spf_eval_in_net - is the client within addr/bits (of its own family)? */
static int
spf_eval_in_net(const struct spf_eval_request *req, const unsigned char *addr,
    int bits)
{
	int full = bits / 8, rest = bits % 8;
	unsigned char mask;

	if (memcmp(req->addr, addr, (size_t)full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	mask = (unsigned char)(0xff << (8 - rest));
	return (req->addr[full] & mask) == (addr[full] & mask);
}

/* spf_eval_ends_in - is name target or a subdomain of it (any case)? */
static int
spf_eval_ends_in(const char *name, const char *target)
{
	size_t n = strlen(name), t = strlen(target);

	if (t == 0 || n < t || strcasecmp(name + n - t, target) != 0)
		return 0;
	return n == t || name[n - t - 1] == '.';
}

/*
 * spf_eval_addrs - does name have an address (A for an IPv4 client, AAAA
 * for IPv6) within the term's CIDR of the client? 1, 0 (void lookups
 * counted), -1 with st->err (temperror, or a stop); for ptr (validate)
 * DNS errors and void answers count for nothing
 */
static int
spf_eval_addrs(struct spf_eval_state *st, const char *name, int cidr4,
    int cidr6, int validate)
{
	struct dns_result r;
	int v4 = st->req->family == AF_INET, rc = 0;
	size_t i, want = v4 ? 4 : 16;

	if (spf_eval_query(st, name, v4 ? SPF_EVAL_RR_A : SPF_EVAL_RR_AAAA,
	    &r) < 0) {
		dns_result_free(&r);
		return -1;
	}
	switch (r.status) {
	case DNS_OK:
		for (i = 0; i < r.n && rc == 0; i++)
			if (r.len[i] == want && spf_eval_in_net(st->req, r.data[i],
			    v4 ? cidr4 : cidr6))
				rc = 1;
		break;
	case DNS_NXDOMAIN:
	case DNS_NODATA:
	case DNS_ERROR:		/* a name that cannot exist */
		if (!validate)
			rc = spf_eval_void(st, name);
		break;
	default:		/* DNS_TEMPFAIL, DNS_BOGUS */
		if (!validate)
			rc = spf_eval_fail(st, SPF_RES_TEMPERROR, "DNS error "
			    "looking up the addresses of %s", name);
		break;
	}
	dns_result_free(&r);
	return rc;
}

/* spf_eval_reverse - the client's PTR query name (in-addr.arpa, ip6.arpa); -1 if it does not fit */
static int
spf_eval_reverse(const struct spf_eval_request *req, char *out, size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *a = req->addr;
	size_t o = 0;
	int i, n;

	if (req->family == AF_INET) {
		n = snprintf(out, outlen, "%u.%u.%u.%u.in-addr.arpa", a[3],
		    a[2], a[1], a[0]);
		return n < 0 || (size_t)n >= outlen ? -1 : 0;
	}
	for (i = 15; i >= 0 && o + 4 < outlen; i--) {
		out[o++] = hex[a[i] & 15];
		out[o++] = '.';
		out[o++] = hex[a[i] >> 4];
		out[o++] = '.';
	}
	if (i >= 0)
		return -1;
	n = snprintf(out + o, outlen - o, "ip6.arpa");
	return n < 0 || (size_t)n >= outlen - o ? -1 : 0;
}

/*
 * spf_eval_ptr_load - the client's validated names (RFC 7208 5.5): its PTR
 * names, the first 10, whose addresses include it. A DNS error on the PTR
 * query leaves none; one on an address query skips that name. 0, or -1
 * when stopped.
 */
static int
spf_eval_ptr_load(struct spf_eval_state *st)
{
	struct spf_eval_ptr *p = &st->ptr;
	struct dns_result r;
	char rev[80], name[SPF_EVAL_NAME_MAX + 3];
	size_t i, tried = 0;
	int m, rc = 0;

	if (p->done)
		return 0;
	p->done = 1;
	if (spf_eval_reverse(st->req, rev, sizeof(rev)) < 0)
		return spf_eval_fail(st, SPF_RES_TEMPERROR, "internal error: "
		    "the client's PTR name does not fit");
	if (spf_eval_query(st, rev, SPF_EVAL_RR_PTR, &r) < 0) {
		dns_result_free(&r);
		return -1;
	}
	for (i = 0; r.status == DNS_OK && i < r.n && tried < SPF_EVAL_NAMES_MAX; i++) {
		if (spf_eval_wire_name(r.data[i], r.len[i], name, sizeof(name)) < 0 ||
		    !spf_eval_name_ok(name))
			continue;
		tried++;
		m = spf_eval_addrs(st, name, 32, 128, 1);
		if (m < 0) {
			rc = -1;
			break;
		}
		if (m > 0)
			memcpy(p->names[p->n++], name, strlen(name) + 1);
	}
	dns_result_free(&r);
	return rc;
}

/*
 * spf_eval_ptr_name - %{p}: the validated name that is domain, else one
 * that ends in it, else the first, else "unknown" (RFC 7208 7.3)
 */
static const char *
spf_eval_ptr_name(void *arg, const char *domain)
{
	struct spf_eval_state *st = arg;
	int i;

	if (spf_eval_ptr_load(st) < 0 || st->ptr.n == 0)
		return "unknown";
	for (i = 0; i < st->ptr.n; i++)
		if (strcasecmp(st->ptr.names[i], domain) == 0)
			return st->ptr.names[i];
	for (i = 0; i < st->ptr.n; i++)
		if (spf_eval_ends_in(st->ptr.names[i], domain))
			return st->ptr.names[i];
	return st->ptr.names[0];
}

/*
 * spf_eval_target - the term's target name into out: its domain-spec
 * expanded, or domain when it has none; 0, or -1 when stopped (%{p})
 */
static int
spf_eval_target(struct spf_eval_state *st, const struct spf_eval_term *t,
    const char *domain, struct buf *out)
{
	struct spf_eval_macro_env env;

	buf_reset(out);
	if (t->spec == NULL) {
		buf_puts(out, domain);
		return 0;
	}
	memset(&env, 0, sizeof(env));
	env.sender = st->req->sender;
	env.local = st->local;
	env.sender_domain = st->sender_domain;
	env.domain = domain;
	env.helo = st->req->helo;
	env.family = st->req->family;
	env.addr = st->req->addr;
	env.ptr_name = spf_eval_ptr_name;
	env.ptr_arg = st;
	if (spf_eval_macro_expand(t->spec, t->speclen, &env, out) < 0)
		return spf_eval_fail(st, SPF_RES_PERMERROR, "bad macro in %.*s",
		    (int)(t->len < 64 ? t->len : 64), t->text);
	return st->out->stop != SPF_EVAL_STOP_NONE ? -1 : 0;
}

/* spf_eval_mx - the mx mechanism for target name: 1, 0, -1 */
static int
spf_eval_mx(struct spf_eval_state *st, const struct spf_eval_term *t,
    const char *name)
{
	struct dns_result r;
	char host[SPF_EVAL_NAME_MAX + 3];
	size_t i;
	int rc = 0;

	if (spf_eval_query(st, name, SPF_EVAL_RR_MX, &r) < 0) {
		dns_result_free(&r);
		return -1;
	}
	if (r.status == DNS_OK && r.n > SPF_EVAL_NAMES_MAX)
		rc = spf_eval_stopped(st, SPF_EVAL_STOP_MXNAMES, name);
	else if (r.status == DNS_TEMPFAIL || r.status == DNS_BOGUS)
		rc = spf_eval_fail(st, SPF_RES_TEMPERROR, "DNS error looking up "
		    "the MX of %s", name);
	else if (r.status != DNS_OK)
		rc = spf_eval_void(st, name);
	for (i = 0; r.status == DNS_OK && rc == 0 && i < r.n; i++) {
		if (r.len[i] < 3 || spf_eval_wire_name(r.data[i] + 2,
		    r.len[i] - 2, host, sizeof(host)) < 0 || host[0] == '\0' ||
		    !spf_eval_name_ok(host))
			continue;	/* malformed, or a null MX (RFC 7505) */
		rc = spf_eval_addrs(st, host, t->cidr4, t->cidr6, 0);
	}
	dns_result_free(&r);
	return rc;
}

/* spf_eval_exists - the exists mechanism: does name have an A record? */
static int
spf_eval_exists(struct spf_eval_state *st, const char *name)
{
	struct dns_result r;
	int rc;

	if (spf_eval_query(st, name, SPF_EVAL_RR_A, &r) < 0) {
		dns_result_free(&r);
		return -1;
	}
	if (r.status == DNS_OK)
		rc = 1;
	else if (r.status == DNS_TEMPFAIL || r.status == DNS_BOGUS)
		rc = spf_eval_fail(st, SPF_RES_TEMPERROR, "DNS error looking up "
		    "%s", name);
	else
		rc = spf_eval_void(st, name);
	dns_result_free(&r);
	return rc;
}

/* spf_eval_ptr - the ptr mechanism: a validated name ending in target? */
static int
spf_eval_ptr(struct spf_eval_state *st, const char *target)
{
	int i;

	if (spf_eval_ptr_load(st) < 0)
		return -1;
	for (i = 0; i < st->ptr.n; i++)
		if (spf_eval_ends_in(st->ptr.names[i], target))
			return 1;
	return 0;
}

static enum spf_res spf_eval_host(struct spf_eval_state *st,
    const char *domain, int depth, int *none);

/*
 * spf_eval_nested - include (is_include) or redirect of target: the
 * nested check_host() result, or -1 with st->err for a result that is
 * an error here (temperror, permerror, none)
 */
static int
spf_eval_nested(struct spf_eval_state *st, const char *target, int depth,
    int is_include, enum spf_res *res)
{
	const char *what = is_include ? "include" : "redirect";
	int none;

	if (!spf_eval_name_ok(target))
		return spf_eval_fail(st, SPF_RES_PERMERROR, "%s target \"%.64s\" "
		    "is not a domain name", what, target);
	if (depth + 1 > SPF_EVAL_DEPTH_MAX)
		return spf_eval_stopped(st, SPF_EVAL_STOP_DEPTH, target);
	*res = spf_eval_host(st, target, depth + 1, &none);
	if (st->out->stop != SPF_EVAL_STOP_NONE)
		return -1;
	if (none)
		return spf_eval_fail(st, SPF_RES_PERMERROR, "%s target %s has "
		    "no SPF record", what, target);
	if (*res == SPF_RES_TEMPERROR || *res == SPF_RES_PERMERROR) {
		st->err = *res;
		return -1;
	}
	return 0;
}

/*
 * spf_eval_mech - does mechanism t of domain's record match? 1, 0, or -1
 * with st->err
 */
static int
spf_eval_mech(struct spf_eval_state *st, const struct spf_eval_term *t,
    const char *domain, int depth)
{
	struct buf target = BUF_INIT;
	enum spf_res res;
	int rc, v4 = st->req->family == AF_INET;

	switch (t->kind) {
	case SPF_EVAL_ALL:
		return 1;
	case SPF_EVAL_IP4:
	case SPF_EVAL_IP6:
		if (v4 != (t->kind == SPF_EVAL_IP4))
			return 0;
		return spf_eval_in_net(st->req, t->net, v4 ? t->cidr4 : t->cidr6);
	default:
		break;
	}
	if (spf_eval_count(st, t) < 0 || spf_eval_target(st, t, domain,
	    &target) < 0) {
		buf_free(&target);
		return -1;
	}
	if (t->kind == SPF_EVAL_INCLUDE) {
		rc = spf_eval_nested(st, buf_cstr(&target), depth, 1, &res);
		if (rc == 0)
			rc = res == SPF_RES_PASS;
	} else if (!spf_eval_name_ok(buf_cstr(&target)))
		rc = 0;		/* RFC 7208 4.8: matches nothing */
	else if (t->kind == SPF_EVAL_A)
		rc = spf_eval_addrs(st, buf_cstr(&target), t->cidr4, t->cidr6, 0);
	else if (t->kind == SPF_EVAL_MX)
		rc = spf_eval_mx(st, t, buf_cstr(&target));
	else if (t->kind == SPF_EVAL_PTR)
		rc = spf_eval_ptr(st, buf_cstr(&target));
	else
		rc = spf_eval_exists(st, buf_cstr(&target));
	buf_free(&target);
	return rc;
}

/*
 * spf_eval_fetch - the one SPF record of domain into rec (RFC 7208 4.4,
 * 4.5): 1, 0 for none, -1 with st->err (DNS error, several records, or
 * one over SPF_EVAL_RECORD_MAX, which is not even copied)
 */
static int
spf_eval_fetch(struct spf_eval_state *st, const char *domain, struct buf *rec)
{
	struct dns_result r;
	struct buf txt = BUF_INIT;
	size_t i, biggest = 0;
	int found = 0;

	if (spf_eval_query(st, domain, SPF_EVAL_RR_TXT, &r) < 0) {
		dns_result_free(&r);
		return -1;
	}
	if (r.status == DNS_TEMPFAIL || r.status == DNS_BOGUS) {
		dns_result_free(&r);
		return spf_eval_fail(st, SPF_RES_TEMPERROR, "DNS error looking "
		    "up the SPF record of %s", domain);
	}
	for (i = 0; r.status == DNS_OK && i < r.n; i++) {
		buf_reset(&txt);
		if (dns_txt(&r, i, &txt) < 0 || !spf_eval_record_is_spf(txt.data,
		    txt.len))
			continue;
		if (txt.len > biggest)
			biggest = txt.len;
		if (found++ == 0 && txt.len <= SPF_EVAL_RECORD_MAX)
			buf_append(rec, txt.data, txt.len);
	}
	buf_free(&txt);
	dns_result_free(&r);
	if (found > 1)
		return spf_eval_fail(st, SPF_RES_PERMERROR, "%s has %d SPF "
		    "records", domain, found);
	if (biggest > SPF_EVAL_RECORD_MAX)	/* not even copied */
		return spf_eval_fail(st, SPF_RES_PERMERROR, "record of %zu "
		    "octets, over %d (record of %s)", biggest,
		    SPF_EVAL_RECORD_MAX, domain);
	return found;
}

/*
 * spf_eval_host - check_host() of domain: its record's mechanisms in
 * order, then its redirect; *none when it has no record
 */
static enum spf_res
spf_eval_host(struct spf_eval_state *st, const char *domain, int depth,
    int *none)
{
	struct buf rec = BUF_INIT, target = BUF_INIT;
	struct spf_eval_record_info info;
	struct spf_eval_term t;
	enum spf_res res = SPF_RES_NEUTRAL;
	char why[SPF_EVAL_WHY_MAX];
	size_t pos = 0;
	int m;

	*none = 0;
	if ((m = spf_eval_fetch(st, domain, &rec)) <= 0) {
		*none = m == 0;
		res = m == 0 ? SPF_RES_NONE : st->err;
		goto done;
	}
	if (spf_eval_record_check(rec.data, rec.len, &info, why, sizeof(why)) < 0) {
		spf_eval_fail(st, SPF_RES_PERMERROR, "%s (record of %s)", why,
		    domain);
		res = SPF_RES_PERMERROR;
		goto done;
	}
	while (spf_eval_record_next(rec.data, rec.len, &pos, &t, why,
	    sizeof(why)) > 0) {
		if (t.kind >= SPF_EVAL_REDIRECT)
			continue;	/* modifiers */
		if ((m = spf_eval_mech(st, &t, domain, depth)) != 0) {
			res = m > 0 ? t.qual : st->err;
			goto done;
		}
	}
	/* RFC 7208 6.1: redirect only when nothing matched (so no "all") */
	if (info.has_redirect) {
		if (spf_eval_count(st, &info.redirect) < 0 ||
		    spf_eval_target(st, &info.redirect, domain, &target) < 0 ||
		    spf_eval_nested(st, buf_cstr(&target), depth, 0, &res) < 0)
			res = st->err;
	}
done:
	buf_free(&target);
	buf_free(&rec);
	return res;
}

/* spf_eval_check - check_host() for one identity */
void
spf_eval_check(const struct spf_eval_options *opt,
    const struct spf_eval_request *req, struct spf_eval_result *out)
{
	struct spf_eval_state *st = xcalloc(1, sizeof(*st));
	const char *at;
	size_t n;
	int none;

	memset(out, 0, sizeof(*out));
	st->opt = opt;
	st->req = req;
	st->out = out;
	st->max_terms = opt->max_terms > 0 ? opt->max_terms
	    : SPF_EVAL_DEFAULT_TERMS;
	st->max_void = opt->max_void != 0 ? opt->max_void
	    : SPF_EVAL_DEFAULT_VOID;
	at = strrchr(req->sender, '@');
	n = at != NULL ? (size_t)(at - req->sender) : 0;
	if (n >= sizeof(st->local))
		n = sizeof(st->local) - 1;
	memcpy(st->local, req->sender, n);
	st->local[n] = '\0';
	st->sender_domain = at != NULL ? at + 1 : req->domain;
	out->res = spf_eval_host(st, req->domain, 0, &none);
	if (out->stop != SPF_EVAL_STOP_NONE)
		out->res = out->stop == SPF_EVAL_STOP_BUDGET ? SPF_RES_TEMPERROR
		    : SPF_RES_PERMERROR;
	free(st);
}
