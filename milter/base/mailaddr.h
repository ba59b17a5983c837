/*
 * mailaddr.h - RFC 5322 mailbox lists (the From header) and envelope
 * addresses (MAIL FROM).
 *
 * Pure functions over strings; results are malloc'd and owned by the caller.
 */
#ifndef AUTHMILTER_MAILADDR_H
#define AUTHMILTER_MAILADDR_H

#include <stddef.h>

struct mailaddr {
	char *local;		/* local part as written, quotes kept, CFWS removed */
	char *domain;		/* lowercased domain, no trailing dot; NULL if none */
};

struct mailaddr_list {
	struct mailaddr *v;	/* addresses in order */
	size_t n;		/* number of addresses */
};

/*
 * mailaddr_parse_list - parse a From header value as an RFC 5322
 * mailbox-list (with the obsolete forms deployed mail uses: obs-phrase,
 * obs-local-part, obs-route, CFWS between any tokens, empty elements; and
 * RFC 6532 UTF-8). Returns the number of mailboxes (0 for an empty value
 * or a lone empty group such as "undisclosed-recipients:;"), or -1 when
 * the value is anything else: a group with members, unbalanced quotes,
 * comments or angle brackets, trailing text after an address, a second
 * '@', a control character or ill-formed UTF-8 outside quoted strings and
 * comments. A mailbox without '@' or with nothing after it has domain
 * NULL; a domain literal is returned as written ("[192.0.2.1]"). out is
 * valid in every case, and empty after -1.
 */
int mailaddr_parse_list(const char *value, struct mailaddr_list *out);
/* mailaddr_list_free - release a list */
void mailaddr_list_free(struct mailaddr_list *l);
/*
 * mailaddr_envelope_domain - the lowercased domain of an SMTP path such as
 * "<user@example.com>" or "user@example.com" (after the last '@', as the
 * MTA reads it; a source route skipped); NULL for "<>" or no domain.
 */
char *mailaddr_envelope_domain(const char *path);
#define MAILADDR_DOMAIN_MAX	253	/* octets of a domain name at most */
#define MAILADDR_DOMAIN_UTF8	0x1	/* mailaddr_domain_ok: UTF-8 labels too */

/*
 * mailaddr_domain_ok - the one domain-name syntax check: is s[0..len) a
 * domain name of labels of 1..63 octets, at most MAILADDR_DOMAIN_MAX in
 * all, separated by single dots (none leading or trailing)? A label holds
 * ASCII letters, digits, '_' (DKIM, DMARC and SRV names) and '-' (neither
 * first nor last); with MAILADDR_DOMAIN_UTF8 also well-formed UTF-8
 * characters (RFC 6531 U-labels, not validated further). Without the flag
 * the name is ASCII only, as headers and DNS queries need it. 1 or 0.
 */
int mailaddr_domain_ok(const char *s, size_t len, int flags);
/*
 * mailaddr_domain_alabel - the form domains are compared and looked up in
 * (RFC 8616: d= and DNS names in A-labels): lowercase, one trailing dot
 * dropped, U-labels converted to A-labels (IDNA2008, libidn2), then
 * checked as an ASCII name. 0 with out (outlen bytes, at least
 * MAILADDR_DOMAIN_MAX + 1 for every name to fit) filled, -1 if in is not
 * a domain name or does not fit.
 */
int mailaddr_domain_alabel(const char *in, char *out, size_t outlen);

#endif
