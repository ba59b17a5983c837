/*
 * authres.h - the Authentication-Results header (RFC 8601): build ours,
 * recognize forged ones that claim our authserv-id.
 *
 * Pure string functions: no DNS, no mta_* calls, no shared state; safe in any
 * thread. Every domain, local part, selector, algorithm and signature
 * prefix is validated before it is written, so message content (a From
 * domain holding "(", ";", CR/LF or spaces) can never shape the header
 * (the CVE-2020-12272 class): an invalid identity is omitted and its
 * method reported as permerror.
 */
#ifndef AUTHMILTER_AUTHRES_H
#define AUTHMILTER_AUTHRES_H

#include <stddef.h>

#include "base/buf.h"

/* Column where the value starts after "Authentication-Results: ". */
#define AUTHRES_FIRST_COLUMN	24
/* Fold before a word that would pass this column. */
#define AUTHRES_FOLD_COLUMN	78

/* One SPF result (smtp.mailfrom or smtp.helo). Strings are borrowed. */
struct authres_spf {
	const char *result;	/* pass, fail, softfail, neutral, none, temperror, permerror, policy; NULL: no clause */
	const char *identity;	/* mailfrom: "local@domain", "<local@domain>" or "domain"; helo: a domain; NULL: not written */
	const char *comment;	/* optional free text; NULL: none */
};

/* One DKIM signature's result. */
struct authres_dkim {
	const char *result;	/* pass, fail, neutral, none, temperror, permerror, policy */
	const char *domain;	/* header.d (the identity) */
	const char *selector;	/* header.s; NULL: not written */
	const char *algorithm;	/* header.a; NULL: not written */
	const char *b;		/* the signature's whole b= (FWS allowed); header.b is the shortest prefix of 8+ chars unique among the message's signatures */
	const char *comment;	/* optional free text */
};

/* The DMARC result. */
struct authres_dmarc {
	const char *result;	/* pass, fail, none, temperror, permerror; NULL: no clause */
	const char *from_domain;	/* header.from (the identity) */
	const char *p;		/* record's p for the comment: none/quarantine/reject; NULL: omitted */
	const char *sp;		/* record's effective sp, likewise */
	const char *disposition;	/* policy.dmarc and dis=: none/quarantine/reject */
	const char *comment;	/* optional free text */
};

struct authres_input {
	const char *authserv_id;	/* ours (see authres_authserv_id_valid) */
	struct authres_spf mailfrom;	/* spf=... smtp.mailfrom= */
	struct authres_spf helo;	/* spf=... smtp.helo= */
	const struct authres_dkim *dkim;	/* each verified signature */
	size_t ndkim;
	int dkim_skipped;		/* no DKIM clause at all (else "dkim=none" when ndkim is 0) */
	struct authres_dmarc dmarc;
	size_t first_column;		/* 0: AUTHRES_FIRST_COLUMN */
};

/*
 * authres_build - append one Authentication-Results header value (no field
 * name, no trailing newline) to out, folded with "\n\t" (the MTA adds the
 * CR). Returns the number of identities dropped as invalid (0 normally),
 * or -1 when authserv_id itself is invalid (out unchanged).
 */
int authres_build(const struct authres_input *in, struct buf *out);

/* authres_authserv_id_valid - a dot-atom of letters, digits, '-', '_' (a host name) */
int authres_authserv_id_valid(const char *id);

/*
 * authres_claims_id - does an existing Authentication-Results value name
 * authserv_id as its authserv-id? Leading CFWS (comments, nested comments,
 * folding) is skipped; the id may be a token or a quoted-string; the
 * comparison is case-insensitive and ignores one trailing dot, but a
 * longer name (ours + ".evil.example") never matches.
 */
int authres_claims_id(const char *value, const char *authserv_id);


#endif
