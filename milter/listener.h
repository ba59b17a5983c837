/*
 * listener.h - the milter socket: open it, accept MTA connections and give
 * each one a thread that runs engine_serve.
 *
 * Threading: listener_run loops in the thread that calls it; each
 * connection is served by one thread from start to end. Threads that
 * finish a connection wait a while for the next one instead of exiting,
 * so a busy MTA that opens a connection per SMTP session does not pay
 * for a new thread each time.
 */
#ifndef AUTHMILTER_LISTENER_H
#define AUTHMILTER_LISTENER_H

#include <stddef.h>
#include <sys/types.h>

#include "engine.h"

/*
 * listener_open - open the socket spec (unix:/path, local:/path,
 * inet:PORT[@HOST], inet6:PORT[@HOST]); a unix socket gets mode and, when
 * uid is not (uid_t)-1, that owner. A stale unix socket file is removed;
 * one that still answers is "in use". Returns the fd, -1 with err set.
 */
int listener_open(const char *spec, int mode, uid_t uid, gid_t gid,
    char *err, size_t errlen);
/* listener_run - accept and serve connections on fd until listener_stop */
void listener_run(int fd, const struct engine_callbacks *cb);
/* listener_stop - stop accepting (async-signal-unsafe; any thread) */
void listener_stop(void);
/* listener_close_all - close open connections, wait up to seconds for their threads; returns the number still busy */
size_t listener_close_all(int seconds);
/* listener_set_timeout - seconds a connection may stay silent (new connections) */
void listener_set_timeout(long seconds);
/* listener_sessions - connections being served now */
long listener_sessions(void);

#endif
