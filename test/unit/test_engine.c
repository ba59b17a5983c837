/*
 * test_engine.c - the filter side of the milter protocol (engine.c, mta.c)
 * driven over a socketpair the way Postfix drives it: negotiation,
 * no-reply steps, macros, argument decoding, replies, end-of-message
 * modifications, malformed packets and the ends of a connection.
 *
 * engine_serve runs in a thread on one end; the test plays the MTA on the
 * other. The callbacks only record (one line per call in seen.log) and
 * answer from the script; every assert runs in the test thread, on replies
 * read from the socket or on seen after the engine thread was joined.
 * engine_run_parks_and_resumes drives a parking session (engine_run) from
 * the test thread itself.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "daemon/engine.h"
#include "daemon/mta.h"

#define POSTFIX_ACTIONS	0x1FFUL		/* what Postfix 3.7 offers */
#define POSTFIX_PROTO	0x1FFFFFUL
#define TEST_TIMEOUT	10		/* seconds before a stuck read fails */
#define ALL_MODS	(PROTO_F_ADDHDRS | PROTO_F_CHGHDRS | PROTO_F_QUARANTINE \
	| PROTO_F_CHGFROM | PROTO_F_ADDRCPT | PROTO_F_DELRCPT)

/* a string literal with embedded NULs: pointer, length */
#define S(lit)		(lit), sizeof(lit) - 1

/* The callbacks, as indexes into the script and the counters. */
enum { CB_CONNECT, CB_HELO, CB_MAIL, CB_RCPT, CB_HEADER, CB_EOH, CB_BODY,
	CB_EOM, CB_ABORT, CB_CLOSE, CB_N };

/* What the filter asks for and how its callbacks answer. */
struct script {
	unsigned long required, wanted, proto;	/* the table's negotiation asks */
	const char *macros[PROTO_M_NSTAGES];	/* macro lists asked for */
	enum engine_status status[CB_N];	/* each callback's answer */
	int once[CB_N];				/* ... on its first call only */
	const char *rcode, *xcode, *text;	/* mta_set_reply, if rcode set ... */
	int reply_at;				/* ... in this callback */
	const char *lookups;			/* macros every callback logs */
	void (*hook)(struct engine_session *, int which); /* more work per call */
	int hook_at;				/* the callback hook_all_mods works in */
	int bare;				/* a table without callbacks */
};

/* What the callbacks saw. */
struct seen {
	struct buf log;				/* one line per callback call */
	int calls[CB_N];			/* calls per callback */
	char trace[128];			/* one letter per call (SEEN_LETTERS) */
};

/* The letter of each callback in seen.trace, in CB_* order (Q: close). */
#define SEEN_LETTERS	"CHMRLNBEAQ"

/* The fake MTA: our end, the engine's end and its thread. */
struct fake {
	int fd;					/* the MTA's end */
	int filter_fd;				/* engine_serve's end */
	int running;				/* thread not joined yet */
	pthread_t thread;
	struct script sc;			/* a copy: outlives a failed test */
	struct engine_callbacks cb;
};

/* One engine at a time: the callbacks find the script and log here. */
static struct fake fake;
static struct seen seen;

