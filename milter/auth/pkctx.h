/*
 * pkctx.h - a thread's RSA signing and verifying contexts, kept per key.
 *
 * EVP_DigestSignInit and EVP_DigestVerifyInit look the RSA signature up in
 * OpenSSL's provider tables and set a context up at every call: about
 * 40,000 instructions, 1 % of a 2048-bit signature and a quarter of a
 * verification. A context initialised once for a key (PKCS#1 v1.5, SHA-256)
 * signs or verifies any number of digests with EVP_PKEY_sign or
 * EVP_PKEY_verify, with the same result.
 *
 * Threading: each thread has its own few contexts (thread-specific data,
 * freed when the thread ends); nothing is shared. Each holds a reference
 * to its key, so a key its owner dropped (a reload, a DNS cache entry that
 * expired) lives on until the thread has used PKCTX_KEEP others or ends:
 * a signing key rotated out stays in this process's memory that long
 * (it was there as long as any message still signed with it anyway).
 * Its address cannot be reused meanwhile, so a match by address is a
 * match of key. A thread that ends while the process may be exiting (the
 * session threads, whose count the stop waits for) calls
 * pkctx_thread_stop first: a thread-specific data destructor runs after
 * the thread has counted itself out, maybe during OpenSSL's exit clean-up.
 */
#ifndef AUTHMILTER_PKCTX_H
#define AUTHMILTER_PKCTX_H

#include <openssl/evp.h>

#define PKCTX_KEEP	8	/* contexts a thread keeps, of each kind */

enum pkctx_op {
	PKCTX_SIGN,
	PKCTX_VERIFY,
};

/* pkctx_rsa - this thread's RSA PKCS#1 v1.5 SHA-256 context for key and
 * op, made on first use; NULL when it cannot be (the caller sets its own
 * up, which reports the error). Not for other key types. */
EVP_PKEY_CTX *pkctx_rsa(EVP_PKEY *key, enum pkctx_op op);
/* pkctx_drop - forget ctx (pkctx_rsa's, this thread's) after OpenSSL
 * failed with it, so that the next call makes a fresh one */
void pkctx_drop(EVP_PKEY_CTX *ctx);
/* pkctx_thread_stop - free this thread's contexts now (before it counts
 * itself out; the next pkctx_rsa in it starts afresh) */
void pkctx_thread_stop(void);

#endif
