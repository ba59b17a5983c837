/*
 * lmengine.h - Sendmail's libmilter (8.17) as the milter engine, chosen
 * with milter_engine = libmilter: libmilter reads and answers the MTA, and
 * hands each command to the same callback table engine.c serves
 * (callbacks.h), so callbacks.c cannot tell which engine runs. mta.c sends
 * the macros and modifications of a libmilter session here (s->lm set).
 *
 * Threading: lmengine_open runs before any thread starts; lmengine_run
 * loops in the thread that calls it (libmilter's accept loop), and
 * libmilter serves the connections on its pool of worker threads, a
 * connection on one thread at a time. Shared: the session count and the
 * refusal flag (atomics); everything else belongs to one connection.
 *
 * libmilter's smfi_main would start a thread that takes SIGHUP, SIGTERM
 * and SIGINT from the daemon and stops serving on each (no reload, no
 * drain): lmengine_run enters libmilter's accept loop without it, so
 * main.c's signal handling stays the only one.
 */
#ifndef AUTHMILTER_LMENGINE_H
#define AUTHMILTER_LMENGINE_H

#include <stddef.h>
#include <sys/types.h>

#include "daemon/engine.h"

/*
 * lmengine_open - have libmilter open the socket spec (the spellings of
 * listener_open, an inet socket without a host on loopback only; a unix
 * socket in the held directory dirfd, with mode and, unless uid is
 * (uid_t)-1, that owner; a stale one removed, a live one refused; TCP
 * connections without Nagle's delay). Call as root, before threads start.
 * 0, or -1 with err set.
 */
int lmengine_open(const char *spec, int dirfd, int mode, uid_t uid,
    gid_t gid, char *err, size_t errlen);
/*
 * lmengine_run - serve connections with cb until lmengine_stop; each may
 * stay silent timeout_s seconds (fixed for the life of the process).
 * 0, -1 if libmilter gave up (logged).
 */
int lmengine_run(const struct engine_callbacks *cb, long timeout_s);
/* lmengine_set_max_connections - serve at most max connections; more are closed at negotiation */
void lmengine_set_max_connections(long max);
/* lmengine_refuse_new - from now on close new connections at negotiation (the drain) */
void lmengine_refuse_new(void);
/* lmengine_stop - end libmilter's accept loop (within its 5 s poll); any thread */
void lmengine_stop(void);
/* lmengine_sessions - connections negotiated and not closed yet */
long lmengine_sessions(void);

/* lmengine_macro - mta_macro for a libmilter session */
const char *lmengine_macro(struct engine_session *s, const char *name);
/*
 * lmengine_modify - one modification (PROTO_R_INSHEADER, _CHGHEADER with
 * an empty value: delete, _QUARANTINE, _CHGFROM, _ADDRCPT, _DELRCPT) on a
 * libmilter session, sent at once; 0, or -1 logged with qid
 */
int lmengine_modify(struct engine_session *s, const char *qid, int cmd,
    int idx, const char *a, const char *b);

#endif
