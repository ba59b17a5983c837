/*
 * lmengine.c - the libmilter engine: libmilter's callbacks in front of the
 * engine callback table, with the guarantees engine.h gives callbacks.c.
 *
 * Each connection gets a struct engine_session at negotiation (libmilter's
 * private data, smfi_setpriv) that holds what engine.c would: the
 * negotiated actions and steps, the message phase, the reply text and the
 * refusals held from no-reply steps. libmilter drops a refusal answered
 * to a step negotiated "no reply"; here it is held and given at the next
 * command that takes a reply, as engine.c does. The callbacks see one
 * order: a message ends with exactly one eom or abort (libmilter itself
 * calls no abort when a new MAIL follows an accepted message, nor for a
 * HELO inside one).
 *
 * Threading: see lmengine.h. A connection's callbacks run on one libmilter
 * worker at a time; they touch only their session.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

#include "daemon/lmengine.h"
#include "daemon/listener.h"
#include "base/log.h"
#include "base/xalloc.h"

/*
 * libmilter's accept loop, which smfi_main calls after starting its signal
 * thread. Not in mfapi.h, but exported by every libmilter since 8.12 with
 * this signature (configure checks it links).
 */
extern int mi_listener(char *conn, int dbg, smfiDesc_ptr smfi,
    time_t timeout, int backlog);

#define LMENGINE_BACKLOG	1024	/* as listener.c's */
#define LMENGINE_REFUSED_LOG	60	/* seconds between "max_connections" lines */

static const struct engine_callbacks *lm_cb;	/* set before serving */
static char lm_conn[1024];			/* the spec given to libmilter */
static _Atomic long lm_sessions;		/* negotiated, not closed */
static _Atomic long lm_max = 1000;		/* max_connections in force */
static atomic_int lm_refusing;			/* draining: no new ones */
static _Atomic long lm_refused_at = -LMENGINE_REFUSED_LOG;	/* last log line */

/* lm_session - the connection's session, NULL before negotiation or after close */
static struct engine_session *
lm_session(SMFICTX *ctx)
{
	return smfi_getpriv(ctx);
}

/* lm_refusal - a status that refuses (held when it cannot be sent) */
static int
lm_refusal(enum engine_status st)
{
	return st == ENGINE_REJECT || st == ENGINE_TEMPFAIL || st == ENGINE_DISCARD;
}

/* lm_answer - libmilter's return for status st to a step with no-reply flag nr (0: none) */
static sfsistat
lm_answer(struct engine_session *s, unsigned long nr, enum engine_status st)
{
	SMFICTX *ctx = s->lm;
	enum engine_hold level;
	sfsistat r = SMFIS_CONTINUE;

	if (nr != 0 && (s->proto & nr) != 0) {
		level = nr == PROTO_P_NR_CONN || nr == PROTO_P_NR_HELO
		    ? ENGINE_HOLD_CONN : ENGINE_HOLD_MSG;
		if (lm_refusal(st) && s->held[level] == ENGINE_CONTINUE) {
			s->held[level] = st;
			memcpy(s->held_reply[level], s->reply, sizeof(s->reply));
		}
		s->reply[0] = '\0';
		return SMFIS_NOREPLY;
	}
	switch (st) {
	case ENGINE_CONTINUE: r = SMFIS_CONTINUE; break;
	case ENGINE_ACCEPT: r = SMFIS_ACCEPT; break;
	case ENGINE_DISCARD: r = SMFIS_DISCARD; break;
	case ENGINE_REJECT: r = SMFIS_REJECT; break;
	case ENGINE_TEMPFAIL: r = SMFIS_TEMPFAIL; break;
	}
	/* "550 5.7.1 text" (mta_set_reply checked it): code, then the rest */
	if (((st == ENGINE_REJECT && s->reply[0] == '5')
	    || (st == ENGINE_TEMPFAIL && s->reply[0] == '4'))
	    && strlen(s->reply) >= 3) {
		char rcode[4];

		memcpy(rcode, s->reply, 3);
		rcode[3] = '\0';
		if (smfi_setreply(ctx, rcode, NULL, s->reply[3] == ' '
		    ? s->reply + 4 : NULL) != MI_SUCCESS)
			log_warn(NULL, "libmilter refused the reply text \"%s\"",
			    s->reply);
	}
	s->reply[0] = '\0';
	return r;
}

/*
 * lm_held - under a held refusal, a step gets it if it takes a reply,
 * nothing if not, and its callback does not run (engine.c's engine_held);
 * 1 and *r set if so
 */
