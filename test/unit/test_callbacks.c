/*
 * test_callbacks.c - the real callback table (callbacks.c) served by the
 * real engine over a socketpair, with a configuration snapshot and its
 * runtime started on a scripted DNS server: a UDP responder in this
 * process answering from a table, bound to a loopback port.
 *
 * The test plays an MTA that asks for a reply to every command (no
 * "no reply" steps offered), so each step's answer is read in order; the
 * modifications sent at end of message are logged one per line and
 * compared whole. "Headers in, edits out" for the three end-of-message
 * paths (sign, judge, pass-through bounce) and the refusals.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "base/buf.h"
#include "daemon/callbacks.h"
#include "policy/config.h"
#include "daemon/engine.h"
#include "base/log.h"
#include "base/stats.h"
#include "daemon/protocol.h"
#include "policy/runtime.h"
#include "testutil.h"

#define TEST_TIMEOUT	10	/* seconds before a stuck read fails */
#define ALL_MODS	(PROTO_F_ADDHDRS | PROTO_F_CHGHDRS | PROTO_F_QUARANTINE \
	| PROTO_F_CHGFROM | PROTO_F_ADDRCPT | PROTO_F_DELRCPT)

/* One scripted DNS record; rdata NULL: the query gets no answer at all. */
struct dns_rr {
	const char *name;
	int type;		/* 1 A, 16 TXT */
	const char *rdata;	/* TXT text, or A in dotted form */
};

static const struct dns_rr zone[] = {
	{ "example.net", 16, "v=spf1 ip4:192.0.2.1 -all" },
	{ "_dmarc.example.net", 16, "v=DMARC1; p=reject" },
	{ "example.org", 16, NULL },		/* SPF lookup times out */
	{ "_dmarc.example.org", 16, "v=DMARC1; p=reject" },
	{ "other.example", 16, "v=spf1 ip4:192.0.2.1 -all" },
	{ NULL, 0, NULL }
};

static int dns_fd = -1;			/* the responder's socket */
static pthread_t dns_thread;
static char *dir;
static struct config *cfg;

/* dns_qname - the query's name in dotted form; offset past it, or 0 */
static size_t
dns_qname(const unsigned char *p, size_t len, char *out, size_t outlen)
{
	size_t off = 12, used = 0, n;

	while (off < len && p[off] != 0) {
		n = p[off++];
		if (n > 63 || off + n > len || used + n + 2 > outlen)
			return 0;
		if (used > 0)
			out[used++] = '.';
		memcpy(out + used, p + off, n);
		used += n;
		off += n;
	}
	out[used] = '\0';
	return off < len ? off + 1 : 0;
}

/* dns_answer_rr - append one answer record for rr (name: pointer to the question) */
static void
dns_answer_rr(struct buf *b, const struct dns_rr *rr)
{
	unsigned char h[12] = { 0xc0, 12, 0, (unsigned char)rr->type, 0, 1,
	    0, 0, 1, 44, 0, 0 };
	size_t n = strlen(rr->rdata), len = rr->type == 1 ? 4 : n + 1;
	struct in_addr a;

	h[10] = (unsigned char)(len >> 8);
	h[11] = (unsigned char)len;
	buf_append(b, h, sizeof(h));
	if (rr->type == 1) {
		(void)inet_pton(AF_INET, rr->rdata, &a);
		buf_append(b, &a, 4);
		return;
	}
	buf_putc(b, (int)n);		/* the table's strings fit one */
	buf_append(b, rr->rdata, n);
}

/* dns_reply - the answer to one query into b; 0 when it is to be dropped */
static int
dns_reply(const unsigned char *q, size_t len, struct buf *b)
{
	char name[256];
	size_t end = dns_qname(q, len, name, sizeof(name)), i;
	int type, known = 0, nans = 0;
	unsigned char h[12];

	if (end == 0 || end + 4 > len)
		return 0;
	type = q[end] << 8 | q[end + 1];
	buf_reset(b);
	buf_append(b, q, 12);
	buf_append(b, q + 12, end + 4 - 12);
	for (i = 0; zone[i].name != NULL; i++) {
		if (strcasecmp(zone[i].name, name) != 0)
			continue;
		known = 1;
		if (zone[i].type != type)
			continue;
		if (zone[i].rdata == NULL)
			return 0;
		dns_answer_rr(b, &zone[i]);
		nans++;
	}
	memcpy(h, q, 12);
	h[2] = 0x84 | (q[2] & 0x01);	/* QR AA, RD copied */
	h[3] = 0x80 | (known ? 0 : 3);	/* RA; NXDOMAIN for unknown names */
	h[4] = 0; h[5] = 1;
	h[6] = 0; h[7] = (unsigned char)nans;
	memset(h + 8, 0, 4);
	memcpy(b->data, h, 12);
	return 1;
}

