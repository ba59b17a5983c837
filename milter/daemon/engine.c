/*
 * engine.c - one MTA connection, filter side of the milter protocol.
 *
 * Threading: engine_run runs in the thread listener.c gave the
 * connection (engine_serve in the caller's) and touches only its own
 * session; between two engine_run calls the session may pass to another
 * thread (listener.c orders the hand-over). Reads go through the
 * session's buffer (many packets per read); replies collect in s->out and
 * go out in one write when the MTA waits for one. Between packets a
 * session that may park waits park_ms for the next (the read timeout),
 * then engine_run returns and the thread is free for other connections.
 *
 * A protocol error (bad length, a packet that does not parse, an unknown
 * command, a command out of order: see engine_rules) ends the connection
 * with one log line: the MTA then applies its default action (Postfix:
 * milter_default_action), so no mail is lost silently, and the message's
 * state goes through the abort callback as on any other end.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "daemon/engine.h"
#include "base/log.h"
#include "base/xalloc.h"

#define ENGINE_INBUF	(16u * 1024)	/* read buffer to start with */
#define ENGINE_KEEPBUF	(128u * 1024)	/* shrink back to ENGINE_INBUF above this */
#define ENGINE_MAXARGS	1024		/* MAIL/RCPT arguments taken */
#define ENGINE_WOULD_PARK 2		/* engine_fill: nothing came, nothing buffered */

/* What serving one command leads to (engine_dispatch and its helpers). */
enum engine_flow {
	FLOW_ON,			/* served: read the next command */
	FLOW_QUIT,			/* the MTA said QUIT */
	FLOW_MALFORMED,			/* the packet did not parse (engine_serve logs) */
	FLOW_GONE,			/* the MTA went away (not a protocol error) */
	FLOW_SAID			/* a protocol error, logged already */
};

/* What a command carries to its callback, decoded (engine_call); all borrowed from the packet. */
struct engine_args {
	const char *a, *b;		/* CONNECT host, addr; HELO name; HEADER name, value */
	unsigned char *data;		/* the packet's data: MAIL/RCPT strings, BODY chunk */
	size_t len;			/* bytes at data */
};

/* What a command does in a phase (engine_rules). */
enum engine_step {
	ENGINE_STEP_GO,			/* its place: go on */
	ENGINE_STEP_END,		/* ends the message in progress first */
	ENGINE_STEP_NO			/* out of order: a protocol error */
};

/*
 * The order table: per command, what it does in each phase (NONE, START,
 * CONN, ENVELOPE, HEADERS, BODY of enum engine_phase) and the phase it
 * leads to (-1: stays, or its handler sets it), and the no-reply step
 * (PROTO_P_NR_*) that silences its answer (0: none). Steps negotiated away
 * (NOCONNECT, NOMAIL, NOEOH) are skipped (engine_order_step). What looks
 * odd but is allowed, because MTAs send it:
 * - HELO again (Sendmail; Postfix after STARTTLS);
 * - HELO inside a message, ending it: Postfix sends HELO, then ABORT
 *   (EHLO resets the SMTP transaction);
 * - MAIL, HELO or UNKNOWN inside a message without ABORT, ending it:
 *   Sendmail sends no ABORT when MAIL was negotiated no-reply, nor to
 *   this filter when another refused the message;
 * - RCPT and DATA again after DATA: Postfix, when another milter refused
 *   DATA; no DATA at all (NODATA, old MTAs);
 * - ABORT outside a message: Postfix after each HELO.
 */
