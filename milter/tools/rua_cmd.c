/*
 * rua_cmd.c - authmilter-report's commands for the aggregate reports
 * customers receive: import (files, directories such as a Maildir, or
 * standard input, into the history store), summary (text or --json) and
 * html (one page). report_main.c parses the common options and opens the
 * store; these take the rest of the command line.
 *
 * Each file is read whole, up to a bound (twice --max-size: a base64 MIME
 * message of the largest XML allowed), then unpacked and parsed by
 * store/rua.c; one bad file is reported and the others go on.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "tools/rua_cmd.h"
#include "tools/rua_summary.h"
#include "policy/config.h"
#include "base/buf.h"
#include "base/dns.h"
#include "policy/runtime.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "store/history.h"
#include "store/rua.h"

#define RUA_DIR_DEPTH	4		/* directories inside directories */
#define RUA_RR_PTR	12

/* The counts of one import run. */
struct rua_import {
	struct history_store *store;	/* borrowed */
	size_t max;			/* XML bytes allowed */
	unsigned long imported, duplicates, errors;
};

/* rua_size - "N", "Nk", "Nm" (at most 1 GiB): bytes; 0 on error */
static size_t
rua_size(const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || v == 0)
		return 0;
	if (*end == 'k' || *end == 'K')
		v <<= 10, end++;
	else if (*end == 'm' || *end == 'M')
		v <<= 20, end++;
	/* zlib counts in 32 bits, and a report of a GiB is no report */
	return *end == '\0' && v <= (1ULL << 30) ? (size_t)v : 0;
}

/* rua_slurp - the whole of fp, at most limit bytes; 0 or -1 with err */
static int
rua_slurp(FILE *fp, size_t limit, struct buf *out, char *err, size_t errlen)
{
	char chunk[65536];
	size_t n;

	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0) {
		if (out->len + n > limit)
			return log_fail(err, errlen, "larger than %zu bytes "
			    "(--max-size)", limit);
		buf_append(out, chunk, n);
	}
	if (ferror(fp))
		return log_fail(err, errlen, "read error");
	return 0;
}

/* rua_import_data - one received report from its bytes */
static void
rua_import_data(struct rua_import *im, const char *name, const struct buf *in)
{
	struct rua_report r;
	unsigned long long n = 0;
	char err[512];
	size_t i;
	int rc;

	if (rua_read((const unsigned char *)(in->data != NULL ? in->data : ""),
	    in->len, im->max, &r, err, sizeof(err)) != 0) {
		fprintf(stderr, "authmilter-report: %s: %s\n", name, err);
		im->errors++;
		goto done;
	}
	for (i = 0; i < r.nrows; i++)
		n += r.rows[i].count;
	rc = history_store_rua_add(im->store, &r, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "authmilter-report: %s: %s\n", name, err);
		im->errors++;
	} else if (rc > 0) {
		printf("%s: duplicate: report %s from %s was imported already\n",
		    name, r.report_id, r.org_name);
		im->duplicates++;
	} else {
		printf("%s: imported report %s from %s for %s (%s): %zu "
		    "record%s, %llu message%s\n", name, r.report_id,
		    r.org_name, r.domain, r.format, r.nrows, r.nrows == 1 ? ""
		    : "s", n, n == 1 ? "" : "s");
		im->imported++;
	}
done:
	rua_report_free(&r);
}

/* rua_import_file - one file (or "-": standard input) */
static void
rua_import_file(struct rua_import *im, const char *path)
{
	struct buf in = BUF_INIT;
	char err[512];
	FILE *fp = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");

	if (fp == NULL) {
		fprintf(stderr, "authmilter-report: %s: %s\n", path,
		    strerror(errno));
		im->errors++;
		return;
	}
	if (rua_slurp(fp, im->max * 2, &in, err, sizeof(err)) != 0) {
		fprintf(stderr, "authmilter-report: %s: %s\n", path, err);
		im->errors++;
	} else
		rua_import_data(im, path, &in);
	if (fp != stdin)
		(void)fclose(fp);
	buf_free(&in);
}

/* rua_import_path - a file, or every file under a directory (a Maildir's cur/ and new/ too) */
static void
rua_import_path(struct rua_import *im, const char *path, int depth)
{
	struct dirent **names = NULL;
	struct buf sub = BUF_INIT;
	struct stat st;
	int n, i;

	if (strcmp(path, "-") == 0 || stat(path, &st) != 0
	    || !S_ISDIR(st.st_mode)) {
		rua_import_file(im, path);
		return;
	}
	if (depth >= RUA_DIR_DEPTH) {
		fprintf(stderr, "authmilter-report: %s: directories nested too "
		    "deep, skipped\n", path);
		im->errors++;
		return;
	}
	if ((n = scandir(path, &names, NULL, alphasort)) < 0) {
		fprintf(stderr, "authmilter-report: %s: %s\n", path,
		    strerror(errno));
		im->errors++;
		return;
	}
	for (i = 0; i < n; i++) {
		/* dot files, and a Maildir's tmp/ (messages being delivered) */
		if (names[i]->d_name[0] != '.' && strcmp(names[i]->d_name, "tmp")
		    != 0) {
			buf_reset(&sub);
			buf_printf(&sub, "%s/%s", path, names[i]->d_name);
			rua_import_path(im, buf_cstr(&sub), depth + 1);
		}
		free(names[i]);
	}
	free(names);
	buf_free(&sub);
}

