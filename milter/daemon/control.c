/*
 * control.c - the control socket: accept authmilterctl's connections,
 * check who is asking, read one request, answer it, close.
 *
 * Threading: one acceptor thread (control_thread); each connection gets a
 * detached thread of its own (control_client), at most CONTROL_MAX_CLIENTS
 * at once, with read and write timeouts. What they share is under
 * control_lock: the client count and descriptors (for control_stop), the
 * stop flag and the reload outcome main.c reports. Commands read the
 * pinned snapshot and atomics only: nothing here can hold up a message.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "daemon/callbacks.h"
#include "daemon/control.h"
#include "daemon/listener.h"
#include "daemon/lmengine.h"
#include "daemon/state.h"
#include "policy/config.h"
#include "policy/keycheck.h"

#define CONTROL_PEER_GROUPS 1024	/* supplementary groups looked at */

static pthread_mutex_t control_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t control_cond;	/* CLOCK_MONOTONIC: a client ended, a reload ended, stop */
static pthread_mutex_t control_check_lock = PTHREAD_MUTEX_INITIALIZER;	/* one `check` at a time */
static int control_fd = -1;		/* the listening socket */
static int control_wake[2] = { -1, -1 };	/* wakes the acceptor at stop */
static pthread_t control_tid;		/* the acceptor */
static int control_running;		/* control_start succeeded */
static struct keycheck_thread *control_kc;	/* borrowed from main.c */
static long long control_t0;		/* CLOCK_MONOTONIC second of the start */
/* under control_lock */
static int control_stopping;		/* control_stop began */
static int control_clients;		/* client threads alive */
static int control_client_fd[CONTROL_MAX_CLIENTS];	/* their sockets, -1: free */
static unsigned long control_rl_started;	/* reloads begun */
static unsigned long control_rl_finished;	/* reloads ended */
static int control_rl_ok;		/* the last ended one installed */
static long long control_rl_at;		/* when it ended (monotonic s) */
static char control_rl_result[4096];	/* its summary (and problems) */

/* control_mono - CLOCK_MONOTONIC seconds */
static long long
control_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec;
}

/* control_reload_begin - a reload starts */
void
control_reload_begin(void)
{
	pthread_mutex_lock(&control_lock);
	control_rl_started++;
	pthread_mutex_unlock(&control_lock);
}

/* control_reload_end - a reload ended: its outcome for status and waiting requests */
void
control_reload_end(int ok, const char *result)
{
	pthread_mutex_lock(&control_lock);
	control_rl_finished++;
	control_rl_ok = ok;
	control_rl_at = control_mono();
	(void)snprintf(control_rl_result, sizeof(control_rl_result), "%s",
	    result);
	if (control_running)
		pthread_cond_broadcast(&control_cond);
	pthread_mutex_unlock(&control_lock);
}

/* control_until - an absolute CLOCK_MONOTONIC time seconds from now */
static struct timespec
control_until(long seconds)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	t.tv_sec += seconds;
	return t;
}

/*
 * control_reload - ask the main thread for a reload (SIGHUP: the one way
 * in, queued behind one under way) and wait for the first that begins
 * after this request to end; 0 (installed), or -1 with its outcome in out
 */
static int
control_reload(struct buf *out)
{
	struct timespec until = control_until(CONTROL_RELOAD_SECONDS);
	unsigned long want;
	int rc = -1;

	pthread_mutex_lock(&control_lock);
	want = control_rl_started + 1;
	pthread_mutex_unlock(&control_lock);
	if (kill(getpid(), SIGHUP) != 0) {
		char eb[128];

		buf_printf(out, "cannot ask for a reload: %s\n",
		    log_errstr(errno, eb, sizeof(eb)));
		return -1;
	}
	pthread_mutex_lock(&control_lock);
	while (control_rl_finished < want && !control_stopping
	    && pthread_cond_timedwait(&control_cond, &control_lock, &until) == 0)
		;
	if (control_rl_finished >= want) {
		buf_printf(out, "%s\n", control_rl_result);
		rc = control_rl_ok ? 0 : -1;
	} else if (control_stopping)
		buf_puts(out, "the daemon is stopping: no reload\n");
	else
		buf_printf(out, "the reload did not end within %d s (still "
		    "running: see the log and status)\n", CONTROL_RELOAD_SECONDS);
	pthread_mutex_unlock(&control_lock);
	return rc;
}

