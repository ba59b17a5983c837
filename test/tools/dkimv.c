/*
 * dkimv.c - verify the DKIM signatures of one message with authmilter's
 * verifier (dkim_verify.c) and resolver (dns.c), the way the milter feeds
 * them: header fields one by one (value with its leading whitespace, folds
 * as "\n"), then the body in chunks of at most 64 KB with CRLF line ends.
 *
 *   dkimv -s 127.0.0.1@5353 [-t timeout_ms] [-m max_sigs] [-b budget_ms]
 *         [-k min_rsa_bits] [-a trust_anchor_file] [-e builtin|libopendkim]
 *         [-v] [-r] < message
 *
 * Prints one line per signature:
 *   d=D s=S a=A b=B i=I bits=N dnssec=X unsigned=N result=R reason="..."
 * or "none" when the message has no DKIM-Signature, then, with -r, a line
 * "maxrss_kb=N" (peak resident memory) and "elapsed_ms=N". Exit 0 when the
 * message was processed (whatever the verdicts), 1 on a verifier error,
 * 2 on bad usage. The message may have LF or CRLF line ends.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>

#include "base/buf.h"
#include "auth/dkim_verify.h"
#include "base/dns.h"
#include "base/log.h"

#define DKIM_VERIFY_CHUNK	65536	/* the milter protocol's largest body chunk */
#define DKIM_VERIFY_MAXSERVERS 4

/* usage - explain and exit 2 */
static void
usage(void)
{
	fprintf(stderr, "usage: dkimv -s host[@port] [-s ...] [-t timeout_ms] "
	    "[-m max_sigs] [-b budget_ms] [-k min_rsa_bits] [-a anchor] "
	    "[-e builtin|libopendkim] [-v] [-r] "
	    "< message\n");
	exit(2);
}

/* emit_header - hand one unfolded-as-received field to the verifier */
static void
emit_header(struct dkim_verify *v, struct buf *field)
{
	char *colon;

	if (field->len == 0)
		return;
	colon = strchr(field->data, ':');
	if (colon == NULL) {
		fprintf(stderr, "dkimv: skipping header line without colon\n");
		return;
	}
	*colon = '\0';
	dkim_verify_header(v, field->data, colon + 1);
}

/* chomp - drop the line end (LF or CRLF); 1 if the line was empty */
static int
chomp(char *line, ssize_t *n)
{
	while (*n > 0 && (line[*n - 1] == '\n' || line[*n - 1] == '\r'))
		line[--*n] = '\0';
	return *n == 0;
}

/* read_header - feed header fields until the empty line; 0 or -1 at EOF */
static int
read_header(struct dkim_verify *v, FILE *in)
{
	struct buf field = BUF_INIT;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int rc = -1;

	while ((n = getline(&line, &cap, in)) >= 0) {
		if (chomp(line, &n)) {
			rc = 0;
			break;
		}
		if ((line[0] == ' ' || line[0] == '\t') && field.len > 0) {
			buf_putc(&field, '\n');		/* a fold, as milters see it */
			buf_append(&field, line, (size_t)n);
			continue;
		}
		emit_header(v, &field);
		buf_reset(&field);
		buf_append(&field, line, (size_t)n);
	}
	emit_header(v, &field);
	buf_free(&field);
	free(line);
	dkim_verify_eoh(v);
	return rc;
}

/* read_body - stream the body, bare LF made CRLF, in 64 KB chunks */
static void
read_body(struct dkim_verify *v, FILE *in)
{
	unsigned char raw[DKIM_VERIFY_CHUNK / 2];
	struct buf out = BUF_INIT;
	size_t n, i;
	int prev_cr = 0;

	while ((n = fread(raw, 1, sizeof(raw), in)) > 0) {
		buf_reset(&out);
		for (i = 0; i < n; i++) {
			if (raw[i] == '\n' && !prev_cr)
				buf_putc(&out, '\r');
			buf_putc(&out, raw[i]);
			prev_cr = raw[i] == '\r';
		}
		dkim_verify_body(v, (const unsigned char *)out.data, out.len);
	}
	buf_free(&out);
}

