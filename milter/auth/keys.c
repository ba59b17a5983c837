/*
 * keys.c - load DKIM private keys from PEM files and describe them.
 *
 * Runs while a configuration snapshot is built, as root, before privileges
 * are dropped. The loaded EVP_PKEY is read-only afterwards and may be used
 * by any number of signing threads. Key files are read by secret.c. After
 * load only two fields change, both atomic: the publication state (set by
 * keycheck) and the phase last logged (keys_phase_log, from any thread).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/bn.h>

#include "base/buf.h"
#include "auth/keys.h"
#include "base/log.h"
#include "base/sslerr.h"
#include "base/xalloc.h"

/* The digests kept with a parsed key (EVP_PKEY ex_data), 64 bytes. */
static int keys_exidx = -1;
static pthread_once_t keys_exidx_once = PTHREAD_ONCE_INIT;

/* keys_ex_free - the ex_data's destructor */
static void
keys_ex_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
    void *argp)
{
	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	free(ptr);
}

/* keys_exidx_make - the ex_data index, once */
static void
keys_exidx_make(void)
{
	keys_exidx = EVP_PKEY_get_ex_new_index(0, NULL, NULL, NULL,
	    keys_ex_free);
}

/* keys_digests_make - compute both digests into md (64 bytes); 0 or -1 */
static int
keys_digests_make(EVP_PKEY *pkey, unsigned char md[64])
{
	static const size_t ed_prefix_len = 12;	/* keys_spki's RFC 8410 prefix */
	struct buf der = BUF_INIT;
	int rc = -1;

	if (keys_spki(pkey, &der) != 0 || EVP_Digest(der.data, der.len, md,
	    NULL, EVP_sha256(), NULL) != 1)
		goto out;
	if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_ED25519) {
		if (der.len != ed_prefix_len + 32 || EVP_Digest(der.data
		    + ed_prefix_len, 32, md + 32, NULL, EVP_sha256(), NULL) != 1)
			goto out;
	} else
		memcpy(md + 32, md, 32);
	rc = 0;
out:
	buf_free(&der);
	return rc;
}

/* keys_digests_keep - compute the digests of a key just parsed and keep them with it (before it is shared) */
static void
keys_digests_keep(EVP_PKEY *pkey)
{
	unsigned char *md;

	(void)pthread_once(&keys_exidx_once, keys_exidx_make);
	if (keys_exidx < 0)
		return;
	md = xmalloc(64);
	if (keys_digests_make(pkey, md) != 0
	    || EVP_PKEY_set_ex_data(pkey, keys_exidx, md) != 1)
		free(md);
}

int
keys_digests(EVP_PKEY *pkey, unsigned char spki[32], unsigned char p[32])
{
	const unsigned char *kept = NULL;
	unsigned char md[64];

	if (pkey == NULL)
		return -1;
	(void)pthread_once(&keys_exidx_once, keys_exidx_make);
	if (keys_exidx >= 0)
		kept = EVP_PKEY_get_ex_data(pkey, keys_exidx);
	if (kept == NULL) {
		if (keys_digests_make(pkey, md) != 0)
			return -1;
		kept = md;
	}
	if (spki != NULL)
		memcpy(spki, kept, 32);
	if (p != NULL)
		memcpy(p, kept + 32, 32);
	return 0;
}

struct keys_same_slot {
	unsigned char md[32];
	EVP_PKEY *pkey;			/* NULL: a free slot */
};

/* keys_same_slot - md's slot in v: its entry, or the free slot it would take */
static struct keys_same_slot *
keys_same_slot(struct keys_same_slot *v, size_t cap, const unsigned char md[32])
{
	size_t i;

	memcpy(&i, md, sizeof(i));	/* a SHA-256 is hash enough */
	for (i &= cap - 1; v[i].pkey != NULL; i = (i + 1) & (cap - 1))
		if (memcmp(v[i].md, md, 32) == 0)
			break;
	return &v[i];
}

