/*
 * spf.c - SPF (RFC 7208) for the MAIL FROM and HELO identities: the
 * identities, the shared time budget, the comments and Received-SPF; the
 * evaluation by our own engine (spf_eval.c, the default) or by libspf2
 * with our own DNS layer (spf_layer.c).
 *
 * libspf2: each identity check gets a fresh libspf2 server, request and
 * DNS layer (0.6 us together, measured): the layer carries that check's
 * counters, so nothing is shared between threads but the read-only struct
 * spf and the resolver (thread-safe). libspf2's global log hooks are set
 * once. When the layer stopped libspf2 because a limit was hit, the
 * layer's reason decides the result (permerror, or temperror for the time
 * budget); otherwise libspf2's result stands. Loopback clients get no
 * free pass (libspf2's SPF_request_query_mailfrom gives them one).
 *
 * The built-in engine keeps its counters on the checking thread's stack
 * and resolves through spf_lookup_dns (or the options' test seam).
 */
#include <sys/types.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <spf2/spf.h>
#include <spf2/spf_dns.h>

#include "base/buf.h"
#include "base/dns.h"
#include "base/log.h"
#include "base/mailaddr.h"
#include "auth/spf.h"
#include "auth/spf_eval.h"
#include "auth/spf_layer.h"
#include "base/xalloc.h"

#define SPF_DEFAULT_BUDGET_MS	20000
#define SPF_DEFAULT_TERMS	10	/* RFC 7208 4.6.4 */
#define SPF_DEFAULT_VOID	2	/* RFC 7208 4.6.4 */
#define SPF_HEADER_MAX		900	/* Received-SPF value, under 998 */

struct spf {
	struct spf_limits lim;		/* resolver and limits (dns may be NULL
					 * for the built-in engine) */
	char *receiver;			/* our name in comments (owned) */
	int check_helo;			/* check HELO besides MAIL FROM */
	enum spf_engine engine;		/* which evaluator */
	spf_eval_lookup_fn lookup;	/* built-in engine's DNS */
	void *lookup_arg;		/* its argument (borrowed) */
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

/*
 * spf_lookup_dns - the built-in engine's queries, through the resolver.
 * libunbound reads a name as master-file text, where a backslash starts
 * an escape: a literal one (from a macro-expanded local-part) is doubled.
 */
static enum dns_status
spf_lookup_dns(void *arg, const char *name, int rrtype, int timeout_ms,
    struct dns_result *r)
{
	struct buf esc = BUF_INIT;
	enum dns_status st;
	const char *p;

