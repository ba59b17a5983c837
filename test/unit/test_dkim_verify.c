/*
 * test_dkim_verify.c - the DKIM verifier against a scripted resolver.
 *
 * Every test runs twice, once per engine (builtin, then libopendkim, each
 * a test of its own): the two must give the same verdicts and reasons.
 *
 * dns_resolve and dns_result_free are replaced here (the verifier calls
 * nothing else of dns.c): each lookup is answered from a table of names
 * with a status, TXT records and a DNSSEC flag, and counted. Messages are
 * signed with our own signer (sign.c). What the real DNS path does (knotd,
 * dkimpy signatures, l=, rsa-sha1 made by a signer, timeouts, 20 MB) is in
 * test/integration/test_dkim_verify.sh.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "base/buf.h"
#include "auth/dkim_keycache.h"
#include "auth/dkim_verify.h"
#include "base/dns.h"
#include "auth/sign.h"
#include "base/xalloc.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* --- scripted resolver --------------------------------------------- */

struct zone_entry {
	const char *name;		/* query name */
	enum dns_status status;		/* what dns_resolve returns */
	const char *txt[3];		/* TXT records (NULL-terminated) */
	int secure;			/* DNSSEC validated */
	int delay_ms;			/* pretend the lookup takes this long */
};

static const struct zone_entry *zone;	/* current table */
static size_t zone_n;
static int queries;			/* dns_resolve calls */
static char rsa_txt[1024];		/* v=DKIM1 record of rsa_key */
static char ed_txt[256];		/* v=DKIM1 record of ed_key */
static EVP_PKEY *rsa_key, *ed_key;
static enum dkim_verify_engine engine;	/* the engine under test */

/* txt_rdata - one TXT rdata (character-strings of <= 255) for text s */
static void
txt_rdata(const char *s, unsigned char **data, size_t *len)
{
	size_t n = strlen(s), off = 0, chunk;
	unsigned char *p = xmalloc(n + n / 255 + 2);

	*data = p;
	do {
		chunk = n - off > 255 ? 255 : n - off;
		*p++ = (unsigned char)chunk;
		memcpy(p, s + off, chunk);
		p += chunk;
		off += chunk;
	} while (off < n);
	*len = (size_t)(p - *data);
}

/* dns_resolve - the stub: answer from the table, NXDOMAIN otherwise */
enum dns_status
dns_resolve(struct dns *d, const char *name, int rrtype, int timeout_ms,
    struct dns_result *r)
{
	size_t i, k;

	(void)d;
	(void)timeout_ms;
	memset(r, 0, sizeof(*r));
	queries++;
	assert_int_equal(rrtype, 16);
	r->status = DNS_NXDOMAIN;
	r->rcode = 3;
	for (i = 0; i < zone_n; i++) {
		if (strcasecmp(zone[i].name, name) != 0)
			continue;
		if (zone[i].delay_ms > 0) {
			struct timespec ts = { zone[i].delay_ms / 1000,
			    (zone[i].delay_ms % 1000) * 1000000L };

			nanosleep(&ts, NULL);
		}
		r->status = zone[i].status;
		r->rcode = zone[i].status == DNS_NXDOMAIN ? 3 : 0;
		r->secure = zone[i].secure;
		for (k = 0; zone[i].status == DNS_OK && zone[i].txt[k] != NULL; k++)
			;
		r->n = k;
		if (k > 0) {
			r->data = xcalloc(k, sizeof(*r->data));
			r->len = xcalloc(k, sizeof(*r->len));
			for (k = 0; k < r->n; k++)
				txt_rdata(zone[i].txt[k], &r->data[k], &r->len[k]);
		}
		break;
	}
	return r->status;
}

/* dns_result_free - the stub's counterpart */
void
dns_result_free(struct dns_result *r)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		free(r->data[i]);
	free(r->data);
	free(r->len);
	free(r->packet);
	memset(r, 0, sizeof(*r));
}

/* use_zone - answer from table t from now on; reset the query count */
#define use_zone(t) do { zone = (t); zone_n = NELEM(t); queries = 0; } while (0)

/* --- messages -------------------------------------------------------- */

static const struct sign_header msg_hdrs[] = {
	{ "Received", " from x by y; Mon, 1 Jan 2024 00:00:00 +0000" },
	{ "From", " Joe <joe@example.com>" },
	{ "To", " a@example.net" },
	{ "Subject", " A folded\n\t  subject  line" },
	{ "Date", " Mon, 1 Jan 2024 00:00:00 +0000" },
	{ "Message-ID", " <1@example.com>" },
};
static const char msg_body[] =
	"Hello  world \t\r\n\r\n  second\tline  \r\nthird\r\n\r\n\r\n";
static const char *const sign_list[] = { "From", "To", "Subject", "Date" };

