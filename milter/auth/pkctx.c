/*
 * pkctx.c - a thread's RSA signing and verifying contexts, kept per key.
 *
 * A thread has PKCTX_KEEP slots a kind (sign, verify), a free one used
 * first, else replaced in turn (the oldest made goes): a platform signs for few keys per worker at a time, an MX
 * sees the same large senders again and again; a miss costs what every
 * call cost before (the set-up) plus freeing the slot's old context.
 *
 * Threading: see pkctx.h; the only shared state is the thread-specific
 * data key, made once.
 */
#include <pthread.h>
#include <stdlib.h>

#include <openssl/err.h>
#include <openssl/rsa.h>

#include "auth/pkctx.h"
#include "auth/sign.h"
#include "base/xalloc.h"

/* A thread's contexts: one table a kind, so that a host that verifies
 * mail from many senders does not push its signing contexts out. */
struct pkctx_table {
	const EVP_PKEY *key[2][PKCTX_KEEP];	/* compared, never used */
	EVP_PKEY_CTX *ctx[2][PKCTX_KEEP];	/* NULL: a free slot */
	unsigned next[2];			/* the slot replaced next */
};

static pthread_once_t pkctx_once = PTHREAD_ONCE_INIT;
static pthread_key_t pkctx_tsd;
static int pkctx_ok;			/* pkctx_tsd was made */

/* pkctx_table_free - a thread's contexts, at its end (key destructor) */
static void
pkctx_table_free(void *arg)
{
	struct pkctx_table *t = arg;
	size_t op, i;

	for (op = 0; op < 2; op++)
		for (i = 0; i < PKCTX_KEEP; i++)
			EVP_PKEY_CTX_free(t->ctx[op][i]);
	free(t);
}

/* pkctx_init - the thread-specific data key, once */
static void
pkctx_init(void)
{
	pkctx_ok = pthread_key_create(&pkctx_tsd, pkctx_table_free) == 0;
}

/* pkctx_table - this thread's table, made on first use; NULL if it cannot be */
static struct pkctx_table *
pkctx_table(void)
{
	struct pkctx_table *t;

	(void)pthread_once(&pkctx_once, pkctx_init);
	if (!pkctx_ok)
		return NULL;
	if ((t = pthread_getspecific(pkctx_tsd)) != NULL)
		return t;
	t = xcalloc(1, sizeof(*t));
	if (pthread_setspecific(pkctx_tsd, t) != 0) {
		free(t);
		return NULL;
	}
	return t;
}

/* pkctx_new - a context for key and op, initialised; NULL on failure */
static EVP_PKEY_CTX *
pkctx_new(EVP_PKEY *key, enum pkctx_op op)
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(key, NULL);
	int ok;

	if (c == NULL) {
		ERR_clear_error();
		return NULL;
	}
	ok = op == PKCTX_SIGN ? EVP_PKEY_sign_init(c) : EVP_PKEY_verify_init(c);
	if (ok != 1 || EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PADDING) <= 0
	    || EVP_PKEY_CTX_set_signature_md(c, sign_sha256()) <= 0) {
		EVP_PKEY_CTX_free(c);
		ERR_clear_error();
		return NULL;
	}
	return c;
}

/* pkctx_rsa - this thread's context for key and op */
EVP_PKEY_CTX *
pkctx_rsa(EVP_PKEY *key, enum pkctx_op op)
{
	struct pkctx_table *t = pkctx_table();
	EVP_PKEY_CTX *c;
	size_t i;

	if (t == NULL)
		return NULL;
	for (i = 0; i < PKCTX_KEEP; i++)
		if (t->ctx[op][i] != NULL && t->key[op][i] == key)
			return t->ctx[op][i];
	if ((c = pkctx_new(key, op)) == NULL)
		return NULL;
	for (i = 0; i < PKCTX_KEEP && t->ctx[op][i] != NULL; i++)
		;
	if (i == PKCTX_KEEP) {		/* none free: the oldest made goes */
		i = t->next[op];
		t->next[op] = (t->next[op] + 1) % PKCTX_KEEP;
		EVP_PKEY_CTX_free(t->ctx[op][i]);
	}
	t->ctx[op][i] = c;
	t->key[op][i] = key;
	return c;
}

/* pkctx_drop - forget a context OpenSSL failed with */
void
pkctx_drop(EVP_PKEY_CTX *ctx)
{
	struct pkctx_table *t;
	size_t op, i;

	(void)pthread_once(&pkctx_once, pkctx_init);
	t = pkctx_ok ? pthread_getspecific(pkctx_tsd) : NULL;
	for (op = 0; t != NULL && op < 2; op++)
		for (i = 0; i < PKCTX_KEEP; i++)
			if (t->ctx[op][i] == ctx) {
				EVP_PKEY_CTX_free(ctx);
				t->ctx[op][i] = NULL;
				t->key[op][i] = NULL;
				return;
			}
}

/* pkctx_thread_stop - free this thread's contexts now */
void
pkctx_thread_stop(void)
{
	struct pkctx_table *t;

	(void)pthread_once(&pkctx_once, pkctx_init);
	if (!pkctx_ok || (t = pthread_getspecific(pkctx_tsd)) == NULL)
		return;
	(void)pthread_setspecific(pkctx_tsd, NULL);
	pkctx_table_free(t);
}
