/*
 * keygen.c - DKIM key generation and DNS record formatting.
 *
 * The library half of authmilter-keygen: choosing the key size against
 * the DNS host's TXT string limit, generating the key (OpenSSL 3 EVP),
 * formatting the record as a zone-file line and as one string, and
 * saving the files without ever overwriting or following a symlink.
 * No static state; every result is malloc'd or appended to a caller's buf.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "tools/keygen.h"
#include "auth/keys.h"
#include "base/sslerr.h"
#include "base/buf.h"
#include "base/log.h"
#include "base/xalloc.h"

#define KEYGEN_DOMAINKEY	"._domainkey."

/*
 * Length of the base64 DER SubjectPublicKeyInfo of an RSA key with
 * e=65537: fixed by the modulus size. test_keygen checks these numbers
 * against real keys.
 */
static const struct keygen_rsa_size {
	int bits;		/* modulus size */
	size_t p_len;		/* octets of the p= value */
} keygen_rsa_sizes[] = {
	{ 1024, 216 },
	{ 2048, 392 },
	{ 3072, 564 },
	{ 4096, 736 },
};

#define KEYGEN_ED25519_P_LEN	44	/* base64 of the raw 32-octet key */

/* keygen_ldh - is c an ASCII letter, digit or hyphen? */
static int
keygen_ldh(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
	    || (c >= '0' && c <= '9') || c == '-';
}

/* keygen_valid_name - is s a dotted name of LDH labels? */
int
keygen_valid_name(const char *s)
{
	size_t label = 0, total = 0;
	const char *p;

	if (s == NULL || *s == '\0')
		return 0;
	for (p = s; *p != '\0'; p++) {
		if (++total > 253)
			return 0;
		if (*p == '.') {
			if (label == 0 || p[-1] == '-')
				return 0;
			label = 0;
		} else if (keygen_ldh((unsigned char)*p)) {
			if (label == 0 && *p == '-')
				return 0;
			if (++label > 63)
				return 0;
		} else {
			return 0;
		}
	}
	return label > 0 && p[-1] != '-';
}

/* keygen_check_names - validate selector, domain and the record name */
int
keygen_check_names(const char *selector, const char *domain, char *err,
    size_t errlen)
{
	static const char rule[] = "letters, digits and hyphens in dot-separated "
	    "labels of at most 63, no hyphen at either end of a label";
	size_t total;

	if (!keygen_valid_name(selector))
		return log_fail(err, errlen, "invalid selector \"%s\": "
		    "use %s", selector, rule);
	if (!keygen_valid_name(domain))
		return log_fail(err, errlen, "invalid domain \"%s\": "
		    "use %s, 253 at most in all, no trailing dot", domain, rule);
	total = strlen(selector) + strlen(KEYGEN_DOMAINKEY) + strlen(domain);
	if (total > 253)
		return log_fail(err, errlen, "%s%s%s is %zu octets long; "
		    "a DNS name holds at most 253", selector, KEYGEN_DOMAINKEY,
		    domain, total);
	return 0;
}

/* keygen_bits_allowed - is bits an RSA size we generate? */
int
keygen_bits_allowed(int bits)
{
	size_t i;

	for (i = 0; i < sizeof(keygen_rsa_sizes) / sizeof(keygen_rsa_sizes[0]);
	    i++)
		if (keygen_rsa_sizes[i].bits == bits)
			return 1;
	return 0;
}

/* keygen_tags - the record value up to and including "p=" */
static const char *
keygen_tags(enum key_type type)
{
	return type == KEY_ED25519 ? "v=DKIM1; k=ed25519; p="
	    : "v=DKIM1; k=rsa; p=";
}

/* keygen_record_length - octets of the record value for type and bits */
size_t
keygen_record_length(enum key_type type, int bits)
{
	size_t i;

	if (type == KEY_ED25519)
		return strlen(keygen_tags(type)) + KEYGEN_ED25519_P_LEN;
	for (i = 0; i < sizeof(keygen_rsa_sizes) / sizeof(keygen_rsa_sizes[0]);
	    i++)
		if (keygen_rsa_sizes[i].bits == bits)
			return strlen(keygen_tags(type)) + keygen_rsa_sizes[i].p_len;
	return 0;
}

