/*
 * spf.c - SPF (RFC 7208) for the MAIL FROM and HELO identities, over
 * libspf2 with our own DNS layer.
 *
 * Each identity check gets a fresh libspf2 server, request and DNS layer
 * (struct spf_layer): the layer carries that check's counters, so nothing
 * is shared between threads but the read-only struct spf and the resolver
 * (thread-safe). libspf2 calls the layer synchronously from the checking
 * thread.
 *
 * The layer enforces the RFC 7208 4.6.4 limits that libspf2 lacks or
 * counts wrongly (libspf2 restarts its term count inside every include):
 * more than max_terms DNS-querying terms, more than 10 MX names, more than
 * max_void void lookups, or a record term that could trip libspf2's
 * compiler (CVE-2023-42118, unfixed in Debian's 1.2.10) make the layer
 * refuse every further lookup with TRY_AGAIN; libspf2 then unwinds with
 * temperror, and spf_eval turns that into permerror because the layer says
 * why. Running out of the time budget does the same and stays temperror.
 *
 * Type SPF (99) is never queried (RFC 7208 3.1), and exp= is never looked
 * up: the sender's explanation would only feed an SMTP reply, and replies
 * are not this module's business.
 */
#include <sys/types.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <spf2/spf.h>
#include <spf2/spf_dns.h>

#include "dns.h"
#include "log.h"
#include "spf.h"
#include "xalloc.h"

#define SPF_DEFAULT_BUDGET_MS	20000
#define SPF_DEFAULT_TERMS	10	/* RFC 7208 4.6.4 */
#define SPF_DEFAULT_VOID	2	/* RFC 7208 4.6.4 */
#define SPF_MAX_NAMES		10	/* MX and PTR names looked up */
#define SPF_TERM_MAX		200	/* longer record terms are refused */
#define SPF_NAME_MAX		1025	/* a wire name as escaped text */
#define SPF_HEADER_MAX		900	/* Received-SPF value, under 998 */

struct spf {
	struct dns *dns;		/* resolver (borrowed) */
	char *receiver;			/* our name in comments */
	int budget_ms;			/* time budget of one identity */
	int max_terms;			/* DNS-querying terms */
	int max_void;			/* void lookups; -1: no limit */
	int check_helo;			/* check HELO besides MAIL FROM */
};

/* Why the layer stopped answering. */
enum spf_stop {
	SPF_STOP_NONE,
	SPF_STOP_TERMS,			/* too many DNS-querying terms */
	SPF_STOP_VOID,			/* too many void lookups */
	SPF_STOP_MXNAMES,		/* an MX answer with over 10 names */
	SPF_STOP_RECORD,		/* a record term over SPF_TERM_MAX */
	SPF_STOP_BUDGET,		/* time budget exhausted */
};

/* The per-check libspf2 DNS layer. */
struct spf_layer {
	SPF_dns_server_t base;		/* what libspf2 holds; must be first */
	const struct spf *spf;		/* options and resolver */
	const char *qid;		/* for log lines */
	struct timespec deadline;	/* end of the budget (CLOCK_MONOTONIC) */
	int queries;			/* DNS queries sent */
	int terms;			/* DNS-querying terms seen */
	int voids;			/* NXDOMAIN or NODATA answers */
	int seen_record;		/* the identity's own TXT lookup was made */
	enum spf_stop stop;		/* first limit hit */
	char stop_name[SPF_DOMAIN_MAX];	/* the name being looked up then */
	char pending[SPF_MAX_NAMES][SPF_NAME_MAX];	/* last MX/PTR names */
	int npending;			/* names in pending */
	int next_pending;		/* the address lookup expected next */
};

static pthread_once_t spf_once = PTHREAD_ONCE_INIT;

/* spf_log_error - libspf2's fatal handler: it aborts after us anyway */
static void __attribute__((noreturn))
spf_log_error(const char *file, int line, const char *msg)
{
	log_err(NULL, "libspf2 %s:%d: %s", file, line, msg);
	abort();
}

/* spf_log_warning - libspf2 warnings */
static void
spf_log_warning(const char *file, int line, const char *msg)
{
	log_warn(NULL, "libspf2 %s:%d: %s", file, line, msg);
}

/* spf_log_info - libspf2 chatter */
static void
spf_log_info(const char *file, int line, const char *msg)
{
	log_debug(NULL, "libspf2 %s:%d: %s", file, line, msg);
}

