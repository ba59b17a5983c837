/*
 * reload.c - SIGHUP: a new snapshot built on a thread of its own (the
 * signal loop stays free for SIGTERM), the running one's unchanged parts
 * reused, installed unless a stop came meanwhile; a SIGHUP during a
 * reload asks for one more after it; one while the start's keys are still
 * read waits for them (reload_keys_read). Also the one place that logs a
 * load's errors and its summary line (the start's too).
 *
 * Threading: reload_or_defer and reload_stop from the main thread (the
 * signal loop); reload_keys_read from keyload's thread; the reload thread
 * itself. What they share is under reload_lock, or atomic.
 */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <systemd/sd-daemon.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/stats.h"
#include "daemon/control.h"
#include "daemon/metrics.h"
#include "daemon/privsep.h"
#include "daemon/reload.h"
#include "policy/bouncecheck.h"
#include "policy/config.h"
#include "policy/keycheck.h"
#include "policy/keyload.h"
#include "policy/runtime.h"

static struct reload_deps reload_deps;	/* set once, before any reload */

/* The reload thread and what the signal loop knows of it. */
static pthread_mutex_t reload_lock = PTHREAD_MUTEX_INITIALIZER;
static int reload_busy;		/* a reload thread runs (lock) */
static int reload_again;		/* a SIGHUP came during it (lock) */
static int reload_stopping;		/* SIGTERM: install nothing more (lock) */
static int reload_joinable;	/* reload_tid is to be joined */
static pthread_t reload_tid;	/* the last reload thread */
static const char *reload_path;	/* the conf file (set before any reload) */

/* reload_log_problems - log every error of a load (the fatal ones too; also appended to also, a line each, if not NULL), then free the list */
void
reload_log_problems(struct config_problems *probs, struct buf *also)
{
	size_t i;

	for (i = 0; i < probs->n; i++) {
		log_err(NULL, "%s", probs->v[i].text);
		if (also != NULL)
			buf_printf(also, "\n%s", probs->v[i].text);
	}
	config_problems_free(probs);
}

/* reload_log_summary - "what PATH: N domains loaded, ...; K key states carried over; domains A added, R removed (changes: a reload's, else NULL); 0.12 s", also into out if not NULL */
void
reload_log_summary(const char *what, const char *path, const struct config *c,
    const size_t *changes, size_t carried, double t0, struct buf *out)
{
	struct buf line = BUF_INIT;

	config_summary(c, &line);
	if (carried > 0)
		buf_printf(&line, "; %zu key states carried over", carried);
	if (changes != NULL)
		buf_printf(&line, "; domains %zu added, %zu removed", changes[0],
		    changes[1]);
	log_notice(NULL, "%s %s: %s; %.2f s", what, path, buf_cstr(&line),
	    clock_seconds() - t0);
	if (out != NULL)
		buf_printf(out, "%s %s: %s; %.2f s", what, path, buf_cstr(&line),
		    clock_seconds() - t0);
	buf_free(&line);
}

/*
 * reload_run - build a new snapshot from path and install it; the
 * outcome (the summary line, or why it failed, then the load's errors)
 * goes to the control socket's waiting requests
 */
static void
reload_run(const char *path)
{
	struct config_problems probs = { NULL, 0, 0 };
	struct config *c, *old;
	struct buf result = BUF_INIT, problems = BUF_INIT;
	double t0 = clock_seconds();
	char err[1024];
	size_t carried, changes[2];
	struct timespec now;
	int stopping;

	control_reload_begin();
	(void)clock_gettime(CLOCK_MONOTONIC, &now);
	(void)sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading",
	    (unsigned long long)now.tv_sec * 1000000ULL
	    + (unsigned long long)now.tv_nsec / 1000);
	/* the running snapshot: what did not change is taken from it */
	old = config_acquire();
	/* keys still being read after the start are not written meanwhile,
	 * and the key reader is ours alone */
	keyload_lock();
	if (reload_deps.privsep != NULL)
		c = privsep_load(reload_deps.privsep, old, &probs, err, sizeof(err));
	else {
		struct config_source src = { 0 };

		src.prev = old;
		c = config_load_from(path, NULL, &src, 0, &probs, err,
		    sizeof(err));
	}
	carried = c != NULL ? keycheck_carry_over(old, c) : 0;
	if (c != NULL)
		(void)bouncecheck_carry_over(old, c);
	keyload_unlock();
	reload_log_problems(&probs, &problems);
	if (c == NULL || runtime_start(c, old, err, sizeof(err)) != 0) {
		log_err(NULL, "reload failed, keeping the running configuration: "
		    "%s", err);
		stats_inc(STATS_RELOADS + 1);
		stats_observe(STATS_H_RELOAD, (uint64_t)((clock_seconds() - t0)
		    * 1e6));
		buf_printf(&result, "reload failed, keeping the running "
		    "configuration: %s%s", err, buf_cstr(&problems));
		control_reload_end(0, buf_cstr(&result));
		buf_free(&result);
		buf_free(&problems);
		(void)sd_notifyf(0, "READY=1\nSTATUS=%zu domains; the last reload "
		    "failed, the running configuration kept", old != NULL ?
		    old->ndomains : 0);
		config_free(c);
		config_release(old);
		return;
	}
	config_changes(c, old, &changes[0], &changes[1]);
	config_release(old);
	pthread_mutex_lock(&reload_lock);
	if (!(stopping = reload_stopping)) {
		log_set_level(c->log_level);
		reload_deps.set_limits(c);
		metrics_reload(c->metrics_listen);
		config_install(c);
		stats_inc(STATS_RELOADS);
		stats_observe(STATS_H_RELOAD, (uint64_t)((clock_seconds() - t0)
		    * 1e6));
		reload_log_summary("configuration reloaded from", path, c,
		    changes, carried, t0, &result);
		(void)sd_notifyf(0, "READY=1\nSTATUS=%zu domains; reloaded",
		    c->ndomains);
		/* under the lock: once stopping is set the checker may be gone */
		keycheck_wake(reload_deps.keycheck);
		bouncecheck_wake(reload_deps.bouncecheck);
		keyload_wake();
	}
	pthread_mutex_unlock(&reload_lock);
	if (stopping) {
		log_notice(NULL, "reload abandoned: stopping");	/* STOPPING=1 sent */
		config_free(c);
		buf_puts(&result, "reload abandoned: stopping");
	}
	buf_puts(&result, buf_cstr(&problems));
	control_reload_end(!stopping, buf_cstr(&result));
	buf_free(&result);
	buf_free(&problems);
}

