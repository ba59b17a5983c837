/*
 * milterload.c - load generator and test client speaking the MTA side of
 * the Sendmail milter protocol (version 6), as Postfix does.
 *
 * This file: options, start-up, threads, the final report. See
 * milterload.h for how the work is split and shared between threads.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <libmilter/mfdef.h>

#include "milterload.h"

#define MAX_CONNS	4096		/* upper bound for -c */

const char *const err_names[E_COUNT] = {
	"protocol", "timeout", "disconnect", "connect", "io"
};
const char *const mod_names[M_COUNT] = {
	"addheader", "insheader", "chgheader", "chgfrom", "addrcpt",
	"addrcpt_par", "delrcpt", "replbody", "quarantine", "progress"
};

struct opts opt;
struct tmpl tmpl;

/* fatal - print a message and exit(2); start-up only */
void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("milterload: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(2);
}

/* cwarn - print a message tagged with the connection and message */
void
cwarn(const struct conn *c, const struct msg *m, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	if (m != NULL)
		n = snprintf(line, sizeof(line), "milterload: conn %u msg %u: ",
		    c->id, m->idx);
	else
		n = snprintf(line, sizeof(line), "milterload: conn %u: ", c->id);
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s\n", line);	/* one stdio call: lines stay whole */
}

/* xmalloc - malloc or die */
void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		fatal("out of memory");
	return p;
}

/* xstrdup - strdup or die */
char *
xstrdup(const char *s)
{
	char *p = strdup(s);

	if (p == NULL)
		fatal("out of memory");
	return p;
}

/* now_mono - monotonic clock in seconds */
double
now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* parse_size - "1024", "10k", "1m", "20m": bytes, or (size_t)-1 */
static size_t
parse_size(const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s)
		return (size_t)-1;
	if (*end == 'k' || *end == 'K')
		v <<= 10, end++;
	else if (*end == 'm' || *end == 'M')
		v <<= 20, end++;
	if (*end != '\0' || v > (1ULL << 30))
		return (size_t)-1;
	return (size_t)v;
}

/* parse_uint - decimal in [lo, hi] or die naming the option */
static unsigned long
parse_uint(const char *s, unsigned long lo, unsigned long hi, int optc)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
		fatal("-%c: want a number from %lu to %lu, not \"%s\"",
		    optc, lo, hi, s);
	return v;
}

/* addr_is_loopback - the milter address is in 127.0.0.0/8 or ::1 */
static int
addr_is_loopback(const struct sockaddr *sa)
{
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

	if (sa->sa_family == AF_INET)
		return (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
	if (sa->sa_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr) ||
		    (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr) &&
		    s6->sin6_addr.s6_addr[12] == 127);
	return 0;
}

/* sock_parse - resolve -S unix:PATH, inet:PORT@HOST, inet6:PORT@HOST into
 * the k-th milter's address */
static void
sock_parse(const char *spec, unsigned k)
{
	struct sockaddr_un *sun = (struct sockaddr_un *)&opt.addr[k];
	struct addrinfo hints, *res;
	char host[256], port[16];
	const char *rest, *at;
	size_t n;
	int rc;

	memset(&opt.addr[k], 0, sizeof(opt.addr[k]));
	if (strncmp(spec, "unix:", 5) == 0 || strncmp(spec, "local:", 6) == 0) {
		rest = strchr(spec, ':') + 1;
		if (strlen(rest) >= sizeof(sun->sun_path) || *rest == '\0')
			fatal("-S %s: bad socket path", spec);
		sun->sun_family = AF_UNIX;
		memcpy(sun->sun_path, rest, strlen(rest) + 1);
		opt.addrlen[k] = sizeof(*sun);
		return;
	}
	memset(&hints, 0, sizeof(hints));
	if (strncmp(spec, "inet:", 5) == 0) {
		hints.ai_family = AF_INET;
		rest = spec + 5;
	} else if (strncmp(spec, "inet6:", 6) == 0) {
		hints.ai_family = AF_INET6;
		rest = spec + 6;
	} else
		fatal("-S %s: want unix:PATH, inet:PORT@HOST or inet6:PORT@HOST",
		    spec);
	at = strchr(rest, '@');
	n = at ? (size_t)(at - rest) : strlen(rest);
	if (n == 0 || n >= sizeof(port))
		fatal("-S %s: bad port", spec);
	memcpy(port, rest, n);
	port[n] = '\0';
	rest = at ? at + 1 : (hints.ai_family == AF_INET ? "127.0.0.1" : "::1");
	if (*rest == '[')
		rest++;
	n = strcspn(rest, "]");
	if (n == 0 || n >= sizeof(host))
		fatal("-S %s: bad host", spec);
	memcpy(host, rest, n);
	host[n] = '\0';
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0)
		fatal("-S %s: %s", spec, gai_strerror(rc));
	if (!addr_is_loopback(res->ai_addr)) {
		freeaddrinfo(res);
		fatal("-S %s: refusing a non-loopback address (only 127.0.0.0/8 "
		    "and ::1)", spec);
	}
	memcpy(&opt.addr[k], res->ai_addr, res->ai_addrlen);
	opt.addrlen[k] = res->ai_addrlen;
	freeaddrinfo(res);
}