/* keygen_too_long - explain why an explicit RSA size cannot be used */
static int
keygen_too_long(int bits, size_t need, size_t txt_max, char *msg,
    size_t msglen)
{
	size_t small = keygen_record_length(KEY_RSA, KEYGEN_FALLBACK_BITS);

	if (bits > KEYGEN_FALLBACK_BITS && small <= txt_max)
		return log_fail(msg, msglen, "your DNS host accepts TXT "
		    "strings of at most %zu octets; a %d-bit record needs %zu; "
		    "use -b %d (%zu octets) or a DNS host that accepts longer "
		    "TXT records", txt_max, bits, need, KEYGEN_FALLBACK_BITS,
		    small);
	return log_fail(msg, msglen, "your DNS host accepts TXT strings of "
	    "at most %zu octets; even a %d-bit RSA record needs %zu; use a DNS "
	    "host that accepts longer or multi-string TXT records",
	    txt_max, KEYGEN_FALLBACK_BITS, small);
}

/* keygen_choose - decide type and size from -t, -b and --txt-max */
int
keygen_choose(enum key_type type, int bits, size_t txt_max,
    struct keygen_choice *c, char *msg, size_t msglen)
{
	size_t need;

	memset(c, 0, sizeof(*c));
	c->type = type;
	if (msglen > 0)
		msg[0] = '\0';
	if (txt_max != 0 && (txt_max < KEYGEN_TXT_MAX_MIN
	    || txt_max > KEYGEN_TXT_MAX_MAX))
		return log_fail(msg, msglen, "--txt-max %zu: must be between "
		    "%d and %d", txt_max, KEYGEN_TXT_MAX_MIN, KEYGEN_TXT_MAX_MAX);
	if (type == KEY_ED25519) {
		if (bits != 0)
			return log_fail(msg, msglen, "-b %d: Ed25519 keys have "
			    "a fixed size; -b applies to RSA keys only", bits);
		c->bits = 256;		/* 66 octets: fits any allowed txt_max */
		return 0;
	}
	if (bits != 0 && !keygen_bits_allowed(bits))
		return log_fail(msg, msglen, "-b %d: RSA keys can have 1024, "
		    "2048, 3072 or 4096 bits", bits);
	c->bits = bits != 0 ? bits : KEYGEN_DEFAULT_BITS;
	need = keygen_record_length(type, c->bits);
	if (txt_max == 0 || need <= txt_max)
		return 0;
	if (bits != 0 || keygen_record_length(type, KEYGEN_FALLBACK_BITS)
	    > txt_max)
		return keygen_too_long(c->bits, need, txt_max, msg, msglen);
	c->bits = KEYGEN_FALLBACK_BITS;
	c->fell_back = 1;
	(void)log_fail(msg, msglen, "your DNS host accepts TXT strings of at "
	    "most %zu octets; a %d-bit record needs %zu; generated a %d-bit key "
	    "instead", txt_max, KEYGEN_DEFAULT_BITS, need, KEYGEN_FALLBACK_BITS);
	return 0;
}

/* keygen_generate - a new key per c (OpenSSL 3 EVP) */
EVP_PKEY *
keygen_generate(const struct keygen_choice *c, char *err, size_t errlen)
{
	EVP_PKEY *pkey;
	char ebuf[256];

	if (c->type == KEY_ED25519) {
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	} else if (keygen_bits_allowed(c->bits)) {
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)c->bits);
	} else {
		(void)log_fail(err, errlen, "%d-bit RSA keys are not supported",
		    c->bits);
		return NULL;
	}
	if (pkey == NULL) {
		(void)log_fail(err, errlen, "key generation failed: %s",
		    sslerr_take("unknown error", ebuf, sizeof(ebuf)));
	}
	return pkey;
}

/* keygen_private_pem - the private key as PKCS#8 PEM text */
char *
keygen_private_pem(EVP_PKEY *pkey)
{
	BIO *bio;
	char *data, *out = NULL;
	long len;

	/* The secure-memory BIO clears its buffer when freed. */
	if ((bio = BIO_new(BIO_s_secmem())) == NULL)
		return NULL;
	if (PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL) == 1
	    && (len = BIO_get_mem_data(bio, &data)) > 0) {
		out = xmalloc((size_t)len + 1);
		memcpy(out, data, (size_t)len);
		out[len] = '\0';
	}
	BIO_free(bio);
	ERR_clear_error();
	return out;
}

