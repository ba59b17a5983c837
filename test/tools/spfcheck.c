/*
 * spfcheck.c - drive milter/dns.c and milter/spf.c from the command line.
 *
 * Usage:
 *   spfcheck [options] -i CLIENTIP -f MAILFROM -h HELO
 *       SPF check; prints "mailfrom=RESULT helo=RESULT", then
 *       "mailfrom-comment: ...", "helo-comment: ..." and
 *       "received-spf: ..." lines.
 *   spfcheck [options] -q NAME [-y TYPE]
 *       one DNS query; prints "status=S n=N secure=0|1 ms=MS" and one line
 *       per record (A/AAAA as addresses, TXT joined, others in hex).
 *   spfcheck [options] -S THREADS:QUERIES
 *       concurrency: each thread resolves names of spf.test whose answers
 *       are known (m1..m11 A, pass TXT, a fresh NXDOMAIN name); prints
 *       "stress: N queries, W wrong, T tempfail".
 *   spfcheck [options] -R THREADS:QUERIES
 *       cancel race: fresh names with 1-3 ms deadlines, so answers and
 *       cancels cross; every answer must be right or a tempfail; prints
 *       "race: N queries, W wrong, T tempfail".
 *   spfcheck [options] -P THREADS:CHECKS
 *       concurrent SPF checks of spf.test scenarios with known results;
 *       prints "spf-stress: N checks, W wrong".
 * Options:
 *   -s HOST@PORT  DNS server (repeatable; none: /etc/resolv.conf)
 *   -t MS         per-query timeout (default 2000)
 *   -b MS         SPF time budget (default 20000)
 *   -a FILE       DNSSEC trust anchor file
 *   -r NAME       receiver name (default mx.test.example)
 *   -n            do not check HELO (unless the sender is null)
 *   -E ENGINE     SPF evaluator: builtin (default) or libspf2
 *   -N COUNT      repeat the SPF check COUNT times, print the mean time
 *   -v            debug log on stderr
 * Exit 0 when the operation ran (whatever the SPF result); 1 when a
 * stress/race run saw a wrong answer; 2 on usage or set-up errors.
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/dns.h"
#include "base/log.h"
#include "auth/spf.h"

#define SPFCHECK_MAX_SERVERS	8

struct spfcheck_stress {
	struct dns *dns;		/* shared resolver */
	struct spf *spf;		/* shared checker (-P) */
	int id;				/* thread number */
	int queries;			/* queries to make */
	int race;			/* tiny deadlines */
	int wrong;			/* answers that were wrong */
	int tempfail;			/* timeouts and failures */
};

/* spfcheck_now_ms - monotonic milliseconds */
static double
spfcheck_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

/* spfcheck_type - "A", "TXT", ... or a number */
static int
spfcheck_type(const char *t)
{
	static const struct { const char *name; int type; } types[] = {
		{ "A", 1 }, { "NS", 2 }, { "CNAME", 5 }, { "SOA", 6 },
		{ "PTR", 12 }, { "MX", 15 }, { "TXT", 16 }, { "AAAA", 28 },
		{ "DNSKEY", 48 },
	};
	size_t i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcasecmp(t, types[i].name) == 0)
			return types[i].type;
	return atoi(t);
}

/* spfcheck_query - one DNS query, printed */
static int
spfcheck_query(struct dns *d, const char *name, int type)
{
	struct dns_result r;
	struct buf b = BUF_INIT;
	char addr[INET6_ADDRSTRLEN];
	double t0 = spfcheck_now_ms();
	size_t i, j;

	dns_resolve(d, name, type, 0, &r);
	printf("status=%s n=%zu secure=%d rcode=%d ms=%.0f\n",
	    dns_status_name(r.status), r.n, r.secure, r.rcode,
	    spfcheck_now_ms() - t0);
	for (i = 0; i < r.n; i++) {
		if (type == 1 && r.len[i] == 4)
			printf("%s\n", inet_ntop(AF_INET, r.data[i], addr, sizeof(addr)));
		else if (type == 28 && r.len[i] == 16)
			printf("%s\n", inet_ntop(AF_INET6, r.data[i], addr, sizeof(addr)));
		else if (type == 16) {
			buf_reset(&b);
			if (dns_txt(&r, i, &b) == 0)
				printf("%s\n", buf_cstr(&b));
			else
				printf("(malformed TXT)\n");
		} else {
			for (j = 0; j < r.len[i]; j++)
				printf("%02x", r.data[i][j]);
			printf("\n");
		}
	}
	buf_free(&b);
	dns_result_free(&r);
	return 0;
}