/* fnv64 - FNV-1a hash, to log long values compactly */
static unsigned long long
fnv64(const void *p, size_t len)
{
	const unsigned char *c = p;
	unsigned long long h = 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= c[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* seen_lookups - append " name=value" for each macro of the script's list */
static void
seen_lookups(struct engine_session *s)
{
	const char *p = fake.sc.lookups, *v;
	char name[64];
	size_t n;

	while (*p != '\0') {
		n = strcspn(p, " ");
		/* the engine's thread: no asserts here; a cut name shows in the log */
		(void)snprintf(name, sizeof(name), "%.*s", (int)n, p);
		v = mta_macro(s, name);
		buf_printf(&seen.log, " %s=%s", name, v != NULL ? v : "-");
		p += n;
		p += strspn(p, " ");
	}
}

/* seen_call - log one callback call, run the hook, answer from the script */
static enum engine_status
seen_call(struct engine_session *s, int which, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static enum engine_status
seen_call(struct engine_session *s, int which, const char *fmt, ...)
{
	va_list ap;

	seen.calls[which]++;
	if (strlen(seen.trace) + 1 < sizeof(seen.trace))
		seen.trace[strlen(seen.trace)] = SEEN_LETTERS[which];
	va_start(ap, fmt);
	buf_vprintf(&seen.log, fmt, ap);
	va_end(ap);
	if (fake.sc.lookups != NULL && which != CB_ABORT && which != CB_CLOSE)
		seen_lookups(s);
	buf_putc(&seen.log, '\n');
	if (fake.sc.hook != NULL)
		fake.sc.hook(s, which);
	if (fake.sc.once[which] && seen.calls[which] > 1)
		return ENGINE_CONTINUE;
	if (fake.sc.rcode != NULL && fake.sc.reply_at == which)
		(void)mta_set_reply(s, "test", fake.sc.rcode, fake.sc.xcode,
		    fake.sc.text);
	return fake.sc.status[which];
}

/* seen_argv - an argv as "a|b|c" */
static void
seen_argv(char **argv, char *out, size_t outlen)
{
	size_t used = 0;
	int i, n;

	out[0] = '\0';
	for (i = 0; argv[i] != NULL; i++) {
		n = snprintf(out + used, outlen - used, "%s%s", i ? "|" : "",
		    argv[i]);
		if (n < 0 || (size_t)n >= outlen - used)
			return;			/* cut; the log comparison shows it */
		used += (size_t)n;
	}
}

/* cb_connect - record the host and address */
static enum engine_status
cb_connect(struct engine_session *s, const char *host, const char *addr)
{
	return seen_call(s, CB_CONNECT, "connect %s %s", host,
	    addr != NULL ? addr : "(null)");
}

/* cb_helo - record the HELO name */
static enum engine_status
cb_helo(struct engine_session *s, const char *name)
{
	return seen_call(s, CB_HELO, "helo %s", name);
}

/* cb_envfrom - record the MAIL argv */
static enum engine_status
cb_envfrom(struct engine_session *s, char **argv)
{
	char a[512];

	seen_argv(argv, a, sizeof(a));
	return seen_call(s, CB_MAIL, "mail %s", a);
}

/* cb_envrcpt - record the RCPT argv */
static enum engine_status
cb_envrcpt(struct engine_session *s, char **argv)
{
	char a[512];

	seen_argv(argv, a, sizeof(a));
	return seen_call(s, CB_RCPT, "rcpt %s", a);
}

/* cb_header - record a header; long values as length and hash */
static enum engine_status
cb_header(struct engine_session *s, const char *name, const char *value)
{
	size_t len = strlen(value);

	if (len < 64)
		return seen_call(s, CB_HEADER, "header %s=%s", name, value);
	return seen_call(s, CB_HEADER, "header %s=<%zu bytes %016llx>", name,
	    len, fnv64(value, len));
}

/* cb_eoh - record the end of headers */
static enum engine_status
cb_eoh(struct engine_session *s)
{
	return seen_call(s, CB_EOH, "eoh");
}

/* cb_body - record a body chunk */
static enum engine_status
cb_body(struct engine_session *s, const unsigned char *data, size_t len)
{
	if (len < 64)
		return seen_call(s, CB_BODY, "body %zu %.*s", len, (int)len,
		    (const char *)data);
	return seen_call(s, CB_BODY, "body <%zu bytes %016llx>", len,
	    fnv64(data, len));
}

/* cb_eom - record the end of the message */
static enum engine_status
cb_eom(struct engine_session *s)
{
	return seen_call(s, CB_EOM, "eom");
}

/* cb_abort - record an abort */
static void
cb_abort(struct engine_session *s)
{
	(void)seen_call(s, CB_ABORT, "abort");
}

/* cb_close - record a close */
static void
cb_close(struct engine_session *s)
{
	(void)seen_call(s, CB_CLOSE, "close");
}

/* fake_thread - the filter side: serve the connection until it ends */
static void *
fake_thread(void *arg)
{
	struct fake *f = arg;

	engine_serve(f->filter_fd, &f->cb, TEST_TIMEOUT);
	close(f->filter_fd);		/* the caller's job, as in listener.c */
	return NULL;
}

/* fake_stop - join the engine thread of a test that failed half-way */
static void
fake_stop(struct fake *f)
{
	if (!f->running)
		return;
	close(f->fd);			/* the engine reads EOF and ends */
	pthread_join(f->thread, NULL);
	f->running = 0;
}

/* fake_prepare - a new connection and the script's callbacks, no engine thread yet */
static struct fake *
fake_prepare(const struct script *sc)
{
	struct fake *f = &fake;
	struct timeval tv = { TEST_TIMEOUT, 0 };
	int sv[2], i;

	fake_stop(f);
	buf_reset(&seen.log);
	memset(seen.calls, 0, sizeof(seen.calls));
	memset(seen.trace, 0, sizeof(seen.trace));
	f->sc = *sc;
	memset(&f->cb, 0, sizeof(f->cb));
	f->cb.actions_required = sc->required;
	f->cb.actions_wanted = sc->wanted;
	f->cb.proto_wanted = sc->proto;
	for (i = 0; i < PROTO_M_NSTAGES; i++)
		f->cb.macros[i] = sc->macros[i];
	if (!sc->bare) {
		f->cb.connect = cb_connect;
		f->cb.helo = cb_helo;
		f->cb.envfrom = cb_envfrom;
		f->cb.envrcpt = cb_envrcpt;
		f->cb.header = cb_header;
		f->cb.eoh = cb_eoh;
		f->cb.body = cb_body;
		f->cb.eom = cb_eom;
		f->cb.abort = cb_abort;
		f->cb.close = cb_close;
	}
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	f->fd = sv[0];
	f->filter_fd = sv[1];
	assert_int_equal(setsockopt(f->fd, SOL_SOCKET, SO_RCVTIMEO, &tv,
	    sizeof(tv)), 0);
	return f;
}

/* fake_start - a new connection served with the script's callbacks */
static struct fake *
fake_start(const struct script *sc)
{
	struct fake *f = fake_prepare(sc);

	assert_int_equal(pthread_create(&f->thread, NULL, fake_thread, f), 0);
	f->running = 1;
	return f;
}

/* fake_write - write all len bytes to the filter */
static void
fake_write(struct fake *f, const void *p, size_t len)
{
	const char *c = p;
	ssize_t n;

	while (len > 0) {
		n = write(f->fd, c, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			fail_msg("write to the filter failed (errno %d)", errno);
		c += n;
		len -= (size_t)n;
	}
}

/* pkt_put - append a packet: length, cmd, data */
static void
pkt_put(struct buf *b, int cmd, const void *data, size_t len)
{
	uint32_t n = htonl((uint32_t)(len + 1));

	buf_append(b, &n, sizeof(n));
	buf_putc(b, cmd);
	if (len > 0)
		buf_append(b, data, len);
}

/* pkt_put_macro - append a 'D' packet for cmd carrying name\0value\0 pairs */
static void
pkt_put_macro(struct buf *b, int cmd, const void *pairs, size_t len)
{
	struct buf d = BUF_INIT;

	buf_putc(&d, cmd);
	if (len > 0)
		buf_append(&d, pairs, len);
	pkt_put(b, PROTO_C_MACRO, d.data, d.len);
	buf_free(&d);
}

/* pkt - send one packet */
static void
pkt(struct fake *f, int cmd, const void *data, size_t len)
{
	struct buf b = BUF_INIT;

	pkt_put(&b, cmd, data, len);
	fake_write(f, b.data, b.len);
	buf_free(&b);
}

/* pkt_macro - send a 'D' packet for cmd */
static void
pkt_macro(struct fake *f, int cmd, const void *pairs, size_t len)
{
	struct buf b = BUF_INIT;

	pkt_put_macro(&b, cmd, pairs, len);
	fake_write(f, b.data, b.len);
	buf_free(&b);
}

/* read_full - read up to len bytes; how many came before EOF or an error */
static size_t
read_full(int fd, void *p, size_t len)
{
	char *c = p;
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		n = read(fd, c + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	return got;
}

/* read_reply - the next packet from the filter; 1, 0 at EOF, -1 broken */
static int
read_reply(struct fake *f, int *cmd, struct buf *data)
{
	unsigned char hdr[5];
	uint32_t n;
	char *p;

	buf_reset(data);
	switch (read_full(f->fd, hdr, 5)) {
	case 0:
		return 0;
	case 5:
		break;
	default:
		return -1;
	}
	memcpy(&n, hdr, sizeof(n));
	n = ntohl(n);
	if (n == 0 || n > 1024 * 1024)
		return -1;
	*cmd = hdr[4];
	if (n > 1) {
		p = malloc(n - 1);
		if (p == NULL || read_full(f->fd, p, n - 1) != n - 1) {
			free(p);
			return -1;
		}
		buf_append(data, p, n - 1);
		free(p);
	}
	return 1;
}

/* expect_reply - the next reply is cmd with exactly this data */
static void
expect_reply(struct fake *f, int cmd, const void *data, size_t len,
    const char *what)
{
	struct buf got = BUF_INIT;
	int c = 0, rc;

	rc = read_reply(f, &c, &got);
	if (rc != 1) {
		buf_free(&got);
		fail_msg("%s: no reply '%c' (%s)", what, cmd,
		    rc == 0 ? "connection closed" : "read failed or timed out");
	}
	if (c != cmd || got.len != len || (len > 0 && memcmp(got.data, data, len)))
		fail_msg("%s: reply '%c' with %zu bytes \"%s\", wanted '%c' with "
		    "%zu bytes \"%s\"", what, c, got.len, buf_cstr(&got), cmd, len,
		    len > 0 ? (const char *)data : "");
	buf_free(&got);
}

/* expect_closed - the filter closes the connection without another byte */
static void
expect_closed(struct fake *f, const char *what)
{
	char c;
	ssize_t n = read(f->fd, &c, 1);

	if (n != 0)
		fail_msg("%s: %s instead of the connection closing", what,
		    n > 0 ? "a reply" : "read failed or timed out");
	pthread_join(f->thread, NULL);
	f->running = 0;
	close(f->fd);
}

/* fake_finish - end our side; the bytes the filter still sent (want 0) */
static size_t
fake_finish(struct fake *f)
{
	char junk[4096];
	size_t extra = 0;
	ssize_t n;

	shutdown(f->fd, SHUT_WR);
	while ((n = read(f->fd, junk, sizeof(junk))) > 0)
		extra += (size_t)n;
	pthread_join(f->thread, NULL);
	f->running = 0;
	close(f->fd);
	return extra;
}

/* fake_optneg - send OPTNEG */
static void
fake_optneg(struct fake *f, uint32_t version, uint32_t actions, uint32_t proto)
{
	uint32_t w[3] = { htonl(version), htonl(actions), htonl(proto) };

	pkt(f, PROTO_C_OPTNEG, w, sizeof(w));
}

/* fake_hello - negotiate as Postfix does and take the answer */
static void
fake_hello(struct fake *f)
{
	struct buf got = BUF_INIT;
	int cmd = 0;

	fake_optneg(f, 6, POSTFIX_ACTIONS, POSTFIX_PROTO);
	if (read_reply(f, &cmd, &got) != 1 || cmd != PROTO_R_OPTNEG)
		fail_msg("no OPTNEG reply");
	buf_free(&got);
}

/* fake_connect - CONNECT from 192.0.2.1, answered with 'c' */
static void
fake_connect(struct fake *f)
{
	pkt(f, PROTO_C_CONNECT, S("client.example\0" "4" "\0\x19" "192.0.2.1\0"));
	expect_reply(f, PROTO_R_CONTINUE, NULL, 0, "connect");
}

/* fake_mail - CONNECT, then MAIL from a@example.com, each answered with 'c' */
static void
fake_mail(struct fake *f)
{
	fake_connect(f);
	pkt(f, PROTO_C_MAIL, S("<a@example.com>\0"));
	expect_reply(f, PROTO_R_CONTINUE, NULL, 0, "mail");
}

/* get_u32 - a 32-bit word in network order */
static uint32_t
get_u32(const char *p)
{
	uint32_t n;

	memcpy(&n, p, sizeof(n));
	return ntohl(n);
}

struct neg_case {
	const char *name;
	uint32_t version, actions, proto;	/* offered by the MTA */
	unsigned long required, wanted, proto_wanted; /* the table's */
	int answered;				/* 0: closed without a reply */
	uint32_t r_version, r_actions, r_proto;	/* the answer */
};

static const struct neg_case neg_cases[] = {
	{ "postfix offers everything", 6, POSTFIX_ACTIONS, POSTFIX_PROTO,
	    PROTO_F_ADDHDRS | PROTO_F_CHGHDRS, ALL_MODS,
	    PROTO_P_NR_HDR | PROTO_P_NR_BODY | PROTO_P_NOUNKNOWN,
	    1, 6, ALL_MODS, PROTO_P_NR_HDR | PROTO_P_NR_BODY | PROTO_P_NOUNKNOWN },
	{ "mta offers less than wanted", 6, PROTO_F_ADDHDRS | PROTO_F_CHGHDRS,
	    PROTO_P_NR_HDR, PROTO_F_ADDHDRS | PROTO_F_CHGHDRS, ALL_MODS,
	    PROTO_P_NR_HDR | PROTO_P_NR_BODY,
	    1, 6, PROTO_F_ADDHDRS | PROTO_F_CHGHDRS, PROTO_P_NR_HDR },
	{ "table wants less than offered", 6, POSTFIX_ACTIONS, POSTFIX_PROTO,
	    0, PROTO_F_ADDHDRS, 0, 1, 6, PROTO_F_ADDHDRS, 0 },
	{ "required action missing", 6, PROTO_F_ADDHDRS, POSTFIX_PROTO,
	    PROTO_F_ADDHDRS | PROTO_F_CHGHDRS, ALL_MODS, 0, 0, 0, 0, 0 },
	{ "version 2 mta", 2, 0x3F, 0x7F, PROTO_F_ADDHDRS, ALL_MODS,
	    PROTO_P_NOUNKNOWN | PROTO_P_NOHELO, 1, 2,
	    PROTO_F_ADDHDRS | PROTO_F_CHGHDRS | PROTO_F_QUARANTINE
	    | PROTO_F_ADDRCPT | PROTO_F_DELRCPT, PROTO_P_NOHELO },
	{ "version 1 mta", 1, POSTFIX_ACTIONS, POSTFIX_PROTO, 0, ALL_MODS, 0,
	    0, 0, 0, 0 },
	{ "newer mta gets version 6", 7, POSTFIX_ACTIONS, POSTFIX_PROTO, 0,
	    ALL_MODS, 0, 1, 6, ALL_MODS, 0 },
};

/* engine_negotiates_offered_and_wanted - masks, versions, refusals */
static void
engine_negotiates_offered_and_wanted(void **state)
{
	struct buf got = BUF_INIT;
	struct script sc;
	struct fake *f;
	size_t i;
	int cmd = 0, rc;

	(void)state;
	for (i = 0; i < sizeof(neg_cases) / sizeof(neg_cases[0]); i++) {
		const struct neg_case *c = &neg_cases[i];

		memset(&sc, 0, sizeof(sc));
		sc.required = c->required;
		sc.wanted = c->wanted;
		sc.proto = c->proto_wanted;
		f = fake_start(&sc);
		fake_optneg(f, c->version, c->actions, c->proto);
		if (!c->answered) {
			expect_closed(f, c->name);
			if (seen.calls[CB_ABORT] + seen.calls[CB_CLOSE] != 0)
				fail_msg("%s: callbacks ran for a refused MTA", c->name);
			continue;
		}
		rc = read_reply(f, &cmd, &got);
		if (rc != 1 || cmd != PROTO_R_OPTNEG || got.len != 12)
			fail_msg("%s: no 12-byte OPTNEG reply", c->name);
		if (get_u32(got.data) != c->r_version
		    || get_u32(got.data + 4) != c->r_actions
		    || get_u32(got.data + 8) != c->r_proto)
			fail_msg("%s: answered version %u actions 0x%x proto 0x%x, "
			    "wanted %u 0x%x 0x%x", c->name, get_u32(got.data),
			    get_u32(got.data + 4), get_u32(got.data + 8),
			    c->r_version, c->r_actions, c->r_proto);
		assert_int_equal(fake_finish(f), 0);
	}
	buf_free(&got);
}

/* engine_asks_for_macro_lists - SETSYMLIST lists only when offered */
static void
engine_asks_for_macro_lists(void **state)
{
	static const char lists[] = "\0\0\0\0" "j\0" "\0\0\0\5" "i {auth_authen}";
	struct buf got = BUF_INIT;
	struct script sc;
	struct fake *f;
	int cmd = 0;

	(void)state;
	memset(&sc, 0, sizeof(sc));
	sc.wanted = PROTO_F_ADDHDRS;
	sc.macros[PROTO_M_CONNECT] = "j";
	sc.macros[PROTO_M_EOM] = "i {auth_authen}";

	f = fake_start(&sc);
	fake_optneg(f, 6, POSTFIX_ACTIONS, POSTFIX_PROTO);
	assert_int_equal(read_reply(f, &cmd, &got), 1);
	assert_int_equal(cmd, PROTO_R_OPTNEG);
	assert_int_equal(got.len, 12 + sizeof(lists));
	assert_int_equal(get_u32(got.data + 4), PROTO_F_ADDHDRS | PROTO_F_SETSYMLIST);
	assert_memory_equal(got.data + 12, lists, sizeof(lists));
	assert_int_equal(fake_finish(f), 0);

	f = fake_start(&sc);
	fake_optneg(f, 6, POSTFIX_ACTIONS & ~PROTO_F_SETSYMLIST, POSTFIX_PROTO);
	assert_int_equal(read_reply(f, &cmd, &got), 1);
	assert_int_equal(got.len, 12);
	assert_int_equal(get_u32(got.data + 4), PROTO_F_ADDHDRS);
	assert_int_equal(fake_finish(f), 0);
	buf_free(&got);
}

/* One transaction, with the no-reply step that silences each command. */
struct step {
	int cmd;
	const char *data;
	size_t len;
	int cb;				/* its callback, -1: none */
	unsigned long nr;		/* PROTO_P_NR_* for it, 0: always answered */
};

static const struct step txn[] = {
	{ PROTO_C_CONNECT, S("client.example\0" "4" "\0\x19" "192.0.2.1\0"),
	    CB_CONNECT, PROTO_P_NR_CONN },
	{ PROTO_C_HELO, S("client.example\0"), CB_HELO, PROTO_P_NR_HELO },
	{ PROTO_C_MAIL, S("<a@example.com>\0"), CB_MAIL, PROTO_P_NR_MAIL },
	{ PROTO_C_RCPT, S("<b@example.net>\0"), CB_RCPT, PROTO_P_NR_RCPT },
	{ PROTO_C_DATA, "", 0, -1, PROTO_P_NR_DATA },
	{ PROTO_C_HEADER, S("Subject\0" "hi\0"), CB_HEADER, PROTO_P_NR_HDR },
	{ PROTO_C_HEADER, S("From\0" "a@example.com\0"), CB_HEADER, PROTO_P_NR_HDR },
	{ PROTO_C_EOH, "", 0, CB_EOH, PROTO_P_NR_EOH },
	{ PROTO_C_BODY, S("line 1\r\n"), CB_BODY, PROTO_P_NR_BODY },
	{ PROTO_C_BODY, S("line 2\r\n"), CB_BODY, PROTO_P_NR_BODY },
	{ PROTO_C_BODYEOB, "", 0, CB_EOM, 0 },
};

struct nr_case {
	const char *name;
	unsigned long nr;		/* negotiated */
	int silenced;			/* its callback, -1: none */
	int next;			/* the next callback that is answered */
	int conn_level;			/* a refusal holds for the connection */
};

static const struct nr_case nr_cases[] = {
	{ "NR_CONN", PROTO_P_NR_CONN, CB_CONNECT, CB_HELO, 1 },
	{ "NR_HELO", PROTO_P_NR_HELO, CB_HELO, CB_MAIL, 1 },
	{ "NR_MAIL", PROTO_P_NR_MAIL, CB_MAIL, CB_RCPT, 0 },
	{ "NR_RCPT", PROTO_P_NR_RCPT, CB_RCPT, CB_HEADER, 0 },
	{ "NR_DATA", PROTO_P_NR_DATA, -1, CB_HEADER, 0 },
	{ "NR_HDR", PROTO_P_NR_HDR, CB_HEADER, CB_EOH, 0 },
	{ "NR_EOH", PROTO_P_NR_EOH, CB_EOH, CB_BODY, 0 },
	{ "NR_BODY", PROTO_P_NR_BODY, CB_BODY, CB_EOM, 0 },
};

/*
 * nr_txn - one transaction from txn[from]; answered commands get reply:
 * REPLYCODE (text) for all after the silenced one, else reply for the
 * next case's callback and 'c' for the rest
 */
static void
nr_txn(struct fake *f, const struct nr_case *c, int from, int reply,
    const char *text, const char *label)
{
	char what[64];
	size_t j;
	int held = from > 0;	/* a later message: held from the start */

	for (j = (size_t)from; j < sizeof(txn) / sizeof(txn[0]); j++) {
		pkt(f, txn[j].cmd, txn[j].data, txn[j].len);
		if ((txn[j].nr & c->nr) != 0) {
			if (txn[j].cb == c->silenced)
				held = 1;
			continue;
		}
		snprintf(what, sizeof(what), "%s, %s, reply to '%c'", c->name,
		    label, txn[j].cmd);
		if (reply == PROTO_R_REPLYCODE && !held)
			expect_reply(f, PROTO_R_CONTINUE, NULL, 0, what);
		else if (reply == PROTO_R_REPLYCODE)
			expect_reply(f, reply, text, strlen(text) + 1, what);
		else
			expect_reply(f, txn[j].cb == c->next ? reply
			    : PROTO_R_CONTINUE, NULL, 0, what);
	}
}

/* engine_drops_accept_to_nr_steps - an ACCEPT that cannot be sent is dropped */
static void
engine_drops_accept_to_nr_steps(void **state)
{
	struct script sc;
	struct fake *f;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(nr_cases) / sizeof(nr_cases[0]); i++) {
		const struct nr_case *c = &nr_cases[i];

		memset(&sc, 0, sizeof(sc));
		sc.wanted = ALL_MODS;
		sc.proto = c->nr;
		if (c->silenced >= 0)
			sc.status[c->silenced] = ENGINE_ACCEPT;
		sc.status[c->next] = ENGINE_ACCEPT;
		f = fake_start(&sc);
		fake_hello(f);
		nr_txn(f, c, 0, PROTO_R_ACCEPT, NULL, "accept dropped");
		pkt(f, PROTO_C_QUIT, NULL, 0);
		if (fake_finish(f) != 0)
			fail_msg("%s: replies left over", c->name);
		if (c->silenced >= 0 && seen.calls[c->silenced] == 0)
			fail_msg("%s: the silenced callback did not run", c->name);
		if (seen.calls[c->next] == 0)
			fail_msg("%s: the next callback did not run", c->name);
	}
}

/*
 * engine_holds_refusals_from_nr_steps - a refusal that cannot be sent is
 * the answer to every later command of its message that takes one (of the
 * connection, from CONNECT/HELO), with its text; no callback runs for the
 * commands it covers, with or without a reply, and the message ends with
 * abort; the next message is answered normally
 */
static void
engine_holds_refusals_from_nr_steps(void **state)
{
	static const char text[] = "451 4.7.1 held over";
	struct script sc;
	struct fake *f;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(nr_cases) / sizeof(nr_cases[0]); i++) {
		const struct nr_case *c = &nr_cases[i];

		if (c->silenced < 0)
			continue;		/* nothing can refuse DATA */
		memset(&sc, 0, sizeof(sc));
		sc.wanted = ALL_MODS;
		sc.proto = c->nr;
		sc.status[c->silenced] = ENGINE_TEMPFAIL;
		sc.once[c->silenced] = 1;
		sc.rcode = "451";
		sc.xcode = "4.7.1";
		sc.text = "held over";
		sc.reply_at = c->silenced;
		sc.status[c->next] = ENGINE_ACCEPT;	/* must not be asked */
		f = fake_start(&sc);
		fake_hello(f);
		nr_txn(f, c, 0, PROTO_R_REPLYCODE, text, "held");
		if (seen.calls[c->next] != 0)
			fail_msg("%s: the callback after the refusal ran", c->name);
		if (seen.calls[c->silenced] != 1)
			fail_msg("%s: the refused command's callback ran %d times",
			    c->name, seen.calls[c->silenced]);
		if (seen.calls[CB_EOM] != 0 || seen.calls[CB_ABORT] != 1)
			fail_msg("%s: the refused message ended with %d eom, %d "
			    "abort", c->name, seen.calls[CB_EOM],
			    seen.calls[CB_ABORT]);
		pkt(f, PROTO_C_ABORT, NULL, 0);
		/* the next message: from MAIL on (txn[2]) */
		if (c->conn_level)
			nr_txn(f, c, 2, PROTO_R_REPLYCODE, text, "held, 2nd message");
		else
			nr_txn(f, c, 2, PROTO_R_ACCEPT, NULL, "next message");
		pkt(f, PROTO_C_QUIT, NULL, 0);
		if (fake_finish(f) != 0)
			fail_msg("%s: replies left over", c->name);
	}
}

/*
 * engine_answers_continue_without_callbacks - a table that sets no
 * callback: every command that takes a reply, UNKNOWN and EOM too, gets 'c'
 */
static void
engine_answers_continue_without_callbacks(void **state)
{
	struct script sc;
	struct fake *f;
	char what[64];
	size_t j;

	(void)state;
	memset(&sc, 0, sizeof(sc));
	sc.bare = 1;
	f = fake_start(&sc);
	fake_hello(f);
	for (j = 0; j < sizeof(txn) / sizeof(txn[0]); j++) {
		pkt(f, txn[j].cmd, txn[j].data, txn[j].len);
		(void)snprintf(what, sizeof(what), "no callbacks, reply to '%c'",
		    txn[j].cmd);
		expect_reply(f, PROTO_R_CONTINUE, NULL, 0, what);
	}
	pkt(f, PROTO_C_UNKNOWN, S("VRFY x\0"));
	expect_reply(f, PROTO_R_CONTINUE, NULL, 0, "no callbacks, UNKNOWN");
	pkt(f, PROTO_C_QUIT, NULL, 0);
	expect_closed(f, "no callbacks, quit");
	assert_string_equal(seen.trace, "");
}

/*
 * engine_quit_nc_drops_held_refusals - a refusal held from HELO covers the
 * rest of its connection only: after QUIT_NC, CONNECT, HELO and MAIL run
 * their callbacks and are answered by them
 */
static void
engine_quit_nc_drops_held_refusals(void **state)
{
	struct script sc;
	struct fake *f;

	(void)state;
	memset(&sc, 0, sizeof(sc));
	sc.proto = PROTO_P_NR_HELO;
	sc.status[CB_HELO] = ENGINE_REJECT;
	sc.once[CB_HELO] = 1;
	f = fake_start(&sc);
	fake_hello(f);
	fake_connect(f);
	pkt(f, PROTO_C_HELO, S("client.example\0"));
	pkt(f, PROTO_C_MAIL, S("<a@example.com>\0"));
	expect_reply(f, PROTO_R_REJECT, NULL, 0, "mail under the held refusal");
	pkt(f, PROTO_C_QUIT_NC, NULL, 0);
	pkt(f, PROTO_C_CONNECT, S("second.example\0" "4" "\0\x19" "192.0.2.2\0"));
	expect_reply(f, PROTO_R_CONTINUE, NULL, 0, "connect after QUIT_NC");
	pkt(f, PROTO_C_HELO, S("second.example\0"));
	pkt(f, PROTO_C_MAIL, S("<a@example.com>\0"));
	expect_reply(f, PROTO_R_CONTINUE, NULL, 0, "mail after QUIT_NC");
	pkt(f, PROTO_C_QUIT, NULL, 0);
	expect_closed(f, "quit");
	/* the refused message aborts; the second connection's MAIL runs */
	assert_string_equal(seen.trace, "CHAQCHMAQ");
}

/* engine_answers_each_header_without_nr - a 'c' per header when NR is not offered */
static void
engine_answers_each_header_without_nr(void **state)
{
	static const char *const names[] = { "Subject", "From", "To" };
	struct script sc;
	struct fake *f;
	size_t i;

	(void)state;
	memset(&sc, 0, sizeof(sc));
	sc.proto = PROTO_P_NR_HDR | PROTO_P_NR_BODY;	/* wanted, not offered */
	f = fake_start(&sc);
	fake_optneg(f, 6, POSTFIX_ACTIONS, 0);
	expect_reply(f, PROTO_R_OPTNEG, S("\0\0\0\6" "\0\0\0\0" "\0\0\0\0"), "optneg");
	fake_mail(f);
	for (i = 0; i < 3; i++) {
		struct buf h = BUF_INIT;

		buf_puts(&h, names[i]);
		buf_putc(&h, '\0');
		buf_puts(&h, "value");
		buf_putc(&h, '\0');
		pkt(f, PROTO_C_HEADER, h.data, h.len);
		buf_free(&h);
		expect_reply(f, PROTO_R_CONTINUE, NULL, 0, names[i]);
	}
	pkt(f, PROTO_C_EOH, NULL, 0);
	expect_reply(f, PROTO_R_CONTINUE, NULL, 0, "eoh");
	pkt(f, PROTO_C_BODY, S("x"));
	expect_reply(f, PROTO_R_CONTINUE, NULL, 0, "body");
	assert_int_equal(fake_finish(f), 0);
	assert_int_equal(seen.calls[CB_HEADER], 3);
}

/* engine_keeps_macros_by_stage - latest stage wins, a new MAIL forgets */
static void
engine_keeps_macros_by_stage(void **state)
{
	static const char want[] =
	    "connect client.example 192.0.2.1 i=- {i}=- j=mx.example"
	    " {auth_authen}=- {mail_addr}=- {rcpt_addr}=-\n"
	    "helo client.example i=- {i}=- j=mx.example"
	    " {auth_authen}=- {mail_addr}=- {rcpt_addr}=-\n"
	    "mail <a@example.com> i=- {i}=- j=mx.example"
	    " {auth_authen}=alice {mail_addr}=a@example.com {rcpt_addr}=-\n"
	    "rcpt <b@example.net> i=- {i}=- j=mx.example"
	    " {auth_authen}=alice {mail_addr}=a@example.com"
	    " {rcpt_addr}=b@example.net\n"
	    "header Subject=hi i=Q1 {i}=Q1 j=mx.example"
	    " {auth_authen}=alice {mail_addr}=a@example.com"
	    " {rcpt_addr}=b@example.net\n"
	    "eoh i=Q1-eoh {i}=Q1-eoh j=mx.example"
	    " {auth_authen}=alice {mail_addr}=a@example.com"
	    " {rcpt_addr}=b@example.net\n"
	    "eom i=Q1-eom {i}=Q1-eom j=mx.example"
	    " {auth_authen}=alice {mail_addr}=a@example.com"
	    " {rcpt_addr}=b@example.net\n"
	    "helo again.example i=- {i}=- j=mx.example"
	    " {auth_authen}=- {mail_addr}=- {rcpt_addr}=-\n"
	    "mail <c@example.com> i=- {i}=- j=mx.example"
	    " {auth_authen}=- {mail_addr}=c@example.com {rcpt_addr}=-\n"
	    "abort\n"
	    "close\n";
	struct script sc;
	struct fake *f;

	(void)state;
	memset(&sc, 0, sizeof(sc));
	sc.lookups = "i {i} j {auth_authen} {mail_addr} {rcpt_addr}";
	f = fake_start(&sc);
	fake_hello(f);
	pkt_macro(f, PROTO_C_CONNECT, S("j\0" "mx.example\0"));
	fake_connect(f);
	pkt_macro(f, PROTO_C_HELO, NULL, 0);
	pkt(f, PROTO_C_HELO, S("client.example\0"));
	expect_reply(f, PROTO_R_CONTINUE, NULL, 0, "helo");
	pkt_macro(f, PROTO_C_MAIL,
	    S("{mail_addr}\0" "a@example.com\0" "{auth_authen}\0" "alice\0"));
	pkt(f, PROTO_C_MAIL, S("<a@example.com>\0"));
	expect_reply(f, PROTO_R_CONTINUE, NULL, 0, "mail");
	pkt_macro(f, PROTO_C_RCPT, S("{rcpt_addr}\0" "b@example.net\0"));
	pkt(f, PROTO_C_RCPT, S("<b@example.net>\0"));
	expect_reply(f, PROTO_R_CONTINUE, NULL, 0, "rcpt");
	pkt_macro(f, PROTO_C_DATA, S("i\0" "Q1\0"));
	pkt(f, PROTO_C_DATA, NULL, 0);
	expect_reply(f, PROTO_R_CONTINUE, NULL, 0, "data");
	/* macros for headers are ignored, so they cannot shadow "i" */
	pkt_macro(f, PROTO_C_HEADER, S("i\0" "from-header-macro\0"));
	pkt(f, PROTO_C_HEADER, S("Subject\0" "hi\0"));
	expect_reply(f, PROTO_R_CONTINUE, NULL, 0, "header");
	pkt_macro(f, PROTO_C_EOH, S("{i}\0" "Q1-eoh\0"));
	pkt(f, PROTO_C_EOH, NULL, 0);
	expect_reply(f, PROTO_R_CONTINUE, NULL, 0, "eoh");
	pkt_macro(f, PROTO_C_BODYEOB, S("i\0" "Q1-eom\0"));
	pkt(f, PROTO_C_BODYEOB, NULL, 0);
	expect_reply(f, PROTO_R_CONTINUE, NULL, 0, "eom");
	pkt(f, PROTO_C_ABORT, NULL, 0);
	/* a client may say EHLO again after RSET: the message's macros are gone */
	pkt(f, PROTO_C_HELO, S("again.example\0"));
	expect_reply(f, PROTO_R_CONTINUE, NULL, 0, "helo after abort");
	pkt_macro(f, PROTO_C_MAIL, S("{mail_addr}\0" "c@example.com\0"));
	pkt(f, PROTO_C_MAIL, S("<c@example.com>\0"));
	expect_reply(f, PROTO_R_CONTINUE, NULL, 0, "second mail");
	pkt(f, PROTO_C_QUIT, NULL, 0);
	assert_int_equal(fake_finish(f), 0);
	assert_string_equal(buf_cstr(&seen.log), want);
}

struct cmd_case {
	const char *name;
	int cmd;
	const char *data;
	size_t len;
	const char *log;		/* the callback's line */
};

static const struct cmd_case decode_cases[] = {
	{ "mail path only", PROTO_C_MAIL, S("<a@example.com>\0"),
	    "mail <a@example.com>\n" },
	{ "mail with esmtp args", PROTO_C_MAIL,
	    S("<a@example.com>\0" "SIZE=1000\0" "BODY=8BITMIME\0"),
	    "mail <a@example.com>|SIZE=1000|BODY=8BITMIME\n" },
	{ "null sender", PROTO_C_MAIL, S("<>\0"), "mail <>\n" },
	{ "rcpt with notify", PROTO_C_RCPT, S("<b@example.net>\0" "NOTIFY=NEVER\0"),
	    "rcpt <b@example.net>|NOTIFY=NEVER\n" },
	{ "rcpt with empty arg", PROTO_C_RCPT, S("<b@example.net>\0" "\0"),
	    "rcpt <b@example.net>|\n" },
	{ "connect inet", PROTO_C_CONNECT,
	    S("mail.example\0" "4" "\0\x19" "192.0.2.1\0"),
	    "connect mail.example 192.0.2.1\n" },
	{ "connect inet6", PROTO_C_CONNECT,
	    S("v6.example\0" "6" "\0\x19" "2001:db8::1\0"),
	    "connect v6.example 2001:db8::1\n" },
	{ "connect unknown family", PROTO_C_CONNECT, S("[192.0.2.1]\0" "U"),
	    "connect [192.0.2.1] (null)\n" },
	{ "connect unix socket", PROTO_C_CONNECT,
	    S("localhost\0" "L" "\0\0" "/run/smtpd\0"), "connect localhost (null)\n" },
	/* Sendmail's sendmail -bs: a unix socket without a path */
	{ "connect sendmail -bs", PROTO_C_CONNECT,
	    S("localhost\0" "L" "\0\0" "\0"), "connect localhost (null)\n" },
	/* Sendmail tags IPv6 client addresses */
	{ "connect inet6 with IPv6: tag", PROTO_C_CONNECT,
	    S("v6.example\0" "6" "\0\x19" "IPv6:::1\0"),
	    "connect v6.example ::1\n" },
	{ "helo", PROTO_C_HELO, S("client.example\0"), "helo client.example\n" },
};

/*
 * engine_decodes_commands - argv split and CONNECT decoding; each command
 * in its place (after CONNECT, RCPT after MAIL)
 */
static void
engine_decodes_commands(void **state)
{
	struct buf want = BUF_INIT;
	struct script sc;
	struct fake *f;
	size_t i;

	(void)state;
	memset(&sc, 0, sizeof(sc));
	for (i = 0; i < sizeof(decode_cases) / sizeof(decode_cases[0]); i++) {
		const struct cmd_case *c = &decode_cases[i];

		f = fake_start(&sc);
		fake_hello(f);
		buf_reset(&want);
		if (c->cmd == PROTO_C_RCPT) {
			fake_mail(f);
			buf_puts(&want, "connect client.example 192.0.2.1\n"
			    "mail <a@example.com>\n");
		} else if (c->cmd != PROTO_C_CONNECT) {
			fake_connect(f);
			buf_puts(&want, "connect client.example 192.0.2.1\n");
		}
		pkt(f, c->cmd, c->data, c->len);
		expect_reply(f, PROTO_R_CONTINUE, NULL, 0, c->name);
		if (fake_finish(f) != 0)
			fail_msg("%s: replies left over", c->name);
		/* the callback's line, then the end of the message and connection */
		buf_puts(&want, c->log);
		if (c->cmd == PROTO_C_MAIL || c->cmd == PROTO_C_RCPT)
			buf_puts(&want, "abort\n");
		buf_puts(&want, "close\n");
		if (strcmp(buf_cstr(&seen.log), buf_cstr(&want)) != 0)
			fail_msg("%s: logged \"%s\", wanted \"%s\"", c->name,
			    buf_cstr(&seen.log), buf_cstr(&want));
	}
	buf_free(&want);
}

struct reply_case {
	const char *name;
	enum engine_status st;		/* what the MAIL callback answers */
	const char *rcode, *xcode, *text; /* mta_set_reply, if rcode */
	int cmd;			/* the reply */
	const char *data;
	size_t len;
};

static const struct reply_case reply_cases[] = {
	{ "continue", ENGINE_CONTINUE, NULL, NULL, NULL, PROTO_R_CONTINUE, "", 0 },
	{ "accept", ENGINE_ACCEPT, NULL, NULL, NULL, PROTO_R_ACCEPT, "", 0 },
	{ "discard", ENGINE_DISCARD, NULL, NULL, NULL, PROTO_R_DISCARD, "", 0 },
	{ "bare reject", ENGINE_REJECT, NULL, NULL, NULL, PROTO_R_REJECT, "", 0 },
	{ "bare tempfail", ENGINE_TEMPFAIL, NULL, NULL, NULL, PROTO_R_TEMPFAIL, "", 0 },
	{ "reject with text", ENGINE_REJECT, "550", "5.7.1", "text",
	    PROTO_R_REPLYCODE, S("550 5.7.1 text\0") },
	{ "percent doubled", ENGINE_REJECT, "550", "5.7.1", "100% spam",
	    PROTO_R_REPLYCODE, S("550 5.7.1 100%% spam\0") },
	{ "no enhanced code", ENGINE_REJECT, "554", NULL, "go away",
	    PROTO_R_REPLYCODE, S("554 go away\0") },
	{ "code only", ENGINE_REJECT, "550", NULL, NULL,
	    PROTO_R_REPLYCODE, S("550\0") },
	{ "tempfail with text", ENGINE_TEMPFAIL, "451", "4.7.1", "try later",
	    PROTO_R_REPLYCODE, S("451 4.7.1 try later\0") },
	{ "4xx text on a reject", ENGINE_REJECT, "451", "4.7.1", "try later",
	    PROTO_R_REJECT, "", 0 },
	{ "5xx text on a tempfail", ENGINE_TEMPFAIL, "550", "5.7.1", "no",
	    PROTO_R_TEMPFAIL, "", 0 },
	{ "text on a continue", ENGINE_CONTINUE, "550", "5.7.1", "no",
	    PROTO_R_CONTINUE, "", 0 },
	{ "2xx code refused", ENGINE_REJECT, "250", NULL, "ok", PROTO_R_REJECT, "", 0 },
	{ "mismatched enhanced code refused", ENGINE_REJECT, "550", "4.7.1", "x",
	    PROTO_R_REJECT, "", 0 },
	{ "line break refused", ENGINE_REJECT, "550", "5.7.1", "a\r\nb",
	    PROTO_R_REJECT, "", 0 },
};

/* engine_sends_reply_codes - one reply per answer; the text never leaks on */
static void
engine_sends_reply_codes(void **state)
{
	struct script sc;
	struct fake *f;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(reply_cases) / sizeof(reply_cases[0]); i++) {
		const struct reply_case *c = &reply_cases[i];

		memset(&sc, 0, sizeof(sc));
		sc.status[CB_MAIL] = c->st;
		sc.status[CB_RCPT] = ENGINE_REJECT;	/* no text of its own */
		sc.rcode = c->rcode;
		sc.xcode = c->xcode;
		sc.text = c->text;
		sc.reply_at = CB_MAIL;
		f = fake_start(&sc);
		fake_hello(f);
		fake_connect(f);
		pkt(f, PROTO_C_MAIL, S("<a@example.com>\0"));
		expect_reply(f, c->cmd, c->data, c->len, c->name);
		pkt(f, PROTO_C_RCPT, S("<b@example.net>\0"));
		expect_reply(f, PROTO_R_REJECT, NULL, 0, c->name);
		if (fake_finish(f) != 0)
			fail_msg("%s: replies left over", c->name);
	}
}

/* mta_cuts_long_reply_text - a long text is cut, never leaving a lone '%'; a long code is refused */
static void
mta_cuts_long_reply_text(void **state)
{
	struct buf text = BUF_INIT, got = BUF_INIT;
	struct script sc;
	struct fake *f;
	size_t i, pos;
	int cmd = 0;

	(void)state;
	/* every cut position between 490 and 510 of a run of "%" */
	for (pos = 490; pos < 510; pos++) {
		buf_reset(&text);
		for (i = 0; i < pos; i++)
			buf_putc(&text, 'a');
		for (i = 0; i < 40; i++)
			buf_putc(&text, '%');
		memset(&sc, 0, sizeof(sc));
		sc.status[CB_MAIL] = ENGINE_REJECT;
		sc.rcode = "550";
		sc.xcode = "5.7.1";
		sc.text = buf_cstr(&text);
		sc.reply_at = CB_MAIL;
		f = fake_start(&sc);
		fake_hello(f);
		fake_connect(f);
		pkt(f, PROTO_C_MAIL, S("<a@example.com>\0"));
		assert_int_equal(read_reply(f, &cmd, &got), 1);
		assert_int_equal(cmd, PROTO_R_REPLYCODE);
		assert_true(got.len > 0 && got.len <= 512);
		assert_int_equal(got.data[got.len - 1], '\0');
		assert_int_equal(strncmp(got.data, "550 5.7.1 aaa", 13), 0);
		/* the '%'s come in pairs */
		for (i = 0; i + 1 < got.len; i++)
			if (got.data[i] == '%') {
				if (got.data[i + 1] != '%')
					fail_msg("cut at %zu: lone '%%' at %zu of %zu",
					    pos, i, got.len);
				i++;
			}
		assert_int_equal(fake_finish(f), 0);
	}
	/* an enhanced code too long to fit is refused, not cut */
	buf_reset(&text);
	buf_puts(&text, "5.");
	for (i = 0; i < 600; i++)
		buf_putc(&text, '1');
	memset(&sc, 0, sizeof(sc));
	sc.status[CB_MAIL] = ENGINE_REJECT;
	sc.rcode = "550";
	sc.xcode = buf_cstr(&text);
	sc.text = "no";
	sc.reply_at = CB_MAIL;
	f = fake_start(&sc);
	fake_hello(f);
	fake_connect(f);
	pkt(f, PROTO_C_MAIL, S("<a@example.com>\0"));
	expect_reply(f, PROTO_R_REJECT, NULL, 0, "long enhanced code");
	assert_int_equal(fake_finish(f), 0);
	buf_free(&text);
	buf_free(&got);
}

/* hook_all_mods - try every modification in the hooked callback; log the results */
static void
hook_all_mods(struct engine_session *s, int which)
{
	int rc[7];

	if (which != fake.sc.hook_at)
		return;
	rc[0] = mta_insert_header(s, "test", 0, "Authentication-Results",
	    " mx.example; spf=pass");
	rc[1] = mta_delete_header(s, "test", "DKIM-Signature", 2);
	rc[2] = mta_change_from(s, "test", "<bounce@example.com>", "SIZE=100");
	rc[3] = mta_change_from(s, "test", "<bounce@example.com>", NULL);
	rc[4] = mta_add_rcpt(s, "test", "<archive@example.com>");
	rc[5] = mta_del_rcpt(s, "test", "<b@example.net>");
	rc[6] = mta_quarantine(s, "test", "held by test");
	buf_printf(&seen.log, "mods %d %d %d %d %d %d %d\n", rc[0], rc[1], rc[2],
	    rc[3], rc[4], rc[5], rc[6]);
}

/* hook_bad_mods - modifications with bad arguments, in eom */
static void
hook_bad_mods(struct engine_session *s, int which)
{
	int rc[3];

	if (which != CB_EOM)
		return;
	rc[0] = mta_insert_header(s, "test", -1, "X-A", " v");
	rc[1] = mta_insert_header(s, "test", 0, "", " v");
	rc[2] = mta_delete_header(s, "test", "X-A", 0);
	buf_printf(&seen.log, "mods %d %d %d\n", rc[0], rc[1], rc[2]);
}

struct mod_pkt {
	int cmd;
	const char *data;
	size_t len;
};

/* expect_packets - the next replies are exactly these, in order */
static void
expect_packets(struct fake *f, const struct mod_pkt *p, size_t n,
    const char *what)
{
	char w[96];
	size_t i;

	for (i = 0; i < n; i++) {
		snprintf(w, sizeof(w), "%s, packet %zu", what, i + 1);
		expect_reply(f, p[i].cmd, p[i].data, p[i].len, w);
	}
}

/* fake_message - CONNECT, MAIL, RCPT, one header, EOH, answered 'c' each; then E */
static void
fake_message(struct fake *f)
{
	fake_mail(f);
	pkt(f, PROTO_C_RCPT, S("<b@example.net>\0"));
	expect_reply(f, PROTO_R_CONTINUE, NULL, 0, "rcpt");
	pkt(f, PROTO_C_HEADER, S("Subject\0" "hi\0"));
	expect_reply(f, PROTO_R_CONTINUE, NULL, 0, "header");
	pkt(f, PROTO_C_EOH, NULL, 0);
	expect_reply(f, PROTO_R_CONTINUE, NULL, 0, "eoh");
	pkt(f, PROTO_C_BODYEOB, NULL, 0);
}

/* engine_sends_eom_modifications_in_order - layouts, then the final reply */
static void
engine_sends_eom_modifications_in_order(void **state)
{
	static const struct mod_pkt want[] = {
		{ PROTO_R_INSHEADER, S("\0\0\0\0" "Authentication-Results\0"
		    " mx.example; spf=pass\0") },
		{ PROTO_R_CHGHEADER, S("\0\0\0\2" "DKIM-Signature\0" "\0") },
		{ PROTO_R_CHGFROM, S("<bounce@example.com>\0" "SIZE=100\0") },
		{ PROTO_R_CHGFROM, S("<bounce@example.com>\0") },
		{ PROTO_R_ADDRCPT, S("<archive@example.com>\0") },
		{ PROTO_R_DELRCPT, S("<b@example.net>\0") },
		{ PROTO_R_QUARANTINE, S("held by test\0") },
		{ PROTO_R_ACCEPT, "", 0 },
	};
	struct script sc;
	struct fake *f;

	(void)state;
	memset(&sc, 0, sizeof(sc));
	sc.required = PROTO_F_ADDHDRS | PROTO_F_CHGHDRS;
	sc.wanted = ALL_MODS;
	sc.status[CB_EOM] = ENGINE_ACCEPT;
	sc.hook_at = CB_EOM;
	sc.hook = hook_all_mods;
	f = fake_start(&sc);
	fake_hello(f);
	fake_message(f);
	expect_packets(f, want, sizeof(want) / sizeof(want[0]), "eom");
	pkt(f, PROTO_C_ABORT, NULL, 0);
	pkt(f, PROTO_C_QUIT, NULL, 0);
	assert_int_equal(fake_finish(f), 0);
	assert_non_null(strstr(buf_cstr(&seen.log), "eom\nmods 0 0 0 0 0 0 0\n"));
}

/* mta_refuses_modifications_out_of_place - outside eom, not negotiated, bad args */
static void
mta_refuses_modifications_out_of_place(void **state)
{
	static const struct mod_pkt only_hdrs[] = {
		{ PROTO_R_INSHEADER, S("\0\0\0\0" "Authentication-Results\0"
		    " mx.example; spf=pass\0") },
		{ PROTO_R_CHGHEADER, S("\0\0\0\2" "DKIM-Signature\0" "\0") },
		{ PROTO_R_CONTINUE, "", 0 },
	};
	static const struct mod_pkt bare[] = { { PROTO_R_CONTINUE, "", 0 } };
	struct script sc;
	struct fake *f;

	(void)state;
	/* in the header callback: nothing queued, the header gets 'c' alone */
	memset(&sc, 0, sizeof(sc));
	sc.wanted = ALL_MODS;
	sc.hook_at = CB_HEADER;
	sc.hook = hook_all_mods;
	f = fake_start(&sc);
	fake_hello(f);
	fake_mail(f);
	pkt(f, PROTO_C_HEADER, S("Subject\0" "hi\0"));
	expect_packets(f, bare, 1, "header");
	pkt(f, PROTO_C_EOH, NULL, 0);
	expect_packets(f, bare, 1, "eoh");
	pkt(f, PROTO_C_BODYEOB, NULL, 0);
	expect_packets(f, bare, 1, "eom after header");
	assert_int_equal(fake_finish(f), 0);
	assert_non_null(strstr(buf_cstr(&seen.log),
	    "header Subject=hi\nmods -1 -1 -1 -1 -1 -1 -1\n"));

	/* an MTA that allows header changes only */
	sc.hook_at = CB_EOM;
	f = fake_start(&sc);
	fake_optneg(f, 6, PROTO_F_ADDHDRS | PROTO_F_CHGHDRS, POSTFIX_PROTO);
	expect_reply(f, PROTO_R_OPTNEG, S("\0\0\0\6" "\0\0\0\x11" "\0\0\0\0"),
	    "optneg");
	fake_message(f);
	expect_packets(f, only_hdrs, 3, "eom, header changes only");
	assert_int_equal(fake_finish(f), 0);
	assert_non_null(strstr(buf_cstr(&seen.log), "mods 0 0 -1 -1 -1 -1 -1\n"));

	/* bad indexes and an empty name */
	sc.hook = hook_bad_mods;
	f = fake_start(&sc);
	fake_hello(f);
	fake_message(f);
	expect_packets(f, bare, 1, "eom, bad arguments");
	assert_int_equal(fake_finish(f), 0);
	assert_non_null(strstr(buf_cstr(&seen.log), "mods -1 -1 -1\n"));
}

/* engine_passes_eob_data_to_body_first - body left in E, then eom */
static void
engine_passes_eob_data_to_body_first(void **state)
{
	struct script sc;
	struct fake *f;

	(void)state;
	memset(&sc, 0, sizeof(sc));
	sc.status[CB_EOM] = ENGINE_DISCARD;
	f = fake_start(&sc);
	fake_hello(f);
	fake_mail(f);
	pkt(f, PROTO_C_EOH, NULL, 0);
	expect_reply(f, PROTO_R_CONTINUE, NULL, 0, "eoh");
	pkt(f, PROTO_C_BODY, S("first\r\n"));
	expect_reply(f, PROTO_R_CONTINUE, NULL, 0, "body");
	pkt(f, PROTO_C_BODYEOB, S("tail\r\n"));
	expect_reply(f, PROTO_R_DISCARD, NULL, 0, "eom");
	pkt(f, PROTO_C_QUIT, NULL, 0);
	assert_int_equal(fake_finish(f), 0);
	assert_string_equal(buf_cstr(&seen.log),
	    "connect client.example 192.0.2.1\nmail <a@example.com>\neoh\n"
	    "body 7 first\r\n\nbody 6 tail\r\n\neom\nclose\n");
}

struct bad_case {
	const char *name;
	int after;			/* sent after: -1 nothing, 0 OPTNEG, 1 CONNECT, 2 MAIL */
	long lenfield;			/* the packet length sent; -1: the true one */
	int cmd;			/* -1: no command byte */
	const char *data;
	size_t len;
};

/* Each packet in its place, so that what closes is the malformation. */
static const struct bad_case bad_cases[] = {
	{ "length 0", 1, 0, -1, "", 0 },
	{ "length over ENGINE_MAX_PACKET", 2, ENGINE_MAX_PACKET + 1L,
	    PROTO_C_HEADER, S("X\0" "y\0") },
	{ "header without NUL", 2, -1, PROTO_C_HEADER, S("Subject") },
	{ "header value without NUL", 2, -1, PROTO_C_HEADER, S("Subject\0" "hi") },
	{ "header value with NUL inside", 2, -1, PROTO_C_HEADER,
	    S("Subject\0" "h\0" "i\0") },
	{ "header with empty name", 2, -1, PROTO_C_HEADER, S("\0" "hi\0") },
	{ "mail without final NUL", 1, -1, PROTO_C_MAIL,
	    S("<a@example.com>\0" "SIZE=1") },
	{ "empty mail", 1, -1, PROTO_C_MAIL, "", 0 },
	{ "rcpt without NUL", 2, -1, PROTO_C_RCPT, S("<b@example.net>") },
	{ "helo without NUL", 1, -1, PROTO_C_HELO, S("client.example") },
	{ "connect without family", 0, -1, PROTO_C_CONNECT, S("host\0") },
	{ "connect without NUL", 0, -1, PROTO_C_CONNECT, S("host") },
	{ "connect inet without address", 0, -1, PROTO_C_CONNECT,
	    S("host\0" "4" "\0\x19") },
	{ "connect address without NUL", 0, -1, PROTO_C_CONNECT,
	    S("host\0" "4" "\0\x19" "192.0.2.1") },
	{ "connect bogus inet text", 0, -1, PROTO_C_CONNECT,
	    S("bogus.example\0" "4" "\0\x19" "999.1.2.3\0") },
	{ "connect inet text as inet6", 0, -1, PROTO_C_CONNECT,
	    S("bogus.example\0" "6" "\0\x19" "192.0.2.1\0") },
	{ "connect IPv6: tag on inet", 0, -1, PROTO_C_CONNECT,
	    S("bogus.example\0" "4" "\0\x19" "IPv6:192.0.2.1\0") },
	{ "macro without command", 1, -1, PROTO_C_MACRO, "", 0 },
	{ "macro value without NUL", 1, -1, PROTO_C_MACRO, S("Mi\0" "Q1") },
	{ "short optneg", -1, -1, PROTO_C_OPTNEG, S("\0\0\0\6") },
	{ "unknown command", 1, -1, 'Z', S("x\0") },
};

/*
 * engine_closes_on_malformed_packets - no reply, no callback for it; the
 * message open before it aborted, the connection closed, once each
 */
static void
engine_closes_on_malformed_packets(void **state)
{
	struct script sc;
	struct fake *f;
	struct buf b = BUF_INIT;
	size_t i;
	uint32_t n;

	(void)state;
	memset(&sc, 0, sizeof(sc));
	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];

		f = fake_start(&sc);
		if (c->after >= 0)
			fake_hello(f);
		if (c->after == 1)
			fake_connect(f);
		if (c->after == 2)
			fake_mail(f);
		buf_reset(&b);
		n = htonl(c->lenfield >= 0 ? (uint32_t)c->lenfield
		    : (uint32_t)c->len + 1);
		buf_append(&b, &n, sizeof(n));
		if (c->cmd >= 0)
			buf_putc(&b, c->cmd);
		if (c->len > 0)
			buf_append(&b, c->data, c->len);
		fake_write(f, b.data, b.len);
		expect_closed(f, c->name);
		if (seen.calls[CB_ABORT] != (c->after == 2)
		    || seen.calls[CB_CLOSE] != (c->after >= 0))
			fail_msg("%s: abort called %d times, close %d times",
			    c->name, seen.calls[CB_ABORT], seen.calls[CB_CLOSE]);
		if (seen.calls[CB_HEADER] + seen.calls[CB_RCPT] + seen.calls[CB_HELO]
		    != 0 || seen.calls[CB_CONNECT] != (c->after >= 1)
		    || seen.calls[CB_MAIL] != (c->after == 2))
			fail_msg("%s: a callback saw the malformed packet", c->name);
	}
	buf_free(&b);
}

