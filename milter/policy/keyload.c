/*
 * keyload.c - key files read after the daemon starts serving (keyload.h):
 * the background thread, a message's own domain at once, the lock a
 * reload holds.
 */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/crypto.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/secret.h"
#include "base/xalloc.h"
#include "auth/keys.h"
#include "policy/config.h"
#include "policy/keyload.h"

#define KEYLOAD_BATCH 256	/* keys a request: a message waits at most one */

/* The key material of pending keys and the source: one holder at a time. */
static pthread_mutex_t keyload_mu = PTHREAD_MUTEX_INITIALIZER;
static int keyload_waiting;		/* messages waiting for keyload_mu (atomic) */
static keyload_fetch_fn *keyload_fetch;	/* NULL: read the files */
static void *keyload_fetch_arg;
static void (*keyload_done)(void *);
static void *keyload_done_arg;

/*
 * The files read so far (keyload_mu): a file several blocks name is
 * parsed once, its EVP_PKEY shared (each entry holds a reference).
 */
struct keyload_seen {
	struct key_ident id;
	EVP_PKEY *pkey;			/* NULL: a free slot */
	enum key_type type;
	int bits;
};
static struct keyload_seen *keyload_seen;
static size_t keyload_seen_cap;		/* slots, a power of two (or 0) */
static size_t keyload_seen_n;		/* used */

/*
 * The keys parsed so far by content (keyload_mu): a file holding the same
 * key as another shares its EVP_PKEY (keys_same_share).
 */
static struct keys_same keyload_same;

/* The thread. */
static pthread_mutex_t keyload_ctl = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t keyload_cv = PTHREAD_COND_INITIALIZER;
static int keyload_kick;		/* a snapshot was installed (ctl) */
static int keyload_quit;		/* stop (ctl) */
static int keyload_running;		/* the thread was started */
static pthread_t keyload_tid;

/* A key to read and its block. */
struct keyload_item {
	const struct config_domain *d;
	struct key *k;
};

/* One request's keys. */
struct keyload_batch {
	const struct config *c;
	struct keyload_item v[KEYLOAD_BATCH];
	size_t n;
	struct keys_decoder *dec;
	size_t read, failed;		/* outcomes, added up */
	const char *qid;		/* the message that asked, or NULL */
};

/* keyload_setup - the source and the done hook */
void
keyload_setup(keyload_fetch_fn *fetch, void *arg, void (*done)(void *),
    void *done_arg)
{
	keyload_fetch = fetch;
	keyload_fetch_arg = arg;
	keyload_done = done;
	keyload_done_arg = done_arg;
}

/* keyload_lock - a reload's hold */
void
keyload_lock(void)
{
	pthread_mutex_lock(&keyload_mu);
}

/* keyload_unlock - its end */
void
keyload_unlock(void)
{
	pthread_mutex_unlock(&keyload_mu);
}

/* keyload_pending - a key of d not read yet? */
int
keyload_pending(const struct config_domain *d)
{
	size_t i;

	for (i = 0; i < d->nkeys; i++)
		if (keys_load_get(&d->keys[i]) == KEY_LOAD_PENDING)
			return 1;
	return 0;
}

/* keyload_busy - c still has keys to read? */
int
keyload_busy(const struct config *c)
{
	return __atomic_load_n(&c->keys_loading, __ATOMIC_ACQUIRE) != 0;
}

/* keyload_seen_hash - a slot index for an identity */
static size_t
keyload_seen_hash(const struct key_ident *id)
{
	unsigned long long h = id->ino * 0x9e3779b97f4a7c15ULL;

	h ^= id->dev + (h << 6) + (h >> 2);
	h ^= (unsigned long long)id->mtime_ns + (h << 6) + (h >> 2);
	h ^= (unsigned long long)id->ctime_ns + id->size + (h << 6) + (h >> 2);
	return (size_t)(h ^ (h >> 29));
}

