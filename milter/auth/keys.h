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
#include <time.h>
#include <openssl/evp.h>

#include "base/buf.h"

#define KEYS_MAX_PEM (64 * 1024)	/* larger files are not keys */
#define KEYS_FILE_WHAT "key file"	/* names a key file in errors */

enum key_type {
	KEY_RSA,
	KEY_ED25519,
};

/* What DNS says about a key's record SELECTOR._domainkey.DOMAIN. */
enum key_pub {
	KEY_PUB_UNCHECKED,	/* not looked up (yet) */
	KEY_PUB_PUBLISHED,	/* p= matches the private key */
	KEY_PUB_MISSING,	/* NXDOMAIN or no TXT record */
	KEY_PUB_TRUNCATED,	/* p= is a cut-off prefix of the right key */
	KEY_PUB_MISMATCHED,	/* p= is another key, or not a DKIM record */
	KEY_PUB_REVOKED,	/* p= empty */
	KEY_PUB_UNKNOWN,	/* DNS timeout or error: no verdict */
};

/* Where a key stands in its not_before/not_after window (logged on change). */
enum key_phase {
	KEY_PHASE_UNSEEN,	/* not looked at yet in this snapshot */
	KEY_PHASE_PENDING,	/* before not_before: not used yet */
	KEY_PHASE_ACTIVE,	/* in its window */
	KEY_PHASE_EXPIRING,	/* in its window, not_after within the warning lead */
	KEY_PHASE_EXPIRED,	/* from not_after on: no longer used */
};

/*
 * What identifies a key file's contents without reading it: a file
 * replaced, rewritten, chmod'ed or chown'ed gets another inode or other
 * times. A reload reads and parses again only the files whose identity
 * changed (stat taken before the read, so a change during it is caught
 * by the next).
 */
struct key_ident {
	unsigned long long dev, ino, size;
	long long mtime_ns, ctime_ns;
};

struct key {
	char *selector;		/* DNS selector (s=) */
	char *path;		/* PEM file it was read from */
	EVP_PKEY *pkey;		/* the private key */
	enum key_type type;	/* RSA or Ed25519 */
	int bits;		/* modulus size for RSA; 256 for Ed25519 */
	int line;		/* conf line that declared it */
	time_t not_before;	/* not used before this time (0: no limit) */
	time_t not_after;	/* not used from this time on (0: no limit) */
	int pub;		/* enum key_pub, last definite state; atomic */
	int phase;		/* enum key_phase last logged; atomic */
	struct key_ident ident;	/* the file's identity when read */
	int has_ident;		/* ident is known (a key read by the loader) */
	int load;		/* enum key_load; atomic: a key read after the
				 * start (keyload.c) is written once, under its
				 * lock, then published by this (release) */
};

/* Whether a key's file has been read into it (keys read after the start). */
enum key_load {
	KEY_LOAD_DONE,		/* read and parsed (or never deferred) */
	KEY_LOAD_PENDING,	/* not read yet: pkey, type, bits unset */
	KEY_LOAD_FAILED,	/* the read or parse failed: not usable */
};

/* keys_load_get - a key's load state (acquire: once DONE, pkey, type and bits are readable) */
enum key_load keys_load_get(const struct key *k);
/* keys_load_set - publish a key's load state (release; after its fields are written) */
void keys_load_set(struct key *k, enum key_load l);

/* keys_pub_name - "published", "missing", ... */
const char *keys_pub_name(enum key_pub p);
/* keys_pub_get / keys_pub_set - the publication state (atomic; set keeps a definite state on UNKNOWN) */
enum key_pub keys_pub_get(const struct key *k);
void keys_pub_set(struct key *k, enum key_pub p);
/* keys_pub_usable - may a key in this state sign: published, or not known otherwise (unchecked, unknown)? */
int keys_pub_usable(enum key_pub p);
/* keys_pub_bad - is the record known to be wrong: truncated, mismatched or revoked? */
int keys_pub_bad(enum key_pub p);
/*
 * keys_select - the key of type t to sign with at time now: the first, in
 * preference order, within its not_before/not_after window whose record is
 * usable (keys_pub_usable). When none is and unpublished_sign: the first
 * key in its window whose record is missing, and only when every one is
 * known bad (keys_pub_bad) the first of those; else NULL. *why (if not
 * NULL) says what was skipped.
 */
const struct key *keys_select(const struct key *keys, size_t n,
    enum key_type t, time_t now, int unpublished_sign, char *why,
    size_t whylen);
/*
 * keys_phase - where k stands at now: pending, active, expiring (not_after
 * less than lead seconds away; lead 0: never) or expired. Pure.
 */