/* pub_record - "v=DKIM1; k=..; p=.." for key into out */
static void
pub_record(EVP_PKEY *key, char *out, size_t outlen)
{
	unsigned char raw[64], *der = NULL, *p;
	size_t rawlen = sizeof(raw);
	char b64[1024];
	int n, ed = EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519;

	if (ed) {
		assert_int_equal(EVP_PKEY_get_raw_public_key(key, raw, &rawlen), 1);
		p = raw;
		n = (int)rawlen;
	} else {
		n = i2d_PUBKEY(key, &der);
		assert_true(n > 0 && n < 700);
		p = der;
	}
	EVP_EncodeBlock((unsigned char *)b64, p, n);
	OPENSSL_free(der);
	assert_true((size_t)snprintf(out, outlen, "v=DKIM1; k=%s; p=%s",
	    ed ? "ed25519" : "rsa", b64) < outlen);
}

/* make_sig_body - a DKIM-Signature value over msg_hdrs and body */
static void
make_sig_body(EVP_PKEY *key, const char *selector, enum sign_canon bc,
    const char *body, struct buf *out)
{
	struct sign_request r;
	struct sign_body *sb = sign_body_new(bc);
	unsigned char bh[SIGN_HASH_LEN];
	char err[256];

	memset(&r, 0, sizeof(r));
	r.domain = "example.com";
	r.selector = selector;
	r.key = key;
	r.alg = EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519
	    ? SIGN_ALG_ED25519_SHA256 : SIGN_ALG_RSA_SHA256;
	r.hcanon = SIGN_CANON_RELAXED;
	r.bcanon = bc;
	r.headers = sign_list;
	r.nheaders = NELEM(sign_list);
	assert_non_null(sb);
	assert_int_equal(sign_body_update(sb, (const unsigned char *)body,
	    strlen(body)), 0);
	assert_int_equal(sign_body_final(sb, bh), 0);
	sign_body_free(sb);
	buf_reset(out);
	if (sign_header_value(&r, msg_hdrs, NELEM(msg_hdrs), bh, out, err,
	    sizeof(err)) != 0)
		fail_msg("sign: %s", err);
}

/* make_sig - a DKIM-Signature value over msg_hdrs/msg_body */
static void
make_sig(EVP_PKEY *key, const char *selector, enum sign_canon bc,
    struct buf *out)
{
	make_sig_body(key, selector, bc, msg_body, out);
}

struct run {
	const char *const *sigs;	/* DKIM-Signature values, top first */
	size_t nsigs;
	const char *body;		/* NULL: msg_body */
	size_t chunk;			/* body chunk size; 0: all at once */
	int crlf_folds;			/* turn "\n" folds into "\r\n" */
	unsigned int max;		/* max_signatures; 0: default */
	int dnssec;			/* resolver validates */
	int budget_ms;			/* 0: default */
	const char *subject;		/* NULL: the signed Subject */
};

/* with_crlf - s with each lone "\n" made "\r\n" (malloc'd) */
static char *
with_crlf(const char *s)
{
	struct buf b = BUF_INIT;

	for (; *s != '\0'; s++) {
		if (*s == '\n')
			buf_putc(&b, '\r');
		buf_putc(&b, *s);
	}
	return buf_steal(&b);
}

/* verify - run one message through the verifier; returns dkim_verify_eom's value */
static int
verify(const struct run *run, struct dkim_verify_results *res)
{
	struct dkim_verify_options opt;
	struct dkim_verify_lib *lib;
	struct dkim_verify *v;
	const char *body = run->body != NULL ? run->body : msg_body;
	size_t i, len = strlen(body), off, n;
	char err[256], *val;
	int rc;

	memset(&opt, 0, sizeof(opt));
	opt.engine = engine;
	opt.dns = (struct dns *)&opt;	/* never dereferenced by the stub */
	opt.max_signatures = run->max;
	opt.dnssec = run->dnssec;
	opt.time_budget_ms = run->budget_ms;
	lib = dkim_verify_lib_new(&opt, err, sizeof(err));
	if (lib == NULL)
		fail_msg("dkim_verify_lib_new: %s", err);
	v = dkim_verify_begin(lib, "TESTQID");
	for (i = 0; i < run->nsigs; i++) {
		val = run->crlf_folds ? with_crlf(run->sigs[i]) : xstrdup(run->sigs[i]);
		dkim_verify_header(v, "DKIM-Signature", val);
		free(val);
	}
	for (i = 0; i < NELEM(msg_hdrs); i++) {
		val = run->subject != NULL &&
		    strcmp(msg_hdrs[i].name, "Subject") == 0
		    ? xstrdup(run->subject) : run->crlf_folds
		    ? with_crlf(msg_hdrs[i].value) : xstrdup(msg_hdrs[i].value);
		dkim_verify_header(v, msg_hdrs[i].name, val);
		free(val);
	}
	dkim_verify_eoh(v);
	for (off = 0; off < len; off += n) {
		n = run->chunk == 0 || len - off < run->chunk ? len - off : run->chunk;
		dkim_verify_body(v, (const unsigned char *)body + off, n);
	}
	rc = dkim_verify_eom(v, res);
	dkim_verify_free(v);
	dkim_verify_lib_free(lib);
	return rc;
}