/* control_status - the status answer */
static void
control_status(const struct control_req *r, struct buf *out)
{
	struct control_status st;
	struct config *c = config_acquire();
	long long now = control_mono();

	memset(&st, 0, sizeof(st));
	st.version = PACKAGE_VERSION;
	st.pid = (long)getpid();
	st.uptime = now - control_t0;
	st.messages = state_messages_in_flight();
	st.connections = listener_sessions() + lmengine_sessions();
	pthread_mutex_lock(&control_lock);
	st.reloading = control_rl_started > control_rl_finished;
	st.reloads = control_rl_finished;
	st.last_ok = control_rl_ok;
	st.last_age = now - control_rl_at;
	st.last_result = control_rl_result;
	st.history = callbacks_history() != NULL;
	history_get_stats(callbacks_history(), &st.hist);
	control_format_status(&st, c, now, r->json, out);
	pthread_mutex_unlock(&control_lock);
	config_release(c);
}

/* control_check_wait - how long `check` waits for d's answers: its lookups in rounds of key_check_concurrency, at key_check_rate, plus a margin */
static long
control_check_wait(const struct config *c, const struct config_domain *d)
{
	long rounds = (long)(d->nkeys + (size_t)c->key_check_concurrency - 1)
	    / c->key_check_concurrency;
	long s = rounds * c->dns_timeout + 2;

	if (c->key_check_rate > 0)
		s += (long)d->nkeys / c->key_check_rate;

	return (s > 60 ? 60 : s) * 1000;
}

/* control_check - look a domain's keys up now, then show their states; 0 or -1 */
static int
control_check(const struct control_req *r, struct buf *out, char *err,
    size_t errlen)
{
	struct control_req show = *r;
	struct config *c = config_acquire();
	const struct config_domain *d;
	char name[256];
	long wait;
	int rc;

	if (c == NULL || (d = config_find_domain(c, r->domain)) == NULL) {
		config_release(c);
		return log_fail(err, errlen, "no domain block %s", r->domain);
	}
	if (!c->key_check) {
		config_release(c);
		return log_fail(err, errlen, "key_check = no: keys are not "
		    "looked up");
	}
	(void)snprintf(name, sizeof(name), "%s", d->name);
	wait = control_check_wait(c, d);
	config_release(c);
	pthread_mutex_lock(&control_check_lock);
	rc = keycheck_recheck(control_kc, name, wait, err, errlen);
	pthread_mutex_unlock(&control_check_lock);
	if (rc < 0)
		return -1;
	/* the states as they are now, in the snapshot serving now */
	c = config_acquire();
	(void)snprintf(show.domain, sizeof(show.domain), "%s", name);
	show.cmd = CONTROL_KEYS;
	show.state = -1;
	if (c == NULL || control_format_keys(c, &show, clock_now(), out, err,
	    errlen) != 0) {
		if (c == NULL)
			(void)snprintf(err, errlen, "no configuration");
		config_release(c);
		return -1;
	}
	config_release(c);
	if (rc > 0)
		buf_printf(out, "%s\n", err);
	return rc > 0 ? -1 : 0;
}

/* control_run - answer one parsed request into out; 0 ok, -1 failed */
static int
control_run(const struct control_req *r, struct buf *out)
{
	struct config *c;
	char err[1024] = "";
	int rc = 0;

	switch (r->cmd) {
	case CONTROL_STATUS:
		control_status(r, out);
		return 0;
	case CONTROL_HELP:
		control_help(out);
		return 0;
	case CONTROL_RELOAD:
		return control_reload(out);
	case CONTROL_CHECK:
		rc = control_check(r, out, err, sizeof(err));
		break;
	default:
		if ((c = config_acquire()) == NULL)
			rc = log_fail(err, sizeof(err), "no configuration");
		else if (r->cmd == CONTROL_KEYS)
			rc = control_format_keys(c, r, clock_now(), out, err,
			    sizeof(err));
		else
			rc = control_format_domain(c, r->domain, clock_now(), out,
			    err, sizeof(err));
		config_release(c);
	}
	if (rc != 0 && out->len == 0)
		buf_printf(out, "%s\n", err);
	return rc;
}