/* dns_serve - answer queries until the socket is shut down */
static void *
dns_serve(void *arg)
{
	unsigned char q[512];
	struct sockaddr_in from;
	socklen_t flen;
	struct buf b = BUF_INIT;
	ssize_t n;

	(void)arg;
	for (;;) {
		flen = sizeof(from);
		n = recvfrom(dns_fd, q, sizeof(q), 0, (struct sockaddr *)&from,
		    &flen);
		if (n <= 0)
			break;
		if (dns_reply(q, (size_t)n, &b))
			(void)sendto(dns_fd, b.data, b.len, 0,
			    (struct sockaddr *)&from, flen);
	}
	buf_free(&b);
	return NULL;
}

/* dns_start - the scripted server on a loopback port; its port */
static int
dns_start(void)
{
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	dns_fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (dns_fd < 0 || bind(dns_fd, (struct sockaddr *)&a, sizeof(a)) != 0
	    || getsockname(dns_fd, (struct sockaddr *)&a, &alen) != 0
	    || pthread_create(&dns_thread, NULL, dns_serve, NULL) != 0)
		return -1;
	return ntohs(a.sin_port);
}

/* setup - keys, a bounce secret, the snapshot and its runtime on the scripted DNS */
static int
setup(void **state)
{
	char key[512], secret[512], text[2048], err[512];
	int port;

	(void)state;
	log_init(LOG_DEST_STDERR, LOG_MAIL, LOG_DEBUG);
	dir = testutil_tmpdir();
	if (dir == NULL || (port = dns_start()) < 0)
		return -1;
	(void)snprintf(key, sizeof(key), "%s/k.pem", dir);
	(void)snprintf(secret, sizeof(secret), "%s/bounce.key", dir);
	if (testutil_write_key(key, "RSA", 2048, 0600) != 0
	    || testutil_write_file(secret, "0123456789abcdef0123456789abcdef\n") != 0
	    || chmod(secret, 0600) != 0)
		return -1;
	(void)snprintf(text, sizeof(text),
	    "authserv_id = mx.test.example\n"
	    "internal_hosts = 10.0.0.0/8\n"
	    "dns_servers = 127.0.0.1@%d\n"
	    "dns_timeout = 1s\n"
	    "bounce_secret = %s\n"
	    "domain example.com {\n"
	    "  key = s1 %s\n"
	    "  bounce_domain = bounces.example.com\n"
	    "}\n", port, secret, key);
	cfg = config_load_string(text, "t.conf", err, sizeof(err));
	if (cfg == NULL) {
		fprintf(stderr, "config: %s\n", err);
		return -1;
	}
	if (runtime_start(cfg, NULL, err, sizeof(err)) != 0) {
		fprintf(stderr, "runtime: %s\n", err);
		return -1;
	}
	config_install(cfg);		/* the installed snapshot owns cfg now */
	return 0;
}

/* teardown - the snapshot, the DNS server, the files */
static int
teardown(void **state)
{
	(void)state;
	config_install(NULL);
	shutdown(dns_fd, SHUT_RDWR);
	close(dns_fd);
	pthread_join(dns_thread, NULL);
	testutil_rmtree(dir);
	free(dir);
	return 0;
}

/* The MTA's end of one connection and the engine thread on the other. */
struct mta {
	int fd;
	int filter_fd;
	pthread_t thread;
};

/* mta_thread - serve the connection with the real callbacks */
static void *
mta_thread(void *arg)
{
	struct mta *m = arg;

	engine_serve(m->filter_fd, callbacks_table(), TEST_TIMEOUT);
	close(m->filter_fd);
	return NULL;
}

