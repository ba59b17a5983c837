/*
 * reload.h - SIGHUP's reload (see reload.c).
 */
#ifndef AUTHMILTER_RELOAD_H
#define AUTHMILTER_RELOAD_H
#include <stddef.h>

#include "base/buf.h"
#include "policy/config.h"

struct privsep;
struct keycheck_thread;
struct bouncecheck_thread;

/* What a reload works with, made by the start (all borrowed). */
struct reload_deps {
	struct privsep *privsep;		/* the key reader, or NULL */
	struct keycheck_thread *keycheck;	/* woken at each install */
	struct bouncecheck_thread *bouncecheck;	/* likewise */
	void (*set_limits)(const struct config *);	/* the engine's limits of a snapshot */
};

/* reload_setup - the conf file and what reloads work with; before the first SIGHUP */
void reload_setup(const char *path, const struct reload_deps *deps);
/* reload_or_defer - a SIGHUP: reload now, or once the start's key files are read */
void reload_or_defer(void);
/* reload_keys_read - the start's keys are read: a deferred SIGHUP is sent again */
void reload_keys_read(void);
/* reload_stop - no reload installs from now on; 1 if one is still under way */
int reload_stop(void);
/* reload_log_problems - log every error of a load (also appended to also, a line each, if not NULL), then free the list */
void reload_log_problems(struct config_problems *probs, struct buf *also);
/*
 * reload_log_summary - "what PATH: N domains loaded, ...; K key states
 * carried over; domains A added, R removed (changes: a reload's, else
 * NULL); 0.12 s", also into out if not NULL
 */
void reload_log_summary(const char *what, const char *path,
    const struct config *c, const size_t *changes, size_t carried, double t0,
    struct buf *out);
#endif
