/*
 * keygen_main.c - authmilter-keygen: make a DKIM key and its DNS record.
 *
 * A thin command-line front end to keygen.c: parse the options, validate,
 * generate, save DIR/SELECTOR.pem and DIR/SELECTOR.txt, print the record
 * and the authmilter.conf line. Single-threaded; runs as the operator.
 * Exit status: 0 done, 1 error (message on stderr), 2 usage.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "base/buf.h"
#include "tools/keygen.h"
#include "auth/keys.h"

#define KEYGEN_PROG	"authmilter-keygen"
#define KEYGEN_USAGE	2

/* What the command line asked for. */
struct keygen_args {
	const char *domain;	/* -d: signing domain (d=) */
	const char *selector;	/* -s: selector (s=) */
	const char *dir;	/* -D: where the files go */
	enum key_type type;	/* -t */
	int bits;		/* -b; 0 when not given */
	size_t txt_max;		/* --txt-max; 0 when not given */
};

/* What was made, for the report on stdout. */
struct keygen_out {
	char *value;		/* record value as one string */
	struct buf zone;	/* zone-file line */
	struct buf keypath;	/* absolute path of the private key */
	struct buf dir;		/* absolute key directory */
};

/* keygen_main_usage - print the synopsis to fp */
static void
keygen_main_usage(FILE *fp)
{
	fprintf(fp, "usage: %s -d DOMAIN -s SELECTOR [-b BITS] [-t rsa|ed25519] "
	    "[-D DIR] [--txt-max N]\n"
	    "  -d DOMAIN     signing domain (d=)\n"
	    "  -s SELECTOR   selector (s=); files are DIR/SELECTOR.pem and "
	    ".txt\n"
	    "  -b BITS       RSA size: 1024, 2048 (default), 3072 or 4096\n"
	    "  -t TYPE       rsa (default) or ed25519\n"
	    "  -D DIR        directory for the files (default: .)\n"
	    "  --txt-max N   longest single TXT string your DNS host accepts\n"
	    "  -h            this help\n", KEYGEN_PROG);
}

/* keygen_main_bad - complain about the command line; the usage status */
static int
keygen_main_bad(const char *what, const char *arg)
{
	if (what != NULL)
		fprintf(stderr, "%s: %s%s%s\n", KEYGEN_PROG, what,
		    arg != NULL ? ": " : "", arg != NULL ? arg : "");
	fprintf(stderr, "Try '%s -h' for help.\n", KEYGEN_PROG);
	return KEYGEN_USAGE;
}

/* keygen_main_number - parse a decimal number in [1, INT_MAX] */
static int
keygen_main_number(const char *s, long *out)
{
	char *end;

	errno = 0;
	*out = strtol(s, &end, 10);
	return s[0] >= '0' && s[0] <= '9' && *end == '\0' && errno == 0
	    && *out > 0 && *out <= INT_MAX ? 0 : -1;
}