/* keyload_seen_find - the parsed key of a file with identity id, or NULL */
static const struct keyload_seen *
keyload_seen_find(const struct key_ident *id)
{
	size_t i;

	if (keyload_seen_cap == 0)
		return NULL;
	for (i = keyload_seen_hash(id) & (keyload_seen_cap - 1);
	    keyload_seen[i].pkey != NULL; i = (i + 1) & (keyload_seen_cap - 1))
		if (keys_ident_cmp(&keyload_seen[i].id, id) == 0)
			return &keyload_seen[i];
	return NULL;
}

/* keyload_seen_put - remember k's parsed key under its identity (a reference of its own) */
static void
keyload_seen_put(const struct key *k)
{
	struct keyload_seen *old = keyload_seen;
	size_t i, oldcap = keyload_seen_cap;

	if (!k->has_ident || k->pkey == NULL || keyload_seen_find(&k->ident))
		return;
	if (2 * (keyload_seen_n + 1) > keyload_seen_cap) {	/* rehash */
		keyload_seen_cap = oldcap ? 2 * oldcap : 1024;
		keyload_seen = xcalloc(keyload_seen_cap, sizeof(*keyload_seen));
		keyload_seen_n = 0;
		for (i = 0; i < oldcap; i++)
			if (old[i].pkey != NULL) {
				size_t j = keyload_seen_hash(&old[i].id)
				    & (keyload_seen_cap - 1);

				while (keyload_seen[j].pkey != NULL)
					j = (j + 1) & (keyload_seen_cap - 1);
				keyload_seen[j] = old[i];
				keyload_seen_n++;
			}
		free(old);
	}
	i = keyload_seen_hash(&k->ident) & (keyload_seen_cap - 1);
	while (keyload_seen[i].pkey != NULL)
		i = (i + 1) & (keyload_seen_cap - 1);
	EVP_PKEY_up_ref(k->pkey);
	keyload_seen[i].id = k->ident;
	keyload_seen[i].pkey = k->pkey;
	keyload_seen[i].type = k->type;
	keyload_seen[i].bits = k->bits;
	keyload_seen_n++;
}

/* keyload_seen_clear - forget every file and key (a snapshot's keys are all read, or the thread ends) */
static void
keyload_seen_clear(void)
{
	size_t i;

	for (i = 0; i < keyload_seen_cap; i++)
		EVP_PKEY_free(keyload_seen[i].pkey);
	free(keyload_seen);
	keyload_seen = NULL;
	keyload_seen_cap = keyload_seen_n = 0;
	keys_same_free(&keyload_same);
}

/* keyload_fail - a key that cannot be read: logged, left out of signing */
static void
keyload_fail(struct keyload_batch *b, const struct keyload_item *it,
    const char *why)
{
	log_err(b->qid, "%s:%d: domain %s: key %s: %s: not used",
	    it->d->file != NULL ? it->d->file : b->c->path, it->k->line,
	    it->d->name, it->k->selector, why);
	keys_load_set(it->k, KEY_LOAD_FAILED);
	b->failed++;
}

/* keyload_got - one file's answer: parse it into its key and publish it */
static void
keyload_got(void *garg, size_t i, int ok, const char *data, size_t len,
    const struct key_ident *id)
{
	struct keyload_batch *b = garg;
	const struct keyload_seen *seen;
	struct keyload_item *it;
	char err[512];

	if (i >= b->n || keys_load_get(b->v[i].k) != KEY_LOAD_PENDING)
		return;
	it = &b->v[i];
	if (!ok) {
		(void)snprintf(err, sizeof(err), "%.*s", (int)len, data);
		keyload_fail(b, it, err);
		return;
	}
	if (id != NULL && (seen = keyload_seen_find(id)) != NULL) {
		/* a file another block named: parsed once, shared */
		EVP_PKEY_up_ref(seen->pkey);
		it->k->pkey = seen->pkey;
		it->k->type = seen->type;
		it->k->bits = seen->bits;
	} else if (keys_parse_pem_with(b->dec, it->k, data, len, err,
	    sizeof(err)) != 0) {
		keyload_fail(b, it, err);
		return;
	} else
		keys_same_share(&keyload_same, &it->k->pkey);
	if (id != NULL) {
		it->k->ident = *id;
		it->k->has_ident = 1;
		keyload_seen_put(it->k);
	}
	keys_load_set(it->k, KEY_LOAD_DONE);
	b->read++;
}