/* --- fixtures -------------------------------------------------------- */

static struct zone_entry good_zone[] = {
	{ "rsa._domainkey.example.com", DNS_OK, { rsa_txt }, 0, 0 },
	{ "ed._domainkey.example.com", DNS_OK, { ed_txt }, 0, 0 },
};

/* setup - keys and their records */
static int
setup(void **state)
{
	(void)state;
	rsa_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	ed_key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (rsa_key == NULL || ed_key == NULL)
		return -1;
	pub_record(rsa_key, rsa_txt, sizeof(rsa_txt));
	pub_record(ed_key, ed_txt, sizeof(ed_txt));
	return 0;
}

/* teardown - free the keys */
static int
teardown(void **state)
{
	(void)state;
	EVP_PKEY_free(rsa_key);
	EVP_PKEY_free(ed_key);
	return 0;
}

/* --- tests ----------------------------------------------------------- */

/* dkim_verify_passes_rsa_and_ed25519 - both algorithms, tags and key sizes reported */
static void
dkim_verify_passes_rsa_and_ed25519(void **state)
{
	struct buf a = BUF_INIT, b = BUF_INIT;
	const char *sigs[2];
	struct dkim_verify_results res;
	struct run run = { sigs, 2, NULL, 0, 0, 0, 0, 0, NULL };

	(void)state;
	make_sig(rsa_key, "rsa", SIGN_CANON_RELAXED, &a);
	make_sig(ed_key, "ed", SIGN_CANON_SIMPLE, &b);
	sigs[0] = buf_cstr(&a);
	sigs[1] = buf_cstr(&b);
	use_zone(good_zone);
	assert_int_equal(verify(&run, &res), 0);
	assert_int_equal(res.n, 2);
	assert_int_equal(res.total, 2);
	assert_string_equal(dkim_verify_res_name(res.sig[0].res), "pass");
	assert_string_equal(res.sig[0].domain, "example.com");
	assert_string_equal(res.sig[0].selector, "rsa");
	assert_string_equal(res.sig[0].algorithm, "rsa-sha256");
	assert_int_equal(res.sig[0].keybits, 2048);
	assert_int_equal(strlen(res.sig[0].b), 344);	/* all of an RSA-2048 b= */
	assert_string_equal(res.sig[0].reason, "");
	assert_string_equal(dkim_verify_res_name(res.sig[1].res), "pass");
	assert_string_equal(res.sig[1].algorithm, "ed25519-sha256");
	assert_int_equal(res.sig[1].keybits, 256);
	assert_int_equal(strlen(res.sig[1].b), 88);	/* all of an Ed25519 b= */
	assert_int_equal(res.sig[1].dnssec, DKIM_VERIFY_DNSSEC_UNKNOWN);
	assert_int_equal(queries, 2);
	dkim_verify_results_free(&res);
	assert_null(res.sig);
	buf_free(&a);
	buf_free(&b);
}

/* dkim_verify_same_verdict_any_folds_and_chunks - LF or CRLF folds, 1..all-byte chunks */
static void
dkim_verify_same_verdict_any_folds_and_chunks(void **state)
{
	static const size_t chunks[] = { 0, 1, 2, 3, 7, 64 };
	struct buf a = BUF_INIT;
	const char *sigs[1];
	struct dkim_verify_results res;
	struct run run = { sigs, 1, NULL, 0, 0, 0, 0, 0, NULL };
	size_t i;
	int crlf;

	(void)state;
	make_sig(rsa_key, "rsa", SIGN_CANON_SIMPLE, &a);
	sigs[0] = buf_cstr(&a);
	use_zone(good_zone);
	for (crlf = 0; crlf < 2; crlf++) {
		for (i = 0; i < NELEM(chunks); i++) {
			run.crlf_folds = crlf;
			run.chunk = chunks[i];
			assert_int_equal(verify(&run, &res), 0);
			if (res.n != 1 || res.sig[0].res != DKIM_VERIFY_PASS)
				fail_msg("crlf %d chunk %zu: %s (%s)", crlf, chunks[i],
				    res.n ? dkim_verify_res_name(res.sig[0].res) : "none",
				    res.n ? res.sig[0].reason : "");
			dkim_verify_results_free(&res);
		}
	}
	buf_free(&a);
}

