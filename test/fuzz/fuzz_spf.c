/*
 * fuzz_spf.c - libFuzzer target for the built-in SPF evaluator
 * (spf_eval*.c): record text and macro-expanded names over a fake DNS.
 *
 * Input: one flag octet, then fields separated by '\n': the sender's
 * local-part, the HELO name, then SPF records (or any TXT text), the first
 * of them the sender domain's. The fake DNS answers every other name too:
 * its TXT is one of the records (picked by a hash of the name, so
 * include:/redirect= targets of any spelling find one),
 * its A/AAAA sometimes the client's address, its MX and PTR up to 12 names
 * under fuzz.example; some answers are NXDOMAIN, NODATA, SERVFAIL, or
 * several records. The check must end (limits), never crash, never leak.
 *
 * Build (clang, in a configured build dir; see test/fuzz/run.sh): make
 * fuzz-build, then test/fuzz/build/fuzz_spf -max_total_time=60
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/dns.h"
#include "auth/spf_eval.h"

#define FUZZ_FIELDS	16		/* local-part, HELO, 14 records */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input cut into fields; the fake zone's state. */
struct fuzz_zone {
	const uint8_t *field[FUZZ_FIELDS];
	size_t len[FUZZ_FIELDS];
	size_t n;			/* fields */
	unsigned char client[16];	/* the client's address */
	int v6;
};

/* fuzz_hash - FNV-1a of a name (any case) and a type */
static uint32_t
fuzz_hash(const char *name, int type)
{
	uint32_t h = 2166136261u;

	for (; *name != '\0'; name++) {
		h ^= (uint32_t)(unsigned char)(*name | 0x20);
		h *= 16777619u;
	}
	return h ^ (uint32_t)type * 2654435761u;
}

/* fuzz_add - append one rdata of len octets to r */
static void
fuzz_add(struct dns_result *r, const void *p, size_t len)
{
	r->data = realloc(r->data, (r->n + 1) * sizeof(*r->data));
	r->len = realloc(r->len, (r->n + 1) * sizeof(*r->len));
	r->data[r->n] = malloc(len > 0 ? len : 1);
	memcpy(r->data[r->n], p, len);
	r->len[r->n++] = len;
}

/* fuzz_txt - a TXT rdata of field i (character-strings of 255) into r */
static void
fuzz_txt(struct dns_result *r, const struct fuzz_zone *z, size_t i)
{
	unsigned char *buf = malloc(z->len[i] + z->len[i] / 255 + 2);
	size_t o = 0, done = 0, n;

	do {
		n = z->len[i] - done > 255 ? 255 : z->len[i] - done;
		buf[o++] = (unsigned char)n;
		memcpy(buf + o, z->field[i] + done, n);
		o += n;
		done += n;
	} while (done < z->len[i]);
	fuzz_add(r, buf, o);
	free(buf);
}

/* fuzz_name - rdata of name "<c><k>.fuzz.example" (k < 100), after pre octets */
static void
fuzz_name(struct dns_result *r, int c, unsigned k, size_t pre)
{
	unsigned char buf[32] = { 0, 10 };
	size_t o = pre;

	buf[o++] = k < 10 ? 2 : 3;
	buf[o++] = (unsigned char)c;
	if (k >= 10)
		buf[o++] = (unsigned char)('0' + k / 10);
	buf[o++] = (unsigned char)('0' + k % 10);
	memcpy(buf + o, "\4fuzz\7example", 14);
	o += 14;
	fuzz_add(r, buf, o);
}

/* fuzz_addr - an address answer: the client's, or a near one */
static void
fuzz_addr(struct dns_result *r, const struct fuzz_zone *z, int type,
    uint32_t h)
{
	unsigned char a[16];
	size_t len = type == SPF_EVAL_RR_A ? 4 : 16;

	memcpy(a, z->client, 16);
	if (type == SPF_EVAL_RR_A && z->v6)
		memcpy(a, "\xc0\x00\x02\x01", 4);
	if (h & 1)
		a[len - 1 - (h >> 1) % len] ^= (unsigned char)(h >> 8 | 1);
	fuzz_add(r, a, len);
}

/* fuzz_lookup - the fake DNS */
static enum dns_status
fuzz_lookup(void *arg, const char *name, int rrtype, int timeout_ms,
    struct dns_result *r)
{
	const struct fuzz_zone *z = arg;
	uint32_t h = fuzz_hash(name, rrtype);
	size_t nrec = z->n > 2 ? z->n - 2 : 0, i, k;