/* engine_refuses_commands_before_optneg - closed; no callback (nothing to clean) */
static void
engine_refuses_commands_before_optneg(void **state)
{
	static const struct step first[] = {
		{ PROTO_C_CONNECT, S("client.example\0" "4" "\0\x19" "192.0.2.1\0"),
		    CB_CONNECT, 0 },
		{ PROTO_C_MACRO, S("Cj\0" "mx.example\0"), -1, 0 },
		{ PROTO_C_HEADER, S("Subject\0" "hi\0"), CB_HEADER, 0 },
	};
	struct script sc;
	struct fake *f;
	size_t i;
	int j;

	(void)state;
	memset(&sc, 0, sizeof(sc));
	for (i = 0; i < sizeof(first) / sizeof(first[0]); i++) {
		f = fake_start(&sc);
		pkt(f, first[i].cmd, first[i].data, first[i].len);
		expect_closed(f, "command before optneg");
		for (j = 0; j < CB_N; j++)
			if (seen.calls[j] != 0)
				fail_msg("'%c' before optneg: callback %d ran",
				    first[i].cmd, j);
	}
}

/* engine_calls_close_once_on_quit - a clean 'Q' */
static void
engine_calls_close_once_on_quit(void **state)
{
	struct script sc;
	struct fake *f;

	(void)state;
	memset(&sc, 0, sizeof(sc));
	f = fake_start(&sc);
	fake_hello(f);
	fake_connect(f);
	pkt(f, PROTO_C_HELO, S("client.example\0"));
	expect_reply(f, PROTO_R_CONTINUE, NULL, 0, "helo");
	pkt(f, PROTO_C_QUIT, NULL, 0);
	expect_closed(f, "quit");
	assert_int_equal(seen.calls[CB_CLOSE], 1);
	assert_string_equal(buf_cstr(&seen.log), "connect client.example "
	    "192.0.2.1\nhelo client.example\nclose\n");
}

