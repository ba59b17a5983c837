/*
 * fuzz_engine.c - libFuzzer target for the milter protocol engine
 * (engine.c, mta.c): the input is what an MTA sends on one connection.
 *
 * The input goes into one end of a socketpair, engine_serve runs on the
 * other end in this thread, and a helper thread writes the input, then
 * reads and keeps the engine's replies, so neither side blocks. The
 * callbacks use every mta_* function (macros, replies, and in eom every
 * modification, with strings taken from the input) and check the order
 * they are called in (fuzz_order: what engine.h promises, whatever the
 * input's order); the replies are then checked: well-formed packets,
 * modifications only right before a final reply, reply texts with '%'
 * doubled.
 *
 * An input that does not start with an OPTNEG packet gets Postfix's one
 * put in front, so the fuzzer reaches the later states quickly.
 *
 * Build (clang, in a configured build dir): make fuzz-build, then
 *   test/fuzz/build/fuzz_engine -max_total_time=60
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/buf.h"
#include "daemon/engine.h"
#include "base/log.h"
#include "daemon/mta.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Postfix 3.7's OPTNEG: version 6, all actions, all protocol steps. */
static const unsigned char postfix_optneg[] = {
	0, 0, 0, 13, 'O', 0, 0, 0, 6, 0, 0, 0x01, 0xff, 0, 0x1f, 0xff, 0xff
};

/* The MTA side of one run: what to write, what came back. */
struct peer {
	int fd;				/* the MTA's end */
	const unsigned char *pre;	/* written first (may be NULL) */
	size_t prelen;
	const unsigned char *in;	/* then the fuzz input */
	size_t inlen;
	struct buf replies;		/* everything the engine wrote */
};

/* Where the callbacks are: what they may see next (fuzz_order). */
enum where { W_NEW, W_CONN, W_MAIL, W_HEADERS, W_BODY };

/* Per connection state, as the real callbacks keep one. */
struct conn {
	char name[128];			/* the last header name */
	char value[1024];		/* the last header value */
	char from[256];			/* argv[0] of the last MAIL */
	unsigned pick;			/* input-driven choices */
	enum where where;		/* the callbacks' place in the protocol */
};