/* spf_init - route libspf2's messages to our log (once per process) */
static void
spf_init(void)
{
	SPF_error_handler = spf_log_error;
	SPF_warning_handler = spf_log_warning;
	SPF_info_handler = spf_log_info;
	SPF_debug_handler = NULL;
}

/* spf_oom - libspf2 ran out of memory */
static void __attribute__((noreturn))
spf_oom(void)
{
	log_err(NULL, "spf: out of memory");
	abort();
}

/* spf_new - SPF checker over dns */
struct spf *
spf_new(struct dns *dns, const struct spf_options *opt, char *err,
    size_t errlen)
{
	struct spf *s;

	if (dns == NULL) {
		snprintf(err, errlen, "spf: no resolver");
		return NULL;
	}
	pthread_once(&spf_once, spf_init);
	s = xcalloc(1, sizeof(*s));
	s->dns = dns;
	s->receiver = xstrdup(opt->receiver != NULL && opt->receiver[0] != '\0'
	    ? opt->receiver : "localhost");
	s->budget_ms = opt->time_budget_ms > 0 ? opt->time_budget_ms
	    : SPF_DEFAULT_BUDGET_MS;
	s->max_terms = opt->max_terms > 0 ? opt->max_terms : SPF_DEFAULT_TERMS;
	s->max_void = opt->max_void != 0 ? opt->max_void : SPF_DEFAULT_VOID;
	s->check_helo = opt->check_helo;
	return s;
}

/* spf_free - release a checker */
void
spf_free(struct spf *s)
{
	if (s == NULL)
		return;
	free(s->receiver);
	free(s);
}

/* spf_res_name - result keyword */
const char *
spf_res_name(enum spf_res r)
{
	switch (r) {
	case SPF_RES_NONE:	return "none";
	case SPF_RES_NEUTRAL:	return "neutral";
	case SPF_RES_PASS:	return "pass";
	case SPF_RES_FAIL:	return "fail";
	case SPF_RES_SOFTFAIL:	return "softfail";
	case SPF_RES_TEMPERROR:	return "temperror";
	case SPF_RES_PERMERROR:	return "permerror";
	}
	return "permerror";
}

/* ---------------------------------------------------------------- layer */

/* spf_rr_new - an empty libspf2 answer */
static SPF_dns_rr_t *
spf_rr_new(struct spf_layer *l, const char *domain, ns_type type, int ttl,
    SPF_dns_stat_t herrno)
{
	SPF_dns_rr_t *rr = SPF_dns_rr_new_init(&l->base, domain, type, ttl,
	    herrno);

	if (rr == NULL)
		spf_oom();
	return rr;
}

