/*
 * listener.c - open the milter socket, accept, hand connections to threads.
 *
 * Threading: listener_run is the only acceptor. Each accepted connection
 * goes to an idle session thread if one waits (a short list under one
 * mutex), else to a new detached thread. Session threads serve a
 * connection, then wait up to LISTENER_IDLE_SECONDS for the next before
 * they exit. Shared: the hand-over list and counters, under
 * listener_lock; the timeout and session count are atomics.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "daemon/listener.h"
#include "base/log.h"
#include "base/xalloc.h"

#define LISTENER_IDLE_SECONDS	60	/* an idle session thread waits this long */
#define LISTENER_BACKLOG	1024
#define LISTENER_MAX_IDLE	64	/* idle session threads kept */
#define LISTENER_FD_SPARE	64	/* descriptors besides connections' */
#define LISTENER_REFUSED_LOG	60	/* seconds between "max_connections reached" lines */

/* A connection waiting for an idle session thread, or being served. */
struct listener_fd {
	int fd;
	struct listener_fd *next;
};

static pthread_mutex_t listener_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t listener_cond = PTHREAD_COND_INITIALIZER;
static struct listener_fd *listener_queue;	/* handed over, not yet taken */
static size_t listener_queued;			/* its length */
static size_t listener_idle;			/* threads waiting for one */
static struct listener_fd *listener_served;	/* connections being served */
static size_t listener_threads;			/* session threads alive */
static int listener_stopping;			/* no new connections */
static int listener_closing;			/* listener_close_all ran */
static const struct engine_callbacks *listener_cb;
static int listener_wake[2] = { -1, -1 };	/* wakes the accept loop */
static _Atomic long listener_timeout = 7210;
static _Atomic long listener_active;
static _Atomic long listener_max = 1000;	/* max_connections in force */
static _Atomic long listener_conns;		/* accepted, not yet closed */

/* Connections closed at once for the cap (the acceptor thread's own). */
struct listener_refused {
	long n;			/* closed since the last log line */
	time_t logged;		/* CLOCK_MONOTONIC second of that line */
};

/* listener_set_timeout - seconds a connection may stay silent */
void
listener_set_timeout(long seconds)
{
	atomic_store(&listener_timeout, seconds);
}

/* listener_sessions - connections being served now */
long
listener_sessions(void)
{
	return atomic_load(&listener_active);
}

/*
 * listener_set_max_connections - the cap; raises the soft RLIMIT_NOFILE to
 * what it needs (per connection its socket and a DNS query in flight, plus
 * a spare), up to the hard limit, else lowers the cap to fit and says so
 */
long
listener_set_max_connections(long max)
{
	rlim_t need = (rlim_t)max * 2 + LISTENER_FD_SPARE, was;
	struct rlimit rl;
	long fit;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
		atomic_store(&listener_max, max);
		return max;
	}
	was = rl.rlim_cur;
	if (rl.rlim_cur < need) {
		rl.rlim_cur = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need
		    ? rl.rlim_max : need;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			rl.rlim_cur = was;
	}
	if (rl.rlim_cur < need) {
		fit = rl.rlim_cur > LISTENER_FD_SPARE + 2 ?
		    (long)((rl.rlim_cur - LISTENER_FD_SPARE) / 2) : 1;
		log_warn(NULL, "max_connections %ld needs %lu open files, but the "
		    "limit is %lu (hard limit %lu): serving at most %ld "
		    "connections; raise the hard limit (systemd: LimitNOFILE=) or "
		    "lower max_connections", max, (unsigned long)need,
		    (unsigned long)rl.rlim_cur, (unsigned long)rl.rlim_max, fit);
		max = fit;
	} else if (rl.rlim_cur != was) {
		log_info(NULL, "open file limit raised from %lu to %lu for "
		    "max_connections %ld", (unsigned long)was,
		    (unsigned long)rl.rlim_cur, max);
	}
	atomic_store(&listener_max, max);
	return max;
}