void
keys_same_share(struct keys_same *t, EVP_PKEY **pkey)
{
	struct keys_same_slot *e, *old = t->v;
	unsigned char md[32];
	size_t i, oldcap = t->cap;

	if (*pkey == NULL || keys_digests(*pkey, md, NULL) != 0)
		return;
	if (t->cap > 0) {
		e = keys_same_slot(t->v, t->cap, md);
		if (e->pkey != NULL && EVP_PKEY_eq(e->pkey, *pkey) == 1) {
			EVP_PKEY_free(*pkey);
			EVP_PKEY_up_ref(e->pkey);
			*pkey = e->pkey;
			return;
		}
		if (e->pkey != NULL)	/* same digest, another key: apart */
			return;
	}
	if (2 * (t->n + 1) > t->cap) {	/* rehash */
		t->cap = oldcap ? 2 * oldcap : 1024;
		t->v = xcalloc(t->cap, sizeof(*t->v));
		for (i = 0; i < oldcap; i++)
			if (old[i].pkey != NULL)
				*keys_same_slot(t->v, t->cap, old[i].md) = old[i];
		free(old);
	}
	e = keys_same_slot(t->v, t->cap, md);
	memcpy(e->md, md, 32);
	EVP_PKEY_up_ref(*pkey);
	e->pkey = *pkey;
	t->n++;
}

void
keys_same_free(struct keys_same *t)
{
	size_t i;

	for (i = 0; i < t->cap; i++)
		EVP_PKEY_free(t->v[i].pkey);
	free(t->v);
	t->v = NULL;
	t->cap = t->n = 0;
}

/* A reusable PEM private key decoder: OpenSSL 3 builds its decoder chain
 * once, not per key (about 30 us a key instead of 370). */
struct keys_decoder {
	OSSL_DECODER_CTX *ctx;	/* writes into *out */
	EVP_PKEY *out;		/* the key just decoded */
};

/* keys_decoder_new - a decoder for PEM private keys of any supported type */
struct keys_decoder *
keys_decoder_new(void)
{
	struct keys_decoder *dec = xcalloc(1, sizeof(*dec));

	dec->ctx = OSSL_DECODER_CTX_new_for_pkey(&dec->out, "PEM", NULL, NULL,
	    EVP_PKEY_KEYPAIR, NULL, NULL);
	return dec;
}

/* keys_decoder_free - release it (NULL is fine) */
void
keys_decoder_free(struct keys_decoder *dec)
{
	if (dec == NULL)
		return;
	OSSL_DECODER_CTX_free(dec->ctx);
	free(dec);
}

/* keys_parse_pem_with - parse PEM bytes into k through dec */
int
keys_parse_pem_with(struct keys_decoder *dec, struct key *k, const char *pem,
    size_t len, char *err, size_t errlen)
{
	char ebuf[256];
	const unsigned char *data = (const unsigned char *)pem;
	size_t left = len;
	EVP_PKEY *pkey;
	int id;

	dec->out = NULL;
	if (dec->ctx == NULL || !OSSL_DECODER_from_data(dec->ctx, &data, &left)
	    || dec->out == NULL) {
		EVP_PKEY_free(dec->out);
		dec->out = NULL;
		(void)snprintf(err, errlen, "cannot load key file %s: %s", k->path,
		    sslerr_take("not a PEM private key", ebuf, sizeof(ebuf)));
		return -1;
	}
	pkey = dec->out;
	dec->out = NULL;
	ERR_clear_error();	/* the decoders tried before the one that fit */
	id = EVP_PKEY_get_base_id(pkey);
	if (id == EVP_PKEY_RSA) {
		k->type = KEY_RSA;
		k->bits = EVP_PKEY_get_bits(pkey);
		if (k->bits < 1024) {
			(void)snprintf(err, errlen, "key file %s: RSA key of %d bits is "
			    "too short (RFC 8301: at least 1024)", k->path, k->bits);
			EVP_PKEY_free(pkey);
			return -1;
		}
	} else if (id == EVP_PKEY_ED25519) {
		k->type = KEY_ED25519;
		k->bits = 256;
	} else {
		(void)snprintf(err, errlen, "key file %s: neither an RSA nor an "
		    "Ed25519 key", k->path);
		EVP_PKEY_free(pkey);
		return -1;
	}
	keys_digests_keep(pkey);
	k->pkey = pkey;
	return 0;
}

/* keys_parse_pem - parse PEM bytes into k, through a decoder of its own */
int
keys_parse_pem(struct key *k, const char *pem, size_t len, char *err,
    size_t errlen)
{
	struct keys_decoder *dec = keys_decoder_new();
	int rc = keys_parse_pem_with(dec, k, pem, len, err, errlen);

	keys_decoder_free(dec);
	return rc;
}

/* keys_free - release a key's fields */
void
keys_free(struct key *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_free(k->pkey);
	free(k->selector);
	free(k->path);
	k->pkey = NULL;
	k->selector = NULL;
	k->path = NULL;
}

