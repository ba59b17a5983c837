/*
 * keygen_main.c - authmilter-keygen: make a DKIM key and its DNS record.
 *
 * A thin command-line front end to keygen.c: parse the options, validate,
 * generate, save DIR/SELECTOR.pem and DIR/SELECTOR.txt, print the record
 * and the authmilter.conf line (or, --json, one JSON document). With
 * --domains, one key per domain of a list, saved as DIR/DOMAIN/SELECTOR.pem
 * (the conf's key_dir layout). With --cname-target ZONE, the record is
 * meant for the platform's zone at SELECTOR.DOMAIN.ZONE and the customer
 * publishes a CNAME to it. DIR and the domain directories are created
 * (0700) when missing. Single-threaded; runs as the operator.
 * Exit status: 0 done, 1 error (message on stderr; in a batch, the other
 * domains are still done), 2 usage.
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
#include "base/json.h"
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
	const char *list;	/* --domains FILE ("-": stdin); NULL: -d */
	const char *cname_zone;	/* --cname-target ZONE; NULL: none */
	int json;		/* --json */
};

/* What was made, for the report on stdout. */
struct keygen_out {
	char *value;		/* record value as one string */
	struct buf zone;	/* zone-file line */
	struct buf keypath;	/* absolute path of the private key */
	struct buf dir;		/* absolute directory of the files */
	struct buf target;	/* --cname-target: where the TXT record lives */
	struct buf cname;	/* --cname-target: the customer's CNAME line */
};