/*
 * listener_unix_stale - in the working directory: remove a socket file
 * nobody answers on; -1 if one answers, -2 if the name is something else
 */
static int
listener_unix_stale(const struct sockaddr_un *sun)
{
	struct stat st;
	int fd, rc;

	if (lstat(sun->sun_path, &st) != 0)
		return 0;		/* absent */
	if (!S_ISSOCK(st.st_mode))
		return -2;		/* not ours to remove, nor to bind over */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	rc = connect(fd, (const struct sockaddr *)sun, sizeof(*sun));
	close(fd);
	if (rc == 0)
		return -1;
	unlink(sun->sun_path);
	return 0;
}

/* listener_stale_check - listener_unix_stale, its refusals as errors naming path; 0 or -1 */
static int
listener_stale_check(const struct sockaddr_un *sun, const char *path,
    char *err, size_t errlen)
{
	int rc = listener_unix_stale(sun);

	if (rc == -1)
		return log_fail(err, errlen, "socket %s is in use by another "
		    "process", path);
	if (rc == -2)
		return log_fail(err, errlen, "%s exists and is not a socket (a "
		    "symbolic link?): remove it", path);
	return 0;
}

/* listener_bind_here - bind fd to name in the working directory, mode set by the umask */
static int
listener_bind_here(int fd, const char *name, const char *path, int mode,
    char *err, size_t errlen)
{
	struct sockaddr_un sun;
	mode_t old;
	int rc;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(name) >= sizeof(sun.sun_path))
		return log_fail(err, errlen, "socket name in %s is too long",
		    path);
	memcpy(sun.sun_path, name, strlen(name) + 1);
	if (listener_stale_check(&sun, path, err, errlen) != 0)
		return -1;
	old = umask((mode_t)(~mode & 0777));
	rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (rc != 0)
		return log_fail(err, errlen, "cannot bind %s: %m", path);
	return 0;
}

/* listener_unix_name - the file name of a socket path */
static const char *
listener_unix_name(const char *path)
{
	return strrchr(path, '/') != NULL ? strrchr(path, '/') + 1 : path;
}

/* listener_unix_own - give the socket file at path in dirfd its mode and owner */
int
listener_unix_own(int dirfd, const char *path, int mode, uid_t uid,
    gid_t gid, char *err, size_t errlen)
{
	const char *name = listener_unix_name(path);
	struct stat st;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0
	    || !S_ISSOCK(st.st_mode) || (uid != (uid_t)-1
	    && fchownat(dirfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) != 0)
	    || ((st.st_mode & 0777) != (mode_t)mode	/* a default ACL */
	    && fchmodat(dirfd, name, (mode_t)mode, 0) != 0))
		return log_fail(err, errlen, "cannot set mode/owner of "
		    "%s: %m", path);
	return 0;
}