/* engine_survives_mta_closing_mid_packet - EOF inside a length or a packet */
static void
engine_survives_mta_closing_mid_packet(void **state)
{
	static const struct { const char *name; const char *raw; size_t len; }
	    cuts[] = {
		{ "inside the length", S("\0\0") },
		{ "after the length", S("\0\0\0\x10") },
		{ "inside the data", S("\0\0\0\x10" "LSubject\0") },
	};
	struct script sc;
	struct fake *f;
	size_t i;

	(void)state;
	memset(&sc, 0, sizeof(sc));
	for (i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		f = fake_start(&sc);
		fake_hello(f);
		fake_connect(f);
		fake_write(f, cuts[i].raw, cuts[i].len);
		if (fake_finish(f) != 0)
			fail_msg("%s: a reply to half a packet", cuts[i].name);
		if (seen.calls[CB_CLOSE] != 1 || seen.calls[CB_HEADER] != 0)
			fail_msg("%s: close called %d times, header %d times",
			    cuts[i].name, seen.calls[CB_CLOSE], seen.calls[CB_HEADER]);
	}
}

/* hook_state - log whether the private state is set at connect and close */
static void
hook_state(struct engine_session *s, int which)
{
	static int token;

	if (which == CB_CONNECT) {
		buf_printf(&seen.log, "state %s\n", mta_get_state(s) ? "set" : "unset");
		mta_set_state(s, &token);
	} else if (which == CB_CLOSE) {
		buf_printf(&seen.log, "state %s\n", mta_get_state(s) ? "set" : "unset");
	}
}

