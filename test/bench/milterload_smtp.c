/*
 * milterload_smtp.c - the SMTP client of milterload (-X HOST:PORT): the
 * same messages (pre-signed with -D, generated or -M) sent to an MTA
 * instead of to a milter, for end-to-end runs through Postfix.
 *
 * One SMTP session per message, as smtp-source sends them by default:
 * connect, greeting, EHLO, XCLIENT ADDR= HELO= (-i, -h) when the server
 * offers it (then EHLO again), MAIL, RCPT, DATA, the message, QUIT. No
 * pipelining. A message's latency runs from its connect to the reply to
 * the end of its data. Each thread owns its struct conn; the dot-stuffed
 * body is built once before the threads start and only read afterwards.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libmilter/mfdef.h>

#include "milterload.h"

#define MAX_LINE	4096		/* longest reply line we accept */

static char *smtp_body;			/* tmpl.body dot-stuffed, then ".\r\n" */
static size_t smtp_bodylen;		/* its length */

/* smtp_init - the dot-stuffed body with its terminating dot */
void
smtp_init(void)
{
	struct gbuf b = { 0 };
	const char *p = tmpl.body, *end = tmpl.body + tmpl.bodylen, *eol;

	while (p < end) {
		if (*p == '.')
			gb_add(&b, ".", 1);
		eol = memchr(p, '\n', (size_t)(end - p));
		eol = eol != NULL ? eol + 1 : end;
		gb_add(&b, p, (size_t)(eol - p));
		p = eol;
	}
	if (b.len > 0 && (b.len < 2 || memcmp(b.data + b.len - 2, "\r\n", 2)))
		gb_add(&b, "\r\n", 2);
	gb_add(&b, ".\r\n", 3);
	smtp_body = b.data;
	smtp_bodylen = b.len;
}

/* smtp_free - release the stuffed body */
void
smtp_free(void)
{
	free(smtp_body);
	smtp_body = NULL;
}

/* smtp_fail - count an error on message m and close the session */
static int
smtp_fail(struct conn *c, const struct msg *m, enum err e, const char *what)
{
	c->st.err[e]++;
	cwarn(c, m, "smtp %s: %s", err_names[e], what);
	if (c->p->fd >= 0)
		close(c->p->fd);
	c->p->fd = -1;
	return -1;
}

/* smtp_write - write n bytes, every wait bounded by -T */
static int
smtp_write(struct conn *c, const struct msg *m, const char *p, size_t n)
{
	ssize_t w;
	int rc;

	while (n > 0) {
		w = send(c->p->fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
		    errno != EINTR)
			return smtp_fail(c, m, E_DISCONNECT, strerror(errno));
		rc = io_wait(c->p->fd, POLLOUT, now_mono() + opt.treply);
		if (rc <= 0)
			return smtp_fail(c, m, rc == 0 ? E_TIMEOUT : E_IO,
			    "writing to the MTA");
	}
	return 0;
}

/* smtp_line - next reply line (CRLF cut off) into line; 0 or -1 */
static int
smtp_line(struct conn *c, const struct msg *m, char *line, size_t size)
{
	struct gbuf *in = &c->p->in;
	char *nl;
	size_t have, n;
	ssize_t got;
	int rc;

	for (;;) {
		have = in->len - c->p->inoff;
		nl = have ? memchr(in->data + c->p->inoff, '\n', have) : NULL;
		if (nl != NULL)
			break;
		if (have > MAX_LINE)
			return smtp_fail(c, m, E_PROTO, "reply line too long");
		if (c->p->inoff > 0) {
			memmove(in->data, in->data + c->p->inoff, have);
			in->len = have;
			c->p->inoff = 0;
		}
		gb_reserve(in, 8192);
		rc = io_wait(c->p->fd, POLLIN, now_mono() + opt.treply);
		if (rc <= 0)
			return smtp_fail(c, m, rc == 0 ? E_TIMEOUT : E_IO,
			    "waiting for a reply");
		got = recv(c->p->fd, in->data + in->len, in->cap - in->len - 1,
		    MSG_DONTWAIT);
		if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR))
			return smtp_fail(c, m, E_DISCONNECT, got == 0 ?
			    "MTA closed the connection" : strerror(errno));
		if (got > 0)
			in->len += (size_t)got;
	}
	n = (size_t)(nl - (in->data + c->p->inoff));
	if (n > 0 && nl[-1] == '\r')
		n--;
	if (n >= size)
		n = size - 1;
	memcpy(line, in->data + c->p->inoff, n);
	line[n] = '\0';
	c->p->inoff = (size_t)(nl - in->data) + 1;
	if (c->p->inoff == in->len)
		c->p->inoff = in->len = 0;
	return 0;
}