/* listener_unix_clear - remove a stale socket file at path in dirfd; -1 if in use or not a socket */
int
listener_unix_clear(int dirfd, const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	const char *name = listener_unix_name(path);
	int cwd, rc;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (dirfd < 0 || strlen(name) >= sizeof(sun.sun_path))
		return log_fail(err, errlen, "socket %s: no directory or "
		    "name too long", path);
	memcpy(sun.sun_path, name, strlen(name) + 1);
	if ((cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0
	    || fchdir(dirfd) != 0) {
		if (cwd >= 0)
			close(cwd);
		return log_fail(err, errlen, "socket %s: %m", path);
	}
	rc = listener_stale_check(&sun, path, err, errlen);
	if (fchdir(cwd) != 0)
		log_fatal("cannot return to the working directory: %m");
	close(cwd);
	return rc;
}

/*
 * listener_open_unix - a unix socket at path, whose directory the caller
 * holds open as dirfd and has checked: only root can add, rename or remove
 * entries there (or, sticky like /tmp, nobody can rename or remove ours).
 * Race-free by construction, so that no swap can turn a root operation
 * onto another file: the socket is bound by its name with dirfd as the
 * working directory, under a umask that gives it its mode (bind never
 * follows a link and there is no chmod after it), and its owner is set
 * with fchownat(AT_SYMLINK_NOFOLLOW) after checking it is a socket. fchdir
 * and umask are per process: call before threads start.
 */
static int
listener_open_unix(const char *path, int dirfd, int mode, uid_t uid,
    gid_t gid, char *err, size_t errlen)
{
	const char *name = listener_unix_name(path);
	int fd = -1, cwd = -1, rc;

	if (dirfd < 0)
		return log_fail(err, errlen, "socket %s: no directory", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || cwd < 0 || fchdir(dirfd) != 0) {
		log_fail(err, errlen, "socket %s: %m", path);
		goto fail;
	}
	rc = listener_bind_here(fd, name, path, mode, err, errlen);
	if (fchdir(cwd) != 0)
		log_fatal("cannot return to the working directory: %m");
	if (rc != 0 || listener_unix_own(dirfd, path, mode, uid, gid, err,
	    errlen) != 0)
		goto fail;
	close(cwd);
	return fd;
fail:
	if (fd >= 0)
		close(fd);
	if (cwd >= 0)
		close(cwd);
	return -1;
}

/* listener_open_inet - a TCP socket for "PORT[@HOST]" */
static int
listener_open_inet(const char *spec, int family, char *err, size_t errlen)
{
	struct addrinfo hints, *res = NULL;
	char port[16], host[256];
	const char *at = strchr(spec, '@');
	size_t hl;
	int fd, on = 1, rc;

	if ((size_t)snprintf(port, sizeof(port), "%.*s", at ? (int)(at - spec)
	    : (int)strlen(spec), spec) >= sizeof(port))
		return log_fail(err, errlen, "bad port in %s", spec);
	/* no host: loopback only, never every interface by accident */
	(void)snprintf(host, sizeof(host), "%s", family == AF_INET6 ? "::1"
	    : "127.0.0.1");
	if (at == NULL) {
		log_notice(NULL, "socket %s names no host: listening on %s only "
		    "(write PORT@%s to listen on every address)", spec, host,
		    family == AF_INET6 ? "[::]" : "0.0.0.0");
	} else {
		at++;
		hl = strlen(at);
		if (hl >= 2 && at[0] == '[' && at[hl - 1] == ']') {
			at++;
			hl -= 2;
		}
		if (hl >= sizeof(host))
			return log_fail(err, errlen, "host too long in %s",
			    spec);
		memcpy(host, at, hl);
		host[hl] = '\0';
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = family;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0)
		return log_fail(err, errlen, "cannot resolve %s: %s", spec,
		    gai_strerror(rc));
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on,
	    sizeof(on)) != 0 || bind(fd, res->ai_addr, res->ai_addrlen) != 0) {
		log_fail(err, errlen, "cannot bind %s: %m", spec);
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	/* on the listening socket too: Linux gives accepted sockets its
	 * TCP_NODELAY from their first instant (listener_accept sets it
	 * again, for other systems) */
	if (fd >= 0)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	return fd;
}

/* listener_open - open and listen on a socket spec */
int
listener_open(const char *spec, int dirfd, int mode, uid_t uid, gid_t gid,
    char *err, size_t errlen)
{
	int fd;

	if (listener_wake[0] < 0
	    && pipe2(listener_wake, O_CLOEXEC | O_NONBLOCK) != 0)
		return log_fail(err, errlen, "pipe: %m");
	if (strncmp(spec, "unix:", 5) == 0)
		fd = listener_open_unix(spec + 5, dirfd, mode, uid, gid, err,
		    errlen);
	else if (strncmp(spec, "local:", 6) == 0)
		fd = listener_open_unix(spec + 6, dirfd, mode, uid, gid, err,
		    errlen);
	else if (strncmp(spec, "inet:", 5) == 0)
		fd = listener_open_inet(spec + 5, AF_INET, err, errlen);
	else if (strncmp(spec, "inet6:", 6) == 0)
		fd = listener_open_inet(spec + 6, AF_INET6, err, errlen);
	else
		return log_fail(err, errlen, "unknown socket type in %s",
		    spec);
	if (fd >= 0 && listen(fd, LISTENER_BACKLOG) != 0) {
		log_fail(err, errlen, "cannot listen on %s: %m", spec);
		close(fd);
		return -1;
	}
	return fd;
}

