/*
 * engine.h - the filter side of the milter protocol (see protocol.h):
 * one MTA connection ("session") read, decoded and answered.
 *
 * Threading: a session is served by one thread at a time (listener.c
 * hands it over, and may hand it to another thread after it parked:
 * engine_run); nothing in a session is shared. Commands
 * are read through a buffer, so the packets the MTA writes without
 * waiting for replies (headers, body chunks, macros) cost one read for
 * many; the modifications of end-of-message and the final reply go out
 * in one write.
 *
 * Only mta.c looks inside struct engine_session; callbacks.c sees the
 * callback table below and the mta_* functions.
 */
#ifndef AUTHMILTER_ENGINE_H
#define AUTHMILTER_ENGINE_H

#include <stddef.h>

#include "base/buf.h"
#include "daemon/protocol.h"

/* What a callback asks the engine to answer. */
enum engine_status {
	ENGINE_CONTINUE,		/* go on */
	ENGINE_ACCEPT,			/* accept; no more for this message */
	ENGINE_REJECT,			/* 5xx (the reply set with mta_set_reply) */
	ENGINE_TEMPFAIL,		/* 4xx (idem) */
	ENGINE_DISCARD			/* accept and drop */
};

struct engine_session;

/* The two refusals a session may hold (engine_session.held, below). */
enum engine_hold {
	ENGINE_HOLD_CONN,		/* from CONNECT or HELO: the connection's */
	ENGINE_HOLD_MSG,		/* from a message's commands: that message's */
	ENGINE_HOLD_N
};

/*
 * Where a connection is in the protocol, as the MTA sees it. engine.c
 * checks every command against it (the order table there) before any
 * callback runs, so the callbacks see commands only in an order MTAs send.
 */
enum engine_phase {
	ENGINE_PH_NONE,			/* OPTNEG comes first */
	ENGINE_PH_START,		/* negotiated; CONNECT comes next */
	ENGINE_PH_CONN,			/* connected, between messages */
	ENGINE_PH_ENVELOPE,		/* MAIL seen: RCPT, DATA */
	ENGINE_PH_HEADERS,		/* a header seen, end of headers not yet */
	ENGINE_PH_BODY,			/* end of headers seen: body, end of message */
	ENGINE_PH_N
};

/*
 * The filter: what it asks for and its callbacks. Callbacks may be NULL
 * (continue). String arguments point into the packet and live until the
 * callback returns. A refusal (reject, tempfail, discard) answered to a
 * command negotiated "no reply" (NR_*) is held and given instead of the
 * callbacks to the next command that takes a reply: one from CONNECT or
 * HELO for the rest of the connection, one from a message's commands
 * (MAIL, headers, ...) for the rest of that message (its RCPTs and its
 * end); no callback runs for the commands it covers, and a message it
 * covers ends with abort. An ACCEPT to such a command is dropped.
 *
 * The callbacks see one order only: connect, any number of helo, then per
 * message envfrom, envrcpt..., header..., eoh once, body..., and eom or
 * abort. The engine.c order table says which packets end a message first
 * (MAIL or HELO inside one, as Postfix and Sendmail send them) and which
 * are protocol errors (a second EOH, a header after it, a body before it,
 * a message command outside a message, a second CONNECT, ...): those end
 * the connection with one log line and the MTA applies its default action.
 */
