/*
 * metrics.c - the Prometheus endpoint (metrics_listen): the counters of
 * base/stats.h and gauges read at scrape time, as text exposition 0.0.4.
 *
 * Threading: libmicrohttpd runs one thread of its own (poll, so a
 * descriptor number above FD_SETSIZE is fine) that answers one request
 * at a time: GET (or HEAD) /metrics, 404 for any other path, 405 for any
 * other method. A scrape sums the counter shards (no lock), and pins the
 * current configuration snapshot as a connection does (config_acquire)
 * to count its domains and keys; the message path never waits for it.
 * The socket is ours (bound at start, after the privilege drop, so a bind
 * failure is a start error with its reason); the HTTP is libmicrohttpd's.
 * metrics_listen is read at start only: a reload that changes it logs
 * that it takes a restart.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "base/cidr.h"
#include "base/log.h"
#include "base/stats.h"
#include "base/xalloc.h"
#include "auth/dkim_verify.h"
#include "auth/dmarc.h"
#include "auth/keys.h"
#include "auth/spf.h"
#include "policy/config.h"
#include "daemon/metrics.h"
#include "daemon/state.h"

#define METRICS_PREFIX "authmilter_"
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define METRICS_MAX_CLIENTS 8		/* scrapers served at once */
#define METRICS_CLIENT_TIMEOUT 10	/* seconds a silent one is kept */

_Static_assert(KEY_ED25519 + 1 == STATS_NKEY_TYPES, "key types");
_Static_assert(KEY_PUB_UNKNOWN + 1 == STATS_NKEY_STATES, "key states");
_Static_assert(SPF_RES_PERMERROR + 1 == STATS_NSPF, "SPF results");
_Static_assert(DKIM_VERIFY_PERMERROR + 1 == STATS_NDKIM, "DKIM results");
_Static_assert(DMARC_RESULT_PERMERROR + 1 == STATS_NDMARC, "DMARC results");
_Static_assert(STATS_DKIM_NONE == STATS_DKIM + STATS_NDKIM,
    "dkim_results_total{result=\"none\"} follows the DKIM results");

static const char *const metrics_outcomes[STATS_NOUTCOMES] = {
	"accept", "quarantine", "tempfail", "reject" };
static const char *const metrics_unsigned[STATS_NUNSIGNED] = {
	"no_from_domain", "no_domain_block", "unauthorized", "no_usable_key",
	"internal_error" };
static const char *const metrics_refusals[STATS_NBOUNCE_REFUSALS] = {
	"malformed", "bad_mac", "expired", "unknown_local", "other" };
static const char *const metrics_kept[STATS_NBOUNCE_KEPT] = {
	"too_long_no_store", "store_failed", "bounce_domain_broken" };
static const char *const metrics_dns_errors[STATS_NDNS_ERRORS] = {
	"timeout", "servfail", "refused", "other_rcode", "bogus", "resolver" };
static const char *const metrics_algs[STATS_NKEY_TYPES] = {
	[KEY_RSA] = "rsa-sha256", [KEY_ED25519] = "ed25519-sha256" };
/* enum stats_action as its two labels: the action, and why */
static const char *const metrics_actions[STATS_NACTIONS][2] = {
	[STATS_ACTION_SPF_REJECT] = { "reject", "spf" },
	[STATS_ACTION_DMARC_REJECT] = { "reject", "dmarc" },
	[STATS_ACTION_DMARC_QUARANTINE] = { "quarantine", "dmarc" },
	[STATS_ACTION_DMARC_TEMPFAIL] = { "tempfail", "dmarc_dns" },
	[STATS_ACTION_BAD_FROM_REJECT] = { "reject", "bad_from" },
	[STATS_ACTION_FORGED_REJECT] = { "reject", "forged_headers" },
	[STATS_ACTION_HEADER_OVERFLOW_REJECT] = { "reject", "header_overflow" },
	[STATS_ACTION_UNAUTHORIZED_REJECT] = { "reject", "unauthorized_from" },
	[STATS_ACTION_INTERNAL_ACCEPT] = { "accept", "internal_error" },
	[STATS_ACTION_INTERNAL_TEMPFAIL] = { "tempfail", "internal_error" },
};

/* metrics_v_messages - mode and outcome of slot i */
static void
metrics_v_messages(size_t i, const char *v[2])
{
	v[0] = stats_mode_name((enum stats_mode)(i / STATS_NOUTCOMES));
	v[1] = metrics_outcomes[i % STATS_NOUTCOMES];
}

