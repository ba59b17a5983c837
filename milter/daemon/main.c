/*
 * main.c - authmilter: command line, start-up, privilege drop, signals.
 *
 * Start-up order: load the configuration and keys (as the starting user,
 * normally root), open the milter socket, go to the background, drop to
 * the configured user, then run the listener (listener.c, or libmilter's
 * through lmengine.c with milter_engine = libmilter) in a thread of its own, and the key checker (keycheck_start) in another, while the main
 * thread waits for signals. Serving never waits for DNS: the key checker
 * looks the records up in the background. Every other thread blocks the
 * signals, so they all come to the main thread's sigwait, which a reload
 * never holds up: a reload runs in a thread of its own.
 * Whatever root reads or makes (conf, keys, socket, pid file) must lie in
 * directories only root can change, reached through held descriptors
 * (secret_open_trusted): the run-as user, which is what an attacker who took
 * over the daemon would be, cannot steer it.
 *   SIGHUP          reload (in the reload thread): build a new snapshot,
 *                   carry the running key states over to its unchanged
 *                   keys (keycheck.c), swap it in, tell the key checker
 *                   and log one summary line; on a global error, or one
 *                   that would leave out a domain the running snapshot
 *                   signs for, keep the running one. A SIGHUP during a
 *                   reload makes one more reload after it; one during the
 *                   start's load (seconds at 100,000 domains) a reload
 *                   as soon as the daemon serves (it used to kill it).
 * Under systemd (Type=notify) the daemon says READY=1 once it listens,
 * RELOADING=1 and READY=1 around each reload, STOPPING=1 at SIGTERM, a
 * STATUS= line with each, and WATCHDOG=1 at half the unit's WatchdogSec
 * from the signal loop; outside systemd (no NOTIFY_SOCKET) nothing.
 *   SIGTERM/SIGINT  stop the key checker, stop accepting, remove a unix
 *                   socket, let messages in flight finish (up to 30 s),
 *                   exit; a reload under way is abandoned, never installed
 * The engine (milter_engine) is chosen at start; a reload that names
 * another logs that it takes a restart. With libmilter the signals stay
 * ours too: lmengine.c starts no signal thread of libmilter's.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <systemd/sd-daemon.h>

#include "daemon/callbacks.h"
#include "base/clock.h"
#include "daemon/control.h"
#include "policy/config.h"
#include "base/log.h"
#include "policy/bouncecheck.h"
#include "policy/keycheck.h"
#include "policy/keyload.h"
#include "daemon/listener.h"
#include "daemon/lmengine.h"
#include "daemon/metrics.h"
#include "daemon/privsep.h"
#include "daemon/reload.h"
#include "policy/runtime.h"
#include "base/secret.h"
#include "base/stats.h"
#include "daemon/state.h"
#include "store/bouncemap.h"
#include "store/history.h"
#include "base/xalloc.h"

#define MAIN_DEFAULT_CONF SYSCONFDIR "/authmilter/authmilter.conf"
#define MAIN_DRAIN_SECONDS 30

/* main_usage - print usage and exit */
static void
main_usage(int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: authmilter [-f] [-c FILE]     run the milter\n"
	    "       authmilter -n [-c FILE]        check FILE, list every error, "
	    "print the effective configuration\n"
	    "       authmilter -q [-c FILE]        check FILE, list every error "
	    "only\n"
	    "       authmilter -D sample|man       print the sample conf or "
	    "authmilter.conf(5)\n"
	    "  -c FILE  configuration (default %s)\n"
	    "  -f       stay in the foreground and log to stderr\n"
	    "  -V       print the version\n", MAIN_DEFAULT_CONF);
	exit(status);
}

/* main_socket_path - the file of a unix: / local: socket spec, or NULL */
static const char *
main_socket_path(const char *spec)
{
	if (strncmp(spec, "unix:", 5) == 0)
		return spec + 5;
	if (strncmp(spec, "local:", 6) == 0)
		return spec + 6;
	return NULL;
}

/* A file made as root: its directory, held open, and its name there. */
struct main_runfile {
	int dirfd;			/* the trusted directory (O_PATH), -1: none */
	char name[NAME_MAX + 1];	/* the file in it */
};