/* keys_ident_of - the identity a stat gives */
void
keys_ident_of(const struct stat *st, struct key_ident *id)
{
	memset(id, 0, sizeof(*id));
	id->dev = (unsigned long long)st->st_dev;
	id->ino = (unsigned long long)st->st_ino;
	id->size = (unsigned long long)st->st_size;
	id->mtime_ns = (long long)st->st_mtim.tv_sec * 1000000000LL
	    + st->st_mtim.tv_nsec;
	id->ctime_ns = (long long)st->st_ctim.tv_sec * 1000000000LL
	    + st->st_ctim.tv_nsec;
}

/* keys_ident_stat - a file's identity from stat or lstat */
int
keys_ident_stat(const char *path, int follow, struct key_ident *id)
{
	struct stat st;

	if ((follow ? stat(path, &st) : lstat(path, &st)) != 0)
		return -1;
	keys_ident_of(&st, id);
	return 0;
}

/*
 * A stat-ahead: one thread takes the identities of a list of paths in
 * order, ahead of a consumer that asks for them in (mostly) the same
 * order; a reload's 100,000 stats then run beside its parse. The
 * consumer never waits: a path not taken yet it stats itself, and the
 * thread skips to where the consumer is.
 */
struct keys_statahead {
	const char *const *paths;
	size_t n;
	int follow;
	int nice;		/* the thread's */
	struct key_ident *ids;
	unsigned char *state;	/* 0 not yet, 1 taken, 2 stat failed (atomic) */
	size_t next;		/* the consumer's next path (atomic) */
	int stop;		/* the consumer is done (atomic) */
	pthread_t tid;
	int running;		/* tid is to be joined */
};

/* keys_statahead_thread - stat every path in order from where the consumer is */
static void *
keys_statahead_thread(void *arg)
{
	struct keys_statahead *s = arg;
	size_t i, at;

	if (s->nice > 0)
		(void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid),
		    s->nice);
	for (i = 0; i < s->n; i++) {
		if (__atomic_load_n(&s->stop, __ATOMIC_RELAXED))
			break;
		if ((at = __atomic_load_n(&s->next, __ATOMIC_RELAXED)) > i)
			i = at;		/* behind it: no use */
		if (i >= s->n)
			break;
		if (keys_ident_stat(s->paths[i], s->follow, &s->ids[i]) == 0)
			__atomic_store_n(&s->state[i], 1, __ATOMIC_RELEASE);
		else
			__atomic_store_n(&s->state[i], 2, __ATOMIC_RELEASE);
	}
	return NULL;
}

struct keys_statahead *
keys_statahead_start(const char *const *paths, size_t n, int follow,
    int nice)
{
	struct keys_statahead *s = xcalloc(1, sizeof(*s));

	s->paths = paths;
	s->n = n;
	s->follow = follow;
	s->nice = nice;
	s->ids = xcalloc(n + 1, sizeof(*s->ids));
	s->state = xcalloc(n + 1, 1);
	s->running = n > 0 && pthread_create(&s->tid, NULL,
	    keys_statahead_thread, s) == 0;
	return s;
}

int
keys_statahead_get(struct keys_statahead *s, const char *path, int follow,
    struct key_ident *id)
{
	size_t i;
	unsigned char st;

	if (s == NULL || !s->running || follow != s->follow
	    || (i = __atomic_load_n(&s->next, __ATOMIC_RELAXED)) >= s->n
	    || strcmp(s->paths[i], path) != 0)
		return keys_ident_stat(path, follow, id);
	__atomic_store_n(&s->next, i + 1, __ATOMIC_RELAXED);
	if ((st = __atomic_load_n(&s->state[i], __ATOMIC_ACQUIRE)) == 0)
		return keys_ident_stat(path, follow, id);	/* not yet */
	if (st != 1)
		return -1;
	*id = s->ids[i];
	return 0;
}

void
keys_statahead_end(struct keys_statahead *s)
{
	if (s == NULL)
		return;
	__atomic_store_n(&s->stop, 1, __ATOMIC_RELAXED);
	if (s->running)
		pthread_join(s->tid, NULL);
	free(s->ids);
	free(s->state);
	free(s);
}

/* keys_ident_cmp - compare two identities field by field */
int
keys_ident_cmp(const struct key_ident *a, const struct key_ident *b)
{
	if (a->dev != b->dev)
		return a->dev < b->dev ? -1 : 1;
	if (a->ino != b->ino)
		return a->ino < b->ino ? -1 : 1;
	if (a->size != b->size)
		return a->size < b->size ? -1 : 1;
	if (a->mtime_ns != b->mtime_ns)
		return a->mtime_ns < b->mtime_ns ? -1 : 1;
	if (a->ctime_ns != b->ctime_ns)
		return a->ctime_ns < b->ctime_ns ? -1 : 1;
	return 0;
}

