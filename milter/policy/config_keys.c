/*
 * config_keys.c - load the keys of a snapshot's blocks, and its bounce
 * secrets (private to the loader: config_parse.h).
 *
 * Each key file is known by its identity (one stat). A file the running
 * snapshot holds unchanged is shared; the others are fetched from the
 * load's source in one go, then read and parsed once per distinct file,
 * on several threads when read from the disk at a start; errors are
 * reported in the order of the files. Runs in the loader's thread.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/crypto.h>

#include "base/buf.h"
#include "base/secret.h"
#include "base/xalloc.h"
#include "auth/keys.h"
#include "policy/config.h"
#include "policy/config_parse.h"

/* config_bounce_secret_index - the table row of bounce_secret */
static size_t
config_bounce_secret_index(void)
{
	size_t i = 0;

	config_find_option("bounce_secret", &i);
	return i;
}

/* config_secret_flags - secret_read flags from the options */
int
config_secret_flags(const struct config *c)
{
	return (c->allow_group_readable_keys ? SECRET_ALLOW_GROUP : 0)
	    | (c->key_symlinks == CONFIG_KEY_SYMLINKS_ALLOW ?
	    SECRET_ALLOW_SYMLINK : 0);
}

/* config_read_secret - the permission-checked bytes of a key or secret file */
static int
config_read_secret(const struct config_parse *p, const char *path,
    const char *what, size_t max, struct buf *pem, char *ebuf, size_t ebuflen)
{
	int flags = config_secret_flags(p->c);

	if (p->src != NULL && p->src->read_secret != NULL)
		return p->src->read_secret(p->src->arg, path, what, max, flags,
		    pem, ebuf, ebuflen);
	return secret_read(path, what, max, flags, pem, ebuf, ebuflen);
}

/* A key of the load and its block. */
struct config_keyref {
	struct config_domain *d;	/* NULL: a key of the running snapshot */
	struct key *k;
	size_t ord;			/* its place in the load */
	size_t leader;			/* ord of the first key of the load with
					 * the same file (itself if none) */
	int rc;				/* the leader's read: 0 or -1 */
	char *err;			/* the leader's error (owned) */
};

/* config_cmp_keyref - by file identity (unknown last), then the order of the load */
static int
config_cmp_keyref(const void *a, const void *b)
{
	const struct config_keyref *x = a, *y = b;
	int r;

	if (x->k->has_ident != y->k->has_ident)
		return x->k->has_ident ? -1 : 1;
	if (x->k->has_ident && (r = keys_ident_cmp(&x->k->ident,
	    &y->k->ident)) != 0)
		return r;
	return x->ord < y->ord ? -1 : x->ord > y->ord;
}

/* config_prev_keys - the parsed keys of the running snapshot, sorted by identity */
static struct config_keyref *
config_prev_keys(const struct config *prev, size_t *np)
{
	struct config_keyref *v;
	size_t i, j, n = 0;

	*np = 0;
	if (prev == NULL)
		return NULL;
	for (i = 0; i < prev->ndomains; i++)
		n += prev->domains[i].nkeys;
	v = xcalloc(n + 1, sizeof(*v));
	n = 0;
	for (i = 0; i < prev->ndomains; i++)
		for (j = 0; j < prev->domains[i].nkeys; j++)
			if (prev->domains[i].keys[j].has_ident
			    && prev->domains[i].keys[j].pkey != NULL) {
				v[n].ord = n;
				v[n++].k = &prev->domains[i].keys[j];
			}
	qsort(v, n, sizeof(*v), config_cmp_keyref);
	*np = n;
	return v;
}

/*
 * The running snapshot's parsed keys, to find one by identity: the first
 * few asked are looked for one by one (a reload adding a domain asks for
 * one: no sort of 100,000 keys for it), then they are sorted.
 */
#define CONFIG_PREV_SCANS 8
struct config_prevkeys {
	const struct config *prev;
	struct config_keyref *v;	/* sorted by identity, once made */
	size_t n;
	int made;
	int scans;			/* lookups made without v */
};