/* keyload_read_files - the source of a daemon that stays root: the files themselves */
static void
keyload_read_files(struct keyload_batch *b)
{
	int flags = config_secret_flags(b->c);
	struct key_ident id;
	struct buf pem = BUF_INIT;
	char err[1024];
	size_t i;
	int has_id;

	secret_cache_begin();
	for (i = 0; i < b->n; i++) {
		has_id = keys_ident_stat(b->v[i].k->path,
		    (flags & SECRET_ALLOW_SYMLINK) != 0, &id) == 0;
		if (secret_read(b->v[i].k->path, KEYS_FILE_WHAT, KEYS_MAX_PEM,
		    flags, &pem, err, sizeof(err)) == 0)
			keyload_got(b, i, 1, buf_cstr(&pem), pem.len,
			    has_id ? &id : NULL);
		else
			keyload_got(b, i, 0, err, strlen(err), NULL);
		if (pem.data != NULL)
			OPENSSL_cleanse(pem.data, pem.len);
	}
	secret_cache_end();
	buf_free(&pem);
}

/* keyload_run - read a batch (keyload_mu held) */
static void
keyload_run(struct keyload_batch *b)
{
	const char *paths[KEYLOAD_BATCH];
	char err[512];
	size_t i;

	b->dec = keys_decoder_new();
	if (keyload_fetch == NULL)
		keyload_read_files(b);
	else {
		for (i = 0; i < b->n; i++)
			paths[i] = b->v[i].k->path;
		if (keyload_fetch(keyload_fetch_arg, paths, b->n, keyload_got,
		    b, err, sizeof(err)) != 0)
			for (i = 0; i < b->n; i++)
				if (keys_load_get(b->v[i].k) == KEY_LOAD_PENDING)
					keyload_fail(b, &b->v[i], err);
	}
	keys_decoder_free(b->dec);
	b->dec = NULL;
}

/* keyload_domain - a message's domain, now */
void
keyload_domain(const struct config *c, const struct config_domain *d,
    const char *qid)
{
	struct keyload_batch *b;
	size_t i;

	if (!keyload_pending(d))
		return;
	b = xcalloc(1, sizeof(*b));
	b->c = c;
	b->qid = qid;
	__atomic_add_fetch(&keyload_waiting, 1, __ATOMIC_RELAXED);
	pthread_mutex_lock(&keyload_mu);
	__atomic_sub_fetch(&keyload_waiting, 1, __ATOMIC_RELAXED);
	/* written once, under the lock: the cast is the publication's */
	for (i = 0; i < d->nkeys && b->n < KEYLOAD_BATCH; i++)
		if (keys_load_get(&d->keys[i]) == KEY_LOAD_PENDING) {
			b->v[b->n].d = d;
			b->v[b->n++].k = (struct key *)&d->keys[i];
		}
	if (b->n > 0) {
		keyload_run(b);
		log_info(qid, "keys of %s read for this message: %zu read, "
		    "%zu failed", d->name, b->read, b->failed);
	}
	pthread_mutex_unlock(&keyload_mu);
	free(b);
}

/* keyload_collect - up to a batch of c's pending keys from domain *di on */
static void
keyload_collect(struct keyload_batch *b, struct config *c, size_t *di)
{
	struct config_domain *d;
	size_t j;

	b->n = 0;
	for (; *di < c->ndomains; ++*di) {
		d = &c->domains[*di];
		if (b->n + d->nkeys > KEYLOAD_BATCH && b->n > 0)
			return;		/* a block's keys in one batch */
		for (j = 0; j < d->nkeys && b->n < KEYLOAD_BATCH; j++)
			if (keys_load_get(&d->keys[j]) == KEY_LOAD_PENDING) {
				b->v[b->n].d = d;
				b->v[b->n++].k = &d->keys[j];
			}
	}
}

/* keyload_wait - sleep until kicked or told to stop; 1 to stop */
static int
keyload_wait(void)
{
	int quit;

	pthread_mutex_lock(&keyload_ctl);
	while (!keyload_quit && !keyload_kick)
		pthread_cond_wait(&keyload_cv, &keyload_ctl);
	keyload_kick = 0;
	quit = keyload_quit;
	pthread_mutex_unlock(&keyload_ctl);
	return quit;
}

