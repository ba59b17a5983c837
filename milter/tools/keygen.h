/*
 * keygen.h - DKIM key generation and DNS record formatting for
 * authmilter-keygen.
 *
 * Everything here but keygen_generate and keygen_save is pure: names in,
 * text out. Results are malloc'd or appended to a caller's buf; there is
 * no static state, so the functions may be called from any thread.
 */
#ifndef AUTHMILTER_KEYGEN_H
#define AUTHMILTER_KEYGEN_H

#include <stddef.h>
#include <openssl/evp.h>

#include "base/buf.h"
#include "auth/keys.h"

#define KEYGEN_DEFAULT_BITS	2048	/* RSA size when -b is not given */
#define KEYGEN_FALLBACK_BITS	1024	/* what a short --txt-max lowers it to */
#define KEYGEN_TXT_STRING_MAX	255	/* RFC 1035 character-string limit */
#define KEYGEN_TXT_MAX_MIN	128	/* smallest --txt-max accepted */
#define KEYGEN_TXT_MAX_MAX	65535	/* largest --txt-max accepted */

/* What to generate, as decided by keygen_choose. */
struct keygen_choice {
	enum key_type type;	/* RSA or Ed25519 */
	int bits;		/* RSA modulus size; 256 for Ed25519 */
	int fell_back;		/* 1: default 2048 lowered to fit txt_max */
};

/*
 * keygen_valid_name - is s a DNS name usable in a zone file: labels of
 * letters, digits and hyphens (no leading or trailing hyphen), 1..63
 * octets each, separated by single dots, no leading or trailing dot,
 * 253 octets at most? Returns 1 or 0.
 */
int keygen_valid_name(const char *s);
/*
 * keygen_check_names - validate a selector and a domain, and the length of
 * SELECTOR._domainkey.DOMAIN. Returns 0, or -1 with err naming the problem.
 */
int keygen_check_names(const char *selector, const char *domain, char *err,
    size_t errlen);
/* keygen_bits_allowed - is bits an RSA size we generate (1024..4096)? */
int keygen_bits_allowed(int bits);
/*
 * keygen_record_length - octets of the record value "v=DKIM1; k=...; p=..."
 * for a key of this type and size (RSA with e=65537); 0 when unknown.
 */
size_t keygen_record_length(enum key_type type, int bits);
/*
 * keygen_choose - decide the key to generate from the -t type, the -b bits
 * (0: not given) and the longest TXT string the DNS host accepts (0: no
 * limit). A default RSA request whose record would not fit txt_max falls
 * back to 1024 bits and msg explains why; an explicit size that does not
 * fit is refused. Returns 0 (msg set only when c->fell_back), or -1 with
 * msg holding the error.
 */
int keygen_choose(enum key_type type, int bits, size_t txt_max,
    struct keygen_choice *c, char *msg, size_t msglen);
/* keygen_generate - a new key per c. Returns it, or NULL with err set. */
EVP_PKEY *keygen_generate(const struct keygen_choice *c, char *err,
    size_t errlen);
/* keygen_private_pem - the private key as PKCS#8 PEM text; malloc'd or NULL */
char *keygen_private_pem(EVP_PKEY *pkey);
/*
 * keygen_record_value - the TXT record value "v=DKIM1; k=rsa; p=..." as one
 * string, for DNS web forms; malloc'd, or NULL on an OpenSSL failure.
 */
char *keygen_record_value(EVP_PKEY *pkey);
/*
 * keygen_zone_line - append to out the zone-file record
 * SELECTOR._domainkey.DOMAIN. IN TXT ( "v=DKIM1; k=rsa; " "p=..." ... )
 * with value split into quoted character-strings of at most maxstr octets
 * (clamped to 1..255), one per line, '"' and '\' escaped. Ends in newline.
 */
void keygen_zone_line(const char *selector, const char *domain,
    const char *value, size_t maxstr, struct buf *out);
/* keygen_zone_record - keygen_zone_line's record at any owner name (no trailing dot) */
void keygen_zone_record(const char *name, const char *value, size_t maxstr,
    struct buf *out);
/*
 * keygen_cname_target - the name a platform-hosted key record lives at,
 * SELECTOR.DOMAIN.ZONE (one trailing dot of zone ignored), into out
 * (replaced). Returns 0, or -1 with err when it is no valid name or
 * longer than 253 octets. Pure.
 */
int keygen_cname_target(const char *selector, const char *domain,
    const char *zone, struct buf *out, char *err, size_t errlen);
/*
 * keygen_cname_line - append the zone-file line delegating
 * SELECTOR._domainkey.DOMAIN. to target: "... IN CNAME TARGET." Pure.
 */
void keygen_cname_line(const char *selector, const char *domain,
    const char *target, struct buf *out);
/*
 * keygen_make_dir - create the directory dir and its missing parents,
 * each with mode 0700 (an existing one is left as it is). Returns 0, or
 * -1 with err set (a component that is not a directory, a permission).
 */
int keygen_make_dir(const char *dir, char *err, size_t errlen);
/*
 * keygen_resolve_dir - put the absolute, symlink-free path of the key
 * directory dir into abs. Refuses a missing directory and a path that the
 * conf line "key = SELECTOR PATH" could not hold (white space, control
 * characters). Returns 0, or -1 with err set.
 */
int keygen_resolve_dir(const char *dir, struct buf *abs, char *err,
    size_t errlen);
/*
 * keygen_save - create DIR/SELECTOR.pem (mode 0600) holding pem and
 * DIR/SELECTOR.txt holding zone. Never overwrites and never follows a
 * symbolic link: if either file exists, neither is written. On success
 * sets keypath to the absolute path of the key file and returns 0;
 * otherwise returns -1 with err set.
 */
int keygen_save(const char *dir, const char *selector, const char *pem,
    const char *zone, struct buf *keypath, char *err, size_t errlen);

#endif