/* keygen_main_parse - fill a from argv; 0, or the exit status to use */
static int
keygen_main_parse(int argc, char **argv, struct keygen_args *a)
{
	static const struct option longopts[] = {
		{ "domain", required_argument, NULL, 'd' },
		{ "selector", required_argument, NULL, 's' },
		{ "bits", required_argument, NULL, 'b' },
		{ "type", required_argument, NULL, 't' },
		{ "directory", required_argument, NULL, 'D' },
		{ "txt-max", required_argument, NULL, 'M' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	long n;
	int c;

	memset(a, 0, sizeof(*a));
	a->dir = ".";
	a->type = KEY_RSA;
	while ((c = getopt_long(argc, argv, "d:s:b:t:D:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			a->domain = optarg;
			break;
		case 's':
			a->selector = optarg;
			break;
		case 'D':
			a->dir = optarg;
			break;
		case 'b':
		case 'M':
			if (keygen_main_number(optarg, &n) < 0)
				return keygen_main_bad(c == 'b'
				    ? "-b: not a positive number"
				    : "--txt-max: not a positive number", optarg);
			if (c == 'b')
				a->bits = (int)n;
			else
				a->txt_max = (size_t)n;
			break;
		case 't':
			if (strcmp(optarg, "rsa") == 0)
				a->type = KEY_RSA;
			else if (strcmp(optarg, "ed25519") == 0)
				a->type = KEY_ED25519;
			else
				return keygen_main_bad("-t: expected rsa or ed25519",
				    optarg);
			break;
		case 'h':
			keygen_main_usage(stdout);
			exit(0);
		default:
			/* getopt_long has named the option already */
			return keygen_main_bad(NULL, NULL);
		}
	}
	if (optind < argc)
		return keygen_main_bad("unexpected argument", argv[optind]);
	if (a->domain == NULL || a->selector == NULL)
		return keygen_main_bad("both -d DOMAIN and -s SELECTOR are needed",
		    NULL);
	return 0;
}

/* keygen_main_report - print the record, the web-form value and the conf line */
static void
keygen_main_report(const struct keygen_args *a, const struct keygen_out *o)
{
	size_t len = strlen(o->value);

	printf("DNS zone-file record (also written to %s/%s.txt):\n\n%s\n",
	    buf_cstr(&o->dir), a->selector, buf_cstr(&o->zone));
	printf("TXT value for DNS web forms (name %s._domainkey.%s, "
	    "one string of %zu octets):\n\n%s\n\n", a->selector, a->domain, len,
	    o->value);
	if (len > KEYGEN_TXT_STRING_MAX && a->txt_max == 0)
		printf("(If your DNS host refuses TXT strings longer than %d "
		    "octets, remove %s.pem and %s.txt and run again with "
		    "--txt-max %d.)\n\n", KEYGEN_TXT_STRING_MAX, a->selector,
		    a->selector, KEYGEN_TXT_STRING_MAX);
	printf("Line for authmilter.conf, inside the block "
	    "\"domain %s { ... }\":\n\nkey = %s %s\n", a->domain, a->selector,
	    buf_cstr(&o->keypath));
}

/* keygen_main_make - generate, format and save; 0, or -1 with err set */
static int
keygen_main_make(const struct keygen_args *a, const struct keygen_choice *ch,
    struct keygen_out *o, char *err, size_t errlen)
{
	EVP_PKEY *pkey;
	char *pem = NULL;
	size_t maxstr;
	int rc = -1;

	if ((pkey = keygen_generate(ch, err, errlen)) == NULL)
		return -1;
	o->value = keygen_record_value(pkey);
	pem = keygen_private_pem(pkey);
	if (o->value == NULL || pem == NULL) {
		/* A short constant: cannot be truncated in a useful buffer. */
		(void)snprintf(err, errlen, "cannot encode the new key");
		goto out;
	}
	maxstr = a->txt_max != 0 && a->txt_max < KEYGEN_TXT_STRING_MAX
	    ? a->txt_max : KEYGEN_TXT_STRING_MAX;
	keygen_zone_line(a->selector, a->domain, o->value, maxstr, &o->zone);
	rc = keygen_save(buf_cstr(&o->dir), a->selector, pem, buf_cstr(&o->zone),
	    &o->keypath, err, errlen);
out:
	if (pem != NULL) {
		OPENSSL_cleanse(pem, strlen(pem));
		free(pem);
	}
	EVP_PKEY_free(pkey);
	return rc;
}

/* main - authmilter-keygen */
int
main(int argc, char **argv)
{
	struct keygen_args a;
	struct keygen_choice ch;
	struct keygen_out o = { NULL, BUF_INIT, BUF_INIT, BUF_INIT };
	char err[512], note[sizeof(err)];
	int rc;

	if ((rc = keygen_main_parse(argc, argv, &a)) != 0)
		return rc;
	rc = 1;
	if (keygen_check_names(a.selector, a.domain, err, sizeof(err)) < 0)
		goto fail;
	/* note: the error, or on success the fall-back notice if any */
	if (keygen_choose(a.type, a.bits, a.txt_max, &ch, note,
	    sizeof(note)) < 0) {
		fprintf(stderr, "%s: %s\n", KEYGEN_PROG, note);
		goto out;
	}
	if (keygen_resolve_dir(a.dir, &o.dir, err, sizeof(err)) < 0
	    || keygen_main_make(&a, &ch, &o, err, sizeof(err)) < 0)
		goto fail;
	if (ch.fell_back)
		fprintf(stderr, "%s: %s\n", KEYGEN_PROG, note);
	if (ch.type == KEY_ED25519)
		fprintf(stderr, "%s: note: not every receiver verifies Ed25519 "
		    "signatures (RFC 8463); RSA remains the safe choice\n",
		    KEYGEN_PROG);
	keygen_main_report(&a, &o);
	if (fflush(stdout) == 0 && !ferror(stdout)) {
		rc = 0;
		goto out;
	}
	(void)snprintf(err, sizeof(err), "cannot write to standard output");
fail:
	fprintf(stderr, "%s: %s\n", KEYGEN_PROG, err);
out:
	free(o.value);
	buf_free(&o.zone);
	buf_free(&o.keypath);
	buf_free(&o.dir);
	return rc;
}
