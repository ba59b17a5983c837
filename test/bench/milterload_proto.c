/*
 * milterload_proto.c - MTA side of the milter protocol, one connection
 * per thread (with several -S, one connection to each milter of a chain,
 * talked to in turn as Postfix does with smtpd_milters = a, b: every SMTP
 * event goes to each milter in order, then each gets the whole message
 * with the header edits of the milters before it).
 *
 * Option negotiation, then per message macros and steps as Postfix sends
 * them: steps the milter declined (SMFIP_NO*) are skipped, steps without
 * a reply (SMFIP_NR_*) are queued and written with the next step that
 * waits. Sockets are blocking; every wait is a poll() bounded by -T.
 * Modifications are only legal before the final end-of-message reply.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libmilter/mfdef.h>

#include "milterload.h"

#define MAX_PKT		(16u << 20)	/* largest packet we accept from a milter */
#define BODY_CHUNK	65535		/* MILTER_CHUNK_SIZE */

/* What we offer in OPTNEG: every action and every protocol step flag. */
#define OUR_ACTS	SMFI_CURR_ACTS
#define OUR_PROT	SMFI_CURR_PROT

/* conn_fail - count an error and close the connection */
static enum verdict
conn_fail(struct conn *c, const struct msg *m, enum err e, const char *what)
{
	c->st.err[e]++;
	cwarn(c, m, "%s: %s", err_names[e], what);
	if (c->p->fd >= 0)
		close(c->p->fd);
	c->p->fd = -1;
	return V_ERROR;
}

/* io_wait - poll for ev until limit; 1 ready, 0 timed out, -1 error */
int
io_wait(int fd, short ev, double limit)
{
	struct pollfd pfd;
	double left;
	int rc;

	for (;;) {
		left = limit - now_mono();
		if (left <= 0)
			return 0;
		pfd.fd = fd;
		pfd.events = ev;
		pfd.revents = 0;
		rc = poll(&pfd, 1, (int)(left * 1000) + 1);
		if (rc > 0)
			return 1;
		if (rc < 0 && errno != EINTR)
			return -1;
	}
}

/* conn_flush - write all queued packets */
static int
conn_flush(struct conn *c, const struct msg *m)
{
	size_t off = 0;
	ssize_t n;
	int rc;

	while (off < c->p->out.len) {
		n = send(c->p->fd, c->p->out.data + off, c->p->out.len - off,
		    MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
		    errno != EINTR) {
			conn_fail(c, m, E_DISCONNECT, strerror(errno));
			return -1;
		}
		rc = io_wait(c->p->fd, POLLOUT, now_mono() + opt.treply);
		if (rc <= 0) {
			conn_fail(c, m, rc == 0 ? E_TIMEOUT : E_IO,
			    "writing to the milter");
			return -1;
		}
	}
	c->p->out.len = 0;
	return 0;
}

/* pkt_begin - start a packet in the output queue; returns its offset */
static size_t
pkt_begin(struct conn *c, int cmd)
{
	size_t at = c->p->out.len;
	char hdr[5] = { 0, 0, 0, 0, (char)cmd };

	gb_add(&c->p->out, hdr, sizeof(hdr));
	return at;
}

/* pkt_end - fill in the length of the packet started at at */
static void
pkt_end(struct conn *c, size_t at)
{
	uint32_t n = htonl((uint32_t)(c->p->out.len - at - 4));

	memcpy(c->p->out.data + at, &n, 4);
}