	(void)timeout_ms;
	memset(r, 0, sizeof(*r));
	if (rrtype == SPF_EVAL_RR_TXT && nrec > 0 &&
	    strcmp(name, "fuzz.example") == 0) {
		fuzz_txt(r, z, 2);	/* the first record is the sender's */
		return r->status = DNS_OK;
	}
	switch ((h >> 24) % 32) {
	case 0: return r->status = DNS_TEMPFAIL;
	case 1: return r->status = DNS_NXDOMAIN;
	case 2: return r->status = DNS_NODATA;
	default: break;
	}
	k = (h >> 4) % 13;
	if (rrtype == SPF_EVAL_RR_TXT && nrec > 0) {
		fuzz_txt(r, z, 2 + h % nrec);
		if ((h >> 12) % 8 == 0)
			fuzz_txt(r, z, 2 + (h + 1) % nrec);
	} else if (rrtype == SPF_EVAL_RR_A || rrtype == SPF_EVAL_RR_AAAA) {
		for (i = 0; i <= k % 3; i++)
			fuzz_addr(r, z, rrtype, h >> (8 * i));
	} else if (rrtype == SPF_EVAL_RR_MX) {
		for (i = 0; i < k; i++)
			if (i == 5 && (h & 64))
				fuzz_add(r, "\0\0\0", 3);	/* null MX */
			else
				fuzz_name(r, 'm', (unsigned)i, 2);
	} else if (rrtype == SPF_EVAL_RR_PTR) {
		for (i = 0; i < k; i++)
			fuzz_name(r, 'p', (unsigned)i, 0);
	}
	return r->status = r->n > 0 ? DNS_OK : DNS_NODATA;
}

/* fuzz_split - the input after the flag octet into fields */
static void
fuzz_split(const uint8_t *data, size_t size, struct fuzz_zone *z)
{
	const uint8_t *p = data, *end = data + size, *nl;

	while (z->n < FUZZ_FIELDS) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		z->field[z->n] = p;
		z->len[z->n++] = (size_t)(nl - p);
		if (nl == end)
			break;
		p = nl + 1;
	}
}

/* fuzz_cstr - field i (or def) as a NUL-terminated string, NULs cut */
static char *
fuzz_cstr(const struct fuzz_zone *z, size_t i, const char *def)
{
	char *s;

	if (i >= z->n)
		return strdup(def);
	s = malloc(z->len[i] + 1);
	memcpy(s, z->field[i], z->len[i]);
	s[z->len[i]] = '\0';
	return s;
}

/* LLVMFuzzerTestOneInput - one evaluation */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_zone z;
	struct spf_eval_options opt;
	struct spf_eval_request req;
	struct spf_eval_result res;
	char *local, *helo, sender[SPF_EVAL_SENDER_MAX];

	if (size < 1)
		return 0;
	memset(&z, 0, sizeof(z));
	fuzz_split(data + 1, size - 1, &z);
	z.v6 = data[0] & 1;
	if (z.v6)
		inet_pton(AF_INET6, "2001:db8::1", z.client);
	else
		inet_pton(AF_INET, "192.0.2.1", z.client);
	local = fuzz_cstr(&z, 0, "user");
	helo = fuzz_cstr(&z, 1, "helo.fuzz.example");
	memset(&opt, 0, sizeof(opt));
	opt.lookup = fuzz_lookup;
	opt.lookup_arg = &z;
	opt.max_terms = data[0] & 2 ? 10 : 0;
	opt.max_void = data[0] & 4 ? -1 : 0;
	clock_gettime(CLOCK_MONOTONIC, &opt.deadline);
	opt.deadline.tv_sec += 30;
	memset(&req, 0, sizeof(req));
	req.family = z.v6 ? AF_INET6 : AF_INET;
	memcpy(req.addr, z.client, 16);
	(void)snprintf(sender, sizeof(sender), "%.200s@fuzz.example", local);
	req.sender = sender;
	req.domain = "fuzz.example";
	req.helo = helo;
	spf_eval_check(&opt, &req, &res);
	if (res.res == SPF_RES_NONE && res.queries == 0)
		abort();	/* the record is always asked for */
	free(local);
	free(helo);
	return 0;
}