/* dkim_verify_altered_body_or_header_fails - one changed body byte; a forged Subject */
static void
dkim_verify_altered_body_or_header_fails(void **state)
{
	struct buf a = BUF_INIT;
	const char *sigs[1];
	struct dkim_verify_results res;
	struct run run = { sigs, 1, "Hello  world \t\r\nX\r\n", 0, 0, 0, 0, 0, NULL };

	(void)state;
	make_sig(rsa_key, "rsa", SIGN_CANON_RELAXED, &a);
	sigs[0] = buf_cstr(&a);
	use_zone(good_zone);
	assert_int_equal(verify(&run, &res), 0);
	assert_int_equal(res.sig[0].res, DKIM_VERIFY_FAIL);
	assert_string_equal(res.sig[0].reason, "body hash mismatch");
	dkim_verify_results_free(&res);
	run.body = NULL;
	run.subject = " A forged subject";
	assert_int_equal(verify(&run, &res), 0);
	assert_int_equal(res.sig[0].res, DKIM_VERIFY_FAIL);
	assert_string_equal(res.sig[0].reason, "signature did not verify");
	dkim_verify_results_free(&res);
	buf_free(&a);
}

/* dkim_verify_body_without_final_crlf_verifies - RFC 6376 adds the CRLF; so do we */
static void
dkim_verify_body_without_final_crlf_verifies(void **state)
{
	static const char body[] = "Hello  world\r\n\r\nlast line, no CRLF  ";
	struct buf a = BUF_INIT;
	const char *sigs[1];
	struct dkim_verify_results res;
	struct run run = { sigs, 1, body, 5, 0, 0, 0, 0, NULL };
	int bc;

	(void)state;
	use_zone(good_zone);
	for (bc = 0; bc < 2; bc++) {
		make_sig_body(rsa_key, "rsa", bc ? SIGN_CANON_RELAXED
		    : SIGN_CANON_SIMPLE, body, &a);
		sigs[0] = buf_cstr(&a);
		assert_int_equal(verify(&run, &res), 0);
		if (res.n != 1 || res.sig[0].res != DKIM_VERIFY_PASS)
			fail_msg("%s: %s", bc ? "relaxed" : "simple",
			    res.n ? res.sig[0].reason : "no result");
		dkim_verify_results_free(&res);
	}
	buf_free(&a);
}

/* One key-record answer and the verdict it must give. */
static const struct {
	const char *name;
	enum dns_status status;
	const char *txt[3];
	enum dkim_verify_res want;
	const char *reason;		/* prefix of the reason */
} dns_cases[] = {
	{ "nxdomain", DNS_NXDOMAIN, { NULL }, DKIM_VERIFY_PERMERROR, "no key" },
	{ "nodata", DNS_NODATA, { NULL }, DKIM_VERIFY_PERMERROR, "no key" },
	{ "timeout", DNS_TEMPFAIL, { NULL }, DKIM_VERIFY_TEMPERROR, "key lookup failed" },
	{ "bogus", DNS_BOGUS, { NULL }, DKIM_VERIFY_TEMPERROR, "key lookup failed" },
	{ "revoked", DNS_OK, { "v=DKIM1; k=rsa; p=" }, DKIM_VERIFY_FAIL, "key revoked" },
	{ "two_records", DNS_OK, { "v=DKIM1; p=AAAA", "v=DKIM1; p=BBBB" },
	  DKIM_VERIFY_PERMERROR, "bad key" },
	{ "garbage_key", DNS_OK, { "v=DKIM1; k=rsa; p=Zm9vYmFy" },
	  DKIM_VERIFY_PERMERROR, "bad key" },
	{ "unknown_key_type", DNS_OK, { "v=DKIM1; k=dsa; p=Zm9vYmFy" },
	  DKIM_VERIFY_PERMERROR, "bad key" },
	{ "wrong_key", DNS_OK, { ed_txt }, DKIM_VERIFY_PERMERROR, "bad key" },
	{ "long_record", DNS_OK, { rsa_txt }, DKIM_VERIFY_PASS, "" },
};

/* dkim_verify_dns_answers_map_to_results - each resolver outcome, its RFC 8601 result */
static void
dkim_verify_dns_answers_map_to_results(void **state)
{
	struct zone_entry z[1];
	struct buf a = BUF_INIT;
	const char *sigs[1];
	struct dkim_verify_results res;
	struct run run = { sigs, 1, NULL, 0, 0, 0, 0, 0, NULL };
	size_t i;

	(void)state;
	make_sig(rsa_key, "rsa", SIGN_CANON_RELAXED, &a);
	sigs[0] = buf_cstr(&a);
	for (i = 0; i < NELEM(dns_cases); i++) {
		memset(z, 0, sizeof(z));
		z[0].name = "rsa._domainkey.example.com";
		z[0].status = dns_cases[i].status;
		memcpy(z[0].txt, dns_cases[i].txt, sizeof(z[0].txt));
		use_zone(z);
		assert_int_equal(verify(&run, &res), 0);
		assert_int_equal(res.n, 1);
		if (res.sig[0].res != dns_cases[i].want ||
		    strncmp(res.sig[0].reason, dns_cases[i].reason,
		    strlen(dns_cases[i].reason)) != 0)
			fail_msg("%s: got %s (%s), want %s (%s...)", dns_cases[i].name,
			    dkim_verify_res_name(res.sig[0].res), res.sig[0].reason,
			    dkim_verify_res_name(dns_cases[i].want), dns_cases[i].reason);
		assert_int_equal(queries, 1);
		dkim_verify_results_free(&res);
	}
	buf_free(&a);
}