/* keys_load_get - a key's load state */
enum key_load
keys_load_get(const struct key *k)
{
	return (enum key_load)__atomic_load_n(&k->load, __ATOMIC_ACQUIRE);
}

/* keys_load_set - publish a key's load state */
void
keys_load_set(struct key *k, enum key_load l)
{
	__atomic_store_n(&k->load, (int)l, __ATOMIC_RELEASE);
}

/* keys_share - one parsed key for two struct keys (a key not read yet stays so: src is stable under the key loader's lock) */
void
keys_share(struct key *dst, const struct key *src)
{
	dst->load = src->load == KEY_LOAD_PENDING ? KEY_LOAD_PENDING
	    : KEY_LOAD_DONE;
	if (src->pkey != NULL)	/* NULL: a parse without keys (the key reader's) */
		EVP_PKEY_up_ref(src->pkey);
	EVP_PKEY_free(dst->pkey);
	dst->pkey = src->pkey;
	dst->type = src->type;
	dst->bits = src->bits;
	dst->ident = src->ident;
	dst->has_ident = src->has_ident;
}

/* keys_type_name - "rsa" or "ed25519" */
const char *
keys_type_name(enum key_type t)
{
	return t == KEY_ED25519 ? "ed25519" : "rsa";
}

/* keys_b64 - base64 of a byte string, malloc'd */
static char *
keys_b64(const unsigned char *p, size_t n)
{
	char *out = xmalloc(4 * ((n + 2) / 3) + 1);

	EVP_EncodeBlock((unsigned char *)out, p, (int)n);
	return out;
}

/* keys_der_len - a DER length field for len into p; its size */
static size_t
keys_der_len(unsigned char *p, size_t len)
{
	size_t n = 0, i;

	if (len < 0x80) {
		p[0] = (unsigned char)len;
		return 1;
	}
	for (i = len; i > 0; i >>= 8)
		n++;
	p[0] = (unsigned char)(0x80 | n);
	for (i = 0; i < n; i++)
		p[1 + i] = (unsigned char)(len >> (8 * (n - 1 - i)));
	return 1 + n;
}

/* keys_der_put - tag, length and contents at the end of out */
static void
keys_der_put(struct buf *out, unsigned char tag, const unsigned char *v,
    size_t len)
{
	unsigned char h[16];
	size_t n;

	h[0] = tag;
	n = 1 + keys_der_len(h + 1, len);
	buf_append(out, h, n);
	buf_append(out, v, len);
}

/* keys_der_integer - a non-negative DER INTEGER of a big-endian magnitude at the end of out */
static void
keys_der_integer(struct buf *out, const unsigned char *v, size_t len)
{
	struct buf t = BUF_INIT;

	while (len > 1 && v[0] == 0) {	/* minimal: no leading zero octets */
		v++;
		len--;
	}
	if (len == 0 || (v[0] & 0x80))
		buf_putc(&t, 0);	/* non-negative */
	buf_append(&t, v, len);
	keys_der_put(out, 0x02, (const unsigned char *)t.data, t.len);
	buf_free(&t);
}

/*
 * keys_rsa_spki - the DER SubjectPublicKeyInfo of an RSA key, made here:
 * OpenSSL 3's i2d_PUBKEY looks its encoder up among the providers' on
 * every call (about 200 us: the key check of 100,000 keys spent most of
 * its CPU there); 0 or -1 (then i2d_PUBKEY is asked)
 */
