/*
 * keyrecord.c - a published DKIM key record against our key (keyrecord.h).
 */
#include <arpa/nameser.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "base/buf.h"
#include "base/dns.h"
#include "policy/keyrecord.h"
#include "base/xalloc.h"

/* keyrecord_trim - strip white space at both ends, in place */
static char *
keyrecord_trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'
	    || e[-1] == '\n'))
		*--e = '\0';
	return s;
}

/*
 * keyrecord_ktype - a k= value into ktype; one too long is cut and ends in
 * "...", so that it never reads as a key type and the cut shows
 */
static void
keyrecord_ktype(char *ktype, size_t ktypelen, const char *val)
{
	if ((size_t)snprintf(ktype, ktypelen, "%s", val) >= ktypelen
	    && ktypelen > 3)
		memcpy(ktype + ktypelen - 4, "...", 4);
}

/* keyrecord_parse_p - p= of a DKIM key record (RFC 6376 3.6.1) */
char *
keyrecord_parse_p(const char *record, char *ktype, size_t ktypelen)
{
	char *copy = xstrdup(record), *save = NULL, *tag, *eq, *name, *val;
	char *p = NULL;
	int first = 1, bad = 0;

	keyrecord_ktype(ktype, ktypelen, "rsa");
	for (tag = strtok_r(copy, ";", &save); tag != NULL && !bad;
	    tag = strtok_r(NULL, ";", &save), first = 0) {
		if ((eq = strchr(tag, '=')) == NULL) {
			bad = *keyrecord_trim(tag) != '\0';
			continue;
		}
		*eq = '\0';
		name = keyrecord_trim(tag);
		val = keyrecord_trim(eq + 1);
		if (strcmp(name, "v") == 0)
			bad = !first || strcmp(val, "DKIM1") != 0;
		else if (strcmp(name, "k") == 0)
			keyrecord_ktype(ktype, ktypelen, val);
		else if (strcmp(name, "p") == 0 && p == NULL) {
			char *o;

			p = xstrdup(val);
			for (o = p; *val != '\0'; val++)
				if (!isspace((unsigned char)*val))
					*o++ = *val;
			*o = '\0';
		}
	}
	free(copy);
	if (bad) {
		free(p);
		return NULL;
	}
	return p;
}

/* keyrecord_p_matches - whether p= (base64, plen characters) encodes k's public key: its digest against the one kept with the key (no public key export a check) */
static int
keyrecord_p_matches(const struct key *k, const char *p, size_t plen)
{
	unsigned char *raw, md[32], want[32];
	int n, pad = 0, ok = 0;

	if (plen % 4 != 0 || plen > 8192 || keys_digests(k->pkey, NULL, want) != 0)
		return 0;
	raw = xmalloc(plen / 4 * 3 + 1);
	n = EVP_DecodeBlock(raw, (const unsigned char *)p, (int)plen);
	if (n > 0) {
		pad = (p[plen - 1] == '=') + (plen > 1 && p[plen - 2] == '=');
		ok = n - pad > 0 && EVP_Digest(raw, (size_t)(n - pad), md, NULL,
		    EVP_sha256(), NULL) == 1 && memcmp(md, want, 32) == 0;
	}
	free(raw);
	return ok;
}