/* smtp_reply - read a whole (multi-line) reply; its code, or -1. With
 * xclient, sets *xclient when a line offers the XCLIENT extension */
static int
smtp_reply(struct conn *c, const struct msg *m, int *xclient)
{
	char line[MAX_LINE + 1];
	int code;

	for (;;) {
		if (smtp_line(c, m, line, sizeof(line)) < 0)
			return -1;
		if (strlen(line) < 3 || line[0] < '2' || line[0] > '5' ||
		    (line[3] != '\0' && line[3] != ' ' && line[3] != '-'))
			return smtp_fail(c, m, E_PROTO, "malformed reply");
		code = atoi(line);
		if (xclient != NULL && strlen(line) >= 11 &&
		    strncasecmp(line + 4, "XCLIENT", 7) == 0 &&
		    (line[11] == '\0' || line[11] == ' '))
			*xclient = 1;
		if (opt.verbose)
			cwarn(c, m, "smtp <- %s", line);
		if (line[3] != '-')
			return code;
	}
}

/* smtp_cmd - send a command line, return the reply's code (or -1) */
static int __attribute__((format(printf, 4, 5)))
smtp_cmd(struct conn *c, const struct msg *m, int *xclient,
    const char *fmt, ...)
{
	char line[1200];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line))
		return smtp_fail(c, m, E_PROTO, "command too long");
	if (opt.verbose)
		cwarn(c, m, "smtp -> %.*s", n - 2, line);
	if (smtp_write(c, m, line, (size_t)n) < 0)
		return -1;
	return smtp_reply(c, m, xclient);
}

