/*
 * mailaddr.h - RFC 5322 address lists (the From header) and envelope
 * addresses (MAIL FROM).
 *
 * Pure functions over strings; results are malloc'd and owned by the caller.
 */
#ifndef AUTHMILTER_MAILADDR_H
#define AUTHMILTER_MAILADDR_H

#include <stddef.h>

struct mailaddr {
	char *local;		/* local part as written (quotes kept) */
	char *domain;		/* lowercased domain, no trailing dot; NULL if none */
};

struct mailaddr_list {
	struct mailaddr *v;	/* addresses in order */
	size_t n;		/* number of addresses */
};

/*
 * mailaddr_parse_list - parse a header value holding an address list:
 * display names, comments, quoted strings, groups, angle addresses and
 * routes are understood. Returns the number of addresses found (0 or
 * more), or -1 when the value is malformed (unbalanced quotes, brackets or
 * comments). out is valid (possibly empty) in every case.
 */
int mailaddr_parse_list(const char *value, struct mailaddr_list *out);
/* mailaddr_list_free - release a list */
void mailaddr_list_free(struct mailaddr_list *l);
/*
 * mailaddr_envelope_domain - the lowercased domain of an SMTP path such as
 * "<user@example.com>" or "user@example.com"; NULL for "<>" or no domain.
 */
char *mailaddr_envelope_domain(const char *path);
/* mailaddr_domain_valid - is s a syntactically valid domain name (LDH or UTF-8 labels)? */
int mailaddr_domain_valid(const char *s);

#endif