#define GO	ENGINE_STEP_GO
#define END	ENGINE_STEP_END
#define NO	ENGINE_STEP_NO
static const struct engine_rule {
	int cmd;
	const char *name;		/* for the log */
	unsigned char in[ENGINE_PH_N];	/* per phase: GO, END, NO */
	signed char next;		/* the phase after it; -1: see above */
	unsigned long nr;		/* PROTO_P_NR_* of its answer, 0: none */
} engine_rules[] = {
	/*				NONE START CONN  ENV  HDRS BODY */
	{ PROTO_C_OPTNEG, "OPTNEG",	{ GO,  NO,   NO,  NO,  NO,  NO }, -1, 0 },
	{ PROTO_C_MACRO, "MACRO",	{ NO,  GO,   GO,  GO,  GO,  GO }, -1, 0 },
	{ PROTO_C_CONNECT, "CONNECT",	{ NO,  GO,   NO,  NO,  NO,  NO },
	    ENGINE_PH_CONN, PROTO_P_NR_CONN },
	{ PROTO_C_HELO, "HELO",		{ NO,  NO,   GO,  END, END, END },
	    ENGINE_PH_CONN, PROTO_P_NR_HELO },
	{ PROTO_C_MAIL, "MAIL",		{ NO,  NO,   GO,  END, END, END },
	    ENGINE_PH_ENVELOPE, PROTO_P_NR_MAIL },
	{ PROTO_C_RCPT, "RCPT",		{ NO,  NO,   NO,  GO,  NO,  NO },
	    -1, PROTO_P_NR_RCPT },
	{ PROTO_C_DATA, "DATA",		{ NO,  NO,   NO,  GO,  NO,  NO },
	    -1, PROTO_P_NR_DATA },
	{ PROTO_C_UNKNOWN, "UNKNOWN",	{ NO,  NO,   GO,  GO,  END, END },
	    -1, PROTO_P_NR_UNKN },
	{ PROTO_C_HEADER, "HEADER",	{ NO,  NO,   NO,  GO,  GO,  NO },
	    ENGINE_PH_HEADERS, PROTO_P_NR_HDR },
	{ PROTO_C_EOH, "EOH",		{ NO,  NO,   NO,  GO,  GO,  NO },
	    ENGINE_PH_BODY, PROTO_P_NR_EOH },
	{ PROTO_C_BODY, "BODY",		{ NO,  NO,   NO,  NO,  NO,  GO },
	    ENGINE_PH_BODY, PROTO_P_NR_BODY },
	{ PROTO_C_BODYEOB, "EOM",	{ NO,  NO,   NO,  NO,  NO,  GO },
	    ENGINE_PH_CONN, 0 },
	{ PROTO_C_ABORT, "ABORT",	{ NO,  GO,   GO,  END, END, END }, -1, 0 },
	{ PROTO_C_QUIT_NC, "QUIT_NC",	{ NO,  GO,   GO,  END, END, END }, -1, 0 },
	{ PROTO_C_QUIT, "QUIT",		{ GO,  GO,   GO,  GO,  GO,  GO }, -1, 0 },
};
#undef GO
#undef END
#undef NO

/* Each phase in a log line: "... out of order (after EOH)". */
static const char *const engine_phase_names[ENGINE_PH_N] = {
	"before OPTNEG", "before CONNECT", "outside a message",
	"in the envelope", "in the headers", "after EOH"
};

/* engine_put_u32 - append a 32-bit integer in network order */
static void
engine_put_u32(struct buf *b, uint32_t v)
{
	uint32_t n = htonl(v);

	buf_append(b, &n, sizeof(n));
}

/* engine_get_u32 - read a 32-bit integer in network order */
static uint32_t
engine_get_u32(const unsigned char *p)
{
	uint32_t n;

	memcpy(&n, p, sizeof(n));
	return ntohl(n);
}

/* engine_packet - queue a packet: cmd and len bytes of data */
static void
engine_packet(struct engine_session *s, int cmd, const void *data, size_t len)
{
	engine_put_u32(&s->out, (uint32_t)(len + 1));
	buf_putc(&s->out, cmd);
	if (len > 0)
		buf_append(&s->out, data, len);
}

/* engine_flush - write the queued packets; FLOW_ON, or FLOW_GONE */
static enum engine_flow
engine_flush(struct engine_session *s)
{
	size_t off = 0;
	ssize_t n;

	while (off < s->out.len) {
		n = write(s->fd, s->out.data + off, s->out.len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			log_debug(NULL, "milter connection: write failed: %m");
			buf_reset(&s->out);
			return FLOW_GONE;
		}
		off += (size_t)n;
	}
	buf_reset(&s->out);
	return FLOW_ON;
}

/* engine_wait_rest - inside a packet, after the park wait: up to milter_timeout; 1 readable, 0 timed out */
static int
engine_wait_rest(struct engine_session *s)
{
	struct pollfd pfd;
	long left = s->timeout_ms - s->park_ms;
	int rc;

	pfd.fd = s->fd;
	pfd.events = POLLIN;
	do
		rc = poll(&pfd, 1, left > 0 ? (int)left : 0);
	while (rc < 0 && errno == EINTR);
	return rc;
}

/*
 * engine_fill - have at least need unread bytes; 1, 0 at a clean EOF, -1
 * on error, ENGINE_WOULD_PARK when nothing is buffered and nothing came
 * within the session's park wait (s->park_ms, the read timeout then)
 */
static int
engine_fill(struct engine_session *s, size_t need)
{
	ssize_t n;
	int rc;

	while (s->inlen - s->inoff < need) {
		if (s->inoff > 0) {		/* move the unread part to the front */
			memmove(s->in, s->in + s->inoff, s->inlen - s->inoff);
			s->inlen -= s->inoff;
			s->inoff = 0;
		}
		if (need > s->incap) {
			s->incap = need > ENGINE_INBUF ? need : ENGINE_INBUF;
			s->in = xrealloc(s->in, s->incap);
		}
		n = read(s->fd, s->in + s->inlen, s->incap - s->inlen);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && s->park_ms > 0
		    && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			/* between packets: the caller may park the session */
			if (s->inlen == 0)
				return ENGINE_WOULD_PARK;
			/* inside one: wait on, up to milter_timeout */
			if ((rc = engine_wait_rest(s)) > 0)
				continue;
			if (rc == 0)
				errno = EAGAIN;	/* logged as the timeout */
		}
		if (n == 0 && s->inlen == 0)
			return 0;
		if (n <= 0) {
			if (n == 0)
				log_warn(NULL, "milter connection: MTA closed it "
				    "in the middle of a packet");
			else if (errno == EAGAIN || errno == EWOULDBLOCK)
				log_warn(NULL, "milter connection: nothing from "
				    "the MTA within milter_timeout; closing");
			else
				log_debug(NULL, "milter connection: read failed: %m");
			return -1;
		}
		s->inlen += (size_t)n;
	}
	return 1;
}

