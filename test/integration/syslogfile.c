/*
 * syslogfile.c - LD_PRELOAD shim for the test Sendmail (sendmail.sh):
 * syslog() lines go to a file instead of /dev/log, which a test machine
 * without a syslog daemon does not have.
 *
 * The file is named by AUTHMILTER_SYSLOG_FILE. Sendmail empties its
 * environment and closes every descriptor above stderr early in main(),
 * so the name is read when the shim loads and the file is opened for
 * each line (O_APPEND: lines of concurrent processes do not mix).
 * Built by sendmail.sh with the system cc; not part of the daemon.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static char syslogfile_path[4096];	/* the log file, "" if none */
static char syslogfile_ident[64] = "sendmail";	/* openlog's ident */

/* syslogfile_init - remember the file name while the environment holds it */
__attribute__((constructor)) static void
syslogfile_init(void)
{
	const char *p = getenv("AUTHMILTER_SYSLOG_FILE");

	if (p != NULL && strlen(p) < sizeof(syslogfile_path))
		memcpy(syslogfile_path, p, strlen(p) + 1);
}

/* openlog - remember the ident; no socket is opened */
void
openlog(const char *ident, int option, int facility)
{
	(void)option;
	(void)facility;
	if (ident != NULL)
		(void)snprintf(syslogfile_ident, sizeof(syslogfile_ident), "%s",
		    ident);
}

/* closelog - nothing is held open */
void
closelog(void)
{
}

/* setlogmask - every priority is logged */
int
setlogmask(int mask)
{
	(void)mask;
	return 0xff;
}

/* vsyslog - append "time ident[pid]: text" to the file */
void
vsyslog(int pri, const char *fmt, va_list ap)
{
	char line[8192], stamp[32];
	struct tm tm;
	time_t now = time(NULL);
	int n, m, fd;

	(void)pri;
	if (syslogfile_path[0] == '\0')
		return;
	localtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%b %e %H:%M:%S", &tm);
	n = snprintf(line, sizeof(line), "%s %s[%ld]: ", stamp,
	    syslogfile_ident, (long)getpid());
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	if (m < 0)
		return;
	/* a long line is cut: this is a log */
	n = (size_t)n + (size_t)m >= sizeof(line) - 1 ? (int)sizeof(line) - 2
	    : n + m;
	line[n++] = '\n';
	fd = open(syslogfile_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
	    0644);
	if (fd < 0)
		return;
	(void)!write(fd, line, (size_t)n);
	close(fd);
}

/* syslog - see vsyslog */
void
syslog(int pri, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsyslog(pri, fmt, ap);
	va_end(ap);
}

/* __syslog_chk - what glibc's _FORTIFY_SOURCE turns syslog() into */
void
__syslog_chk(int pri, int flag, const char *fmt, ...)
{
	va_list ap;

	(void)flag;
	va_start(ap, fmt);
	vsyslog(pri, fmt, ap);
	va_end(ap);
}

/* __vsyslog_chk - what glibc's _FORTIFY_SOURCE turns vsyslog() into */
void
__vsyslog_chk(int pri, int flag, const char *fmt, va_list ap)
{
	(void)flag;
	vsyslog(pri, fmt, ap);
}