/* print_results - one line per signature */
static void
print_results(const struct dkim_verify_results *r)
{
	const struct dkim_verify_sig *s;
	size_t i;

	if (r->n == 0)
		printf("none\n");
	for (i = 0; i < r->n; i++) {
		s = &r->sig[i];
		printf("d=%s s=%s a=%s b=%s i=%s bits=%u dnssec=%s unsigned=%zu "
		    "result=%s reason=\"%s\"\n", s->domain, s->selector,
		    s->algorithm, s->b, s->identity, s->keybits,
		    dkim_verify_dnssec_name(s->dnssec), s->unsigned_bytes,
		    dkim_verify_res_name(s->res), s->reason);
	}
	if (r->total > r->n)
		printf("# %zu signatures, %zu verified\n", r->total, r->n);
}

int
main(int argc, char **argv)
{
	const char *servers[DKIM_VERIFY_MAXSERVERS];
	struct dns_options dopt;
	struct dkim_verify_options vopt;
	struct dkim_verify_results res;
	struct dkim_verify_lib *lib;
	struct dkim_verify *v;
	struct dns *dns;
	struct rusage ru;
	struct timespec t0, t1;
	char err[256];
	int c, verbose = 0, rusage_out = 0, rc;

	memset(&dopt, 0, sizeof(dopt));
	memset(&vopt, 0, sizeof(vopt));
	while ((c = getopt(argc, argv, "s:t:m:b:k:a:e:vr")) != -1) {
		switch (c) {
		case 's':
			if (dopt.nservers == DKIM_VERIFY_MAXSERVERS)
				usage();
			servers[dopt.nservers++] = optarg;
			break;
		case 't':
			dopt.timeout_ms = atoi(optarg);
			break;
		case 'm':
			vopt.max_signatures = (unsigned int)atoi(optarg);
			break;
		case 'b':
			vopt.time_budget_ms = atoi(optarg);
			break;
		case 'k':
			vopt.min_rsa_bits = (unsigned int)atoi(optarg);
			break;
		case 'e':
			if (strcmp(optarg, "libopendkim") == 0)
				vopt.engine = DKIM_VERIFY_ENGINE_LIBOPENDKIM;
			else if (strcmp(optarg, "builtin") == 0)
				vopt.engine = DKIM_VERIFY_ENGINE_BUILTIN;
			else
				usage();
			break;
		case 'a':
			dopt.trust_anchor = optarg;
			vopt.dnssec = 1;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'r':
			rusage_out = 1;
			break;
		default:
			usage();
		}
	}
	if (optind != argc || dopt.nservers == 0)
		usage();
	dopt.servers = servers;
	log_init(LOG_DEST_STDERR, LOG_MAIL, verbose ? LOG_DEBUG : LOG_WARNING);
	clock_gettime(CLOCK_MONOTONIC, &t0);

	dns = dns_new(&dopt, err, sizeof(err));
	if (dns == NULL) {
		fprintf(stderr, "dkimv: %s\n", err);
		return 1;
	}
	vopt.dns = dns;
	lib = dkim_verify_lib_new(&vopt, err, sizeof(err));
	if (lib == NULL) {
		fprintf(stderr, "dkimv: %s\n", err);
		dns_free(dns);
		return 1;
	}
	v = dkim_verify_begin(lib, "dkimv");
	if (read_header(v, stdin) == 0)
		read_body(v, stdin);
	rc = dkim_verify_eom(v, &res);
	print_results(&res);
	dkim_verify_results_free(&res);
	dkim_verify_free(v);
	dkim_verify_lib_free(lib);
	dns_free(dns);

	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (rusage_out && getrusage(RUSAGE_SELF, &ru) == 0) {
		printf("maxrss_kb=%ld\n", ru.ru_maxrss);
		printf("elapsed_ms=%ld\n", (long)(t1.tv_sec - t0.tv_sec) * 1000L +
		    (t1.tv_nsec - t0.tv_nsec) / 1000000L);
	}
	return rc == 0 ? 0 : 1;
}