/* keygen_record_value - "v=DKIM1; k=...; p=..." for the key */
char *
keygen_record_value(EVP_PKEY *pkey)
{
	struct buf b = BUF_INIT;
	enum key_type type;
	char *p;

	switch (EVP_PKEY_get_base_id(pkey)) {
	case EVP_PKEY_RSA:
		type = KEY_RSA;
		break;
	case EVP_PKEY_ED25519:
		type = KEY_ED25519;
		break;
	default:
		return NULL;
	}
	if ((p = keys_public_b64(pkey)) == NULL)
		return NULL;
	buf_puts(&b, keygen_tags(type));
	buf_puts(&b, p);
	free(p);
	return buf_steal(&b);
}

/* keygen_put_octet - one octet of a zone-file character-string */
static void
keygen_put_octet(struct buf *out, unsigned char c)
{
	if (c == '"' || c == '\\')
		buf_printf(out, "\\%c", c);
	else if (c < 0x20 || c > 0x7e)
		buf_printf(out, "\\%03u", (unsigned)c);
	else
		buf_putc(out, c);
}

/* keygen_put_strings - s[0..len) as quoted strings of at most maxstr */
static void
keygen_put_strings(struct buf *out, const char *s, size_t len,
    size_t maxstr, int *first)
{
	size_t n, i;

	while (len > 0) {
		n = len < maxstr ? len : maxstr;
		buf_puts(out, *first ? "\"" : "\n\t\"");
		*first = 0;
		for (i = 0; i < n; i++)
			keygen_put_octet(out, (unsigned char)s[i]);
		buf_putc(out, '"');
		s += n;
		len -= n;
	}
}

/* keygen_zone_record - the record value at name as a multi-string zone-file line */
void
keygen_zone_record(const char *name, const char *value, size_t maxstr,
    struct buf *out)
{
	const char *p = strstr(value, "; p=");
	size_t len = strlen(value), head;
	int first = 1;

	if (maxstr == 0 || maxstr > KEYGEN_TXT_STRING_MAX)
		maxstr = KEYGEN_TXT_STRING_MAX;
	/* The tags get a string of their own so p= starts on its own line. */
	head = p != NULL ? (size_t)(p - value) + 2 : 0;
	buf_printf(out, "%s.\tIN\tTXT\t( ", name);
	if (len == 0)
		buf_puts(out, "\"\"");
	keygen_put_strings(out, value, head, maxstr, &first);
	keygen_put_strings(out, value + head, len - head, maxstr, &first);
	buf_puts(out, " )\n");
}

/* keygen_zone_line - the record at SELECTOR._domainkey.DOMAIN as a zone-file line */
void
keygen_zone_line(const char *selector, const char *domain,
    const char *value, size_t maxstr, struct buf *out)
{
	struct buf name = BUF_INIT;

	buf_printf(&name, "%s%s%s", selector, KEYGEN_DOMAINKEY, domain);
	keygen_zone_record(buf_cstr(&name), value, maxstr, out);
	buf_free(&name);
}

/* keygen_cname_target - SELECTOR.DOMAIN.ZONE, the name a delegated key record lives at */
int
keygen_cname_target(const char *selector, const char *domain,
    const char *zone, struct buf *out, char *err, size_t errlen)
{
	size_t z = strlen(zone);

	if (z > 0 && zone[z - 1] == '.')
		z--;
	buf_reset(out);
	buf_printf(out, "%s.%s.%.*s", selector, domain, (int)z, zone);
	if (z == 0 || !keygen_valid_name(buf_cstr(out)))
		return log_fail(err, errlen, "--cname-target %s: %s.%s.%s is not "
		    "a valid DNS name of at most 253 octets", zone, selector,
		    domain, zone);
	return 0;
}

/* keygen_cname_line - the zone-file CNAME delegating SELECTOR._domainkey.DOMAIN to target */
void
keygen_cname_line(const char *selector, const char *domain,
    const char *target, struct buf *out)
{
	buf_printf(out, "%s%s%s.\tIN\tCNAME\t%s.\n", selector, KEYGEN_DOMAINKEY,
	    domain, target);
}

/* keygen_make_dir - create dir and its missing parents (mode 0700); 0, or -1 with err */
int
keygen_make_dir(const char *dir, char *err, size_t errlen)
{
	struct stat st;
	char *copy, *p;
	int rc = 0;

	if (dir[0] == '\0')
		return log_fail(err, errlen, "key directory: empty name");
	copy = xstrdup(dir);
	for (p = copy + 1; rc == 0; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		{
			char c = *p;

			*p = '\0';
			if (mkdir(copy, 0700) < 0 && errno != EEXIST)
				rc = log_fail(err, errlen, "cannot create key directory "
				    "%s: %m", copy);
			else if (stat(copy, &st) < 0 || !S_ISDIR(st.st_mode))
				rc = log_fail(err, errlen, "key directory %s: not a "
				    "directory", copy);
			*p = c;
			if (c == '\0')
				break;
		}
	}
	free(copy);
	return rc;
}

