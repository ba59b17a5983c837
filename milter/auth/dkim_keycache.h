/*
 * dkim_keycache.h - DKIM public keys decoded once, not at every signature.
 *
 * libopendkim decodes a key record's p= with d2i_PUBKEY_bio() for each
 * signature it verifies. With OpenSSL 3 each call builds a decoder chain
 * under the provider store's locks: about a quarter of the daemon's CPU
 * for an inbound message with one signature (docs/performance.md, the
 * inbound profile). The builtin verifier (dkim_keyrec.c) decodes its RSA
 * keys through the same function. dkim_keycache.c defines d2i_PUBKEY_bio()
 * itself; the daemon's own definition is the one the dynamic linker binds
 * libopendkim's reference to (symbol interposition: the executable comes
 * first in the lookup scope). Each distinct DER key is decoded once and
 * shared, reference counted, by every thread (read-only for libopendkim:
 * EVP_PKEY_get1_RSA and RSA_verify); at most DKIM_KEYCACHE_MAX keys are
 * kept, the oldest dropped first. Its semantics are libcrypto's: a new
 * reference the caller frees, NULL on a bad key; a memory BIO (what
 * libopendkim passes, then frees) is read in place, not consumed.
 */
#ifndef AUTHMILTER_DKIM_KEYCACHE_H
#define AUTHMILTER_DKIM_KEYCACHE_H

#include <stddef.h>

#define DKIM_KEYCACHE_MAX 4096

/* dkim_keycache_link - nothing; dkim_verify calls it so that the linker
 * takes this file (and its d2i_PUBKEY_bio) from the library */
void dkim_keycache_link(void);
/* dkim_keycache_stats - keys decoded and answers from the cache since the start */
void dkim_keycache_stats(unsigned long long *decoded, unsigned long long *hits);

#endif