/* cmp_double - qsort order for latencies */
static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* pctl - nearest-rank percentile of sorted v */
static double
pctl(const double *v, size_t n, double q)
{
	size_t k;

	if (n == 0)
		return 0;
	k = (size_t)(q * n);
	if ((double)k < q * n)
		k++;
	return v[k > 0 ? k - 1 : 0];
}

/* stats_sum - add up the connections; returns sorted latencies in *latp */
static size_t
stats_sum(const struct conn *cs, struct stats *t, double **latp)
{
	const struct stats *s;
	double *lat;
	size_t nlat = 0, i, k;

	memset(t, 0, sizeof(*t));
	for (i = 0; i < opt.conns; i++)
		nlat += cs[i].nlat;
	lat = xmalloc(sizeof(double) * (nlat + 1));
	for (nlat = 0, i = 0; i < opt.conns; i++) {
		s = &cs[i].st;
		t->sent += s->sent;
		t->completed += s->completed;
		t->accepted += s->accepted;
		t->rejected += s->rejected;
		t->tempfailed += s->tempfailed;
		t->discarded += s->discarded;
		t->quarantined += s->quarantined;
		t->signedmsgs += s->signedmsgs;
		t->authpass += s->authpass;
		t->unsent += s->unsent;
		t->timelimit |= s->timelimit;
		t->xclient += s->xclient;
		for (k = 0; k < E_COUNT; k++)
			t->err[k] += s->err[k];
		for (k = 0; k < M_COUNT; k++)
			t->mod[k] += s->mod[k];
		if (cs[i].nlat > 0)
			memcpy(lat + nlat, cs[i].lat, cs[i].nlat * sizeof(double));
		nlat += cs[i].nlat;
	}
	qsort(lat, nlat, sizeof(double), cmp_double);
	*latp = lat;
	return nlat;
}

/* report_text - the human-readable report */
static void
report_text(const struct stats *t, unsigned long errs, double elapsed,
    const double *lat, size_t nlat)
{
	size_t k;

	printf("milterload: %s, %u connection(s) x %u message(s), body %zu "
	    "bytes", opt.sock, opt.conns, opt.msgs, tmpl.bodylen);
	if (opt.rate > 0)
		printf(", paced at %.0f msg/s", opt.rate);
	if (opt.hold > 0)
		printf(", held idle %.0f s first", opt.hold);
	printf("\n");
	printf("sent %lu completed %lu accepted %lu rejected %lu tempfailed %lu "
	    "discarded %lu quarantined %lu unsent %lu%s\n", t->sent,
	    t->completed, t->accepted, t->rejected, t->tempfailed, t->discarded,
	    t->quarantined, t->unsent, t->timelimit ? " (time limit)" : "");
	printf("errors %lu (", errs);
	for (k = 0; k < E_COUNT; k++)
		printf("%s%s %lu", k ? " " : "", err_names[k], t->err[k]);
	printf(")\nmods");
	for (k = 0; k < M_COUNT; k++)
		printf(" %s %lu", mod_names[k], t->mod[k]);
	if (opt.mta != NULL)
		printf("\nxclient %lu", t->xclient);
	printf("\nsigned %lu\nauth pass %lu\nelapsed %.3f s, %.1f msg/s\n"
	    "latency ms p50 %.3f p99 %.3f max %.3f\n", t->signedmsgs,
	    t->authpass, elapsed,
	    elapsed > 0 ? t->completed / elapsed : 0, pctl(lat, nlat, 0.50),
	    pctl(lat, nlat, 0.99), pctl(lat, nlat, 1));
}