static struct main_runfile main_sock = { -1, "" };	/* the unix socket */
static struct main_runfile main_pid = { -1, "" };	/* the pid file */
static struct main_runfile main_ctl = { -1, "" };	/* the control socket */
static int main_ready_fd = -1;	/* in the background: the waiting parent's pipe */

/*
 * main_on_fatal - a start that fails: remove the socket and the pid file
 * (no stale socket for the MTA to find), and tell a waiting parent why
 */
static void
main_on_fatal(const char *text)
{
	if (main_sock.dirfd >= 0)
		(void)unlinkat(main_sock.dirfd, main_sock.name, 0);
	if (main_ctl.dirfd >= 0)
		(void)unlinkat(main_ctl.dirfd, main_ctl.name, 0);
	if (main_pid.dirfd >= 0)
		(void)unlinkat(main_pid.dirfd, main_pid.name, 0);
	if (main_ready_fd >= 0 && write(main_ready_fd, text, strlen(text)) < 0)
		main_ready_fd = -1;	/* the parent is gone: nobody to tell */
}

/* main_ready - serving: a waiting parent may exit 0 now */
static void
main_ready(void)
{
	if (main_ready_fd >= 0) {
		if (write(main_ready_fd, "R", 1) < 0)
			main_ready_fd = -1;
		close(main_ready_fd);
		main_ready_fd = -1;
	}
}

/*
 * main_run_dir_open - main_run_dir's work: 0, or -1 with err. Without
 * create (authmilter -n) a missing directory is fine when the one above
 * it would do: the start makes it there.
 */
static int
main_run_dir_open(const char *file, const char *what, int create,
    struct main_runfile *rf, char *err, size_t errlen)
{
	char dir[PATH_MAX], subject[PATH_MAX + 32];
	const char *slash = strrchr(file, '/'), *up;
	const char *base = slash != NULL ? slash + 1 : file;
	size_t dl = slash == NULL ? 0 : slash == file ? 1 : (size_t)(slash - file);

	(void)snprintf(subject, sizeof(subject), "%s %s", what, file);
	if (*base == '\0' || strcmp(base, ".") == 0 || strcmp(base, "..") == 0
	    || strlen(base) >= sizeof(rf->name) || dl >= sizeof(dir)) {
		(void)snprintf(err, errlen, "%s: not a usable file name", subject);
		return -1;
	}
	if (dl == 0)
		dir[dl++] = '.';
	else
		memcpy(dir, file, dl);
	dir[dl] = '\0';
	if (!create && access(dir, F_OK) != 0 && (up = strrchr(dir, '/')) != NULL
	    && up != dir) {
		dir[up - dir] = '\0';	/* missing: the start makes it in here */
	}
	rf->dirfd = secret_open_trusted_dir(dir, create, subject, err, errlen);
	if (rf->dirfd < 0)
		return -1;
	memcpy(rf->name, base, strlen(base) + 1);
	return 0;
}

/*
 * main_run_dir - hold the directory of file open in rf, made (0755) if
 * missing. Refused unless only root can change it (secret_open_trusted_dir):
 * root makes the socket and the pid file there, and a directory the run-as
 * user could write would let that user turn root's writes into writes on
 * any file.
 */
static void
main_run_dir(const char *file, const char *what, struct main_runfile *rf)
{
	char err[PATH_MAX + 1024];	/* the subject (a path) and why */

	if (main_run_dir_open(file, what, 1, rf, err, sizeof(err)) != 0)
		log_fatal("%s", err);
}

static int main_engine;			/* enum config_milter_engine, from the start */
static const char *const main_engine_names[] = { "builtin", "libmilter" };

