/*
 * spf_layer.c - libspf2's DNS layer over dns.c, with the RFC 7208 limits.
 *
 * See spf_layer.h. Every answer handed to libspf2 is built with libspf2's
 * own SPF_dns_rr_* functions, so libspf2 frees it with its allocator.
 */
#include <sys/types.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/buf.h"
#include "base/dns.h"
#include "base/log.h"
#include "auth/spf_layer.h"
#include "base/xalloc.h"

/* spf_layer_oom - libspf2 ran out of memory */
static void __attribute__((noreturn))
spf_layer_oom(void)
{
	log_err(NULL, "spf: out of memory");
	abort();
}

/* spf_rr_new - an empty libspf2 answer */
static SPF_dns_rr_t *
spf_rr_new(struct spf_layer *l, const char *domain, ns_type type, int ttl,
    SPF_dns_stat_t herrno)
{
	SPF_dns_rr_t *rr = SPF_dns_rr_new_init(&l->base, domain, type, ttl,
	    herrno);

	if (rr == NULL)
		spf_layer_oom();
	return rr;
}

/* spf_rr_add - append one record of len bytes to a libspf2 answer */
static void
spf_rr_add(SPF_dns_rr_t *rr, const void *data, size_t len)
{
	int i = rr->num_rr;

	if (SPF_dns_rr_buf_realloc(rr, i, len) != SPF_E_SUCCESS)
		spf_layer_oom();
	memcpy(rr->rr[i], data, len);
	rr->num_rr = i + 1;
}

/*
 * spf_wire_name - uncompressed wire-format name at p (len bytes) as text,
 * special characters escaped as a master file would; -1 when malformed
 */
static int
spf_wire_name(const unsigned char *p, size_t len, char *out, size_t outlen)
{
	const unsigned char *end = p + len;
	size_t o = 0, n;
	int w;

	while (p < end && *p != 0) {
		n = *p++;
		if (n > 63 || n > (size_t)(end - p))
			return -1;	/* compression pointer or truncated */
		if (o > 0)
			out[o++] = '.';
		for (; n > 0; n--, p++) {
			if (o + 5 >= outlen)
				return -1;
			if (*p == '.' || *p == '\\')
				w = snprintf(out + o, outlen - o, "\\%c", *p);
			else if (*p <= 0x20 || *p >= 0x7f)
				w = snprintf(out + o, outlen - o, "\\%03u", *p);
			else
				w = snprintf(out + o, outlen - o, "%c", *p);
			if (w < 0 || (size_t)w >= outlen - o)
				return -1;
			o += (size_t)w;
		}
		if (o + 1 >= outlen)
			return -1;
	}
	if (p >= end)
		return -1;		/* no root label */
	out[o] = '\0';
	return 0;
}

/* spf_term_too_long - does an SPF record hold a term libspf2 might choke on? */
static int
spf_term_too_long(const char *txt)
{
	size_t n;

	if (strncasecmp(txt, "v=spf1", 6) != 0 || (txt[6] != ' ' && txt[6] != '\0'))
		return 0;
	while (*txt != '\0') {
		n = strcspn(txt, " ");
		if (n > SPF_TERM_MAX)
			return 1;
		txt += n;
		txt += strspn(txt, " ");
	}
	return 0;
}

/* spf_layer_stop - remember the first limit hit; refuse this lookup */
static SPF_dns_rr_t *
spf_layer_stop(struct spf_layer *l, enum spf_stop why, const char *domain,
    ns_type type)
{
	size_t n;

	if (l->stop == SPF_STOP_NONE) {
		l->stop = why;
		n = strnlen(domain, sizeof(l->stop_name) - 1);
		memcpy(l->stop_name, domain, n);
		l->stop_name[n] = '\0';
	}
	return spf_rr_new(l, domain, type, 0, TRY_AGAIN);
}

/* spf_layer_is_term - does this lookup start a DNS-querying term? */
static int
spf_layer_is_term(struct spf_layer *l, const char *domain, ns_type type)
{
	switch (type) {
	case ns_t_a:
	case ns_t_aaaa:
		/* The address lookups of the names an mx or ptr term (or
		 * the %{p} macro) just got are part of that term. */
		if (l->next_pending < l->npending &&
		    strcasecmp(domain, l->pending[l->next_pending]) == 0) {
			l->next_pending++;
			return 0;
		}
		l->npending = 0;
		return 1;
	case ns_t_txt:
		l->npending = 0;
		if (!l->seen_record) {
			/* the identity's own record: not a term */
			l->seen_record = 1;
			return 0;
		}
		return 1;		/* include or redirect */
	default:
		l->npending = 0;
		return 1;		/* mx, ptr */
	}
}

/* spf_layer_remaining - ms left in the budget */
static long
spf_layer_remaining(const struct spf_layer *l)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long)(l->deadline.tv_sec - now.tv_sec) * 1000L +
	    (l->deadline.tv_nsec - now.tv_nsec) / 1000000L;
}

