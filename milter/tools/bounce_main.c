/*
 * bounce_main.c - authmilter-bounce: make or check a bounce address.
 *
 * A thin command-line front end to bounce.c for operators and their bounce
 * pipelines: `decode ADDRESS` verifies a bounce address and prints the
 * original sender on standard output (nothing else goes there), the verdict
 * on standard error; `encode ORIGINAL` prints the address authmilter would
 * write. A stored-form address (ab2=, bounce.h) is verified, then its
 * token looked up in the history store (--history, or history of the
 * conf given with -c, which also gives bounce_secret and bounce_max_age).
 * Single-threaded; runs as the operator.
 * Exit status: 0 valid (or encoded), 1 invalid or error, 2 usage.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "auth/bounce.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/mailaddr.h"
#include "base/secret.h"
#include "policy/config.h"
#include "store/history.h"

#define BOUNCE_PROG		"authmilter-bounce"
#define BOUNCE_USAGE		2
#define BOUNCE_MAX_SECRETS	16

/* What the command line asked for. */
struct bounce_args {
	const char *secrets[BOUNCE_MAX_SECRETS];	/* -k, in order */
	size_t nsecrets;
	const char *domain;	/* -d: bounce domain; NULL: the address's */
	long max_age;		/* --max-age, seconds; 0: the default */
	time_t now;		/* --now; -1: the clock */
	int group_ok;		/* --allow-group-readable */
	int decode;		/* 1 decode, 0 encode */
	const char *arg;	/* ADDRESS or ORIGINAL */
	const char *conf;	/* -c: conf giving secrets, max age, history */
	const char *history;	/* --history: the store of stored-form tokens */
	struct config *c;	/* the conf loaded (owned; NULL: none) */
};

/* bounce_main_usage - print the synopsis to fp */
static void
bounce_main_usage(FILE *fp)
{
	fprintf(fp, "usage: %s {-k SECRET [-k OLDSECRET ...] | -c CONF} [-d BOUNCE_DOMAIN] "
	    "[--max-age DAYS] [--history SPEC] [--now EPOCH] decode ADDRESS\n"
	    "       %s -k SECRET -d BOUNCE_DOMAIN [--now EPOCH] encode ORIGINAL\n"
	    "  -k FILE       secret file; the first signs, all verify "
	    "(repeatable)\n"
	    "  -d DOMAIN     bounce domain (decode: default the address's "
	    "domain)\n"
	    "  --max-age N   accept addresses up to N days old (default 30, "
	    "at most 1000)\n"
	    "  --now EPOCH   pretend the time is EPOCH (seconds since 1970)\n"
	    "  -c CONF       take bounce_secret, bounce_max_age and history "
	    "from CONF\n"
	    "  --history SPEC  store of stored-form (ab2=) tokens (default: "
	    "history of CONF)\n"
	    "  -g, --allow-group-readable  accept secret files of mode 0640\n"
	    "  -h            this help\n", BOUNCE_PROG, BOUNCE_PROG);
}

/* bounce_main_bad - complain about the command line; the usage status */
static int
bounce_main_bad(const char *what, const char *arg)
{
	if (what != NULL)
		fprintf(stderr, "%s: %s%s%s\n", BOUNCE_PROG, what,
		    arg != NULL ? ": " : "", arg != NULL ? arg : "");
	fprintf(stderr, "Try '%s -h' for help.\n", BOUNCE_PROG);
	return BOUNCE_USAGE;
}

/* bounce_main_number - parse a decimal number in [lo, hi] */
static int
bounce_main_number(const char *s, long long lo, long long hi, long long *out)
{
	char *end;

	errno = 0;
	*out = strtoll(s, &end, 10);
	return s[0] >= '0' && s[0] <= '9' && *end == '\0' && errno == 0
	    && *out >= lo && *out <= hi ? 0 : -1;
}