/* put - send one packet */
static void
put(struct mta *m, int cmd, const void *data, size_t len)
{
	uint32_t n = htonl((uint32_t)(len + 1));
	struct buf b = BUF_INIT;

	buf_append(&b, &n, 4);
	buf_putc(&b, cmd);
	buf_append(&b, data, len);
	assert_int_equal(write(m->fd, b.data, b.len), (ssize_t)b.len);
	buf_free(&b);
}

/* get - the next packet: its command, its data into d; -1 at EOF */
static int
get(struct mta *m, struct buf *d)
{
	unsigned char h[5];
	uint32_t n;
	size_t got = 0;
	ssize_t r;

	buf_reset(d);
	while (got < 5 && (r = read(m->fd, h + got, 5 - got)) > 0)
		got += (size_t)r;
	if (got < 5)
		return -1;
	memcpy(&n, h, 4);
	n = ntohl(n);
	assert_true(n >= 1 && n < 65536);
	buf_reserve(d, n);
	for (got = 0; got < n - 1 && (r = read(m->fd, d->data + got,
	    n - 1 - got)) > 0;)
		got += (size_t)r;
	assert_int_equal(got, n - 1);
	d->len = got;
	d->data[got] = '\0';
	return h[4];
}

/* answer - read up to the step's reply, logging modifications as lines */
static int
answer(struct mta *m, struct buf *log)
{
	struct buf d = BUF_INIT;
	const char *p;
	uint32_t idx;
	int cmd;

	for (;;) {
		cmd = get(m, &d);
		p = d.data;
		switch (cmd) {
		case PROTO_R_INSHEADER:
		case PROTO_R_CHGHEADER:
			memcpy(&idx, p, 4);
			buf_printf(log, "%c %u %s:%s\n", cmd, ntohl(idx), p + 4,
			    p + 4 + strlen(p + 4) + 1);
			continue;
		case PROTO_R_CHGFROM:
			buf_printf(log, "e %s%s%s\n", p, strlen(p) + 1 < d.len
			    ? " " : "", strlen(p) + 1 < d.len ? p + strlen(p) + 1
			    : "");
			continue;
		case PROTO_R_ADDRCPT:
		case PROTO_R_DELRCPT:
		case PROTO_R_QUARANTINE:
		case PROTO_R_ADDHEADER:
			buf_printf(log, "%c %s\n", cmd, p);
			continue;
		case PROTO_R_REPLYCODE:
			buf_printf(log, "reply %s\n", p);
			break;
		}
		break;
	}
	buf_free(&d);
	return cmd;
}

/* A message as the MTA hands it over. */
struct msg {
	const char *client;		/* IPv4 address; NULL: none (family L
					 * with an empty path: sendmail -bs) */
	const char *auth;		/* {auth_authen}, or NULL */
	const char *mail[4];		/* MAIL argv */
	const char *rcpt;
	const char *hdrs[8];		/* "Name", " value" pairs */
	const char *body;
	const char *mta;		/* macro v at CONNECT ("Postfix 3.7.11",
					 * Sendmail: "8.17.1.9"), or NULL */
};

/* step - send a packet, log its answer unless it is "continue"; the answer */
static int
step(struct mta *m, struct buf *log, int cmd, const void *data, size_t len)
{
	int r;

	put(m, cmd, data, len);
	r = answer(m, log);
	if (r != PROTO_R_CONTINUE && r != PROTO_R_REPLYCODE)
		buf_printf(log, "%c\n", r);
	return r;
}

/* argv_put - NUL-separated strings into b */
static void
argv_put(struct buf *b, const char *const *v, size_t n)
{
	size_t i;

	buf_reset(b);
	for (i = 0; i < n && v[i] != NULL; i++)
		buf_append(b, v[i], strlen(v[i]) + 1);
}