/* engine_quit_nc_starts_a_new_connection - close, forget, go on without OPTNEG */
static void
engine_quit_nc_starts_a_new_connection(void **state)
{
	static const char want[] =
	    "connect client.example 192.0.2.1 j=mx1\nstate unset\n"
	    "helo client.example j=mx1\n"
	    "close\nstate set\n"
	    "connect second.example 192.0.2.2 j=-\nstate unset\n"
	    "close\nstate set\n";
	struct script sc;
	struct fake *f;

	(void)state;
	memset(&sc, 0, sizeof(sc));
	sc.lookups = "j";
	sc.hook = hook_state;
	f = fake_start(&sc);
	fake_hello(f);
	pkt_macro(f, PROTO_C_CONNECT, S("j\0" "mx1\0"));
	fake_connect(f);
	pkt(f, PROTO_C_HELO, S("client.example\0"));
	expect_reply(f, PROTO_R_CONTINUE, NULL, 0, "helo");
	pkt(f, PROTO_C_QUIT_NC, NULL, 0);
	pkt(f, PROTO_C_CONNECT, S("second.example\0" "4" "\0\x19" "192.0.2.2\0"));
	expect_reply(f, PROTO_R_CONTINUE, NULL, 0, "connect after QUIT_NC");
	pkt(f, PROTO_C_QUIT, NULL, 0);
	expect_closed(f, "quit");
	assert_int_equal(seen.calls[CB_CLOSE], 2);
	assert_string_equal(buf_cstr(&seen.log), want);
}