/* metrics_v_signatures - algorithm and key state of slot i */
static void
metrics_v_signatures(size_t i, const char *v[2])
{
	v[0] = metrics_algs[i / STATS_NKEY_STATES];
	v[1] = keys_pub_name((enum key_pub)(i % STATS_NKEY_STATES));
}

/* metrics_v_keycheck - what key check lookup slot i found */
static void
metrics_v_keycheck(size_t i, const char *v[2])
{
	v[0] = keys_pub_name((enum key_pub)i);
}

/* metrics_v_unsigned - the reason of slot i */
static void
metrics_v_unsigned(size_t i, const char *v[2])
{
	v[0] = metrics_unsigned[i];
}

/* metrics_v_spf - the SPF result of slot i */
static void
metrics_v_spf(size_t i, const char *v[2])
{
	v[0] = spf_res_name((enum spf_res)i);
}

/* metrics_v_dkim - the DKIM result of slot i; the last: no signature */
static void
metrics_v_dkim(size_t i, const char *v[2])
{
	v[0] = i < STATS_NDKIM ? dkim_verify_res_name((enum dkim_verify_res)i)
	    : "none";
}

/* metrics_v_dmarc - the DMARC result of slot i */
static void
metrics_v_dmarc(size_t i, const char *v[2])
{
	v[0] = dmarc_result_name((enum dmarc_result)i);
}

/* metrics_v_actions - action and reason of slot i */
static void
metrics_v_actions(size_t i, const char *v[2])
{
	v[0] = metrics_actions[i][0];
	v[1] = metrics_actions[i][1];
}

/* metrics_v_refusals - why slot i's bounces were refused */
static void
metrics_v_refusals(size_t i, const char *v[2])
{
	v[0] = metrics_refusals[i];
}

/* metrics_v_kept - why slot i's senders were not rewritten */
static void
metrics_v_kept(size_t i, const char *v[2])
{
	v[0] = metrics_kept[i];
}

/* metrics_v_dns - the error kind of slot i */
static void
metrics_v_dns(size_t i, const char *v[2])
{
	v[0] = metrics_dns_errors[i];
}

/* metrics_v_reloads - ok or failed */
static void
metrics_v_reloads(size_t i, const char *v[2])
{
	v[0] = i == 0 ? "ok" : "failed";
}

/* metrics_v_history - why a history record was dropped */
static void
metrics_v_history(size_t i, const char *v[2])
{
	v[0] = i == 0 ? "queue_full" : "store_unavailable";
}

/* A counter family: a block of slots and the labels of each. */
struct metrics_counter {
	const char *name;		/* after the prefix; ends in _total */
	const char *help;		/* one line */
	size_t slot;			/* its first slot (enum stats_counter) */
	size_t n;			/* its slots */
	const char *label[2];		/* label names (NULL: fewer) */
	void (*values)(size_t i, const char *v[2]);	/* slot i's label values */
};