/* pkt_read - next packet from the milter; data valid until the next call */
static int
pkt_read(struct conn *c, const struct msg *m, int *cmd, const char **data,
    size_t *len)
{
	uint32_t n;
	ssize_t got;
	size_t have, need = 5;
	int rc;

	for (;;) {
		have = c->p->in.len - c->p->inoff;
		if (have >= 4) {
			memcpy(&n, c->p->in.data + c->p->inoff, 4);
			n = ntohl(n);
			if (n == 0 || n > MAX_PKT) {
				conn_fail(c, m, E_PROTO, "bad packet length");
				return -1;
			}
			need = (size_t)n + 4;
		}
		if (have >= need)
			break;
		if (c->p->inoff > 0) {	/* keep the unread part at the front */
			memmove(c->p->in.data, c->p->in.data + c->p->inoff, have);
			c->p->in.len = have;
			c->p->inoff = 0;
		}
		gb_reserve(&c->p->in, need > 65536 ? need : 65536);
		rc = io_wait(c->p->fd, POLLIN, now_mono() + opt.treply);
		if (rc <= 0) {
			conn_fail(c, m, rc == 0 ? E_TIMEOUT : E_IO,
			    "waiting for a reply");
			return -1;
		}
		got = recv(c->p->fd, c->p->in.data + c->p->in.len,
		    c->p->in.cap - c->p->in.len - 1, MSG_DONTWAIT);
		if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) {
			conn_fail(c, m, E_DISCONNECT, got == 0 ?
			    "milter closed the connection" : strerror(errno));
			return -1;
		}
		if (got > 0)
			c->p->in.len += (size_t)got;
		if (opt.quickack && opt.addr[c->p->k].ss_family != AF_UNIX) {
			int one = 1;	/* re-armed after each read: see -Q */

			setsockopt(c->p->fd, IPPROTO_TCP, TCP_QUICKACK, &one,
			    sizeof(one));
		}
	}
	*cmd = (unsigned char)c->p->in.data[c->p->inoff + 4];
	*data = c->p->in.data + c->p->inoff + 5;
	*len = need - 5;
	c->p->inoff += need;
	if (c->p->inoff == c->p->in.len)
		c->p->inoff = c->p->in.len = 0;
	return 0;
}

/* get_str - take a NUL-terminated string from a packet; NULL if none */
static const char *
get_str(const char **p, size_t *left)
{
	const char *s = *p, *nul = memchr(s, '\0', *left);

	if (nul == NULL)
		return NULL;
	*left -= (size_t)(nul - s) + 1;
	*p = nul + 1;
	return s;
}

/* get_u32 - take a network-order 32-bit number from a packet */
static int
get_u32(const char **p, size_t *left, uint32_t *v)
{
	if (*left < 4)
		return -1;
	memcpy(v, *p, 4);
	*v = ntohl(*v);
	*p += 4;
	*left -= 4;
	return 0;
}

/* out_value - a milter header value as the MTA writes it after "Name:" */
static char *
out_value(const struct conn *c, const char *v)
{
	size_t n = strlen(v);
	char *s;

	if (c->p->prot & SMFIP_HDR_LEADSPC)
		return xstrdup(v);	/* the milter supplied its own space */
	s = xmalloc(n + 2);
	s[0] = ' ';
	memcpy(s + 1, v, n + 1);
	return s;
}

/* apply_chgheader - change, add or (empty value) delete a header */
static void
apply_chgheader(const struct conn *c, struct msg *m, uint32_t idx,
    const char *name, const char *value)
{
	size_t i;
	uint32_t seen = 0;

	if (idx == 0)
		idx = 1;
	for (i = 0; i < m->hdrs.n; i++) {
		if (strcasecmp(m->hdrs.v[i].name, name) != 0 || ++seen < idx)
			continue;
		free(m->hdrs.v[i].value);
		if (*value == '\0') {
			free(m->hdrs.v[i].name);
			memmove(m->hdrs.v + i, m->hdrs.v + i + 1,
			    (m->hdrs.n - i - 1) * sizeof(*m->hdrs.v));
			m->hdrs.n--;
		} else
			m->hdrs.v[i].value = out_value(c, value);
		return;
	}
	if (*value != '\0') {
		char *v = out_value(c, value);

		hl_insert(&m->hdrs, m->hdrs.n, name, v);
		free(v);
	}
}

/* ar_scan - tally the dkim, spf and dmarc results of an added
 * Authentication-Results value: every ";"-separated part that starts with
 * METHOD=RESULT (a ";" inside a comment only makes a part we skip) */