/* fuzz_copy - a bounded copy of a string */
static void
fuzz_copy(char *dst, size_t size, const char *src)
{
	size_t n = strnlen(src, size - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* fuzz_mix - fold a string into the choice word */
static void
fuzz_mix(struct conn *c, const char *p)
{
	for (; *p != '\0'; p++)
		c->pick = c->pick * 31 + (unsigned char)*p;
}

/* fuzz_status - an answer chosen by the input */
static enum engine_status
fuzz_status(struct conn *c)
{
	static const enum engine_status st[] = { ENGINE_CONTINUE,
	    ENGINE_CONTINUE, ENGINE_CONTINUE, ENGINE_ACCEPT, ENGINE_REJECT,
	    ENGINE_TEMPFAIL, ENGINE_DISCARD };

	return st[c->pick % (sizeof(st) / sizeof(st[0]))];
}

/* fuzz_conn - the connection state, made on first use */
static struct conn *
fuzz_conn(struct engine_session *s)
{
	struct conn *c = mta_get_state(s);

	if (c == NULL) {
		c = calloc(1, sizeof(*c));
		if (c == NULL)
			abort();
		mta_set_state(s, c);
	}
	return c;
}

/*
 * fuzz_order - a callback in its place, or abort(): connect first, helo
 * and envfrom outside a message, then envrcpt, headers, eoh once, body
 * after it, and eom or abort, whatever order the input has (this filter
 * asks no NR_CONN or NR_HELO, so no held refusal skips an envfrom)
 */
static void
fuzz_order(struct conn *c, enum where from_min, enum where from_max,
    enum where to)
{
	if (c->where < from_min || c->where > from_max)
		abort();
	c->where = to;
}

/* fuzz_lookups - look up the macros the real callbacks use */
static void
fuzz_lookups(struct engine_session *s, struct conn *c)
{
	static const char *const names[] = { "i", "{i}", "j", "{auth_authen}",
	    "{daemon_name}", "{mail_addr}", "{rcpt_addr}", "{client_addr}",
	    "{", "{}", "" };
	const char *v;
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if ((v = mta_macro(s, names[i])) != NULL)
			fuzz_mix(c, v);
}

/* fuzz_no_mods - outside eom every modification must be refused */
static void
fuzz_no_mods(struct engine_session *s)
{
	if (mta_insert_header(s, NULL, 0, "X-Fuzz", " v") != -1
	    || mta_delete_header(s, NULL, "X-Fuzz", 1) != -1
	    || mta_change_from(s, NULL, "<a@example.com>", NULL) != -1
	    || mta_add_rcpt(s, NULL, "<a@example.com>") != -1
	    || mta_del_rcpt(s, NULL, "<a@example.com>") != -1
	    || mta_quarantine(s, NULL, "x") != -1)
		abort();
}

/* fuzz_reply - set a reply text taken from the input */
static void
fuzz_reply(struct engine_session *s, struct conn *c, const char *text)
{
	if (c->pick % 3 == 0)
		(void)mta_set_reply(s, NULL, "550", "5.7.1", text);
	else if (c->pick % 3 == 1)
		(void)mta_set_reply(s, NULL, "451", "4.7.1", text);
}

/* cb_connect - connection state and macros */
static enum engine_status
cb_connect(struct engine_session *s, const char *host, const char *addr)
{
	struct conn *c = fuzz_conn(s);

	fuzz_order(c, W_NEW, W_NEW, W_CONN);
	fuzz_mix(c, host);
	if (addr != NULL)
		fuzz_mix(c, addr);
	fuzz_lookups(s, c);
	fuzz_no_mods(s);
	fuzz_reply(s, c, host);
	return fuzz_status(c);
}

/* cb_helo - macros */
static enum engine_status
cb_helo(struct engine_session *s, const char *name)
{
	struct conn *c = fuzz_conn(s);

	fuzz_order(c, W_CONN, W_CONN, W_CONN);
	fuzz_mix(c, name);
	fuzz_lookups(s, c);
	return fuzz_status(c);
}

/* cb_envfrom - keep the path; a reply from the input */
static enum engine_status
cb_envfrom(struct engine_session *s, char **argv)
{
	struct conn *c = fuzz_conn(s);
	int i;

	fuzz_order(c, W_CONN, W_CONN, W_MAIL);
	for (i = 0; argv[i] != NULL; i++)
		fuzz_mix(c, argv[i]);
	fuzz_copy(c->from, sizeof(c->from), argv[0]);
	fuzz_lookups(s, c);
	fuzz_no_mods(s);
	fuzz_reply(s, c, argv[0]);
	return fuzz_status(c);
}

/* cb_envrcpt - a reply from the input */
static enum engine_status
cb_envrcpt(struct engine_session *s, char **argv)
{
	struct conn *c = fuzz_conn(s);
	int i;

	fuzz_order(c, W_MAIL, W_MAIL, W_MAIL);
	for (i = 0; argv[i] != NULL; i++)
		fuzz_mix(c, argv[i]);
	fuzz_lookups(s, c);
	fuzz_reply(s, c, argv[argv[1] != NULL ? 1 : 0]);
	return fuzz_status(c);
}

/* cb_header - keep the last header */
static enum engine_status
cb_header(struct engine_session *s, const char *name, const char *value)
{
	struct conn *c = fuzz_conn(s);

	fuzz_order(c, W_MAIL, W_HEADERS, W_HEADERS);
	fuzz_copy(c->name, sizeof(c->name), name);
	fuzz_copy(c->value, sizeof(c->value), value);
	fuzz_mix(c, name);
	fuzz_lookups(s, c);
	fuzz_no_mods(s);
	return fuzz_status(c);
}

/* cb_eoh - macros */
static enum engine_status
cb_eoh(struct engine_session *s)
{
	struct conn *c = fuzz_conn(s);

	fuzz_order(c, W_MAIL, W_HEADERS, W_BODY);
	fuzz_lookups(s, c);
	return fuzz_status(c);
}

/* cb_body - look at every byte */
static enum engine_status
cb_body(struct engine_session *s, const unsigned char *data, size_t len)
{
	struct conn *c = fuzz_conn(s);
	size_t i;

	fuzz_order(c, W_BODY, W_BODY, W_BODY);
	for (i = 0; i < len; i++)
		c->pick = c->pick * 31 + data[i];
	fuzz_no_mods(s);
	return fuzz_status(c);
}

/* cb_eom - every modification, with strings from the input */
static enum engine_status
cb_eom(struct engine_session *s)
{
	struct conn *c = fuzz_conn(s);
	const char *name = c->name[0] != '\0' ? c->name : "X-Fuzz";

	fuzz_order(c, W_BODY, W_BODY, W_CONN);
	fuzz_lookups(s, c);
	(void)mta_insert_header(s, NULL, (int)(c->pick % 4) - 1, name, c->value);
	(void)mta_insert_header(s, NULL, 0, "Authentication-Results", c->value);
	(void)mta_delete_header(s, NULL, name, (int)(c->pick % 3));
	(void)mta_change_from(s, NULL, c->from, c->value);
	(void)mta_change_from(s, NULL, c->from, NULL);
	(void)mta_add_rcpt(s, NULL, c->value);
	(void)mta_del_rcpt(s, NULL, c->from);
	(void)mta_quarantine(s, NULL, c->value);
	fuzz_reply(s, c, c->value);
	return fuzz_status(c);
}

/* cb_abort - the message's state goes */
static void
cb_abort(struct engine_session *s)
{
	struct conn *c = mta_get_state(s);

	if (c == NULL)
		abort();		/* no message without CONNECT */
	fuzz_order(c, W_MAIL, W_BODY, W_CONN);
	c->name[0] = c->value[0] = c->from[0] = '\0';
}

/* cb_close - the connection's state goes */
static void
cb_close(struct engine_session *s)
{
	free(mta_get_state(s));
	mta_set_state(s, NULL);
}

/* The filter: what authmilter asks for, plus macro lists. */
static const struct engine_callbacks fuzz_cb = {
	.actions_required = PROTO_F_ADDHDRS | PROTO_F_CHGHDRS,
	.actions_wanted = PROTO_F_ADDHDRS | PROTO_F_CHGHDRS | PROTO_F_QUARANTINE
	    | PROTO_F_CHGFROM | PROTO_F_ADDRCPT | PROTO_F_DELRCPT,
	.proto_wanted = PROTO_P_NR_HDR | PROTO_P_NR_BODY | PROTO_P_NOUNKNOWN
	    | PROTO_P_HDR_LEADSPC,
	.macros = { [PROTO_M_ENVFROM] = "{auth_authen} i",
	    [PROTO_M_EOM] = "i {auth_authen}" },
	.connect = cb_connect,
	.helo = cb_helo,
	.envfrom = cb_envfrom,
	.envrcpt = cb_envrcpt,
	.header = cb_header,
	.eoh = cb_eoh,
	.body = cb_body,
	.eom = cb_eom,
	.abort = cb_abort,
	.close = cb_close,
};

/* peer_thread - write the input, read the replies until the engine closes */
static void *
peer_thread(void *arg)
{
	struct peer *p = arg;
	struct pollfd pfd;
	char junk[65536];
	size_t off = 0, total = p->prelen + p->inlen;
	ssize_t n;
	int writing = 1;

	pfd.fd = p->fd;
	for (;;) {
		pfd.events = POLLIN | (writing ? POLLOUT : 0);
		pfd.revents = 0;
		if (poll(&pfd, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			abort();
		}
		if (writing && (pfd.revents & (POLLOUT | POLLERR | POLLHUP))) {
			const unsigned char *src = off < p->prelen ? p->pre + off
			    : p->in + (off - p->prelen);
			size_t len = off < p->prelen ? p->prelen - off : total - off;

			n = len > 0 ? send(p->fd, src, len, MSG_NOSIGNAL | MSG_DONTWAIT)
			    : 0;
			if (n > 0)
				off += (size_t)n;
			if (off == total || (n < 0 && errno != EAGAIN
			    && errno != EINTR)) {
				shutdown(p->fd, SHUT_WR);	/* the engine sees EOF */
				writing = 0;
			}
		}
		if (pfd.revents & (POLLIN | POLLERR | POLLHUP)) {
			n = recv(p->fd, junk, sizeof(junk), MSG_DONTWAIT);
			if (n > 0)
				buf_append(&p->replies, junk, (size_t)n);
			else if (n == 0 || (errno != EAGAIN && errno != EINTR))
				break;		/* the engine closed its end */
		}
	}
	return NULL;
}

/* fuzz_in - cmd is one of set (never the NUL strchr would find) */
static int
fuzz_in(const char *set, int cmd)
{
	return cmd != '\0' && strchr(set, cmd) != NULL;
}

/* fuzz_is_mod - a modification packet */
static int
fuzz_is_mod(int cmd)
{
	return fuzz_in("+-ehimq", cmd);
}

/* fuzz_check_replies - what the engine wrote is a sane reply stream */
static void
fuzz_check_replies(const struct buf *r)
{
	const unsigned char *p = (const unsigned char *)r->data;
	size_t off = 0, i;
	uint32_t len;
	int cmd, last = 0;

	while (off < r->len) {
		if (r->len - off < 5)
			abort();			/* a cut packet */
		memcpy(&len, p + off, 4);
		len = ntohl(len);
		if (len == 0 || len > r->len - off - 4)
			abort();
		cmd = p[off + 4];
		if (!fuzz_in("+-acdehimOqrty", cmd))
			abort();			/* not a reply we send */
		if (fuzz_is_mod(cmd) && (len < 2 || p[off + 4 + len - 1] != '\0'))
			abort();			/* strings without their NUL */
		if (cmd == 'y') {
			const char *t = (const char *)p + off + 5;

			if (len < 5 || len > 513 || t[len - 2] != '\0'
			    || (t[0] != '4' && t[0] != '5'))
				abort();
			for (i = 0; t[i] != '\0'; i++)	/* '%' always doubled */
				if (t[i] == '%' && t[++i] != '%')
					abort();
		}
		/* modifications come only right before the final reply */
		if (fuzz_is_mod(last) && !fuzz_is_mod(cmd)
		    && !fuzz_in("acdrty", cmd))
			abort();
		last = cmd;
		off += 4 + len;
	}
	if (fuzz_is_mod(last))
		abort();
}

/* LLVMFuzzerInitialize - quiet logs, no SIGPIPE */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	signal(SIGPIPE, SIG_IGN);
	log_set_level(LOG_CRIT);	/* every bad packet would log a warning */
	return 0;
}

/* LLVMFuzzerTestOneInput - one MTA connection */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct peer p;
	pthread_t t;
	int sv[2];

	memset(&p, 0, sizeof(p));
	if (size < 5 || data[4] != PROTO_C_OPTNEG) {
		p.pre = postfix_optneg;
		p.prelen = sizeof(postfix_optneg);
	}
	p.in = data;
	p.inlen = size;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		abort();
	p.fd = sv[0];
	if (pthread_create(&t, NULL, peer_thread, &p) != 0)
		abort();
	engine_serve(sv[1], &fuzz_cb, 5);
	close(sv[1]);
	pthread_join(t, NULL);
	close(sv[0]);
	fuzz_check_replies(&p.replies);
	buf_free(&p.replies);
	return 0;
}