/* listener_take - wait for a handed-over connection; -1 after the idle time */
static int
listener_take(void)
{
	struct listener_fd *q;
	struct timespec until;
	int fd = -1;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += LISTENER_IDLE_SECONDS;
	pthread_mutex_lock(&listener_lock);
	if (listener_idle >= LISTENER_MAX_IDLE) {	/* after a burst: enough kept */
		pthread_mutex_unlock(&listener_lock);
		return -1;
	}
	listener_idle++;
	while (listener_queue == NULL && !listener_stopping
	    && pthread_cond_timedwait(&listener_cond, &listener_lock,
	    &until) == 0)
		;
	if ((q = listener_queue) != NULL) {
		listener_queue = q->next;
		listener_queued--;
		fd = q->fd;
		free(q);
	}
	listener_idle--;
	pthread_mutex_unlock(&listener_lock);
	return fd;
}

/* listener_serve - serve one connection, listed so listener_close_all finds it */
static void
listener_serve(int fd)
{
	struct listener_fd me, **pp;

	me.fd = fd;
	pthread_mutex_lock(&listener_lock);
	me.next = listener_served;
	listener_served = &me;
	if (listener_closing)		/* handed over as close_all ran */
		shutdown(fd, SHUT_RDWR);
	pthread_mutex_unlock(&listener_lock);
	atomic_fetch_add(&listener_active, 1);
	engine_serve(fd, listener_cb, atomic_load(&listener_timeout));
	atomic_fetch_sub(&listener_active, 1);
	pthread_mutex_lock(&listener_lock);
	for (pp = &listener_served; *pp != NULL; pp = &(*pp)->next)
		if (*pp == &me) {
			*pp = me.next;
			break;
		}
	pthread_mutex_unlock(&listener_lock);
	close(fd);		/* only now: listener_close_all may shut it down */
	atomic_fetch_sub(&listener_conns, 1);
}

/* listener_thread - serve connections until none comes for a while */
static void *
listener_thread(void *arg)
{
	int fd = (int)(intptr_t)arg;

	do
		listener_serve(fd);
	while ((fd = listener_take()) >= 0);
	/* OpenSSL's per-thread state (its error queue) goes with the thread,
	 * before anyone waiting for the count may end the process */
	OPENSSL_thread_stop();
	pthread_mutex_lock(&listener_lock);
	listener_threads--;
	pthread_cond_broadcast(&listener_cond);
	pthread_mutex_unlock(&listener_lock);
	return NULL;
}

/* listener_dispatch - give fd to an idle thread or a new one */
static void
listener_dispatch(int fd)
{
	struct listener_fd *q;
	pthread_attr_t attr;
	pthread_t tid;
	int rc;

	pthread_mutex_lock(&listener_lock);
	if (listener_queued < listener_idle) {
		q = xmalloc(sizeof(*q));
		q->fd = fd;
		q->next = listener_queue;
		listener_queue = q;
		listener_queued++;
		pthread_cond_signal(&listener_cond);
		pthread_mutex_unlock(&listener_lock);
		return;
	}
	listener_threads++;
	pthread_mutex_unlock(&listener_lock);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(&tid, &attr, listener_thread, (void *)(intptr_t)fd);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		char eb[128];

		pthread_mutex_lock(&listener_lock);
		listener_threads--;
		pthread_mutex_unlock(&listener_lock);
		/* the MTA sees the connection close and applies its default */
		log_err(NULL, "cannot start a thread for a new MTA connection "
		    "(%ld served now): %s", listener_sessions(),
		    log_errstr(rc, eb, sizeof(eb)));
		close(fd);
		atomic_fetch_sub(&listener_conns, 1);
	}
}