/* bounce_main_parse - fill a from argv; 0, or the exit status to use */
static int
bounce_main_parse(int argc, char **argv, struct bounce_args *a)
{
	static const struct option longopts[] = {
		{ "secret", required_argument, NULL, 'k' },
		{ "domain", required_argument, NULL, 'd' },
		{ "max-age", required_argument, NULL, 'A' },
		{ "now", required_argument, NULL, 'N' },
		{ "allow-group-readable", no_argument, NULL, 'g' },
		{ "conf", required_argument, NULL, 'c' },
		{ "history", required_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	long long n;
	int c;

	memset(a, 0, sizeof(*a));
	a->now = -1;
	while ((c = getopt_long(argc, argv, "k:d:c:gh", longopts, NULL)) != -1) {
		switch (c) {
		case 'k':
			if (a->nsecrets == BOUNCE_MAX_SECRETS)
				return bounce_main_bad("too many -k", optarg);
			a->secrets[a->nsecrets++] = optarg;
			break;
		case 'd':
			a->domain = optarg;
			break;
		case 'A':
			if (bounce_main_number(optarg, 1,
			    BOUNCE_MAX_AGE_LIMIT / 86400, &n) < 0)
				return bounce_main_bad("--max-age: expected days "
				    "from 1 to 1000", optarg);
			a->max_age = (long)n * 86400;
			break;
		case 'N':
			if (bounce_main_number(optarg, 0, LLONG_MAX, &n) < 0
			    || (long long)(time_t)n != n)
				return bounce_main_bad("--now: expected seconds "
				    "since 1970", optarg);
			a->now = (time_t)n;
			break;
		case 'g':
			a->group_ok = 1;
			break;
		case 'c':
			a->conf = optarg;
			break;
		case 'H':
			a->history = optarg;
			break;
		case 'h':
			bounce_main_usage(stdout);
			exit(0);
		default:
			/* getopt_long has named the option already */
			return bounce_main_bad(NULL, NULL);
		}
	}
	if (argc - optind != 2)
		return bounce_main_bad("expected: decode ADDRESS, or encode "
		    "ORIGINAL", NULL);
	if (strcmp(argv[optind], "decode") == 0)
		a->decode = 1;
	else if (strcmp(argv[optind], "encode") != 0)
		return bounce_main_bad("unknown command", argv[optind]);
	a->arg = argv[optind + 1];
	if (a->nsecrets == 0 && a->conf == NULL)
		return bounce_main_bad("at least one -k SECRET (or -c CONF) is "
		    "needed", NULL);
	if (!a->decode && a->domain == NULL)
		return bounce_main_bad("encode needs -d BOUNCE_DOMAIN", NULL);
	return 0;
}

/* bounce_main_conf - what -c gives where the command line did not; 0 or -1 with err */
static int
bounce_main_conf(struct bounce_args *a, char *err, size_t errlen)
{
	struct config_problems probs = { 0 };
	size_t i;

	if (a->conf == NULL)
		return 0;
	a->c = config_load_from(a->conf, NULL, NULL, CONFIG_SKIP_KEYS
	    | CONFIG_SKIP_INCLUDES, &probs, err, errlen);
	config_problems_free(&probs);
	if (a->c == NULL)
		return -1;
	for (i = 0; a->nsecrets == 0 && i < a->c->bounce_secret.n
	    && i < BOUNCE_MAX_SECRETS; i++)
		a->secrets[i] = a->c->bounce_secret.v[i];
	if (a->nsecrets == 0)
		a->nsecrets = i;
	if (a->max_age == 0)
		a->max_age = a->c->bounce_max_age;
	if (a->history == NULL && a->c->history[0] != '\0')
		a->history = a->c->history;
	if (a->nsecrets == 0) {
		(void)snprintf(err, errlen, "%s: no bounce_secret", a->conf);
		return -1;
	}
	return 0;
}

/* bounce_main_load - read the -k files in order (the first signs); 0, or -1 with err naming the file */
static int
bounce_main_load(const struct bounce_args *a, struct bounce_secrets *s,
    char *err, size_t errlen)
{
	struct buf b = BUF_INIT;
	size_t i;
	int rc = 0;

	for (i = 0; i < a->nsecrets && rc == 0; i++) {
		rc = secret_read(a->secrets[i], BOUNCE_SECRET_WHAT,
		    BOUNCE_SECRET_FILE_MAX, SECRET_ALLOW_SYMLINK
		    | (a->group_ok ? SECRET_ALLOW_GROUP : 0), &b, err, errlen);
		if (rc == 0)
			rc = bounce_secrets_add(s, b.data, b.len, a->secrets[i],
			    err, errlen);
		if (b.data != NULL)
			OPENSSL_cleanse(b.data, b.cap);
	}
	buf_free(&b);
	return rc;
}

/* bounce_main_date - "2026-03-01" for a time */
static void
bounce_main_date(time_t t, char *out, size_t outlen)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || strftime(out, outlen, "%Y-%m-%d",
	    &tm) == 0)
		(void)snprintf(out, outlen, "?");
}