static int
lm_held(struct engine_session *s, unsigned long nr, sfsistat *r)
{
	int level;

	for (level = 0; level < ENGINE_HOLD_N; level++) {
		if (s->held[level] == ENGINE_CONTINUE)
			continue;
		memcpy(s->reply, s->held_reply[level], sizeof(s->reply));
		*r = lm_answer(s, nr, s->held[level]);
		return 1;
	}
	return 0;
}

/* lm_end_message - the message in progress, if any, ends without eom */
static void
lm_end_message(struct engine_session *s)
{
	if (s->phase >= ENGINE_PH_ENVELOPE) {
		if (s->cb->abort != NULL)
			s->cb->abort(s);
		s->phase = ENGINE_PH_CONN;
	}
	s->held[ENGINE_HOLD_MSG] = ENGINE_CONTINUE;
	s->held_reply[ENGINE_HOLD_MSG][0] = '\0';
}

/*
 * lm_orphan - a command on a connection with no session: only after
 * QUIT_NC (libmilter closes and goes on with the next connection on the
 * same socket, without a new negotiation, whose result went with the
 * session). Its messages are tempfailed, never passed unchecked.
 */
static sfsistat
lm_orphan(SMFICTX *ctx, int eom)
{
	if (!eom)
		return SMFIS_CONTINUE;
	log_err(NULL, "libmilter engine: a message on an MTA connection "
	    "reused after QUIT_NC (not supported with milter_engine = "
	    "libmilter): tempfailed");
	(void)smfi_setreply(ctx, "451", "4.7.1", "authmilter: try again later");
	return SMFIS_TEMPFAIL;
}

/* lm_max_reached - one more connection than max_connections: log once a minute */
static void
lm_max_reached(void)
{
	struct timespec now;
	long last = atomic_load(&lm_refused_at);

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec - last < LMENGINE_REFUSED_LOG
	    || !atomic_compare_exchange_strong(&lm_refused_at, &last,
	    (long)now.tv_sec))
		return;
	log_warn(NULL, "max_connections (%ld) reached: closing new MTA "
	    "connections at negotiation (the MTA applies its "
	    "milter_default_action); raise max_connections if the MTA needs "
	    "more", atomic_load(&lm_max));
}

/* lm_negotiate - what we want of what the MTA offers (engine_negotiate's choice) */
static sfsistat
lm_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
    unsigned long f2, unsigned long f3, unsigned long *pf0,
    unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
	const struct engine_callbacks *cb = lm_cb;
	struct engine_session *s;
	int i;

	(void)f2;
	(void)f3;
	if (atomic_load(&lm_refusing)) {
		log_debug(NULL, "milter connection closed: stopping");
		return SMFIS_REJECT;	/* libmilter closes the connection */
	}
	if (atomic_fetch_add(&lm_sessions, 1) >= atomic_load(&lm_max)) {
		atomic_fetch_sub(&lm_sessions, 1);
		lm_max_reached();
		return SMFIS_REJECT;
	}
	s = xcalloc(1, sizeof(*s));
	s->fd = -1;
	s->lm = ctx;
	s->cb = cb;
	smfi_setpriv(ctx, s);		/* freed by lm_close */
	if ((f0 & cb->actions_required) != cb->actions_required) {
		log_err(NULL, "MTA does not offer the header actions authmilter "
		    "needs (offered 0x%lx); not filtering", f0);
		return SMFIS_REJECT;
	}
	s->actions = f0 & cb->actions_wanted;
	s->proto = f1 & (cb->proto_wanted
	    | (cb->proto_now != NULL ? cb->proto_now() : 0));
	for (i = 0; (f0 & SMFIF_SETSYMLIST) != 0 && i < PROTO_M_NSTAGES; i++)
		if (cb->macros[i] != NULL && smfi_setsymlist(ctx, i,
		    (char *)cb->macros[i]) == MI_SUCCESS)
			s->actions |= PROTO_F_SETSYMLIST;
	*pf0 = s->actions;
	*pf1 = s->proto;
	*pf2 = *pf3 = 0;
	s->phase = (s->proto & PROTO_P_NOCONNECT) != 0 ? ENGINE_PH_CONN
	    : ENGINE_PH_START;
	return SMFIS_CONTINUE;
}