/* listener_accept - one connection from the listening socket, -1 if none */
static int
listener_accept(int lfd)
{
	int fd, on = 1;

	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0) {
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS
		    || errno == ENOMEM) {
			log_err(NULL, "cannot accept an MTA connection: %m");
			poll(NULL, 0, 100);	/* let some connections end */
		}
		return -1;
	}
	/* replies are small and awaited: never hold them back (Nagle) */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	return fd;
}

/*
 * listener_admit - count a new connection in, or past max_connections
 * close it at once (the MTA reads EOF and applies its
 * milter_default_action instead of waiting) and say so once a minute
 */
static int
listener_admit(int fd, struct listener_refused *r)
{
	long max = atomic_load(&listener_max);
	struct timespec now;

	if (atomic_fetch_add(&listener_conns, 1) < max)
		return 0;
	atomic_fetch_sub(&listener_conns, 1);
	close(fd);
	r->n++;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec - r->logged >= LISTENER_REFUSED_LOG) {
		log_warn(NULL, "max_connections (%ld) reached: closed %ld new MTA "
		    "connection%s at once (the MTA applies its "
		    "milter_default_action); raise max_connections if the MTA "
		    "needs more", max, r->n, r->n == 1 ? "" : "s");
		r->n = 0;
		r->logged = now.tv_sec;
	}
	return -1;
}

/* listener_run - accept and serve until listener_stop */
void
listener_run(int lfd, const struct engine_callbacks *cb)
{
	struct listener_refused refused = { 0, -LISTENER_REFUSED_LOG };
	struct pollfd pfd[2];
	int fd;

	listener_cb = cb;
	pfd[0].fd = lfd;
	pfd[0].events = POLLIN;
	pfd[1].fd = listener_wake[0];
	pfd[1].events = POLLIN;
	for (;;) {
		pthread_mutex_lock(&listener_lock);
		if (listener_stopping) {
			pthread_mutex_unlock(&listener_lock);
			break;
		}
		pthread_mutex_unlock(&listener_lock);
		if (poll(pfd, 2, -1) < 0 && errno != EINTR)
			log_fatal("poll: %m");
		if ((pfd[0].revents & POLLIN) != 0 && (fd = listener_accept(lfd)) >= 0
		    && listener_admit(fd, &refused) == 0)
			listener_dispatch(fd);
	}
	close(lfd);
}

/* listener_stop - stop accepting; idle session threads exit */
void
listener_stop(void)
{
	pthread_mutex_lock(&listener_lock);
	listener_stopping = 1;
	pthread_cond_broadcast(&listener_cond);
	pthread_mutex_unlock(&listener_lock);
	if (listener_wake[1] >= 0 && write(listener_wake[1], "x", 1) < 0)
		log_debug(NULL, "listener wake-up: %m");
}

/*
 * listener_close_all - end the connections still open (after the drain:
 * they are between messages) and wait up to seconds for their threads;
 * returns how many are still busy
 */
size_t
listener_close_all(int seconds)
{
	struct listener_fd *q;
	struct timespec until;
	size_t busy;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += seconds;
	pthread_mutex_lock(&listener_lock);
	listener_stopping = 1;
	listener_closing = 1;
	pthread_cond_broadcast(&listener_cond);
	for (q = listener_served; q != NULL; q = q->next)
		shutdown(q->fd, SHUT_RDWR);	/* its read returns: it cleans up */
	/* handed over but not taken yet: the taker reads EOF at once (one
	 * taken and not yet listed is shut down by listener_serve) */
	for (q = listener_queue; q != NULL; q = q->next)
		shutdown(q->fd, SHUT_RDWR);
	while (listener_threads > 0 && pthread_cond_timedwait(&listener_cond,
	    &listener_lock, &until) == 0)
		;
	busy = listener_threads;
	pthread_mutex_unlock(&listener_lock);
	return busy;
}