/* main_open_socket - open the milter socket (its directory made if missing); -1 for libmilter's */
static int
main_open_socket(const struct config *c, const struct passwd *pw)
{
	const char *path = main_socket_path(c->socket);
	char err[1024];
	int fd;

	if (path != NULL)
		main_run_dir(path, "socket", &main_sock);
	if (main_engine == CONFIG_MILTER_ENGINE_LIBMILTER) {
		if (lmengine_open(c->socket, main_sock.dirfd, (int)c->socket_mode,
		    pw != NULL ? pw->pw_uid : (uid_t)-1, pw != NULL ? pw->pw_gid
		    : (gid_t)-1, err, sizeof(err)) != 0)
			log_fatal("cannot open milter socket: %s", err);
		return -1;
	}
	fd = listener_open(c->socket, main_sock.dirfd, (int)c->socket_mode,
	    pw != NULL ? pw->pw_uid : (uid_t)-1, pw != NULL ? pw->pw_gid
	    : (gid_t)-1, err, sizeof(err));
	if (fd < 0)
		log_fatal("cannot open milter socket: %s", err);
	return fd;
}

/*
 * main_open_control - the control socket (control_socket; -1: none), made
 * as the milter socket is: in its trusted directory, a stale one replaced,
 * mode 0660, owned by the run-as user and its group
 */
static int
main_open_control(const struct config *c, const struct passwd *pw)
{
	char path[PATH_MAX], spec[PATH_MAX + 8], err[1024];
	int fd, rc = config_control_path(c, path, sizeof(path));

	if (rc == 1)
		return -1;
	if (rc < 0 || (size_t)snprintf(spec, sizeof(spec), "unix:%s", path)
	    >= sizeof(spec))
		log_fatal("control_socket: path too long");
	main_run_dir(path, "control socket", &main_ctl);
	fd = listener_open(spec, main_ctl.dirfd, 0660, pw != NULL ? pw->pw_uid
	    : (uid_t)-1, pw != NULL ? pw->pw_gid : (gid_t)-1, err, sizeof(err));
	if (fd < 0)
		log_fatal("cannot open the control socket: %s", err);
	return fd;
}

/*
 * main_open_pidfile - the pid file, opened as root before going to the
 * background: in its trusted directory, never through a symbolic link
 * (O_NOFOLLOW), and an existing one only if it is our own plain file
 */
static int
main_open_pidfile(const struct config *c)
{
	struct stat st;
	int fd;

	main_run_dir(c->pidfile, "pid file", &main_pid);
	fd = openat(main_pid.dirfd, main_pid.name, O_WRONLY | O_CREAT
	    | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0644);
	if (fd < 0 && errno == ELOOP)
		log_fatal("pid file %s is a symbolic link: remove it",
		    c->pidfile);
	if (fd < 0)
		log_fatal("cannot write pid file %s: %m", c->pidfile);
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)
	    || st.st_uid != geteuid() || st.st_nlink != 1)
		log_fatal("pid file %s is not a plain file of this user with "
		    "one link: remove it", c->pidfile);
	if (ftruncate(fd, 0) != 0 || fchmod(fd, 0644) != 0)
		log_fatal("cannot write pid file %s: %m", c->pidfile);
	return fd;
}

/* main_lookup_user - the passwd entry of the run-as user, or NULL for none */
static struct passwd *
main_lookup_user(const struct config *c, struct passwd *pw, char *buf,
    size_t buflen)
{
	struct passwd *res = NULL;

	if (c->user[0] == '\0')
		return NULL;
	if (getpwnam_r(c->user, pw, buf, buflen, &res) != 0 || res == NULL)
		log_fatal("user %s does not exist", c->user);
	return res;
}

/* main_drop_privileges - become the configured user */
static void
main_drop_privileges(const struct passwd *pw)
{
	if (pw == NULL) {
		if (geteuid() == 0)
			log_warn(NULL, "running as root: set user = in the "
			    "configuration");
		return;
	}
	if (initgroups(pw->pw_name, pw->pw_gid) != 0)
		log_fatal("initgroups %s: %m", pw->pw_name);
	if (setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0)
		log_fatal("cannot become user %s: %m", pw->pw_name);
	if (setuid(0) == 0)
		log_fatal("privileges could not be dropped");
	log_notice(NULL, "running as user %s", pw->pw_name);
}