static const struct metrics_counter metrics_counters[] = {
	{ "messages_total", "Messages ended, by mode (sign, unsigned, verify, "
	  "pass) and outcome", STATS_MESSAGES, STATS_NMODES * STATS_NOUTCOMES,
	  { "mode", "outcome" }, metrics_v_messages },
	{ "messages_aborted_total", "Messages the MTA abandoned before their end",
	  STATS_MESSAGES_ABORTED, 1, { NULL, NULL }, NULL },
	{ "signatures_total", "DKIM signatures made, by algorithm and the key's "
	  "DNS publication state when signing", STATS_SIGNATURES,
	  STATS_NKEY_TYPES * STATS_NKEY_STATES, { "algorithm", "key_state" },
	  metrics_v_signatures },
	{ "unsigned_messages_total", "Trusted clients' messages sent on without "
	  "our signature, by reason", STATS_UNSIGNED, STATS_NUNSIGNED,
	  { "reason", NULL }, metrics_v_unsigned },
	{ "spf_results_total", "SPF results of MAIL FROM, inbound", STATS_SPF,
	  STATS_NSPF, { "result", NULL }, metrics_v_spf },
	{ "dkim_results_total", "DKIM results of the signatures verified, "
	  "inbound (none: a message without any)", STATS_DKIM, STATS_NDKIM + 1,
	  { "result", NULL }, metrics_v_dkim },
	{ "dmarc_results_total", "DMARC results, inbound", STATS_DMARC,
	  STATS_NDMARC, { "result", NULL }, metrics_v_dmarc },
	{ "policy_actions_total", "Policy actions taken, by action and reason",
	  STATS_ACTIONS, STATS_NACTIONS, { "action", "reason" },
	  metrics_v_actions },
	{ "bounce_addresses_issued_total", "Envelope senders rewritten into a "
	  "bounce domain", STATS_BOUNCE_ISSUED, 1, { NULL, NULL }, NULL },
	{ "bounce_addresses_accepted_total", "Bounces to a bounce address that "
	  "verified, returned to the original sender", STATS_BOUNCE_ACCEPTED, 1,
	  { NULL, NULL }, NULL },
	{ "bounce_addresses_refused_total", "Recipients in a bounce domain "
	  "refused, by reason", STATS_BOUNCE_REFUSED, STATS_NBOUNCE_REFUSALS,
	  { "reason", NULL }, metrics_v_refusals },
	{ "bounce_addresses_stored_total", "Bounce addresses issued in the "
	  "stored form (sender kept in the store under a token); also in "
	  "issued_total", STATS_BOUNCE_STORED, 1, { NULL, NULL }, NULL },
	{ "bounce_rewrites_skipped_total", "Signed messages sent with their "
	  "own envelope sender although their domain has a bounce domain, by "
	  "reason", STATS_BOUNCE_KEPT, STATS_NBOUNCE_KEPT, { "reason", NULL },
	  metrics_v_kept },
	{ "dns_queries_total", "DNS queries ended (answered, failed or given "
	  "up)", STATS_DNS_QUERIES, 1, { NULL, NULL }, NULL },
	{ "dns_cache_hits_total", "DNS lookups answered from authmilter's own "
	  "cache, without a query", STATS_DNS_CACHE_HITS, 1, { NULL, NULL },
	  NULL },
	{ "key_check_lookups_total", "Key record lookups of the key check "
	  "ended, by what they found (unknown: no DNS answer)", STATS_KEYCHECK,
	  STATS_NKEY_STATES, { "result", NULL }, metrics_v_keycheck },
	{ "dns_errors_total", "DNS queries without an answer, by kind",
	  STATS_DNS_ERRORS, STATS_NDNS_ERRORS, { "kind", NULL }, metrics_v_dns },
	{ "reloads_total", "Configuration reloads, by result", STATS_RELOADS, 2,
	  { "result", NULL }, metrics_v_reloads },
	{ "history_records_written_total", "DMARC history records stored "
	  "(history)", STATS_HISTORY_WRITTEN, 1, { NULL, NULL }, NULL },
	{ "history_records_dropped_total", "DMARC history records dropped, by "
	  "reason (the queue full, the store unavailable)",
	  STATS_HISTORY_DROPPED, 2, { "reason", NULL }, metrics_v_history },
};

/* A histogram: its name (after the prefix, before _bucket) and help. */
struct metrics_histogram {
	const char *name;
	const char *help;
	enum stats_histogram h;
};

static const struct metrics_histogram metrics_histograms[] = {
	{ "dns_query_duration_seconds", "Time from a DNS query to its answer "
	  "(or to giving up)", STATS_H_DNS },
	{ "eom_duration_seconds", "Time from the end of a message to our reply "
	  "(signing or verifying, and the edits)", STATS_H_EOM },
	{ "reload_duration_seconds", "Time a configuration reload took",
	  STATS_H_RELOAD },
};

/* metrics_escape - a label value, escaped */
void
metrics_escape(const char *value, struct buf *out)
{
	const char *p;

	for (p = value; *p != '\0'; p++) {
		if (*p == '\\')
			buf_puts(out, "\\\\");
		else if (*p == '"')
			buf_puts(out, "\\\"");
		else if (*p == '\n')
			buf_puts(out, "\\n");
		else
			buf_putc(out, *p);
	}
}

/* metrics_help - the # HELP and # TYPE lines of one family */
static void
metrics_help(struct buf *out, const char *name, const char *help,
    const char *type)
{
	const char *p;

	buf_printf(out, "# HELP " METRICS_PREFIX "%s ", name);
	for (p = help; *p != '\0'; p++) {	/* HELP escapes \ and newline */
		if (*p == '\\')
			buf_puts(out, "\\\\");
		else if (*p == '\n')
			buf_puts(out, "\\n");
		else
			buf_putc(out, *p);
	}
	buf_printf(out, "\n# TYPE " METRICS_PREFIX "%s %s\n", name, type);
}