static int
keys_rsa_spki(EVP_PKEY *pkey, struct buf *out)
{
	static const unsigned char alg[] = {	/* rsaEncryption, NULL params */
		0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d,
		0x01, 0x01, 0x01, 0x05, 0x00,
	};
	BIGNUM *n = NULL, *e = NULL;
	struct buf ints = BUF_INIT, rsapub = BUF_INIT, bits = BUF_INIT,
	    body = BUF_INIT;
	unsigned char *mag = NULL;
	int rc = -1, len;

	if (EVP_PKEY_get_bn_param(pkey, "n", &n) != 1
	    || EVP_PKEY_get_bn_param(pkey, "e", &e) != 1)
		goto out;
	len = BN_num_bytes(n) > BN_num_bytes(e) ? BN_num_bytes(n)
	    : BN_num_bytes(e);
	mag = xmalloc((size_t)len + 1);
	keys_der_integer(&ints, mag, (size_t)BN_bn2bin(n, mag));
	keys_der_integer(&ints, mag, (size_t)BN_bn2bin(e, mag));
	keys_der_put(&rsapub, 0x30, (const unsigned char *)ints.data, ints.len);
	buf_putc(&bits, 0);		/* no unused bits */
	buf_append(&bits, rsapub.data, rsapub.len);
	buf_append(&body, alg, sizeof(alg));
	keys_der_put(&body, 0x03, (const unsigned char *)bits.data, bits.len);
	buf_reset(out);
	keys_der_put(out, 0x30, (const unsigned char *)body.data, body.len);
	rc = 0;
out:
	BN_free(n);
	BN_free(e);
	free(mag);
	buf_free(&ints);
	buf_free(&rsapub);
	buf_free(&bits);
	buf_free(&body);
	return rc;
}

/* keys_spki - a key's DER SubjectPublicKeyInfo into out; 0 or -1 */
int
keys_spki(EVP_PKEY *pkey, struct buf *out)
{
	static const unsigned char ed_prefix[] = {	/* RFC 8410 */
		0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03,
		0x21, 0x00,
	};
	unsigned char raw[64], *der = NULL;
	size_t rawlen = sizeof(raw);
	int n;

	buf_reset(out);
	if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_ED25519) {
		if (EVP_PKEY_get_raw_public_key(pkey, raw, &rawlen) != 1
		    || rawlen != 32)
			return -1;
		buf_append(out, ed_prefix, sizeof(ed_prefix));
		buf_append(out, raw, rawlen);
		return 0;
	}
	if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_RSA
	    && keys_rsa_spki(pkey, out) == 0)
		return 0;
	n = i2d_PUBKEY(pkey, &der);
	if (n <= 0)
		return -1;
	buf_append(out, der, (size_t)n);
	OPENSSL_free(der);
	return 0;
}

/* keys_public_b64 - the p= value for a key's DNS record */
char *
keys_public_b64(EVP_PKEY *pkey)
{
	unsigned char raw[64];
	size_t rawlen = sizeof(raw);
	struct buf der = BUF_INIT;
	char *out = NULL;

	if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_ED25519) {
		if (EVP_PKEY_get_raw_public_key(pkey, raw, &rawlen) != 1)
			return NULL;
		return keys_b64(raw, rawlen);
	}
	if (keys_spki(pkey, &der) == 0)
		out = keys_b64((const unsigned char *)der.data, der.len);
	buf_free(&der);
	return out;
}


static const char *const keys_pub_names[] = {
	"unchecked", "published", "missing", "truncated", "mismatched",
	"revoked", "unknown",
};

/* keys_pub_name - name of a publication state */
const char *
keys_pub_name(enum key_pub p)
{
	return (unsigned)p < sizeof(keys_pub_names) / sizeof(keys_pub_names[0]) ?
	    keys_pub_names[p] : "?";
}

/* keys_pub_get - the publication state */
enum key_pub
keys_pub_get(const struct key *k)
{
	return (enum key_pub)__atomic_load_n(&k->pub, __ATOMIC_RELAXED);
}

/* keys_pub_set - record a check result; UNKNOWN keeps a definite state */
void
keys_pub_set(struct key *k, enum key_pub p)
{
	if (p == KEY_PUB_UNKNOWN && keys_pub_get(k) != KEY_PUB_UNCHECKED)
		return;
	__atomic_store_n(&k->pub, (int)p, __ATOMIC_RELAXED);
}

/* keys_in_window - is now within the key's not_before/not_after? */
static int
keys_in_window(const struct key *k, time_t now)
{
	return (k->not_before == 0 || now >= k->not_before)
	    && (k->not_after == 0 || now < k->not_after);
}

/* keys_pub_usable - published, unchecked or unknown */
int
keys_pub_usable(enum key_pub p)
{
	return p == KEY_PUB_PUBLISHED || p == KEY_PUB_UNCHECKED
	    || p == KEY_PUB_UNKNOWN;
}

/* keys_pub_bad - truncated, mismatched or revoked */
int
keys_pub_bad(enum key_pub p)
{
	return p == KEY_PUB_TRUNCATED || p == KEY_PUB_MISMATCHED
	    || p == KEY_PUB_REVOKED;
}

/* keys_skipped - append "selector S skipped: record STATE" to why */
static void
keys_skipped(char *why, size_t whylen, size_t *used, const struct key *k,
    enum key_pub p)
{
	int w;