/* dkim_verify_dnssec_state_reported - secure, insecure (validating), unknown */
static void
dkim_verify_dnssec_state_reported(void **state)
{
	struct zone_entry z[1] = {
		{ "rsa._domainkey.example.com", DNS_OK, { rsa_txt }, 1, 0 },
	};
	struct buf a = BUF_INIT;
	const char *sigs[1];
	struct dkim_verify_results res;
	struct run run = { sigs, 1, NULL, 0, 0, 0, 0, 0, NULL };

	(void)state;
	make_sig(rsa_key, "rsa", SIGN_CANON_RELAXED, &a);
	sigs[0] = buf_cstr(&a);
	use_zone(z);
	assert_int_equal(verify(&run, &res), 0);
	assert_int_equal(res.sig[0].res, DKIM_VERIFY_PASS);
	assert_int_equal(res.sig[0].dnssec, DKIM_VERIFY_DNSSEC_SECURE);
	dkim_verify_results_free(&res);
	z[0].secure = 0;
	run.dnssec = 1;
	assert_int_equal(verify(&run, &res), 0);
	assert_int_equal(res.sig[0].dnssec, DKIM_VERIFY_DNSSEC_INSECURE);
	dkim_verify_results_free(&res);
	run.dnssec = 0;
	assert_int_equal(verify(&run, &res), 0);
	assert_int_equal(res.sig[0].dnssec, DKIM_VERIFY_DNSSEC_UNKNOWN);
	dkim_verify_results_free(&res);
	buf_free(&a);
}

/* dkim_verify_rsa_sha1_fails_without_lookup - RFC 8301, and no DNS query for it */
static void
dkim_verify_rsa_sha1_fails_without_lookup(void **state)
{
	const char *sigs[] = {
		" v=1; a=rsa-sha1; c=relaxed/relaxed; d=example.com; s=rsa;\n"
		"\th=from:to; bh=2jmj7l5rSw0yVb/vlWAYkK/YBwk=; b=AAAABBBBCCCCDDDD",
	};
	struct dkim_verify_results res;
	struct run run = { sigs, 1, NULL, 0, 0, 0, 0, 0, NULL };

	(void)state;
	use_zone(good_zone);
	assert_int_equal(verify(&run, &res), 0);
	assert_int_equal(res.n, 1);
	assert_int_equal(res.sig[0].res, DKIM_VERIFY_FAIL);
	assert_string_equal(res.sig[0].reason, "rsa-sha1 not accepted (RFC 8301)");
	assert_string_equal(res.sig[0].algorithm, "rsa-sha1");
	assert_int_equal(queries, 0);
	dkim_verify_results_free(&res);
}

/* dkim_verify_malformed_signatures_are_neutral - syntax errors, expiry, a key name
 * DNS cannot carry: never pass, no lookup */
static void
dkim_verify_malformed_signatures_are_neutral(void **state)
{
	static const struct {
		const char *value, *reason;
	} cases[] = {
		{ " v=1; a=rsa-sha256; d=example.com; h=from; bh=AAAA; b=AAAA",
		  "malformed signature: selector tag missing" },
		{ " v=1; a=rsa-md5; d=example.com; s=rsa; h=from; bh=AAAA; b=AAAA",
		  "malformed signature: signature algorithm invalid" },
		{ " v=1; a=rsa-sha256; d=example.com; s=rsa; h=to; bh=AAAA; b=AAAA",
		  "malformed signature: header list missing required entries" },
		{ " v=1; a=rsa-sha256; d=example.com; s=rsa; h=from; bh=AAAA; b=AAAA; "
		  "i=joe@example.org", "malformed signature: invalid domain coverage" },
		{ " v=1; a=rsa-sha256; d=example.com; s=rsa; h=from; bh=AAAA; b=AAAA;"
		  " t=1000; x=1001", "signature expired" },
		{ " v=1; \x01garbage", "malformed signature: " },
		{ " v=1; a=rsa-sha256; d=example.com; h=from; bh=AAAA; b=AAAA; s="
		  "a23456789b123456789c123456789d123456789e123456789f123456789g1234",
		  "invalid key name" },
	};
	struct dkim_verify_results res;
	const char *sigs[1];
	struct run run = { sigs, 1, NULL, 0, 0, 0, 0, 0, NULL };
	size_t i;

	(void)state;
	use_zone(good_zone);
	for (i = 0; i < NELEM(cases); i++) {
		sigs[0] = cases[i].value;
		assert_int_equal(verify(&run, &res), 0);
		if (res.n != 1 || strncmp(res.sig[0].reason, cases[i].reason,
		    strlen(cases[i].reason)) != 0)
			fail_msg("case %zu: n=%zu reason \"%s\"", i, res.n,
			    res.n ? res.sig[0].reason : "");
		assert_true(res.sig[0].res == DKIM_VERIFY_NEUTRAL ||
		    res.sig[0].res == DKIM_VERIFY_FAIL ||
		    res.sig[0].res == DKIM_VERIFY_PERMERROR);
		dkim_verify_results_free(&res);
	}
	assert_int_equal(queries, 0);
}