/* deliver_envelope - negotiation, CONNECT, HELO, MAIL, RCPT; 0 or the refusal */
static int
deliver_envelope(struct mta *m, const struct msg *msg, struct buf *log)
{
	uint32_t opt[3] = { htonl(6), htonl(ALL_MODS),
	    htonl(PROTO_P_HDR_LEADSPC) };
	struct buf b = BUF_INIT, d = BUF_INIT;
	const char *macros[4] = { "i", "TESTQID", "{auth_authen}", msg->auth };
	uint16_t port = htons(25);
	int r;

	put(m, PROTO_C_OPTNEG, opt, sizeof(opt));
	assert_int_equal(get(m, &d), PROTO_R_OPTNEG);
	if (msg->mta != NULL) {
		buf_putc(&b, PROTO_C_CONNECT);
		buf_append(&b, "v", 2);
		buf_append(&b, msg->mta, strlen(msg->mta) + 1);
		put(m, PROTO_C_MACRO, b.data, b.len);
		buf_reset(&b);
	}
	buf_append(&b, "client.example", 15);
	buf_putc(&b, msg->client != NULL ? '4' : 'L');
	if (msg->client == NULL)
		port = 0;
	buf_append(&b, &port, 2);
	buf_append(&b, msg->client != NULL ? msg->client : "",
	    msg->client != NULL ? strlen(msg->client) + 1 : 1);
	r = step(m, log, PROTO_C_CONNECT, b.data, b.len);
	if (r == PROTO_R_CONTINUE)
		r = step(m, log, PROTO_C_HELO, "helo.example", 13);
	buf_reset(&b);
	buf_putc(&b, PROTO_C_MAIL);
	argv_put(&d, macros, msg->auth != NULL ? 4 : 2);
	buf_append(&b, d.data, d.len);
	put(m, PROTO_C_MACRO, b.data, b.len);
	argv_put(&b, msg->mail, 4);
	if (r == PROTO_R_CONTINUE)
		r = step(m, log, PROTO_C_MAIL, b.data, b.len);
	if (r == PROTO_R_CONTINUE)
		r = step(m, log, PROTO_C_RCPT, msg->rcpt, strlen(msg->rcpt) + 1);
	buf_free(&b);
	buf_free(&d);
	return r == PROTO_R_CONTINUE ? 0 : r;
}

/* deliver - one message over a new connection; the MTA's log of answers */
static void
deliver(const struct msg *msg, struct buf *log)
{
	struct mta m;
	struct buf b = BUF_INIT;
	struct timeval tv = { TEST_TIMEOUT, 0 };
	int sv[2], r;
	size_t i;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	m.fd = sv[0];
	m.filter_fd = sv[1];
	assert_int_equal(setsockopt(m.fd, SOL_SOCKET, SO_RCVTIMEO, &tv,
	    sizeof(tv)), 0);
	assert_int_equal(pthread_create(&m.thread, NULL, mta_thread, &m), 0);
	buf_reset(log);
	r = deliver_envelope(&m, msg, log);
	for (i = 0; r == 0 && msg->hdrs[i] != NULL; i += 2) {
		argv_put(&b, msg->hdrs + i, 2);
		if (step(&m, log, PROTO_C_HEADER, b.data, b.len) != PROTO_R_CONTINUE)
			r = 1;
	}
	if (r == 0 && step(&m, log, PROTO_C_EOH, NULL, 0) == PROTO_R_CONTINUE
	    && step(&m, log, PROTO_C_BODY, msg->body, strlen(msg->body))
	    == PROTO_R_CONTINUE)
		(void)step(&m, log, PROTO_C_BODYEOB, NULL, 0);
	put(&m, PROTO_C_QUIT, NULL, 0);
	close(m.fd);
	pthread_join(m.thread, NULL);
	buf_free(&b);
}