/* report_json - the same as one JSON object on one line */
static void
report_json(const struct stats *t, unsigned long errs, double elapsed,
    const double *lat, size_t nlat)
{
	size_t k;

	printf("{\"sent\":%lu,\"completed\":%lu,\"accepted\":%lu,"
	    "\"rejected\":%lu,\"tempfailed\":%lu,\"discarded\":%lu,"
	    "\"quarantined\":%lu,\"unsent\":%lu,\"time_limit\":%lu,"
	    "\"errors\":%lu,", t->sent, t->completed, t->accepted, t->rejected,
	    t->tempfailed, t->discarded, t->quarantined, t->unsent,
	    t->timelimit, errs);
	for (k = 0; k < E_COUNT; k++)
		printf("\"err_%s\":%lu,", err_names[k], t->err[k]);
	for (k = 0; k < M_COUNT; k++)
		printf("\"%s\":%lu,", mod_names[k], t->mod[k]);
	if (opt.mta != NULL)
		printf("\"xclient\":%lu,", t->xclient);
	printf("\"signed\":%lu,\"auth_pass\":%lu,\"elapsed_s\":%.3f,\"msgs_per_s\":%.1f,"
	    "\"lat_p50_ms\":%.3f,\"lat_p99_ms\":%.3f,\"lat_max_ms\":%.3f}\n",
	    t->signedmsgs, t->authpass, elapsed,
	    elapsed > 0 ? t->completed / elapsed : 0,
	    pctl(lat, nlat, 0.50), pctl(lat, nlat, 0.99), pctl(lat, nlat, 1));
}

/* report_idle - the idle connections and their probes (-I, -P) */
static void
report_idle(const struct stats *it, unsigned long ierrs, unsigned bad,
    double *ilat, size_t nilat)
{
	qsort(ilat, nilat, sizeof(double), cmp_double);
	if (!opt.quiet)
		printf("idle %u open %u failed; probes sent %lu completed %lu "
		    "signed %lu errors %lu; probe latency ms p50 %.3f p99 %.3f "
		    "max %.3f\n", opt.idle - bad, bad, it->sent, it->completed,
		    it->signedmsgs, ierrs, pctl(ilat, nilat, 0.50),
		    pctl(ilat, nilat, 0.99), pctl(ilat, nilat, 1));
	if (opt.json)
		printf("{\"idle_open\":%u,\"idle_failed\":%u,\"probe_sent\":%lu,"
		    "\"probe_completed\":%lu,\"probe_signed\":%lu,"
		    "\"probe_errors\":%lu,\"probe_p50_ms\":%.3f,"
		    "\"probe_p99_ms\":%.3f,\"probe_max_ms\":%.3f}\n",
		    opt.idle - bad, bad, it->sent, it->completed, it->signedmsgs,
		    ierrs, pctl(ilat, nilat, 0.50), pctl(ilat, nilat, 0.99),
		    pctl(ilat, nilat, 1));
}

/* report - print the totals (the idle connections' apart) and pick the exit status */
static int
report(const struct conn *cs, double elapsed, const struct stats *it,
    double *ilat, size_t nilat, unsigned idle_bad)
{
	struct stats t;
	unsigned long errs = 0, ierrs = 0;
	double *lat;
	size_t nlat, k;
	int rc;

	nlat = stats_sum(cs, &t, &lat);
	for (k = 0; k < E_COUNT; k++) {
		errs += t.err[k];
		ierrs += it->err[k];
	}
	if (!opt.quiet)
		report_text(&t, errs, elapsed, lat, nlat);
	if (opt.json)
		report_json(&t, errs, elapsed, lat, nlat);
	if (opt.idle > 0)
		report_idle(it, ierrs, idle_bad, ilat, nilat);
	fflush(stdout);
	free(lat);
	rc = errs == 0 && ierrs == 0 && idle_bad == 0 ? 0 : 1;
	if (opt.expect_signed >= 0 && t.signedmsgs + it->signedmsgs
	    < (unsigned long)opt.expect_signed) {
		fprintf(stderr, "milterload: expected at least %ld signed, got "
		    "%lu\n", opt.expect_signed, t.signedmsgs + it->signedmsgs);
		rc = 1;
	}
	return rc;
}