/* spf_rr_add - append one record of len bytes to a libspf2 answer */
static void
spf_rr_add(SPF_dns_rr_t *rr, const void *data, size_t len)
{
	int i = rr->num_rr;

	if (SPF_dns_rr_buf_realloc(rr, i, len) != SPF_E_SUCCESS)
		spf_oom();
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
	if (l->stop == SPF_STOP_NONE) {
		l->stop = why;
		snprintf(l->stop_name, sizeof(l->stop_name), "%s", domain);
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

/* spf_layer_convert - our answer as libspf2's; NULL when a limit is hit */
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
	    ++l->terms > l->spf->max_terms)
		return spf_layer_stop(l, SPF_STOP_TERMS, domain, type);
	left = spf_layer_remaining(l);
	if (left <= 0)
		return spf_layer_stop(l, SPF_STOP_BUDGET, domain, type);
	timeout = left < dns_timeout_ms(l->spf->dns) ? (int)left : 0;
	l->queries++;
	dns_resolve(l->spf->dns, domain, type, timeout, &r);
	log_debug(l->qid, "spf: %s/%d: %s, %zu records", domain, (int)type,
	    dns_status_name(r.status), r.n);
	switch (r.status) {
	case DNS_OK:
		rr = spf_layer_convert(l, domain, type, &r);
		break;
	case DNS_NXDOMAIN:
	case DNS_NODATA:
	case DNS_ERROR:		/* a name that cannot exist */
		if (l->spf->max_void >= 0 && ++l->voids > l->spf->max_void)
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

/* ---------------------------------------------------------------- check */

struct spf_client {
	int family;			/* AF_INET, AF_INET6; 0: unknown */
	struct in_addr v4;
	struct in6_addr v6;
	char text[INET6_ADDRSTRLEN];	/* canonical text form */
};

/* spf_sanitize - copy in to out, printable ASCII only, truncating */
static void
spf_sanitize(char *out, size_t outlen, const char *in)
{
	size_t i;

	for (i = 0; in != NULL && in[i] != '\0' && i + 1 < outlen; i++)
		out[i] = in[i] >= 0x20 && in[i] < 0x7f ? in[i] : '?';
	out[i] = '\0';
}

/*
 * spf_domain_ok - a multi-label name SPF can check (RFC 7208 4.3): labels
 * of 1..63 letters, digits, '-' or '_', 253 at most, last label not numeric
 */
static int
spf_domain_ok(const char *d)
{
	size_t len = strlen(d), label = 0, labels = 1;
	int alpha_in_last = 0;
	const char *p;

	if (len == 0 || len > 253)
		return 0;
	for (p = d; *p != '\0'; p++) {
		if (*p == '.') {
			if (label == 0)
				return 0;
			label = 0;
			labels++;
			alpha_in_last = 0;
			continue;
		}
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_')
			return 0;
		if (!isdigit((unsigned char)*p))
			alpha_in_last = 1;
		if (++label > 63)
			return 0;
	}
	return label > 0 && labels >= 2 && alpha_in_last;
}

/* spf_client_parse - client address (IPv4, IPv6, "IPv6:..." or "[...]") */
static void
spf_client_parse(const char *ip, struct spf_client *c)
{
	char tmp[INET6_ADDRSTRLEN + 8];
	size_t n;

	memset(c, 0, sizeof(*c));
	if (ip == NULL)
		return;
	if (strncasecmp(ip, "IPv6:", 5) == 0)
		ip += 5;
	n = strlen(ip);
	if (n >= 2 && ip[0] == '[' && ip[n - 1] == ']') {
		ip++;
		n -= 2;
	}
	if (n >= sizeof(tmp))
		return;
	memcpy(tmp, ip, n);
	tmp[n] = '\0';
	if (inet_pton(AF_INET, tmp, &c->v4) == 1)
		c->family = AF_INET;
	else if (inet_pton(AF_INET6, tmp, &c->v6) == 1) {
		c->family = AF_INET6;
		if (IN6_IS_ADDR_V4MAPPED(&c->v6)) {
			/* an IPv4 client seen through an IPv6 socket */
			memcpy(&c->v4, &c->v6.s6_addr[12], 4);
			c->family = AF_INET;
		}
	} else
		return;
	if (c->family == AF_INET)
		inet_ntop(AF_INET, &c->v4, c->text, sizeof(c->text));
	else
		inet_ntop(AF_INET6, &c->v6, c->text, sizeof(c->text));
}

/*
 * spf_path_parse - MAIL FROM path to a sanitized "local@domain" in out
 * (no brackets, no source route); "" for the null sender
 */
static void
spf_path_parse(const char *path, char *out, size_t outlen)
{
	char tmp[SPF_IDENTITY_MAX];
	char *p, *colon;
	size_t n;

	spf_sanitize(tmp, sizeof(tmp), path != NULL ? path : "");
	p = tmp + strspn(tmp, " ");
	n = strlen(p);
	while (n > 0 && p[n - 1] == ' ')
		p[--n] = '\0';
	if (n >= 2 && p[0] == '<' && p[n - 1] == '>') {
		p[n - 1] = '\0';
		p++;
	}
	if (p[0] == '@' && (colon = strchr(p, ':')) != NULL)
		p = colon + 1;		/* RFC 5321 source route */
	snprintf(out, outlen, "%s", p);
}

/* spf_eval_libspf2 - run libspf2 for sender; returns its result and error */
static SPF_result_t
spf_eval_libspf2(struct spf_layer *l, const struct spf_client *c,
    const char *sender, const char *helo, SPF_errcode_t *errp)
{
	SPF_server_t *srv;
	SPF_request_t *req;
	SPF_response_t *resp;
	SPF_record_t *rec = NULL;
	SPF_result_t res;
	SPF_errcode_t err;

	srv = SPF_server_new_dns(&l->base, 0);
	if (srv == NULL)
		spf_oom();
	if (SPF_server_set_rec_dom(srv, l->spf->receiver) != SPF_E_SUCCESS)
		spf_oom();
	SPF_server_set_max_dns_mech(srv, l->spf->max_terms);
	SPF_server_set_max_dns_mx(srv, SPF_MAX_NAMES);
	SPF_server_set_max_dns_ptr(srv, SPF_MAX_NAMES);
	req = SPF_request_new(srv);
	if (req == NULL)
		spf_oom();
	if (c->family == AF_INET)
		SPF_request_set_ipv4(req, c->v4);
	else
		SPF_request_set_ipv6(req, c->v6);
	if (SPF_request_set_env_from(req, sender) != 0 ||
	    SPF_request_set_helo_dom(req, helo) != SPF_E_SUCCESS)
		spf_oom();
	resp = SPF_response_new(req);
	if (resp == NULL)
		spf_oom();
	/*
	 * What SPF_request_query_mailfrom() does, without its unconditional
	 * pass for loopback clients (not in RFC 7208, and a forgery path for
	 * anything relaying from localhost).
	 */
	req->cur_dom = req->env_from_dp;
	err = SPF_server_get_record(srv, req, resp, &rec);
	if (err == SPF_E_SUCCESS) {
		resp->spf_record_exp = rec;
		err = SPF_record_interpret(rec, req, resp, 0);
	}
	if (rec != NULL)
		SPF_record_free(rec);
	res = SPF_response_result(resp);
	*errp = SPF_response_errcode(resp) != SPF_E_SUCCESS
	    ? SPF_response_errcode(resp) : err;
	SPF_response_free(resp);
	SPF_request_free(req);
	SPF_server_free(srv);
	return res;
}

/* spf_explain - result and comment from libspf2's result and the layer */
static void
spf_explain(struct spf_outcome *o, const struct spf_layer *l,
    SPF_result_t res, SPF_errcode_t err, const char *sender, const char *ip)
{
	char c[SPF_COMMENT_MAX];

	switch (l->stop) {
	case SPF_STOP_TERMS:
		o->res = SPF_RES_PERMERROR;
		snprintf(c, sizeof(c), "SPF record of %s needs more than %d "
		    "DNS-querying terms", o->domain, l->spf->max_terms);
		break;
	case SPF_STOP_VOID:
		o->res = SPF_RES_PERMERROR;
		snprintf(c, sizeof(c), "SPF record of %s needs more than %d "
		    "void DNS lookups (last: %s)", o->domain, l->spf->max_void,
		    l->stop_name);
		break;
	case SPF_STOP_MXNAMES:
		o->res = SPF_RES_PERMERROR;
		snprintf(c, sizeof(c), "more than %d MX names for %s",
		    SPF_MAX_NAMES, l->stop_name);
		break;
	case SPF_STOP_RECORD:
		o->res = SPF_RES_PERMERROR;
		snprintf(c, sizeof(c), "SPF record of %s has a term over %d "
		    "characters", l->stop_name, SPF_TERM_MAX);
		break;
	case SPF_STOP_BUDGET:
		o->res = SPF_RES_TEMPERROR;
		snprintf(c, sizeof(c), "SPF evaluation for %s took over %d ms",
		    o->domain, l->spf->budget_ms);
		break;
	case SPF_STOP_NONE:
	default:
		switch (res) {
		case SPF_RESULT_PASS:
			o->res = SPF_RES_PASS;
			snprintf(c, sizeof(c), "domain of %s designates %s as "
			    "permitted sender", sender, ip);
			break;
		case SPF_RESULT_FAIL:
			o->res = SPF_RES_FAIL;
			snprintf(c, sizeof(c), "domain of %s does not designate "
			    "%s as permitted sender", sender, ip);
			break;
		case SPF_RESULT_SOFTFAIL:
			o->res = SPF_RES_SOFTFAIL;
			snprintf(c, sizeof(c), "domain of transitioning %s does "
			    "not designate %s as permitted sender", sender, ip);
			break;
		case SPF_RESULT_NEUTRAL:
			o->res = SPF_RES_NEUTRAL;
			snprintf(c, sizeof(c), "%s is neither permitted nor "
			    "denied by domain of %s", ip, sender);
			break;
		case SPF_RESULT_NONE:
			o->res = SPF_RES_NONE;
			snprintf(c, sizeof(c), "domain of %s does not designate "
			    "permitted sender hosts", sender);
			break;
		case SPF_RESULT_TEMPERROR:
			o->res = SPF_RES_TEMPERROR;
			snprintf(c, sizeof(c), "temporary DNS error evaluating "
			    "the SPF record of %s", o->domain);
			break;
		default:	/* permerror, or a record that did not compile */
			o->res = SPF_RES_PERMERROR;
			snprintf(c, sizeof(c), "permanent error in the SPF record "
			    "of %s: %s", o->domain, SPF_strerror(err));
			break;
		}
	}
	spf_sanitize(o->comment, sizeof(o->comment), c);
}

/*
 * spf_eval - check one identity: sender (local@domain) for domain, the
 * client c, HELO name helo; fills o
 */
static void
spf_eval(const struct spf *s, const char *qid, const struct spf_client *c,
    const char *sender, const char *domain, const char *helo,
    struct spf_outcome *o)
{
	struct spf_layer *l = xcalloc(1, sizeof(*l));
	SPF_result_t res;
	SPF_errcode_t err = SPF_E_SUCCESS;

	l->base.lookup = spf_layer_lookup;
	l->base.get_exp = spf_layer_get_exp;
	l->base.name = "authmilter";
	l->spf = s;
	l->qid = qid;
	clock_gettime(CLOCK_MONOTONIC, &l->deadline);
	l->deadline.tv_sec += s->budget_ms / 1000;
	l->deadline.tv_nsec += (long)(s->budget_ms % 1000) * 1000000L;
	if (l->deadline.tv_nsec >= 1000000000L) {
		l->deadline.tv_sec++;
		l->deadline.tv_nsec -= 1000000000L;
	}
	res = spf_eval_libspf2(l, c, sender, helo, &err);
	spf_explain(o, l, res, err, sender, c->text);
	o->lookups = l->queries;
	log_debug(qid, "spf: %s from %s: %s (%s; %d queries, %d terms, %d void)",
	    sender, c->text, spf_res_name(o->res), o->comment, l->queries,
	    l->terms, l->voids);
	free(l);
}

/* spf_outcome_none - an identity that cannot be checked */
static void
spf_outcome_none(struct spf_outcome *o, const char *why)
{
	o->res = SPF_RES_NONE;
	spf_sanitize(o->comment, sizeof(o->comment), why);
}

/* spf_check - MAIL FROM and HELO checks */
void
spf_check(struct spf *s, const char *qid, const char *client_ip,
    const char *mailfrom, const char *helo, struct spf_result *out)
{
	struct spf_client c;
	char path[SPF_IDENTITY_MAX], buf[SPF_COMMENT_MAX];
	char hdom[SPF_DOMAIN_MAX], *at;
	const char *local, *domain;
	int helo_ok;
	size_t n;

	memset(out, 0, sizeof(*out));
	spf_client_parse(client_ip, &c);
	spf_sanitize(out->client_ip, sizeof(out->client_ip),
	    c.family != 0 ? c.text : (client_ip != NULL ? client_ip : ""));
	spf_path_parse(mailfrom, path, sizeof(path));
	snprintf(out->envelope_from, sizeof(out->envelope_from), "%s", path);
	spf_sanitize(out->helo_name, sizeof(out->helo_name), helo);

	/* HELO identity: the name without a trailing dot */
	snprintf(hdom, sizeof(hdom), "%s", out->helo_name);
	n = strlen(hdom);
	if (n > 1 && hdom[n - 1] == '.')
		hdom[n - 1] = '\0';
	helo_ok = spf_domain_ok(hdom);
	snprintf(out->helo.identity, sizeof(out->helo.identity), "%s", hdom);
	if (helo_ok)
		snprintf(out->helo.domain, sizeof(out->helo.domain), "%s", hdom);

	if (c.family == 0) {
		spf_outcome_none(&out->mailfrom, "no client IP address to check");
		spf_outcome_none(&out->helo, "no client IP address to check");
		snprintf(out->mailfrom.identity, sizeof(out->mailfrom.identity),
		    "%s", path);
		return;
	}

	if (path[0] == '\0') {
		/* RFC 7208 2.4: the null sender is postmaster@HELO */
		snprintf(out->mailfrom.identity, sizeof(out->mailfrom.identity),
		    "postmaster@%s", hdom);
		if (!helo_ok) {
			snprintf(buf, sizeof(buf), "null sender and HELO %s is "
			    "not a domain name", hdom);
			spf_outcome_none(&out->mailfrom, buf);
			spf_outcome_none(&out->helo, buf + strlen("null sender and "));
			return;
		}
		spf_eval(s, qid, &c, out->mailfrom.identity, hdom, hdom,
		    &out->helo);
		snprintf(out->mailfrom.domain, sizeof(out->mailfrom.domain),
		    "%s", hdom);
		out->mailfrom.res = out->helo.res;
		out->mailfrom.lookups = out->helo.lookups;
		memcpy(out->mailfrom.comment, out->helo.comment,
		    sizeof(out->mailfrom.comment));
		return;
	}

	/* MAIL FROM identity: local@domain; a bare domain is postmaster@ */
	at = strrchr(path, '@');
	if (at != NULL) {
		*at = '\0';
		local = path[0] != '\0' ? path : "postmaster";
		domain = at + 1;
	} else {
		local = "postmaster";
		domain = path;
	}
	snprintf(out->mailfrom.domain, sizeof(out->mailfrom.domain), "%s",
	    domain);
	n = strlen(out->mailfrom.domain);
	if (n > 1 && out->mailfrom.domain[n - 1] == '.')
		out->mailfrom.domain[n - 1] = '\0';
	snprintf(out->mailfrom.identity, sizeof(out->mailfrom.identity),
	    "%s@%s", local, out->mailfrom.domain);
	if (!spf_domain_ok(out->mailfrom.domain)) {
		snprintf(buf, sizeof(buf), "MAIL FROM domain %s is not a "
		    "domain name", out->mailfrom.domain);
		spf_outcome_none(&out->mailfrom, buf);
		out->mailfrom.domain[0] = '\0';
	} else
		spf_eval(s, qid, &c, out->mailfrom.identity,
		    out->mailfrom.domain, helo_ok ? hdom : "unknown",
		    &out->mailfrom);

	if (!s->check_helo)
		spf_outcome_none(&out->helo, "HELO not checked");
	else if (!helo_ok) {
		snprintf(buf, sizeof(buf), "HELO %s is not a domain name", hdom);
		spf_outcome_none(&out->helo, buf);
	} else {
		snprintf(buf, sizeof(buf), "postmaster@%s", hdom);
		spf_eval(s, qid, &c, buf, hdom, hdom, &out->helo);
	}
}

/* ---------------------------------------------------------------- header */

/* spf_is_atext - RFC 5322 atext */
static int
spf_is_atext(int ch)
{
	return isalnum(ch) || (ch != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", ch)
	    != NULL);
}

/* spf_put_value - a dot-atom, or else a quoted-string */
static void
spf_put_value(struct buf *out, const char *v)
{
	const char *p;
	int atom = v[0] != '\0' && v[0] != '.';

	for (p = v; atom && *p != '\0'; p++)
		if (*p == '.' ? p[1] == '.' || p[1] == '\0'
		    : !spf_is_atext((unsigned char)*p))
			atom = 0;
	if (atom) {
		buf_puts(out, v);
		return;
	}
	buf_putc(out, '"');
	for (p = v; *p != '\0'; p++) {
		if (*p < 0x20 || *p >= 0x7f)
			continue;	/* never CR, LF or other controls */
		if (*p == '"' || *p == '\\')
			buf_putc(out, '\\');
		buf_putc(out, *p);
	}
	buf_putc(out, '"');
}

/* spf_put_comment - text inside a comment: parentheses and \ escaped */
static void
spf_put_comment(struct buf *out, const char *text, size_t max)
{
	size_t n;

	for (n = 0; *text != '\0' && n < max; text++, n++) {
		if (*text < 0x20 || *text >= 0x7f)
			continue;
		if (*text == '(' || *text == ')' || *text == '\\')
			buf_putc(out, '\\');
		buf_putc(out, *text);
	}
	if (*text != '\0')
		buf_puts(out, "...");
}

/* spf_received_header - Received-SPF value for the MAIL FROM outcome */
void
spf_received_header(const struct spf *s, const struct spf_result *r,
    struct buf *out)
{
	const struct spf_outcome *o = &r->mailfrom;
	struct buf kv = BUF_INIT;
	size_t room, fixed;

	buf_puts(&kv, "client-ip=");
	spf_put_value(&kv, r->client_ip);
	buf_puts(&kv, "; envelope-from=");
	spf_put_value(&kv, r->envelope_from);
	buf_puts(&kv, "; helo=");
	spf_put_value(&kv, r->helo_name);
	buf_puts(&kv, "; receiver=");
	spf_put_value(&kv, s->receiver);
	buf_puts(&kv, "; identity=mailfrom;");

	/* The comment gives way so that the field stays under 998. */
	fixed = strlen(spf_res_name(o->res)) + strlen(s->receiver) + kv.len + 8;
	room = fixed < SPF_HEADER_MAX ? SPF_HEADER_MAX - fixed : 0;
	buf_puts(out, spf_res_name(o->res));
	buf_puts(out, " (");
	spf_put_comment(out, s->receiver, 255);
	buf_puts(out, ": ");
	spf_put_comment(out, o->comment, room / 2);
	buf_puts(out, ") ");
	buf_puts(out, buf_cstr(&kv));
	buf_free(&kv);
}