static void
ar_scan(struct msg *m, const char *v)
{
	const char *s = v;
	size_t n;

	for (s = v; s != NULL; s = strchr(s, ';')) {
		if (*s == ';')
			s++;
		s += strspn(s, " \t\r\n");
		if (strncasecmp(s, "dkim=", 5) == 0) {
			n = strcspn(s + 5, " \t\r\n;(");
			if (n == 4 && strncasecmp(s + 5, "pass", 4) == 0)
				m->ar_dkim_pass++;
			else
				m->ar_dkim_other++;
		} else if (strncasecmp(s, "spf=pass", 8) == 0 &&
		    strchr(" \t\r\n;(", s[8]) != NULL)
			m->ar_spf_pass = 1;
		else if (strncasecmp(s, "dmarc=pass", 10) == 0 &&
		    strchr(" \t\r\n;(", s[10]) != NULL)
			m->ar_dmarc_pass = 1;
	}
}

/* apply_mod - record one modification action; -1 if malformed */
static int
apply_mod(struct conn *c, struct msg *m, int cmd, const char *p, size_t left)
{
	const char *name = NULL, *value = NULL;
	uint32_t idx = 0;
	char *v;
	enum mod kind;

	switch (cmd) {
	case SMFIR_ADDHEADER:
	case SMFIR_INSHEADER:
	case SMFIR_CHGHEADER:
		kind = cmd == SMFIR_ADDHEADER ? M_ADDHEADER :
		    cmd == SMFIR_INSHEADER ? M_INSHEADER : M_CHGHEADER;
		if ((cmd != SMFIR_ADDHEADER && get_u32(&p, &left, &idx) < 0) ||
		    (name = get_str(&p, &left)) == NULL ||
		    (value = get_str(&p, &left)) == NULL)
			return -1;
		if (kind != M_CHGHEADER &&
		    strcasecmp(name, "DKIM-Signature") == 0)
			m->signedmsg = 1;
		if (kind != M_CHGHEADER &&
		    strcasecmp(name, "Authentication-Results") == 0)
			ar_scan(m, value);
		/* in a chain the next milter sees the edits, as with
		 * Postfix's smtpd_milters = a, b */
		if (opt.outdir == NULL && opt.nsocks < 2)
			break;
		if (kind == M_CHGHEADER) {
			apply_chgheader(c, m, idx, name, value);
			break;
		}
		v = out_value(c, value);
		hl_insert(&m->hdrs, kind == M_ADDHEADER ? m->hdrs.n : idx,
		    name, v);
		free(v);
		break;
	case SMFIR_CHGFROM:
		kind = M_CHGFROM;
		if ((name = get_str(&p, &left)) == NULL)
			return -1;
		free(m->envfrom);
		m->envfrom = xstrdup(name);
		break;
	case SMFIR_ADDRCPT:
	case SMFIR_DELRCPT:
	case SMFIR_QUARANTINE:
		kind = cmd == SMFIR_ADDRCPT ? M_ADDRCPT :
		    cmd == SMFIR_DELRCPT ? M_DELRCPT : M_QUARANTINE;
		if ((name = get_str(&p, &left)) == NULL)
			return -1;
		if (kind == M_QUARANTINE)
			m->quarantined = 1;
		break;
	case SMFIR_ADDRCPT_PAR:
		kind = M_ADDRCPT_PAR;
		if ((name = get_str(&p, &left)) == NULL)
			return -1;
		break;
	case SMFIR_REPLBODY:
		kind = M_REPLBODY;
		m->replbody = 1;
		if (opt.outdir != NULL)
			gb_add(&m->newbody, p, left);
		name = "(body)";
		break;
	default:
		return -1;
	}
	c->st.mod[kind]++;
	if (opt.verbose)
		cwarn(c, m, "%s %u %s%s%s", mod_names[kind], idx, name,
		    value ? ":" : "", value ? value : "");
	return 0;
}