/* lm_connect - CONNECT: the client's address in text, NULL if not an IP client */
static sfsistat
lm_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *sa)
{
	struct engine_session *s = lm_session(ctx);
	char addr[INET6_ADDRSTRLEN];
	const char *a = NULL;
	sfsistat r;

	if (s == NULL)
		return lm_orphan(ctx, 0);
	s->phase = ENGINE_PH_CONN;
	if (lm_held(s, PROTO_P_NR_CONN, &r))
		return r;
	if (s->cb->connect == NULL)
		return lm_answer(s, PROTO_P_NR_CONN, ENGINE_CONTINUE);
	if (sa != NULL && sa->sa_family == AF_INET && inet_ntop(AF_INET,
	    &((struct sockaddr_in *)(void *)sa)->sin_addr, addr,
	    sizeof(addr)) != NULL)
		a = addr;
	else if (sa != NULL && sa->sa_family == AF_INET6 && inet_ntop(AF_INET6,
	    &((struct sockaddr_in6 *)(void *)sa)->sin6_addr, addr,
	    sizeof(addr)) != NULL)
		a = addr;
	return lm_answer(s, PROTO_P_NR_CONN, s->cb->connect(s, host, a));
}

/* lm_helo - HELO/EHLO; inside a message it ends the message first */
static sfsistat
lm_helo(SMFICTX *ctx, char *name)
{
	struct engine_session *s = lm_session(ctx);
	sfsistat r;

	if (s == NULL)
		return lm_orphan(ctx, 0);
	lm_end_message(s);
	if (lm_held(s, PROTO_P_NR_HELO, &r))
		return r;
	return lm_answer(s, PROTO_P_NR_HELO, s->cb->helo != NULL
	    ? s->cb->helo(s, name) : ENGINE_CONTINUE);
}

/* lm_envfrom - MAIL: a new message (the one in progress, if any, ends) */
static sfsistat
lm_envfrom(SMFICTX *ctx, char **argv)
{
	struct engine_session *s = lm_session(ctx);
	sfsistat r;

	if (s == NULL)
		return lm_orphan(ctx, 0);
	lm_end_message(s);
	s->phase = ENGINE_PH_ENVELOPE;
	if (lm_held(s, PROTO_P_NR_MAIL, &r))
		return r;
	return lm_answer(s, PROTO_P_NR_MAIL, s->cb->envfrom != NULL
	    ? s->cb->envfrom(s, argv) : ENGINE_CONTINUE);
}

/* lm_envrcpt - RCPT */
static sfsistat
lm_envrcpt(SMFICTX *ctx, char **argv)
{
	struct engine_session *s = lm_session(ctx);
	sfsistat r;

	if (s == NULL)
		return lm_orphan(ctx, 0);
	if (lm_held(s, PROTO_P_NR_RCPT, &r))
		return r;
	return lm_answer(s, PROTO_P_NR_RCPT, s->cb->envrcpt != NULL
	    && s->phase >= ENGINE_PH_ENVELOPE ? s->cb->envrcpt(s, argv)
	    : ENGINE_CONTINUE);
}

/* lm_header - one header */
static sfsistat
lm_header(SMFICTX *ctx, char *name, char *value)
{
	struct engine_session *s = lm_session(ctx);
	sfsistat r;

	if (s == NULL)
		return lm_orphan(ctx, 0);
	s->phase = ENGINE_PH_HEADERS;
	if (lm_held(s, PROTO_P_NR_HDR, &r))
		return r;
	return lm_answer(s, PROTO_P_NR_HDR, s->cb->header != NULL
	    ? s->cb->header(s, name, value) : ENGINE_CONTINUE);
}

/* lm_eoh - end of headers */
static sfsistat
lm_eoh(SMFICTX *ctx)
{
	struct engine_session *s = lm_session(ctx);
	sfsistat r;

	if (s == NULL)
		return lm_orphan(ctx, 0);
	s->phase = ENGINE_PH_BODY;
	if (lm_held(s, PROTO_P_NR_EOH, &r))
		return r;
	return lm_answer(s, PROTO_P_NR_EOH, s->cb->eoh != NULL
	    ? s->cb->eoh(s) : ENGINE_CONTINUE);
}

/* lm_body - a body chunk */
static sfsistat
lm_body(SMFICTX *ctx, unsigned char *data, size_t len)
{
	struct engine_session *s = lm_session(ctx);
	sfsistat r;

	if (s == NULL)
		return lm_orphan(ctx, 0);
	s->phase = ENGINE_PH_BODY;
	if (lm_held(s, PROTO_P_NR_BODY, &r))
		return r;
	return lm_answer(s, PROTO_P_NR_BODY, s->cb->body != NULL
	    ? s->cb->body(s, data, len) : ENGINE_CONTINUE);
}