/* spfcheck_expect_a - is r one A record 192.0.2.(100 + n)? */
static int
spfcheck_expect_a(const struct dns_result *r, int n)
{
	return r->status == DNS_OK && r->n == 1 && r->len[0] == 4 &&
	    r->data[0][0] == 192 && r->data[0][1] == 0 && r->data[0][2] == 2 &&
	    r->data[0][3] == 100 + n;
}

/* spfcheck_stress_thread - resolve names with known answers */
static void *
spfcheck_stress_thread(void *arg)
{
	struct spfcheck_stress *st = arg;
	struct dns_result r;
	struct buf b = BUF_INIT;
	char name[128];
	unsigned seed = (unsigned)st->id * 7919u + 1;
	int i, n, ok, timeout;

	for (i = 0; i < st->queries; i++) {
		timeout = st->race ? 1 + (int)(rand_r(&seed) % 3) : 0;
		switch (i % 3) {
		case 0:		/* a cached name after the first round */
			n = 1 + (int)(rand_r(&seed) % 11);
			snprintf(name, sizeof(name), "m%d.spf.test", n);
			dns_resolve(st->dns, name, 1, timeout, &r);
			ok = spfcheck_expect_a(&r, n);
			break;
		case 1:		/* a fresh name: always a trip to the server */
			snprintf(name, sizeof(name), "nx-%d-%d.spf.test",
			    st->id, i);
			dns_resolve(st->dns, name, 1, timeout, &r);
			ok = r.status == DNS_NXDOMAIN;
			break;
		default:
			dns_resolve(st->dns, "pass.spf.test", 16, timeout, &r);
			buf_reset(&b);
			ok = r.status == DNS_OK && r.n == 1 &&
			    dns_txt(&r, 0, &b) == 0 &&
			    strcmp(buf_cstr(&b), "v=spf1 ip4:192.0.2.10 -all") == 0;
			break;
		}
		if (!ok && r.status == DNS_TEMPFAIL)
			st->tempfail++;
		else if (!ok) {
			st->wrong++;
			fprintf(stderr, "thread %d: %s: %s\n", st->id, name,
			    dns_status_name(r.status));
		}
		dns_result_free(&r);
	}
	buf_free(&b);
	return NULL;
}

/* Scenarios of test/zones/spf.test.zone for -P. */
static const struct {
	const char *ip, *from;		/* input (HELO is helo.spf.test) */
	enum spf_res want;		/* MAIL FROM result */
} spfcheck_cases[] = {
	{ "192.0.2.10", "u@pass.spf.test", SPF_RES_PASS },
	{ "192.0.2.99", "u@pass.spf.test", SPF_RES_FAIL },
	{ "192.0.2.10", "u@mx.spf.test", SPF_RES_PASS },
	{ "2001:db8::10", "u@mx.spf.test", SPF_RES_PASS },
	{ "192.0.2.99", "u@include.spf.test", SPF_RES_FAIL },
	{ "192.0.2.99", "u@redirectsoft.spf.test", SPF_RES_SOFTFAIL },
	{ "192.0.2.10", "u@exists.spf.test", SPF_RES_PASS },
	{ "192.0.2.10", "u@nested.spf.test", SPF_RES_PERMERROR },
	{ "192.0.2.10", "u@void3.spf.test", SPF_RES_PERMERROR },
	{ "192.0.2.10", "u@syntax.spf.test", SPF_RES_PERMERROR },
	{ "192.0.2.10", "u@nx.spf.test", SPF_RES_NONE },
	{ "192.0.2.10", "u@mx10.spf.test", SPF_RES_PASS },
};

