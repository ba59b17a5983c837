/*
 * bounce.h - custom bounce domain addresses: encode an envelope sender into
 * a signed local part of the bounce domain, and verify and decode it back.
 *
 * Pure module: no MTA session (mta_*) calls, no logging, no clock (callers pass `now`).
 * A loaded secret set is read-only and may be shared by any number of
 * threads; encode and decode are reentrant. Results go into caller-owned
 * bufs; statuses are an enum that the caller turns into SMTP replies.
 *
 * Address format, version 1 (the whole local part is lowercase ASCII):
 *
 *	ab1=DDMMMMMMMM=LOCAL=DOMAIN@BOUNCE-DOMAIN
 *
 *	ab1=	prefix and format version ("ab": authmilter bounce). Any local
 *		part that does not start with "ab", digits and "=" is not ours.
 *	DD	the day the address was made, days since 1970-01-01 UTC modulo
 *		1024, in two characters of lowercase base32 (RFC 4648 alphabet
 *		a-z2-7), most significant first.
 *	MMMMMMMM the first 40 bits of HMAC-SHA256(secret, message), lowercase
 *		base32, where message is the string "authmilter bounce v1",
 *		then the full day number as 8 octets (big-endian, signed), then
 *		the lowercased bounce domain and the original sender (as
 *		returned by bounce_decode), each preceded by its length in 2
 *		octets (big-endian).
 *	LOCAL	the original local part exactly as it was given (quotes and
 *		backslashes of a quoted string kept, case and UTF-8 kept),
 *		escaped: a-z, 0-9, '-', '+', '=' and '.' stand for themselves;
 *		every other octet (upper case letters, '_', quotes, spaces,
 *		UTF-8, ...) is written '_' and two lowercase hex digits; a '.'
 *		after a '.' is escaped too.
 *	DOMAIN	the original domain, lowercased (ASCII letters only), trailing
 *		dots removed, escaped the same way except that '=' is escaped
 *		as well; a '.' at the very end is escaped.
 *
 * Example: no-reply@platform.example, made on 2026-03-01 (day 20513,
 * 33 modulo 1024: "bb") for the bounce domain bounce.customer.example,
 * with the 32-octet secret "0123456789abcdef0123456789abcdef", becomes
 *	ab1=bbgibotsr4=no-reply=platform.example@bounce.customer.example
 * and "john doe"@x.example becomes
 *	ab1=bbj3wxcuen=_22john_20doe_22=x.example@bounce.customer.example Only letters, digits, '=', '-', '+',
 * '_' and single dots appear, never at either end, so the local part is a
 * dot-atom that needs no quoting, survives lowercasing (and uppercasing),
 * and reads much like the original. Parsing splits LOCAL from DOMAIN at
 * the last '='. Exactly one spelling decodes: anything that is not what
 * the encoder would write (a needless escape, upper case hex once folded,
 * ...) is BOUNCE_MALFORMED, so no character can be changed unnoticed.
 *
 * Length: a local part may hold 64 octets (RFC 5321). The fixed part takes
 * 16, leaving 48 for the escaped local part and domain of the original:
 * an all-lowercase no-reply@platform.example (24 octets without the '@')
 * fits; each escaped octet costs 3. An original that does not fit is not
 * rewritten: bounce_encode returns BOUNCE_TOO_LONG and the message keeps
 * its envelope sender (no state is ever stored).
 *
 * Age: DD is interpreted as the most recent day on or before tomorrow (UTC,
 * as seen by `now`) with that value modulo 1024: one day of clock skew
 * between the encoding and the decoding host is tolerated. The MAC covers
 * the full day number, so an address does not come back to life when the
 * 1024-day counter wraps: a genuine address made more than a day in the
 * future, or 1023 to 2046 days ago, is BOUNCE_EXPIRED; older still, it is
 * BOUNCE_BAD_MAC. An address made on day T is valid through day
 * T + ceil(max_age / 86400) (UTC): with the default 30 days, one made on
 * 1 March is accepted until 31 March 23:59:59 UTC.
 *
 * Stored form, version 2, for originals the stateless form cannot hold
 * (BOUNCE_TOO_LONG: VERP senders such as
 * bounces+campaign-12345-rcpt=gmail.com@platform.example):
 *
 *	ab2=DDMMMMMMMMTTTTTTTTTTTTTTTT@BOUNCE-DOMAIN
 *
 *	ab2=	prefix and version: what follows is a token, not the sender.
 *	DD	the day, as in version 1.
 *	MMMMMMMM the first 40 bits of HMAC-SHA256(secret, message), base32,
 *		where message is "authmilter bounce v2", the full day number
 *		as 8 octets (big-endian), then the lowercased bounce domain and
 *		the 16 token characters, each preceded by its length in 2
 *		octets (big-endian).
 *	TTTT...	the token: 80 random bits (the caller's), 16 characters of
 *		lowercase base32. The original sender is kept by the caller
 *		(the history store) under this token.
 *
 * 30 octets in all, whatever the original. A forged or altered address
 * fails the MAC before any store is asked, and the day makes it expire
 * as version 1 does; the store's own entry expires with it. Decoding
 * gives BOUNCE_STORED and the token (struct bounce_info): the caller
 * looks it up (an unknown token is as forged as a bad MAC).
 */
