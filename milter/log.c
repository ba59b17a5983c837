/*
 * log.c - syslog or stderr logging with queue id and thread id.
 *
 * Configuration (destination, level) is set before threads start or on
 * reload; the level is an atomic so a reload may change it while threads
 * log. Each stderr line is written with one write() so lines from
 * different threads do not interleave.
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

#include "log.h"

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
		snprintf(buf, buflen, "error %d", err);
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

/* log_vmsg - format and emit one line */
static void
log_vmsg(int level, const char *qid, const char *fmt, va_list ap)
{
	char text[2048], line[2300];
	const char *lname;
	int n;

	if (level > __atomic_load_n(&log_level, __ATOMIC_RELAXED))
		return;
	n = vsnprintf(text, sizeof(text), fmt, ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(text))	/* truncated: mark it */
		memcpy(text + sizeof(text) - 4, "...", 4);
	if (log_dest == LOG_DEST_SYSLOG) {
		if (qid != NULL)
			syslog(level, "%s: %s", qid, text);
		else
			syslog(level, "%s", text);
		return;
	}
	lname = log_level_name(level);
	n = snprintf(line, sizeof(line), "authmilter[%ld/%ld]: %s: %s%s%s\n",
	    (long)getpid(), (long)syscall(SYS_gettid), lname ? lname : "?",
	    qid ? qid : "", qid ? ": " : "", text);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		n = sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	if (write(STDERR_FILENO, line, (size_t)n) < 0) {
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

/* log_fatal - log and exit; start-up only */
void
log_fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_ERR, NULL, fmt, ap);
	va_end(ap);
	exit(1);
}
