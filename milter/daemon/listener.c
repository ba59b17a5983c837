/*
 * listener.c - open the milter socket, accept, hand connections to
 * threads, and hold the connections whose MTA is silent (parked).
 *
 * Threading: listener_run is the only acceptor and the poller: one epoll
 * set holds the listening socket, a wake-up pipe and every parked
 * connection (armed for one event). A connection that has something to
 * read goes to an idle session thread if one waits (a FIFO under one
 * mutex), else to a new detached thread. The thread runs its session
 * (engine_run) until the MTA is silent for LISTENER_PARK_MS between two
 * packets (between messages, or inside one: the session keeps its state
 * on the heap), then parks it and takes the next connection, or waits up
 * to LISTENER_IDLE_SECONDS for one before it exits. So threads count the
 * connections being served, not those open: thousands of idle MTA
 * connections cost their sessions' memory, no stacks. The poller also
 * ends parked connections silent past milter_timeout (a sweep a second).
 * Shared: the hand-over queue, the served and parked lists and counters,
 * under listener_lock; the timeout and session counts are atomics.
 */
#include <errno.h>
#include <limits.h>
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
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "auth/pkctx.h"
#include "daemon/listener.h"
#include "base/log.h"
#include "base/xalloc.h"

#define LISTENER_IDLE_SECONDS	60	/* an idle session thread waits this long */
#define LISTENER_BACKLOG	1024
#define LISTENER_MAX_IDLE	64	/* idle session threads kept */
#define LISTENER_FD_SPARE	64	/* descriptors besides connections' */
#define LISTENER_REFUSED_LOG	60	/* seconds between "max_connections reached" lines */
/*
 * A connection silent this long after its last packet parks. Inside a
 * message the MTA's next packet follows in well under a millisecond, so a
 * streaming connection never parks; 1, 5 and 20 ms showed no difference
 * in signing throughput beyond noise (make bench's rows, 1 and 16
 * connections, flat out and paced, on a shared 2-core machine).
 */
#define LISTENER_PARK_MS	5
#define LISTENER_EVENTS		256	/* epoll events taken per wait */

/*
 * An MTA connection: handed over to a thread (the queue), served by one
 * (listener_served), or parked (listener_parked: its fd armed in the
 * epoll set for one event). Exactly one of those at a time; the lists
 * and the flags are under listener_lock, the session is its thread's.
 */
struct listener_conn {
	int fd;				/* the connection (owned) */
	struct engine_session *s;	/* its session (owned; NULL until first served) */
	long timeout;			/* milter_timeout when accepted, seconds */
	long long deadline;		/* parked: CLOCK_MONOTONIC ms it ends at */
	int parked;			/* in listener_parked (lock) */
	int in_set;			/* fd registered in the epoll set (lock) */
	int timedout;			/* silent past its timeout while parked */
	struct listener_conn *prev, *next;	/* in the list it is in */
};

static pthread_mutex_t listener_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t listener_cond = PTHREAD_COND_INITIALIZER;
static struct listener_conn *listener_queue;	/* handed over, not yet taken */
static struct listener_conn *listener_queue_tail;	/* its last */
static size_t listener_queued;			/* its length */
static size_t listener_idle;			/* threads waiting for one */
static struct listener_conn *listener_served;	/* connections being served */
static struct listener_conn *listener_parked;	/* connections waiting for their MTA */
static size_t listener_nparked;			/* how many */
/*
 * No parked connection's deadline is before this (ms; LLONG_MAX: none
 * parked). The sweep walks the parked list only once it has passed: the
 * walk, once a second under the lock, took 0.9 ms with 10,000 parked, and
 * every park and hand-over waited for it. A connection leaving the list
 * leaves this early, never late: the next walk finds the true value.
 */