/* dkim_verify_key_names - a d= with a trailing dot is looked up; an empty label is not */
static void
dkim_verify_key_names(void **state)
{
	static const struct {
		const char *value, *reason;
		int queries;
	} cases[] = {
		{ " v=1; a=rsa-sha256; d=example.com.; s=rsa; h=from; bh=AAAA; b=AAAA",
		  "no key", 1 },
		{ " v=1; a=rsa-sha256; d=example..com; s=rsa; h=from; bh=AAAA; b=AAAA",
		  "invalid key name", 0 },
		{ " v=1; a=rsa-sha256; d=.example.com; s=rsa; h=from; bh=AAAA; b=AAAA",
		  "invalid key name", 0 },
	};
	struct dkim_verify_results res;
	const char *sigs[1];
	struct run run = { sigs, 1, NULL, 0, 0, 0, 0, 0, NULL };
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		use_zone(good_zone);
		sigs[0] = cases[i].value;
		assert_int_equal(verify(&run, &res), 0);
		if (res.n != 1 || strcmp(res.sig[0].reason, cases[i].reason) != 0 ||
		    queries != cases[i].queries)
			fail_msg("case %zu: \"%s\" after %d queries", i,
			    res.n ? res.sig[0].reason : "", queries);
		dkim_verify_results_free(&res);
	}
}

/* dkim_verify_caps_signatures_topmost_first - max 2 of 3, the third never looked up */
static void
dkim_verify_caps_signatures_topmost_first(void **state)
{
	struct zone_entry z[] = {
		{ "rsa._domainkey.example.com", DNS_OK, { rsa_txt }, 0, 0 },
		{ "ed._domainkey.example.com", DNS_OK, { ed_txt }, 0, 0 },
		{ "third._domainkey.example.com", DNS_OK, { rsa_txt }, 0, 0 },
	};
	struct buf a = BUF_INIT, b = BUF_INIT, c = BUF_INIT;
	const char *sigs[3];
	struct dkim_verify_results res;
	struct run run = { sigs, 3, NULL, 0, 0, 2, 0, 0, NULL };

	(void)state;
	make_sig(rsa_key, "rsa", SIGN_CANON_RELAXED, &a);
	make_sig(ed_key, "ed", SIGN_CANON_RELAXED, &b);
	make_sig(rsa_key, "third", SIGN_CANON_RELAXED, &c);
	sigs[0] = buf_cstr(&a);
	sigs[1] = buf_cstr(&b);
	sigs[2] = buf_cstr(&c);
	use_zone(z);
	assert_int_equal(verify(&run, &res), 0);
	assert_int_equal(res.n, 2);
	assert_int_equal(res.total, 3);
	assert_string_equal(res.sig[0].selector, "rsa");
	assert_string_equal(res.sig[1].selector, "ed");
	assert_int_equal(queries, 2);
	dkim_verify_results_free(&res);
	buf_free(&a);
	buf_free(&b);
	buf_free(&c);
}

/* dkim_verify_budget_stops_later_lookups - slow DNS: the rest are temperror */
static void
dkim_verify_budget_stops_later_lookups(void **state)
{
	struct zone_entry z[] = {
		{ "rsa._domainkey.example.com", DNS_OK, { rsa_txt }, 0, 150 },
		{ "ed._domainkey.example.com", DNS_OK, { ed_txt }, 0, 150 },
	};
	struct buf a = BUF_INIT, b = BUF_INIT;
	const char *sigs[2];
	struct dkim_verify_results res;
	struct run run = { sigs, 2, NULL, 0, 0, 0, 0, 100, NULL };

	(void)state;
	make_sig(rsa_key, "rsa", SIGN_CANON_RELAXED, &a);
	make_sig(ed_key, "ed", SIGN_CANON_RELAXED, &b);
	sigs[0] = buf_cstr(&a);
	sigs[1] = buf_cstr(&b);
	use_zone(z);
	assert_int_equal(verify(&run, &res), 0);
	assert_int_equal(res.n, 2);
	assert_int_equal(res.sig[0].res, DKIM_VERIFY_PASS);
	assert_int_equal(res.sig[1].res, DKIM_VERIFY_TEMPERROR);
	assert_string_equal(res.sig[1].reason, "DNS time budget exhausted");
	assert_int_equal(queries, 1);
	dkim_verify_results_free(&res);
	run.budget_ms = -1;		/* no budget */
	queries = 0;
	assert_int_equal(verify(&run, &res), 0);
	assert_int_equal(res.sig[1].res, DKIM_VERIFY_PASS);
	assert_int_equal(queries, 2);
	dkim_verify_results_free(&res);
	buf_free(&a);
	buf_free(&b);
}