/* engine_next - the next packet; 1, 0 at a clean EOF, -1 on error, or ENGINE_WOULD_PARK */
static int
engine_next(struct engine_session *s, int *cmd, unsigned char **data,
    size_t *len)
{
	uint32_t plen;
	int rc = 0;

	if ((rc = engine_fill(s, PROTO_LEN_SIZE)) != 1)
		return rc;
	plen = engine_get_u32(s->in + s->inoff);
	if (plen == 0 || plen > ENGINE_MAX_PACKET) {
		log_warn(NULL, "milter connection: packet length %lu out of "
		    "range; closing", (unsigned long)plen);
		return -1;
	}
	if ((rc = engine_fill(s, PROTO_LEN_SIZE + (size_t)plen)) != 1)
		return -1;
	*cmd = s->in[s->inoff + PROTO_LEN_SIZE];
	*data = s->in + s->inoff + PROTO_HEAD_SIZE;
	*len = plen - 1;
	s->inoff += PROTO_LEN_SIZE + (size_t)plen;
	return 1;
}

/*
 * engine_shrink - between messages, give the read buffer back when it is
 * empty (an idle connection holds no buffer), or cut a large one down
 */
static void
engine_shrink(struct engine_session *s)
{
	if (s->inoff == s->inlen) {
		free(s->in);
		s->in = NULL;
		s->incap = s->inoff = s->inlen = 0;
		return;
	}
	if (s->incap <= ENGINE_KEEPBUF || s->inlen - s->inoff > ENGINE_INBUF)
		return;
	memmove(s->in, s->in + s->inoff, s->inlen - s->inoff);
	s->inlen -= s->inoff;
	s->inoff = 0;
	s->incap = ENGINE_INBUF;
	s->in = xrealloc(s->in, s->incap);
}

/* engine_refusal - a status that refuses (held when it cannot be sent) */
static int
engine_refusal(enum engine_status st)
{
	return st == ENGINE_REJECT || st == ENGINE_TEMPFAIL || st == ENGINE_DISCARD;
}

/* engine_takes_reply - does a command with no-reply flag nr get an answer? */
static int
engine_takes_reply(const struct engine_session *s, unsigned long nr)
{
	return nr == 0 || (s->proto & nr) == 0;
}

/* engine_answer - queue and send the reply to a command, or hold a refusal */
static enum engine_flow
engine_answer(struct engine_session *s, unsigned long nr, enum engine_status st)
{
	int code = PROTO_R_CONTINUE;
	enum engine_hold level;

	if (!engine_takes_reply(s, nr)) {
		level = nr == PROTO_P_NR_CONN || nr == PROTO_P_NR_HELO
		    ? ENGINE_HOLD_CONN : ENGINE_HOLD_MSG;
		if (engine_refusal(st) && s->held[level] == ENGINE_CONTINUE) {
			s->held[level] = st;
			memcpy(s->held_reply[level], s->reply, sizeof(s->reply));
		}
		s->reply[0] = '\0';
		return FLOW_ON;
	}
	switch (st) {
	case ENGINE_CONTINUE: code = PROTO_R_CONTINUE; break;
	case ENGINE_ACCEPT: code = PROTO_R_ACCEPT; break;
	case ENGINE_DISCARD: code = PROTO_R_DISCARD; break;
	case ENGINE_REJECT: code = PROTO_R_REJECT; break;
	case ENGINE_TEMPFAIL: code = PROTO_R_TEMPFAIL; break;
	}
	/* a reply text of the matching class replaces the bare code */
	if ((st == ENGINE_REJECT && s->reply[0] == '5')
	    || (st == ENGINE_TEMPFAIL && s->reply[0] == '4'))
		engine_packet(s, PROTO_R_REPLYCODE, s->reply, strlen(s->reply) + 1);
	else
		engine_packet(s, code, NULL, 0);
	s->reply[0] = '\0';
	return engine_flush(s);
}

/*
 * engine_held - under a held refusal (the connection's first), a command
 * gets it if it takes a reply, nothing if not, and its callback does not
 * run: the callbacks of a refused message see no more of it than its
 * end. 1 and *fl set if so.
 */
