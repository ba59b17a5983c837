/*
 * check_main.c - authmilter-check: are a domain's DNS records ready?
 *
 *   authmilter-check [-c FILE] [DOMAIN...]
 *   authmilter-check [-c FILE] --domain D [--selector S] [--key FILE]
 *       [--bounce-domain B] [--bounce-host H] [--json] [--problems-only]
 *   authmilter-check [-c FILE] {--domains FILE | --all} [--jobs N] ...
 *
 * The first form, for the domain blocks of the conf (or those named),
 * prints one verdict line per DKIM key record, the SPF record and its
 * lookup cost, the DMARC record and the bounce domain, and exits 1 when
 * anything is broken. It reads the private keys (to compare the published
 * p=), so run it as the user that can read them.
 *
 * The other forms run the onboarding checks (onboard.c) on domains that
 * need not be in the conf, knowing the platform from it, over many
 * domains in --jobs threads (each with one query in flight: that bounds
 * the queries in flight), printing in input order and a summary at the
 * end; text or one JSON document.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <libpsl.h>
#include <openssl/crypto.h>

#include "auth/dmarc.h"
#include "auth/keys.h"
#include "base/buf.h"
#include "base/dns.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "policy/config.h"
#include "tools/domaincheck.h"
#include "tools/onboard.h"

#define CHECK_DEFAULT_CONF SYSCONFDIR "/authmilter/authmilter.conf"
#define CHECK_DEFAULT_JOBS 32
#define CHECK_MAX_JOBS 1024
#define CHECK_MAX_SELECTORS 8

/* What the command line asked for. */
struct check_args {
	const char *path;		/* -c */
	const char **domains;		/* --domain and, onboarding, operands */
	size_t ndomains;
	const char *selectors[CHECK_MAX_SELECTORS];	/* --selector */
	size_t nselectors;
	const char *keyfile;		/* --key */
	const char *bounce;		/* --bounce-domain (%d: the domain) */
	const char *bounce_host;	/* --bounce-host */
	const char *list;		/* --domains FILE ("-": stdin) */
	int all;			/* --all */
	int json;			/* --json */
	int problems_only;		/* --problems-only */
	int jobs;			/* --jobs */
	int onboarding;			/* any of the above: the onboarding checks */
};

/* The onboarding run: targets, their results, the threads' shared state. */
struct check_run {
	struct dns *d;				/* borrowed */
	const struct onboard_platform *p;	/* borrowed */
	struct onboard_target *targets;		/* owned */
	struct onboard_result *results;		/* owned, one per target */
	unsigned char *done;			/* results[i] is ready (lock) */
	size_t n, next;				/* targets, next to take (lock) */
	pthread_mutex_t lock;
	pthread_cond_t ready;			/* a result is done */
	struct config_words strings;		/* selectors read from the list (owned) */
	struct key *key;			/* --key's, owned */
	char *key_dir;				/* the conf's key_dir, absolute or
						 * relative to here; NULL: none (owned) */
};

/* check_usage - print usage and exit */
static void
check_usage(int status)
{
	fprintf(status ? stderr : stdout, "usage: authmilter-check [-c FILE] "
	    "[DOMAIN...]\n"
	    "       authmilter-check [-c FILE] [--domain D] [--selector S] "
	    "[--key FILE]\n"
	    "           [--bounce-domain B] [--bounce-host H] [--domains FILE | "
	    "--all]\n"
	    "           [--jobs N] [--json] [--problems-only] [DOMAIN...]\n"
	    "  -c FILE             configuration (default %s)\n"
	    "  --domain D          onboarding checks of D (in the conf or not)\n"
	    "  --selector S        its DKIM selector (repeatable); its key is\n"
	    "                      key_dir/DOMAIN/S.pem if that exists\n"
	    "  --key FILE          the private key of the one selector\n"
	    "  --bounce-domain B   its bounce domain (%%d: the domain)\n"
	    "  --bounce-host H     the host bounce CNAMEs and MXs must name "
	    "(default: any under platform_domain)\n"
	    "  --domains FILE      one domain a line: DOMAIN [selector=S] "
	    "[bounce=B] (-: stdin)\n"
	    "  --all               onboarding checks of every domain block\n"
	    "  --jobs N            domains checked at once (default %d)\n"
	    "  --json              one JSON document\n"
	    "  --problems-only     only WARN and FAIL verdicts\n",
	    CHECK_DEFAULT_CONF, CHECK_DEFAULT_JOBS);
	exit(status);
}

