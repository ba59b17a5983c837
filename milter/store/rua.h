/*
 * rua.h - DMARC aggregate reports as customers receive them (the rua=
 * mailbox of their DMARC record), read back for authmilter-report import:
 * unpacked from what arrives (a whole mail message with the report
 * attached, or the bare .xml, .xml.gz or .zip file) and parsed from the
 * XML of RFC 7489 Appendix C or of DMARCbis (its namespace, np, testing,
 * no pct), tolerating what large receivers really send: a namespace or
 * none, missing optional elements, whitespace around values, elements we
 * do not know.
 *
 * Hostile input is expected: the XML parser (expat) refuses any DOCTYPE
 * (so no entity is ever declared, expanded or loaded), element depth and
 * value lengths are bounded, and every decompression (gzip, zip's
 * deflate, nested MIME) stops at a size limit the caller gives. Each
 * failure is an error text for the operator, never a crash.
 *
 * Pure: no I/O, no globals; the functions may run in any thread.
 */
#ifndef AUTHMILTER_RUA_H
#define AUTHMILTER_RUA_H

#include <stddef.h>

#include "base/buf.h"

#define RUA_MAX_DEFAULT	(64UL << 20)	/* decompressed XML, bytes */
#define RUA_MAX_ROWS	1000000		/* records of one report */

/*
 * One <record>: the rows with the same source and results. Every string
 * is owned and never NULL ("" when the report did not give it).
 */
struct rua_row {
	char *source_ip;		/* as given (validated as an address) */
	unsigned long long count;	/* messages */
	char *disposition;		/* policy_evaluated: none, quarantine, reject */
	char *dkim;			/* policy_evaluated: aligned DKIM pass or fail */
	char *spf;			/* policy_evaluated: aligned SPF pass or fail */
	char *reasons;			/* reason types, space separated */
	char *header_from;		/* identifiers */
	char *envelope_from;
	char *envelope_to;
	char *auth_dkim;		/* auth_results: "domain selector result"
					 * per signature, joined by "; " */
	char *auth_spf;			/* auth_results: "domain scope result" joined by "; " */
};

/* One report. Strings owned, never NULL ("" absent). */
struct rua_report {
	long long id;			/* row id in the store (0 before) */
	char *format;			/* "rfc7489" or "dmarcbis" (its namespace or version 2) */
	char *org_name;			/* report_metadata */
	char *email;
	char *report_id;
	long long begin, end;		/* date_range, seconds since the epoch */
	char *domain;			/* policy_published, lower case */
	char *adkim, *aspf, *p, *sp, *np, *pct, *fo, *testing;
	struct rua_row *rows;		/* owned */
	size_t nrows;
};

/* rua_report_init - an empty report (every string "") */
void rua_report_init(struct rua_report *r);
/* rua_report_free - release what a report holds (an initialised or zeroed one) */
void rua_report_free(struct rua_report *r);
/* rua_report_add_row - append an empty row (strings ""); returns it */
struct rua_row *rua_report_add_row(struct rua_report *r);
/* rua_set - replace the owned string *field by a copy of value (NULL: "") */
void rua_set(char **field, const char *value);

/*
 * rua_unpack - the report's XML out of what was received: a mail message
 * (MIME, the report attached as .xml, .xml.gz or .zip; base64 or not
 * encoded), a gzip or zip file, or the XML itself. At most max bytes of
 * XML (0: RUA_MAX_DEFAULT) are produced: a larger one is an error, so a
 * zip bomb costs max bytes. 0, or -1 with err.
 */
int rua_unpack(const unsigned char *data, size_t len, size_t max,
    struct buf *xml, char *err, size_t errlen);

/*
 * rua_parse - parse the XML of one aggregate report into r (initialised
 * here; free it with rua_report_free whatever the result). 0, or -1 with
 * err (r then holds what was read so far).
 */
int rua_parse(const char *xml, size_t len, struct rua_report *r, char *err,
    size_t errlen);

/* rua_read - rua_unpack then rua_parse (the importer's and the fuzzer's one call) */
int rua_read(const unsigned char *data, size_t len, size_t max,
    struct rua_report *r, char *err, size_t errlen);

#endif
