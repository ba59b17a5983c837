/*
 * log.c - syslog or stderr logging with queue id and thread id.
 *
 * Configuration (destination, level) is set before threads start or on
 * reload; the level is an atomic so a reload may change it while threads
 * log. Each stderr line is written with one write() so lines from
 * different threads do not interleave. Every line, stderr or syslog,
 * carries "[pid/tid]" so one thread's lines can be followed in either.
 * Formatting uses stack buffers only: xalloc.c's out-of-memory report
 * comes through here.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <pthread.h>
#include <sys/syscall.h>

#include "base/log.h"

static enum log_dest log_dest = LOG_DEST_STDERR;
static int log_level = LOG_INFO;	/* accessed atomically */
static int log_opened;

static const struct { const char *name; int level; } log_levels[] = {
	{ "err", LOG_ERR }, { "warning", LOG_WARNING }, { "notice", LOG_NOTICE },
	{ "info", LOG_INFO }, { "debug", LOG_DEBUG },
};

static const struct { const char *name; int facility; } log_facilities[] = {
	{ "mail", LOG_MAIL }, { "daemon", LOG_DAEMON }, { "user", LOG_USER },
	{ "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 }, { "local2", LOG_LOCAL2 },
	{ "local3", LOG_LOCAL3 }, { "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 },
	{ "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 },
};

/* log_wants - would a line at this level be shown now? */
int
log_wants(int level)
{
	return level <= __atomic_load_n(&log_level, __ATOMIC_RELAXED);
}

/* log_init - choose destination and level */
void
log_init(enum log_dest dest, int facility, int level)
{
	if (log_opened) {
		closelog();
		log_opened = 0;
	}
	log_dest = dest;
	if (dest == LOG_DEST_SYSLOG) {
		openlog("authmilter", LOG_PID | LOG_NDELAY, facility);
		log_opened = 1;
	}
	log_set_level(level);
}

/* log_set_level - change the lowest level shown */
void
log_set_level(int level)
{
	__atomic_store_n(&log_level, level, __ATOMIC_RELAXED);
}

/* log_errstr - errno text through whichever strerror_r libc has */
const char *
log_errstr(int err, char *buf, size_t buflen)
{
#ifdef STRERROR_R_CHAR_P
	return strerror_r(err, buf, buflen);
#else
	if (strerror_r(err, buf, buflen) != 0)
		(void)snprintf(buf, buflen, "error %d", err);
	return buf;
#endif
}

/* log_level_name - name of a level */
const char *
log_level_name(int level)
{
	size_t i;

	for (i = 0; i < sizeof(log_levels) / sizeof(log_levels[0]); i++)
		if (log_levels[i].level == level)
			return log_levels[i].name;
	return NULL;
}

/* log_level_parse - level from its name */
int
log_level_parse(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(log_levels) / sizeof(log_levels[0]); i++)
		if (strcasecmp(log_levels[i].name, name) == 0)
			return log_levels[i].level;
	return -1;
}

/* log_facility_name - name of a facility */
const char *
log_facility_name(int facility)
{
	size_t i;

	for (i = 0; i < sizeof(log_facilities) / sizeof(log_facilities[0]); i++)
		if (log_facilities[i].facility == facility)
			return log_facilities[i].name;
	return NULL;
}

/* log_facility_parse - facility from its name */
int
log_facility_parse(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(log_facilities) / sizeof(log_facilities[0]); i++)
		if (strcasecmp(log_facilities[i].name, name) == 0)
			return log_facilities[i].facility;
	return -1;
}

/* log_syslog_default - hand one formatted line to syslog(3) */
static void
log_syslog_default(int level, const char *line)
{
	syslog(level, "%s", line);
}

static log_syslog_fn *log_syslog_hook = log_syslog_default;

/* log_set_syslog_hook - where syslog lines go (tests); NULL restores syslog(3) */
void
log_set_syslog_hook(log_syslog_fn *fn)
{
	log_syslog_hook = fn != NULL ? fn : log_syslog_default;
}

/* log_format_line - one line as dest shows it, with the [pid/tid] tag */
size_t
log_format_line(char *line, size_t size, enum log_dest dest, int level,
    const char *qid, const char *text)
{
	const char *lname = log_level_name(level);
	long pid = (long)getpid(), tid = (long)syscall(SYS_gettid);
	int n;

	if (size < 2)
		return 0;
	/* syslog(3) adds "authmilter[pid]: " and the level itself */
	if (dest == LOG_DEST_SYSLOG)
		n = snprintf(line, size, "[%ld/%ld] %s%s%s", pid, tid,
		    qid ? qid : "", qid ? ": " : "", text);
	else
		n = snprintf(line, size, "authmilter[%ld/%ld]: %s: %s%s%s\n",
		    pid, tid, lname ? lname : "?", qid ? qid : "",
		    qid ? ": " : "", text);
	if (n < 0) {
		line[0] = '\0';
		return 0;
	}
	if ((size_t)n < size)
		return (size_t)n;
	/* truncated: keep what fits, and the newline a stderr line ends in */
	n = (int)(size - 1);
	if (dest != LOG_DEST_SYSLOG)
		line[n - 1] = '\n';
	return (size_t)n;
}

/* log_vmsg - format and emit one line; allocates nothing (the OOM path uses it) */
static void
log_vmsg(int level, const char *qid, const char *fmt, va_list ap)
{
	char text[2048], line[2300];
	size_t n;
	int tn;

	if (level > __atomic_load_n(&log_level, __ATOMIC_RELAXED))
		return;
	tn = vsnprintf(text, sizeof(text), fmt, ap);
	if (tn < 0)
		return;
	if ((size_t)tn >= sizeof(text))	/* truncated: mark it */
		memcpy(text + sizeof(text) - 4, "...", 4);
	n = log_format_line(line, sizeof(line), log_dest, level, qid, text);
	if (log_dest == LOG_DEST_SYSLOG) {
		log_syslog_hook(level, line);
		return;
	}
	if (write(STDERR_FILENO, line, n) < 0) {
		/* nowhere left to report it */
	}
}

/* log_msg - log one line */
void
log_msg(int level, const char *qid, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, qid, fmt, ap);
	va_end(ap);
}

/* log_fail - format an error into err, return -1 */
int
log_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(err, errlen, fmt, ap);	/* %m: glibc's */
	va_end(ap);
	return -1;
}

static log_fatal_fn *log_fatal_hook;	/* set once at start-up */

/* log_set_fatal_hook - what log_fatal calls with its text before it exits */
void
log_set_fatal_hook(log_fatal_fn *fn)
{
	log_fatal_hook = fn;
}

/* log_fatal - log, tell the hook, exit; start-up only */
void
log_fatal(const char *fmt, ...)
{
	char text[2048];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(text, sizeof(text), fmt, ap);	/* %m: glibc's */
	va_end(ap);
	log_msg(LOG_ERR, NULL, "%s", text);
	if (log_fatal_hook != NULL)
		log_fatal_hook(text);
	exit(1);
}