/* dkim_verify_header_b_is_whole - b= handed over whole, FWS removed (authres.c picks header.b) */
static void
dkim_verify_header_b_is_whole(void **state)
{
	const char *sigs[] = {
		" v=1; a=rsa-sha256; d=example.com; s=rsa; h=from; bh=AAAA;\n"
		"\tb=ABCDEFGHIJ KLMNOPQRST\n\tU123",
		" v=1; a=rsa-sha256; d=example.com; s=rsa; h=from; bh=AAAA;\n"
		"\tb=ABCDEFGHIJKLMNOPQRSTV456",
		" v=1; a=rsa-sha256; d=example.com; s=rsa; h=from; bh=AAAA; b=Zz",
	};
	struct dkim_verify_results res;
	struct run run = { sigs, 3, NULL, 0, 0, 0, 0, 0, NULL };

	(void)state;
	use_zone(good_zone);
	assert_int_equal(verify(&run, &res), 0);
	assert_int_equal(res.n, 3);
	assert_string_equal(res.sig[0].b, "ABCDEFGHIJKLMNOPQRSTU123");
	assert_string_equal(res.sig[1].b, "ABCDEFGHIJKLMNOPQRSTV456");
	assert_string_equal(res.sig[2].b, "Zz");
	assert_true(res.sig[0].res != DKIM_VERIFY_PASS);
	dkim_verify_results_free(&res);
}

/* dkim_verify_unsigned_message_is_empty - no DKIM-Signature: n == 0, no lookup */
static void
dkim_verify_unsigned_message_is_empty(void **state)
{
	struct dkim_verify_results res;
	struct run run = { NULL, 0, NULL, 0, 0, 0, 0, 0, NULL };

	(void)state;
	use_zone(good_zone);
	assert_int_equal(verify(&run, &res), 0);
	assert_int_equal(res.n, 0);
	assert_int_equal(res.total, 0);
	assert_null(res.sig);
	assert_int_equal(queries, 0);
	dkim_verify_results_free(&res);
}

/* dkim_verify_names - result and DNSSEC names per RFC 8601 */
static void
dkim_verify_names(void **state)
{
	(void)state;
	assert_string_equal(dkim_verify_res_name(DKIM_VERIFY_PASS), "pass");
	assert_string_equal(dkim_verify_res_name(DKIM_VERIFY_FAIL), "fail");
	assert_string_equal(dkim_verify_res_name(DKIM_VERIFY_NEUTRAL), "neutral");
	assert_string_equal(dkim_verify_res_name(DKIM_VERIFY_POLICY), "policy");
	assert_string_equal(dkim_verify_res_name(DKIM_VERIFY_TEMPERROR), "temperror");
	assert_string_equal(dkim_verify_res_name(DKIM_VERIFY_PERMERROR), "permerror");
	assert_string_equal(dkim_verify_dnssec_name(DKIM_VERIFY_DNSSEC_SECURE), "secure");
	assert_string_equal(dkim_verify_dnssec_name(DKIM_VERIFY_DNSSEC_INSECURE), "insecure");
	assert_string_equal(dkim_verify_dnssec_name(DKIM_VERIFY_DNSSEC_UNKNOWN), "unknown");
}

/* dkim_verify_oversized_key_record_is_permerror - an answer over the buffer is a bad key, not a DNS error */
static void
dkim_verify_oversized_key_record_is_permerror(void **state)
{
	static char big[10000];
	static struct zone_entry big_zone[] = {
		{ "rsa._domainkey.example.com", DNS_OK, { big }, 0, 0 },
	};
	struct buf a = BUF_INIT;
	const char *sigs[1];
	struct dkim_verify_results res;
	struct run run = { sigs, 1, NULL, 0, 0, 0, 0, 0, NULL };

	(void)state;
	snprintf(big, sizeof(big), "v=DKIM1; k=rsa; n=%0*d; p=%s", 8000, 0,
	    rsa_txt + strlen("v=DKIM1; k=rsa; p="));
	make_sig(rsa_key, "rsa", SIGN_CANON_RELAXED, &a);
	sigs[0] = buf_cstr(&a);
	use_zone(big_zone);
	assert_int_equal(verify(&run, &res), 0);
	assert_int_equal(res.n, 1);
	if (res.sig[0].res != DKIM_VERIFY_PERMERROR)
		fail_msg("%s (%s)", dkim_verify_res_name(res.sig[0].res), res.sig[0].reason);
	dkim_verify_results_free(&res);
	buf_free(&a);
}