/* metrics_seconds - microseconds as decimal seconds, exact, no trailing zeros */
static void
metrics_seconds(struct buf *out, uint64_t usec)
{
	char frac[8];
	int n = 6;

	buf_printf(out, "%llu", (unsigned long long)(usec / 1000000));
	if (usec % 1000000 == 0)
		return;
	(void)snprintf(frac, sizeof(frac), "%06llu",
	    (unsigned long long)(usec % 1000000));
	while (n > 0 && frac[n - 1] == '0')
		frac[--n] = '\0';
	buf_printf(out, ".%s", frac);
}

/* metrics_render_counter - one counter family, every slot */
static void
metrics_render_counter(struct buf *out, const struct metrics_counter *f,
    const struct stats_snapshot *s)
{
	const char *v[2];
	size_t i, l;

	metrics_help(out, f->name, f->help, "counter");
	for (i = 0; i < f->n; i++) {
		buf_printf(out, METRICS_PREFIX "%s", f->name);
		if (f->values != NULL) {
			v[0] = v[1] = NULL;
			f->values(i, v);
			for (l = 0; l < 2 && f->label[l] != NULL; l++) {
				buf_printf(out, "%s%s=\"", l ? "," : "{",
				    f->label[l]);
				metrics_escape(v[l] != NULL ? v[l] : "", out);
				buf_putc(out, '"');
			}
			buf_putc(out, '}');
		}
		buf_printf(out, " %llu\n", (unsigned long long)s->slot[f->slot + i]);
	}
}

/* metrics_render_histogram - cumulative buckets, +Inf, sum and count */
static void
metrics_render_histogram(struct buf *out, const struct metrics_histogram *f,
    const struct stats_snapshot *s)
{
	const uint64_t *bound = stats_bounds(f->h), *count = s->hist[f->h];
	unsigned long long cum = 0;
	size_t b;

	metrics_help(out, f->name, f->help, "histogram");
	for (b = 0; b < STATS_NBOUNDS; b++) {
		cum += count[b];
		buf_printf(out, METRICS_PREFIX "%s_bucket{le=\"", f->name);
		metrics_seconds(out, bound[b]);
		buf_printf(out, "\"} %llu\n", cum);
	}
	cum += count[STATS_NBOUNDS];
	buf_printf(out, METRICS_PREFIX "%s_bucket{le=\"+Inf\"} %llu\n",
	    f->name, cum);
	buf_printf(out, METRICS_PREFIX "%s_sum ", f->name);
	metrics_seconds(out, count[STATS_NBOUNDS + 1]);
	buf_printf(out, "\n" METRICS_PREFIX "%s_count %llu\n", f->name, cum);
}

/* metrics_render_gauges - the state of the moment */
static void
metrics_render_gauges(struct buf *out, const struct stats_snapshot *s,
    const struct metrics_gauges *g)
{
	size_t i;

	metrics_help(out, "connections_open", "MTA connections open", "gauge");
	buf_printf(out, METRICS_PREFIX "connections_open %ld\n", g->connections);
	metrics_help(out, "connections_parked", "MTA connections open and "
	    "silent, parked without a thread", "gauge");
	buf_printf(out, METRICS_PREFIX "connections_parked %ld\n", g->parked);
	metrics_help(out, "messages_in_flight", "Messages between MAIL FROM "
	    "and their end", "gauge");
	buf_printf(out, METRICS_PREFIX "messages_in_flight %ld\n", g->in_flight);
	if (g->have_config) {
		metrics_help(out, "domains", "Domain blocks in the running "
		    "configuration", "gauge");
		buf_printf(out, METRICS_PREFIX "domains %zu\n", g->domains);
		metrics_help(out, "keys", "Keys in the running configuration, "
		    "by DNS publication state", "gauge");
		for (i = 0; i < STATS_NKEY_STATES; i++)
			buf_printf(out, METRICS_PREFIX "keys{state=\"%s\"} %zu\n",
			    keys_pub_name((enum key_pub)i), g->keys[i]);
		metrics_help(out, "bounce_domains", "Bounce domains in the "
		    "running configuration, by DNS state (bounce_check; broken: "
		    "not rewritten into)", "gauge");
		for (i = 0; i < BOUNCE_NHEALTH; i++)
			buf_printf(out, METRICS_PREFIX "bounce_domains{state=\"%s\"} "
			    "%zu\n", bouncecheck_health_name((enum bounce_health)i),
			    g->bounce[i]);
	}
	metrics_help(out, "config_generation", "Configuration snapshots "
	    "installed since the start (1: the start's; one more each reload)",
	    "gauge");
	buf_printf(out, METRICS_PREFIX "config_generation %llu\n",
	    (unsigned long long)s->slot[STATS_GENERATION]);
	metrics_help(out, "start_time_seconds", "When the daemon started, in "
	    "seconds since the Unix epoch", "gauge");
	buf_printf(out, METRICS_PREFIX "start_time_seconds %lld\n",
	    (long long)g->start.tv_sec);
	metrics_help(out, "build_info", "The daemon's version and milter "
	    "engine (value 1)", "gauge");
	buf_puts(out, METRICS_PREFIX "build_info{version=\"");
	metrics_escape(g->version != NULL ? g->version : "", out);
	buf_puts(out, "\",engine=\"");
	metrics_escape(g->engine != NULL ? g->engine : "", out);
	buf_puts(out, "\"} 1\n");
}