	for (p = name; *p != '\0'; p++) {
		if (*p == '\\')
			buf_putc(&esc, '\\');
		buf_putc(&esc, *p);
	}
	st = dns_resolve(arg, buf_cstr(&esc), rrtype, timeout_ms, r);
	buf_free(&esc);
	return st;
}

/* spf_new - SPF checker over dns */
struct spf *
spf_new(struct dns *dns, const struct spf_options *opt, char *err,
    size_t errlen)
{
	struct spf *s;

	if (opt->engine != SPF_ENGINE_BUILTIN && opt->engine != SPF_ENGINE_LIBSPF2) {
		(void)snprintf(err, errlen, "spf: unknown engine %d", (int)opt->engine);
		return NULL;
	}
	if (dns == NULL && (opt->engine == SPF_ENGINE_LIBSPF2 ||
	    opt->lookup == NULL)) {
		(void)snprintf(err, errlen, "spf: no resolver");
		return NULL;
	}
	if (opt->engine == SPF_ENGINE_LIBSPF2)
		pthread_once(&spf_once, spf_init);
	s = xcalloc(1, sizeof(*s));
	s->lim.dns = dns;
	s->engine = opt->engine;
	s->lookup = opt->lookup != NULL ? opt->lookup : spf_lookup_dns;
	s->lookup_arg = opt->lookup != NULL ? opt->lookup_arg : dns;
	s->receiver = xstrdup(opt->receiver != NULL && opt->receiver[0] != '\0'
	    ? opt->receiver : "localhost");
	s->lim.budget_ms = opt->time_budget_ms > 0 ? opt->time_budget_ms
	    : SPF_DEFAULT_BUDGET_MS;
	s->lim.max_terms = opt->max_terms > 0 ? opt->max_terms
	    : SPF_DEFAULT_TERMS;
	s->lim.max_void = opt->max_void != 0 ? opt->max_void : SPF_DEFAULT_VOID;
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

/* spf_engine_name - engine keyword */
const char *
spf_engine_name(enum spf_engine e)
{
	return e == SPF_ENGINE_LIBSPF2 ? "libspf2" : "builtin";
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

/* spf_copy - strlcpy: copy what fits; -1 when in was cut */
static int
spf_copy(char *out, size_t outlen, const char *in)
{
	size_t n = strlen(in);

	if (n >= outlen) {
		memcpy(out, in, outlen - 1);
		out[outlen - 1] = '\0';
		return -1;
	}
	memcpy(out, in, n + 1);
	return 0;
}

/*
 * spf_sanitize - copy in to out without control octets, truncating. 8-bit
 * octets (a UTF-8 local part) stay: writers that need ASCII (the A-R,
 * Received-SPF) leave such values out rather than alter them.
 */
static void
spf_sanitize(char *out, size_t outlen, const char *in)
{
	size_t i, n = 0;

	for (i = 0; in != NULL && in[i] != '\0' && n + 1 < outlen; i++)
		if ((unsigned char)in[i] >= 0x20 && in[i] != 0x7f)
			out[n++] = in[i];
	out[n] = '\0';
}

/* ---------------------------------------------------------------- check */

struct spf_client {
	int family;			/* AF_INET, AF_INET6; 0: unknown */
	struct in_addr v4;
	struct in6_addr v6;
	char text[INET6_ADDRSTRLEN];	/* canonical text form */
};

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
	spf_copy(out, outlen, p);
}

/*
 * spf_libspf2_run - run libspf2 over layer l for sender; returns its
 * result, its error code in *errp and its first error message in why
 */
static SPF_result_t
spf_libspf2_run(struct spf_layer *l, const char *receiver,
    const struct spf_client *c, const char *sender, const char *helo,
    SPF_errcode_t *errp, char *why, size_t whylen)
{
	SPF_server_t *srv;
	SPF_request_t *req;
	SPF_response_t *resp;
	SPF_record_t *rec = NULL;
	SPF_result_t res;
	SPF_errcode_t err;
	SPF_error_t *e;
	int i;

	srv = SPF_server_new_dns(&l->base, 0);
	if (srv == NULL)
		spf_oom();
	if (SPF_server_set_rec_dom(srv, receiver) != SPF_E_SUCCESS)
		spf_oom();
	SPF_server_set_max_dns_mech(srv, l->lim->max_terms);
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
	for (i = 0; i < SPF_response_messages(resp); i++) {
		e = SPF_response_message(resp, i);
		if (SPF_error_errorp(e) && SPF_error_message(e) != NULL) {
			spf_sanitize(why, whylen, SPF_error_message(e));
			break;
		}
	}
	SPF_response_free(resp);
	SPF_request_free(req);
	SPF_server_free(srv);
	return res;
}

/* spf_comment - set o's comment (a short cut is harmless here) */
static void __attribute__((format(printf, 2, 3)))
spf_comment(struct spf_outcome *o, const char *fmt, ...)
{
	char c[SPF_COMMENT_MAX];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(c, sizeof(c), fmt, ap);
	va_end(ap);
	spf_sanitize(o->comment, sizeof(o->comment), c);
}

/*
 * spf_explain_limit - result and comment when an engine stopped at a limit
 * (at name) or at the deadline
 */
static void
spf_explain_limit(const struct spf *s, struct spf_outcome *o,
    enum spf_eval_stop stop, const char *name)
{
	o->res = SPF_RES_PERMERROR;
	switch (stop) {
	case SPF_EVAL_STOP_TERMS:
		spf_comment(o, "SPF record of %s needs more than %d DNS-querying "
		    "terms", o->domain, s->lim.max_terms);
		break;
	case SPF_EVAL_STOP_VOID:
		spf_comment(o, "SPF record of %s needs more than %d void DNS "
		    "lookups", o->domain, s->lim.max_void);
		break;
	case SPF_EVAL_STOP_MXNAMES:
		spf_comment(o, "more than %d MX names for %s", SPF_MAX_NAMES,
		    name);
		break;
	case SPF_EVAL_STOP_DEPTH:
		spf_comment(o, "SPF record of %s nests include and redirect too "
		    "deep (at %s)", o->domain, name);
		break;
	default:		/* SPF_EVAL_STOP_BUDGET */
		o->res = SPF_RES_TEMPERROR;
		spf_comment(o, "SPF checks of this message took over %d ms "
		    "(evaluating %s)", s->lim.budget_ms, o->domain);
		break;
	}
}

/*
 * spf_explain - comment for result res with detail why (may be ""), for
 * sender and client address ip
 */
static void
spf_explain(struct spf_outcome *o, enum spf_res res, const char *why,
    const char *sender, const char *ip)
{
	o->res = res;
	switch (res) {
	case SPF_RES_PASS:
		spf_comment(o, "domain of %s designates %s as permitted sender",
		    sender, ip);
		break;
	case SPF_RES_FAIL:
		spf_comment(o, "domain of %s does not designate %s as permitted "
		    "sender", sender, ip);
		break;
	case SPF_RES_SOFTFAIL:
		spf_comment(o, "domain of transitioning %s does not designate %s "
		    "as permitted sender", sender, ip);
		break;
	case SPF_RES_NEUTRAL:
		spf_comment(o, "%s is neither permitted nor denied by domain of "
		    "%s", ip, sender);
		break;
	case SPF_RES_NONE:
		spf_comment(o, "domain of %s does not designate permitted sender "
		    "hosts", sender);
		break;
	case SPF_RES_TEMPERROR:
		spf_comment(o, "temporary DNS error evaluating the SPF record of "
		    "%s%s%s", o->domain, why[0] != '\0' ? ": " : "", why);
		break;
	default:		/* permerror */
		spf_comment(o, "permanent error in the SPF record of %s: %s",
		    o->domain, why[0] != '\0' ? why : "invalid record");
		break;
	}
}

/* spf_res_libspf2 - our result for libspf2's result res and error err */
static enum spf_res
spf_res_libspf2(SPF_result_t res, SPF_errcode_t err)
{
	switch (res) {
	case SPF_RESULT_PASS:		return SPF_RES_PASS;
	case SPF_RESULT_FAIL:		return SPF_RES_FAIL;
	case SPF_RESULT_SOFTFAIL:	return SPF_RES_SOFTFAIL;
	case SPF_RESULT_NEUTRAL:	return SPF_RES_NEUTRAL;
	case SPF_RESULT_NONE:		return SPF_RES_NONE;
	case SPF_RESULT_TEMPERROR:	return SPF_RES_TEMPERROR;
	case SPF_RESULT_INVALID:
		/* libspf2 1.2.10 leaves a DNS failure on the identity's own
		 * record, or a record that does not compile, as "invalid" */
		return err == SPF_E_DNS_ERROR ? SPF_RES_TEMPERROR
		    : SPF_RES_PERMERROR;
	default:			return SPF_RES_PERMERROR;
	}
}

/* spf_stop_eval - the layer's stop reason in the evaluator's terms */
static enum spf_eval_stop
spf_stop_eval(enum spf_stop stop)
{
	switch (stop) {
	case SPF_STOP_TERMS:	return SPF_EVAL_STOP_TERMS;
	case SPF_STOP_VOID:	return SPF_EVAL_STOP_VOID;
	case SPF_STOP_MXNAMES:	return SPF_EVAL_STOP_MXNAMES;
	default:		return SPF_EVAL_STOP_BUDGET;
	}
}

/*
 * spf_identity_libspf2 - one identity through libspf2: sender for
 * domain (in o), client c, HELO helo
 */
static void
spf_identity_libspf2(const struct spf *s, const char *qid,
    const struct spf_client *c, const char *sender, const char *helo,
    const struct timespec *deadline, struct spf_outcome *o)
{
	struct spf_layer *l;
	SPF_result_t res;
	SPF_errcode_t err = SPF_E_SUCCESS;
	char why[SPF_COMMENT_MAX / 2] = "";

	l = spf_layer_new(&s->lim, qid, deadline);
	res = spf_libspf2_run(l, s->receiver, c, sender, helo, &err, why,
	    sizeof(why));
	if (l->stop == SPF_STOP_RECORD) {
		o->res = SPF_RES_PERMERROR;
		spf_comment(o, "SPF record of %s has a term over %d characters",
		    l->stop_name, SPF_TERM_MAX);
	} else if (l->stop != SPF_STOP_NONE)
		spf_explain_limit(s, o, spf_stop_eval(l->stop), l->stop_name);
	else
		spf_explain(o, spf_res_libspf2(res, err), why[0] != '\0' ? why
		    : err != SPF_E_SUCCESS ? SPF_strerror(err) : "", sender,
		    c->text);
	o->lookups = l->queries;
	log_debug(qid, "spf: %s from %s: %s (%s; libspf2, %d queries, %d "
	    "terms, %d void)", sender, c->text, spf_res_name(o->res),
	    o->comment, l->queries, l->terms, l->voids);
	spf_layer_free(l);
}

/*
 * spf_identity_builtin - one identity through our evaluator: sender for
 * domain (in o), client c, HELO helo
 */
static void
spf_identity_builtin(const struct spf *s, const char *qid,
    const struct spf_client *c, const char *sender, const char *helo,
    const struct timespec *deadline, struct spf_outcome *o)
{
	struct spf_eval_options opt;
	struct spf_eval_request req;
	struct spf_eval_result r;

	memset(&opt, 0, sizeof(opt));
	opt.lookup = s->lookup;
	opt.lookup_arg = s->lookup_arg;
	opt.max_terms = s->lim.max_terms;
	opt.max_void = s->lim.max_void;
	opt.query_timeout_ms = s->lim.dns != NULL ? dns_timeout_ms(s->lim.dns) : 0;
	opt.deadline = *deadline;
	opt.qid = qid;
	memset(&req, 0, sizeof(req));
	req.family = c->family;
	if (c->family == AF_INET)
		memcpy(req.addr, &c->v4, 4);
	else
		memcpy(req.addr, &c->v6, 16);
	req.sender = sender;
	req.domain = o->domain;
	req.helo = helo;
	spf_eval_check(&opt, &req, &r);
	if (r.stop != SPF_EVAL_STOP_NONE)
		spf_explain_limit(s, o, r.stop, r.stop_name);
	else
		spf_explain(o, r.res, r.why, sender, c->text);
	o->lookups = r.queries;
	log_debug(qid, "spf: %s from %s: %s (%s; builtin, %d queries, %d "
	    "terms, %d void)", sender, c->text, spf_res_name(o->res),
	    o->comment, r.queries, r.terms, r.voids);
}

/*
 * spf_identity - check one identity: sender (local@domain) for domain, the
 * client c, HELO name helo; fills o (but its identity)
 */
static void
spf_identity(const struct spf *s, const char *qid, const struct spf_client *c,
    const char *sender, const char *domain, const char *helo,
    const struct timespec *deadline, struct spf_outcome *o)
{
	struct timespec now;

	if (o->domain != domain)
		spf_copy(o->domain, sizeof(o->domain), domain);
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec > deadline->tv_sec || (now.tv_sec == deadline->tv_sec
	    && now.tv_nsec >= deadline->tv_nsec)) {
		/* an earlier identity of this message spent the budget */
		o->res = SPF_RES_TEMPERROR;
		spf_comment(o, "not evaluated: SPF checks of this message took "
		    "over %d ms", s->lim.budget_ms);
		log_debug(qid, "spf: %s from %s: %s (%s)", sender, c->text,
		    spf_res_name(o->res), o->comment);
		return;
	}
	if (s->engine == SPF_ENGINE_LIBSPF2)
		spf_identity_libspf2(s, qid, c, sender, helo, deadline, o);
	else
		spf_identity_builtin(s, qid, c, sender, helo, deadline, o);
}

/* spf_strip_dot - drop one trailing dot of a domain name */
static void
spf_strip_dot(char *d)
{
	size_t n = strlen(d);

	if (n > 1 && d[n - 1] == '.')
		d[n - 1] = '\0';
}

/* spf_check_helo - the HELO identity (postmaster@hdom) into out->helo */
static void
spf_check_helo(struct spf *s, const char *qid, const struct spf_client *c,
    const char *hdom, const struct timespec *deadline, struct spf_result *out)
{
	char sender[SPF_IDENTITY_MAX];

	spf_copy(out->helo.identity, sizeof(out->helo.identity), hdom);
	if (!spf_domain_ok(hdom)) {
		out->helo.res = SPF_RES_NONE;
		spf_comment(&out->helo, "HELO %s is not a domain name", hdom);
		return;
	}
	if (snprintf(sender, sizeof(sender), "postmaster@%s", hdom) >=
	    (int)sizeof(sender))
		return;		/* cannot happen: hdom is at most 253 */
	spf_identity(s, qid, c, sender, hdom, hdom, deadline, &out->helo);
}

/*
 * spf_alabel - a domain written in U-labels (SMTPUTF8) into its A-labels
 * in place, as DNS is asked and DMARC compares; anything else is kept
 * for spf_domain_ok to judge
 */
static void
spf_alabel(char *domain, size_t len)
{
	char a[MAILADDR_DOMAIN_MAX + 1];
	const char *p;

	for (p = domain; *p != '\0' && (unsigned char)*p < 0x80; p++)
		;
	if (*p != '\0' && mailaddr_domain_alabel(domain, a, sizeof(a)) == 0)
		(void)spf_copy(domain, len, a);	/* a fits: both hold 253 */
}

/* spf_check_mailfrom - the MAIL FROM identity path into out->mailfrom */
static void
spf_check_mailfrom(struct spf *s, const char *qid, const struct spf_client *c,
    char *path, const char *hdom, const struct timespec *deadline,
    struct spf_result *out)
{
	struct spf_outcome *o = &out->mailfrom;
	const char *local = "postmaster", *domain = path;
	char *at = strrchr(path, '@');
	int bad;