#ifndef AUTHMILTER_BOUNCE_H
#define AUTHMILTER_BOUNCE_H

#include <stddef.h>
#include <time.h>
#include <openssl/evp.h>

#include "base/buf.h"

#define BOUNCE_PREFIX		"ab1="	/* prefix and version of what we write */
#define BOUNCE_LOCAL_MAX	64	/* octets in an SMTP local part (RFC 5321) */
#define BOUNCE_OVERHEAD		16	/* "ab1=" DD MMMMMMMM "=" "=" */
#define BOUNCE_STORED_PREFIX	"ab2="	/* the stored form: a token */
#define BOUNCE_TOKEN_OCTETS	10	/* random octets of a token (80 bits) */
#define BOUNCE_TOKEN_CHARS	16	/* their base32 characters */
#define BOUNCE_STORED_CHARS	30	/* "ab2=" DD MMMMMMMM TOKEN */
#define BOUNCE_SECRET_MIN	16	/* octets of secret at least */
#define BOUNCE_SECRET_MAX	1024	/* octets of secret at most */
/* a secret file: the secret and a final CRLF at most; its name in errors */
#define BOUNCE_SECRET_FILE_MAX	(BOUNCE_SECRET_MAX + 2)
#define BOUNCE_SECRET_WHAT	"bounce secret"
#define BOUNCE_DEFAULT_MAX_AGE	(30L * 86400)	/* seconds */
#define BOUNCE_MAX_AGE_LIMIT	(1000L * 86400)	/* longest accepted max_age */

enum bounce_status {
	BOUNCE_OK,		/* encoded, or genuine and in date */
	BOUNCE_NOT_OURS,	/* decode: no prefix, or another domain */
	BOUNCE_MALFORMED,	/* decode: our prefix, but not our format */
	BOUNCE_BAD_MAC,		/* decode: forged, tampered or unknown secret */
	BOUNCE_EXPIRED,		/* decode: genuine but too old, or future-dated */
	BOUNCE_NULL_SENDER,	/* encode: <> is never rewritten */
	BOUNCE_BAD_SENDER,	/* encode: no '@', an empty part, control octets */
	BOUNCE_LOOP,		/* encode: sender already in the bounce domain */
	BOUNCE_TOO_LONG,	/* encode: would exceed 64 octets; do not rewrite */
	BOUNCE_BAD_DOMAIN,	/* the bounce domain given is not a domain name */
	BOUNCE_INTERNAL,	/* no secret loaded, or OpenSSL failed */
	BOUNCE_UNKNOWN_LOCAL,	/* in a bounce domain, but no address we issue */
	BOUNCE_STORED,		/* decode: genuine stored form; look up info.token */
};

/* One secret: the key bytes and where they came from. */
struct bounce_secret {
	unsigned char *key;	/* secret octets (cleansed when freed) */
	size_t len;		/* BOUNCE_SECRET_MIN..BOUNCE_SECRET_MAX */
	char *name;		/* file it came from, for messages */
};

/* The secrets of one bounce configuration: v[0] signs, all verify. */
struct bounce_secrets {
	struct bounce_secret *v;	/* in order of the configuration */
	size_t n;			/* how many */
	EVP_MAC *mac;			/* HMAC implementation, fetched once */
};

/* What bounce_decode learned besides the original sender. */
struct bounce_info {
	time_t issued;		/* OK, EXPIRED: 00:00 UTC of the day it was made */
	long age_days;		/* OK, EXPIRED: days since then (-1: tomorrow) */
	size_t secret;		/* OK, EXPIRED: index of the secret that verified */
	const char *detail;	/* MALFORMED, NOT_OURS: static reason, else NULL */
	char token[BOUNCE_TOKEN_CHARS + 1];	/* STORED, EXPIRED (stored
					 * form): the token; else "" */
};

/*
 * Where stored-form addresses keep their original sender: the history
 * store, wired by the daemon or a tool (NULL where there is none). The
 * functions may be called from any thread at once.
 */
struct bounce_map {
	/* put - keep token -> original durably (committed when it returns); 0, or -1 with err */
	int (*put)(void *arg, const char *token, const char *bounce_domain,
	    const char *original, time_t created, char *err, size_t errlen);
	/* get - 1 found (original, created set), 0 unknown, -1 with err */
	int (*get)(void *arg, const char *token, const char *bounce_domain,
	    struct buf *original, time_t *created, char *err, size_t errlen);
	/* random - n unpredictable octets (the test seam); 0 or -1 */
	int (*random)(void *arg, unsigned char *out, size_t n);
	void *arg;		/* theirs (borrowed) */
};

