/*
 * config_reuse.c - what a load takes from the running snapshot (private
 * to the loader: config_parse.h): the blocks of an unchanged included
 * file, and the running version of a block that failed.
 *
 * Copies are deep (a snapshot is freed on its own), keys excepted: a
 * parsed key is reference counted and shared. Runs in the loader's thread.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/strmap.h"
#include "base/xalloc.h"
#include "auth/keys.h"
#include "policy/config.h"
#include "policy/config_parse.h"
#include "policy/config_table.h"

/* config_file_intern - the snapshot's copy of a file name, added if new */
static const char *
config_file_intern(struct config *c, const char *path)
{
	struct config_words *w = &c->files;
	size_t i;

	for (i = w->n; i-- > 0; )
		if (strcmp(w->v[i], path) == 0)
			return w->v[i];
	w->v = xreallocarray(w->v, w->n + 1, sizeof(*w->v));
	c->finfo = xreallocarray(c->finfo, w->n + 1, sizeof(*c->finfo));
	memset(&c->finfo[w->n], 0, sizeof(*c->finfo));
	c->finfo[w->n].failed = 1;	/* a kept block's file: it failed */
	w->v[w->n] = xstrdup(path);
	return w->v[w->n++];
}

/* config_domain_copy - a deep copy of the running block src into the empty dst, read from file (keys shared; without with_keys, for the key reader, only what its checks need) */
static void
config_domain_copy(struct config_domain *dst, const struct config_domain *src,
    const char *file, int with_keys)
{
	const struct opt_def *o;
	size_t i;

	*dst = *src;		/* the scalars; every pointer is replaced below */
	dst->name = xstrdup(src->name);
	dst->file = file;
	for (i = 0; i < config_noptions; i++) {
		o = &config_options[i];
		if (!(o->scope & OPT_BLOCK) || config_types[o->type].copy == NULL)
			continue;
		/* the key reader (no keys) needs the name, the bounce domain
		 * (its checks must fail the blocks the daemon's fail) and the
		 * key paths only: 100,000 blocks of lists not copied */
		if (!with_keys && o->offset != offsetof(struct config_domain,
		    bounce_domain))
			memset((char *)dst + o->offset, 0, o->size);
		else
			config_types[o->type].copy((char *)dst + o->offset,
			    (const char *)src + o->offset, o->size);
	}
	dst->keys = xcalloc(src->nkeys + 1, sizeof(*dst->keys));
	for (i = 0; i < src->nkeys; i++) {
		struct key *k = &dst->keys[i];
		const struct key *sk = &src->keys[i];

		*k = *sk;
		k->selector = xstrdup(sk->selector);
		k->path = xstrdup(sk->path);
		k->pkey = NULL;
		if (with_keys)	/* not for a parse without keys (the key reader's) */
			keys_share(k, sk);
		keys_pub_set(k, keys_pub_get(sk));
	}
}

/* config_prev_files - the running snapshot's files by path (once a load) */
static void
config_prev_files(struct config_parse *p, const struct config *prev)
{
	size_t i;

	if (p->prev_files_made)
		return;
	strmap_init(&p->prev_files, prev->files.n, 0);
	for (i = 0; i < prev->files.n; i++)
		(void)strmap_put(&p->prev_files, prev->files.v[i], i);
	p->prev_files_made = 1;
}

/*
 * config_prev_index - where each file of the running snapshot has its
 * blocks (once a load). A file's blocks are next to each other in
 * prev->domains (read one file after the other; config_leave_out keeps
 * the order); a file whose blocks are not (a kept block's: its file
 * failed) is marked and never reused. A block's file is its snapshot's
 * interned name, so the files are walked along with the blocks, by
 * pointer; one out of that order (a kept block's) falls back to names.
 */