static int
engine_held(struct engine_session *s, unsigned long nr, enum engine_flow *fl)
{
	int level;

	for (level = 0; level < ENGINE_HOLD_N; level++) {
		if (s->held[level] == ENGINE_CONTINUE)
			continue;
		*fl = FLOW_ON;
		if (!engine_takes_reply(s, nr))
			return 1;
		memcpy(s->reply, s->held_reply[level], sizeof(s->reply));
		*fl = engine_answer(s, nr, s->held[level]);
		return 1;
	}
	return 0;
}

/* engine_message_over - the message ended: its held refusal goes */
static void
engine_message_over(struct engine_session *s)
{
	s->held[ENGINE_HOLD_MSG] = ENGINE_CONTINUE;
	s->held_reply[ENGINE_HOLD_MSG][0] = '\0';
}

/* engine_strings_ok - data is one or more NUL-terminated strings */
static int
engine_strings_ok(const unsigned char *data, size_t len)
{
	return len > 0 && data[len - 1] == '\0';
}

/* engine_first_phase - a connection starts at CONNECT, unless it is skipped */
static enum engine_phase
engine_first_phase(const struct engine_session *s)
{
	return (s->proto & PROTO_P_NOCONNECT) != 0 ? ENGINE_PH_CONN
	    : ENGINE_PH_START;
}

/* Names of the actions a filter may want, for the negotiation's log line. */
static const struct engine_bit_name {
	unsigned long bit;
	const char *name;
} engine_action_names[] = {
	{ PROTO_F_ADDHDRS, "ADDHDRS" }, { PROTO_F_CHGBODY, "CHGBODY" },
	{ PROTO_F_ADDRCPT, "ADDRCPT" }, { PROTO_F_DELRCPT, "DELRCPT" },
	{ PROTO_F_CHGHDRS, "CHGHDRS" }, { PROTO_F_QUARANTINE, "QUARANTINE" },
	{ PROTO_F_CHGFROM, "CHGFROM" }, { PROTO_F_ADDRCPT_PAR, "ADDRCPT_PAR" },
	{ PROTO_F_SETSYMLIST, "SETSYMLIST" },
};

/* The no-reply steps: one name for all of them in the log. */
#define ENGINE_NR_MASK (PROTO_P_NR_HDR | PROTO_P_NR_CONN | PROTO_P_NR_HELO \
	| PROTO_P_NR_MAIL | PROTO_P_NR_RCPT | PROTO_P_NR_DATA | PROTO_P_NR_UNKN \
	| PROTO_P_NR_EOH | PROTO_P_NR_BODY)

/*
 * The last shortfall engine_report logged as a notice: version, missing
 * actions and steps packed in one word. Shared by all sessions; only
 * ever swapped whole.
 */
static _Atomic unsigned long long engine_reported;

/*
 * engine_report - one log line per negotiation: the version, and what the
 * filter wanted that the MTA did not offer (older protocol versions and
 * MTAs: Postfix before 2.6, Sendmail before 8.14, milter_protocol < 6).
 * A missing action or HDR_LEADSPC changes what the filter can do: that is
 * a notice the first time this MTA's offer is seen (again whenever the
 * offer changes, e.g. after a postfix reload), debug after that; a full
 * offer or missing no-reply steps (only slower) are debug.
 */
static void
engine_report(unsigned long version, unsigned long want_f,
    unsigned long offered_f, unsigned long want_p, unsigned long offered_p)
{
	unsigned long miss_f = want_f & ~offered_f;
	unsigned long miss_p = want_p & ~offered_p;
	int nospace = (miss_p & PROTO_P_HDR_LEADSPC) != 0;
	unsigned long long key;
	struct buf text = BUF_INIT;
	size_t i;
	int level = LOG_DEBUG;

	for (i = 0; i < sizeof(engine_action_names)
	    / sizeof(engine_action_names[0]); i++)
		if ((miss_f & engine_action_names[i].bit) != 0)
			buf_printf(&text, " %s", engine_action_names[i].name);
	if (nospace)
		buf_printf(&text, " HDR_LEADSPC");
	if ((miss_p & ENGINE_NR_MASK) != 0)
		buf_printf(&text, " NR_* (the MTA waits for a reply to every "
		    "command)");
	if (miss_f != 0 || nospace) {
		key = ((unsigned long long)(version & 0xff) << 32)
		    | ((unsigned long long)miss_f << 1) | (unsigned)nospace;
		if (atomic_exchange(&engine_reported, key) != key)
			level = LOG_NOTICE;
	}
	if (text.len == 0)
		log_debug(NULL, "milter protocol version %lu negotiated: the MTA "
		    "offers all authmilter uses", version);
	else
		log_msg(level, NULL, "milter protocol version %lu negotiated; "
		    "the MTA does not offer:%s", version, buf_cstr(&text));
	buf_free(&text);
}