/* main_daemonize - detach from the terminal and write the pid into pidfd (-1: none) */
static void
main_daemonize(const struct config *c, int pidfd)
{
	char line[32];
	char why[2048];
	ssize_t got;
	size_t len = 0;
	pid_t pid;
	int fd, n, ready[2];

	/* the parent exits once the daemon serves: 0, or 1 with its error */
	if (pipe2(ready, O_CLOEXEC) != 0)
		log_fatal("pipe: %m");
	pid = fork();
	if (pid < 0)
		log_fatal("fork: %m");
	if (pid > 0) {
		close(ready[1]);
		while (len < sizeof(why) - 1 && ((got = read(ready[0], why + len,
		    sizeof(why) - 1 - len)) > 0 || (got < 0 && errno == EINTR)))
			len += got > 0 ? (size_t)got : 0;
		why[len] = '\0';
		if (len == 1 && why[0] == 'R')
			_exit(0);
		fprintf(stderr, "authmilter: not started: %s\n", len > 0 ? why
		    : "it exited during its start (see the log)");
		_exit(1);
	}
	close(ready[0]);
	main_ready_fd = ready[1];
	if (setsid() < 0)
		log_fatal("setsid: %m");
	if (chdir("/") != 0)
		log_fatal("chdir /: %m");
	fd = open("/dev/null", O_RDWR);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	if (pidfd >= 0) {
		n = snprintf(line, sizeof(line), "%ld\n", (long)getpid());
		if (n < 0 || write(pidfd, line, (size_t)n) != n)
			log_fatal("cannot write pid file %s: %m", c->pidfile);
		close(pidfd);
	}
}

static int main_listen_fd = -1;		/* the milter socket (builtin engine) */
static int main_ctl_fd = -1;		/* the control socket, -1: none */
static long main_lm_timeout;		/* milter_timeout at start (libmilter) */

/* main_milter_thread - accept and serve MTA connections until stopped */
static void *
main_milter_thread(void *arg)
{
	(void)arg;
	if (main_engine == CONFIG_MILTER_ENGINE_LIBMILTER) {
		if (lmengine_run(callbacks_table(), main_lm_timeout) != 0)
			log_fatal("libmilter engine: cannot serve");
	} else {
		listener_run(main_listen_fd, callbacks_table());
	}
	return NULL;
}

static struct history *main_history;	/* the DMARC history's writer (NULL: none) */
static struct bouncemap *main_bouncemap;	/* stored bounce addresses (NULL: none) */
static char *main_history_spec;		/* its store, as at start (owned) */

/* main_history_start - the history writer of the history option (read at start only) */
static void
main_history_start(const struct config *c)
{
	struct history_options ho;
	char err[256];

	if (c->history[0] == '\0')
		return;
	/* a store that cannot open is retried; one we cannot read is a conf error */
	if (history_spec_check(c->history, err, sizeof(err)) != 0)
		log_fatal("%s", err);
	memset(&ho, 0, sizeof(ho));
	ho.spec = c->history;
	ho.queue = (size_t)c->history_queue;
	if ((main_history = history_start(&ho, err, sizeof(err))) == NULL)
		log_fatal("%s", err);
	main_history_spec = xstrdup(c->history);
	callbacks_set_history(main_history);
	log_info(NULL, "history: recording inbound DMARC results into %s",
	    c->history);
	if (c->bounce_store) {
		struct bouncemap_options bo;

		memset(&bo, 0, sizeof(bo));
		bo.spec = c->history;
		bo.timeout_ms = c->bounce_store_timeout * 1000;
		bo.max_age = c->bounce_max_age;
		main_bouncemap = bouncemap_new(&bo);
		callbacks_set_bounce_map(bouncemap_map(main_bouncemap));
	}
}

/* main_check_bounce_store - say once a load when too long senders cannot be rewritten */
static void
main_check_bounce_store(const struct config *c)
{
	if (c->nbounce == 0)
		return;
	if (c->bounce_store && main_bouncemap == NULL)
		log_warn(NULL, "bounce_store: no history store (history is empty, "
		    "or was at start): envelope senders too long for the "
		    "stateless bounce address (VERP) keep their Return-Path; set "
		    "history to rewrite them too");
	if (c->bounce_check && c->bounce_mx_hosts.n == 0
	    && c->bounce_check_ips.n == 0 && c->platform_spf_include[0] == '\0')
		log_notice(NULL, "bounce_check: none of bounce_mx_hosts, "
		    "bounce_check_ips and platform_spf_include is set: the bounce "
		    "domains' DNS is not checked");
	bouncemap_set_max_age(main_bouncemap, c->bounce_max_age);
}