static void
config_prev_index(struct config_parse *p, const struct config *prev)
{
	size_t i, k = 0, *j, nf = prev->files.n;
	struct config_run *r;

	if (p->prev_runs != NULL)
		return;
	p->prev_runs = xcalloc(nf + 1, sizeof(*p->prev_runs));
	for (i = 0; i < prev->ndomains; i++) {
		if (prev->domains[i].file == NULL)
			continue;
		while (k < nf && prev->files.v[k] != prev->domains[i].file)
			k++;
		if (k == nf)
			break;
		r = &p->prev_runs[k];
		if (r->n == 0)
			r->first = i;
		else if (r->first + r->n != i)
			r->scattered = 1;
		r->n++;
	}
	if (i == prev->ndomains)
		return;
	memset(p->prev_runs, 0, (nf + 1) * sizeof(*p->prev_runs));
	config_prev_files(p, prev);
	for (i = 0; i < prev->ndomains; i++) {
		if (prev->domains[i].file == NULL
		    || (j = strmap_get(&p->prev_files, prev->domains[i].file))
		    == NULL)
			continue;
		r = &p->prev_runs[*j];
		if (r->n == 0)
			r->first = i;
		else if (r->first + r->n != i)
			r->scattered = 1;
		r->n++;
	}
}

/* config_prev_file - the index of path in the running snapshot's files, or -1: where the last one was found first, then by name */
static long
config_prev_file(struct config_parse *p, const struct config *prev,
    const char *path)
{
	size_t *at, k = p->prev_next;

	if (k < prev->files.n && strcmp(prev->files.v[k], path) == 0) {
		p->prev_next = k + 1;
		return (long)k;
	}
	config_prev_files(p, prev);
	if ((at = strmap_get(&p->prev_files, path)) == NULL)
		return -1;
	p->prev_next = *at + 1;
	return (long)*at;
}

/* config_reuse_file - copy an unchanged, error-free included file's blocks from the running snapshot */
int
config_reuse_file(struct config_parse *p, const char *path,
    const struct key_ident *id)
{
	const struct config *prev = p->src != NULL ? p->src->prev : NULL;
	const struct config_fileinfo *fi;
	const struct config_run *r;
	const char *name;
	size_t j, k;
	long at;

	if (!p->reuse_ok || prev == NULL || prev->finfo == NULL)
		return 0;
	config_prev_index(p, prev);
	if ((at = config_prev_file(p, prev, path)) < 0)
		return 0;
	j = (size_t)at;
	fi = &prev->finfo[j];
	r = &p->prev_runs[j];
	if (j == 0 || !fi->has_id || fi->failed || r->scattered
	    || keys_ident_cmp(&fi->id, id))
		return 0;
	name = config_file_note(p, path);
	p->c->finfo[p->c->files.n - 1].id = *id;
	p->c->finfo[p->c->files.n - 1].has_id = 1;
	p->c->files_reused++;
	for (k = 0; k < r->n; k++) {
		struct config_domain *d = config_new_block(p, "");

		free(d->name);
		config_domain_copy(d, &prev->domains[r->first + k], name,
		    !(p->flags & CONFIG_SKIP_KEYS));
		d->reused = 1;
	}
	return 1;
}

/*
 * config_keep_running - a block that failed keeps the running snapshot's
 * version, unless a block of this load took its name or bounce domain;
 * called after config_index, which it redoes when it kept any
 */
void
config_keep_running(struct config *c, const struct config *prev)
{
	const struct config_domain *od, **keep;
	size_t i, n = 0;

	if (prev == NULL || c->failed.n == 0)
		return;
	keep = xcalloc(c->failed.n, sizeof(*keep));
	for (i = 0; i < c->failed.n; i++) {
		if (config_find_domain(c, c->failed.v[i]) != NULL
		    || (od = config_find_domain(prev, c->failed.v[i])) == NULL)
			continue;
		if (od->bounce_domain != NULL && od->bounce_domain[0] != '\0'
		    && config_find_bounce_domain(c, od->bounce_domain) != NULL)
			continue;
		keep[n++] = od;
	}
	if (n > 0) {
		c->domains = xreallocarray(c->domains, c->ndomains + n,
		    sizeof(*c->domains));
		c->kept.v = xreallocarray(c->kept.v, c->kept.n + n,
		    sizeof(*c->kept.v));
	}
	for (i = 0; i < n; i++) {
		config_domain_copy(&c->domains[c->ndomains++], keep[i],
		    config_file_intern(c, keep[i]->file), 1);
		c->kept.v[c->kept.n++] = xstrdup(keep[i]->name);
	}
	free(keep);
	if (n > 0)
		config_index(c);
}