enum key_phase keys_phase(const struct key *k, time_t now, long lead);
/*
 * keys_phase_log - note k's phase at now and log a change once, whichever
 * thread sees it first (atomic): scheduled key now in use, expiry ahead
 * (warning), expired. The first look in a snapshot logs only an expiry
 * ahead. qid NULL outside a message. Returns the phase.
 */
enum key_phase keys_phase_log(struct key *k, const char *domain, time_t now,
    long lead, const char *qid);
/* keys_parse_time - "2026-12-01" or "2026-12-01T08:30[:00][Z]" (UTC) to time_t; -1 if bad */
time_t keys_parse_time(const char *s);

/* keys_parse_pem - parse PEM bytes into k (k->path names it in errors) */
int keys_parse_pem(struct key *k, const char *pem, size_t len, char *err,
    size_t errlen);
/* A PEM key decoder reused over many keys (one thread at a time). */
struct keys_decoder;
/* keys_decoder_new - a decoder for many keys; keys_decoder_free - release it (NULL is fine) */
struct keys_decoder *keys_decoder_new(void);
void keys_decoder_free(struct keys_decoder *dec);
/* keys_parse_pem_with - keys_parse_pem through dec (a load of 100,000 keys) */
int keys_parse_pem_with(struct keys_decoder *dec, struct key *k,
    const char *pem, size_t len, char *err, size_t errlen);
struct stat;
/* keys_ident_of - the identity of the file st describes */
void keys_ident_of(const struct stat *st, struct key_ident *id);
/* keys_ident_stat - path's identity (follow: stat, else lstat); 0 or -1 (errno) */
int keys_ident_stat(const char *path, int follow, struct key_ident *id);
/* A thread taking the identities of a list of paths, in order, ahead of
 * the one asking for them (a reload: 100,000 key files and as many conf
 * files). */
struct keys_statahead;
/* keys_statahead_start - start taking paths[0..n) on a thread at nice (kept, not copied: they must outlive the end) */
struct keys_statahead *keys_statahead_start(const char *const *paths,
    size_t n, int follow, int nice);
/* keys_statahead_get - keys_ident_stat(path, follow), from s when path is the next of its list and was taken already, else a stat of its own (never a wait); NULL s is fine */
int keys_statahead_get(struct keys_statahead *s, const char *path, int follow,
    struct key_ident *id);
/* keys_statahead_end - stop and free (NULL is fine) */
void keys_statahead_end(struct keys_statahead *s);
/* keys_ident_cmp - order of two identities (0: the same file, unchanged) */
int keys_ident_cmp(const struct key_ident *a, const struct key_ident *b);
/*
 * Keys by content: another file holding the same key (a platform's one key
 * copied under many customers' directories) shares the first one's
 * EVP_PKEY, so that its memory (about 9 KB once it has signed) and
 * OpenSSL's per-key set-up (Montgomery contexts, two blindings, each a
 * modular inverse) are had once, not once per copy. Keyed by the SHA-256
 * of the public key (keys_digests), the keys compared in full on a match.
 * Not locked: one owner at a time.
 */
struct keys_same_slot;
struct keys_same {
	struct keys_same_slot *v;	/* open addressing, cap a power of two */
	size_t cap, n;
};
/*
 * keys_same_share - *pkey, just parsed: if t holds the same key, free
 * *pkey and make it a new reference to that one; else keep a reference to
 * it in t
 */
void keys_same_share(struct keys_same *t, EVP_PKEY **pkey);
/* keys_same_free - drop t's references; t is empty again */
void keys_same_free(struct keys_same *t);

/*
 * keys_share - make dst use src's parsed key (the EVP_PKEY is reference
 * counted, not copied): type, bits, identity; selector, path, dates and
 * states stay dst's
 */
void keys_share(struct key *dst, const struct key *src);

/* keys_free - release a key's fields (not k itself) */
void keys_free(struct key *k);
/* keys_type_name - "rsa" or "ed25519" */
const char *keys_type_name(enum key_type t);
/*
 * keys_public_b64 - base64 of the DER SubjectPublicKeyInfo (RSA) or the raw
 * 32-byte public key (Ed25519): the p= value of the DNS record. malloc'd.
 */
char *keys_public_b64(EVP_PKEY *pkey);
/* keys_spki - the DER SubjectPublicKeyInfo of a key into out (what i2d_PUBKEY gives, made without its encoder lookup); 0 or -1 */
int keys_spki(EVP_PKEY *pkey, struct buf *out);
/*
 * keys_digests - SHA-256 of a key's DER SubjectPublicKeyInfo (spki) and of
 * the bytes its p= value encodes (p: the SPKI for RSA, the raw key for
 * Ed25519); 0 or -1. Kept with the EVP_PKEY when it was parsed (a key
 * check or a state save costs no public key export), else computed.
 */
int keys_digests(EVP_PKEY *pkey, unsigned char spki[32], unsigned char p[32]);


#endif