/* line_prefix - the first line of log starting with prefix, or NULL */
static const char *
line_prefix(const struct buf *log, const char *prefix)
{
	const char *p = buf_cstr(log);

	for (; p != NULL && *p != '\0'; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (strncmp(p, prefix, strlen(prefix)) == 0)
			return p;
	return NULL;
}

/* edits - how many answers log holds (a folded value's lines start with a tab) */
static int
edits(const struct buf *log)
{
	const char *p;
	int n = 0;

	for (p = buf_cstr(log); *p != '\0'; p++)
		if (*p != '\t' && (p == buf_cstr(log) || p[-1] == '\n'))
			n++;
	return n;
}

static const struct msg signed_msg = {
	"192.0.2.50", "alice",
	{ "<alice@example.com>", "RET=HDRS", "SIZE=1234", "ENVID=x1" },
	"<bob@elsewhere.example>",
	{ "From", " Alice <alice@example.com>", "To", " bob@elsewhere.example",
	  "Subject", " hi", NULL },
	"hello\r\n", "Postfix 3.7.11"
};

/* callbacks_sign_edits_signature_then_sender - DKIM-Signature on top, MAIL FROM into the bounce domain with RET and ENVID only (Postfix) */
static void
callbacks_sign_edits_signature_then_sender(void **state)
{
	struct buf log = BUF_INIT;
	const char *sig, *from;

	(void)state;
	deliver(&signed_msg, &log);
	sig = line_prefix(&log, "i 0 DKIM-Signature: v=1; a=rsa-sha256;");
	from = line_prefix(&log, "e <");
	assert_non_null(sig);
	assert_non_null(from);
	assert_true(sig < from);
	assert_non_null(strstr(from, "@bounces.example.com> RET=HDRS ENVID=x1\n"));
	assert_null(strstr(buf_cstr(&log), "SIZE="));
	assert_null(line_prefix(&log, "reply"));
	buf_free(&log);
}

/*
 * callbacks_sendmail_sender_without_args - Sendmail (v is its bare
 * version) or an MTA that did not say: the new sender alone, since
 * Sendmail's CHGFROM with arguments replaces all of MAIL FROM's (BODY,
 * AUTH) and without any keeps them
 */
static void
callbacks_sendmail_sender_without_args(void **state)
{
	static const char *const versions[] = { "8.17.1.9", NULL };
	struct msg msg = signed_msg;
	struct buf log = BUF_INIT;
	const char *from;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		msg.mta = versions[i];
		deliver(&msg, &log);
		from = line_prefix(&log, "e <");
		assert_non_null(from);
		assert_non_null(strstr(from, "@bounces.example.com>\n"));
		assert_null(strstr(buf_cstr(&log), "RET="));
		assert_null(strstr(buf_cstr(&log), "ENVID="));
		assert_null(line_prefix(&log, "reply"));
	}
	buf_free(&log);
}

/*
 * callbacks_local_client_signed - a client without an address (Sendmail's
 * sendmail -bs), not authenticated, From a p=reject domain: signed, not
 * judged (before: verified as an outside client and refused)
 */
static void
callbacks_local_client_signed(void **state)
{
	static const struct msg local = {
		NULL, NULL, { "<alice@example.com>" }, "<bob@elsewhere.example>",
		{ "From", " alice@example.com", "Subject", " local", NULL },
		"hello\r\n", "8.17.1.9"
	};
	struct buf log = BUF_INIT;

	(void)state;
	deliver(&local, &log);
	assert_non_null(line_prefix(&log, "i 0 DKIM-Signature: v=1; a=rsa-sha256;"));
	assert_null(line_prefix(&log, "i 0 Authentication-Results:"));
	assert_null(line_prefix(&log, "reply"));
	buf_free(&log);
}

/* callbacks_judge_inserts_one_authres - outside mail, SPF aligned: A-R on top, continue */
static void
callbacks_judge_inserts_one_authres(void **state)
{
	static const struct msg in = {
		"192.0.2.1", NULL, { "<a@example.net>" }, "<b@example.com>",
		{ "From", " a@example.net", "Subject", " x", NULL }, "x\r\n"
	};
	struct buf log = BUF_INIT;
	const char *ar;

	(void)state;
	deliver(&in, &log);
	ar = line_prefix(&log, "i 0 Authentication-Results: mx.test.example;");
	assert_non_null(ar);
	assert_non_null(strstr(ar, "spf=pass"));
	assert_non_null(strstr(ar, "dmarc=pass"));
	assert_null(line_prefix(&log, "reply"));
	assert_int_equal(edits(&log), 1);	/* the only edit */
	buf_free(&log);
}

/* callbacks_forged_authres_deleted_before_ours - delete first, while indices count received fields */
static void
callbacks_forged_authres_deleted_before_ours(void **state)
{
	static const struct msg in = {
		"192.0.2.1", NULL, { "<a@example.net>" }, "<b@example.com>",
		{ "Authentication-Results", " mx.test.example; dmarc=pass",
		  "From", " a@example.net", NULL }, "x\r\n"
	};
	struct buf log = BUF_INIT;
	const char *del, *ar;

	(void)state;
	deliver(&in, &log);
	del = line_prefix(&log, "m 1 Authentication-Results:\n");
	ar = line_prefix(&log, "i 0 Authentication-Results: mx.test.example;");
	assert_non_null(del);
	assert_non_null(ar);
	assert_true(del < ar);
	buf_free(&log);
}

