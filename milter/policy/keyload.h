/*
 * keyload.h - key files read after the daemon starts serving.
 *
 * With key_load = background (or auto and many keys) the start leaves
 * every key pending (KEY_LOAD_PENDING) and serves at once. A thread then
 * reads the installed snapshot's pending keys in batches; a message whose
 * From domain (or the platform domain) still has pending keys has them
 * read at once, before its signatures are planned (keyload_domain). A
 * key is written once, under the loader's lock, and published by its
 * load state (release), so the message path reads it without a lock. A
 * reload holds the same lock while it builds its snapshot: the key reader
 * process is asked one request at a time, and the keys the reload copies
 * from the running snapshot do not change under it.
 */
#ifndef AUTHMILTER_KEYLOAD_H
#define AUTHMILTER_KEYLOAD_H

#include <stddef.h>

#include "auth/keys.h"
#include "policy/config.h"

/* One file's answer: its bytes (ok) or why not; id NULL when unknown. */
typedef void keyload_got_fn(void *garg, size_t i, int ok, const char *data,
    size_t len, const struct key_ident *id);
/*
 * The bytes of n key files, answered in order through got (i = 0 .. n-1);
 * 0, or -1 with err when the source itself failed (then the keys not
 * answered stay pending).
 */
typedef int keyload_fetch_fn(void *arg, const char *const *paths, size_t n,
    keyload_got_fn *got, void *garg, char *err, size_t errlen);

/*
 * keyload_setup - where key bytes come from after the start: fetch (the
 * root key reader), or, fetch NULL, the files themselves (a daemon that
 * stays root). done(done_arg) is called by the thread when a snapshot has
 * no key left to read (the key checker's wake-up).
 */
void keyload_setup(keyload_fetch_fn *fetch, void *arg,
    void (*done)(void *), void *done_arg);
/* keyload_start - start the thread; 0, or -1 with err */
int keyload_start(char *err, size_t errlen);
/* keyload_wake - a snapshot was installed: read its pending keys */
void keyload_wake(void);
/* keyload_stop - end the thread (a batch under way is finished first) */
void keyload_stop(void);
/* keyload_lock, keyload_unlock - a reload's hold, across the load of its snapshot */
void keyload_lock(void);
void keyload_unlock(void);
/*
 * keyload_domain - read d's pending keys now (d of c, pinned by the
 * caller): a message's own domain does not wait for the thread. Logs
 * what failed. qid names the message in the log (NULL: none).
 */
void keyload_domain(const struct config *c, const struct config_domain *d,
    const char *qid);
/* keyload_pending - does d have a key not read yet? (lock-free) */
int keyload_pending(const struct config_domain *d);
/* keyload_busy - is c still reading keys? (lock-free) */
int keyload_busy(const struct config *c);

#endif
