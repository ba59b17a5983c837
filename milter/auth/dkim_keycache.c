/*
 * dkim_keycache.c - DKIM public keys decoded once (see dkim_keycache.h).
 *
 * One table under one lock, chained by a hash of the DER bytes (FNV-1a,
 * the bytes compared in full), with a FIFO of entries for the bound. The
 * lock is held for a lookup and an insert, never while decoding.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "auth/dkim_keycache.h"
#include "base/xalloc.h"

#define DKIM_KEYCACHE_BUCKETS 8192	/* a power of 2 */
#define DKIM_KEYCACHE_DER_MAX 16384	/* an RSA-8192 SPKI is ~1.1 KB */

struct dkim_keycache_entry {
	unsigned char *der;
	size_t len;
	uint64_t hash;
	EVP_PKEY *pkey;				/* the cache's reference */
	struct dkim_keycache_entry *chain;	/* bucket */
	struct dkim_keycache_entry *newer;	/* FIFO, oldest first */
};

static pthread_mutex_t dkim_keycache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct dkim_keycache_entry *dkim_keycache_bucket[DKIM_KEYCACHE_BUCKETS];
static struct dkim_keycache_entry *dkim_keycache_oldest, *dkim_keycache_newest;
static size_t dkim_keycache_n;
static unsigned long long dkim_keycache_decoded, dkim_keycache_hits;

void
dkim_keycache_link(void)
{
}

void
dkim_keycache_stats(unsigned long long *decoded, unsigned long long *hits)
{
	pthread_mutex_lock(&dkim_keycache_lock);
	*decoded = dkim_keycache_decoded;
	*hits = dkim_keycache_hits;
	pthread_mutex_unlock(&dkim_keycache_lock);
}

/* dkim_keycache_hash - FNV-1a of the DER bytes */
static uint64_t
dkim_keycache_hash(const unsigned char *p, size_t n)
{
	uint64_t h = 14695981039346656037ULL;

	while (n-- > 0)
		h = (h ^ *p++) * 1099511628211ULL;
	return h;
}

/* dkim_keycache_find - the entry for der (lock held), or NULL */
static struct dkim_keycache_entry *
dkim_keycache_find(const unsigned char *der, size_t len, uint64_t h)
{
	struct dkim_keycache_entry *e;

	for (e = dkim_keycache_bucket[h & (DKIM_KEYCACHE_BUCKETS - 1)]; e != NULL;
	    e = e->chain)
		if (e->hash == h && e->len == len && memcmp(e->der, der, len) == 0)
			return e;
	return NULL;
}

/* dkim_keycache_drop_oldest - forget the oldest entry (lock held) */
static void
dkim_keycache_drop_oldest(void)
{
	struct dkim_keycache_entry *e = dkim_keycache_oldest, **pp;

	pp = &dkim_keycache_bucket[e->hash & (DKIM_KEYCACHE_BUCKETS - 1)];
	while (*pp != e)
		pp = &(*pp)->chain;
	*pp = e->chain;
	dkim_keycache_oldest = e->newer;
	if (dkim_keycache_oldest == NULL)
		dkim_keycache_newest = NULL;
	dkim_keycache_n--;
	EVP_PKEY_free(e->pkey);	/* keys in use keep their own references */
	free(e->der);
	free(e);
}

/* dkim_keycache_read - the BIO's bytes into buf (at most max); the count, or -1 if there are more */
static long
dkim_keycache_read(BIO *bp, unsigned char *buf, size_t max)
{
	size_t n = 0;
	int r;

	while (n < max && (r = BIO_read(bp, buf + n, (int)(max - n))) > 0)
		n += (size_t)r;
	if (n == max && BIO_read(bp, buf, 1) > 0)
		return -1;
	return (long)n;
}

/*
 * d2i_PUBKEY_bio - libcrypto's function, answered from the cache: the key
 * the BIO's DER bytes encode, a new reference (NULL if they are none). A
 * caller passing a (reuse) gets a key decoded for it alone, as libcrypto
 * would give (libopendkim passes NULL).
 */
EVP_PKEY *
d2i_PUBKEY_bio(BIO *bp, EVP_PKEY **a)
{
	unsigned char *buf = NULL;
	const unsigned char *p, *der;
	struct dkim_keycache_entry *e;
	EVP_PKEY *pkey = NULL;
	char *mem;
	uint64_t h;
	long n;

	/* libopendkim's is a memory BIO over the decoded p=: read in place
	 * (no copy, no allocation a signature); any other is read out */
	if (BIO_method_type(bp) == BIO_TYPE_MEM
	    && (n = BIO_get_mem_data(bp, &mem)) > 0) {
		p = (const unsigned char *)mem;
		if (n > DKIM_KEYCACHE_DER_MAX)
			goto out;
	} else {
		buf = xmalloc(DKIM_KEYCACHE_DER_MAX);
		n = dkim_keycache_read(bp, buf, DKIM_KEYCACHE_DER_MAX);
		p = buf;
	}
	if (n <= 0)
		goto out;
	if (a != NULL) {
		pkey = d2i_PUBKEY(a, &p, n);
		goto out;
	}
	der = p;
	h = dkim_keycache_hash(der, (size_t)n);
	pthread_mutex_lock(&dkim_keycache_lock);
	if ((e = dkim_keycache_find(der, (size_t)n, h)) != NULL
	    && EVP_PKEY_up_ref(e->pkey) == 1) {
		pkey = e->pkey;
		dkim_keycache_hits++;
	}
	pthread_mutex_unlock(&dkim_keycache_lock);
	if (pkey != NULL || (pkey = d2i_PUBKEY(NULL, &p, n)) == NULL)
		goto out;
	pthread_mutex_lock(&dkim_keycache_lock);
	dkim_keycache_decoded++;
	if (dkim_keycache_find(der, (size_t)n, h) == NULL
	    && EVP_PKEY_up_ref(pkey) == 1) {
		if (dkim_keycache_n >= DKIM_KEYCACHE_MAX)
			dkim_keycache_drop_oldest();
		e = xcalloc(1, sizeof(*e));
		e->der = xmalloc((size_t)n);
		memcpy(e->der, der, (size_t)n);
		e->len = (size_t)n;
		e->hash = h;
		e->pkey = pkey;
		e->chain = dkim_keycache_bucket[h & (DKIM_KEYCACHE_BUCKETS - 1)];
		dkim_keycache_bucket[h & (DKIM_KEYCACHE_BUCKETS - 1)] = e;
		if (dkim_keycache_newest != NULL)
			dkim_keycache_newest->newer = e;
		else
			dkim_keycache_oldest = e;
		dkim_keycache_newest = e;
		dkim_keycache_n++;
	}
	pthread_mutex_unlock(&dkim_keycache_lock);
out:
	free(buf);
	return pkey;
}
