/*
 * dnscache.c - answers kept in front of the resolver (see dnscache.h).
 *
 * DNSCACHE_SHARDS shards, each a chained hash table with its own lock and
 * a FIFO of its entries (insertion order): an insert over the shard's
 * bound drops the oldest, a lookup that finds an expired entry drops it.
 * Copies in and out are deep, so a caller's result never points into the
 * cache.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/dnscache.h"
#include "base/xalloc.h"

#define DNSCACHE_SHARDS 16
#define DNSCACHE_KEY_MAX 300	/* name (253) + type */

struct dnscache_entry {
	char *key;			/* "name/type", lower case */
	uint32_t hash;
	long long expires_ms;
	struct dns_result r;		/* owned */
	struct dnscache_entry *chain;	/* next in the bucket */
	struct dnscache_entry *older, *newer;	/* the shard's FIFO */
};

struct dnscache_shard {
	pthread_mutex_t lock;
	struct dnscache_entry **bucket;	/* nbuckets of them */
	size_t nbuckets;		/* a power of 2 */
	size_t n, max;
	struct dnscache_entry *oldest, *newest;
};

struct dnscache {
	struct dnscache_shard shard[DNSCACHE_SHARDS];
};

/* dnscache_key - "name/type", lower case, without a final dot; its length, or 0 if it does not fit */
static size_t
dnscache_key(const char *name, int rrtype, char *key, uint32_t *hash)
{
	size_t i, n = strlen(name);
	uint32_t h = 2166136261u;
	int w;

	if (n > 0 && name[n - 1] == '.')
		n--;
	if (n + 16 > DNSCACHE_KEY_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		char c = name[i];

		key[i] = (char)(c >= 'A' && c <= 'Z' ? c + 'a' - 'A' : c);
	}
	w = snprintf(key + n, DNSCACHE_KEY_MAX - n, "/%d", rrtype);
	if (w < 0 || (size_t)w >= DNSCACHE_KEY_MAX - n)
		return 0;
	n += (size_t)w;
	for (i = 0; i < n; i++)
		h = (h ^ (unsigned char)key[i]) * 16777619u;
	*hash = h;
	return n;
}

/* dnscache_copy - a deep copy of src into dst */
static void
dnscache_copy(struct dns_result *dst, const struct dns_result *src)
{
	size_t i;

	*dst = *src;
	dst->data = NULL;
	dst->len = NULL;
	dst->packet = NULL;
	if (src->n > 0) {
		dst->data = xcalloc(src->n, sizeof(*dst->data));
		dst->len = xcalloc(src->n, sizeof(*dst->len));
		for (i = 0; i < src->n; i++) {
			dst->len[i] = src->len[i];
			dst->data[i] = xmalloc(src->len[i] > 0 ? src->len[i] : 1);
			memcpy(dst->data[i], src->data[i], src->len[i]);
		}
	}
	if (src->packet != NULL && src->packet_len > 0) {
		dst->packet = xmalloc(src->packet_len);
		memcpy(dst->packet, src->packet, src->packet_len);
	}
}

struct dnscache *
dnscache_new(size_t max_entries)
{
	struct dnscache *dc = xcalloc(1, sizeof(*dc));
	size_t i, per = max_entries / DNSCACHE_SHARDS + 1, nb = 16;

	while (nb < per)
		nb *= 2;
	for (i = 0; i < DNSCACHE_SHARDS; i++) {
		struct dnscache_shard *s = &dc->shard[i];

		pthread_mutex_init(&s->lock, NULL);
		s->nbuckets = nb;
		s->bucket = xcalloc(nb, sizeof(*s->bucket));
		s->max = per;
	}
	return dc;
}

/* dnscache_entry_free - release one entry */
static void
dnscache_entry_free(struct dnscache_entry *e)
{
	dns_result_free(&e->r);
	free(e->key);
	free(e);
}

/* dnscache_unlink - take e out of its shard (lock held) and free it */
static void
dnscache_unlink(struct dnscache_shard *s, struct dnscache_entry *e)
{
	struct dnscache_entry **pp = &s->bucket[e->hash / DNSCACHE_SHARDS
	    & (s->nbuckets - 1)];

	while (*pp != e)
		pp = &(*pp)->chain;
	*pp = e->chain;
	if (e->older != NULL)
		e->older->newer = e->newer;
	else
		s->oldest = e->newer;
	if (e->newer != NULL)
		e->newer->older = e->older;
	else
		s->newest = e->older;
	s->n--;
	dnscache_entry_free(e);
}