/* main_set_limits - milter_timeout and max_connections of c for the running engine */
static void
main_set_limits(const struct config *c)
{
	long max = listener_set_max_connections(c->max_connections);

	if (main_engine == CONFIG_MILTER_ENGINE_LIBMILTER) {
		lmengine_set_max_connections(max);
		if (main_lm_timeout != 0 && c->milter_timeout != main_lm_timeout)
			log_warn(NULL, "milter_timeout changed to %ld s: with "
			    "milter_engine = libmilter it takes a restart (still "
			    "%ld s)", c->milter_timeout, main_lm_timeout);
		if (main_lm_timeout == 0)
			main_lm_timeout = c->milter_timeout;
	} else {
		listener_set_timeout(c->milter_timeout);
	}
	main_check_bounce_store(c);
	if (main_history_spec != NULL ? strcmp(c->history, main_history_spec)
	    != 0 : c->history[0] != '\0')
		log_warn(NULL, "history changed: it takes a restart; still %s",
		    main_history_spec != NULL ? main_history_spec : "none");
	if (c->milter_engine != main_engine)
		log_warn(NULL, "milter_engine changed to %s: it takes a restart; "
		    "still serving with the %s engine",
		    main_engine_names[c->milter_engine],
		    main_engine_names[main_engine]);
}

static struct privsep *main_privsep;	/* key reader when privileges were dropped */
static struct keycheck_thread *main_keycheck;	/* the key checker */
static struct bouncecheck_thread *main_bouncecheck;	/* the bounce domains' checker */

static volatile sig_atomic_t main_early_hup;	/* a SIGHUP before the signal loop */

/* main_on_early_hup - a SIGHUP during the start: the files may have changed after they were read */
static void
main_on_early_hup(int sig)
{
	(void)sig;
	main_early_hup = 1;
}

/* main_drain - wait for messages in flight to finish */
static void
main_drain(void)
{
	int i;

	for (i = 0; i < MAIN_DRAIN_SECONDS * 10; i++) {
		if (state_messages_in_flight() == 0)
			return;
		usleep(100000);
	}
	log_warn(NULL, "%ld messages still in flight after %d s; exiting "
	    "(the MTA retries them)", state_messages_in_flight(),
	    MAIN_DRAIN_SECONDS);
}

/*
 * main_stop_libmilter - after the drain: end libmilter's accept loop (its
 * poll wakes within 5 s). libmilter does not close the connections still
 * open, between messages: with any left, the process ends without
 * teardown (-1), as when builtin connection threads stay busy.
 */
static int
main_stop_libmilter(pthread_t tid, int reloading)
{
	long open;

	lmengine_stop();
	pthread_join(tid, NULL);
	if ((open = lmengine_sessions()) > 0) {
		log_notice(NULL, "libmilter engine: %ld MTA connections between "
		    "messages left open (closed as the process ends)", open);
		return -1;
	}
	return reloading ? -2 : 0;
}

/* main_keys_read - keyload's done hook: a snapshot's keys are all read, the checker may look them up */
static void
main_keys_read(void *arg)
{
	(void)arg;
	keycheck_wake(main_keycheck);
	reload_keys_read();
}

static struct timespec main_started;	/* CLOCK_REALTIME at start, for the metrics */

/* main_metrics_start - serve the metrics when metrics_listen is set; a failure is fatal */
static void
main_metrics_start(const struct config *c)
{
	struct metrics_options mo;
	char err[512];

	memset(&mo, 0, sizeof(mo));
	mo.listen = c->metrics_listen;
	mo.engine = main_engine_names[main_engine];
	mo.sessions = main_engine == CONFIG_MILTER_ENGINE_LIBMILTER ?
	    lmengine_sessions : listener_sessions;
	mo.parked = main_engine == CONFIG_MILTER_ENGINE_LIBMILTER ? NULL
	    : listener_parked_now;
	mo.start = main_started;
	if (metrics_start(&mo, err, sizeof(err)) != 0)
		log_fatal("%s", err);
}

