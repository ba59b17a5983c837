/*
 * strmap.c - a hash table from C strings to numbers (see strmap.h).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/strmap.h"
#include "base/xalloc.h"

/* strmap_hash - FNV-1a of key, ASCII case folded when icase */
static uint32_t
strmap_hash(const char *key, int icase)
{
	const unsigned char *s = (const unsigned char *)key;
	uint32_t h = 2166136261u;
	unsigned c;

	for (; *s != '\0'; s++) {
		c = *s;
		if (icase && c >= 'A' && c <= 'Z')
			c += 'a' - 'A';
		h = (h ^ c) * 16777619u;
	}
	return h;
}

/* strmap_same - whether two keys are the same key */
static int
strmap_same(const struct strmap *m, const char *a, const char *b)
{
	return (m->icase ? strcasecmp(a, b) : strcmp(a, b)) == 0;
}

void
strmap_init(struct strmap *m, size_t expect, int icase)
{
	size_t cap = 16;

	while (cap < expect * 2 && cap < ((size_t)1 << (sizeof(size_t) * 8 - 2)))
		cap *= 2;
	m->slot = xcalloc(cap, sizeof(*m->slot));
	m->mask = cap - 1;
	m->n = 0;
	m->icase = icase;
}

void
strmap_free(struct strmap *m)
{
	free(m->slot);
	m->slot = NULL;
	m->mask = m->n = 0;
}

/* strmap_find - the slot holding key, or the empty one where it would go */
static struct strmap_slot *
strmap_find(const struct strmap *m, const char *key, uint32_t h)
{
	size_t i = h & m->mask;
	struct strmap_slot *s;

	for (;; i = (i + 1) & m->mask) {
		s = &m->slot[i];
		if (s->key == NULL || (s->hash == h && strmap_same(m, s->key, key)))
			return s;
	}
}

/* strmap_grow - twice the room, every key placed again */
static void
strmap_grow(struct strmap *m)
{
	struct strmap_slot *old = m->slot, *s;
	size_t i, n = m->mask + 1;

	m->slot = xcalloc(n * 2, sizeof(*m->slot));
	m->mask = n * 2 - 1;
	for (i = 0; i < n; i++)
		if (old[i].key != NULL) {
			s = strmap_find(m, old[i].key, old[i].hash);
			*s = old[i];
		}
	free(old);
}

size_t *
strmap_put(struct strmap *m, const char *key, size_t val)
{
	uint32_t h = strmap_hash(key, m->icase);
	struct strmap_slot *s;

	if ((m->n + 1) * 2 > m->mask + 1)
		strmap_grow(m);
	s = strmap_find(m, key, h);
	if (s->key != NULL)
		return &s->val;
	s->key = key;
	s->val = val;
	s->hash = h;
	m->n++;
	return NULL;
}

size_t *
strmap_get(const struct strmap *m, const char *key)
{
	struct strmap_slot *s;

	if (m->slot == NULL)
		return NULL;
	s = strmap_find(m, key, strmap_hash(key, m->icase));
	return s->key != NULL ? &s->val : NULL;
}