	if (why == NULL || *used >= whylen)
		return;
	w = snprintf(why + *used, whylen - *used, "%sselector %s skipped: "
	    "record %s", *used ? "; " : "", k->selector, keys_pub_name(p));
	if (w > 0)
		*used += (size_t)w < whylen - *used ? (size_t)w : whylen - *used - 1;
}

/* keys_select - the key to sign with */
const struct key *
keys_select(const struct key *keys, size_t n, enum key_type t, time_t now,
    int unpublished_sign, char *why, size_t whylen)
{
	const struct key *missing = NULL, *bad = NULL;
	size_t i, used = 0;
	enum key_pub p;

	if (why != NULL && whylen > 0)
		why[0] = '\0';
	for (i = 0; i < n; i++) {
		if (keys_load_get(&keys[i]) != KEY_LOAD_DONE
		    || keys[i].type != t || keys[i].pkey == NULL
		    || !keys_in_window(&keys[i], now))
			continue;
		p = keys_pub_get(&keys[i]);
		if (keys_pub_usable(p))
			return &keys[i];
		if (keys_pub_bad(p) && bad == NULL)
			bad = &keys[i];
		else if (!keys_pub_bad(p) && missing == NULL)
			missing = &keys[i];
		keys_skipped(why, whylen, &used, &keys[i], p);
	}
	if (!unpublished_sign)
		return NULL;
	/* a missing record may be on its way; a wrong one never verifies */
	return missing != NULL ? missing : bad;
}

/* keys_phase - where a key stands in its window */
enum key_phase
keys_phase(const struct key *k, time_t now, long lead)
{
	if (k->not_before != 0 && now < k->not_before)
		return KEY_PHASE_PENDING;
	if (k->not_after != 0 && now >= k->not_after)
		return KEY_PHASE_EXPIRED;
	if (k->not_after != 0 && lead > 0 && k->not_after - now <= lead)
		return KEY_PHASE_EXPIRING;
	return KEY_PHASE_ACTIVE;
}

/* keys_date - a time as the conf writes dates (UTC) */
static void
keys_date(time_t t, char *out, size_t len)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL
	    || strftime(out, len, "%Y-%m-%dT%H:%MZ", &tm) == 0)
		(void)snprintf(out, len, "%lld", (long long)t);
}

/* keys_phase_log - log a key's phase change once */
enum key_phase
keys_phase_log(struct key *k, const char *domain, time_t now, long lead,
    const char *qid)
{
	enum key_phase ph = keys_phase(k, now, lead);
	int was = __atomic_load_n(&k->phase, __ATOMIC_RELAXED);
	long long left;
	char date[32];

	/* one thread wins the exchange, so each change is logged once */
	if (was == (int)ph || !__atomic_compare_exchange_n(&k->phase, &was,
	    (int)ph, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		return ph;
	keys_date(ph == KEY_PHASE_PENDING ? k->not_before : k->not_after, date,
	    sizeof(date));
	if (ph == KEY_PHASE_EXPIRING) {
		left = (long long)(k->not_after - now);
		log_warn(qid, "key %s of %s expires at %s (in %lld %s): publish "
		    "and list its successor", k->selector, domain, date,
		    left >= 2 * 86400 ? left / 86400 : (left + 3599) / 3600,
		    left >= 2 * 86400 ? "days" : "hours");
	}
	else if (was == KEY_PHASE_UNSEEN)
		;	/* a snapshot's first look: only an expiry ahead is news */
	else if (ph == KEY_PHASE_ACTIVE && was == KEY_PHASE_PENDING)
		log_notice(qid, "key %s of %s: scheduled key now in use "
		    "(not_before reached)", k->selector, domain);
	else if (ph == KEY_PHASE_EXPIRED)
		log_notice(qid, "key %s of %s expired at %s: no longer used",
		    k->selector, domain, date);
	return ph;
}

/* keys_parse_time - ISO date or date-time, UTC */
time_t
keys_parse_time(const char *s)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%d", &tm);
	if (end == NULL)
		return -1;
	if (*end == 'T' || *end == ' ') {
		const char *e2 = strptime(end + 1, "%H:%M", &tm);

		if (e2 == NULL)
			return -1;
		end = e2;
		if (*end == ':' && (end = strptime(end + 1, "%S", &tm)) == NULL)
			return -1;
		if (*end == 'Z')
			end++;
	}
	if (*end != '\0' || tm.tm_year < 70)
		return -1;
	return timegm(&tm);
}