/* control_send - write all of text (the socket has a send timeout); 0 or -1 */
static int
control_send(int fd, const char *text, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = send(fd, text, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		text += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * control_drain - after the answer: say we are done and discard what the
 * client sent and we did not read (a refused or cut request; at most 64
 * KB, without waiting), so that closing does not reset the connection
 * (ECONNRESET) before the client has read the answer
 */
static void
control_drain(int fd)
{
	char sink[4096];
	size_t total = 0;
	ssize_t n;

	(void)shutdown(fd, SHUT_WR);
	while (total < 64 * 1024 && ((n = recv(fd, sink, sizeof(sink),
	    MSG_DONTWAIT)) > 0 || (n < 0 && errno == EINTR)))
		total += n > 0 ? (size_t)n : 0;
}

/* control_answer - "ok\n" or "error\n", then body */
static void
control_answer(int fd, int ok, const struct buf *body)
{
	const char *head = ok ? "ok\n" : "error\n";

	if (control_send(fd, head, strlen(head)) != 0
	    || control_send(fd, body->data != NULL ? body->data : "", body->len)
	    != 0)
		log_info(NULL, "control socket: the client did not take the "
		    "answer: %m");
	control_drain(fd);
}

/*
 * control_peer_ok - may the peer of fd ask: root, our user, or in our
 * group (its primary group or a supplementary one); 1 yes, 0 no (who in
 * who)
 */
static int
control_peer_ok(int fd, char *who, size_t wholen)
{
	struct ucred cr;
	gid_t groups[CONTROL_PEER_GROUPS];
	socklen_t len = sizeof(cr);
	size_t i;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) != 0) {
		char eb[128];

		(void)snprintf(who, wholen, "unknown peer (%s)",
		    log_errstr(errno, eb, sizeof(eb)));
		return 0;
	}
	(void)snprintf(who, wholen, "uid %ld gid %ld pid %ld", (long)cr.uid,
	    (long)cr.gid, (long)cr.pid);
	if (cr.uid == 0 || cr.uid == geteuid() || cr.gid == getegid())
		return 1;
	len = sizeof(groups);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) != 0)
		return 0;
	for (i = 0; i < len / sizeof(gid_t); i++)
		if (groups[i] == getegid())
			return 1;
	return 0;
}

/* control_read - the request line into line (NUL-terminated, no newline); 0, or -1 with err */
static int
control_read(int fd, char *line, size_t size, char *err, size_t errlen)
{
	size_t used = 0;
	ssize_t n;
	char *nl = NULL;

	for (;;) {
		n = recv(fd, line + used, size - 1 - used, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return log_fail(err, errlen, "no request within %d s",
			    CONTROL_READ_SECONDS);
		if (n < 0)
			return log_fail(err, errlen, "read: %m");
		used += (size_t)n;
		line[used] = '\0';
		if ((nl = memchr(line, '\n', used)) != NULL) {
			if (memchr(line, '\0', (size_t)(nl - line)) != NULL)
				return log_fail(err, errlen, "NUL byte in the "
				    "request");
			*nl = '\0';
			if (nl > line && nl[-1] == '\r')
				nl[-1] = '\0';
			break;
		}
		if (n == 0 && used > 0)
			break;		/* the last line without a newline */
		if (n == 0)
			return log_fail(err, errlen, "no request");
		if (used == size - 1)
			return log_fail(err, errlen, "request longer than %zu "
			    "bytes", size - 1);
	}
	if (strlen(line) != used && nl == NULL)
		return log_fail(err, errlen, "NUL byte in the request");
	return 0;
}

/* control_serve - one connection: check, read, answer */
static void
control_serve(int fd)
{
	struct timeval rt = { CONTROL_READ_SECONDS, 0 };
	struct timeval wt = { CONTROL_WRITE_SECONDS, 0 };
	struct control_req r;
	struct buf out = BUF_INIT;
	char line[CONTROL_MAX_REQUEST + 1], err[1024], who[128];
	int rc;

	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &rt, sizeof(rt));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &wt, sizeof(wt));
	if (!control_peer_ok(fd, who, sizeof(who))) {
		log_warn(NULL, "control socket: refused %s: not root, the "
		    "daemon's user or in its group", who);
		buf_puts(&out, "refused: only root, the daemon's user and its "
		    "group may use the control socket\n");
		control_answer(fd, 0, &out);
		goto done;
	}
	if (control_read(fd, line, sizeof(line), err, sizeof(err)) != 0) {
		log_info(NULL, "control socket: %s: %s", who, err);
		buf_printf(&out, "%s\n", err);
		control_answer(fd, 0, &out);
		goto done;
	}
	if (control_parse(line, &r, err, sizeof(err)) != 0) {
		log_info(NULL, "control socket: %s: bad request: %s", who, err);
		buf_printf(&out, "%s\n", err);
		control_answer(fd, 0, &out);
		goto done;
	}
	log_debug(NULL, "control socket: %s: %s", who, line);
	rc = control_run(&r, &out);
	control_answer(fd, rc == 0, &out);
done:
	buf_free(&out);
}