/* check_parse - fill a from argv (exits on a usage error) */
static void
check_parse(int argc, char **argv, struct check_args *a)
{
	static const struct option longopts[] = {
		{ "domain", required_argument, NULL, 'd' },
		{ "selector", required_argument, NULL, 's' },
		{ "key", required_argument, NULL, 'k' },
		{ "bounce-domain", required_argument, NULL, 'b' },
		{ "bounce-host", required_argument, NULL, 'H' },
		{ "domains", required_argument, NULL, 'f' },
		{ "all", no_argument, NULL, 'a' },
		{ "jobs", required_argument, NULL, 'j' },
		{ "json", no_argument, NULL, 'J' },
		{ "problems-only", no_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	long n;
	int ch;

	memset(a, 0, sizeof(*a));
	a->path = CHECK_DEFAULT_CONF;
	a->jobs = CHECK_DEFAULT_JOBS;
	a->domains = xcalloc((size_t)argc + 1, sizeof(*a->domains));
	while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		if (ch != 'c' && ch != 'h')
			a->onboarding = 1;
		switch (ch) {
		case 'c': a->path = optarg; break;
		case 'd': a->domains[a->ndomains++] = optarg; break;
		case 's':
			if (a->nselectors == CHECK_MAX_SELECTORS) {
				fprintf(stderr, "authmilter-check: at most %d "
				    "--selector\n", CHECK_MAX_SELECTORS);
				exit(2);
			}
			a->selectors[a->nselectors++] = optarg;
			break;
		case 'k': a->keyfile = optarg; break;
		case 'b': a->bounce = optarg; break;
		case 'H': a->bounce_host = optarg; break;
		case 'f': a->list = optarg; break;
		case 'a': a->all = 1; break;
		case 'J': a->json = 1; break;
		case 'P': a->problems_only = 1; break;
		case 'j':
			errno = 0;
			n = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || errno != 0 || n < 1
			    || n > CHECK_MAX_JOBS) {
				fprintf(stderr, "authmilter-check: --jobs: want 1..%d\n",
				    CHECK_MAX_JOBS);
				exit(2);
			}
			a->jobs = (int)n;
			break;
		case 'h': check_usage(0); break;
		default: check_usage(2);
		}
	}
	if (a->onboarding)
		while (optind < argc)
			a->domains[a->ndomains++] = argv[optind++];
	if (a->keyfile != NULL && (a->nselectors != 1 || a->ndomains != 1
	    || a->list != NULL || a->all)) {
		fprintf(stderr, "authmilter-check: --key goes with one --domain "
		    "and one --selector\n");
		exit(2);
	}
}

/* check_legacy - the verdicts of the conf's domain blocks (or those named) */
static int
check_legacy(struct config *c, struct dns *d, const char *path, int argc,
    char **argv, int worst)
{
	const struct config_domain *dom;
	int i, l;
	size_t j;

	for (i = optind; i < argc; i++)
		if (config_find_domain(c, argv[i]) == NULL) {
			printf("FAIL %-40s no domain block in %s\n", argv[i], path);
			worst = DOMAINCHECK_FAIL;
		}
	for (j = 0; j < c->ndomains; j++) {
		dom = &c->domains[j];
		if (optind < argc) {
			for (i = optind; i < argc; i++)
				if (strcasecmp(argv[i], dom->name) == 0)
					break;
			if (i == argc)
				continue;
		}
		l = domaincheck_domain(d, dom, stdout);
		if (l > worst)
			worst = l;
	}
	return worst;
}