/* engine_negotiate - answer OPTNEG: what we want of what the MTA offers */
static enum engine_flow
engine_negotiate(struct engine_session *s, const unsigned char *data,
    size_t len)
{
	const struct engine_callbacks *cb = s->cb;
	unsigned long version, offered_f, offered_p, want_f, want_p;
	int i;

	if (len < PROTO_OPTNEG_SIZE) {
		log_warn(NULL, "milter connection: short option negotiation");
		return FLOW_MALFORMED;
	}
	version = engine_get_u32(data);
	offered_f = engine_get_u32(data + PROTO_WORD_SIZE);
	offered_p = engine_get_u32(data + 2 * PROTO_WORD_SIZE);
	if (version < PROTO_MIN_VERSION) {
		log_err(NULL, "MTA speaks milter protocol version %lu; version "
		    "%d or later is needed", version, PROTO_MIN_VERSION);
		return FLOW_SAID;
	}
	if ((offered_f & cb->actions_required) != cb->actions_required) {
		log_err(NULL, "MTA does not offer the header actions authmilter "
		    "needs (offered 0x%lx); not filtering", offered_f);
		return FLOW_SAID;
	}
	s->actions = offered_f & cb->actions_wanted;
	want_p = cb->proto_wanted | (cb->proto_now != NULL ? cb->proto_now() : 0);
	s->proto = offered_p & want_p;
	want_f = cb->actions_wanted;
	for (i = 0; i < PROTO_M_NSTAGES; i++)
		if (cb->macros[i] != NULL)
			want_f |= PROTO_F_SETSYMLIST;
	s->actions |= offered_f & want_f & PROTO_F_SETSYMLIST;
	engine_report(version, want_f, offered_f, want_p, offered_p);
	/* the length: command and 3 words, patched below if lists follow */
	engine_put_u32(&s->out, 1 + PROTO_OPTNEG_SIZE);
	buf_putc(&s->out, PROTO_R_OPTNEG);
	engine_put_u32(&s->out, version < PROTO_VERSION ? (uint32_t)version
	    : PROTO_VERSION);
	engine_put_u32(&s->out, (uint32_t)s->actions);
	engine_put_u32(&s->out, (uint32_t)s->proto);
	for (i = 0; (s->actions & PROTO_F_SETSYMLIST) != 0
	    && i < PROTO_M_NSTAGES; i++) {
		if (cb->macros[i] == NULL)
			continue;
		engine_put_u32(&s->out, (uint32_t)i);
		buf_append(&s->out, cb->macros[i], strlen(cb->macros[i]) + 1);
	}
	if (s->out.len > PROTO_HEAD_SIZE + PROTO_OPTNEG_SIZE) {
		uint32_t n = htonl((uint32_t)(s->out.len - PROTO_LEN_SIZE));

		memcpy(s->out.data, &n, sizeof(n));
	}
	s->phase = engine_first_phase(s);
	return engine_flush(s);
}

/* engine_stage - the macro stage of a command, -1 if none */
static int
engine_stage(int cmd)
{
	switch (cmd) {
	case PROTO_C_CONNECT: return PROTO_M_CONNECT;
	case PROTO_C_HELO: return PROTO_M_HELO;
	case PROTO_C_MAIL: return PROTO_M_ENVFROM;
	case PROTO_C_RCPT: return PROTO_M_ENVRCPT;
	case PROTO_C_DATA: return PROTO_M_DATA;
	case PROTO_C_EOH: return PROTO_M_EOH;
	case PROTO_C_BODYEOB: return PROTO_M_EOM;
	}
	return -1;
}

/* engine_forget - drop the macros of the stages after stage (a new message) */
static void
engine_forget(struct engine_session *s, int stage)
{
	static const int order[] = { PROTO_M_CONNECT, PROTO_M_HELO,
	    PROTO_M_ENVFROM, PROTO_M_ENVRCPT, PROTO_M_DATA, PROTO_M_EOH,
	    PROTO_M_EOM };
	size_t i, n = sizeof(order) / sizeof(order[0]);
	int later = 0;

	for (i = 0; i < n; i++) {
		if (later)
			buf_reset(&s->macros[order[i]]);
		if (order[i] == stage)
			later = 1;
	}
}

/* engine_macro - keep the macros sent ahead of a command */
static enum engine_flow
engine_macro(struct engine_session *s, const unsigned char *data, size_t len)
{
	int stage;

	if (len < 1)
		return FLOW_MALFORMED;
	stage = engine_stage(data[0]);
	if (stage < 0)
		return FLOW_ON;		/* macros for a command we ignore */
	if (len > 1 && !engine_strings_ok(data + 1, len - 1))
		return FLOW_MALFORMED;
	if (stage == PROTO_M_CONNECT || stage == PROTO_M_ENVFROM)
		engine_forget(s, stage);
	buf_reset(&s->macros[stage]);
	if (len > 1)
		buf_append(&s->macros[stage], data + 1, len - 1);
	return FLOW_ON;
}

/*
 * engine_connect_args - decode CONNECT: host\0 family [port address\0];
 * 0 if malformed, as an IP family ('4', '6') with an address that does
 * not parse is (libmilter ends such a connection too). The filter gets
 * the IP address, without the "IPv6:" tag Sendmail puts before an IPv6
 * one; NULL for the other families: 'L' (a unix socket; Sendmail's
 * `sendmail -bs` too, with an empty path) and 'U' (unknown), the local
 * clients.
 */