/* spfcheck_spf_thread - SPF checks with known results */
static void *
spfcheck_spf_thread(void *arg)
{
	struct spfcheck_stress *st = arg;
	struct spf_result r;
	size_t n = sizeof(spfcheck_cases) / sizeof(spfcheck_cases[0]), k;
	int i;

	for (i = 0; i < st->queries; i++) {
		k = ((size_t)st->id + (size_t)i) % n;
		spf_check(st->spf, NULL, spfcheck_cases[k].ip,
		    spfcheck_cases[k].from, "helo.spf.test", &r);
		if (r.mailfrom.res != spfcheck_cases[k].want) {
			st->wrong++;
			fprintf(stderr, "thread %d: %s from %s: %s\n", st->id,
			    spfcheck_cases[k].from, spfcheck_cases[k].ip,
			    spf_res_name(r.mailfrom.res));
		}
	}
	return NULL;
}

/* spfcheck_stress - THREADS:QUERIES concurrent resolutions (or SPF checks) */
static int
spfcheck_stress(struct dns *d, struct spf *s, const char *spec, int race)
{
	struct spfcheck_stress st[64];
	pthread_t tid[64];
	int threads, queries, i, wrong = 0, tempfail = 0;
	double t0 = spfcheck_now_ms();

	if (sscanf(spec, "%d:%d", &threads, &queries) != 2 || threads < 1 ||
	    threads > 64 || queries < 1) {
		fprintf(stderr, "spfcheck: bad THREADS:QUERIES %s\n", spec);
		return 2;
	}
	for (i = 0; i < threads; i++) {
		memset(&st[i], 0, sizeof(st[i]));
		st[i].dns = d;
		st[i].spf = s;
		st[i].id = i;
		st[i].queries = queries;
		st[i].race = race;
		if (pthread_create(&tid[i], NULL, s != NULL ? spfcheck_spf_thread
		    : spfcheck_stress_thread, &st[i]) != 0) {
			fprintf(stderr, "spfcheck: pthread_create failed\n");
			return 2;
		}
	}
	for (i = 0; i < threads; i++) {
		pthread_join(tid[i], NULL);
		wrong += st[i].wrong;
		tempfail += st[i].tempfail;
	}
	if (s != NULL)
		printf("spf-stress: %d checks, %d wrong, %.0f ms\n",
		    threads * queries, wrong, spfcheck_now_ms() - t0);
	else
		printf("%s: %d queries, %d wrong, %d tempfail, %.0f ms\n",
		    race ? "race" : "stress", threads * queries, wrong, tempfail,
		    spfcheck_now_ms() - t0);
	return wrong == 0 ? 0 : 1;
}

/* spfcheck_spf - one SPF check (repeated n times), printed */
static int
spfcheck_spf(struct spf *s, const char *ip, const char *from,
    const char *helo, int n)
{
	struct spf_result r;
	struct buf b = BUF_INIT;
	double t0 = spfcheck_now_ms();
	int i;

	for (i = 0; i < n; i++)
		spf_check(s, "spfcheck", ip, from, helo, &r);
	printf("mailfrom=%s helo=%s\n", spf_res_name(r.mailfrom.res),
	    spf_res_name(r.helo.res));
	printf("mailfrom-identity: %s\n", r.mailfrom.identity);
	printf("mailfrom-domain: %s\n", r.mailfrom.domain);
	printf("mailfrom-comment: %s\n", r.mailfrom.comment);
	printf("helo-identity: %s\n", r.helo.identity);
	printf("helo-comment: %s\n", r.helo.comment);
	printf("lookups: %d %d\n", r.mailfrom.lookups, r.helo.lookups);
	spf_received_header(s, &r, &b);
	printf("received-spf: %s\n", buf_cstr(&b));
	if (n > 1)
		printf("time: %.1f us per check\n",
		    (spfcheck_now_ms() - t0) * 1000.0 / n);
	buf_free(&b);
	return 0;
}

