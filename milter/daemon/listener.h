/*
 * listener.h - the milter socket: open it, accept MTA connections and give
 * a connection a thread while the MTA has commands for it (engine_run).
 *
 * Threading: listener_run loops in the thread that calls it (accepting,
 * and watching the parked connections: those whose MTA fell silent).
 * A connection is served by one thread at a time; when it parks, its
 * thread goes on to other connections, and another may resume it. Threads
 * wait a while for the next connection instead of exiting, so a busy MTA
 * that opens a connection per SMTP session does not pay for a new thread
 * each time.
 */
#ifndef AUTHMILTER_LISTENER_H
#define AUTHMILTER_LISTENER_H

#include <stddef.h>
#include <sys/types.h>

#include "daemon/engine.h"

/*
 * listener_open - open the socket spec (unix:/path, local:/path,
 * inet:PORT[@HOST], inet6:PORT[@HOST]; without a HOST the loopback address
 * only). A unix socket is made in dirfd, its directory held open by the
 * caller, who has checked that only root can change it; it gets mode and,
 * when uid is not (uid_t)-1, that owner, without following a symbolic
 * link. A stale unix socket file is removed; one that still answers is "in
 * use". Call before threads start (a unix socket briefly changes the
 * working directory and the umask). Returns the fd, -1 with err set.
 */
int listener_open(const char *spec, int dirfd, int mode, uid_t uid,
    gid_t gid, char *err, size_t errlen);
/*
 * listener_unix_clear - before another binds a unix socket at path (in the
 * held directory dirfd): remove a stale socket file there; -1 with err set
 * if one still answers or the name is not a socket. Before threads start.
 */
int listener_unix_clear(int dirfd, const char *path, char *err,
    size_t errlen);
/* listener_unix_own - give the socket file at path (in dirfd) mode and, unless uid is (uid_t)-1, that owner; -1 with err set */
int listener_unix_own(int dirfd, const char *path, int mode, uid_t uid,
    gid_t gid, char *err, size_t errlen);
/*
 * listener_run - accept and serve connections on fd; returns once
 * listener_close_all has ended the parked connections' wait
 */
void listener_run(int fd, const struct engine_callbacks *cb);
/*
 * listener_stop - stop accepting: fd is closed when it returns; parked
 * connections are still served (messages in flight finish). Any thread
 * but listener_run's; async-signal-unsafe.
 */
void listener_stop(void);
/*
 * listener_close_all - end every open connection (parked ones here, the
 * others by their threads), stop listener_run's loop, wait up to seconds
 * for the threads; returns the number still busy
 */
size_t listener_close_all(int seconds);
/* listener_set_timeout - seconds a connection may stay silent (new connections) */
void listener_set_timeout(long seconds);
/*
 * listener_set_max_connections - serve at most max MTA connections at
 * once; one more is closed at once (a log line a minute). Raises the soft
 * RLIMIT_NOFILE to fit, up to the hard limit; when that is too low the cap
 * is lowered to fit and a warning says so. Returns the cap in force.
 */
long listener_set_max_connections(long max);
/* listener_sessions - MTA connections open now (served or parked) */
long listener_sessions(void);
/* listener_parked_now - of those, the parked ones (silent, no thread) */
long listener_parked_now(void);

#endif
