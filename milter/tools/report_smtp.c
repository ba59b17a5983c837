/*
 * report_smtp.c - authmilter-report's SMTP client: one message to one
 * recipient through a relay (report_sendmail = smtp:HOST[:PORT]), for
 * hosts without sendmail(1). Plain SMTP (RFC 5321): EHLO, MAIL, RCPT,
 * DATA with dot-stuffing, QUIT; no TLS and no AUTH (a relay on the
 * loopback or the local network that takes our mail). One thread.
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "tools/report_smtp.h"
#include "base/buf.h"
#include "base/log.h"
#include "base/xalloc.h"

#define REPORT_SMTP_TIMEOUT 60	/* seconds for each reply */

/* report_smtp_connect - a connected socket to host:port; -1 with err */
static int
report_smtp_connect(const char *host, const char *port, char *err,
    size_t errlen)
{
	struct addrinfo hints, *res = NULL, *ai;
	struct timeval tv = { REPORT_SMTP_TIMEOUT, 0 };
	int fd = -1, rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		(void)log_fail(err, errlen, "smtp: %s: %s", host,
		    gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
		if (fd < 0)
			continue;
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		(void)close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		(void)log_fail(err, errlen, "smtp: cannot connect to %s port %s: "
		    "%s", host, port, strerror(errno));
	return fd;
}

/* report_smtp_write - all of len bytes; 0 or -1 */
static int
report_smtp_write(int fd, const char *p, size_t len)
{
	ssize_t w;

	while (len > 0) {
		w = send(fd, p, len, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/*
 * report_smtp_reply - read one reply (all its lines) into line (its last
 * line); the code, or -1 when the connection failed
 */
static int
report_smtp_reply(int fd, char *line, size_t linelen)
{
	size_t n = 0;
	ssize_t r;
	char c;

	for (;;) {
		r = recv(fd, &c, 1, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		if (c == '\r')
			continue;
		if (c != '\n') {
			if (n + 1 < linelen)
				line[n++] = c;
			continue;
		}
		line[n] = '\0';
		/* "250-" goes on, "250 " ends */
		if (n >= 3 && (n == 3 || line[3] != '-'))
			return atoi(line);
		n = 0;
	}
}

/* report_smtp_cmd - send a command, expect a reply code class; 0 or -1 with err */
static int
report_smtp_cmd(int fd, const char *cmd, int want, char *err, size_t errlen)
{
	char line[512];
	int code;

	if (cmd != NULL && report_smtp_write(fd, cmd, strlen(cmd)) != 0)
		return log_fail(err, errlen, "smtp: connection lost");
	code = report_smtp_reply(fd, line, sizeof(line));
	if (code < 0)
		return log_fail(err, errlen, "smtp: connection lost");
	if (code / 100 != want)
		return log_fail(err, errlen, "smtp: %s%s%s", cmd != NULL ?
		    cmd : "", cmd != NULL ? "-> " : "", line);
	return 0;
}

/* report_smtp_data - the message, dot-stuffed, and the final dot */
static int
report_smtp_data(int fd, const struct buf *msg)
{
	struct buf out = BUF_INIT;
	const char *p = msg->data, *end = msg->data + msg->len, *nl;
	int rc;

	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (*p == '.')
			buf_putc(&out, '.');
		if (nl == NULL)
			nl = end;
		buf_append(&out, p, (size_t)(nl - p));
		if (out.len > 0 && out.data[out.len - 1] == '\r')
			out.len--;
		buf_puts(&out, "\r\n");
		p = nl < end ? nl + 1 : end;
	}
	buf_puts(&out, ".\r\n");
	rc = report_smtp_write(fd, out.data, out.len);
	buf_free(&out);
	return rc;
}

/* report_smtp_send - one message to one recipient through the relay */
int
report_smtp_send(const char *relay, const char *helo, const char *from,
    const char *to, const struct buf *msg, char *err, size_t errlen)
{
	char *host = NULL, *port, *close_br;
	struct buf cmd = BUF_INIT;
	int fd = -1, rc = -1;

	/* HOST, HOST:PORT, [V6], [V6]:PORT */
	if (relay[0] == '[' && (close_br = strchr(relay, ']')) != NULL) {
		host = xstrndup(relay + 1, (size_t)(close_br - relay - 1));
		port = close_br[1] == ':' ? close_br + 2 : "25";
	} else {
		host = xstrdup(relay);
		port = strchr(host, ':');
		if (port != NULL)
			*port++ = '\0';
		else
			port = "25";
	}
	if (host[0] == '\0' || port[0] == '\0') {
		(void)log_fail(err, errlen, "smtp: %s: give smtp:HOST[:PORT]",
		    relay);
		goto done;
	}
	if ((fd = report_smtp_connect(host, port, err, errlen)) < 0
	    || report_smtp_cmd(fd, NULL, 2, err, errlen) != 0)
		goto done;
	buf_printf(&cmd, "EHLO %s\r\n", helo);
	if (report_smtp_cmd(fd, buf_cstr(&cmd), 2, err, errlen) != 0)
		goto done;
	buf_reset(&cmd);
	buf_printf(&cmd, "MAIL FROM:<%s>\r\n", from);
	if (report_smtp_cmd(fd, buf_cstr(&cmd), 2, err, errlen) != 0)
		goto done;
	buf_reset(&cmd);
	buf_printf(&cmd, "RCPT TO:<%s>\r\n", to);
	if (report_smtp_cmd(fd, buf_cstr(&cmd), 2, err, errlen) != 0
	    || report_smtp_cmd(fd, "DATA\r\n", 3, err, errlen) != 0)
		goto done;
	if (report_smtp_data(fd, msg) != 0) {
		(void)log_fail(err, errlen, "smtp: connection lost");
		goto done;
	}
	if (report_smtp_cmd(fd, NULL, 2, err, errlen) != 0)
		goto done;
	(void)report_smtp_cmd(fd, "QUIT\r\n", 2, err, errlen);
	rc = 0;
done:
	if (fd >= 0)
		(void)close(fd);
	buf_free(&cmd);
	free(host);
	return rc;
}
