/*
 * fuzz_parsers.c - libFuzzer target for the parsers that see hostile input:
 * From headers (mailaddr), Authentication-Results claims (authres), DMARC
 * records, SMTP paths, conf text (parsed without loading keys; its
 * include lines match no file), bounces' delivery status reports, and
 * received DMARC aggregate reports (authmilter-report import: MIME, gzip,
 * zip and the XML, with a 1 MiB limit; and the XML parser alone).
 *
 * Build (clang, in a configured build dir): make fuzz-build, then
 *   test/fuzz/build/fuzz_parsers -max_total_time=60
 * The first input byte picks the parser; the rest is its input.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/authres.h"
#include "policy/config.h"
#include "auth/dmarc.h"
#include "auth/dsn.h"
#include "base/buf.h"
#include "base/mailaddr.h"
#include "store/rua.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* fuzz_no_match - an include pattern matches nothing: the fuzzer reads no file */
static int
fuzz_no_match(void *arg, const char *pattern, struct config_words *files,
    char *err, size_t errlen)
{
	(void)arg;
	(void)pattern;
	(void)err;
	(void)errlen;
	files->v = NULL;
	files->n = 0;
	return 0;
}

static const struct config_source fuzz_no_files = { .glob = fuzz_no_match };

/* LLVMFuzzerTestOneInput - one input, one parser */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mailaddr_list l;
	struct dmarc_record r;
	char *s;

	if (size < 1)
		return 0;
	s = malloc(size);
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	switch (data[0] % 8) {
	case 0:
		mailaddr_parse_list(s, &l);
		mailaddr_list_free(&l);
		break;
	case 1:
		(void)authres_claims_id(s, "mx.example.net");
		break;
	case 2:
		if (dmarc_record_parse(s, size - 1, &r) == 0)
			dmarc_record_free(&r);
		break;
	case 3:
		free(mailaddr_envelope_domain(s));
		(void)mailaddr_domain_ok(s, size - 1, 0);
		(void)mailaddr_domain_ok(s, size - 1, MAILADDR_DOMAIN_UTF8);
		break;
	case 4: {
		char err[512];

		config_free(config_load_from("fuzz.conf", s, &fuzz_no_files,
		    CONFIG_SKIP_KEYS, NULL, err, sizeof(err)));
		break;
	}
	case 5: {
		/* a bounce's body: its first line the Content-Type value, the
		 * rest fed in chunks of a size the input picks */
		char *nl = memchr(s, '\n', size - 1);
		struct buf out = BUF_INIT;
		struct dsn *d;
		size_t off, step, len;

		if (nl == NULL)
			break;
		*nl = '\0';
		d = dsn_new(s);
		len = size - 1 - (size_t)(nl + 1 - s);
		step = (size_t)(unsigned char)s[0] % 61 + 1;
		for (off = 0; off < len; off += step)
			dsn_feed(d, (const unsigned char *)nl + 1 + off,
			    len - off < step ? len - off : step);
		(void)dsn_format(d, &out);
		buf_free(&out);
		dsn_free(d);
		break;
	}
	case 6: {
		struct rua_report rep;
		char err[512];

		(void)rua_read(data + 1, size - 1, 1 << 20, &rep, err,
		    sizeof(err));
		rua_report_free(&rep);
		break;
	}
	case 7: {
		struct rua_report rep;
		char err[512];

		(void)rua_parse(s, size - 1, &rep, err, sizeof(err));
		rua_report_free(&rep);
		break;
	}
	}
	free(s);
	return 0;
}