void
dnscache_free(struct dnscache *dc)
{
	size_t i;

	if (dc == NULL)
		return;
	for (i = 0; i < DNSCACHE_SHARDS; i++) {
		struct dnscache_shard *s = &dc->shard[i];

		while (s->oldest != NULL)
			dnscache_unlink(s, s->oldest);
		free(s->bucket);
		pthread_mutex_destroy(&s->lock);
	}
	free(dc);
}

/* dnscache_find - the entry for key in s (lock held), or NULL */
static struct dnscache_entry *
dnscache_find(struct dnscache_shard *s, const char *key, uint32_t h)
{
	struct dnscache_entry *e = s->bucket[h / DNSCACHE_SHARDS
	    & (s->nbuckets - 1)];

	for (; e != NULL; e = e->chain)
		if (e->hash == h && strcmp(e->key, key) == 0)
			return e;
	return NULL;
}

int
dnscache_get(struct dnscache *dc, const char *name, int rrtype,
    struct dns_result *r, long long now_ms)
{
	char key[DNSCACHE_KEY_MAX];
	struct dnscache_shard *s;
	struct dnscache_entry *e;
	uint32_t h;
	int hit = 0;

	if (dc == NULL || dnscache_key(name, rrtype, key, &h) == 0)
		return 0;
	s = &dc->shard[h % DNSCACHE_SHARDS];
	pthread_mutex_lock(&s->lock);
	if ((e = dnscache_find(s, key, h)) != NULL) {
		if (e->expires_ms <= now_ms)
			dnscache_unlink(s, e);
		else {
			dnscache_copy(r, &e->r);
			/* what is left of its TTL */
			r->ttl = (int)((e->expires_ms - now_ms + 999) / 1000);
			hit = 1;
		}
	}
	pthread_mutex_unlock(&s->lock);
	return hit;
}

void
dnscache_put(struct dnscache *dc, const char *name, int rrtype,
    const struct dns_result *r, long long now_ms)
{
	char key[DNSCACHE_KEY_MAX];
	struct dnscache_shard *s;
	struct dnscache_entry *e, **b;
	uint32_t h;
	int ttl;

	if (dc == NULL || r->ttl <= 0 || (r->status != DNS_OK
	    && r->status != DNS_NXDOMAIN && r->status != DNS_NODATA)
	    || dnscache_key(name, rrtype, key, &h) == 0)
		return;
	ttl = r->ttl < DNSCACHE_MAX_TTL ? r->ttl : DNSCACHE_MAX_TTL;
	e = xcalloc(1, sizeof(*e));
	e->key = xstrdup(key);
	e->hash = h;
	e->expires_ms = now_ms + (long long)ttl * 1000;
	dnscache_copy(&e->r, r);
	s = &dc->shard[h % DNSCACHE_SHARDS];
	pthread_mutex_lock(&s->lock);
	{
		struct dnscache_entry *old = dnscache_find(s, key, h);

		if (old != NULL)	/* two threads asked at once: the newer */
			dnscache_unlink(s, old);
	}
	while (s->n >= s->max && s->oldest != NULL)
		dnscache_unlink(s, s->oldest);
	b = &s->bucket[h / DNSCACHE_SHARDS & (s->nbuckets - 1)];
	e->chain = *b;
	*b = e;
	e->older = s->newest;
	if (s->newest != NULL)
		s->newest->newer = e;
	else
		s->oldest = e;
	s->newest = e;
	s->n++;
	pthread_mutex_unlock(&s->lock);
}

size_t
dnscache_count(struct dnscache *dc)
{
	size_t i, n = 0;

	for (i = 0; dc != NULL && i < DNSCACHE_SHARDS; i++) {
		pthread_mutex_lock(&dc->shard[i].lock);
		n += dc->shard[i].n;
		pthread_mutex_unlock(&dc->shard[i].lock);
	}
	return n;
}