/*
 * main_serve - run the milter and handle signals until told to stop; 0,
 * -1 if connection threads are still busy, -2 if a reload is (then no
 * teardown under them)
 */
static int
main_serve(const char *path, const struct config *c)
{
	struct reload_deps deps;
	pthread_t tid;
	sigset_t set;
	struct timespec wd;
	uint64_t wd_usec;
	char err[256];
	int sig, reloading;

	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);	/* inherited by every thread */
	signal(SIGPIPE, SIG_IGN);
	main_history_start(c);
	main_set_limits(c);
	if ((main_keycheck = keycheck_start(NULL, err, sizeof(err))) == NULL)
		log_fatal("%s", err);
	if ((main_bouncecheck = bouncecheck_start(err, sizeof(err))) == NULL)
		log_fatal("%s", err);
	deps.privsep = main_privsep;
	deps.keycheck = main_keycheck;
	deps.bouncecheck = main_bouncecheck;
	deps.set_limits = main_set_limits;
	reload_setup(path, &deps);
	keyload_setup(main_privsep != NULL ? privsep_fetch_keys : NULL,
	    main_privsep, main_keys_read, NULL);
	if (keyload_start(err, sizeof(err)) != 0)
		log_fatal("%s", err);
	if (main_ctl_fd >= 0 && control_start(main_ctl_fd, main_keycheck, err,
	    sizeof(err)) != 0)
		log_fatal("%s", err);
	/* after the drop, signals blocked (its thread inherits that), before READY */
	main_metrics_start(c);
	if (pthread_create(&tid, NULL, main_milter_thread, NULL) != 0)
		log_fatal("cannot start the milter thread");
	log_notice(NULL, "authmilter %s listening on %s (milter engine: %s)",
	    PACKAGE_VERSION, c->socket, main_engine_names[main_engine]);
	(void)sd_notifyf(0, "READY=1\nSTATUS=%zu domains", c->ndomains);
	main_ready();
	if (main_early_hup) {	/* blocked now: a later one waits for sigwait */
		log_notice(NULL, "a SIGHUP came during the start: reloading");
		reload_or_defer();
	}
	/* the unit's WatchdogSec: WATCHDOG=1 at half of it, from this loop */
	if (sd_watchdog_enabled(0, &wd_usec) <= 0)
		wd_usec = 0;
	wd.tv_sec = (time_t)(wd_usec / 2 / 1000000);
	wd.tv_nsec = (long)(wd_usec / 2 % 1000000 * 1000);
	for (;;) {
		if (wd_usec > 0) {
			(void)sd_notify(0, "WATCHDOG=1");
			sig = sigtimedwait(&set, NULL, &wd);
		} else if (sigwait(&set, &sig) != 0)
			continue;
		if (sig < 0)
			continue;	/* the watchdog's time, or EINTR */
		if (sig == SIGHUP) {
			reload_or_defer();
			continue;
		}
		log_notice(NULL, "signal %d: stopping; letting messages in flight "
		    "finish", sig);
		(void)sd_notify(0, "STOPPING=1\nSTATUS=stopping: letting messages "
		    "in flight finish");
		break;
	}
	if ((reloading = reload_stop()) != 0)
		log_notice(NULL, "a reload is under way: it will not be installed");
	control_stop();		/* its requests use the key checker */
	if (main_ctl.dirfd >= 0)	/* as the milter socket below */
		(void)unlinkat(main_ctl.dirfd, main_ctl.name, 0);
	keyload_stop();			/* after its batch (its done hook wakes
					 * the checker: stopped first) */
	keycheck_stop(main_keycheck);	/* lookups in flight are cancelled */
	bouncecheck_stop(main_bouncecheck);	/* after its lookup under way */
	metrics_stop();			/* its scrape in progress ends first */
	/* new connections fail at once; the MTA applies its default action */
	if (main_engine == CONFIG_MILTER_ENGINE_LIBMILTER) {
		lmengine_refuse_new();
	} else {
		listener_stop();	/* the socket closed; parked connections
					 * are still served during the drain */
	}
	/* after the privilege drop this fails unless the user owns the
	 * directory, which main_run_dir refuses: the socket then stays, and
	 * the next start replaces it */
	if (main_sock.dirfd >= 0)
		(void)unlinkat(main_sock.dirfd, main_sock.name, 0);
	main_drain();
	if (main_engine == CONFIG_MILTER_ENGINE_LIBMILTER)
		return main_stop_libmilter(tid, reloading);
	if (listener_close_all(5) != 0)
		return -1;
	pthread_join(tid, NULL);	/* the poller stopped in close_all */
	return reloading ? -2 : 0;
}