/* metrics_render - the whole exposition */
void
metrics_render(const struct stats_snapshot *s, const struct metrics_gauges *g,
    struct buf *out)
{
	size_t i;

	for (i = 0; i < sizeof(metrics_counters) / sizeof(metrics_counters[0]);
	    i++)
		metrics_render_counter(out, &metrics_counters[i], s);
	for (i = 0; i < sizeof(metrics_histograms)
	    / sizeof(metrics_histograms[0]); i++)
		metrics_render_histogram(out, &metrics_histograms[i], s);
	metrics_render_gauges(out, s, g);
}

/* The running server (set at start, read by its thread, cleared at stop). */
static struct MHD_Daemon *metrics_daemon;
static int metrics_fd = -1;		/* the listening socket */
static struct metrics_options metrics_opt;	/* from the start */
static char *metrics_listen;		/* metrics_listen at start (owned) */

/* metrics_config_gauges - domains and keys of the current snapshot, pinned meanwhile */
static void
metrics_config_gauges(struct metrics_gauges *g)
{
	struct config *c = config_acquire();
	const struct config_domain *d;
	enum key_pub p;
	size_t i, k;

	if (c == NULL)
		return;
	g->have_config = 1;
	g->domains = c->ndomains;
	for (i = 0; i < c->ndomains; i++) {
		d = &c->domains[i];
		for (k = 0; k < d->nkeys; k++) {
			p = keys_pub_get(&d->keys[k]);
			if ((unsigned)p < STATS_NKEY_STATES)
				g->keys[p]++;
		}
	}
	for (i = 0; i < c->nbounce; i++) {
		enum bounce_health h = bouncecheck_get(c->by_bounce[i], NULL);

		if ((unsigned)h < BOUNCE_NHEALTH)
			g->bounce[h]++;
	}
	config_release(c);
}

/* metrics_scrape - the exposition of this moment */
static void
metrics_scrape(struct buf *out)
{
	struct stats_snapshot s;
	struct metrics_gauges g;

	memset(&g, 0, sizeof(g));
	stats_read(&s);
	g.connections = metrics_opt.sessions != NULL ? metrics_opt.sessions() : 0;
	g.parked = metrics_opt.parked != NULL ? metrics_opt.parked() : 0;
	g.in_flight = state_messages_in_flight();
	metrics_config_gauges(&g);
	g.start = metrics_opt.start;
	g.version = PACKAGE_VERSION;
	g.engine = metrics_opt.engine;
	metrics_render(&s, &g, out);
}

