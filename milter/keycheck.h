/*
 * keycheck.h - is each DKIM key's record really published in DNS?
 *
 * Looks up SELECTOR._domainkey.DOMAIN through the daemon's resolver and
 * compares the published p= with the private key: published, missing,
 * truncated (a cut-off prefix of the right key: the DNS host truncated a
 * long record), mismatched, revoked, or unknown (DNS trouble). The result
 * goes into the key's atomic publication state, which key selection reads.
 */
#ifndef AUTHMILTER_KEYCHECK_H
#define AUTHMILTER_KEYCHECK_H

#include <stddef.h>

#include "config.h"
#include "dns.h"
#include "keys.h"

struct keycheck_info {
	size_t record_len;	/* length of the joined TXT record */
	size_t nstrings;	/* character-strings in the record */
	size_t longest;		/* longest character-string */
	char detail[640];	/* human explanation */
};

/* keycheck_parse_p - the p= value (FWS removed) of a DKIM key record, NULL if not one; malloc'd */
char *keycheck_parse_p(const char *record, char *ktype, size_t ktypelen);
/* keycheck_compare - publication state of a record for a key (pure) */
enum key_pub keycheck_compare(const struct key *k, const char *record,
    char *detail, size_t detaillen);
/* keycheck_key - look one key up and compare */
enum key_pub keycheck_key(struct dns *d, const char *domain,
    const struct key *k, struct keycheck_info *info);
/* keycheck_config - check every key of every domain, store the states, log changes; returns problems found */
int keycheck_config(struct config *c, struct dns *d);

#endif
