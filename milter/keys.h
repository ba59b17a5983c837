/*
 * keys.h - DKIM private keys: loading and description.
 *
 * Keys are loaded while the configuration snapshot is built (before
 * privileges are dropped) and are read-only afterwards; the snapshot owns
 * them and frees them with it.
 */
#ifndef AUTHMILTER_KEYS_H
#define AUTHMILTER_KEYS_H

#include <stddef.h>
#include <openssl/evp.h>

#include "buf.h"

#define KEYS_MAX_PEM (64 * 1024)	/* larger files are not keys */

enum key_type {
	KEY_RSA,
	KEY_ED25519,
};

struct key {
	char *selector;		/* DNS selector (s=) */
	char *path;		/* PEM file it was read from */
	EVP_PKEY *pkey;		/* the private key */
	enum key_type type;	/* RSA or Ed25519 */
	int bits;		/* modulus size for RSA; 256 for Ed25519 */
	int line;		/* conf line that declared it */
};

/*
 * keys_load_file - read a PEM private key into k->pkey, k->type, k->bits.
 * Refuses a file that group or others may read unless allow_group_readable
 * (then only others are refused), a non-regular file, and a key that is
 * neither RSA (>= 1024 bits) nor Ed25519. Returns 0, or -1 with err set.
 */
int keys_load_file(struct key *k, int allow_group_readable, char *err,
    size_t errlen);
/* keys_read_pem - the permission-checked bytes of a key file (for the privileged reader) */
int keys_read_pem(const char *path, int allow_group_readable, struct buf *pem,
    char *err, size_t errlen);
/* keys_parse_pem - parse PEM bytes into k (k->path names it in errors) */
int keys_parse_pem(struct key *k, const char *pem, size_t len, char *err,
    size_t errlen);
/* keys_free - release a key's fields (not k itself) */
void keys_free(struct key *k);
/* keys_type_name - "rsa" or "ed25519" */
const char *keys_type_name(enum key_type t);
/*
 * keys_public_b64 - base64 of the DER SubjectPublicKeyInfo (RSA) or the raw
 * 32-byte public key (Ed25519): the p= value of the DNS record. malloc'd.
 */
char *keys_public_b64(EVP_PKEY *pkey);



/* keys_pick - the preferred key of a type from a preference-ordered list, or NULL */
const struct key *keys_pick(const struct key *keys, size_t n, enum key_type t);
#endif