static const struct key *config_prev_find(const struct config_keyref *v,
    size_t n, const struct key_ident *id);

/* config_prev_lookup - a running key with identity id, or NULL */
static const struct key *
config_prev_lookup(struct config_prevkeys *pk, const struct key_ident *id)
{
	const struct config *prev = pk->prev;
	const struct key *k;
	size_t i, j;

	if (prev == NULL)
		return NULL;
	if (!pk->made && pk->scans < CONFIG_PREV_SCANS) {
		pk->scans++;
		for (i = 0; i < prev->ndomains; i++)
			for (j = 0; j < prev->domains[i].nkeys; j++) {
				k = &prev->domains[i].keys[j];
				if (k->has_ident && k->pkey != NULL
				    && keys_ident_cmp(&k->ident, id) == 0)
					return k;
			}
		return NULL;
	}
	if (!pk->made) {
		pk->v = config_prev_keys(prev, &pk->n);
		pk->made = 1;
	}
	return config_prev_find(pk->v, pk->n, id);
}

/* config_prev_find - a running key with identity id, or NULL */
static const struct key *
config_prev_find(const struct config_keyref *v, size_t n,
    const struct key_ident *id)
{
	size_t lo = 0, hi = n, mid;
	int r;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		r = keys_ident_cmp(&v[mid].k->ident, id);
		if (r == 0)
			return v[mid].k;
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* config_stat_key - a key file's identity through the source; 0 or -1 */
static int
config_stat_key(const struct config_parse *p, const char *path,
    struct key_ident *id)
{
	int follow = p->c->key_symlinks == CONFIG_KEY_SYMLINKS_ALLOW;

	if (p->src != NULL && p->src->stat_key != NULL)
		return p->src->stat_key(p->src->arg, path, follow, id);
	return keys_ident_stat(path, follow, id);
}

/* config_read_key - read and parse one key file into k; 0, or -1 with ebuf */
static int
config_read_key(struct config_parse *p, struct keys_decoder *dec,
    struct key *k, struct buf *pem, char *ebuf, size_t ebuflen)
{
	int rc;

	rc = config_read_secret(p, k->path, KEYS_FILE_WHAT, KEYS_MAX_PEM, pem,
	    ebuf, ebuflen);
	if (rc == 0)
		rc = keys_parse_pem_with(dec, k, buf_cstr(pem), pem->len, ebuf,
		    ebuflen);
	if (pem->data != NULL)
		OPENSSL_cleanse(pem->data, pem->len);
	return rc;
}

/* config_key_leaders - each key's leader: the first key of the load reading the same file */
static void
config_key_leaders(struct config_keyref *need, size_t n)
{
	struct config_keyref *by_id = xcalloc(n + 1, sizeof(*by_id));
	size_t i, lead = 0;

	memcpy(by_id, need, n * sizeof(*need));
	qsort(by_id, n, sizeof(*by_id), config_cmp_keyref);
	for (i = 0; i < n; i++) {
		if (i == 0 || !by_id[i].k->has_ident
		    || keys_ident_cmp(&by_id[i].k->ident, &by_id[i - 1].k->ident))
			lead = by_id[i].ord;
		need[by_id[i].ord].leader = lead;
	}
	free(by_id);
}

#define CONFIG_KEY_THREADS_MAX 8	/* key readers at a start */
#define CONFIG_KEY_THREADS_MIN_KEYS 256	/* fewer keys: one thread */

/* Key files to read, shared by the reader threads of one load. */
struct config_keyjob {
	struct config_parse *p;		/* the load (its source and options: read only) */
	struct config_keyref *need;	/* the keys; each thread fills the leaders it takes */
	size_t n;
	size_t next;			/* the next index to take (atomic) */
};

/* config_keyjob_run - read and parse leaders until none is left (a thread, or the caller) */
static void *
config_keyjob_run(void *arg)
{
	struct config_keyjob *job = arg;
	struct keys_decoder *dec = keys_decoder_new();
	struct buf pem = BUF_INIT;
	char ebuf[512];
	size_t i;

	secret_cache_begin();	/* this thread's (the cache is per thread) */
	while ((i = __atomic_fetch_add(&job->next, 1, __ATOMIC_RELAXED)) < job->n) {
		if (job->need[i].leader != i)
			continue;
		job->need[i].rc = config_read_key(job->p, dec, job->need[i].k,
		    &pem, ebuf, sizeof(ebuf));
		if (job->need[i].rc != 0)
			job->need[i].err = xstrdup(ebuf);
	}
	if (pem.data != NULL)
		OPENSSL_cleanse(pem.data, pem.len);
	buf_free(&pem);
	keys_decoder_free(dec);
	secret_cache_end();
	return NULL;
}

/* config_keyjob_thread - config_keyjob_run on a thread of its own */
static void *
config_keyjob_thread(void *arg)
{
	config_keyjob_run(arg);
	OPENSSL_thread_stop();	/* its per-thread state, now */
	return NULL;
}

/*
 * config_read_leaders - read and parse the leaders of need (the others
 * share them later), on up to CONFIG_KEY_THREADS_MAX threads when reading
 * files directly (a start: 100,000 files of 30 us CPU and a dozen
 * syscalls each); through a source's bytes (the key reader's) one thread
 */
static void
config_read_leaders(struct config_parse *p, struct config_keyref *need,
    size_t n)
{
	struct config_keyjob job = { p, need, n, 0 };
	pthread_t tid[CONFIG_KEY_THREADS_MAX];
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	size_t i, nt = 0, want;

	want = cpus > 1 ? (size_t)cpus : 1;
	if (want > CONFIG_KEY_THREADS_MAX)
		want = CONFIG_KEY_THREADS_MAX;
	if (n < CONFIG_KEY_THREADS_MIN_KEYS
	    || (p->src != NULL && p->src->read_secret != NULL))
		want = 1;
	for (i = 1; i < want; i++)	/* the caller is one of them */
		if (pthread_create(&tid[nt], NULL, config_keyjob_thread, &job) == 0)
			nt++;
	config_keyjob_run(&job);
	for (i = 0; i < nt; i++)
		pthread_join(tid[i], NULL);
}

/*
 * config_defer_keys - does this load leave its keys to be read after the
 * start (CONFIG_DEFER_KEYS and key_load: background, or auto with many)?
 */
static int
config_defer_keys(const struct config_parse *p, size_t total)
{
	if (!(p->flags & CONFIG_DEFER_KEYS))
		return 0;
	return p->c->key_load == CONFIG_KEY_LOAD_BACKGROUND
	    || (p->c->key_load == CONFIG_KEY_LOAD_AUTO
	    && total > CONFIG_KEY_LOAD_AUTO_MIN);
}

/*
 * config_domain_keys - every block's keys: one stat each; a file the
 * running snapshot holds unchanged is shared, the others are read once
 * (a file named by several blocks too), in the order of the load, after
 * one fetch of them all
 */
static void
config_domain_keys(struct config_parse *p)
{
	struct config *c = p->c;
	struct config_keyref *need;
	struct config_prevkeys prev = { NULL, NULL, 0, 0, 0 };
	struct keys_same same = { NULL, 0, 0 };
	struct key_ident was;
	const struct key *old;
	const char **paths;
	char ferr[512];
	size_t i, j, nneed = 0, npaths = 0, total = 0;
	struct key *k;
	int defer;

	for (i = 0; i < c->ndomains; i++)
		total += c->domains[i].failed ? 0 : c->domains[i].nkeys;
	defer = config_defer_keys(p, total);
	prev.prev = defer || p->src == NULL ? NULL : p->src->prev;
	need = xcalloc(total + 1, sizeof(*need));
	for (i = 0; i < c->ndomains; i++) {
		if (c->domains[i].failed)
			continue;
		for (j = 0; j < c->domains[i].nkeys; j++) {
			k = &c->domains[i].keys[j];
			/* not read yet in the running snapshot (a reload during
			 * the start's reading): the reader of keys takes it */
			if (defer || k->load == KEY_LOAD_PENDING) {
				k->load = KEY_LOAD_PENDING;
				c->keys_pending++;
				continue;
			}
			if (k->pkey != NULL) {	/* a reused block's: still the file? */
				was = k->ident;
				k->has_ident = config_stat_key(p, k->path,
				    &k->ident) == 0;
				if (k->has_ident && keys_ident_cmp(&was,
				    &k->ident) == 0) {
					c->keys_reused++;
					continue;
				}
				EVP_PKEY_free(k->pkey);	/* changed: read anew */
				k->pkey = NULL;
				k->pub = KEY_PUB_UNCHECKED;
				k->phase = KEY_PHASE_UNSEEN;
			}
			k->has_ident = config_stat_key(p, k->path, &k->ident) == 0;
			old = k->has_ident ? config_prev_lookup(&prev, &k->ident)
			    : NULL;
			if (old != NULL) {
				keys_share(k, old);
				c->keys_reused++;
				continue;
			}
			need[nneed].d = &c->domains[i];
			need[nneed].ord = nneed;
			need[nneed++].k = k;
		}
	}
	free(prev.v);
	__atomic_store_n(&c->keys_loading, c->keys_pending > 0, __ATOMIC_RELAXED);
	config_key_leaders(need, nneed);
	paths = xcalloc(nneed + 1, sizeof(*paths));
	for (i = 0; i < nneed; i++)
		if (need[i].leader == i)
			paths[npaths++] = need[i].k->path;
	if (npaths > 0 && p->src != NULL && p->src->fetch != NULL
	    && p->src->fetch(p->src->arg, paths, npaths, ferr, sizeof(ferr)) != 0) {
		p->name = c->path;
		p->line = 0;
		config_report(p, NULL, "reading the key files: %s", ferr);
		nneed = 0;
	}
	free(paths);
	config_read_leaders(p, need, nneed);
	for (i = 0; i < nneed; i++)	/* copies of one key: one EVP_PKEY */
		if (need[i].leader == i && need[i].rc == 0)
			keys_same_share(&same, &need[i].k->pkey);
	keys_same_free(&same);
	for (i = 0; i < nneed; i++) {
		k = need[i].k;
		if (need[i].leader == i) {
			if (need[i].rc == 0) {
				k->load = KEY_LOAD_DONE;
				c->keys_read++;
				continue;
			}
		} else if (need[need[i].leader].rc == 0) {
			keys_share(k, need[need[i].leader].k);
			c->keys_reused++;
			continue;
		}
		config_at(p, need[i].d, k->line);
		config_report(p, need[i].d, "%s", need[need[i].leader].err);
	}
	for (i = 0; i < nneed; i++)
		free(need[i].err);
	free(need);
}

/* config_load_keys - every block's keys, and the bounce secrets (their errors are fatal) */
void
config_load_keys(struct config_parse *p)
{
	struct buf pem = BUF_INIT;
	char ebuf[512];
	size_t i;
	int rc;

	config_domain_keys(p);
	p->name = p->c->path;
	for (i = 0; i < p->c->bounce_secret.n; i++) {
		const char *path = p->c->bounce_secret.v[i];

		rc = config_read_secret(p, path, BOUNCE_SECRET_WHAT,
		    BOUNCE_SECRET_FILE_MAX, &pem, ebuf, sizeof(ebuf));
		if (rc == 0)
			rc = bounce_secrets_add(&p->c->secrets, buf_cstr(&pem),
			    pem.len, path, ebuf, sizeof(ebuf));
		if (rc != 0) {
			p->line = p->gline[config_bounce_secret_index()];
			config_report(p, NULL, "bounce_secret: %s", ebuf);
		}
		if (pem.data != NULL)
			OPENSSL_cleanse(pem.data, pem.cap);
	}
	buf_free(&pem);
}
