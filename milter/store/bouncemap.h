/*
 * bouncemap.h - the stored bounce addresses' side of the history store:
 * the struct bounce_map (bounce.h) that outbound.c writes through when a
 * sender is too long for the stateless bounce address, and inbound.c
 * reads through at RCPT TO.
 *
 * Unlike the DMARC history (history.c's writer thread, fire and forget),
 * a mapping is written on the message path and committed before the
 * function returns: the message is accepted only afterwards, and a bounce
 * may come back seconds later. Every call is bounded in time (a lock wait
 * or statement timeout of the handle, a wait for a free handle), and a
 * store that cannot be opened is not tried again for a few seconds, so a
 * dead store costs the message path one quick failure, not a hang.
 *
 * Threading: any number of threads may call the map at once; each call
 * borrows one handle of a small pool (a mutex and a condition guard it).
 */
#ifndef AUTHMILTER_BOUNCEMAP_H
#define AUTHMILTER_BOUNCEMAP_H

#include <stddef.h>
#include <time.h>

#include "auth/bounce.h"

struct bouncemap;

struct bouncemap_options {
	const char *spec;		/* the store (history_store_open) */
	long timeout_ms;		/* bound of one call; <= 0: 2000 */
	long max_age;			/* seconds a mapping is kept (bounce_max_age) */
	size_t handles;			/* open handles at most; 0: 4 */
};

/* bouncemap_new - a pool over the store (opened when first used; never NULL) */
struct bouncemap *bouncemap_new(const struct bouncemap_options *opt);
/* bouncemap_map - the bounce_map calling into it (valid while bm lives) */
const struct bounce_map *bouncemap_map(const struct bouncemap *bm);
/* bouncemap_set_max_age - a reloaded bounce_max_age (pruning follows it) */
void bouncemap_set_max_age(struct bouncemap *bm, long max_age);
/* bouncemap_free - close every handle (no call may be running; NULL is fine) */
void bouncemap_free(struct bouncemap *bm);

#endif