	/* local@domain; a bare domain stands for postmaster@domain */
	if (at != NULL) {
		*at = '\0';
		if (path[0] != '\0')
			local = path;
		domain = at + 1;
	}
	bad = spf_copy(o->domain, sizeof(o->domain), domain) < 0;
	spf_strip_dot(o->domain);
	spf_alabel(o->domain, sizeof(o->domain));
	if (snprintf(o->identity, sizeof(o->identity), "%s@%s", local,
	    o->domain) >= (int)sizeof(o->identity))
		bad = 1;
	if (bad || !spf_domain_ok(o->domain)) {
		o->res = SPF_RES_NONE;
		spf_comment(o, "MAIL FROM domain %s is not a domain name",
		    o->domain);
		o->domain[0] = '\0';
		return;
	}
	spf_identity(s, qid, c, o->identity, o->domain,
	    spf_domain_ok(hdom) ? hdom : "unknown", deadline, o);
}

/* spf_deadline - now plus the budget of one message's checks */
static void
spf_deadline(const struct spf *s, struct timespec *t)
{
	clock_gettime(CLOCK_MONOTONIC, t);
	t->tv_sec += s->lim.budget_ms / 1000;
	t->tv_nsec += (long)(s->lim.budget_ms % 1000) * 1000000L;
	if (t->tv_nsec >= 1000000000L) {
		t->tv_sec++;
		t->tv_nsec -= 1000000000L;
	}
}

/*
 * spf_check - MAIL FROM and HELO checks under one time budget: the MTA
 * waits for the MAIL FROM reply (when one is asked for) only so long
 */
void
spf_check(struct spf *s, const char *qid, const char *client_ip,
    const char *mailfrom, const char *helo, struct spf_result *out)
{
	struct spf_client c;
	char path[SPF_IDENTITY_MAX], hdom[SPF_DOMAIN_MAX];
	struct timespec deadline;

	memset(out, 0, sizeof(*out));
	spf_client_parse(client_ip, &c);
	spf_sanitize(out->client_ip, sizeof(out->client_ip),
	    c.family != 0 ? c.text : (client_ip != NULL ? client_ip : ""));
	spf_path_parse(mailfrom, path, sizeof(path));
	spf_copy(out->envelope_from, sizeof(out->envelope_from), path);
	spf_sanitize(out->helo_name, sizeof(out->helo_name), helo);
	spf_copy(hdom, sizeof(hdom), out->helo_name);
	spf_strip_dot(hdom);

	if (c.family == 0) {
		spf_copy(out->mailfrom.identity, sizeof(out->mailfrom.identity),
		    path);
		spf_copy(out->helo.identity, sizeof(out->helo.identity), hdom);
		spf_comment(&out->mailfrom, "no client IP address to check");
		spf_comment(&out->helo, "no client IP address to check");
		return;		/* both none */
	}
	spf_deadline(s, &deadline);
	if (path[0] != '\0') {
		spf_check_mailfrom(s, qid, &c, path, hdom, &deadline, out);
		if (s->check_helo)
			spf_check_helo(s, qid, &c, hdom, &deadline, out);
		else {
			spf_copy(out->helo.identity, sizeof(out->helo.identity),
			    hdom);
			spf_comment(&out->helo, "HELO not checked");
		}
		return;
	}
	/* RFC 7208 2.4: the null sender is postmaster@HELO, which is also
	 * what the HELO check evaluates: one evaluation serves both */
	spf_check_helo(s, qid, &c, hdom, &deadline, out);
	out->mailfrom = out->helo;
	if (snprintf(out->mailfrom.identity, sizeof(out->mailfrom.identity),
	    "postmaster@%s", hdom) >= (int)sizeof(out->mailfrom.identity))
		out->mailfrom.identity[0] = '\0';	/* cannot happen */
	if (!spf_domain_ok(hdom))
		spf_comment(&out->mailfrom, "null sender and HELO %s is not a "
		    "domain name", hdom);
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