/* check_bounce_name - the bounce domain pattern for domain (%d replaced); malloc'd */
static char *
check_bounce_name(const char *pattern, const char *domain)
{
	struct buf b = BUF_INIT;
	const char *s;

	for (s = pattern; *s != '\0'; s++) {
		if (s[0] == '%' && s[1] == 'd') {
			buf_puts(&b, domain);
			s++;
		} else
			buf_putc(&b, *s);
	}
	return buf_steal(&b);
}

/*
 * check_target - a target for name: the conf's keys when it has a block
 * and the command line names no selector, else the selectors given; the
 * bounce domain of the list line, else of the command line, else of the
 * block
 */
static void
check_target(struct check_run *run, struct config *c, const struct check_args *a,
    const char *name, const char *const *sels, size_t nsels,
    const char *bounce, struct onboard_target *t)
{
	const struct config_domain *dom;
	char norm[DMARC_DOMAIN_BUF], bn[DMARC_DOMAIN_BUF];
	struct buf err = BUF_INIT;
	size_t i;

	memset(t, 0, sizeof(*t));
	if (dmarc_domain_normalize(name, norm) < 0) {
		t->domain = xstrdup(name);
		buf_printf(&err, "not a domain name");
		t->error = buf_steal(&err);
		return;
	}
	t->domain = xstrdup(norm);
	dom = config_find_domain(c, norm);
	if (nsels == 0 && dom != NULL) {
		t->keys = xcalloc(dom->nkeys + 1, sizeof(*t->keys));
		for (i = 0; i < dom->nkeys; i++) {
			t->keys[i].selector = dom->keys[i].selector;
			t->keys[i].key = &dom->keys[i];
		}
		t->nkeys = dom->nkeys;
	} else {
		t->keys = xcalloc(nsels + 1, sizeof(*t->keys));
		for (i = 0; i < nsels; i++) {
			t->keys[i].selector = sels[i];
			t->keys[i].key = run->key;
		}
		t->nkeys = nsels;
	}
	/* the list line's, the command line's, the block's */
	if (bounce == NULL)
		bounce = a->bounce;
	if (bounce == NULL && dom != NULL && dom->bounce_domain != NULL
	    && dom->bounce_domain[0] != '\0')
		bounce = dom->bounce_domain;
	if (bounce != NULL) {
		char *b = check_bounce_name(bounce, norm);

		if (dmarc_domain_normalize(b, bn) < 0) {
			buf_printf(&err, "bounce domain %s: not a domain name", b);
			t->error = buf_steal(&err);
		} else
			t->bounce = xstrdup(bn);
		free(b);
	}
}

/* check_add - one more target slot in run */
static struct onboard_target *
check_add(struct check_run *run)
{
	run->targets = xreallocarray(run->targets, run->n + 1,
	    sizeof(*run->targets));
	return &run->targets[run->n++];
}

/* check_list_line - the target of one line "DOMAIN [selector=S] [bounce=B]" of the list */
static void
check_list_line(struct check_run *run, struct config *c,
    const struct check_args *a, char *line, int lineno)
{
	const char *sels[CHECK_MAX_SELECTORS], *bounce = NULL, *dom;
	char *save = NULL, *w;
	size_t nsels = 0, i;
	struct onboard_target *t;
	struct buf err = BUF_INIT;

	line[strcspn(line, "#\r\n")] = '\0';
	if ((dom = strtok_r(line, " \t", &save)) == NULL)
		return;
	while ((w = strtok_r(NULL, " \t", &save)) != NULL) {
		if (strncmp(w, "selector=", 9) == 0 && nsels < CHECK_MAX_SELECTORS) {
			run->strings.v = xreallocarray(run->strings.v,
			    run->strings.n + 1, sizeof(*run->strings.v));
			run->strings.v[run->strings.n] = xstrdup(w + 9);
			sels[nsels++] = run->strings.v[run->strings.n++];
		} else if (strncmp(w, "bounce=", 7) == 0)
			bounce = w + 7;
		else if (err.len == 0)
			buf_printf(&err, "line %d: unknown word \"%s\" (want "
			    "selector=S or bounce=B)", lineno, w);
	}
	for (i = 0; nsels == 0 && i < a->nselectors; i++)
		sels[nsels++] = a->selectors[i];
	t = check_add(run);
	check_target(run, c, a, dom, sels, nsels, bounce, t);
	if (err.len > 0 && t->error == NULL)
		t->error = buf_steal(&err);
	buf_free(&err);
}