/* dkim_verify_key_decoded_once - libopendkim's d2i_PUBKEY_bio is ours: the same key record, verified again, is not decoded again; a damaged key decodes to nothing */
static void
dkim_verify_key_decoded_once(void **state)
{
	struct buf a = BUF_INIT;
	const char *sigs[1];
	struct dkim_verify_results res;
	struct run run = { sigs, 1, NULL, 0, 0, 0, 0, 0, NULL };
	unsigned long long dec0, hit0, dec1, hit1, dec2, hit2;
	static const unsigned char junk[] = { 0x30, 0x03, 0x02, 0x01, 0x01 };
	EVP_PKEY *k1, *k2;
	BIO *bio;

	(void)state;
	make_sig(rsa_key, "rsa", SIGN_CANON_RELAXED, &a);
	sigs[0] = buf_cstr(&a);
	use_zone(good_zone);
	dkim_keycache_stats(&dec0, &hit0);
	assert_int_equal(verify(&run, &res), 0);
	assert_string_equal(dkim_verify_res_name(res.sig[0].res), "pass");
	dkim_verify_results_free(&res);
	dkim_keycache_stats(&dec1, &hit1);
	assert_true(dec1 + hit1 == dec0 + hit0 + 1);	/* it went through the cache */
	assert_int_equal(verify(&run, &res), 0);
	assert_string_equal(dkim_verify_res_name(res.sig[0].res), "pass");
	dkim_verify_results_free(&res);
	dkim_keycache_stats(&dec2, &hit2);
	assert_true(dec2 == dec1 && hit2 == hit1 + 1);	/* a hit, no decoding */
	/* directly: one key, two references; junk gives NULL */
	bio = BIO_new_mem_buf(junk, sizeof(junk));
	assert_null(d2i_PUBKEY_bio(bio, NULL));
	BIO_free(bio);
	{
		unsigned char *der = NULL;
		int n = i2d_PUBKEY(rsa_key, &der);

		assert_true(n > 0);
		bio = BIO_new_mem_buf(der, n);
		k1 = d2i_PUBKEY_bio(bio, NULL);
		BIO_free(bio);
		bio = BIO_new_mem_buf(der, n);
		k2 = d2i_PUBKEY_bio(bio, NULL);
		BIO_free(bio);
		OPENSSL_free(der);
	}
	assert_non_null(k1);
	assert_ptr_equal(k1, k2);
	assert_int_equal(EVP_PKEY_eq(k1, rsa_key), 1);
	{
		/* a BIO that is not a memory one is read out: the same key */
		char path[] = "/tmp/authmilter-unit-der-XXXXXX";
		unsigned char *der = NULL;
		int fd = mkstemp(path), n = i2d_PUBKEY(rsa_key, &der);
		EVP_PKEY *k3;

		assert_true(fd >= 0 && n > 0);
		assert_int_equal(write(fd, der, (size_t)n), n);
		close(fd);
		OPENSSL_free(der);
		bio = BIO_new_file(path, "rb");
		assert_non_null(bio);
		k3 = d2i_PUBKEY_bio(bio, NULL);
		BIO_free(bio);
		unlink(path);
		assert_ptr_equal(k3, k1);
		EVP_PKEY_free(k3);
	}
	EVP_PKEY_free(k1);
	EVP_PKEY_free(k2);
	buf_free(&a);
}

/* use_builtin - the test that follows runs the builtin engine */
static int
use_builtin(void **state)
{
	(void)state;
	engine = DKIM_VERIFY_ENGINE_BUILTIN;
	return 0;
}

/* use_libopendkim - the test that follows runs libopendkim */
static int
use_libopendkim(void **state)
{
	(void)state;
	engine = DKIM_VERIFY_ENGINE_LIBOPENDKIM;
	return 0;
}

/* BOTH - test f once per engine */
#define BOTH(f) \
	{ #f " (builtin)", f, use_builtin, NULL, NULL }, \
	{ #f " (libopendkim)", f, use_libopendkim, NULL, NULL }

int
main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH(dkim_verify_passes_rsa_and_ed25519),
		BOTH(dkim_verify_key_decoded_once),
		BOTH(dkim_verify_same_verdict_any_folds_and_chunks),
		BOTH(dkim_verify_altered_body_or_header_fails),
		BOTH(dkim_verify_body_without_final_crlf_verifies),
		BOTH(dkim_verify_dns_answers_map_to_results),
		BOTH(dkim_verify_dnssec_state_reported),
		BOTH(dkim_verify_rsa_sha1_fails_without_lookup),
		BOTH(dkim_verify_malformed_signatures_are_neutral),
		BOTH(dkim_verify_key_names),
		BOTH(dkim_verify_caps_signatures_topmost_first),
		BOTH(dkim_verify_budget_stops_later_lookups),
		BOTH(dkim_verify_oversized_key_record_is_permerror),
		BOTH(dkim_verify_header_b_is_whole),
		BOTH(dkim_verify_unsigned_message_is_empty),
		BOTH(dkim_verify_names),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