/* reply_wait - read packets until the final reply to step */
static enum verdict
reply_wait(struct conn *c, struct msg *m, int step)
{
	const char *data;
	size_t len;
	int cmd;

	if (conn_flush(c, m) < 0)
		return V_ERROR;
	for (;;) {
		if (pkt_read(c, m, &cmd, &data, &len) < 0)
			return V_ERROR;
		if (opt.verbose && cmd != SMFIR_PROGRESS && strchr("cartdsy4f",
		    cmd) != NULL)
			cwarn(c, m, "reply '%c' to '%c'%s%.*s", cmd, step,
			    len ? " " : "", (int)(len ? len - 1 : 0), data);
		switch (cmd) {
		case SMFIR_CONTINUE:
			return V_CONTINUE;
		case SMFIR_ACCEPT:
			return V_ACCEPT;
		case SMFIR_REJECT:
			return V_REJECT;
		case SMFIR_TEMPFAIL:
			return V_TEMPFAIL;
		case SMFIR_DISCARD:
			return V_DISCARD;
		case SMFIR_SHUTDOWN:
		case SMFIR_CONN_FAIL:
			return V_SHUTDOWN;
		case SMFIR_SKIP:
			if (step != SMFIC_BODY)
				return conn_fail(c, m, E_PROTO, "skip outside body");
			return V_SKIP;
		case SMFIR_REPLYCODE:
			if (len >= 4 && (data[0] == '4' || data[0] == '5') &&
			    data[len - 1] == '\0')
				return data[0] == '4' ? V_TEMPFAIL : V_REJECT;
			return conn_fail(c, m, E_PROTO, "bad reply code");
		case SMFIR_PROGRESS:
			c->st.mod[M_PROGRESS]++;
			continue;
		default:
			break;
		}
		if (step != SMFIC_BODYEOB) {
			char why[64];

			snprintf(why, sizeof(why), "reply '%c' to step '%c'",
			    cmd, step);
			return conn_fail(c, m, E_PROTO, why);
		}
		if (apply_mod(c, m, cmd, data, len) < 0) {
			char why[64];

			snprintf(why, sizeof(why), "bad or unknown action '%c'",
			    cmd);
			return conn_fail(c, m, E_PROTO, why);
		}
	}
}

/* step_send - finish a step: wait for its reply unless told not to */
static enum verdict
step_send(struct conn *c, struct msg *m, int step, uint32_t noreply)
{
	if (c->p->prot & noreply) {
		if (c->p->out.len >= 256 * 1024 && conn_flush(c, m) < 0)
			return V_ERROR;
		return V_CONTINUE;
	}
	return reply_wait(c, m, step);
}

/* send_macros - SMFIC_MACRO for a step; pairs name, value; NULL value skips */
static void
send_macros(struct conn *c, int step, const char *const *kv, size_t n)
{
	size_t at, i;
	char s[2] = { (char)step, 0 };

	at = pkt_begin(c, SMFIC_MACRO);
	gb_add(&c->p->out, s, 1);
	for (i = 0; i + 1 < n; i += 2) {
		if (kv[i + 1] == NULL)
			continue;
		gb_str0(&c->p->out, kv[i]);
		gb_str0(&c->p->out, kv[i + 1]);
	}
	pkt_end(c, at);
}

/* send_str - a packet whose data is one or two C strings */
static void
send_str(struct conn *c, int cmd, const char *a, const char *b)
{
	size_t at = pkt_begin(c, cmd);

	if (a != NULL)
		gb_str0(&c->p->out, a);
	if (b != NULL)
		gb_str0(&c->p->out, b);
	pkt_end(c, at);
}

