/*
 * log.h - logging to syslog or stderr.
 *
 * Thread-safe. Message-path lines carry the MTA queue id as their first
 * word ("4XyZ1: signed ..."); lines without a message pass qid NULL.
 * Severities: LOG_ERR for failures that cost a message its treatment,
 * LOG_WARNING for recoverable trouble, LOG_NOTICE for configuration
 * events, LOG_INFO for one line per message decision, LOG_DEBUG for detail.
 * Every line carries the thread tag "[pid/tid]": stderr lines read
 * "authmilter[pid/tid]: level: qid: text", syslog lines
 * "authmilter[pid]: [pid/tid] qid: text" (syslog(3) writes the first word).
 */
#ifndef AUTHMILTER_LOG_H
#define AUTHMILTER_LOG_H

#include <stddef.h>
#include <syslog.h>

enum log_dest {
	LOG_DEST_STDERR,
	LOG_DEST_SYSLOG,
};

/* log_init - choose destination, syslog facility and the lowest level shown */
void log_init(enum log_dest dest, int facility, int level);
/* log_set_level - change the lowest level shown */
void log_set_level(int level);
/* log_wants - would a line at this level be shown now? (to skip
 * formatting what nobody reads, on the message path) */
int log_wants(int level);
/* log_msg - log one line; qid may be NULL */
void log_msg(int level, const char *qid, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* log_fatal - log at LOG_ERR and exit(1); only for start-up, never the message path */
void log_fatal(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));
/*
 * log_fail - format an error message into err (truncated if need be: it
 * is still the error) and return -1, for "return log_fail(err, ...)"
 */
int log_fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* log_fatal_fn - told log_fatal's text before the exit (clean-up, the parent's report) */
typedef void log_fatal_fn(const char *text);
/* log_set_fatal_hook - set it (NULL: none) */
void log_set_fatal_hook(log_fatal_fn *fn);
/* log_format_line - format one line as dest shows it into line (truncated
 * to size); returns its length. Allocates nothing. */
size_t log_format_line(char *line, size_t size, enum log_dest dest, int level,
    const char *qid, const char *text);

/* log_syslog_fn - receives each syslog line (priority, formatted text) */
typedef void log_syslog_fn(int level, const char *line);
/* log_set_syslog_hook - send syslog lines to fn instead of syslog(3) (a test
 * seam; set before threads start); NULL restores syslog(3) */
void log_set_syslog_hook(log_syslog_fn *fn);
/* log_errstr - the text of an errno value (thread-safe) */
const char *log_errstr(int err, char *buf, size_t buflen);
/* log_level_name - "info" for LOG_INFO, ...; NULL when unknown */
const char *log_level_name(int level);
/* log_level_parse - inverse of log_level_name; -1 when unknown */
int log_level_parse(const char *name);
/* log_facility_name - "mail" for LOG_MAIL, ...; NULL when unknown */
const char *log_facility_name(int facility);
/* log_facility_parse - "mail" -> LOG_MAIL, ...; -1 when unknown */
int log_facility_parse(const char *name);

#define log_err(qid, ...)	log_msg(LOG_ERR, qid, __VA_ARGS__)
#define log_warn(qid, ...)	log_msg(LOG_WARNING, qid, __VA_ARGS__)
#define log_notice(qid, ...)	log_msg(LOG_NOTICE, qid, __VA_ARGS__)
#define log_info(qid, ...)	log_msg(LOG_INFO, qid, __VA_ARGS__)
#define log_debug(qid, ...)	log_msg(LOG_DEBUG, qid, __VA_ARGS__)

#endif