/* bounce_main_stored - a verified stored-form address: its token looked up */
static int
bounce_main_stored(const struct bounce_args *a,
    const struct bounce_secrets *s, const struct bounce_info *info,
    const char *date, long max_days)
{
	struct history_store *hs = NULL;
	struct buf bdom = BUF_INIT;
	char err[512], cdate[32], *orig = NULL;
	char *given = mailaddr_envelope_domain(a->arg);
	time_t created = 0;
	int found = -1, rc = 1;

	fprintf(stderr, "%s: stored form, token %s, made on %s, MAC verified "
	    "with secret %zu (%s)\n", BOUNCE_PROG, info->token, date,
	    info->secret + 1, s->v[info->secret].name);
	if (a->history == NULL) {
		fprintf(stderr, "%s: the original sender is in the history store: "
		    "give --history SPEC or -c CONF\n", BOUNCE_PROG);
		return 1;
	}
	if (bounce_domain_norm(a->domain != NULL ? a->domain : given, &bdom)
	    != 0) {
		fprintf(stderr, "%s: no bounce domain\n", BOUNCE_PROG);
		goto done;
	}
	if ((hs = history_store_open(a->history, err, sizeof(err))) == NULL
	    || (found = history_store_bounce_get(hs, info->token,
	    buf_cstr(&bdom), &orig, &created, err, sizeof(err))) < 0) {
		fprintf(stderr, "%s: %s\n", BOUNCE_PROG, err);
		goto done;
	}
	if (found == 0) {
		fprintf(stderr, "%s: invalid: %s: unknown token\n", BOUNCE_PROG,
		    bounce_status_text(BOUNCE_BAD_MAC));
		goto done;
	}
	bounce_main_date(created, cdate, sizeof(cdate));
	if (a->now - created > (a->max_age > 0 ? a->max_age
	    : BOUNCE_DEFAULT_MAX_AGE)) {
		fprintf(stderr, "%s: invalid: %s: stored on %s (max age %ld "
		    "days); the original sender was %s\n", BOUNCE_PROG,
		    bounce_status_text(BOUNCE_EXPIRED), cdate, max_days, orig);
		goto done;
	}
	printf("%s\n", orig);
	fprintf(stderr, "%s: valid: stored on %s, max age %ld days\n",
	    BOUNCE_PROG, cdate, max_days);
	rc = 0;
done:
	free(orig);
	free(given);
	buf_free(&bdom);
	history_store_close(hs);
	return rc;
}

/* bounce_main_decode - decode a.arg, print the original and the verdict */
static int
bounce_main_decode(const struct bounce_args *a, const struct bounce_secrets *s)
{
	struct buf orig = BUF_INIT;
	struct bounce_info info;
	enum bounce_status st;
	char date[32];
	long max_days;

	st = bounce_decode(s, a->arg, a->domain, a->now, a->max_age, &orig,
	    &info);
	max_days = (a->max_age > 0 ? a->max_age : BOUNCE_DEFAULT_MAX_AGE) / 86400;
	bounce_main_date(info.issued, date, sizeof(date));
	if (st == BOUNCE_OK) {
		printf("%s\n", orig.data);
		fprintf(stderr, "%s: valid: made on %s (%ld day%s ago, max age "
		    "%ld), verified with secret %zu (%s)\n", BOUNCE_PROG, date,
		    info.age_days, info.age_days == 1 ? "" : "s", max_days,
		    info.secret + 1, s->v[info.secret].name);
	} else if (st == BOUNCE_STORED) {
		return bounce_main_stored(a, s, &info, date, max_days);
	} else if (st == BOUNCE_EXPIRED && info.token[0] != '\0') {
		fprintf(stderr, "%s: invalid: %s: stored form, token %s, made on "
		    "%s (%ld days ago, max age %ld)\n", BOUNCE_PROG,
		    bounce_status_text(st), info.token, date, info.age_days,
		    max_days);
	} else if (st == BOUNCE_EXPIRED) {
		fprintf(stderr, "%s: invalid: %s: made on %s (%ld days ago, max "
		    "age %ld); the original sender was %s\n", BOUNCE_PROG,
		    bounce_status_text(st), date, info.age_days, max_days,
		    orig.data);
	} else {
		fprintf(stderr, "%s: invalid: %s%s%s\n", BOUNCE_PROG,
		    bounce_status_text(st), info.detail != NULL ? ": " : "",
		    info.detail != NULL ? info.detail : "");
	}
	buf_free(&orig);
	return st == BOUNCE_OK ? 0 : 1;
}

/* bounce_main_encode - encode a.arg and print the bounce address */
static int
bounce_main_encode(const struct bounce_args *a, const struct bounce_secrets *s)
{
	struct buf out = BUF_INIT;
	enum bounce_status st;

	st = bounce_encode(s, a->arg, a->domain, a->now, &out);
	if (st == BOUNCE_OK)
		printf("%s\n", out.data);
	else
		fprintf(stderr, "%s: cannot encode %s: %s\n", BOUNCE_PROG,
		    a->arg, bounce_status_text(st));
	buf_free(&out);
	return st == BOUNCE_OK ? 0 : 1;
}

/* main - authmilter-bounce */
int
main(int argc, char **argv)
{
	struct bounce_secrets s;
	struct bounce_args a;
	char err[512];
	int rc;

	if ((rc = bounce_main_parse(argc, argv, &a)) != 0)
		return rc;
	if (bounce_main_conf(&a, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s: %s\n", BOUNCE_PROG, err);
		config_free(a.c);
		return 1;
	}
	if (a.now < 0) {
		clock_init();
		a.now = clock_now();
	}
	bounce_secrets_init(&s);
	if (bounce_main_load(&a, &s, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s: %s\n", BOUNCE_PROG, err);
		bounce_secrets_free(&s);
		config_free(a.c);
		return 1;
	}
	rc = a.decode ? bounce_main_decode(&a, &s) : bounce_main_encode(&a, &s);
	bounce_secrets_free(&s);
	config_free(a.c);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "%s: cannot write to standard output\n",
		    BOUNCE_PROG);
		rc = 1;
	}
	return rc;
}