/* reload_thread - reload, again while SIGHUPs came meanwhile */
static void *
reload_thread(void *arg)
{
	int again;

	(void)arg;
	do {
		reload_run(reload_path);
		pthread_mutex_lock(&reload_lock);
		again = reload_again && !reload_stopping;
		reload_again = 0;
		if (!again)
			reload_busy = 0;
		pthread_mutex_unlock(&reload_lock);
	} while (again);
	OPENSSL_thread_stop();	/* its per-thread state, now */
	return NULL;
}

/* reload_start - a SIGHUP: start a reload, or ask the running one for another */
static void
reload_start(void)
{
	pthread_mutex_lock(&reload_lock);
	if (reload_busy) {
		reload_again = 1;
		pthread_mutex_unlock(&reload_lock);
		return;
	}
	reload_busy = 1;
	pthread_mutex_unlock(&reload_lock);
	if (reload_joinable)
		pthread_join(reload_tid, NULL);	/* over: it cleared busy */
	reload_joinable = pthread_create(&reload_tid, NULL,
	    reload_thread, NULL) == 0;
	if (!reload_joinable) {
		log_err(NULL, "reload failed: cannot start the reload thread");
		control_reload_begin();
		control_reload_end(0, "reload failed: cannot start the reload "
		    "thread");
		pthread_mutex_lock(&reload_lock);
		reload_busy = 0;
		pthread_mutex_unlock(&reload_lock);
	}
}

static int reload_deferred;	/* a SIGHUP waits for the keys (atomic) */

/*
 * reload_or_defer - a SIGHUP: reload, unless the start's key files
 * are still being read in the background (key_load): a reload then holds
 * the key loader's lock for its whole load, and the messages whose keys
 * are not read yet would wait for each one in turn (a SIGHUP a second
 * right after a start at 100,000 domains: 60 msg/s). It runs once they
 * are read (main_keys_read sends the SIGHUP again).
 */
void
reload_or_defer(void)
{
	struct config *c = config_acquire();
	int busy = c != NULL && keyload_busy(c);

	config_release(c);
	if (!busy) {
		reload_start();
		return;
	}
	if (!__atomic_exchange_n(&reload_deferred, 1, __ATOMIC_ACQ_REL))
		log_notice(NULL, "SIGHUP while the key files are read in the "
		    "background: reloading once they are read");
}

/* reload_stop - no reload installs from now on; 1 if one is still under way */
int
reload_stop(void)
{
	int busy;

	pthread_mutex_lock(&reload_lock);
	reload_stopping = 1;
	busy = reload_busy;
	pthread_mutex_unlock(&reload_lock);
	if (!busy && reload_joinable)
		pthread_join(reload_tid, NULL);
	reload_joinable = 0;
	return busy;
}

void
reload_setup(const char *path, const struct reload_deps *deps)
{
	reload_path = path;
	reload_deps = *deps;
}

void
reload_keys_read(void)
{
	/* a deferred SIGHUP: to the main thread's sigwait, as any other */
	if (__atomic_exchange_n(&reload_deferred, 0, __ATOMIC_ACQ_REL))
		(void)kill(getpid(), SIGHUP);
}