/* lm_eom - end of message: modifications (through mta.c) and the reply */
static sfsistat
lm_eom(SMFICTX *ctx)
{
	struct engine_session *s = lm_session(ctx);
	enum engine_status st = ENGINE_CONTINUE;
	sfsistat r = SMFIS_CONTINUE;

	if (s == NULL)
		return lm_orphan(ctx, 1);
	if (lm_held(s, 0, &r)) {
		/* the MTA got the held refusal; the message ends without eom */
		lm_end_message(s);
		return r;
	}
	s->in_eom = 1;
	if (s->cb->eom != NULL)
		st = s->cb->eom(s);
	s->in_eom = 0;
	s->phase = ENGINE_PH_CONN;
	s->held[ENGINE_HOLD_MSG] = ENGINE_CONTINUE;
	return lm_answer(s, 0, st);
}

/* lm_abort - ABORT: the message in progress, if any, ends */
static sfsistat
lm_abort(SMFICTX *ctx)
{
	struct engine_session *s = lm_session(ctx);

	if (s != NULL)
		lm_end_message(s);
	return SMFIS_CONTINUE;		/* libmilter sends no reply to ABORT */
}

/* lm_close - the connection ends (also at QUIT_NC): the filter's state, then the session, go */
static sfsistat
lm_close(SMFICTX *ctx)
{
	struct engine_session *s = lm_session(ctx);

	if (s == NULL)
		return SMFIS_CONTINUE;	/* never negotiated, or closed already */
	lm_end_message(s);
	if (s->phase != ENGINE_PH_NONE && s->cb->close != NULL)
		s->cb->close(s);
	smfi_setpriv(ctx, NULL);
	free(s);
	atomic_fetch_sub(&lm_sessions, 1);
	return SMFIS_CONTINUE;
}

/* What libmilter calls; a static object, as libmilter keeps pointers to it. */
static struct smfiDesc lm_desc = {
	.xxfi_name = "authmilter",
	.xxfi_version = SMFI_VERSION,
	.xxfi_flags = 0,	/* lm_negotiate says what is wanted */
	.xxfi_connect = lm_connect,
	.xxfi_helo = lm_helo,
	.xxfi_envfrom = lm_envfrom,
	.xxfi_envrcpt = lm_envrcpt,
	.xxfi_header = lm_header,
	.xxfi_eoh = lm_eoh,
	.xxfi_body = lm_body,
	.xxfi_eom = lm_eom,
	.xxfi_abort = lm_abort,
	.xxfi_close = lm_close,
	.xxfi_unknown = NULL,	/* NOUNKNOWN */
	.xxfi_data = NULL,	/* NODATA */
	.xxfi_negotiate = lm_negotiate,
};

/* lm_nodelay - no Nagle delay on the listening socket libmilter made (accepted ones inherit it) */
static int
lm_nodelay(char *err, size_t errlen)
{
	struct rlimit rl;
	socklen_t len;
	int fd, on, n = 0, max = 1024;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)max)
		max = (int)rl.rlim_cur;
	/* the one listening socket of the process: libmilter does not say
	 * which descriptor it is, and nothing else listens yet */
	for (fd = 0; fd < max; fd++) {
		len = sizeof(on);
		if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) != 0
		    || on == 0)
			continue;
		on = 1;
		if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)) != 0)
			return log_fail(err, errlen, "TCP_NODELAY on libmilter's "
			    "socket: %m");
		n++;
	}
	if (n != 1)
		return log_fail(err, errlen, "found %d listening sockets where "
		    "libmilter's should be the only one", n);
	return 0;
}

/* lm_spec - the spec as libmilter takes it: an inet socket without a host on loopback */
static int
lm_spec(const char *spec, char *err, size_t errlen)
{
	const char *host = NULL;
	int n;

	if (strncmp(spec, "inet:", 5) == 0 && strchr(spec, '@') == NULL)
		host = "127.0.0.1";
	else if (strncmp(spec, "inet6:", 6) == 0 && strchr(spec, '@') == NULL)
		host = "[::1]";
	if (host != NULL)
		log_notice(NULL, "socket %s names no host: listening on %s only "
		    "(write PORT@%s to listen on every address)", spec, host,
		    host[0] == '[' ? "[::]" : "0.0.0.0");
	n = snprintf(lm_conn, sizeof(lm_conn), "%s%s%s", spec,
	    host != NULL ? "@" : "", host != NULL ? host : "");
	if (n < 0 || (size_t)n >= sizeof(lm_conn))
		return log_fail(err, errlen, "socket spec too long: %s", spec);
	return 0;
}