/* One packet of the order cases, by its letter in order_case.send. */
struct order_pkt {
	int letter;
	int cmd;
	const char *data;
	size_t len;
	int answered;			/* takes a reply ... */
	unsigned long nr;		/* ... unless this NR_* was negotiated */
};

static const struct order_pkt order_pkts[] = {
	{ 'O', PROTO_C_OPTNEG, S("\0\0\0\6" "\0\0\1\xff" "\0\x1f\xff\xff"), 1, 0 },
	{ 'D', PROTO_C_MACRO, S("Mi\0" "Q1\0"), 0, 0 },
	{ 'C', PROTO_C_CONNECT, S("client.example\0" "4" "\0\x19" "192.0.2.1\0"),
	    1, PROTO_P_NR_CONN },
	{ 'H', PROTO_C_HELO, S("client.example\0"), 1, PROTO_P_NR_HELO },
	{ 'M', PROTO_C_MAIL, S("<a@example.com>\0"), 1, PROTO_P_NR_MAIL },
	{ 'R', PROTO_C_RCPT, S("<b@example.net>\0"), 1, PROTO_P_NR_RCPT },
	{ 'T', PROTO_C_DATA, "", 0, 1, PROTO_P_NR_DATA },
	{ 'U', PROTO_C_UNKNOWN, S("VRFY x\0"), 1, PROTO_P_NR_UNKN },
	{ 'L', PROTO_C_HEADER, S("Subject\0" "hi\0"), 1, PROTO_P_NR_HDR },
	{ 'N', PROTO_C_EOH, "", 0, 1, PROTO_P_NR_EOH },
	{ 'B', PROTO_C_BODY, S("line\r\n"), 1, PROTO_P_NR_BODY },
	{ 'E', PROTO_C_BODYEOB, "", 0, 1, 0 },
	{ 'A', PROTO_C_ABORT, "", 0, 0, 0 },
	{ 'K', PROTO_C_QUIT_NC, "", 0, 0, 0 },
};