/* callbacks_dmarc_reject_refuses_unedited - SPF fail, p=reject: 550 and no edit */
static void
callbacks_dmarc_reject_refuses_unedited(void **state)
{
	static const struct msg in = {
		"198.51.100.9", NULL, { "<a@example.net>" }, "<b@example.com>",
		{ "From", " a@example.net", NULL }, "x\r\n"
	};
	struct buf log = BUF_INIT;

	(void)state;
	deliver(&in, &log);
	assert_non_null(line_prefix(&log, "reply 550 5.7.1 "));
	assert_int_equal(edits(&log), 1);	/* the reply, nothing else */
	buf_free(&log);
}

/* callbacks_dns_timeout_tempfails - the SPF record never answers, p=reject: 451 4.7.5 */
static void
callbacks_dns_timeout_tempfails(void **state)
{
	static const struct msg in = {
		"198.51.100.9", NULL, { "<a@example.org>" }, "<b@example.com>",
		{ "From", " a@example.org", NULL }, "x\r\n"
	};
	struct buf log = BUF_INIT;

	(void)state;
	deliver(&in, &log);
	assert_non_null(line_prefix(&log, "reply 451 4.7.5 "));
	buf_free(&log);
}

/* callbacks_bounce_goes_to_original_sender - the rewritten sender, bounced back: recipient swapped, X-Authmilter-Bounce */
static void
callbacks_bounce_goes_to_original_sender(void **state)
{
	struct msg bounce = {
		"192.0.2.1", NULL, { "<>" }, NULL,
		{ "From", " MAILER-DAEMON@other.example", NULL }, "failed\r\n"
	};
	struct buf log = BUF_INIT, want = BUF_INIT;
	const char *from, *end;
	char rcpt[256];

	(void)state;
	deliver(&signed_msg, &log);
	assert_non_null(from = line_prefix(&log, "e <"));
	end = strchr(from + 2, ' ');
	assert_non_null(end);
	(void)snprintf(rcpt, sizeof(rcpt), "%.*s", (int)(end - from - 2), from + 2);
	bounce.rcpt = rcpt;
	deliver(&bounce, &log);
	buf_printf(&want, "- %s\n+ <alice@example.com>\ni 0 X-Authmilter-Bounce: "
	    "rcpt=%s; original=<alice@example.com>; issued=", rcpt, rcpt);
	assert_non_null(strstr(buf_cstr(&log), buf_cstr(&want)));
	assert_null(line_prefix(&log, "reply"));
	buf_free(&log);
	buf_free(&want);
}

/* callbacks_forged_bounce_refused_at_rcpt - an address in the bounce domain that does not verify: 550 at RCPT */
static void
callbacks_forged_bounce_refused_at_rcpt(void **state)
{
	static const struct msg bounce = {
		"192.0.2.1", NULL, { "<>" }, "<nobody@bounces.example.com>",
		{ "From", " MAILER-DAEMON@other.example", NULL }, "x\r\n"
	};
	struct buf log = BUF_INIT;

	(void)state;
	deliver(&bounce, &log);
	assert_non_null(line_prefix(&log, "reply 550 "));
	assert_null(line_prefix(&log, "+ "));
	buf_free(&log);
}

/* moved - how far slots first..first+n-1 together moved from a to b */
static uint64_t
moved(const struct stats_snapshot *a, const struct stats_snapshot *b,
    size_t first, size_t n)
{
	uint64_t sum = 0;
	size_t i;

	for (i = first; i < first + n; i++)
		sum += b->slot[i] - a->slot[i];
	return sum;
}

/*
 * callbacks_count_each_message_once - the metrics' counters (stats.h) as
 * the callbacks bump them: a signed message, a DMARC reject, a DNS
 * timeout tempfail, a forged bounce refused at RCPT
 */