/*
 * bounce_local_unquoted - the local part of an envelope address (path
 * brackets and a source route allowed) as the MTA stores and delivers it:
 * a quoted-string unquoted, quoted-pairs resolved. *altered is set when
 * the address spelled it otherwise (quotes or backslashes), which the
 * encoder never writes.
 */
void bounce_local_unquoted(const char *address, struct buf *local,
    int *altered);

/* bounce_secrets_init - make an empty set */
void bounce_secrets_init(struct bounce_secrets *s);
/*
 * bounce_secrets_add - append a secret given as the bytes of a secret
 * file: one trailing "\n" or "\r\n" is removed, the rest (raw random
 * bytes, or a line of hex or base64: the octets are used as they are)
 * must be BOUNCE_SECRET_MIN..BOUNCE_SECRET_MAX octets. name labels it in
 * messages. Returns 0, or -1 with err set. For a privileged reader that
 * hands over file contents.
 */
int bounce_secrets_add(struct bounce_secrets *s, const void *bytes,
    size_t len, const char *name, char *err, size_t errlen);
/* bounce_secrets_free - cleanse and release; the set is empty afterwards */
void bounce_secrets_free(struct bounce_secrets *s);

/*
 * bounce_encode - the bounce address for envelope sender `original`
 * ("user@dom" or "<user@dom>"; a source route is dropped) in bounce_domain,
 * made at `now` and signed with the first secret. On BOUNCE_OK out holds
 * "LOCAL@bounce-domain" (the bounce domain lowercased); otherwise out is
 * empty and the status says why: BOUNCE_NULL_SENDER, BOUNCE_BAD_SENDER,
 * BOUNCE_LOOP, BOUNCE_TOO_LONG, BOUNCE_BAD_DOMAIN, BOUNCE_INTERNAL.
 */
enum bounce_status bounce_encode(const struct bounce_secrets *s,
    const char *original, const char *bounce_domain, time_t now,
    struct buf *out);
/*
 * bounce_encode_stored - the stored-form address of token (BOUNCE_TOKEN_OCTETS
 * random octets) in bounce_domain, made at `now` and signed with the first
 * secret; tokentext gets the token's 16 characters, the store's key. On
 * BOUNCE_OK out holds "ab2=...@bounce-domain"; otherwise BOUNCE_BAD_DOMAIN
 * or BOUNCE_INTERNAL and out is empty.
 */
enum bounce_status bounce_encode_stored(const struct bounce_secrets *s,
    const unsigned char token[BOUNCE_TOKEN_OCTETS], const char *bounce_domain,
    time_t now, struct buf *out, char tokentext[BOUNCE_TOKEN_CHARS + 1]);
/*
 * bounce_decode - verify a bounce address and recover the original sender.
 * address is "LOCAL@dom", "<LOCAL@dom>" or a bare LOCAL; the MAC is
 * checked against its domain, or bounce_domain when it has none. When both
 * are given and differ, the address is BOUNCE_NOT_OURS. max_age in seconds
 * (<= 0: BOUNCE_DEFAULT_MAX_AGE; capped at BOUNCE_MAX_AGE_LIMIT). Every
 * secret is tried; MACs are compared in constant time. On BOUNCE_OK,
 * original holds "local@domain" as given to bounce_encode (domain
 * lowercased); on BOUNCE_EXPIRED it holds the genuine but stale original;
 * otherwise it is empty. info may be NULL. A stored-form address whose
 * MAC verifies and that is in date is BOUNCE_STORED (original empty,
 * info->token set: the caller looks it up); one out of date is
 * BOUNCE_EXPIRED with info->token set and original empty.
 */
enum bounce_status bounce_decode(const struct bounce_secrets *s,
    const char *address, const char *bounce_domain, time_t now, long max_age,
    struct buf *original, struct bounce_info *info);

/*
 * bounce_sender_canonical - the original sender as both forms keep it:
 * "local@domain", path brackets and a source route dropped, the domain
 * lowercased without trailing dots. BOUNCE_OK, BOUNCE_NULL_SENDER or
 * BOUNCE_BAD_SENDER (out empty).
 */
enum bounce_status bounce_sender_canonical(const char *original,
    struct buf *out);
/* bounce_domain_norm - a bounce domain as addresses carry it (lowercase, A-labels); 0 or -1 */
int bounce_domain_norm(const char *bounce_domain, struct buf *out);

/* bounce_domain_valid - may s be a bounce domain? (LDH labels, <= 253 octets; for config checks) */
int bounce_domain_valid(const char *s);

/* bounce_status_text - a phrase for messages ("forged or tampered (MAC does not verify)") */
const char *bounce_status_text(enum bounce_status st);
/* bounce_status_name - a short token for logs and headers ("bad-mac") */
const char *bounce_status_name(enum bounce_status st);

#endif