static int
engine_connect_args(unsigned char *data, size_t len, struct engine_args *a)
{
	unsigned char buf6[sizeof(struct in6_addr)];
	size_t hl = strnlen((const char *)data, len), at;
	const char *addr;
	int family;

	if (hl == len || hl + 2 > len)
		return 0;
	a->a = (const char *)data;
	a->b = NULL;
	family = data[hl + 1];
	if (family == '4' || family == '6') {
		at = hl + 2 + PROTO_PORT_SIZE;	/* after host\0, family, port */
		if (at >= len || !engine_strings_ok(data + at, len - at))
			return 0;
		addr = (const char *)data + at;
		if (family == '6' && strncasecmp(addr, "IPv6:", 5) == 0)
			addr += 5;
		if (inet_pton(family == '4' ? AF_INET : AF_INET6, addr,
		    buf6) != 1)
			return 0;
		a->b = addr;
	}
	return 1;
}

/* engine_header_args - decode HEADER: name\0value\0, a name; 0 if malformed */
static int
engine_header_args(unsigned char *data, size_t len, struct engine_args *a)
{
	size_t nl = strnlen((const char *)data, len);

	if (nl == 0 || nl + 1 >= len || data[len - 1] != '\0'
	    || strnlen((const char *)data + nl + 1, len - nl - 1) != len - nl - 2)
		return 0;
	a->a = (const char *)data;
	a->b = (const char *)data + nl + 1;
	return 1;
}

/* engine_argv - split NUL-terminated strings into a NULL-ended vector */
static char **
engine_argv(unsigned char *data, size_t len)
{
	char **argv;
	size_t i, n = 0;

	if (!engine_strings_ok(data, len))
		return NULL;
	for (i = 0; i < len; i++)
		if (data[i] == '\0')
			n++;
	if (n > ENGINE_MAXARGS)
		n = ENGINE_MAXARGS;
	argv = xcalloc(n + 1, sizeof(*argv));
	argv[0] = (char *)data;
	for (i = 0, n = 1; i + 1 < len && n < ENGINE_MAXARGS; i++)
		if (data[i] == '\0')
			argv[n++] = (char *)data + i + 1;
	argv[n] = NULL;
	return argv;
}

/* engine_call - run the callback of a decoded command; none set: continue */
static enum engine_status
engine_call(struct engine_session *s, int cmd, const struct engine_args *a)
{
	const struct engine_callbacks *cb = s->cb;
	enum engine_status (*env)(struct engine_session *, char **);
	enum engine_status st = ENGINE_CONTINUE;
	char **argv;

	switch (cmd) {
	case PROTO_C_CONNECT:
		if (cb->connect != NULL)
			st = cb->connect(s, a->a, a->b);
		break;
	case PROTO_C_HELO:
		if (cb->helo != NULL)
			st = cb->helo(s, a->a);
		break;
	case PROTO_C_MAIL:
	case PROTO_C_RCPT:
		env = cmd == PROTO_C_MAIL ? cb->envfrom : cb->envrcpt;
		if (env == NULL)
			break;
		argv = engine_argv(a->data, a->len);
		st = env(s, argv);
		free(argv);
		break;
	case PROTO_C_HEADER:
		if (cb->header != NULL)
			st = cb->header(s, a->a, a->b);
		break;
	case PROTO_C_EOH:
		if (cb->eoh != NULL)
			st = cb->eoh(s);
		break;
	case PROTO_C_BODY:
		if (cb->body != NULL)
			st = cb->body(s, a->data, a->len);
		break;
	}
	return st;		/* DATA, UNKNOWN: no callback */
}

/*
 * engine_command - the arm every answered command but EOM shares: under
 * a held refusal the command gets that and its callback does not run
 * (engine_held); else its callback's status is answered, or held when the
 * command was negotiated no-reply (engine_answer)
 */
static enum engine_flow
engine_command(struct engine_session *s, const struct engine_rule *r,
    const struct engine_args *a)
{
	enum engine_flow fl;

	if (engine_held(s, r->nr, &fl))
		return fl;
	return engine_answer(s, r->nr, engine_call(s, r->cmd, a));
}

/* engine_eom - end of message: body left in the packet, modifications, reply */
static enum engine_flow
engine_eom(struct engine_session *s, const unsigned char *data, size_t len)
{
	enum engine_status st = ENGINE_CONTINUE;
	enum engine_flow fl = FLOW_ON;

	if (s->held[ENGINE_HOLD_CONN] != ENGINE_CONTINUE
	    || s->held[ENGINE_HOLD_MSG] != ENGINE_CONTINUE) {
		/* the MTA gets the held refusal; the message ends without eom */
		if (s->cb->abort != NULL)
			s->cb->abort(s);
		(void)engine_held(s, 0, &fl);
		engine_message_over(s);
		engine_shrink(s);
		return fl;
	}
	if (len > 0 && s->cb->body != NULL)
		s->cb->body(s, data, len);
	s->in_eom = 1;
	if (s->cb->eom != NULL)
		st = s->cb->eom(s);
	s->in_eom = 0;
	engine_message_over(s);
	engine_shrink(s);
	return engine_answer(s, 0, st);
}