/* spfcheck_usage - print usage and exit 2 */
static void
spfcheck_usage(void)
{
	fprintf(stderr, "usage: spfcheck [-s HOST@PORT]... [-t MS] [-b MS] "
	    "[-a TAFILE] [-r NAME] [-n] [-E ENGINE] [-N COUNT] [-v]\n"
	    "         (-i IP -f MAILFROM -h HELO | -q NAME [-y TYPE] | "
	    "-S T:Q | -R T:Q | -P T:N)\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	const char *servers[SPFCHECK_MAX_SERVERS];
	const char *ip = NULL, *from = NULL, *helo = NULL, *qname = NULL;
	const char *stress = NULL, *race = NULL, *spfstress = NULL;
	struct dns_options dopt;
	struct spf_options sopt;
	struct dns *d;
	struct spf *s;
	char err[256];
	int c, rc, type = 16, repeat = 1, level = LOG_WARNING;

	memset(&dopt, 0, sizeof(dopt));
	memset(&sopt, 0, sizeof(sopt));
	dopt.servers = servers;
	dopt.timeout_ms = 2000;
	sopt.receiver = "mx.test.example";
	sopt.check_helo = 1;
	while ((c = getopt(argc, argv, "s:t:b:a:r:nE:N:vi:f:h:q:y:S:R:P:")) != -1) {
		switch (c) {
		case 's':
			if (dopt.nservers == SPFCHECK_MAX_SERVERS)
				spfcheck_usage();
			servers[dopt.nservers++] = optarg;
			break;
		case 't': dopt.timeout_ms = atoi(optarg); break;
		case 'b': sopt.time_budget_ms = atoi(optarg); break;
		case 'a': dopt.trust_anchor = optarg; break;
		case 'r': sopt.receiver = optarg; break;
		case 'n': sopt.check_helo = 0; break;
		case 'E':
			if (strcmp(optarg, "libspf2") == 0)
				sopt.engine = SPF_ENGINE_LIBSPF2;
			else if (strcmp(optarg, "builtin") != 0)
				spfcheck_usage();
			break;
		case 'N': repeat = atoi(optarg) > 0 ? atoi(optarg) : 1; break;
		case 'v': level = LOG_DEBUG; break;
		case 'i': ip = optarg; break;
		case 'f': from = optarg; break;
		case 'h': helo = optarg; break;
		case 'q': qname = optarg; break;
		case 'y': type = spfcheck_type(optarg); break;
		case 'S': stress = optarg; break;
		case 'R': race = optarg; break;
		case 'P': spfstress = optarg; break;
		default: spfcheck_usage();
		}
	}
	if (optind != argc)
		spfcheck_usage();
	if (qname == NULL && stress == NULL && race == NULL &&
	    spfstress == NULL && (ip == NULL || from == NULL || helo == NULL))
		spfcheck_usage();
	log_init(LOG_DEST_STDERR, LOG_MAIL, level);
	clock_init();
	d = dns_new(&dopt, err, sizeof(err));
	if (d == NULL) {
		fprintf(stderr, "spfcheck: %s\n", err);
		return 2;
	}
	if (qname != NULL)
		rc = spfcheck_query(d, qname, type);
	else if (stress != NULL)
		rc = spfcheck_stress(d, NULL, stress, 0);
	else if (race != NULL)
		rc = spfcheck_stress(d, NULL, race, 1);
	else {
		s = spf_new(d, &sopt, err, sizeof(err));
		if (s == NULL) {
			fprintf(stderr, "spfcheck: %s\n", err);
			dns_free(d);
			return 2;
		}
		if (spfstress != NULL)
			rc = spfcheck_stress(d, s, spfstress, 0);
		else
			rc = spfcheck_spf(s, ip, from, helo, repeat);
		spf_free(s);
	}
	dns_free(d);
	return rc;
}
