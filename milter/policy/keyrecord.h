/*
 * keyrecord.h - a published DKIM key record against our key: its p=
 * compared with the private key (published, missing, truncated: a
 * cut-off prefix of the right key, the DNS host cut a long record;
 * mismatched, revoked; or unknown: DNS trouble), the answer of a lookup
 * judged, one key looked up (authmilter-check's and the onboarding
 * report's way).
 *
 * Threading: keyrecord_compare and keyrecord_parse_p are pure;
 * keyrecord_key may run in any thread and writes nothing shared.
 */
#ifndef AUTHMILTER_KEYRECORD_H
#define AUTHMILTER_KEYRECORD_H

#include <stddef.h>

#include "base/buf.h"
#include "base/dns.h"
#include "auth/keys.h"

struct keyrecord_info {
	size_t record_len;	/* length of the joined TXT record */
	size_t nstrings;	/* character-strings in the record */
	size_t longest;		/* longest character-string */
	char detail[640];	/* human explanation */
};

/* keyrecord_parse_p - the p= value (FWS removed) of a DKIM key record, NULL if not one; malloc'd */
char *keyrecord_parse_p(const char *record, char *ktype, size_t ktypelen);
/* keyrecord_compare - publication state of a record for a key (pure) */
enum key_pub keyrecord_compare(const struct key *k, const char *record,
    char *detail, size_t detaillen);
/* keyrecord_name - the record's name, SELECTOR._domainkey.DOMAIN, into name (replaced) */
void keyrecord_name(const char *domain, const struct key *k, struct buf *name);
/* keyrecord_answer - the state a TXT answer r for the record name gives k */
enum key_pub keyrecord_answer(const char *name, const struct key *k,
    const struct dns_result *r, struct keyrecord_info *info);

/* keyrecord_key - look one key up and compare (waits for the answer) */
enum key_pub keyrecord_key(struct dns *d, const char *domain,
    const struct key *k, struct keyrecord_info *info);

#endif
