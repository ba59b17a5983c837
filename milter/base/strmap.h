/*
 * strmap.h - a hash table from C strings to numbers, for the loader's
 * indexes over 100,000 blocks and files (one lookup instead of a sort).
 *
 * Keys are borrowed: they must outlive the map. Open addressing, linear
 * probing, grown at half full; owned by one thread at a time. With icase
 * set, keys differing only in ASCII case are the same key.
 */
#ifndef AUTHMILTER_STRMAP_H
#define AUTHMILTER_STRMAP_H

#include <stddef.h>
#include <stdint.h>

struct strmap_slot {
	const char *key;	/* borrowed; NULL: empty */
	size_t val;
	uint32_t hash;
};

struct strmap {
	struct strmap_slot *slot;	/* mask + 1 of them */
	size_t mask;
	size_t n;			/* keys held */
	int icase;
};

/* strmap_init - an empty map sized for about expect keys */
void strmap_init(struct strmap *m, size_t expect, int icase);
/* strmap_free - release the table (not the keys) */
void strmap_free(struct strmap *m);
/* strmap_put - add key with val; if key is already there, nothing is added
 * and its value is returned (the caller may change it), else NULL */
size_t *strmap_put(struct strmap *m, const char *key, size_t val);
/* strmap_get - key's value, or NULL */
size_t *strmap_get(const struct strmap *m, const char *key);

#endif