/* engine_rule - the order table's row for cmd, NULL for an unknown command */
static const struct engine_rule *
engine_rule(int cmd)
{
	size_t i;

	for (i = 0; i < sizeof(engine_rules) / sizeof(engine_rules[0]); i++)
		if (engine_rules[i].cmd == cmd)
			return &engine_rules[i];
	return NULL;
}

/*
 * engine_end_message - the message in progress, if any, ends without eom:
 * its callbacks' state goes (abort), its held refusal and the macros of
 * the stages after stage go. The read buffer stays: the packet being
 * handled may point into it.
 */
static void
engine_end_message(struct engine_session *s, int stage)
{
	if (s->phase >= ENGINE_PH_ENVELOPE) {
		if (s->cb->abort != NULL)
			s->cb->abort(s);
		s->phase = ENGINE_PH_CONN;
	}
	engine_message_over(s);
	engine_forget(s, stage);
}

/*
 * engine_order_step - what cmd does now, the steps negotiated away
 * skipped; a message command that opens a message moves the phase
 */
static enum engine_step
engine_order_step(struct engine_session *s, const struct engine_rule *r)
{
	int content = r->cmd == PROTO_C_BODY || r->cmd == PROTO_C_BODYEOB;
	enum engine_phase ph = s->phase;
	enum engine_step step;

	/* no MAIL is sent (NOMAIL): the first message command opens one */
	if (ph == ENGINE_PH_CONN && (s->proto & PROTO_P_NOMAIL) != 0
	    && (content || r->cmd == PROTO_C_RCPT || r->cmd == PROTO_C_DATA
	    || r->cmd == PROTO_C_HEADER || r->cmd == PROTO_C_EOH))
		ph = ENGINE_PH_ENVELOPE;
	step = (enum engine_step)r->in[ph];
	/* no EOH is sent (NOEOH): the body and the end follow the headers */
	if (content && (s->proto & PROTO_P_NOEOH) != 0
	    && (ph == ENGINE_PH_ENVELOPE || ph == ENGINE_PH_HEADERS))
		step = ENGINE_STEP_GO;
	if (step != ENGINE_STEP_NO)
		s->phase = ph;
	return step;
}

/* engine_order - check a command's place, end a message it ends; FLOW_ON or FLOW_SAID */
static enum engine_flow
engine_order(struct engine_session *s, const struct engine_rule *r)
{
	switch (engine_order_step(s, r)) {
	case ENGINE_STEP_NO:
		log_warn(NULL, "milter connection: %s packet out of order (%s); "
		    "closing", r->name, engine_phase_names[s->phase]);
		return FLOW_SAID;
	case ENGINE_STEP_END:
		engine_end_message(s, r->cmd == PROTO_C_MAIL ? PROTO_M_ENVFROM
		    : PROTO_M_HELO);
		break;
	case ENGINE_STEP_GO:
		break;
	}
	return FLOW_ON;
}

/* engine_abort - ABORT: the message is over (engine_order ended it) */
static enum engine_flow
engine_abort(struct engine_session *s)
{
	engine_end_message(s, PROTO_M_HELO);
	engine_shrink(s);
	return FLOW_ON;
}

/* engine_quit_nc - QUIT_NC: the connection ends; the next uses the socket */
static enum engine_flow
engine_quit_nc(struct engine_session *s)
{
	int i;

	engine_end_message(s, PROTO_M_CONNECT);
	if (s->cb->close != NULL)
		s->cb->close(s);
	s->priv = NULL;
	for (i = 0; i < PROTO_M_NSTAGES; i++)
		buf_reset(&s->macros[i]);
	s->held[ENGINE_HOLD_CONN] = s->held[ENGINE_HOLD_MSG] = ENGINE_CONTINUE;
	s->phase = engine_first_phase(s);
	return FLOW_ON;
}

