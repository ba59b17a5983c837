/*
 * fuzz_parsers.c - libFuzzer target for the parsers that see hostile input:
 * From headers (mailaddr), Authentication-Results claims (authres), DMARC
 * records, SMTP paths, conf text (parsed without loading keys; its
 * include lines match no file), bounces' delivery status reports, and
 * received DMARC aggregate reports (authmilter-report import: MIME, gzip,
 * zip and the XML, with a 1 MiB limit; and the XML parser alone), and
 * bounce addresses (both forms: decode of any local part, and a stored-form
 * round trip with a token the input picks), DKIM-Signature fields (the
 * builtin verifier's checks and its b= removal), DKIM key records
 * (NULs included, and the key decoded), and DNS answers as the key
 * checks' stub resolver reads them.
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
#include "auth/bounce.h"
#include "policy/config.h"
#include "auth/dkim_keyrec.h"
#include "auth/dkim_sig.h"
#include "auth/dmarc.h"
#include "auth/dsn.h"
#include "base/buf.h"
#include "base/dnsstub.h"
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

#define FUZZ_NOW	((time_t)1772366400)	/* 2026-03-01T12:00:00Z */
#define FUZZ_BDOM	"bounce.customer.example"

/* fuzz_bounce - decode s as a bounce address (both forms); encode a stored one from its first octets and decode it back */
static void
fuzz_bounce(const char *s, size_t len)
{
	static const char key[] = "0123456789abcdef0123456789abcdef";
	unsigned char tok[BOUNCE_TOKEN_OCTETS] = { 0 };
	char text[BOUNCE_TOKEN_CHARS + 1], err[256];
	struct buf out = BUF_INIT, orig = BUF_INIT;
	struct bounce_secrets sec;
	struct bounce_info info;
	enum bounce_status st;

	bounce_secrets_init(&sec);
	if (bounce_secrets_add(&sec, key, sizeof(key) - 1, "fuzz", err,
	    sizeof(err)) != 0)
		abort();
	/* as RCPT TO gives it, and as a bare local part */
	(void)bounce_decode(&sec, s, FUZZ_BDOM, FUZZ_NOW, 0, &orig, &info);
	(void)bounce_decode(&sec, s, NULL, FUZZ_NOW, 0, &orig, &info);
	memcpy(tok, s, len < sizeof(tok) ? len : sizeof(tok));
	if (bounce_encode_stored(&sec, tok, FUZZ_BDOM, FUZZ_NOW, &out, text)
	    != BOUNCE_OK || out.len != BOUNCE_STORED_CHARS + 1
	    + strlen(FUZZ_BDOM))
		abort();
	st = bounce_decode(&sec, buf_cstr(&out), FUZZ_BDOM, FUZZ_NOW, 0, &orig,
	    &info);
	if (st != BOUNCE_STORED || strcmp(info.token, text) != 0)
		abort();
	/* and the stateless form of whatever the input is, when it encodes */
	if (bounce_encode(&sec, s, FUZZ_BDOM, FUZZ_NOW, &out) == BOUNCE_OK
	    && bounce_decode(&sec, buf_cstr(&out), FUZZ_BDOM, FUZZ_NOW, 0, &orig,
	    &info) != BOUNCE_OK)
		abort();
	buf_free(&out);
	buf_free(&orig);
	bounce_secrets_free(&sec);
}

/* fuzz_dkim_sig - a DKIM-Signature value: its checks; b= stripped when it parsed */
static void
fuzz_dkim_sig(const char *s)
{
	struct dkim_sig sig;
	struct buf out = BUF_INIT;

	dkim_sig_parse(&sig, s, FUZZ_NOW);
	if (sig.tags.n > 0)
		dkim_sig_strip_b(s, &out);
	buf_free(&out);
	dkim_sig_free(&sig);
}

/* fuzz_dkim_keyrec - a key record (NULs and all): read it, decode its key */
static void
fuzz_dkim_keyrec(const uint8_t *data, size_t size)
{
	struct dkim_keyrec k;
	const char *why;
	EVP_PKEY *pk;

	if (dkim_keyrec_parse(&k, (const char *)data, size, "sha256", &why) ==
	    DKIM_KEYREC_OK && (pk = dkim_keyrec_pkey(&k)) != NULL)
		EVP_PKEY_free(pk);
	dkim_keyrec_free(&k);
}

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
	switch (data[0] % 12) {
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
	case 8:
		fuzz_bounce(s, size - 1);
		break;
	case 9:
		fuzz_dkim_sig(s);
		break;
	case 10:
		fuzz_dkim_keyrec(data + 1, size - 1);
		break;
	case 11: {
		/* a DNS answer to the key checks' stub, to a fixed question */
		struct dns_result r;
		int tc;

		if (dnsstub_parse(data + 1, size - 1, "s1._domainkey.example.com",
		    16, &r, &tc) == 0)
			dns_result_free(&r);
		break;
	}
	}
	free(s);
	return 0;
}