/* msg_headers - send the headers, then EOH */
static enum verdict
msg_headers(struct conn *c, struct msg *m)
{
	const char *v, *mi[] = { "i", m->qid };
	enum verdict vd;
	size_t i;

	if (!(c->p->prot & SMFIP_NOHDRS)) {
		for (i = 0; i < m->hdrs.n; i++) {
			v = m->hdrs.v[i].value;
			if (!(c->p->prot & SMFIP_HDR_LEADSPC))
				v += strspn(v, " \t");
			send_str(c, SMFIC_HEADER, m->hdrs.v[i].name, v);
			vd = step_send(c, m, SMFIC_HEADER, SMFIP_NR_HDR);
			if (vd != V_CONTINUE)
				return vd;
		}
	}
	if (c->p->prot & SMFIP_NOEOH)
		return V_CONTINUE;
	send_macros(c, SMFIC_EOH, mi, 2);
	send_str(c, SMFIC_EOH, NULL, NULL);
	return step_send(c, m, SMFIC_EOH, SMFIP_NR_EOH);
}

/* msg_body - send the body in chunks, then end of message */
static enum verdict
msg_body(struct conn *c, struct msg *m)
{
	const char *mi[] = { "i", m->qid };
	enum verdict vd;
	size_t off, n, at;

	for (off = 0; !(c->p->prot & SMFIP_NOBODY) && off < tmpl.bodylen; off += n) {
		n = tmpl.bodylen - off < BODY_CHUNK ? tmpl.bodylen - off :
		    BODY_CHUNK;
		at = pkt_begin(c, SMFIC_BODY);
		gb_add(&c->p->out, tmpl.body + off, n);
		pkt_end(c, at);
		vd = step_send(c, m, SMFIC_BODY, SMFIP_NR_BODY);
		if (vd == V_SKIP)
			break;
		if (vd != V_CONTINUE)
			return vd;
	}
	send_macros(c, SMFIC_BODYEOB, mi, 2);
	send_str(c, SMFIC_BODYEOB, NULL, NULL);
	vd = reply_wait(c, m, SMFIC_BODYEOB);
	if (vd != V_ERROR)
		c->p->at_eob = 1;
	return vd;
}

/* peer_steps - run step for every milter of the chain still taking part,
 * in chain order, as Postfix does for each SMTP event (smtpd_milters =
 * a, b): an accept ends that milter's part (of the connection when m is
 * NULL, else of the message); any other verdict but continue ends it all */
static enum verdict
peer_steps(struct conn *c, struct msg *m,
    enum verdict (*step)(struct conn *, struct msg *, const void *),
    const void *arg)
{
	enum verdict vd;
	unsigned k;

	for (k = 0; k < opt.nsocks; k++) {
		c->p = &c->peers[k];
		if (c->p->conn_done || c->p->msg_done)
			continue;
		vd = step(c, m, arg);
		if (vd == V_ACCEPT) {
			if (m == NULL)
				c->p->conn_done = 1;
			else
				c->p->msg_done = 1;
			continue;
		}
		if (vd != V_CONTINUE)
			return vd;
	}
	return V_CONTINUE;
}

/* step_mail - MAIL FROM and its macros */
static enum verdict
step_mail(struct conn *c, struct msg *m, const void *unused)
{
	char arg[600];
	const char *mm[] = {
		"i", m->qid, "{auth_type}", opt.authuser ? "PLAIN" : NULL,
		"{auth_authen}", opt.authuser, "{mail_addr}", m->envfrom,
	};

	(void)unused;
	if (c->p->prot & SMFIP_NOMAIL)
		return V_CONTINUE;
	send_macros(c, SMFIC_MAIL, mm, 8);
	msg_addr(arg, sizeof(arg), m->envfrom);
	send_str(c, SMFIC_MAIL, arg, NULL);
	return step_send(c, m, SMFIC_MAIL, SMFIP_NR_MAIL);
}

/* step_rcpt - RCPT TO rcpt and its macros */
static enum verdict
step_rcpt(struct conn *c, struct msg *m, const void *rcpt)
{
	char arg[600];
	const char *mr[] = { "i", m->qid, "{rcpt_addr}", rcpt };

	if (c->p->prot & SMFIP_NORCPT)
		return V_CONTINUE;
	send_macros(c, SMFIC_RCPT, mr, 4);
	msg_addr(arg, sizeof(arg), rcpt);
	send_str(c, SMFIC_RCPT, arg, NULL);
	return step_send(c, m, SMFIC_RCPT, SMFIP_NR_RCPT);
}

