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
/* mailaddr_domain_valid - is s a syntactically valid domain name (LDH or UTF-8 labels)? */
int mailaddr_domain_valid(const char *s);

#endif