/* usage - print the synopsis and exit */
static void __attribute__((noreturn))
usage(void)
{
	fputs("usage: milterload -S unix:PATH|inet:PORT@HOST|inet6:PORT@[::1] "
	    "[-S ...] [options]\n"
	    "       milterload -X HOST:PORT [options]\n"
	    "  -S SOCK   a milter; given again: a chain, each message goes to\n"
	    "            every milter in turn, the later ones seeing the header\n"
	    "            edits of the earlier ones (Postfix smtpd_milters = a, b)\n"
	    "  -X HOST:PORT  send the messages by SMTP to this MTA (loopback)\n"
	    "            instead of speaking milter: one session per message\n"
	    "            (as smtp-source), XCLIENT ADDR=-i HELO=-h when offered;\n"
	    "            latency from connect to the reply to the data's end;\n"
	    "            not with -S, -a, -R, -H, -I or -e\n"
	    "  -c N      connections, one thread each (1)\n"
	    "  -m N      messages per connection (1)\n"
	    "  -s SIZE   body bytes: 1024, 10k, 1m ... or multipart (10k)\n"
	    "  -M FILE   send this RFC 5322 file (LF or CRLF) instead\n"
	    "  -a USER   send {auth_authen}=USER, as for an authenticated client\n"
	    "  -i IP     client address in SMFIC_CONNECT, or unix:PATH (127.0.0.1)\n"
	    "  -f ADDR   envelope sender (sender@FROMDOMAIN)\n"
	    "  -r ADDR   envelope recipient, repeatable (rcpt@example.net)\n"
	    "  -F DOMAIN domain of the generated From: header (example.com)\n"
	    "  -n N      From domains d0.DOMAIN .. dN-1.DOMAIN, one after the\n"
	    "            other over all messages (many-customer signing)\n"
	    "  -d NAME   {daemon_name} macro (milterload)\n"
	    "  -h NAME   HELO name (client.milterload.test)\n"
	    "  -D SEL:KEYFILE[:DOMAIN]  DKIM-sign every message before sending\n"
	    "            (relaxed/relaxed, rsa-sha256, d=DOMAIN or the From\n"
	    "            domain); given twice, two signatures. The messages (one\n"
	    "            per -n domain, envelope sender in the same domain) are\n"
	    "            signed once at start\n"
	    "  -o DIR    write accepted messages, modified, to DIR/CONN-MSG.eml\n"
	    "  -t SECS   start no message after this many seconds (120)\n"
	    "  -T SECS   timeout for each reply or write (30)\n"
	    "  -H SECS   hold each connection idle until SECS after start, then\n"
	    "            send the messages (idle-connection tests; < -t)\n"
	    "  -R RATE   pace the messages: RATE msg/s over all connections;\n"
	    "            latency counts from each message's scheduled start\n"
	    "  -I N      first open N idle connections (negotiated, CONNECT and\n"
	    "            HELO sent; all on one thread), then start the load\n"
	    "  -P N      N probes: one message at a time on an idle connection\n"
	    "            (each once, in a random order, before any gets a second),\n"
	    "            spread over the paced load (-R) or 10 ms apart, from -H on;\n"
	    "            reported apart (\"idle ... probe latency\"); -e counts them\n"
	    "  -e N      exit 1 unless at least N messages got a DKIM-Signature\n"
	    "  (\"auth pass\" counts accepted messages whose added\n"
	    "  Authentication-Results say dkim=pass for every -D signature,\n"
	    "  spf=pass and dmarc=pass)\n"
	    "  -q        no human-readable report   -j  one JSON line report\n"
	    "  -v        replies and modifications on stderr\n"
	    "  -Q        TCP_QUICKACK after each read (hides milter-side Nagle "
	    "delays;\n            Postfix does not do this)\n", stderr);
	exit(2);
}