/* main_print_problems - every error of a load on stderr */
static void
main_print_problems(const struct config_problems *probs)
{
	size_t i;

	for (i = 0; i < probs->n; i++)
		fprintf(stderr, "authmilter: %s\n", probs->v[i].text);
}

/* main_check_run_dir - -n: the directory file would be made in, checked as the start would; 0 or -1 (printed) */
static int
main_check_run_dir(const char *file, const char *what)
{
	struct main_runfile rf = { -1, "" };
	char err[PATH_MAX + 1024];	/* the subject (a path) and why */

	if (main_run_dir_open(file, what, 0, &rf, err, sizeof(err)) != 0) {
		fprintf(stderr, "authmilter: %s\n", err);
		return -1;
	}
	if (rf.dirfd >= 0)
		close(rf.dirfd);
	return 0;
}

/* main_check_run_dirs - -n: the socket's, control socket's and pid file's directories; 0 or -1 */
static int
main_check_run_dirs(const struct config *c)
{
	const char *sock = main_socket_path(c->socket);
	char path[PATH_MAX];
	int rc = 0;

	if (sock != NULL && main_check_run_dir(sock, "socket") != 0)
		rc = -1;
	if (config_control_path(c, path, sizeof(path)) == 0
	    && main_check_run_dir(path, "control socket") != 0)
		rc = -1;
	if (c->pidfile[0] != '\0' && main_check_run_dir(c->pidfile,
	    "pid file") != 0)
		rc = -1;
	return rc;
}

/*
 * main_check - authmilter -n / -q: every error on stderr, the effective
 * configuration on stdout unless quiet; the exit status (1: any error)
 */
static int
main_check(const char *path, int quiet)
{
	struct config_problems probs = { NULL, 0, 0 };
	struct config *c;
	char err[1024];
	int rc;

	c = config_load_from(path, NULL, NULL, 0, &probs, err, sizeof(err));
	main_print_problems(&probs);
	if (c == NULL && probs.n == 0)
		fprintf(stderr, "authmilter: %s\n", err);
	rc = c == NULL || probs.n > 0;
	/* what the start would refuse: the socket's and pid file's directories */
	if (c != NULL && main_check_run_dirs(c) != 0)
		rc = 1;
	if (c != NULL && c->history[0] != '\0' && history_spec_check(c->history,
	    err, sizeof(err)) != 0) {
		fprintf(stderr, "authmilter: %s\n", err);
		rc = 1;
	}
	if (c != NULL && !quiet)
		config_dump(c, stdout);
	config_problems_free(&probs);
	config_free(c);
	return rc;
}

/* main_load_start - the first snapshot; on a fatal error every error is on stderr and it is NULL */
static struct config *
main_load_start(const char *path, struct config_problems *probs)
{
	struct config *c;
	char err[1024];

	/* key_load permitting, the keys are read once serving (keyload.c) */
	c = config_load_from(path, NULL, NULL, CONFIG_DEFER_KEYS, probs, err,
	    sizeof(err));
	if (c == NULL) {
		main_print_problems(probs);
		fprintf(stderr, "authmilter: %s\n", probs->n ? "not started" : err);
		config_problems_free(probs);
	}
	return c;
}