/* keyrecord_compare - state of one record against one key */
enum key_pub
keyrecord_compare(const struct key *k, const char *record, char *detail,
    size_t detaillen)
{
	char ktype[32], *p, *want;
	enum key_pub st;
	size_t plen, wlen;

	p = keyrecord_parse_p(record, ktype, sizeof(ktype));
	if (p == NULL) {
		(void)snprintf(detail, detaillen, "not a DKIM key record (no p= or bad v=)");
		return KEY_PUB_MISMATCHED;
	}
	plen = strlen(p);
	if (plen > 0 && strcasecmp(ktype, keys_type_name(k->type)) == 0
	    && keyrecord_p_matches(k, p, plen)) {
		free(p);
		(void)snprintf(detail, detaillen, "p= matches the %d-bit key",
		    k->bits);
		return KEY_PUB_PUBLISHED;
	}
	want = keys_public_b64(k->pkey);
	wlen = want ? strlen(want) : 0;
	if (plen == 0) {
		st = KEY_PUB_REVOKED;
		(void)snprintf(detail, detaillen, "p= is empty: key revoked");
	} else if (strcasecmp(ktype, keys_type_name(k->type)) != 0) {
		st = KEY_PUB_MISMATCHED;
		(void)snprintf(detail, detaillen, "record has k=%s, key is %s", ktype,
		    keys_type_name(k->type));
	} else if (want != NULL && strcmp(p, want) == 0) {
		st = KEY_PUB_PUBLISHED;
		(void)snprintf(detail, detaillen, "p= matches the %d-bit key", k->bits);
	} else if (want != NULL && plen < wlen && strncmp(p, want, plen) == 0) {
		st = KEY_PUB_TRUNCATED;
		(void)snprintf(detail, detaillen, "p= holds only the first %zu of %zu "
		    "characters: the DNS host cut the record", plen, wlen);
	} else {
		st = KEY_PUB_MISMATCHED;
		(void)snprintf(detail, detaillen, "p= is a different key");
	}
	free(p);
	free(want);
	return st;
}

/* keyrecord_shape - record length and character-string sizes of TXT rdata */
static void
keyrecord_shape(const unsigned char *rd, size_t len, struct keyrecord_info *info)
{
	size_t i = 0, n;

	info->nstrings = 0;
	info->longest = 0;
	while (i < len) {
		n = rd[i];
		info->nstrings++;
		if (n > info->longest)
			info->longest = n;
		i += n + 1;
	}
}

/* keyrecord_name - SELECTOR._domainkey.DOMAIN into name */
void
keyrecord_name(const char *domain, const struct key *k, struct buf *name)
{
	buf_reset(name);
	buf_printf(name, "%s._domainkey.%s", k->selector, domain);
}

/* keyrecord_answer - the state a TXT answer r for name gives key k */
enum key_pub
keyrecord_answer(const char *name, const struct key *k,
    const struct dns_result *r, struct keyrecord_info *info)
{
	struct buf txt = BUF_INIT;
	enum key_pub st = KEY_PUB_MISSING, one;
	char detail[512];
	size_t i;

	memset(info, 0, sizeof(*info));
	switch (r->status) {
	case DNS_OK:
		break;
	case DNS_NXDOMAIN:
	case DNS_NODATA:
		(void)snprintf(info->detail, sizeof(info->detail), "%s: no TXT record",
		    name);
		return st;
	default:
		(void)snprintf(info->detail, sizeof(info->detail), "%s: DNS %s",
		    name, dns_status_name(r->status));
		return KEY_PUB_UNKNOWN;
	}
	(void)snprintf(info->detail, sizeof(info->detail), "%s: no DKIM record among "
	    "%zu TXT records", name, r->n);
	for (i = 0; i < r->n && st != KEY_PUB_PUBLISHED; i++) {
		if (dns_txt(r, i, &txt) != 0)
			continue;
		one = keyrecord_compare(k, buf_cstr(&txt), detail, sizeof(detail));
		/* the best verdict among several records wins */
		if (st == KEY_PUB_MISSING || one == KEY_PUB_PUBLISHED
		    || one == KEY_PUB_TRUNCATED) {
			st = one;
			info->record_len = txt.len;
			keyrecord_shape(r->data[i], r->len[i], info);
			(void)snprintf(info->detail, sizeof(info->detail), "%s: %s",
			    name, detail);
		}
	}
	buf_free(&txt);
	return st;
}

/* keyrecord_key - look one key up and compare */
enum key_pub
keyrecord_key(struct dns *d, const char *domain, const struct key *k,
    struct keyrecord_info *info)
{
	struct dns_result r;
	struct buf name = BUF_INIT;
	enum key_pub st;

	keyrecord_name(domain, k, &name);
	dns_resolve(d, buf_cstr(&name), ns_t_txt, 0, &r);
	st = keyrecord_answer(buf_cstr(&name), k, &r, info);
	dns_result_free(&r);
	buf_free(&name);
	return st;
}