/* metrics_answer - libmicrohttpd's request handler: GET /metrics, else 404 or 405 */
static enum MHD_Result
metrics_answer(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_size, void **con_cls)
{
	struct MHD_Response *r;
	struct buf body = BUF_INIT;
	unsigned int status = MHD_HTTP_OK;
	enum MHD_Result rc;
	size_t len;

	(void)cls;
	(void)version;
	(void)upload;
	(void)upload_size;
	(void)con_cls;
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0
	    && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
		status = MHD_HTTP_METHOD_NOT_ALLOWED;
		buf_puts(&body, "only GET /metrics here\n");
	} else if (strcmp(url, "/metrics") != 0) {
		status = MHD_HTTP_NOT_FOUND;
		buf_puts(&body, "not found: the metrics are at /metrics\n");
	} else {
		metrics_scrape(&body);
	}
	len = body.len;
	r = MHD_create_response_from_buffer(len, buf_steal(&body),
	    MHD_RESPMEM_MUST_FREE);
	if (r == NULL)
		return MHD_NO;
	(void)MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
	    status == MHD_HTTP_OK ? METRICS_CONTENT_TYPE
	    : "text/plain; charset=utf-8");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		(void)MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW,
		    "GET, HEAD");
	rc = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return rc;
}

/* metrics_mhd_log - libmicrohttpd's error messages, into our log */
static void
metrics_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];
	size_t n;

	(void)cls;
	(void)vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n > 0 && line[n - 1] == '\n')
		line[--n] = '\0';
	log_warn(NULL, "metrics: %s", line);
}

/* metrics_socket - a listening TCP socket on spec; the descriptor, or -1 with err */
static int
metrics_socket(const char *spec, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	char eb[128];
	int fd, one = 1;

	if (cidr_parse_hostport(spec, &ss, &sslen, err, errlen) != 0)
		return -1;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return log_fail(err, errlen, "cannot listen for metrics on %s: "
		    "socket: %s", spec, log_errstr(errno, eb, sizeof(eb)));
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sslen) != 0
	    || listen(fd, 16) != 0) {
		(void)log_fail(err, errlen, "cannot listen for metrics on %s: %s",
		    spec, log_errstr(errno, eb, sizeof(eb)));
		close(fd);
		return -1;
	}
	return fd;
}

/* metrics_start - bind o->listen and start libmicrohttpd's thread on it */
int
metrics_start(const struct metrics_options *o, char *err, size_t errlen)
{
	if (o->listen == NULL || o->listen[0] == '\0')
		return 0;
	metrics_opt = *o;
	if ((metrics_fd = metrics_socket(o->listen, err, errlen)) < 0)
		return -1;
	/* MHD_USE_ITC: MHD_quiesce_daemon hands the socket back at stop */
	metrics_daemon = MHD_start_daemon(MHD_USE_POLL_INTERNAL_THREAD
	    | MHD_USE_ITC | MHD_USE_ERROR_LOG, 0, NULL, NULL, metrics_answer, NULL,
	    MHD_OPTION_EXTERNAL_LOGGER, metrics_mhd_log, NULL,	/* first */
	    MHD_OPTION_LISTEN_SOCKET, (MHD_socket)metrics_fd,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)METRICS_MAX_CLIENTS,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)METRICS_CLIENT_TIMEOUT,
	    MHD_OPTION_END);
	if (metrics_daemon == NULL) {
		close(metrics_fd);
		metrics_fd = -1;
		return log_fail(err, errlen, "cannot serve metrics on %s: "
		    "libmicrohttpd did not start", o->listen);
	}
	metrics_listen = xstrdup(o->listen);
	metrics_opt.listen = metrics_listen;
	log_notice(NULL, "metrics on http://%s/metrics", o->listen);
	return 0;
}

/* metrics_reload - log a change of metrics_listen: it takes a restart */
void
metrics_reload(const char *listen)
{
	const char *now = metrics_listen != NULL ? metrics_listen : "";

	if (listen == NULL)
		listen = "";
	if (strcmp(listen, now) != 0)
		log_warn(NULL, "metrics_listen changed to \"%s\": it takes a "
		    "restart; metrics still %s%s", listen, now[0] != '\0' ?
		    "served on " : "off", now);
}

/*
 * metrics_stop - stop libmicrohttpd's thread and close the socket; the
 * socket is ours, taken back from it first (else it would close it too)
 */
void
metrics_stop(void)
{
	if (metrics_daemon != NULL) {
		(void)MHD_quiesce_daemon(metrics_daemon);
		MHD_stop_daemon(metrics_daemon);
	}
	metrics_daemon = NULL;
	if (metrics_fd >= 0)
		close(metrics_fd);
	metrics_fd = -1;
	free(metrics_listen);
	metrics_listen = NULL;
	metrics_opt.listen = NULL;
}