struct engine_callbacks {
	unsigned long actions_required;	/* PROTO_F_*: refuse MTAs without them */
	unsigned long actions_wanted;	/* PROTO_F_*: asked for when offered */
	unsigned long proto_wanted;	/* PROTO_P_*: asked for when offered */
	/* proto_now - more PROTO_P_* to ask for on this connection (may be NULL) */
	unsigned long (*proto_now)(void);
	/* macros per PROTO_M_* stage (space separated); NULL: MTA's defaults */
	const char *macros[PROTO_M_NSTAGES];
	/*
	 * connect - addr: the client IP in text, NULL if not an IP client (a
	 * local one: a unix socket, Sendmail's sendmail -bs, family unknown)
	 */
	enum engine_status (*connect)(struct engine_session *, const char *host,
	    const char *addr);
	enum engine_status (*helo)(struct engine_session *, const char *name);
	/* envfrom/envrcpt - argv[0] the path, then ESMTP args; NULL ended */
	enum engine_status (*envfrom)(struct engine_session *, char **argv);
	enum engine_status (*envrcpt)(struct engine_session *, char **argv);
	enum engine_status (*header)(struct engine_session *, const char *name,
	    const char *value);
	enum engine_status (*eoh)(struct engine_session *);
	enum engine_status (*body)(struct engine_session *,
	    const unsigned char *data, size_t len);
	/* eom - the only callback that may call the modifying mta_* functions */
	enum engine_status (*eom)(struct engine_session *);
	/*
	 * abort - the message in progress (MAIL seen) ends without eom: ABORT,
	 * a new MAIL or HELO before its end, a refusal held over its end,
	 * QUIT, QUIT_NC, a protocol error or the MTA going away. Each message
	 * ends with exactly one eom or abort; none comes outside a message.
	 */
	void (*abort)(struct engine_session *);
	/* close - the connection ends (also after QUIT_NC); free private state */
	void (*close)(struct engine_session *);
};

/* Room for a reply text ("550 5.7.1 text") and its NUL. */
#define ENGINE_REPLY_SIZE	512

/*
 * One MTA connection. Fields are for engine.c, mta.c and lmengine.c only;
 * a session lmengine.c serves uses cb, priv, actions, proto, phase,
 * in_eom, reply and held only (libmilter reads and writes the socket).
 */
struct engine_session {
	int fd;				/* the connection (-1: lmengine.c's) */
	void *lm;			/* libmilter's SMFICTX (borrowed), NULL
					 * when engine.c serves the session */
	const struct engine_callbacks *cb;
	void *priv;			/* the filter's connection state */
	unsigned long actions;		/* negotiated PROTO_F_* */
	unsigned long proto;		/* negotiated PROTO_P_* */
	enum engine_phase phase;	/* where the MTA is in the protocol */
	int in_eom;			/* modifications allowed now */
	unsigned char *in;		/* read buffer */
	size_t incap, inoff, inlen;	/* its size, first unread byte, end */
	struct buf macros[PROTO_M_NSTAGES]; /* name\0value\0 ... per stage */
	struct buf out;			/* replies waiting to be written */
	char reply[ENGINE_REPLY_SIZE];	/* "550 5.7.1 text" for the next 4xx/5xx */
	/* refusals held from no-reply commands, per enum engine_hold */
	enum engine_status held[ENGINE_HOLD_N];
	char held_reply[ENGINE_HOLD_N][ENGINE_REPLY_SIZE];
	int park_ms;			/* wait this long between packets, then
					 * park (engine_run); 0: never park */
	long timeout_ms;		/* milter_timeout, for a stalled packet */
};

/* Largest packet accepted: a header may be up to Postfix's header_size_limit. */
#define ENGINE_MAX_PACKET	(8u * 1024 * 1024)

/* engine_serve - serve one MTA connection until it ends; the caller closes fd */
void engine_serve(int fd, const struct engine_callbacks *cb, long timeout_s);

/*
 * A session served in turns, by whichever thread has it (listener.c): the
 * connection holds no thread while the MTA is silent. engine_run serves
 * commands until one ends the connection (ENGINE_RUN_END), or until
 * nothing is buffered and nothing came within park_ms (ENGINE_RUN_PARK):
 * the session, mid-message or between messages, then holds no buffer but
 * its macros; the caller waits until fd is readable (or timeout_s passes:
 * then the session ends) and calls engine_run again. The session is
 * touched by one thread at a time, never two.
 */
enum engine_run {
	ENGINE_RUN_PARK,		/* nothing to read now: wait for fd */
	ENGINE_RUN_END			/* the connection is over */
};

/*
 * engine_session_new - a session for fd: reads and writes give up after
 * timeout_s seconds of silence; park_ms > 0: engine_run returns after
 * park_ms without a packet (0: it waits up to timeout_s, never parks)
 */
struct engine_session *engine_session_new(int fd,
    const struct engine_callbacks *cb, long timeout_s, int park_ms);
/* engine_run - serve the commands the MTA sends until it pauses or the connection ends */
enum engine_run engine_run(struct engine_session *s);
/* engine_session_free - end it: abort a message in progress, close, free; the caller closes fd */
void engine_session_free(struct engine_session *s);

#endif