/* mta_parse - -X HOST:PORT as the one address to connect to */
static void
mta_parse(void)
{
	static char spec[300];
	const char *colon = strrchr(opt.mta, ':');
	int n, v6 = opt.mta[0] == '[';

	if (opt.nsocks > 0 || opt.authuser != NULL || opt.rate > 0 ||
	    opt.hold > 0 || opt.idle > 0 || opt.expect_signed >= 0)
		fatal("-X: not with -S, -a, -R, -H, -I or -e");
	if (colon == NULL || colon == opt.mta || colon[1] == '\0')
		fatal("-X %s: want HOST:PORT", opt.mta);
	n = snprintf(spec, sizeof(spec), "%s:%s@%.*s", v6 ? "inet6" : "inet",
	    colon + 1, (int)(colon - opt.mta), opt.mta);
	if (n < 0 || (size_t)n >= sizeof(spec))
		fatal("-X %s: too long", opt.mta);
	opt.socks[opt.nsocks++] = spec;
}

/* opts_parse - command line into opt */
static void
opts_parse(int argc, char **argv)
{
	struct in6_addr a6;
	const char *mailfrom = NULL;
	int ch, n;

	opt.conns = opt.msgs = 1;
	opt.size = 10 * 1024;
	opt.clientip = "127.0.0.1";
	opt.fromdomain = "example.com";
	opt.daemon = "milterload";
	opt.helo = "client.milterload.test";
	opt.tlimit = 120;
	opt.treply = 30;
	opt.expect_signed = -1;
	while ((ch = getopt(argc, argv, "S:X:c:m:s:a:i:f:r:F:n:d:h:D:M:o:t:T:H:R:I:P:e:qjvQ")) != -1) {
		switch (ch) {
		case 'S':
			if (opt.nsocks == MAX_MILTERS)
				fatal("-S: at most %d milters", MAX_MILTERS);
			opt.socks[opt.nsocks++] = optarg;
			break;
		case 'X': opt.mta = optarg; break;
		case 'c': opt.conns = parse_uint(optarg, 1, MAX_CONNS, ch); break;
		case 'm': opt.msgs = parse_uint(optarg, 1, 10000000, ch); break;
		case 's':
			if (strcmp(optarg, "multipart") == 0)
				opt.multipart = 1;
			else if ((opt.size = parse_size(optarg)) == (size_t)-1)
				fatal("-s %s: want bytes, NNk, NNm or multipart",
				    optarg);
			break;
		case 'a': opt.authuser = optarg; break;
		case 'i': opt.clientip = optarg; break;
		case 'f': mailfrom = optarg; break;
		case 'r':
			if (opt.nrcpts == MAX_RCPTS)
				fatal("-r: at most %d recipients", MAX_RCPTS);
			opt.rcpts[opt.nrcpts++] = optarg;
			break;
		case 'F': opt.fromdomain = optarg; break;
		case 'n': opt.ndomains = parse_uint(optarg, 1, 10000000, ch); break;
		case 'd': opt.daemon = optarg; break;
		case 'h': opt.helo = optarg; break;
		case 'D':
			if (opt.nkeys == MAX_SIGS)
				fatal("-D: at most %d signatures", MAX_SIGS);
			dkim_key_load(&opt.keys[opt.nkeys++], optarg);
			break;
		case 'M': opt.msgfile = optarg; break;
		case 'o': opt.outdir = optarg; break;
		case 't': opt.tlimit = parse_uint(optarg, 1, 86400, ch); break;
		case 'T': opt.treply = parse_uint(optarg, 1, 3600, ch); break;
		case 'H': opt.hold = parse_uint(optarg, 1, 3600, ch); break;
		case 'R': opt.rate = parse_uint(optarg, 1, 1000000, ch); break;
		case 'I': opt.idle = parse_uint(optarg, 0, 1000000, ch); break;
		case 'P': opt.probes = parse_uint(optarg, 0, 10000000, ch); break;
		case 'e': opt.expect_signed = (long)parse_uint(optarg, 0,
		    LONG_MAX, ch); break;
		case 'q': opt.quiet = 1; break;
		case 'j': opt.json = 1; break;
		case 'v': opt.verbose = 1; break;
		case 'Q': opt.quickack = 1; break;
		default: usage();
		}
	}
	if (opt.mta != NULL)
		mta_parse();
	if (optind != argc || opt.nsocks == 0)
		usage();
	opt.sock = opt.mta != NULL ? opt.mta : opt.socks[0];
	if (opt.probes > 0 && opt.idle == 0)
		fatal("-P: probes go to idle connections (-I)");
	if (opt.hold >= opt.tlimit)
		fatal("-H %.0f: must be less than -t %.0f", opt.hold, opt.tlimit);
	for (n = 0; n < (int)opt.nsocks; n++)
		sock_parse(opt.socks[n], (unsigned)n);
	if (opt.nkeys > 0 && (opt.msgfile != NULL || opt.multipart))
		fatal("-D: only with generated text messages (not -M or multipart)");
	if (strncmp(opt.clientip, "unix:", 5) == 0) {
		opt.clientfam = SMFIA_UNIX;
		opt.clientip += 5;
	} else if (inet_pton(AF_INET, opt.clientip, &a6) == 1)
		opt.clientfam = SMFIA_INET;
	else if (inet_pton(AF_INET6, opt.clientip, &a6) == 1)
		opt.clientfam = SMFIA_INET6;
	else
		fatal("-i %s: not an IPv4 or IPv6 address (or unix:PATH)",
		    opt.clientip);
	if (opt.nrcpts == 0)
		opt.rcpts[opt.nrcpts++] = "rcpt@example.net";
	n = mailfrom != NULL ?
	    snprintf(opt.mailfrom, sizeof(opt.mailfrom), "%s", mailfrom) :
	    snprintf(opt.mailfrom, sizeof(opt.mailfrom), "sender@%s",
	    opt.fromdomain);
	if (n < 0 || (size_t)n >= sizeof(opt.mailfrom) ||
	    strlen(opt.fromdomain) > 200)
		fatal("-f or -F: address too long");
	if (opt.outdir != NULL && access(opt.outdir, W_OK) < 0)
		fatal("-o %s: %s", opt.outdir, strerror(errno));
}

