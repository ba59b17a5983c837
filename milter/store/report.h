/*
 * report.h - DMARC aggregate reports (RFC 7489 section 7.2 and Appendix C)
 * built from the history: the records of a period grouped by policy
 * domain, one row per combination of source IP and results with its
 * count, the XML, its gzip, and the MIME message of section 7.2.1.1.
 *
 * Pure apart from reading the store: sending, DNS and files are the
 * tool's (tools/report_main.c). One thread.
 */
#ifndef AUTHMILTER_REPORT_H
#define AUTHMILTER_REPORT_H

#include <stddef.h>
#include <time.h>

#include "base/buf.h"
#include "store/history.h"

/* One row: the records that share every reported value, and how many. */
struct report_row {
	struct history_record *rec;	/* the first such record (owned) */
	char *key;			/* what the records share (owned) */
	unsigned long count;		/* how many */
};

/* The report of one policy domain. */
struct report {
	char *domain;			/* the policy domain (owned) */
	struct history_record *policy;	/* the newest record: its policy and
					 * rua as published (owned) */
	struct report_row *rows;	/* owned */
	size_t nrows;
	unsigned long messages;		/* records in all rows */
};

struct report_set {
	struct report *v;		/* one per policy domain, sorted (owned) */
	size_t n;
};

/* Who reports: the report_metadata and the message's sender. */
struct report_meta {
	const char *org_name;		/* org_name */
	const char *email;		/* email (the contact) */
	const char *sender;		/* From address of the message */
	const char *receiver;		/* our domain in file names and subjects */
	time_t begin, end;		/* the period: begin <= t < end */
};

/*
 * report_collect - read the period's records from s and group them: one
 * report per policy domain that asked for aggregate reports (rua). 0, or
 * -1 with err.
 */
int report_collect(struct history_store *s, time_t begin, time_t end,
    struct report_set *out, char *err, size_t errlen);
/* report_set_free - release a set */
void report_set_free(struct report_set *set);
/* report_id - the report's id: the same for the same domain and period (never sent twice) */
void report_id(const struct report *r, const struct report_meta *m,
    struct buf *out);
/* report_xml - the aggregate report XML of RFC 7489 Appendix C */
void report_xml(const struct report *r, const struct report_meta *m,
    struct buf *out);
/* report_gzip - gzip in into out; 0, or -1 with err */
int report_gzip(const struct buf *in, struct buf *out, char *err,
    size_t errlen);
/* report_filename - receiver!domain!begin!end.xml.gz (RFC 7489 7.2.1.1) */
void report_filename(const struct report *r, const struct report_meta *m,
    struct buf *out);
/*
 * report_mime - the message carrying the gzipped report gz to the
 * addresses to (comma separated): subject, filename and media type of RFC
 * 7489 7.2.1.1; date is the message's Date (its time)
 */
void report_mime(const struct report *r, const struct report_meta *m,
    const char *to, const struct buf *gz, time_t date, struct buf *out);

/* One rua destination parsed. */
struct report_dest {
	char *address;			/* the mailto address (owned) */
	char *domain;			/* its domain, lowercase (owned) */
	unsigned long long limit;	/* bytes at most; 0: none */
};

/*
 * report_dest_parse - a rua URI ("mailto:a@b.example!10240", as the history
 * keeps it) as a destination; 0, or -1 (not a mailto URI we can send to)
 */
int report_dest_parse(const char *uri, struct report_dest *d);
/* report_dest_free - release a destination */
void report_dest_free(struct report_dest *d);
/*
 * report_dest_external - does sending to d need the policy domain's
 * authorisation (RFC 7489 7.1): its domain is neither domain nor a parent
 * or subdomain of it
 */
int report_dest_external(const struct report_dest *d, const char *domain);

#endif
