/*
 * rua_summary.h - what the aggregate reports a customer received say about
 * its domain (authmilter-report summary and html): volume and DMARC pass
 * rate, the sources sending as the domain with their DKIM and SPF
 * alignment and who reported them, the same per day, and whether the
 * policy can take its next step (p=none -> quarantine -> reject).
 *
 * Built from the reports in the history store (history_store_rua_each);
 * printed as text for operators, JSON for a customer portal, or one
 * self-contained HTML page. Single-threaded tool code.
 */
#ifndef AUTHMILTER_RUA_SUMMARY_H
#define AUTHMILTER_RUA_SUMMARY_H

#include <stddef.h>

#include "base/buf.h"
#include "store/history.h"

/* When is the next policy step safe? (defaults in rua_summary_init) */
struct rua_thresholds {
	double min_pass;		/* % of messages passing DMARC (98) */
	long min_days;			/* days the reports cover (14) */
	unsigned long long min_messages;	/* messages reported (100) */
};

/* One sending address. */
struct rua_source {
	char *ip;			/* owned */
	char *name;			/* reverse name (owned; "" unknown) */
	unsigned long long n;		/* messages */
	unsigned long long dkim;	/* aligned DKIM pass */
	unsigned long long spf;		/* aligned SPF pass */
	unsigned long long pass;	/* DMARC pass (either) */
	char *reporters;		/* org names, "; " separated (owned) */
	char *header_from;		/* header From domains seen, ", " separated (owned) */
};

/* One UTC day (the day a report's period begins). */
struct rua_day {
	long long day;			/* midnight UTC */
	unsigned long long n, pass;
};

struct rua_summary {
	char *domain;			/* owned */
	long long since;		/* the --since given (0: all) */
	size_t reports;			/* reports read */
	char *reporters;		/* every org name, "; " separated (owned) */
	long long first, last;		/* begin of the first, end of the last */
	long days;			/* days covered (last - first, rounded) */
	char *p;			/* policy of the latest report (owned) */
	char *pct;			/* its pct ("" absent) */
	unsigned long long n, dkim, spf, pass;
	struct rua_source *src;		/* owned, sorted: unaligned first */
	size_t nsrc;
	struct rua_day *day;		/* owned, by day */
	size_t nday;
	size_t unaligned;		/* sources with a message failing DMARC */
	unsigned long long unaligned_n;	/* their failing messages */
	/* the verdict */
	int safe;			/* 1 the next step is safe */
	const char *from, *to;		/* the step ("none", "quarantine"); to NULL at reject */
	char *verdict;			/* one line for people (owned) */
};

/* rua_thresholds_default - 98 %, 14 days, 100 messages */
void rua_thresholds_default(struct rua_thresholds *t);

/*
 * rua_summary_build - read domain's reports since since from the store and
 * summarise them; 0, or -1 with err. Free with rua_summary_free.
 */
int rua_summary_build(struct history_store *s, const char *domain,
    long long since, const struct rua_thresholds *t, struct rua_summary *sum,
    char *err, size_t errlen);
/*
 * rua_summary_domains - the domains with reports whose period ends at or
 * after since, sorted, each once: an array of n owned strings (free each
 * and the array); NULL with err
 */
char **rua_summary_domains(struct history_store *s, long long since,
    size_t *n, char *err, size_t errlen);
/* rua_summary_free - release (a zeroed one is fine) */
void rua_summary_free(struct rua_summary *sum);

/* rua_summary_text - the summary for operators, appended to out */
void rua_summary_text(const struct rua_summary *sum,
    const struct rua_thresholds *t, struct buf *out);
/* rua_summary_json - the summary as one JSON object, appended to out */
void rua_summary_json(const struct rua_summary *sum,
    const struct rua_thresholds *t, struct buf *out);
/* rua_summary_html - one self-contained HTML page (no script, no external asset) */
void rua_summary_html(const struct rua_summary *sum,
    const struct rua_thresholds *t, struct buf *out);

/* rua_pct - a share as a percentage, rounded down to 0.1 (99.96 shows 99.9, never a false 100) */
double rua_pct(unsigned long long part, unsigned long long whole);

/* rua_summary_date - t as YYYY-MM-DD (UTC) in out; returns out */
const char *rua_summary_date(long long t, char *out, size_t outlen);
/* rua_summary_arrow - s appended with each " -> " written as arrow */
void rua_summary_arrow(struct buf *out, const char *s, const char *arrow);
/* rua_summary_joined - a "\n"-separated list appended with sep between */
void rua_summary_joined(struct buf *out, const char *list, const char *sep);

#endif