/* check_list - targets from the list file; -1 with a message if it cannot be read */
static int
check_list(struct check_run *run, struct config *c, const struct check_args *a)
{
	FILE *fp = strcmp(a->list, "-") == 0 ? stdin : fopen(a->list, "r");
	char *line = NULL;
	size_t cap = 0;
	int lineno = 0, rc = 0;

	if (fp == NULL) {
		fprintf(stderr, "authmilter-check: %s: %s\n", a->list, strerror(errno));
		return -1;
	}
	while (getline(&line, &cap, fp) != -1)
		check_list_line(run, c, a, line, ++lineno);
	if (ferror(fp)) {
		fprintf(stderr, "authmilter-check: reading %s failed\n", a->list);
		rc = -1;
	}
	free(line);
	if (fp != stdin)
		fclose(fp);
	return rc;
}

/* check_read_key - read the PEM file path into k; 0, or -1 with err */
static int
check_read_key(struct key *k, const char *path, char *err, size_t errlen)
{
	struct buf pem = BUF_INIT;
	char chunk[4096];
	FILE *fp;
	size_t n;
	int rc = -1;

	if ((fp = fopen(path, "r")) == NULL) {
		(void)snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0 && pem.len <= KEYS_MAX_PEM)
		buf_append(&pem, chunk, n);
	fclose(fp);
	k->path = xstrdup(path);
	if (pem.len > KEYS_MAX_PEM)
		(void)snprintf(err, errlen, "%s: larger than a key", path);
	else if (keys_parse_pem(k, buf_cstr(&pem), pem.len, err, errlen) == 0)
		rc = 0;
	OPENSSL_cleanse(pem.data, pem.len);
	buf_free(&pem);
	return rc;
}

/* check_key - read --key's file into run->key; -1 with a message */
static int
check_key(struct check_run *run, const char *path)
{
	char err[512];

	run->key = xcalloc(1, sizeof(*run->key));
	if (check_read_key(run->key, path, err, sizeof(err)) < 0) {
		fprintf(stderr, "authmilter-check: %s\n", err);
		return -1;
	}
	return 0;
}

/*
 * check_dir_keys - the selectors of t without a private key take the one
 * at KEY_DIR/DOMAIN/SELECTOR.pem when that file exists (authmilter-keygen
 * --domains lays keys out so); run in the worker, so that 10,000 keys are
 * read in parallel too
 */
static void
check_dir_keys(const struct check_run *run, struct onboard_target *t)
{
	struct buf path = BUF_INIT;
	char err[512];
	size_t i;

	if (run->key_dir == NULL || t->error != NULL || t->nkeys == 0)
		return;
	t->own = xcalloc(t->nkeys, sizeof(*t->own));
	for (i = 0; i < t->nkeys; i++) {
		if (t->keys[i].key != NULL)
			continue;
		buf_reset(&path);
		buf_printf(&path, "%s/%s/%s.pem", run->key_dir, t->domain,
		    t->keys[i].selector);
		if (access(buf_cstr(&path), F_OK) != 0)
			continue;	/* not ours: the record's form only */
		if (check_read_key(&t->own[t->nown], buf_cstr(&path), err,
		    sizeof(err)) < 0) {
			fprintf(stderr, "authmilter-check: %s\n", err);
			keys_free(&t->own[t->nown]);
			continue;
		}
		t->keys[i].key = &t->own[t->nown++];
	}
	buf_free(&path);
}