/* control_client - a client thread: serve its connection, then leave the count */
static void *
control_client(void *arg)
{
	int slot = (int)(intptr_t)arg, fd;

	pthread_mutex_lock(&control_lock);
	fd = control_client_fd[slot];
	pthread_mutex_unlock(&control_lock);
	control_serve(fd);
	pthread_mutex_lock(&control_lock);
	control_client_fd[slot] = -1;
	control_clients--;
	pthread_cond_broadcast(&control_cond);
	pthread_mutex_unlock(&control_lock);
	close(fd);	/* after the slot is free: control_stop shuts down only listed ones */
	return NULL;
}

/* control_dispatch - a thread for fd, or "busy" and close */
static void
control_dispatch(int fd)
{
	static const char busy[] = "error\nbusy: too many requests under way, "
	    "try again\n";
	pthread_attr_t attr;
	pthread_t tid;
	int slot = -1, i, rc;

	pthread_mutex_lock(&control_lock);
	for (i = 0; i < CONTROL_MAX_CLIENTS && !control_stopping; i++)
		if (control_client_fd[i] < 0) {
			slot = i;
			control_client_fd[i] = fd;
			control_clients++;
			break;
		}
	pthread_mutex_unlock(&control_lock);
	if (slot < 0) {
		(void)send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		close(fd);
		return;
	}
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(&tid, &attr, control_client, (void *)(intptr_t)slot);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		char eb[128];

		log_err(NULL, "control socket: cannot start a thread: %s",
		    log_errstr(rc, eb, sizeof(eb)));
		pthread_mutex_lock(&control_lock);
		control_client_fd[slot] = -1;
		control_clients--;
		pthread_mutex_unlock(&control_lock);
		close(fd);
	}
}

/* control_thread - accept until control_stop */
static void *
control_thread(void *arg)
{
	struct pollfd pfd[2];
	int fd;

	(void)arg;
	pfd[0].fd = control_fd;
	pfd[0].events = POLLIN;
	pfd[1].fd = control_wake[0];
	pfd[1].events = POLLIN;
	for (;;) {
		if (poll(pfd, 2, -1) < 0 && errno != EINTR) {
			log_err(NULL, "control socket: poll: %m");
			break;
		}
		if (pfd[1].revents != 0)
			break;
		if ((pfd[0].revents & POLLIN) == 0)
			continue;
		fd = accept4(control_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOMEM
			    || errno == ENOBUFS)
				poll(NULL, 0, 100);	/* let some descriptors go */
			continue;
		}
		control_dispatch(fd);
	}
	return NULL;
}

/* control_start - serve fd in a thread of its own */
int
control_start(int fd, struct keycheck_thread *keycheck, char *err,
    size_t errlen)
{
	pthread_condattr_t ca;
	int i, rc;

	if (pipe2(control_wake, O_CLOEXEC | O_NONBLOCK) != 0)
		return log_fail(err, errlen, "control socket: pipe: %m");
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&control_cond, &ca);
	pthread_condattr_destroy(&ca);
	for (i = 0; i < CONTROL_MAX_CLIENTS; i++)
		control_client_fd[i] = -1;
	control_fd = fd;
	control_kc = keycheck;
	control_t0 = control_mono();
	pthread_mutex_lock(&control_lock);
	control_running = 1;	/* before a client can wait on control_cond */
	pthread_mutex_unlock(&control_lock);
	if ((rc = pthread_create(&control_tid, NULL, control_thread, NULL)) != 0) {
		pthread_mutex_lock(&control_lock);
		control_running = 0;
		pthread_mutex_unlock(&control_lock);
		errno = rc;
		return log_fail(err, errlen, "cannot start the control socket "
		    "thread: %m");
	}
	return 0;
}

/* control_stop - stop accepting, end the requests under way */
void
control_stop(void)
{
	struct timespec until = control_until(10);
	int i, running;

	pthread_mutex_lock(&control_lock);
	running = control_running;
	control_stopping = 1;
	for (i = 0; i < CONTROL_MAX_CLIENTS; i++)
		if (control_client_fd[i] >= 0)
			shutdown(control_client_fd[i], SHUT_RDWR);
	if (running)
		pthread_cond_broadcast(&control_cond);
	pthread_mutex_unlock(&control_lock);
	if (!running)
		return;
	keycheck_recheck_cancel(control_kc);
	if (write(control_wake[1], "x", 1) < 0)
		log_debug(NULL, "control socket wake-up: %m");
	pthread_join(control_tid, NULL);
	close(control_fd);
	pthread_mutex_lock(&control_lock);
	while (control_clients > 0 && pthread_cond_timedwait(&control_cond,
	    &control_lock, &until) == 0)
		;
	if (control_clients > 0)
		log_warn(NULL, "control socket: %d requests still under way",
		    control_clients);
	control_running = 0;
	pthread_mutex_unlock(&control_lock);
}