int
main(int argc, char **argv)
{
	const char *path = MAIN_DEFAULT_CONF, *doc = NULL;
	struct config_problems probs = { NULL, 0, 0 };
	struct passwd pwbuf, *pw;
	struct config *c;
	char err[1024], pwstr[4096], abspath[PATH_MAX];
	struct sigaction sa;
	int ch, check = 0, quiet = 0, fg = 0, rc;
	double t0 = clock_seconds();

	(void)clock_gettime(CLOCK_REALTIME, &main_started);
	if (argc == 3 && strcmp(argv[1], PRIVSEP_READER_ARG) == 0)
		return privsep_reader_main(argv[2]);	/* privsep_start's exec */
	while ((ch = getopt(argc, argv, "c:D:fhnqV")) != -1) {
		switch (ch) {
		case 'c': path = optarg; break;
		case 'D': doc = optarg; break;
		case 'f': fg = 1; break;
		case 'n': check = 1; break;
		case 'q': check = quiet = 1; break;
		case 'V': printf("authmilter %s\n", PACKAGE_VERSION); return 0;
		case 'h': main_usage(0); break;
		default: main_usage(2);
		}
	}
	if (optind != argc)
		main_usage(2);
	if (doc != NULL) {
		if (strcmp(doc, "sample") == 0)
			config_print_sample(stdout);
		else if (strcmp(doc, "man") == 0)
			config_print_man(stdout);
		else
			main_usage(2);
		return 0;
	}
	clock_init();
	if (realpath(path, abspath) != NULL)	/* we chdir("/") in the background */
		path = abspath;
	if (privsep_conf_trusted(path, err, sizeof(err)) != 0) {
		fprintf(stderr, "authmilter: %s\n", err);
		return 1;
	}
	if (check)
		return main_check(path, quiet);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = main_on_early_hup;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGHUP, &sa, NULL);	/* until main_serve blocks it */
	if ((c = main_load_start(path, &probs)) == NULL)
		return 1;
	log_init(fg || c->log_destination == CONFIG_LOG_STDERR ? LOG_DEST_STDERR
	    : LOG_DEST_SYSLOG, c->syslog_facility, c->log_level);
	reload_log_problems(&probs, NULL);
	config_install(c);
	pw = main_lookup_user(c, &pwbuf, pwstr, sizeof(pwstr));
	main_engine = c->milter_engine;
	log_set_fatal_hook(main_on_fatal);
	main_listen_fd = main_open_socket(c, pw);
	main_ctl_fd = main_open_control(c, pw);
	if (!fg)
		main_daemonize(c, c->pidfile[0] != '\0' ? main_open_pidfile(c)
		    : -1);
	if (pw != NULL && (main_privsep = privsep_start(path, c, err,
	    sizeof(err))) == NULL)
		log_fatal("cannot start the key reader: %s", err);
	/* before the drop: root can still remove the socket if it fails */
	if (runtime_start(c, NULL, err, sizeof(err)) != 0)
		log_fatal("cannot start: %s", err);
	main_drop_privileges(pw);
	reload_log_summary("configuration loaded from", path, c, NULL, 0, t0,
	    NULL);
	rc = main_serve(path, c);
	/* what is queued is written; freed only when no thread submits any more */
	if (rc == 0) {
		callbacks_set_history(NULL);
		history_stop(main_history);
		callbacks_set_bounce_map(NULL);
		bouncemap_free(main_bouncemap);
	} else
		history_flush(main_history);
	if (main_pid.dirfd >= 0)
		(void)unlinkat(main_pid.dirfd, main_pid.name, 0);
	if (rc == -2) {
		/* the reload thread may be talking to the key reader, which
		 * ends with us (it is told at our death) */
		log_notice(NULL, "stopped during a reload");
		_exit(0);
	}
	if (rc < 0) {
		/* threads still hold the snapshot: no teardown under them */
		log_warn(NULL, "connection threads still busy; exiting without "
		    "cleanup");
		privsep_stop(main_privsep);
		_exit(0);
	}
	config_install(NULL);
	privsep_stop(main_privsep);
	log_notice(NULL, "stopped");
	return rc;
}