/* check_worker - take targets until none is left; run their checks */
static void *
check_worker(void *arg)
{
	struct check_run *run = arg;
	size_t i;

	for (;;) {
		pthread_mutex_lock(&run->lock);
		i = run->next < run->n ? run->next++ : run->n;
		pthread_mutex_unlock(&run->lock);
		if (i == run->n)
			return NULL;
		check_dir_keys(run, &run->targets[i]);
		onboard_run(run->d, run->p, &run->targets[i], &run->results[i]);
		pthread_mutex_lock(&run->lock);
		run->done[i] = 1;
		pthread_cond_broadcast(&run->ready);
		pthread_mutex_unlock(&run->lock);
	}
}

/* check_print - write out to stdout and empty it */
static void
check_print(struct buf *out)
{
	fwrite(out->data != NULL ? out->data : "", 1, out->len, stdout);
	buf_reset(out);
}

/* check_onboard_run - run every target in jobs threads; print in order; the worst level */
static int
check_onboard_run(struct check_run *run, const struct check_args *a)
{
	struct onboard_summary sum;
	struct buf out = BUF_INIT;
	pthread_t *tids;
	size_t i, nt, started = 0;
	int worst = ONBOARD_OK;

	memset(&sum, 0, sizeof(sum));
	run->results = xcalloc(run->n + 1, sizeof(*run->results));
	run->done = xcalloc(run->n + 1, 1);
	nt = (size_t)a->jobs < run->n ? (size_t)a->jobs : run->n;
	tids = xcalloc(nt + 1, sizeof(*tids));
	for (i = 0; i < nt; i++)
		if (pthread_create(&tids[started], NULL, check_worker, run) == 0)
			started++;
	if (started == 0)	/* no thread: do it here */
		check_worker(run);
	if (a->json)
		buf_puts(&out, "{\"domains\":[");
	for (i = 0; i < run->n; i++) {
		pthread_mutex_lock(&run->lock);
		while (!run->done[i])
			pthread_cond_wait(&run->ready, &run->lock);
		pthread_mutex_unlock(&run->lock);
		if (a->json) {
			if (i > 0)
				buf_puts(&out, ",\n");
			onboard_json(&run->results[i], a->problems_only, &out);
		} else
			onboard_text(&run->results[i], a->problems_only, &out);
		check_print(&out);
		onboard_summary_add(&sum, &run->results[i]);
		if ((int)run->results[i].worst > worst)
			worst = run->results[i].worst;
		onboard_result_free(&run->results[i]);
	}
	for (i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	if (a->json) {
		buf_puts(&out, "],\n\"summary\":");
		onboard_summary_json(&sum, &out);
		buf_puts(&out, "}\n");
	} else if (run->n > 1)
		onboard_summary_text(&sum, &out);
	check_print(&out);
	buf_free(&out);
	free(tids);
	return worst;
}

/* check_has - does the word list hold name (case-insensitive)? */
static int
check_has(const struct config_words *w, const char *name)
{
	size_t i;

	for (i = 0; i < w->n; i++)
		if (strcasecmp(w->v[i], name) == 0)
			return 1;
	return 0;
}

/* check_onboard - the onboarding checks the command line asks for; the exit status */
static int
check_onboard(struct config *c, struct dns *d, const struct check_args *a)
{
	struct onboard_platform p;
	struct check_run run;
	size_t i;
	int worst = ONBOARD_OK, rc = 2;

	memset(&run, 0, sizeof(run));
	memset(&p, 0, sizeof(p));
	pthread_mutex_init(&run.lock, NULL);
	pthread_cond_init(&run.ready, NULL);
	run.d = d;
	run.p = &p;
	p.domain = c->platform_domain;
	p.spf_include = c->platform_spf_include[0] ? c->platform_spf_include
	    : c->platform_domain;
	p.bounce_host = a->bounce_host != NULL ? a->bounce_host : "";
	p.signs = c->platform != NULL && c->defaults.platform_signature;
	p.unsubscribe_signed = check_has(&c->defaults.signed_headers,
	    "List-Unsubscribe") && check_has(&c->defaults.signed_headers,
	    "List-Unsubscribe-Post");
	p.psl = (void *)psl_latest(NULL);
	if (a->keyfile != NULL && check_key(&run, a->keyfile) < 0)
		goto out;
	if (c->key_dir[0] != '\0') {	/* relative: to the conf's directory */
		struct buf kd = BUF_INIT;
		const char *slash = strrchr(a->path, '/');

		if (c->key_dir[0] != '/' && slash != NULL)
			buf_printf(&kd, "%.*s/", (int)(slash - a->path), a->path);
		buf_puts(&kd, c->key_dir);
		run.key_dir = buf_steal(&kd);
	}
	for (i = 0; i < a->ndomains; i++)
		check_target(&run, c, a, a->domains[i], a->selectors,
		    a->nselectors, NULL, check_add(&run));
	if (a->list != NULL && check_list(&run, c, a) < 0)
		goto out;
	for (i = 0; a->all && i < c->ndomains; i++)
		check_target(&run, c, a, c->domains[i].name, NULL, 0, NULL,
		    check_add(&run));
	if (run.n == 0) {
		fprintf(stderr, "authmilter-check: no domain to check\n");
		goto out;
	}
	worst = check_onboard_run(&run, a);
	rc = fflush(stdout) != 0 || ferror(stdout) ? 2 : worst == ONBOARD_FAIL;
out:
	for (i = 0; i < run.n; i++)
		onboard_target_free(&run.targets[i]);
	free(run.targets);
	free(run.results);
	free(run.done);
	for (i = 0; i < run.strings.n; i++)
		free(run.strings.v[i]);
	free(run.strings.v);
	keys_free(run.key);
	free(run.key);
	free(run.key_dir);
	psl_free(p.psl);
	pthread_mutex_destroy(&run.lock);
	pthread_cond_destroy(&run.ready);
	return rc;
}

int
main(int argc, char **argv)
{
	struct check_args a;
	struct dns_options dopt;
	struct config_problems probs = { NULL, 0, 0 };
	struct config *c;
	struct dns *d;
	char err[1024];
	int worst = DOMAINCHECK_OK, rc;
	size_t j;

	check_parse(argc, argv, &a);
	log_init(LOG_DEST_STDERR, LOG_MAIL, LOG_ERR);
	c = config_load_from(a.path, NULL, NULL, 0, &probs, err, sizeof(err));
	for (j = 0; j < probs.n; j++)
		fprintf(stderr, "authmilter-check: %s\n", probs.v[j].text);
	if (probs.n > 0)	/* a block left out cannot be checked */
		worst = DOMAINCHECK_FAIL;
	config_problems_free(&probs);
	if (c == NULL) {
		fprintf(stderr, "authmilter-check: %s\n", err);
		free(a.domains);
		return 2;
	}
	memset(&dopt, 0, sizeof(dopt));
	dopt.servers = (const char *const *)c->dns_servers.v;
	dopt.nservers = c->dns_servers.n;
	dopt.trust_anchor = c->trust_anchor_file[0] ? c->trust_anchor_file : NULL;
	dopt.timeout_ms = (int)(c->dns_timeout * 1000);
	dopt.max_queries = a.onboarding ? a.jobs : 0;
	if ((d = dns_new(&dopt, err, sizeof(err))) == NULL) {
		fprintf(stderr, "authmilter-check: %s\n", err);
		config_free(c);
		free(a.domains);
		return 2;
	}
	if (a.onboarding) {
		rc = check_onboard(c, d, &a);
		if (rc == 0 && worst == DOMAINCHECK_FAIL && a.all)
			rc = 1;
	} else
		rc = check_legacy(c, d, a.path, argc, argv, worst)
		    == DOMAINCHECK_FAIL ? 1 : 0;
	dns_free(d);
	config_free(c);
	free(a.domains);
	return rc;
}