/* keyload_stopping - told to stop? */
static int
keyload_stopping(void)
{
	int quit;

	pthread_mutex_lock(&keyload_ctl);
	quit = keyload_quit;
	pthread_mutex_unlock(&keyload_ctl);
	return quit;
}

/* keyload_lock_or_stop - take keyload_mu, unless told to stop meanwhile (a reload may hold it for seconds); 0 or -1 */
static int
keyload_lock_or_stop(void)
{
	struct timespec until;

	for (;;) {
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += 100000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		if (pthread_mutex_timedlock(&keyload_mu, &until) == 0)
			return 0;
		if (keyload_stopping())
			return -1;	/* after 100 ms at most */
	}
}

/*
 * keyload_main - read the installed snapshot's pending keys, a batch at a
 * time (a message asking for its own domain gets the lock between two);
 * move to a newly installed snapshot at its next batch
 */
static void *
keyload_main(void *arg)
{
	struct keyload_batch *b = xcalloc(1, sizeof(*b));
	struct config *c = NULL, *now;
	size_t di = 0, nread = 0, nfailed = 0;
	double t0 = clock_seconds();

	(void)arg;
	while (!keyload_stopping()) {
		now = config_acquire();
		if (now != c) {
			config_release(c);
			c = now;
			di = 0;
			nread = nfailed = 0;
			t0 = clock_seconds();
		} else
			config_release(now);
		if (c == NULL || !keyload_busy(c)) {
			if (keyload_wait())
				break;
			continue;
		}
		b->c = c;
		keyload_collect(b, c, &di);
		if (b->n == 0) {
			if (keyload_lock_or_stop() != 0)
				break;
			keyload_seen_clear();	/* its references: not kept */
			pthread_mutex_unlock(&keyload_mu);
			__atomic_store_n(&c->keys_loading, 0, __ATOMIC_RELEASE);
			log_notice(NULL, "keys read in the background: %zu read, "
			    "%zu failed, %zu keys in all; %.2f s", nread, nfailed,
			    c->keys_pending, clock_seconds() - t0);
			if (keyload_done != NULL)
				keyload_done(keyload_done_arg);
			continue;
		}
		while (__atomic_load_n(&keyload_waiting, __ATOMIC_RELAXED) > 0)
			sched_yield();	/* messages first */
		b->read = b->failed = 0;
		if (keyload_lock_or_stop() != 0)
			break;
		keyload_run(b);
		pthread_mutex_unlock(&keyload_mu);
		nread += b->read;
		nfailed += b->failed;
	}
	/* a reload stuck on the key reader holds the lock: the process then
	 * ends without teardown, and this is not waited for (SIGTERM) */
	if (keyload_lock_or_stop() == 0) {
		keyload_seen_clear();
		pthread_mutex_unlock(&keyload_mu);
	}
	config_release(c);
	free(b);
	OPENSSL_thread_stop();	/* its per-thread state, now */
	return NULL;
}

/* keyload_start - start the thread */
int
keyload_start(char *err, size_t errlen)
{
	keyload_quit = 0;
	keyload_kick = 0;
	if (pthread_create(&keyload_tid, NULL, keyload_main, NULL) != 0) {
		(void)snprintf(err, errlen, "cannot start the key reading thread");
		return -1;
	}
	keyload_running = 1;
	return 0;
}

/* keyload_wake - a new snapshot */
void
keyload_wake(void)
{
	pthread_mutex_lock(&keyload_ctl);
	keyload_kick = 1;
	pthread_cond_signal(&keyload_cv);
	pthread_mutex_unlock(&keyload_ctl);
}

/* keyload_stop - end the thread */
void
keyload_stop(void)
{
	if (!keyload_running)
		return;
	pthread_mutex_lock(&keyload_ctl);
	keyload_quit = 1;
	pthread_cond_signal(&keyload_cv);
	pthread_mutex_unlock(&keyload_ctl);
	pthread_join(keyload_tid, NULL);
	keyload_running = 0;
}
