/*
 * state.h - per-connection and per-message state.
 *
 * A connection owns its pinned configuration snapshot and at most one
 * message. A message owns its headers and outbound signing state. Each
 * is touched only by the engine thread serving the connection.
 * state_msg_end is the one cleanup path for end-of-message, abort and
 * close.
 */
#ifndef AUTHMILTER_STATE_H
#define AUTHMILTER_STATE_H

#include <stddef.h>
#include <time.h>

#include "policy/config.h"
#include "policy/forgery.h"
#include "policy/mode.h"
#include "policy/inbound.h"
#include "policy/outbound.h"
#include "auth/dsn.h"
#include "auth/sign.h"

#define STATE_MAX_HEADER_BYTES (8u * 1024 * 1024)	/* beyond: refuse (unchecked) */

/* A recipient in a custom bounce domain that verified. */
struct state_bounce {
	char *rcpt;			/* the recipient as the MTA gave it */
	char *original;			/* the original sender it maps back to */
	time_t issued;			/* when the address was made */
};

struct state_msg {
	char qid[64];			/* MTA queue id, "NOQUEUE" until known */
	char *envfrom;			/* MAIL FROM path as given (owned) */
	char *envfrom_args;		/* its ESMTP parameters the MTA takes
					 * back with a new sender (owned) */
	char *rcpt_domain;		/* the first RCPT TO's domain (owned;
					 * NULL: none yet), for the history */
	struct state_bounce *bounces;	/* verified bounce-domain recipients */
	size_t nbounces;
	char *auth_authen;		/* SASL login, NULL if none */
	struct sign_header *hdrs;	/* headers in order (name/value owned) */
	size_t nhdrs;
	size_t hdrcap;
	size_t hdrbytes;		/* total header bytes, for the cap */
	int hdr_overflow;		/* 1: cap exceeded, headers incomplete: refused */
	struct forgery forged;		/* fields claiming to be ours, to delete */
	size_t nfrom;			/* From fields seen */
	struct mode_result mode;	/* the sign/verify decision */
	struct outbound *out;		/* signing state (MODE_SIGN) */
	struct inbound *in;		/* verifying state (untrusted clients) */
	int trusted;			/* authenticated or internal client */
	int body_failed;		/* body hashing failed: internal error at eom */
	int eoh_failed;			/* signing could not start: internal error at eom */
	int eom_failed;			/* signing or an edit failed at eom: internal error */
	int counted;			/* in the message counters (stats.h) already */
	struct timespec t0;		/* MAIL FROM (CLOCK_MONOTONIC), for the summary */
	struct dsn *dsn;		/* a bounce's delivery status, as the
					 * body streams (NULL: not a report) */
	int dsn_tried;			/* dsn was looked for */
};

struct state_conn {
	struct config *cfg;		/* snapshot pinned for the current message */
	char client_addr[64];		/* client IP in text form, "" if unknown */
	int local;			/* 1: no network address (MTA family L
					 * or U: sendmail -bs, a unix socket) */
	char *client_host;		/* client host name from the MTA */
	char *helo;			/* HELO/EHLO argument */
	struct state_msg *msg;		/* message in progress, or NULL */
};

/* state_conn_new - new connection state, pinning the current snapshot */
struct state_conn *state_conn_new(void);
/* state_conn_free - free a connection and its message, release the snapshot */
void state_conn_free(struct state_conn *c);
/* state_msg_new - start a message (ends any previous one, re-pins the current snapshot) */
struct state_msg *state_msg_new(struct state_conn *c);
/* state_msg_end - the single cleanup path for a message */
void state_msg_end(struct state_conn *c);
/* state_msg_add_header - keep a header; returns 0, -1 when over the cap */
int state_msg_add_header(struct state_msg *m, const char *name,
    const char *value);
/* state_msg_add_bounce - remember a verified bounce recipient */
void state_msg_add_bounce(struct state_msg *m, const char *rcpt,
    const char *original, time_t issued);
/* state_msg_set_qid - record the queue id once the MTA has it */
void state_msg_set_qid(struct state_msg *m, const char *qid);
/* state_messages_in_flight - messages between MAIL FROM and their end */
long state_messages_in_flight(void);

#endif