/* smtp_connect - a TCP connection to the MTA; 0 or -1 */
static int
smtp_connect(struct conn *c, const struct msg *m)
{
	int one = 1;

	c->p->fd = socket(opt.addr[0].ss_family, SOCK_STREAM, 0);
	if (c->p->fd < 0)
		return smtp_fail(c, m, E_CONNECT, strerror(errno));
	if (connect(c->p->fd, (struct sockaddr *)&opt.addr[0],
	    opt.addrlen[0]) < 0)
		return smtp_fail(c, m, E_CONNECT, strerror(errno));
	setsockopt(c->p->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->p->inoff = c->p->in.len = 0;
	return 0;
}

/* smtp_greet - greeting, EHLO, XCLIENT if offered (then EHLO again);
 * 0 when the session is ready for MAIL, else the refusing code or -1 */
static int
smtp_greet(struct conn *c, const struct msg *m)
{
	char addr[128];
	int code, xc = 0;

	if ((code = smtp_reply(c, m, NULL)) != 220)
		return code;
	if ((code = smtp_cmd(c, m, &xc, "EHLO %s\r\n", opt.helo)) != 250)
		return code;
	if (!xc)
		return 0;
	(void)snprintf(addr, sizeof(addr), "%s%s", opt.clientfam ==
	    SMFIA_INET6 ? "IPV6:" : "", opt.clientip);
	code = smtp_cmd(c, m, NULL, "XCLIENT ADDR=%s HELO=%s\r\n", addr,
	    opt.helo);
	/* Postfix greets again (220), smtp-sink says 250 */
	if (code < 200 || code > 299) {
		if (code > 0)
			smtp_fail(c, m, E_PROTO, "XCLIENT refused");
		return -1;
	}
	c->st.xclient++;
	if ((code = smtp_cmd(c, m, NULL, "EHLO %s\r\n", opt.helo)) != 250)
		return code;
	return 0;
}

/* smtp_data - the message's header and stuffed body after DATA's 354 */
static int
smtp_data(struct conn *c, struct msg *m)
{
	struct gbuf *out = &c->p->out;
	const char *v, *lf;
	size_t i;

	out->len = 0;
	for (i = 0; i < m->hdrs.n; i++) {
		gb_add(out, m->hdrs.v[i].name, strlen(m->hdrs.v[i].name));
		gb_add(out, ":", 1);
		/* values fold with LF: the wire wants CRLF */
		for (v = m->hdrs.v[i].value; (lf = strchr(v, '\n')) != NULL;
		    v = lf + 1) {
			gb_add(out, v, (size_t)(lf - v));
			gb_add(out, "\r\n", 2);
		}
		gb_add(out, v, strlen(v));
		gb_add(out, "\r\n", 2);
	}
	gb_add(out, "\r\n", 2);
	if (smtp_write(c, m, out->data, out->len) < 0 ||
	    smtp_write(c, m, smtp_body, smtp_bodylen) < 0)
		return -1;
	return 0;
}

/* smtp_txn - MAIL, RCPT, DATA and the message on a greeted session; the
 * final reply's code (a refused MAIL's or the last RCPT's), or -1 */
static int
smtp_txn(struct conn *c, struct msg *m)
{
	char from[600], rcpt[600];
	unsigned i, ok = 0;
	int code, last = 0;

	msg_addr(from, sizeof(from), m->envfrom);
	if ((code = smtp_cmd(c, m, NULL, "MAIL FROM:%s\r\n", from)) != 250)
		return code;
	for (i = 0; i < opt.nrcpts; i++) {
		msg_addr(rcpt, sizeof(rcpt), opt.rcpts[i]);
		code = smtp_cmd(c, m, NULL, "RCPT TO:%s\r\n", rcpt);
		if (code < 0)
			return code;
		if (code == 250 || code == 251)
			ok++;
		else
			last = code;
	}
	if (ok == 0)
		return last;
	if ((code = smtp_cmd(c, m, NULL, "DATA\r\n")) != 354)
		return code;
	if (smtp_data(c, m) < 0)
		return -1;
	return smtp_reply(c, m, NULL);
}

/* smtp_account - count a message by its final code, with its latency */
static void
smtp_account(struct conn *c, int code, double t0)
{
	c->st.completed++;
	if (code >= 200 && code < 300)
		c->st.accepted++;
	else if (code >= 500)
		c->st.rejected++;
	else
		c->st.tempfailed++;
	if (c->nlat == c->latcap) {
		c->latcap = c->latcap ? 2 * c->latcap : 1024;
		c->lat = realloc(c->lat, c->latcap * sizeof(*c->lat));
		if (c->lat == NULL)
			fatal("out of memory");
	}
	c->lat[c->nlat++] = (now_mono() - t0) * 1000;
}

/* smtp_quit - QUIT, wait for its reply, close; neither timed nor counted
 * (a server that hangs up first is fine) */
static void
smtp_quit(struct conn *c)
{
	char buf[512];

	if (send(c->p->fd, "QUIT\r\n", 6, MSG_NOSIGNAL) == 6 &&
	    io_wait(c->p->fd, POLLIN, now_mono() + opt.treply) > 0)
		(void)recv(c->p->fd, buf, sizeof(buf), MSG_DONTWAIT);
	close(c->p->fd);
	c->p->fd = -1;
}

/* smtp_session - one session carrying message m: connect to QUIT */
static void
smtp_session(struct conn *c, struct msg *m)
{
	double t0 = now_mono();
	int code;

	if (smtp_connect(c, m) < 0)
		return;
	code = smtp_greet(c, m);
	if (code == 0)
		code = smtp_txn(c, m);
	if (code < 0)
		return;		/* counted as an error, session closed */
	smtp_account(c, code, t0);
	if (code >= 200 && code < 300 && opt.outdir != NULL)
		msg_write(c, m);
	smtp_quit(c);
}

/* smtp_main - thread: opt.msgs messages, one SMTP session each */
void *
smtp_main(void *arg)
{
	struct conn *c = arg;
	struct msg m;
	double deadline = tmpl.start + opt.tlimit;
	unsigned i;

	memset(&m, 0, sizeof(m));
	c->p = &c->peers[0];
	c->p->fd = -1;
	for (i = 1; i <= opt.msgs; i++) {
		if (now_mono() >= deadline) {
			c->st.timelimit = 1;
			break;
		}
		msg_init(c, &m, i);
		c->st.sent++;
		smtp_session(c, &m);
	}
	c->st.unsent = opt.msgs - c->st.sent;
	gb_free(&c->p->out);
	gb_free(&c->p->in);
	msg_free(&m);
	return NULL;
}