/* keygen_open_new - create path for writing; never an existing file */
static int
keygen_open_new(const char *path, mode_t mode, char *err, size_t errlen)
{
	int fd;

	/* O_EXCL fails on any existing name, symlinks (even dangling) too. */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    mode);
	if (fd >= 0)
		return fd;
	if (errno == EEXIST)
		return log_fail(err, errlen, "%s already exists; refusing to "
		    "overwrite it (choose a new selector, or remove the file "
		    "yourself)", path);
	return log_fail(err, errlen, "cannot create %s: %m", path);
}

/* keygen_fill - write text to fd, flush it to disk and close fd */
static int
keygen_fill(int fd, const char *text, const char *path, char *err,
    size_t errlen)
{
	size_t len = strlen(text);
	ssize_t n;

	while (len > 0) {
		n = write(fd, text, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			(void)log_fail(err, errlen, "cannot write %s: %m", path);
			(void)close(fd);
			return -1;
		}
		text += n;
		len -= (size_t)n;
	}
	if (fsync(fd) < 0) {
		(void)log_fail(err, errlen, "cannot write %s: %m", path);
		(void)close(fd);
		return -1;
	}
	if (close(fd) < 0)
		return log_fail(err, errlen, "cannot write %s: %m", path);
	return 0;
}

/* keygen_path - DIR/SELECTOR.SUFFIX into b, without a doubled slash */
static void
keygen_path(struct buf *b, const char *dir, const char *selector,
    const char *suffix)
{
	size_t n = strlen(dir);

	buf_reset(b);
	buf_puts(b, dir);
	if (n == 0 || dir[n - 1] != '/')
		buf_putc(b, '/');
	buf_printf(b, "%s%s", selector, suffix);
}

/* keygen_save - create the key and record files, both or neither */
int
keygen_save(const char *dir, const char *selector, const char *pem,
    const char *zone, struct buf *keypath, char *err, size_t errlen)
{
	struct buf txtpath = BUF_INIT;
	int kfd, tfd, rc = -1;

	keygen_path(keypath, dir, selector, ".pem");
	keygen_path(&txtpath, dir, selector, ".txt");
	if ((kfd = keygen_open_new(buf_cstr(keypath), 0600, err, errlen)) < 0)
		goto out;
	if ((tfd = keygen_open_new(buf_cstr(&txtpath), 0644, err, errlen)) < 0) {
		(void)close(kfd);
		(void)unlink(buf_cstr(keypath));
		goto out;
	}
	/* open() honours the umask; the key must be exactly 0600 anyway. */
	if (fchmod(kfd, 0600) < 0) {
		(void)log_fail(err, errlen, "cannot chmod %s: %m",
		    buf_cstr(keypath));
		(void)close(kfd);
	} else if (keygen_fill(kfd, pem, buf_cstr(keypath), err, errlen) == 0) {
		rc = keygen_fill(tfd, zone, buf_cstr(&txtpath), err, errlen);
		tfd = -1;			/* keygen_fill closed it */
	}
	if (tfd >= 0)
		(void)close(tfd);
	if (rc < 0) {
		(void)unlink(buf_cstr(keypath));
		(void)unlink(buf_cstr(&txtpath));
	}
out:
	buf_free(&txtpath);
	return rc;
}

/* keygen_resolve_dir - the absolute path of the key directory */
int
keygen_resolve_dir(const char *dir, struct buf *abs, char *err,
    size_t errlen)
{
	struct stat st;
	char *rp;
	const char *p;
	int rc = 0;

	if ((rp = realpath(dir, NULL)) == NULL)
		return log_fail(err, errlen, "key directory %s: %m", dir);
	if (stat(rp, &st) < 0 || !S_ISDIR(st.st_mode))
		rc = log_fail(err, errlen, "key directory %s: not a directory",
		    dir);
	/* The conf line "key = SELECTOR PATH" cannot hold white space. */
	for (p = rp; rc == 0 && *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			rc = log_fail(err, errlen, "key directory %s: "
			    "authmilter.conf cannot name a path containing white "
			    "space or control characters", rp);
	if (rc == 0) {
		buf_reset(abs);
		buf_puts(abs, rp);
	}
	free(rp);
	return rc;
}