/* step_data - DATA */
static enum verdict
step_data(struct conn *c, struct msg *m, const void *unused)
{
	const char *mi[] = { "i", m->qid };

	(void)unused;
	if (c->p->prot & SMFIP_NODATA)
		return V_CONTINUE;
	send_macros(c, SMFIC_DATA, mi, 2);
	send_str(c, SMFIC_DATA, NULL, NULL);
	return step_send(c, m, SMFIC_DATA, SMFIP_NR_DATA);
}

/* step_content - headers, body and end of message; in a chain each milter
 * gets the whole message in turn, with the header edits of the milters
 * before it (Postfix's cleanup applies them to the queue file first) */
static enum verdict
step_content(struct conn *c, struct msg *m, const void *unused)
{
	enum verdict vd;

	(void)unused;
	if ((vd = msg_headers(c, m)) != V_CONTINUE)
		return vd;
	vd = msg_body(c, m);
	return vd == V_CONTINUE ? V_ACCEPT : vd;
}

/* msg_run - one transaction from MAIL FROM to the end-of-message replies */
static enum verdict
msg_run(struct conn *c, struct msg *m)
{
	enum verdict vd, last = V_REJECT;
	unsigned i, ok = 0;

	if ((vd = peer_steps(c, m, step_mail, NULL)) != V_CONTINUE)
		return vd;
	for (i = 0; i < opt.nrcpts; i++) {
		vd = peer_steps(c, m, step_rcpt, opt.rcpts[i]);
		if (vd == V_CONTINUE)
			ok++;
		else if (vd == V_REJECT || vd == V_TEMPFAIL)
			last = vd;	/* this recipient only */
		else
			return vd;
	}
	if (ok == 0)
		return last;
	if ((vd = peer_steps(c, m, step_data, NULL)) != V_CONTINUE)
		return vd;
	vd = peer_steps(c, m, step_content, NULL);
	return vd == V_CONTINUE ? V_ACCEPT : vd;
}

/* msg_account - count a finished message; write it out if accepted */
static void
msg_account(struct conn *c, struct msg *m, enum verdict vd, double t0)
{
	c->st.completed++;
	switch (vd) {
	case V_ACCEPT:
		c->st.accepted++;
		c->st.signedmsgs += m->signedmsg;
		c->st.authpass += m->ar_dkim_pass >= (opt.nkeys ? opt.nkeys : 1)
		    && m->ar_dkim_other == 0 && m->ar_spf_pass &&
		    m->ar_dmarc_pass;
		c->st.quarantined += m->quarantined;
		if (opt.outdir != NULL)
			msg_write(c, m);
		break;
	case V_REJECT:
		c->st.rejected++;
		break;
	case V_DISCARD:
		c->st.discarded++;
		break;
	default:
		c->st.tempfailed++;
		break;
	}
	if (t0 <= 0)
		return;
	if (c->nlat == c->latcap) {
		c->latcap = c->latcap ? 2 * c->latcap : 1024;
		c->lat = realloc(c->lat, c->latcap * sizeof(*c->lat));
		if (c->lat == NULL)
			fatal("out of memory");
	}
	c->lat[c->nlat++] = (now_mono() - t0) * 1000;
}