/* engine_handle - decode one command and serve it */
static enum engine_flow
engine_handle(struct engine_session *s, const struct engine_rule *r,
    unsigned char *data, size_t len)
{
	struct engine_args a = { NULL, NULL, data, len };

	switch (r->cmd) {
	case PROTO_C_OPTNEG:
		return engine_negotiate(s, data, len);
	case PROTO_C_MACRO:
		return engine_macro(s, data, len);
	case PROTO_C_CONNECT:
		if (!engine_connect_args(data, len, &a))
			return FLOW_MALFORMED;
		break;
	case PROTO_C_HEADER:
		if (!engine_header_args(data, len, &a))
			return FLOW_MALFORMED;
		break;
	case PROTO_C_HELO:
	case PROTO_C_MAIL:
	case PROTO_C_RCPT:
		if (!engine_strings_ok(data, len))
			return FLOW_MALFORMED;
		a.a = (const char *)data;
		if (r->cmd == PROTO_C_MAIL) {	/* a new message */
			engine_forget(s, PROTO_M_ENVFROM);
			engine_message_over(s);
		}
		break;
	case PROTO_C_DATA:
	case PROTO_C_UNKNOWN:
	case PROTO_C_EOH:
	case PROTO_C_BODY:
		break;
	case PROTO_C_BODYEOB:
		return engine_eom(s, data, len);
	case PROTO_C_ABORT:
		return engine_abort(s);
	case PROTO_C_QUIT_NC:
		return engine_quit_nc(s);
	case PROTO_C_QUIT:
		return FLOW_QUIT;
	default:	/* not reached: each command in engine_rules has a case */
		return FLOW_MALFORMED;
	}
	return engine_command(s, r, &a);
}

/*
 * engine_dispatch - one command, in its place. A command that did not
 * parse moves the connection nowhere (its callback did not run).
 */
static enum engine_flow
engine_dispatch(struct engine_session *s, int cmd, unsigned char *data,
    size_t len)
{
	const struct engine_rule *r = engine_rule(cmd);
	enum engine_flow fl;

	if (r == NULL) {
		log_warn(NULL, "milter connection: unknown command 0x%02x; "
		    "closing", (unsigned)cmd & 0xff);
		return FLOW_SAID;
	}
	if ((fl = engine_order(s, r)) != FLOW_ON)
		return fl;
	fl = engine_handle(s, r, data, len);
	if (fl != FLOW_MALFORMED && r->next >= 0)
		s->phase = (enum engine_phase)r->next;
	return fl;
}

/* engine_timeouts - writes give up after timeout_s, reads too or after park_ms (engine_fill) */
static void
engine_timeouts(int fd, long timeout_s, int park_ms)
{
	struct timeval rtv, wtv;

	if (timeout_s <= 0)
		return;
	wtv.tv_sec = timeout_s;
	wtv.tv_usec = 0;
	rtv = wtv;
	if (park_ms > 0) {
		rtv.tv_sec = park_ms / 1000;
		rtv.tv_usec = (park_ms % 1000) * 1000;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &rtv, sizeof(rtv)) != 0
	    || setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &wtv, sizeof(wtv)) != 0)
		log_warn(NULL, "milter connection: cannot set timeouts: %m");
}

/* engine_session_new - a session for the MTA connection fd */
struct engine_session *
engine_session_new(int fd, const struct engine_callbacks *cb, long timeout_s,
    int park_ms)
{
	struct engine_session *s = xcalloc(1, sizeof(*s));

	s->fd = fd;
	s->cb = cb;
	s->park_ms = timeout_s > 0 ? park_ms : 0;
	s->timeout_ms = timeout_s * 1000;
	engine_timeouts(fd, timeout_s, s->park_ms);
	return s;
}

/* engine_run - serve commands until the session would wait (park) or ends */
enum engine_run
engine_run(struct engine_session *s)
{
	unsigned char *data = NULL;
	enum engine_flow fl;
	size_t len = 0;
	int cmd = 0, rc;

	while ((rc = engine_next(s, &cmd, &data, &len)) > 0) {
		if (rc == ENGINE_WOULD_PARK) {	/* hold no buffer while parked */
			free(s->in);
			s->in = NULL;
			s->incap = s->inoff = s->inlen = 0;
			if (s->out.len == 0)	/* replies go out before a read */
				buf_free(&s->out);
			return ENGINE_RUN_PARK;
		}
		fl = engine_dispatch(s, cmd, data, len);
		if (fl == FLOW_MALFORMED)
			log_warn(NULL, "milter connection: malformed '%c' packet "
			    "(%zu bytes); closing", cmd > 32 && cmd < 127
			    ? cmd : '?', len);
		if (fl != FLOW_ON)
			break;
	}
	return ENGINE_RUN_END;
}

/* engine_session_free - end the session (abort, close callbacks) and free it */
void
engine_session_free(struct engine_session *s)
{
	int i;

	if (s == NULL)
		return;
	/* the one end of every connection: message state first, then the rest */
	if (s->phase >= ENGINE_PH_ENVELOPE && s->cb->abort != NULL)
		s->cb->abort(s);
	if (s->phase != ENGINE_PH_NONE && s->cb->close != NULL)
		s->cb->close(s);
	free(s->in);
	buf_free(&s->out);
	for (i = 0; i < PROTO_M_NSTAGES; i++)
		buf_free(&s->macros[i]);
	free(s);
}

/* engine_serve - serve one MTA connection until it ends; the caller closes fd */
void
engine_serve(int fd, const struct engine_callbacks *cb, long timeout_s)
{
	struct engine_session *s = engine_session_new(fd, cb, timeout_s, 0);

	(void)engine_run(s);
	engine_session_free(s);
}