int
main(int argc, char **argv)
{
	struct conn *cs;
	struct stats it;
	double *ilat, elapsed;
	size_t nilat;
	unsigned i, idle_bad;
	int rc;

	opts_parse(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	tmpl_init();
	if (opt.mta != NULL)
		smtp_init();
	if (opt.nkeys > 0) {
		double t = now_mono();

		dkim_pool_init();
		/* a bench waits for this line before it watches the milter */
		fprintf(stderr, "milterload: %zu messages signed in %.2f s; "
		    "load starts\n", tmpl.npool, now_mono() - t);
	}
	idle_bad = idle_open();
	cs = calloc(opt.conns, sizeof(*cs));
	if (cs == NULL)
		fatal("out of memory");
	tmpl.start = now_mono();
	idle_start();
	for (i = 0; i < opt.conns; i++) {
		cs[i].id = i + 1;
		rc = pthread_create(&cs[i].thread, NULL, opt.mta != NULL ?
		    smtp_main : conn_main, &cs[i]);
		if (rc != 0) {
			cs[i].st.err[E_CONNECT]++;
			cs[i].st.unsent = opt.msgs;
			fprintf(stderr, "milterload: conn %u: pthread_create: %s\n",
			    i + 1, strerror(rc));
			continue;
		}
		cs[i].started = 1;
	}
	for (i = 0; i < opt.conns; i++)
		if (cs[i].started)
			pthread_join(cs[i].thread, NULL);
	elapsed = now_mono() - tmpl.start;
	idle_finish(&it, &ilat, &nilat);
	rc = report(cs, elapsed, &it, ilat, nilat, idle_bad);
	free(ilat);
	for (i = 0; i < opt.conns; i++)
		free(cs[i].lat);
	free(cs);
	dkim_pool_free();
	smtp_free();
	tmpl_free();
	return rc;
}