/* rua_cmd_import - import FILE|DIR... (none: standard input) */
int
rua_cmd_import(struct history_store *s, int argc, char **argv)
{
	struct rua_import im;
	int i, files = 0;

	memset(&im, 0, sizeof(im));
	im.store = s;
	im.max = RUA_MAX_DEFAULT;
	for (i = 0; i < argc; i++)
		if (strcmp(argv[i], "--max-size") == 0 && i + 1 < argc) {
			if ((im.max = rua_size(argv[++i])) == 0) {
				fprintf(stderr, "authmilter-report: --max-size "
				    "%s: give bytes, Nk or Nm\n", argv[i]);
				return 2;
			}
		} else if (strncmp(argv[i], "--", 2) == 0 && argv[i][2] != '\0') {
			fprintf(stderr, "authmilter-report: import: unknown "
			    "option %s\n", argv[i]);
			return 2;
		}
	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--max-size") == 0) {
			i++;
			continue;
		}
		rua_import_path(&im, argv[i], 0);
		files++;
	}
	if (files == 0)
		rua_import_file(&im, "-");
	printf("imported %lu, duplicates %lu, errors %lu\n", im.imported,
	    im.duplicates, im.errors);
	return im.errors ? 1 : 0;
}

/* rua_ptr_name - the PTR query name of an address; 0 or -1 */
static int
rua_ptr_name(const char *ip, struct buf *name)
{
	unsigned char a[16];
	int i;

	if (inet_pton(AF_INET, ip, a) == 1) {
		buf_printf(name, "%u.%u.%u.%u.in-addr.arpa", a[3], a[2], a[1],
		    a[0]);
		return 0;
	}
	if (inet_pton(AF_INET6, ip, a) != 1)
		return -1;
	for (i = 15; i >= 0; i--)
		buf_printf(name, "%x.%x.", a[i] & 15, a[i] >> 4);
	buf_puts(name, "ip6.arpa");
	return 0;
}

/* rua_wire_name - a domain name in uncompressed wire form as text; 0 or -1 */
static int
rua_wire_name(const unsigned char *p, size_t len, struct buf *out)
{
	size_t i = 0, l, k;

	while (i < len && p[i] != 0) {
		l = p[i++];
		if (l > 63 || l > len - i)
			return -1;
		for (k = 0; k < l; k++)
			buf_putc(out, p[i + k] > 0x20 && p[i + k] < 0x7f
			    ? p[i + k] : '?');
		buf_putc(out, '.');
		i += l;
	}
	return i < len ? 0 : -1;
}

/* rua_resolve - the sources' reverse names (--resolve), through the conf's DNS */
static void
rua_resolve(struct rua_summary *sum, struct dns *d)
{
	struct dns_result res;
	struct buf q = BUF_INIT, name = BUF_INIT;
	size_t i;

	for (i = 0; i < sum->nsrc; i++) {
		buf_reset(&q);
		buf_reset(&name);
		if (rua_ptr_name(sum->src[i].ip, &q) != 0)
			continue;
		memset(&res, 0, sizeof(res));
		if (dns_resolve(d, buf_cstr(&q), RUA_RR_PTR, 0, &res) == DNS_OK
		    && res.n > 0 && rua_wire_name(res.data[0], res.len[0],
		    &name) == 0) {
			free(sum->src[i].name);
			sum->src[i].name = xstrdup(buf_cstr(&name));
		}
		dns_result_free(&res);
	}
	buf_free(&q);
	buf_free(&name);
}

/* rua_time - YYYY-MM-DD (UTC midnight) or seconds since the epoch; 0 or -1 */
static int
rua_time(const char *s, long long *t)
{
	struct tm tm;
	char *end;

	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%d", &tm);
	if (end != NULL && *end == '\0') {
		*t = (long long)timegm(&tm);
		return 0;
	}
	errno = 0;
	*t = strtoll(s, &end, 10);
	return errno == 0 && end != s && *end == '\0' && *t >= 0 ? 0 : -1;
}

/* rua_write - text into a file; 0 or -1 (said) */
static int
rua_write(const char *path, const struct buf *b)
{
	FILE *fp = fopen(path, "w");
	int rc = 0;

	if (fp == NULL) {
		fprintf(stderr, "authmilter-report: %s: %s\n", path,
		    strerror(errno));
		return -1;
	}
	if (fwrite(b->data, 1, b->len, fp) != b->len)
		rc = -1;
	if (fclose(fp) != 0)
		rc = -1;
	if (rc != 0)
		fprintf(stderr, "authmilter-report: %s: write failed\n", path);
	return rc;
}