/* keygen_main_usage - print the synopsis to fp */
static void
keygen_main_usage(FILE *fp)
{
	fprintf(fp, "usage: %s {-d DOMAIN | --domains FILE} -s SELECTOR [-b BITS] "
	    "[-t rsa|ed25519]\n"
	    "           [-D DIR] [--txt-max N] [--cname-target ZONE] [--json]\n"
	    "  -d DOMAIN     signing domain (d=)\n"
	    "  --domains FILE  one key per domain listed (one a line, -: stdin),\n"
	    "                saved as DIR/DOMAIN/SELECTOR.pem (key_dir layout)\n"
	    "  -s SELECTOR   selector (s=); files are DIR/SELECTOR.pem and "
	    ".txt\n"
	    "  -b BITS       RSA size: 1024, 2048 (default), 3072 or 4096\n"
	    "  -t TYPE       rsa (default) or ed25519\n"
	    "  -D DIR        directory for the files (default: .; created 0700)\n"
	    "  --txt-max N   longest single TXT string your DNS host accepts\n"
	    "  --cname-target ZONE  platform-hosted record: the customer's CNAME\n"
	    "                to SELECTOR.DOMAIN.ZONE, the TXT record there\n"
	    "  --json        one JSON document on stdout\n"
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
		{ "domains", required_argument, NULL, 'L' },
		{ "cname-target", required_argument, NULL, 'C' },
		{ "json", no_argument, NULL, 'J' },
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
		case 'L':
			a->list = optarg;
			break;
		case 'C':
			a->cname_zone = optarg;
			break;
		case 'J':
			a->json = 1;
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
	if (a->list != NULL && a->domain != NULL)
		return keygen_main_bad("-d and --domains exclude each other", NULL);
	if ((a->domain == NULL && a->list == NULL) || a->selector == NULL)
		return keygen_main_bad("-s SELECTOR and -d DOMAIN (or --domains "
		    "FILE) are needed", NULL);
	return 0;
}

/* keygen_main_report - print the record, the web-form value and the conf line */
static void
keygen_main_report(const struct keygen_args *a, const char *domain,
    const struct keygen_out *o)
{
	size_t len = strlen(o->value);

	if (o->target.len > 0) {
		printf("CNAME for the zone of %s (the customer publishes it):\n\n%s\n",
		    domain, buf_cstr(&o->cname));
		printf("TXT record for the platform's zone, at %s (also written "
		    "to %s/%s.txt):\n\n%s\n", buf_cstr(&o->target),
		    buf_cstr(&o->dir), a->selector, buf_cstr(&o->zone));
	} else
		printf("DNS zone-file record (also written to %s/%s.txt):\n\n%s\n",
		    buf_cstr(&o->dir), a->selector, buf_cstr(&o->zone));
	printf("TXT value for DNS web forms (name %s%s%s%s, one string of %zu "
	    "octets):\n\n%s\n\n", o->target.len ? "" : a->selector,
	    o->target.len ? "" : "._domainkey.", o->target.len ? "" : domain,
	    buf_cstr(&o->target), len, o->value);
	if (len > KEYGEN_TXT_STRING_MAX && a->txt_max == 0)
		printf("(If your DNS host refuses TXT strings longer than %d "
		    "octets, remove %s.pem and %s.txt and run again with "
		    "--txt-max %d.)\n\n", KEYGEN_TXT_STRING_MAX, a->selector,
		    a->selector, KEYGEN_TXT_STRING_MAX);
	if (a->list != NULL)	/* o->dir is KEY_DIR/DOMAIN */
		printf("Line for authmilter.conf, inside the block \"domain %s "
		    "{ ... }\", with key_dir = %.*s:\n\nkey = %s\n\n", domain,
		    (int)(strrchr(buf_cstr(&o->dir), '/') - buf_cstr(&o->dir)),
		    buf_cstr(&o->dir), a->selector);
	else
		printf("Line for authmilter.conf, inside the block "
		    "\"domain %s { ... }\":\n\nkey = %s %s\n", domain, a->selector,
		    buf_cstr(&o->keypath));
}

/* keygen_main_json - one key as a JSON object into out */
static void
keygen_main_json(const struct keygen_args *a, const char *domain,
    const struct keygen_choice *ch, const struct keygen_out *o,
    struct buf *out)
{
	struct buf name = BUF_INIT;

	buf_puts(out, "{\"domain\":");
	json_string(out, domain);
	buf_puts(out, ",\"selector\":");
	json_string(out, a->selector);
	buf_printf(out, ",\"type\":\"%s\",\"bits\":%d,\"fell_back\":%s,"
	    "\"key_file\":", keys_type_name(ch->type), ch->bits,
	    ch->fell_back ? "true" : "false");
	json_string(out, buf_cstr(&o->keypath));
	buf_puts(out, ",\"conf_line\":");
	buf_printf(&name, "key = %s", a->selector);
	if (a->list == NULL)
		buf_printf(&name, " %s", buf_cstr(&o->keypath));
	json_string(out, buf_cstr(&name));
	buf_reset(&name);
	if (o->target.len > 0)
		buf_printf(&name, "%s.", buf_cstr(&o->target));
	else
		buf_printf(&name, "%s._domainkey.%s.", a->selector, domain);
	buf_puts(out, ",\"txt\":{\"name\":");
	json_string(out, buf_cstr(&name));
	buf_puts(out, ",\"value\":");
	json_string(out, o->value);
	buf_puts(out, ",\"zone\":");
	json_string(out, buf_cstr(&o->zone));
	buf_puts(out, "},\"cname\":");
	if (o->target.len > 0) {
		buf_reset(&name);
		buf_printf(&name, "%s._domainkey.%s.", a->selector, domain);
		buf_puts(out, "{\"name\":");
		json_string(out, buf_cstr(&name));
		buf_reset(&name);
		buf_printf(&name, "%s.", buf_cstr(&o->target));
		buf_puts(out, ",\"target\":");
		json_string(out, buf_cstr(&name));
		buf_puts(out, ",\"zone\":");
		json_string(out, buf_cstr(&o->cname));
		buf_putc(out, '}');
	} else
		buf_puts(out, "null");
	buf_putc(out, '}');
	buf_free(&name);
}

/* keygen_main_make - generate, format and save one key of domain; 0, or -1 with err set */
static int
keygen_main_make(const struct keygen_args *a, const char *domain,
    const struct keygen_choice *ch, struct keygen_out *o, char *err,
    size_t errlen)
{
	EVP_PKEY *pkey;
	char *pem = NULL;
	size_t maxstr;
	int rc = -1;

	if (a->cname_zone != NULL && keygen_cname_target(a->selector, domain,
	    a->cname_zone, &o->target, err, errlen) < 0)
		return -1;
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
	if (o->target.len > 0) {
		keygen_cname_line(a->selector, domain, buf_cstr(&o->target),
		    &o->cname);
		keygen_zone_record(buf_cstr(&o->target), o->value, maxstr,
		    &o->zone);
	} else
		keygen_zone_line(a->selector, domain, o->value, maxstr, &o->zone);
	/* the .txt file: what to publish, the CNAME too when delegated */
	{
		struct buf file = BUF_INIT;

		buf_printf(&file, "%s%s", buf_cstr(&o->cname), buf_cstr(&o->zone));
		rc = keygen_save(buf_cstr(&o->dir), a->selector, pem,
		    buf_cstr(&file), &o->keypath, err, errlen);
		buf_free(&file);
	}
out:
	if (pem != NULL) {
		OPENSSL_cleanse(pem, strlen(pem));
		free(pem);
	}
	EVP_PKEY_free(pkey);
	return rc;
}

/* keygen_main_out_free - release what one key's run made, ready for the next */
static void
keygen_main_out_free(struct keygen_out *o)
{
	free(o->value);
	o->value = NULL;
	buf_free(&o->zone);
	buf_free(&o->keypath);
	buf_free(&o->dir);
	buf_free(&o->target);
	buf_free(&o->cname);
}

/*
 * keygen_main_one - make domain's key under the directory top (batch:
 * top/DOMAIN); its report to stdout or, --json, to json; 0 or -1 (the
 * error on stderr, and into errs unless NULL)
 */
static int
keygen_main_one(const struct keygen_args *a, const char *domain,
    const struct keygen_choice *ch, const char *top, struct buf *json,
    int *njson, struct buf *errs)
{
	struct keygen_out o = { NULL, BUF_INIT, BUF_INIT, BUF_INIT, BUF_INIT,
	    BUF_INIT };
	struct buf dir = BUF_INIT;
	char err[512];
	int rc = -1;

	buf_puts(&dir, top);
	if (keygen_check_names(a->selector, domain, err, sizeof(err)) < 0)
		goto fail;
	if (a->list != NULL)
		buf_printf(&dir, "/%s", domain);
	if (keygen_make_dir(buf_cstr(&dir), err, sizeof(err)) < 0
	    || keygen_resolve_dir(buf_cstr(&dir), &o.dir, err, sizeof(err)) < 0
	    || keygen_main_make(a, domain, ch, &o, err, sizeof(err)) < 0)
		goto fail;
	if (a->json) {
		buf_puts(json, (*njson)++ ? ",\n" : "");
		keygen_main_json(a, domain, ch, &o, json);
	} else {
		if (a->list != NULL)
			printf("== %s\n", domain);
		keygen_main_report(a, domain, &o);
	}
	rc = 0;
	goto out;
fail:
	fprintf(stderr, "%s: %s%s%s\n", KEYGEN_PROG, a->list != NULL ? domain : "",
	    a->list != NULL ? ": " : "", err);
	if (errs != NULL) {	/* --json of a list: the portal sees why */
		buf_puts(errs, errs->len ? "," : "");
		buf_puts(errs, "{\"domain\":");
		json_string(errs, domain);
		buf_puts(errs, ",\"error\":");
		json_string(errs, err);
		buf_putc(errs, '}');
	}
out:
	keygen_main_out_free(&o);
	buf_free(&dir);
	return rc;
}

/* keygen_main_list - one key per domain of the list; how many failed (-1: unreadable); errors also into errs unless NULL */
static int
keygen_main_list(const struct keygen_args *a, const struct keygen_choice *ch,
    const char *top, struct buf *json, int *njson, struct buf *errs)
{
	FILE *fp = strcmp(a->list, "-") == 0 ? stdin : fopen(a->list, "r");
	char *line = NULL, *d, *save = NULL;
	size_t cap = 0;
	int failed = 0;

	if (fp == NULL) {
		fprintf(stderr, "%s: %s: %s\n", KEYGEN_PROG, a->list, strerror(errno));
		return -1;
	}
	while (getline(&line, &cap, fp) != -1) {
		line[strcspn(line, "#\r\n")] = '\0';
		if ((d = strtok_r(line, " \t", &save)) == NULL)
			continue;
		failed += keygen_main_one(a, d, ch, top, json, njson, errs) < 0;
	}
	if (ferror(fp)) {
		fprintf(stderr, "%s: reading %s failed\n", KEYGEN_PROG, a->list);
		failed++;
	}
	free(line);
	if (fp != stdin)
		fclose(fp);
	return failed;
}

/* main - authmilter-keygen */
int
main(int argc, char **argv)
{
	struct keygen_args a;
	struct keygen_choice ch;
	struct buf json = BUF_INIT, errs = BUF_INIT;
	char note[512];
	int rc, njson = 0, failed;

	if ((rc = keygen_main_parse(argc, argv, &a)) != 0)
		return rc;
	/* note: the error, or on success the fall-back notice if any */
	if (keygen_choose(a.type, a.bits, a.txt_max, &ch, note,
	    sizeof(note)) < 0) {
		fprintf(stderr, "%s: %s\n", KEYGEN_PROG, note);
		return 1;
	}
	if (a.json && a.list != NULL)
		buf_puts(&json, "{\"keys\":[");
	if (a.list != NULL)
		failed = keygen_main_list(&a, &ch, a.dir, &json, &njson,
		    a.json ? &errs : NULL);
	else
		failed = keygen_main_one(&a, a.domain, &ch, a.dir, &json, &njson,
		    NULL) < 0;
	if (a.json && a.list != NULL)
		buf_printf(&json, "],\"errors\":[%s],\"failed\":%d}",
		    buf_cstr(&errs), failed < 0 ? 1 : failed);
	if (json.len > 0)
		printf("%s\n", buf_cstr(&json));
	buf_free(&json);
	buf_free(&errs);
	if (ch.fell_back)
		fprintf(stderr, "%s: %s\n", KEYGEN_PROG, note);
	if (ch.type == KEY_ED25519)
		fprintf(stderr, "%s: note: not every receiver verifies Ed25519 "
		    "signatures (RFC 8463); RSA remains the safe choice\n",
		    KEYGEN_PROG);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "%s: cannot write to standard output\n", KEYGEN_PROG);
		return 1;
	}
	return failed != 0 ? 1 : 0;
}