/* conn_open - connect, negotiate options; V_CONTINUE when ready */
static enum verdict
conn_open(struct conn *c)
{
	uint32_t v[3], ver, acts, prot;
	const char *data;
	size_t len, at;
	int cmd, one = 1;

	c->p->fd = socket(opt.addr[c->p->k].ss_family, SOCK_STREAM, 0);
	if (c->p->fd < 0)
		return conn_fail(c, NULL, E_CONNECT, strerror(errno));
	if (connect(c->p->fd, (struct sockaddr *)&opt.addr[c->p->k],
	    opt.addrlen[c->p->k]) < 0)
		return conn_fail(c, NULL, E_CONNECT, strerror(errno));
	if (opt.addr[c->p->k].ss_family != AF_UNIX)
		setsockopt(c->p->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	v[0] = htonl(SMFI_PROT_VERSION);
	v[1] = htonl(OUR_ACTS);
	v[2] = htonl(OUR_PROT);
	at = pkt_begin(c, SMFIC_OPTNEG);
	gb_add(&c->p->out, v, sizeof(v));
	pkt_end(c, at);
	if (conn_flush(c, NULL) < 0 || pkt_read(c, NULL, &cmd, &data, &len) < 0)
		return V_ERROR;
	if (cmd != SMFIC_OPTNEG || len < 12)
		return conn_fail(c, NULL, E_PROTO, "bad option negotiation reply");
	get_u32(&data, &len, &ver);
	get_u32(&data, &len, &acts);
	get_u32(&data, &len, &prot);
	if (ver < 2 || ver > SMFI_PROT_VERSION)
		return conn_fail(c, NULL, E_PROTO, "unsupported milter version");
	if ((prot & ~(uint32_t)OUR_PROT) || (acts & ~(uint32_t)OUR_ACTS))
		cwarn(c, NULL, "milter asks for unoffered actions 0x%x or "
		    "protocol 0x%x; ignored", acts & ~(uint32_t)OUR_ACTS,
		    prot & ~(uint32_t)OUR_PROT);
	c->p->prot = prot & OUR_PROT;
	if (opt.verbose)
		cwarn(c, NULL, "negotiated version %u actions 0x%x protocol 0x%x",
		    ver, acts, prot);
	return V_CONTINUE;
}

/* step_connect - SMFIC_CONNECT with its macros */
static enum verdict
step_connect(struct conn *c, struct msg *unused, const void *unused2)
{
	char host[80], client[128];
	const char *mc[] = {
		"j", "mx.milterload.test", "{daemon_name}", opt.daemon,
		"{daemon_addr}", "127.0.0.1", "v", "milterload 1.0",
		"_", client, "{client_addr}", opt.clientip,
		"{client_name}", host,
	};
	uint16_t port = htons((uint16_t)(10000 + c->id % 50000));
	char fam[1] = { (char)opt.clientfam };
	size_t at;

	(void)unused;
	(void)unused2;
	if (c->p->prot & SMFIP_NOCONNECT)
		return V_CONTINUE;
	if (opt.clientfam == SMFIA_UNIX)
		(void)snprintf(host, sizeof(host), "localhost");
	else
		(void)snprintf(host, sizeof(host), "[%s]", opt.clientip);
	(void)snprintf(client, sizeof(client), "%s [%s]", host, opt.clientip);
	send_macros(c, SMFIC_CONNECT, mc, 14);
	at = pkt_begin(c, SMFIC_CONNECT);
	gb_str0(&c->p->out, host);
	gb_add(&c->p->out, fam, 1);
	gb_add(&c->p->out, &port, 2);
	gb_str0(&c->p->out, opt.clientip);
	pkt_end(c, at);
	return step_send(c, NULL, SMFIC_CONNECT, SMFIP_NR_CONN);
}

/* step_helo - SMFIC_HELO */
static enum verdict
step_helo(struct conn *c, struct msg *unused, const void *unused2)
{
	(void)unused;
	(void)unused2;
	if (c->p->prot & SMFIP_NOHELO)
		return V_CONTINUE;
	send_str(c, SMFIC_HELO, opt.helo, NULL);
	return step_send(c, NULL, SMFIC_HELO, SMFIP_NR_HELO);
}

/* conn_greet - open every milter of the chain, then CONNECT and HELO */
static enum verdict
conn_greet(struct conn *c)
{
	enum verdict vd;
	unsigned k;

	for (k = 0; k < opt.nsocks; k++) {
		c->p = &c->peers[k];
		if ((vd = conn_open(c)) != V_CONTINUE)
			return vd;
	}
	if ((vd = peer_steps(c, NULL, step_connect, NULL)) != V_CONTINUE)
		return vd;
	return peer_steps(c, NULL, step_helo, NULL);
}

/* sleep_until - sleep (never spin) until monotonic time t */
void
sleep_until(double t)
{
	struct timespec ts;

	if (t <= now_mono())
		return;
	ts.tv_sec = (time_t)t;
	ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
	if (ts.tv_nsec > 999999999)
		ts.tv_nsec = 999999999;
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* msg_start - when message i of connection c may start; with -R the
 * connections take turns on one schedule of opt.rate messages/s */
static double
msg_start(const struct conn *c, unsigned i)
{
	double t = tmpl.start + opt.hold;

	if (opt.rate > 0)
		t += ((double)(i - 1) * opt.conns + (c->id - 1)) / opt.rate;
	return t;
}

/* conn_message - message m on the open connection c, counted with
 * latency from t0; V_ERROR when the connection failed (not counted) */
enum verdict
conn_message(struct conn *c, struct msg *m, double t0)
{
	enum verdict vd;
	unsigned k;

	for (k = 0; k < opt.nsocks; k++)
		c->peers[k].msg_done = c->peers[k].at_eob = 0;
	vd = msg_run(c, m);
	if (vd == V_ERROR)
		return vd;
	for (k = 0; k < opt.nsocks; k++) {
		/* tell a milter this transaction is over */
		c->p = &c->peers[k];
		if (!c->p->at_eob && !c->p->conn_done && c->p->fd >= 0)
			send_str(c, SMFIC_ABORT, NULL, NULL);
	}
	m->at_eob = 1;
	for (k = 0; k < opt.nsocks; k++)
		if (!c->peers[k].at_eob && !c->peers[k].msg_done)
			m->at_eob = 0;
	msg_account(c, m, vd, t0);
	return vd;
}

/* conn_open_all - connect c to every milter, CONNECT and HELO; its verdict */
enum verdict
conn_open_all(struct conn *c)
{
	unsigned k;

	for (k = 0; k < MAX_MILTERS; k++) {
		c->peers[k].k = k;
		c->peers[k].fd = -1;
	}
	return conn_greet(c);
}

/* conn_close_all - QUIT and close every milter connection of c */
void
conn_close_all(struct conn *c)
{
	unsigned k;

	for (k = 0; k < opt.nsocks; k++) {
		c->p = &c->peers[k];
		if (c->p->fd >= 0) {
			send_str(c, SMFIC_QUIT, NULL, NULL);
			if (conn_flush(c, NULL) == 0) {
				close(c->p->fd);
				c->p->fd = -1;
			}
		}
		gb_free(&c->p->out);
		gb_free(&c->p->in);
	}
}

/* conn_main - thread: one milter connection, opt.msgs messages */
void *
conn_main(void *arg)
{
	struct conn *c = arg;
	struct msg m;
	enum verdict cv, vd;
	double deadline = tmpl.start + opt.tlimit, t0;
	unsigned i;

	memset(&m, 0, sizeof(m));
	cv = conn_open_all(c);
	for (i = 1; i <= opt.msgs && cv != V_ERROR; i++) {
		/* With -R, latency counts from the scheduled start: a milter
		 * that falls behind cannot hide it by slowing us down. */
		t0 = msg_start(c, i);
		if (t0 >= deadline || now_mono() >= deadline) {
			c->st.timelimit = 1;
			break;
		}
		sleep_until(t0);
		if (opt.rate <= 0)
			t0 = now_mono();
		msg_init(c, &m, i);
		c->st.sent++;
		if (cv != V_CONTINUE) {	/* decided for the whole session */
			msg_account(c, &m, cv, 0);
			continue;
		}
		vd = conn_message(c, &m, t0);
		if (vd == V_ERROR || vd == V_SHUTDOWN)
			break;
	}
	c->st.unsent = opt.msgs - c->st.sent;
	conn_close_all(c);
	msg_free(&m);
	return NULL;
}