/* The options of summary and html. */
struct rua_opts {
	struct rua_thresholds t;
	char *domain;			/* lower case (owned) */
	const char *out;		/* html's -o (borrowed from argv) */
	long long since;
	int json, resolve;
};

/* rua_summary_args - parse the options; 0, or -1 (usage) */
static int
rua_summary_args(int argc, char **argv, int html, struct rua_opts *o)
{
	char *end;
	int i;

	for (i = 0; i < argc; i++) {
		const char *opt = argv[i], *v;

		if (strcmp(opt, "--json") == 0 && !html) {
			o->json = 1;
			continue;
		}
		if (strcmp(opt, "--resolve") == 0) {
			o->resolve = 1;
			continue;
		}
		if (i + 1 >= argc)
			return -1;
		v = argv[++i];
		if (strcmp(opt, "--domain") == 0) {
			free(o->domain);
			o->domain = xstrdup(v);
			for (end = o->domain; *end != '\0'; end++)
				*end = (char)tolower((unsigned char)*end);
		} else if (strcmp(opt, "--since") == 0) {
			if (rua_time(v, &o->since) != 0)
				return -1;
		} else if (strcmp(opt, "-o") == 0 && html)
			o->out = v;
		else if (strcmp(opt, "--min-pass") == 0) {
			o->t.min_pass = strtod(v, &end);
			if (*end != '\0' || !(o->t.min_pass >= 0
			    && o->t.min_pass <= 100))
				return -1;
		} else if (strcmp(opt, "--min-days") == 0) {
			o->t.min_days = strtol(v, &end, 10);
			if (*end != '\0' || o->t.min_days < 0)
				return -1;
		} else if (strcmp(opt, "--min-messages") == 0) {
			o->t.min_messages = strtoull(v, &end, 10);
			if (*end != '\0' || *v == '-')
				return -1;
		} else
			return -1;
	}
	return !html || (o->domain != NULL && o->out != NULL) ? 0 : -1;
}

/* rua_summary_one - one domain's summary appended to out, its verdict copied; 0 or 1 (said) */
static int
rua_summary_one(struct history_store *s, const struct rua_opts *o,
    const char *domain, struct dns *d, int html, struct buf *out,
    char **verdict)
{
	struct rua_summary sum;
	char err[512];

	if (rua_summary_build(s, domain, o->since, &o->t, &sum, err,
	    sizeof(err)) != 0) {
		fprintf(stderr, "authmilter-report: %s\n", err);
		return 1;
	}
	if (d != NULL)
		rua_resolve(&sum, d);
	if (html)
		rua_summary_html(&sum, &o->t, out);
	else if (o->json)
		rua_summary_json(&sum, &o->t, out);
	else
		rua_summary_text(&sum, &o->t, out);
	free(*verdict);
	*verdict = xstrdup(sum.verdict);
	rua_summary_free(&sum);
	return 0;
}

/*
 * rua_cmd_summary - summary (html 0) or html (1); summary without
 * --domain: every domain in turn (JSON: an array of their objects)
 */
int
rua_cmd_summary(struct history_store *s, const struct config *c, int argc,
    char **argv, int html)
{
	struct rua_opts o;
	struct buf out = BUF_INIT;
	struct dns *d = NULL;
	char err[512], **domains = NULL, *verdict = NULL;
	size_t i, n = 0;
	int rc = 1;

	memset(&o, 0, sizeof(o));
	rua_thresholds_default(&o.t);
	if (rua_summary_args(argc, argv, html, &o) != 0) {
		rc = 2;
		goto done;
	}
	if (o.domain != NULL) {
		domains = xcalloc(1, sizeof(*domains));
		domains[n++] = xstrdup(o.domain);
	} else if ((domains = rua_summary_domains(s, o.since, &n, err,
	    sizeof(err))) == NULL) {
		fprintf(stderr, "authmilter-report: %s\n", err);
		goto done;
	}
	if (o.resolve && (d = runtime_dns_tool(c, err, sizeof(err))) == NULL) {
		fprintf(stderr, "authmilter-report: %s\n", err);
		goto done;
	}
	if (o.json && o.domain == NULL)
		buf_puts(&out, "[");
	for (i = 0; i < n; i++) {
		if (i > 0)
			buf_puts(&out, o.json ? "," : "\n");
		if (rua_summary_one(s, &o, domains[i], d, html, &out,
		    &verdict) != 0)
			goto done;
	}
	if (o.json && o.domain == NULL)
		buf_puts(&out, "]\n");
	if (n == 0 && !o.json)
		printf("no aggregate reports received%s\n", o.since ? " in the "
		    "period" : "");
	if (!html)
		fwrite(out.data != NULL ? out.data : "", 1, out.len, stdout);
	else if (rua_write(o.out, &out) != 0)
		goto done;
	else
		printf("wrote %s: %s\n", o.out, verdict);
	rc = 0;
done:
	free(verdict);
	dns_free(d);
	buf_free(&out);
	for (i = 0; domains != NULL && i < n; i++)
		free(domains[i]);
	free(domains);
	free(o.domain);
	return rc;
}