/* lmengine_open - libmilter's socket, set up as listener_open sets up ours */
int
lmengine_open(const char *spec, int dirfd, int mode, uid_t uid, gid_t gid,
    char *err, size_t errlen)
{
	const char *path = NULL;
	mode_t old;
	int rc;

	if (strncmp(spec, "unix:", 5) == 0)
		path = spec + 5;
	else if (strncmp(spec, "local:", 6) == 0)
		path = spec + 6;
	else if (strncmp(spec, "inet:", 5) != 0 && strncmp(spec, "inet6:", 6) != 0)
		return log_fail(err, errlen, "unknown socket type in %s", spec);
	if (smfi_register(lm_desc) != MI_SUCCESS)
		return log_fail(err, errlen, "libmilter refused the filter "
		    "description (version %d)", SMFI_VERSION);
	/* headers up to engine.c's limit (libmilter's default is 64 KB) */
	(void)smfi_setmaxdatasize(ENGINE_MAX_PACKET + 1);
	if (lm_spec(spec, err, errlen) != 0)
		return -1;
	if (path != NULL && listener_unix_clear(dirfd, path, err, errlen) != 0)
		return -1;
	if (smfi_setconn(lm_conn) != MI_SUCCESS
	    || smfi_setbacklog(LMENGINE_BACKLOG) != MI_SUCCESS)
		return log_fail(err, errlen, "libmilter refused socket %s", spec);
	/* libmilter binds by the path, under the umask (in a directory only
	 * root can change: main.c checked it) */
	old = umask((mode_t)(~mode & 0777));
	rc = smfi_opensocket(0);
	umask(old);
	if (rc != MI_SUCCESS)
		return log_fail(err, errlen, "libmilter cannot open socket %s "
		    "(in use, or its reason in syslog)", spec);
	if (path != NULL)
		return listener_unix_own(dirfd, path, mode, uid, gid, err, errlen);
	return lm_nodelay(err, errlen);
}

/* lmengine_run - libmilter's accept loop, without smfi_main's signal thread */
int
lmengine_run(const struct engine_callbacks *cb, long timeout_s)
{
	lm_cb = cb;
	if (mi_listener(lm_conn, 0, &lm_desc, (time_t)timeout_s,
	    LMENGINE_BACKLOG) != MI_SUCCESS) {
		log_err(NULL, "libmilter engine: the accept loop failed (its "
		    "reason in syslog)");
		return -1;
	}
	return 0;
}

/* lmengine_set_max_connections - the cap on connections */
void
lmengine_set_max_connections(long max)
{
	atomic_store(&lm_max, max);
}

/* lmengine_refuse_new - new connections are closed at negotiation */
void
lmengine_refuse_new(void)
{
	atomic_store(&lm_refusing, 1);
}

/* lmengine_stop - end the accept loop */
void
lmengine_stop(void)
{
	(void)smfi_stop();
}

/* lmengine_sessions - connections negotiated and not closed */
long
lmengine_sessions(void)
{
	return atomic_load(&lm_sessions);
}

/* lmengine_macro - a macro value, NULL if unset ("i" also finds "{i}") */
const char *
lmengine_macro(struct engine_session *s, const char *name)
{
	return smfi_getsymval(s->lm, (char *)name);
}

/* lmengine_modify - one modification through libmilter */
int
lmengine_modify(struct engine_session *s, const char *qid, int cmd, int idx,
    const char *a, const char *b)
{
	SMFICTX *ctx = s->lm;
	const char *what = "modify the message";
	int rc = MI_FAILURE;

	switch (cmd) {
	case PROTO_R_INSHEADER:
		what = "insert a header";
		rc = smfi_insheader(ctx, idx, (char *)a, (char *)b);
		break;
	case PROTO_R_CHGHEADER:
		what = "delete a header";
		rc = smfi_chgheader(ctx, (char *)a, idx, b != NULL && b[0] != '\0'
		    ? (char *)b : NULL);
		break;
	case PROTO_R_QUARANTINE:
		what = "quarantine the message";
		rc = smfi_quarantine(ctx, (char *)a);
		break;
	case PROTO_R_CHGFROM:
		what = "change the envelope sender";
		rc = smfi_chgfrom(ctx, (char *)a, (char *)b);
		break;
	case PROTO_R_ADDRCPT:
		what = "add a recipient";
		rc = smfi_addrcpt(ctx, (char *)a);
		break;
	case PROTO_R_DELRCPT:
		what = "remove a recipient";
		rc = smfi_delrcpt(ctx, (char *)a);
		break;
	}
	if (rc != MI_SUCCESS) {
		log_err(qid, "cannot %s: libmilter refused or could not send it",
		    what);
		return -1;
	}
	return 0;
}