/* The no-reply steps Postfix asks for, one of the two negotiations run. */
#define ORDER_NR	(PROTO_P_NR_CONN | PROTO_P_NR_HELO | PROTO_P_NR_MAIL \
	| PROTO_P_NR_RCPT | PROTO_P_NR_DATA | PROTO_P_NR_UNKN | PROTO_P_NR_HDR \
	| PROTO_P_NR_EOH | PROTO_P_NR_BODY)

/* A packet sequence and what the callbacks see of it. */
struct order_case {
	const char *name;
	const char *send;		/* packets, letters of order_pkts */
	unsigned long skip;		/* PROTO_P_NO* steps negotiated away */
	const char *trace;		/* the callbacks called (SEEN_LETTERS) */
};

/* The last packet of each is out of order: closed, never answered. */
static const struct order_case order_errors[] = {
	{ "second EOH", "CHMRLNN", 0, "CHMRLNAQ" },
	{ "header after EOH", "CHMRLNL", 0, "CHMRLNAQ" },
	{ "header after the body", "CHMRLNBL", 0, "CHMRLNBAQ" },
	{ "body before EOH", "CHMRLB", 0, "CHMRLAQ" },
	{ "EOM before EOH", "CHMRLE", 0, "CHMRLAQ" },
	{ "EOM after RCPT", "CHMRE", 0, "CHMRAQ" },
	{ "EOM without MAIL", "CHE", 0, "CHQ" },
	{ "EOM twice", "CHMRLNEE", 0, "CHMRLNEQ" },
	{ "body after EOM", "CHMRLNEB", 0, "CHMRLNEQ" },
	{ "header after EOM", "CHMRLNEL", 0, "CHMRLNEQ" },
	{ "EOH after ABORT", "CHMRLNBAN", 0, "CHMRLNBAQ" },
	{ "RCPT before MAIL", "CHR", 0, "CHQ" },
	{ "DATA before MAIL", "CHT", 0, "CHQ" },
	{ "header before MAIL", "CHL", 0, "CHQ" },
	{ "EOH before MAIL", "CHN", 0, "CHQ" },
	{ "body before MAIL", "CHB", 0, "CHQ" },
	{ "RCPT after a header", "CHMRLR", 0, "CHMRLAQ" },
	{ "DATA after a header", "CHMRLT", 0, "CHMRLAQ" },
	{ "RCPT after EOH", "CHMRLNR", 0, "CHMRLNAQ" },
	{ "DATA after EOH", "CHMRLNT", 0, "CHMRLNAQ" },
	{ "MAIL before CONNECT", "M", 0, "Q" },
	{ "HELO before CONNECT", "H", 0, "Q" },
	{ "header before CONNECT", "L", 0, "Q" },
	{ "EOM before CONNECT", "E", 0, "Q" },
	{ "UNKNOWN before CONNECT", "U", 0, "Q" },
	{ "CONNECT twice", "CHC", 0, "CHQ" },
	{ "CONNECT in a message", "CHMRC", 0, "CHMRAQ" },
	{ "OPTNEG twice", "CO", 0, "CQ" },
	{ "NOEOH: header after the body", "CHMRLBL", PROTO_P_NOEOH, "CHMRLBAQ" },
	{ "NOMAIL: RCPT after a header", "CHLR", PROTO_P_NOMAIL, "CHLAQ" },
	{ "NOCONNECT: CONNECT anyway", "HC", PROTO_P_NOCONNECT, "HQ" },
};

/* Odd orders MTAs send: served, then QUIT. */
static const struct order_case order_served[] = {
	{ "a message in order", "CHMRTLNBBE", 0, "CHMRLNBBEQ" },
	{ "ABORT, then MAIL (Postfix, Sendmail)", "CHMRLNBAMRLNBE", 0,
	    "CHMRLNBAMRLNBEQ" },
	{ "ABORT between messages (Postfix)", "CHAHAMRLNE", 0, "CHHMRLNEQ" },
	{ "ABORT after EOM (Postfix)", "CHMRLNEAMRLNE", 0, "CHMRLNEMRLNEQ" },
	{ "ABORT before CONNECT", "ACHMRLNE", 0, "CHMRLNEQ" },
	{ "HELO after MAIL, then ABORT (Postfix)", "CHMRHAMRLNE", 0,
	    "CHMRAHMRLNEQ" },
	{ "MAIL after RCPT, no ABORT (Sendmail)", "CHMRMRLNE", 0,
	    "CHMRAMRLNEQ" },
	{ "MAIL after a header, no ABORT (Sendmail)", "CHMRLMRLNE", 0,
	    "CHMRLAMRLNEQ" },
	{ "HELO in the body, no ABORT (Sendmail)", "CHMRLNBHMRLNE", 0,
	    "CHMRLNBAHMRLNEQ" },
	{ "UNKNOWN after a header, no ABORT", "CHMRLUMRLNE", 0,
	    "CHMRLAMRLNEQ" },
	{ "MAIL after EOM, no ABORT (Sendmail)", "CHMRLNEMRLNE", 0,
	    "CHMRLNEMRLNEQ" },
	{ "UNKNOWN in the envelope", "CHMURLNE", 0, "CHMRLNEQ" },
	{ "HELO again (Sendmail, STARTTLS)", "CHHHMRLNE", 0, "CHHHMRLNEQ" },
	{ "RCPT and DATA again after DATA (Postfix)", "CHMRTRTLNE", 0,
	    "CHMRRLNEQ" },
	{ "no headers", "CHMRTNBE", 0, "CHMRNBEQ" },
	{ "no body", "CHMRLNE", 0, "CHMRLNEQ" },
	{ "macros before everything", "DCDHDMDRDTDLDNDBDE", 0, "CHMRLNBEQ" },
	{ "QUIT_NC in a message", "CHMRLKCHMRLNE", 0, "CHMRLAQCHMRLNEQ" },
	{ "QUIT_NC between messages", "CHMRLNEKCHMRNE", 0, "CHMRLNEQCHMRNEQ" },
	{ "NOEOH: body after the headers", "CHMRLBE", PROTO_P_NOEOH, "CHMRLBEQ" },
	{ "NOEOH: EOM after the headers", "CHMRLE", PROTO_P_NOEOH, "CHMRLEQ" },
	{ "NOMAIL: RCPT opens a message", "CHRLNE", PROTO_P_NOMAIL, "CHRLNEQ" },
	{ "NOMAIL: a header opens a message", "CHLNBE", PROTO_P_NOMAIL,
	    "CHLNBEQ" },
	{ "NOCONNECT: HELO first", "HMRLNE", PROTO_P_NOCONNECT, "HMRLNEQ" },
	{ "NOCONNECT: QUIT_NC, then HELO", "HMRLNEKHMRLNE", PROTO_P_NOCONNECT,
	    "HMRLNEQHMRLNEQ" },
};

static void *order_verifier;	/* what eoh allocated, as callbacks.c's DKIM verifier */

/*
 * hook_verifier - keep state the way callbacks.c does, trusting the
 * engine's order: eoh allocates, eom, abort and close free. A second EOH
 * in one message would leak the first (LeakSanitizer reports it).
 */
static void
hook_verifier(struct engine_session *s, int which)
{
	(void)s;
	if (which == CB_EOH) {
		order_verifier = malloc(4096);
	} else if (which == CB_EOM || which == CB_ABORT || which == CB_CLOSE) {
		free(order_verifier);
		order_verifier = NULL;
	}
}

/* order_pkt - the packet of a letter */
static const struct order_pkt *
order_pkt(int letter)
{
	size_t i;

	for (i = 0; i < sizeof(order_pkts) / sizeof(order_pkts[0]); i++)
		if (order_pkts[i].letter == letter)
			return &order_pkts[i];
	fail_msg("no order packet '%c'", letter);
	return NULL;
}

/*
 * order_run - one case under one negotiation (nr: the NR_* steps):
 * every packet but an erroneous last one answered as negotiated, then
 * the connection closed (by the engine, or by QUIT), and the callbacks
 * seen exactly as the case says
 */
static void
order_run(const struct order_case *c, unsigned long nr, int closes)
{
	struct buf got = BUF_INIT;
	struct script sc;
	struct fake *f;
	size_t i, n = strlen(c->send);
	char what[128];
	int cmd = 0;

	memset(&sc, 0, sizeof(sc));
	sc.proto = nr | c->skip;
	sc.hook = hook_verifier;
	f = fake_start(&sc);
	fake_optneg(f, 6, POSTFIX_ACTIONS, POSTFIX_PROTO);
	if (read_reply(f, &cmd, &got) != 1 || cmd != PROTO_R_OPTNEG)
		fail_msg("%s: no OPTNEG reply", c->name);
	buf_free(&got);
	for (i = 0; i < n; i++) {
		const struct order_pkt *p = order_pkt(c->send[i]);

		snprintf(what, sizeof(what), "%s (%s), packet %zu '%c'", c->name,
		    nr != 0 ? "no replies" : "replies", i + 1, c->send[i]);
		pkt(f, p->cmd, p->data, p->len);
		if (closes && i + 1 == n)
			break;
		if (p->answered && (p->nr & sc.proto) == 0)
			expect_reply(f, PROTO_R_CONTINUE, NULL, 0, what);
	}
	if (!closes)
		pkt(f, PROTO_C_QUIT, NULL, 0);
	expect_closed(f, what);
	if (strcmp(seen.trace, c->trace) != 0)
		fail_msg("%s: callbacks \"%s\", wanted \"%s\"", what, seen.trace,
		    c->trace);
	if (order_verifier != NULL)
		fail_msg("%s: the message's state was not freed", what);
}

/*
 * engine_closes_on_packets_out_of_order - a second EOH, a header after
 * it, a body before it, a message command outside a message, CONNECT or
 * OPTNEG again: the connection closes without a reply, the message open
 * before it is aborted once (its state freed), no callback sees the packet
 */
static void
engine_closes_on_packets_out_of_order(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(order_errors) / sizeof(order_errors[0]); i++) {
		order_run(&order_errors[i], 0, 1);
		order_run(&order_errors[i], ORDER_NR, 1);
	}
}

/*
 * engine_serves_orders_mtas_send - ABORT then MAIL, HELO inside a
 * message, MAIL without ABORT, RCPT and DATA again, QUIT_NC, steps
 * negotiated away: served; each message ends once, with eom or abort
 */
static void
engine_serves_orders_mtas_send(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(order_served) / sizeof(order_served[0]); i++) {
		order_run(&order_served[i], 0, 0);
		order_run(&order_served[i], ORDER_NR, 0);
	}
}