static long long listener_next_due = LLONG_MAX;
static size_t listener_threads;			/* session threads alive */
static int listener_stopping;			/* no new connections */
static int listener_closing;			/* listener_close_all ran */
static int listener_polling;			/* listener_run's loop runs */
static int listener_lfd_closed;			/* the listening socket is closed */
static const struct engine_callbacks *listener_cb;
static int listener_wake[2] = { -1, -1 };	/* wakes the poller */
static int listener_ep = -1;			/* the poller's epoll set */
static char listener_tag_listen, listener_tag_wake;	/* its two fixed members */
static _Atomic long listener_timeout = 7210;
static _Atomic long listener_active;		/* sessions open */
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

/* listener_sessions - MTA connections open now (served or parked) */
long
listener_sessions(void)
{
	return atomic_load(&listener_active);
}

/* listener_parked_now - connections parked now */
long
listener_parked_now(void)
{
	long n;

	pthread_mutex_lock(&listener_lock);
	n = (long)listener_nparked;
	pthread_mutex_unlock(&listener_lock);
	return n;
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
	if (listener_ep < 0 && (listener_ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
		return log_fail(err, errlen, "epoll_create1: %m");
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

/* listener_ms - a time in milliseconds */
static long long
listener_ms(const struct timespec *t)
{
	return (long long)t->tv_sec * 1000 + t->tv_nsec / 1000000;
}

/* listener_link - put c at the head of the list at *head (lock held) */
static void
listener_link(struct listener_conn **head, struct listener_conn *c)
{
	c->prev = NULL;
	c->next = *head;
	if (*head != NULL)
		(*head)->prev = c;
	*head = c;
}

/* listener_unlink - take c out of the list at *head (lock held) */
static void
listener_unlink(struct listener_conn **head, struct listener_conn *c)
{
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		*head = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
}

/* listener_take - wait for a handed-over connection; NULL after the idle time */
static struct listener_conn *
listener_take(void)
{
	struct listener_conn *c;
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += LISTENER_IDLE_SECONDS;
	pthread_mutex_lock(&listener_lock);
	if (listener_idle >= LISTENER_MAX_IDLE) {	/* after a burst: enough kept */
		pthread_mutex_unlock(&listener_lock);
		return NULL;
	}
	listener_idle++;
	while (listener_queue == NULL && !listener_stopping
	    && pthread_cond_timedwait(&listener_cond, &listener_lock,
	    &until) == 0)
		;
	if ((c = listener_queue) != NULL) {
		listener_queue = c->next;
		if (listener_queue == NULL)
			listener_queue_tail = NULL;
		c->next = NULL;
		listener_queued--;
	}
	listener_idle--;
	pthread_mutex_unlock(&listener_lock);
	return c;
}

/* listener_end - the connection is over: end its session, close it, count it out */
static void
listener_end(struct listener_conn *c)
{
	if (c->s != NULL) {
		engine_session_free(c->s);
		atomic_fetch_sub(&listener_active, 1);
	}
	close(c->fd);		/* only now: listener_close_all may shut it down */
	atomic_fetch_sub(&listener_conns, 1);
	free(c);
}

/*
 * listener_park - the session waits for its MTA: arm its fd in the epoll
 * set (one event, then disarmed) and list it for the poller's timeout
 * sweep. Lock held, so that the poller, woken at once, finds it listed.
 * 0, or -1 when it cannot park (closing, or epoll_ctl failed).
 */
static int
listener_park(struct listener_conn *c)
{
	struct epoll_event ev;
	struct timespec now;

	if (listener_closing)
		return -1;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT;
	ev.data.ptr = c;
	if (epoll_ctl(listener_ep, c->in_set ? EPOLL_CTL_MOD : EPOLL_CTL_ADD,
	    c->fd, &ev) != 0) {
		log_warn(NULL, "milter connection: cannot park it, waiting in its "
		    "thread: %m");
		return -1;
	}
	c->in_set = 1;
	c->parked = 1;
	clock_gettime(CLOCK_MONOTONIC, &now);
	c->deadline = listener_ms(&now) + (long long)c->timeout * 1000;
	if (c->deadline < listener_next_due)
		listener_next_due = c->deadline;
	listener_link(&listener_parked, c);
	listener_nparked++;
	return 0;
}

/* listener_wait_here - a session that could not park waits in its thread; 1 if readable */
static int
listener_wait_here(struct listener_conn *c)
{
	struct pollfd pfd;
	int rc;

	pfd.fd = c->fd;
	pfd.events = POLLIN;
	do
		rc = poll(&pfd, 1, c->timeout > 0 ? (int)(c->timeout * 1000) : -1);
	while (rc < 0 && errno == EINTR);
	if (rc == 0)
		log_warn(NULL, "milter connection: nothing from the MTA within "
		    "milter_timeout; closing");
	return rc > 0;
}

/*
 * listener_serve - serve a connection until it parks or ends, listed
 * meanwhile so that listener_close_all finds it
 */
static void
listener_serve(struct listener_conn *c)
{
	enum engine_run r = ENGINE_RUN_END;
	int parked;

	pthread_mutex_lock(&listener_lock);
	listener_link(&listener_served, c);
	if (listener_closing)		/* handed over as close_all ran */
		shutdown(c->fd, SHUT_RDWR);
	pthread_mutex_unlock(&listener_lock);
	if (c->s == NULL) {
		c->s = engine_session_new(c->fd, listener_cb, c->timeout,
		    LISTENER_PARK_MS);
		atomic_fetch_add(&listener_active, 1);
	}
	if (c->timedout)
		log_warn(NULL, "milter connection: nothing from the MTA within "
		    "milter_timeout; closing");
	else
		r = engine_run(c->s);
	for (;;) {
		/* out of the served list and parked at once (the links are
		 * reused): close_all finds it in one of the two */
		pthread_mutex_lock(&listener_lock);
		listener_unlink(&listener_served, c);
		parked = r == ENGINE_RUN_PARK && listener_park(c) == 0;
		if (!parked && r == ENGINE_RUN_PARK)
			listener_link(&listener_served, c);	/* waits here */
		pthread_mutex_unlock(&listener_lock);
		if (parked)
			return;		/* the poller has it now */
		if (r != ENGINE_RUN_PARK)
			break;
		if (!listener_wait_here(c)) {
			pthread_mutex_lock(&listener_lock);
			listener_unlink(&listener_served, c);
			pthread_mutex_unlock(&listener_lock);
			break;
		}
		r = engine_run(c->s);
	}
	listener_end(c);
}

/* listener_thread - serve connections until none comes for a while */
static void *
listener_thread(void *arg)
{
	struct listener_conn *c = arg;

	do
		listener_serve(c);
	while ((c = listener_take()) != NULL);
	/* our RSA contexts and OpenSSL's per-thread state (its error queue)
	 * go with the thread, before anyone waiting for the count may end
	 * the process (and run OpenSSL's exit clean-up under them) */
	pkctx_thread_stop();
	OPENSSL_thread_stop();
	pthread_mutex_lock(&listener_lock);
	listener_threads--;
	pthread_cond_broadcast(&listener_cond);
	pthread_mutex_unlock(&listener_lock);
	return NULL;
}

/* listener_dispatch - give c to an idle thread or a new one */
static void
listener_dispatch(struct listener_conn *c)
{
	pthread_attr_t attr;
	pthread_t tid;
	int rc;

	pthread_mutex_lock(&listener_lock);
	if (listener_queued < listener_idle) {
		c->next = NULL;
		if (listener_queue_tail != NULL)
			listener_queue_tail->next = c;
		else
			listener_queue = c;
		listener_queue_tail = c;
		listener_queued++;
		pthread_cond_signal(&listener_cond);
		pthread_mutex_unlock(&listener_lock);
		return;
	}
	listener_threads++;
	pthread_mutex_unlock(&listener_lock);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(&tid, &attr, listener_thread, c);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		char eb[128];

		pthread_mutex_lock(&listener_lock);
		listener_threads--;
		pthread_mutex_unlock(&listener_lock);
		/* the MTA sees the connection close and applies its default */
		log_err(NULL, "cannot start a thread for an MTA connection "
		    "(%ld open now): %s", listener_sessions(),
		    log_errstr(rc, eb, sizeof(eb)));
		listener_end(c);
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

/* listener_new_conn - accept one connection and hand it to a thread */
static void
listener_new_conn(int lfd, struct listener_refused *refused)
{
	struct listener_conn *c;
	int fd;

	if ((fd = listener_accept(lfd)) < 0 || listener_admit(fd, refused) != 0)
		return;
	c = xcalloc(1, sizeof(*c));
	c->fd = fd;
	c->timeout = atomic_load(&listener_timeout);
	listener_dispatch(c);
}

/* listener_resume - the MTA wrote to (or closed) a parked connection: serve it */
static void
listener_resume(struct listener_conn *c)
{
	pthread_mutex_lock(&listener_lock);
	if (!c->parked) {	/* not reached: one event per arming */
		pthread_mutex_unlock(&listener_lock);
		return;
	}
	listener_unlink(&listener_parked, c);
	listener_nparked--;
	c->parked = 0;
	pthread_mutex_unlock(&listener_lock);
	listener_dispatch(c);
}

/*
 * listener_sweep - parked connections silent past their milter_timeout
 * leave the epoll set and go to a thread, which ends them
 */
static void
listener_sweep(long long now)
{
	struct listener_conn *c, *next, *done = NULL;
	long long due = LLONG_MAX;

	pthread_mutex_lock(&listener_lock);
	if (now < listener_next_due) {
		pthread_mutex_unlock(&listener_lock);
		return;
	}
	for (c = listener_parked; c != NULL; c = next) {
		next = c->next;
		if (c->deadline > now) {
			if (c->deadline < due)
				due = c->deadline;
			continue;
		}
		listener_unlink(&listener_parked, c);
		listener_nparked--;
		c->parked = 0;
		(void)epoll_ctl(listener_ep, EPOLL_CTL_DEL, c->fd, NULL);
		c->in_set = 0;
		c->timedout = 1;
		c->next = done;
		done = c;
	}
	listener_next_due = due;
	pthread_mutex_unlock(&listener_lock);
	for (c = done; c != NULL; c = next) {
		next = c->next;
		c->next = NULL;
		listener_dispatch(c);
	}
}

/* listener_poll_add - watch fd in the epoll set for input, tagged */
static void
listener_poll_add(int fd, void *tag)
{
	struct epoll_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = tag;
	if (epoll_ctl(listener_ep, EPOLL_CTL_ADD, fd, &ev) != 0)
		log_fatal("epoll_ctl: %m");
}

/*
 * listener_poll_once - one wait of the poller: after listener_stop the
 * listening socket is closed (once), parked connections are still served
 * until listener_close_all; returns the listening socket, -1 once closed
 */
static int
listener_poll_once(int lfd, struct listener_refused *refused)
{
	struct epoll_event evs[LISTENER_EVENTS];
	char drain[64];
	int i, n;

	pthread_mutex_lock(&listener_lock);
	if (listener_stopping && lfd >= 0) {
		(void)epoll_ctl(listener_ep, EPOLL_CTL_DEL, lfd, NULL);
		close(lfd);
		lfd = -1;
		listener_lfd_closed = 1;
		pthread_cond_broadcast(&listener_cond);
	}
	pthread_mutex_unlock(&listener_lock);
	/* a second at most: the timeout sweep (a connection may park at any
	 * time, with no event here) */
	n = epoll_wait(listener_ep, evs, LISTENER_EVENTS, 1000);
	if (n < 0 && errno != EINTR)
		log_fatal("epoll_wait: %m");
	for (i = 0; i < n; i++) {
		if (evs[i].data.ptr == &listener_tag_listen) {
			if (lfd >= 0)
				listener_new_conn(lfd, refused);
		} else if (evs[i].data.ptr == &listener_tag_wake) {
			while (read(listener_wake[0], drain, sizeof(drain)) > 0)
				;
		} else {
			listener_resume(evs[i].data.ptr);
		}
	}
	return lfd;
}

/* listener_run - accept, serve, and watch parked connections until listener_close_all */
void
listener_run(int lfd, const struct engine_callbacks *cb)
{
	struct listener_refused refused = { 0, -LISTENER_REFUSED_LOG };
	struct timespec now;
	time_t swept = 0;

	listener_cb = cb;
	listener_poll_add(lfd, &listener_tag_listen);
	listener_poll_add(listener_wake[0], &listener_tag_wake);
	pthread_mutex_lock(&listener_lock);
	listener_polling = 1;
	pthread_mutex_unlock(&listener_lock);
	for (;;) {
		pthread_mutex_lock(&listener_lock);
		if (listener_closing) {
			pthread_mutex_unlock(&listener_lock);
			break;
		}
		pthread_mutex_unlock(&listener_lock);
		lfd = listener_poll_once(lfd, &refused);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec != swept) {	/* once a second */
			listener_sweep(listener_ms(&now));
			swept = now.tv_sec;
		}
	}
	if (lfd >= 0)
		close(lfd);
	pthread_mutex_lock(&listener_lock);
	listener_polling = 0;
	listener_lfd_closed = 1;
	pthread_cond_broadcast(&listener_cond);
	pthread_mutex_unlock(&listener_lock);
}

/* listener_wake_poller - make the poller's epoll_wait return */
static void
listener_wake_poller(void)
{
	if (listener_wake[1] >= 0 && write(listener_wake[1], "x", 1) < 0
	    && errno != EAGAIN)
		log_debug(NULL, "listener wake-up: %m");
}

/*
 * listener_stop - stop accepting: the listening socket is closed when
 * this returns (new connections fail at once); idle session threads exit;
 * parked connections are still served until listener_close_all
 */
void
listener_stop(void)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 5;
	pthread_mutex_lock(&listener_lock);
	listener_stopping = 1;
	pthread_cond_broadcast(&listener_cond);
	pthread_mutex_unlock(&listener_lock);
	listener_wake_poller();
	pthread_mutex_lock(&listener_lock);
	while (listener_polling && !listener_lfd_closed
	    && pthread_cond_timedwait(&listener_cond, &listener_lock,
	    &until) == 0)
		;
	pthread_mutex_unlock(&listener_lock);
}

/*
 * listener_close_all - end the connections still open (after the drain:
 * they are between messages): the served ones are shut down (their
 * threads read EOF and clean up), the parked ones ended here once the
 * poller has stopped; then wait up to seconds for the threads. Returns
 * how many are still busy (the poller counts as one until it stops).
 */
size_t
listener_close_all(int seconds)
{
	struct listener_conn *c, *parked = NULL, *next;
	struct timespec until;
	size_t busy;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += seconds;
	pthread_mutex_lock(&listener_lock);
	listener_stopping = 1;
	listener_closing = 1;
	pthread_cond_broadcast(&listener_cond);
	for (c = listener_served; c != NULL; c = c->next)
		shutdown(c->fd, SHUT_RDWR);	/* its read returns: it cleans up */
	/* handed over but not taken yet: the taker reads EOF at once (one
	 * taken and not yet listed is shut down by listener_serve) */
	for (c = listener_queue; c != NULL; c = c->next)
		shutdown(c->fd, SHUT_RDWR);
	pthread_mutex_unlock(&listener_lock);
	listener_wake_poller();
	pthread_mutex_lock(&listener_lock);
	while (listener_polling && pthread_cond_timedwait(&listener_cond,
	    &listener_lock, &until) == 0)
		;
	if (!listener_polling) {	/* nobody else touches the parked now */
		parked = listener_parked;
		listener_parked = NULL;
		listener_nparked = 0;
	}
	pthread_mutex_unlock(&listener_lock);
	for (c = parked; c != NULL; c = next) {
		next = c->next;
		c->parked = 0;
		listener_end(c);
	}
	pthread_mutex_lock(&listener_lock);
	while (listener_threads > 0 && pthread_cond_timedwait(&listener_cond,
	    &listener_lock, &until) == 0)
		;
	busy = listener_threads + (listener_polling ? 1 : 0);
	pthread_mutex_unlock(&listener_lock);
	return busy;
}