/* spf_layer_names - MX or PTR answer: names into rr and pending */
static SPF_dns_rr_t *
spf_layer_names(struct spf_layer *l, const char *domain, ns_type type,
    const struct dns_result *r)
{
	SPF_dns_rr_t *rr;
	char name[SPF_NAME_MAX];
	size_t i, skip = type == ns_t_mx ? 2 : 0;

	if (type == ns_t_mx && r->n > SPF_MAX_NAMES)
		return spf_layer_stop(l, SPF_STOP_MXNAMES, domain, type);
	rr = spf_rr_new(l, domain, type, r->ttl, NETDB_SUCCESS);
	l->npending = 0;
	l->next_pending = 0;
	/* RFC 7208 4.6.4: PTR names past the tenth are ignored. */
	for (i = 0; i < r->n && rr->num_rr < SPF_MAX_NAMES; i++) {
		if (r->len[i] <= skip ||
		    spf_wire_name(r->data[i] + skip, r->len[i] - skip, name,
		    sizeof(name)) < 0 || name[0] == '\0')
			continue;	/* malformed, or a null MX (RFC 7505) */
		spf_rr_add(rr, name, strlen(name) + 1);
		memcpy(l->pending[l->npending++], name, strlen(name) + 1);
	}
	return rr;
}

/* spf_layer_convert - our answer as libspf2's (a refusal when a limit is hit) */
static SPF_dns_rr_t *
spf_layer_convert(struct spf_layer *l, const char *domain, ns_type type,
    const struct dns_result *r)
{
	SPF_dns_rr_t *rr;
	struct buf txt = BUF_INIT;
	size_t i;

	if (type == ns_t_mx || type == ns_t_ptr)
		return spf_layer_names(l, domain, type, r);
	rr = spf_rr_new(l, domain, type, r->ttl, NETDB_SUCCESS);
	for (i = 0; i < r->n; i++) {
		if (type == ns_t_a && r->len[i] == 4)
			spf_rr_add(rr, r->data[i], 4);
		else if (type == ns_t_aaaa && r->len[i] == 16)
			spf_rr_add(rr, r->data[i], 16);
		else if (type == ns_t_txt) {
			buf_reset(&txt);
			if (dns_txt(r, i, &txt) < 0)
				continue;
			if (spf_term_too_long(buf_cstr(&txt))) {
				buf_free(&txt);
				SPF_dns_rr_free(rr);
				return spf_layer_stop(l, SPF_STOP_RECORD, domain,
				    type);
			}
			spf_rr_add(rr, buf_cstr(&txt), txt.len + 1);
		}
	}
	buf_free(&txt);
	if (rr->num_rr == 0)
		rr->herrno = NO_DATA;
	return rr;
}

/* spf_layer_lookup - libspf2's DNS query, answered through dns_resolve */
static SPF_dns_rr_t *
spf_layer_lookup(SPF_dns_server_t *server, const char *domain, ns_type type,
    int should_cache)
{
	struct spf_layer *l = (struct spf_layer *)server;
	struct dns_result r;
	SPF_dns_rr_t *rr;
	long left;
	int timeout;

	(void)should_cache;
	if (type == ns_t_spf)	/* RFC 7208 3.1: TXT only */
		return spf_rr_new(l, domain, type, 0, NO_DATA);
	if (l->stop != SPF_STOP_NONE)
		return spf_rr_new(l, domain, type, 0, TRY_AGAIN);
	if (spf_layer_is_term(l, domain, type) &&
	    ++l->terms > l->lim->max_terms)
		return spf_layer_stop(l, SPF_STOP_TERMS, domain, type);
	left = spf_layer_remaining(l);
	if (left <= 0)
		return spf_layer_stop(l, SPF_STOP_BUDGET, domain, type);
	timeout = left < dns_timeout_ms(l->lim->dns) ? (int)left : 0;
	l->queries++;
	dns_resolve(l->lim->dns, domain, type, timeout, &r);
	log_debug(l->qid, "spf: %s/%d: %s, %zu records", domain, (int)type,
	    dns_status_name(r.status), r.n);
	switch (r.status) {
	case DNS_OK:
		rr = spf_layer_convert(l, domain, type, &r);
		break;
	case DNS_NXDOMAIN:
	case DNS_NODATA:
	case DNS_ERROR:		/* a name that cannot exist */
		if (l->lim->max_void >= 0 && ++l->voids > l->lim->max_void)
			rr = spf_layer_stop(l, SPF_STOP_VOID, domain, type);
		else
			rr = spf_rr_new(l, domain, type, r.ttl,
			    r.status == DNS_NODATA ? NO_DATA : HOST_NOT_FOUND);
		break;
	default:		/* DNS_TEMPFAIL, DNS_BOGUS */
		if (spf_layer_remaining(l) <= 0)
			rr = spf_layer_stop(l, SPF_STOP_BUDGET, domain, type);
		else
			rr = spf_rr_new(l, domain, type, 0, TRY_AGAIN);
		break;
	}
	dns_result_free(&r);
	return rr;
}

/* spf_layer_get_exp - exp= lookups: answered empty, without DNS */
static SPF_errcode_t
spf_layer_get_exp(SPF_server_t *server, const char *domain, char **bufp,
    size_t *buflenp)
{
	(void)server;
	(void)domain;		/* may alias *bufp */
	if (*bufp == NULL || *buflenp < 1) {
		free(*bufp);
		*bufp = xmalloc(1);
		*buflenp = 1;
	}
	(*bufp)[0] = '\0';
	return SPF_E_SUCCESS;
}

/* spf_layer_new - a layer for one identity check, ending at deadline */
struct spf_layer *
spf_layer_new(const struct spf_limits *lim, const char *qid,
    const struct timespec *deadline)
{
	struct spf_layer *l = xcalloc(1, sizeof(*l));

	l->base.lookup = spf_layer_lookup;
	l->base.get_exp = spf_layer_get_exp;
	l->base.name = "authmilter";
	l->lim = lim;
	l->qid = qid;
	l->deadline = *deadline;
	return l;
}

/* spf_layer_free - release a layer */
void
spf_layer_free(struct spf_layer *l)
{
	free(l);
}