/* engine_delivers_pipelined_packets_in_order - 200 headers, 10 chunks, one write */
static void
engine_delivers_pipelined_packets_in_order(void **state)
{
	static const unsigned long protos[] = {
		PROTO_P_NR_HDR | PROTO_P_NR_BODY, 0
	};
	struct buf b = BUF_INIT, want = BUF_INIT, d = BUF_INIT;
	struct script sc;
	struct fake *f;
	size_t i, p;
	char what[32];

	(void)state;
	for (p = 0; p < sizeof(protos) / sizeof(protos[0]); p++) {
		memset(&sc, 0, sizeof(sc));
		sc.proto = protos[p];
		sc.lookups = "i";
		f = fake_start(&sc);
		fake_hello(f);
		buf_reset(&b);
		buf_reset(&want);
		pkt_put(&b, PROTO_C_CONNECT,
		    S("client.example\0" "4" "\0\x19" "192.0.2.1\0"));
		pkt_put(&b, PROTO_C_MAIL, S("<a@example.com>\0"));
		buf_puts(&want, "connect client.example 192.0.2.1 i=-\n"
		    "mail <a@example.com> i=-\n");
		pkt_put_macro(&b, PROTO_C_DATA, S("i\0" "Q7\0"));
		pkt_put(&b, PROTO_C_DATA, NULL, 0);
		for (i = 0; i < 200; i++) {
			buf_reset(&d);
			buf_printf(&d, "X-Seq-%zu", i);
			buf_putc(&d, '\0');
			buf_printf(&d, "value %zu", i);
			buf_putc(&d, '\0');
			pkt_put_macro(&b, PROTO_C_HEADER, NULL, 0);
			pkt_put(&b, PROTO_C_HEADER, d.data, d.len);
			buf_printf(&want, "header X-Seq-%zu=value %zu i=Q7\n", i, i);
		}
		pkt_put_macro(&b, PROTO_C_EOH, NULL, 0);
		pkt_put(&b, PROTO_C_EOH, NULL, 0);
		buf_printf(&want, "eoh i=Q7\n");
		for (i = 0; i < 10; i++) {
			buf_reset(&d);
			buf_printf(&d, "chunk-%03zu", i);
			pkt_put_macro(&b, PROTO_C_BODY, NULL, 0);
			pkt_put(&b, PROTO_C_BODY, d.data, d.len);
			buf_printf(&want, "body 9 chunk-%03zu i=Q7\n", i);
		}
		pkt_put_macro(&b, PROTO_C_BODYEOB, NULL, 0);
		pkt_put(&b, PROTO_C_BODYEOB, NULL, 0);
		pkt_put(&b, PROTO_C_ABORT, NULL, 0);
		pkt_put(&b, PROTO_C_QUIT, NULL, 0);
		buf_printf(&want, "eom i=Q7\nclose\n");
		fake_write(f, b.data, b.len);
		/* CONNECT, MAIL, DATA, then per header and chunk unless NR, EOH, EOM */
		for (i = 0; i < (protos[p] ? 5 : 5 + 200 + 10); i++) {
			snprintf(what, sizeof(what), "reply %zu", i + 1);
			expect_reply(f, PROTO_R_CONTINUE, NULL, 0, what);
		}
		expect_closed(f, "quit after pipelined packets");
		assert_int_equal(seen.calls[CB_HEADER], 200);
		assert_string_equal(buf_cstr(&seen.log), buf_cstr(&want));
	}
	buf_free(&b);
	buf_free(&want);
	buf_free(&d);
}

/* engine_delivers_large_header_intact - packets larger than the read buffer */
static void
engine_delivers_large_header_intact(void **state)
{
	static const size_t sizes[] = {
		1024 * 1024,
		ENGINE_MAX_PACKET - 1 - sizeof("X-Big") - 1,	/* the largest packet */
	};
	struct buf b = BUF_INIT, want = BUF_INIT;
	struct script sc;
	struct fake *f;
	char *v;
	size_t i, k;

	(void)state;
	memset(&sc, 0, sizeof(sc));
	for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		v = malloc(sizes[k] + 1);
		assert_non_null(v);
		for (i = 0; i < sizes[k]; i++)
			v[i] = (char)('a' + i % 26);
		v[sizes[k]] = '\0';
		buf_reset(&b);
		buf_append(&b, "X-Big", sizeof("X-Big"));
		buf_append(&b, v, sizes[k] + 1);
		if (k == 1)
			assert_int_equal(b.len + 1, ENGINE_MAX_PACKET);
		f = fake_start(&sc);
		fake_hello(f);
		fake_mail(f);
		pkt(f, PROTO_C_HEADER, b.data, b.len);
		expect_reply(f, PROTO_R_CONTINUE, NULL, 0, "big header");
		pkt(f, PROTO_C_EOH, NULL, 0);
		expect_reply(f, PROTO_R_CONTINUE, NULL, 0, "eoh");
		pkt(f, PROTO_C_BODYEOB, NULL, 0);
		expect_reply(f, PROTO_R_CONTINUE, NULL, 0, "eom");
		pkt(f, PROTO_C_ABORT, NULL, 0);
		/* the (shrunk) buffer still serves the next message */
		pkt(f, PROTO_C_MAIL, S("<a@example.com>\0"));
		expect_reply(f, PROTO_R_CONTINUE, NULL, 0, "mail after");
		pkt(f, PROTO_C_HEADER, S("Subject\0" "after\0"));
		expect_reply(f, PROTO_R_CONTINUE, NULL, 0, "header after");
		assert_int_equal(fake_finish(f), 0);
		buf_reset(&want);
		buf_printf(&want, "connect client.example 192.0.2.1\n"
		    "mail <a@example.com>\nheader X-Big=<%zu bytes %016llx>\n"
		    "eoh\neom\nmail <a@example.com>\nheader Subject=after\n"
		    "abort\nclose\n",
		    sizes[k], fnv64(v, sizes[k]));
		assert_string_equal(buf_cstr(&seen.log), buf_cstr(&want));
		free(v);
	}
	buf_free(&b);
	buf_free(&want);
}

/* A packet's second part, written by a thread after a pause (late_write). */
struct late {
	int fd;				/* the MTA's end */
	const char *p;			/* the bytes */
	size_t len;
};

/* late_write - thread: wait 50 ms, then write the rest of a packet */
static void *
late_write(void *arg)
{
	struct late *l = arg;

	usleep(50000);
	if (write(l->fd, l->p, l->len) != (ssize_t)l->len)
		return (void *)1;
	return NULL;
}

/* run_parks - engine_run serves what was sent and returns PARK within 2 s */
static void
run_parks(struct engine_session *s, const char *what)
{
	struct timespec t0, t1;
	enum engine_run r;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = engine_run(s);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (r != ENGINE_RUN_PARK)
		fail_msg("%s: the session ended instead of parking", what);
	if (t1.tv_sec - t0.tv_sec > 2)
		fail_msg("%s: parked after %ld s", what, (long)(t1.tv_sec - t0.tv_sec));
}

/*
 * engine_run_parks_and_resumes - with a park wait, engine_run serves the
 * packets the MTA sent and returns when it falls silent between two
 * (after OPTNEG, CONNECT, inside a message); called again it goes on where
 * it was; a packet that stops half-way is waited for, not parked on; the
 * MTA closing a parked session ends it, and the close callback runs once,
 * when the session is freed
 */
static void
engine_run_parks_and_resumes(void **state)
{
	static const char eoh[] = "\0\0\0\x01N";
	struct engine_session *s;
	struct script sc;
	struct late late;
	struct fake *f;
	pthread_t tid;
	void *rc;

	(void)state;
	memset(&sc, 0, sizeof(sc));
	f = fake_prepare(&sc);
	s = engine_session_new(f->filter_fd, &f->cb, TEST_TIMEOUT, 20);
	fake_optneg(f, 6, POSTFIX_ACTIONS, POSTFIX_PROTO);
	run_parks(s, "after OPTNEG");
	{
		struct buf got = BUF_INIT;
		int cmd = 0;

		if (read_reply(f, &cmd, &got) != 1 || cmd != PROTO_R_OPTNEG)
			fail_msg("no OPTNEG reply");
		buf_free(&got);
	}
	pkt(f, PROTO_C_CONNECT, S("client.example\0" "4" "\0\x19" "192.0.2.1\0"));
	run_parks(s, "after CONNECT");
	expect_reply(f, PROTO_R_CONTINUE, NULL, 0, "connect");
	pkt(f, PROTO_C_MAIL, S("<a@example.com>\0"));
	pkt(f, PROTO_C_RCPT, S("<b@example.net>\0"));
	pkt(f, PROTO_C_HEADER, S("Subject\0 parked\0"));
	run_parks(s, "after a header");
	expect_reply(f, PROTO_R_CONTINUE, NULL, 0, "mail");
	expect_reply(f, PROTO_R_CONTINUE, NULL, 0, "rcpt");
	expect_reply(f, PROTO_R_CONTINUE, NULL, 0, "header");
	/* EOH in two parts, 50 ms apart: longer than the park wait */
	fake_write(f, eoh, 3);
	late.fd = f->fd;
	late.p = eoh + 3;
	late.len = sizeof(eoh) - 1 - 3;
	assert_int_equal(pthread_create(&tid, NULL, late_write, &late), 0);
	run_parks(s, "after a split EOH");
	pthread_join(tid, &rc);
	assert_null(rc);
	expect_reply(f, PROTO_R_CONTINUE, NULL, 0, "eoh");
	pkt(f, PROTO_C_BODY, S("hello\r\n"));
	pkt(f, PROTO_C_BODYEOB, NULL, 0);
	run_parks(s, "after EOM");
	expect_reply(f, PROTO_R_CONTINUE, NULL, 0, "body");
	expect_reply(f, PROTO_R_CONTINUE, NULL, 0, "eom");
	assert_string_equal(seen.trace, "CMRLNBE");
	close(f->fd);			/* the MTA goes away while parked */
	assert_int_equal(engine_run(s), ENGINE_RUN_END);
	assert_int_equal(seen.calls[CB_CLOSE], 0);
	engine_session_free(s);
	close(f->filter_fd);
	assert_string_equal(seen.trace, "CMRLNBEQ");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(engine_negotiates_offered_and_wanted),
		cmocka_unit_test(engine_asks_for_macro_lists),
		cmocka_unit_test(engine_drops_accept_to_nr_steps),
		cmocka_unit_test(engine_holds_refusals_from_nr_steps),
		cmocka_unit_test(engine_answers_each_header_without_nr),
		cmocka_unit_test(engine_keeps_macros_by_stage),
		cmocka_unit_test(engine_decodes_commands),
		cmocka_unit_test(engine_sends_reply_codes),
		cmocka_unit_test(mta_cuts_long_reply_text),
		cmocka_unit_test(engine_sends_eom_modifications_in_order),
		cmocka_unit_test(mta_refuses_modifications_out_of_place),
		cmocka_unit_test(engine_passes_eob_data_to_body_first),
		cmocka_unit_test(engine_closes_on_malformed_packets),
		cmocka_unit_test(engine_refuses_commands_before_optneg),
		cmocka_unit_test(engine_calls_close_once_on_quit),
		cmocka_unit_test(engine_survives_mta_closing_mid_packet),
		cmocka_unit_test(engine_quit_nc_starts_a_new_connection),
		cmocka_unit_test(engine_quit_nc_drops_held_refusals),
		cmocka_unit_test(engine_answers_continue_without_callbacks),
		cmocka_unit_test(engine_closes_on_packets_out_of_order),
		cmocka_unit_test(engine_serves_orders_mtas_send),
		cmocka_unit_test(engine_delivers_pipelined_packets_in_order),
		cmocka_unit_test(engine_delivers_large_header_intact),
		cmocka_unit_test(engine_run_parks_and_resumes),
	};
	int rc;

	signal(SIGPIPE, SIG_IGN);	/* a closed filter shows as a failed write */
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	fake_stop(&fake);
	buf_free(&seen.log);
	return rc;
}