static void
callbacks_count_each_message_once(void **state)
{
	static const struct msg reject = {
		"198.51.100.9", NULL, { "<a@example.net>" }, "<b@example.com>",
		{ "From", " a@example.net", NULL }, "x\r\n", NULL
	};
	static const struct msg timeout = {
		"198.51.100.9", NULL, { "<a@example.org>" }, "<b@example.com>",
		{ "From", " a@example.org", NULL }, "x\r\n", NULL
	};
	static const struct msg forged = {
		"192.0.2.1", NULL, { "<>" }, "<nobody@bounces.example.com>",
		{ "From", " MAILER-DAEMON@other.example", NULL }, "x\r\n", NULL
	};
	struct stats_snapshot a, b;
	struct buf log = BUF_INIT;

	(void)state;
	stats_read(&a);
	deliver(&signed_msg, &log);
	stats_read(&b);
	assert_int_equal(moved(&a, &b, STATS_MESSAGES + STATS_MODE_SIGN
	    * STATS_NOUTCOMES + STATS_OUTCOME_ACCEPT, 1), 1);
	assert_int_equal(moved(&a, &b, STATS_MESSAGES, STATS_NMODES
	    * STATS_NOUTCOMES), 1);
	/* RSA (key type 0), whatever its DNS state */
	assert_int_equal(moved(&a, &b, STATS_SIGNATURES, STATS_NKEY_STATES), 1);
	assert_int_equal(moved(&a, &b, STATS_BOUNCE_ISSUED, 1), 1);
	assert_int_equal(moved(&a, &b, STATS_ACTIONS, STATS_NACTIONS), 0);
	assert_int_equal(b.hist[STATS_H_EOM][STATS_NBOUNDS + 1]
	    >= a.hist[STATS_H_EOM][STATS_NBOUNDS + 1], 1);

	a = b;
	deliver(&reject, &log);
	stats_read(&b);
	assert_int_equal(moved(&a, &b, STATS_MESSAGES + STATS_MODE_VERIFY
	    * STATS_NOUTCOMES + STATS_OUTCOME_REJECT, 1), 1);
	assert_int_equal(moved(&a, &b, STATS_ACTIONS
	    + STATS_ACTION_DMARC_REJECT, 1), 1);
	assert_int_equal(moved(&a, &b, STATS_DMARC + 2, 1), 1);	/* fail */
	assert_int_equal(moved(&a, &b, STATS_DKIM_NONE, 1), 1);
	assert_int_equal(moved(&a, &b, STATS_SPF, STATS_NSPF), 1);
	assert_int_equal(moved(&a, &b, STATS_SIGNATURES, STATS_NKEY_TYPES
	    * STATS_NKEY_STATES), 0);

	a = b;
	deliver(&timeout, &log);
	stats_read(&b);
	assert_int_equal(moved(&a, &b, STATS_MESSAGES + STATS_MODE_VERIFY
	    * STATS_NOUTCOMES + STATS_OUTCOME_TEMPFAIL, 1), 1);
	assert_int_equal(moved(&a, &b, STATS_ACTIONS
	    + STATS_ACTION_DMARC_TEMPFAIL, 1), 1);
	assert_true(moved(&a, &b, STATS_DNS_ERRORS + STATS_DNS_TIMEOUT, 1) >= 1);
	assert_true(moved(&a, &b, STATS_DNS_QUERIES, 1) >= 1);

	a = b;
	deliver(&forged, &log);
	stats_read(&b);
	assert_int_equal(moved(&a, &b, STATS_BOUNCE_REFUSED,
	    STATS_NBOUNCE_REFUSALS), 1);
	assert_int_equal(moved(&a, &b, STATS_BOUNCE_ACCEPTED, 1), 0);
	assert_int_equal(moved(&a, &b, STATS_MESSAGES, STATS_NMODES
	    * STATS_NOUTCOMES), 0);
	buf_free(&log);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(callbacks_sign_edits_signature_then_sender),
		cmocka_unit_test(callbacks_sendmail_sender_without_args),
		cmocka_unit_test(callbacks_local_client_signed),
		cmocka_unit_test(callbacks_judge_inserts_one_authres),
		cmocka_unit_test(callbacks_forged_authres_deleted_before_ours),
		cmocka_unit_test(callbacks_dmarc_reject_refuses_unedited),
		cmocka_unit_test(callbacks_dns_timeout_tempfails),
		cmocka_unit_test(callbacks_bounce_goes_to_original_sender),
		cmocka_unit_test(callbacks_forged_bounce_refused_at_rcpt),
		cmocka_unit_test(callbacks_count_each_message_once),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
