/*
 * control.h - the control socket of authmilterctl(8): what the daemon
 * knows, on request, to root and the daemon's group.
 *
 * The wire: the client sends one line (at most CONTROL_MAX_REQUEST bytes,
 * words split on blanks: "keys --state missing --json"); the daemon
 * answers "ok\n" or "error\n", then the text (or JSON), and closes.
 *
 * Threading: control_start runs one thread that accepts; each connection
 * is served by a short-lived thread of its own (at most
 * CONTROL_MAX_CLIENTS at once; more are told "busy"), with read and write
 * timeouts, so that a client that says nothing blocks nobody. Commands
 * read the configuration snapshot (pinned for the request) and the keys'
 * atomic states; they never take a lock of the message path. The reload
 * outcome is the one shared writable thing here, under this module's
 * lock: main.c reports each reload's start and end (control_reload_begin,
 * control_reload_end) and a `reload` request waits for the next end.
 *
 * control_cmd.c holds the pure part: parsing a request and formatting
 * answers from a snapshot (unit tested).
 */
#ifndef AUTHMILTER_CONTROL_H
#define AUTHMILTER_CONTROL_H

#include <stddef.h>
#include <time.h>

#include "base/buf.h"
#include "policy/config.h"
#include "store/history.h"

#define CONTROL_MAX_REQUEST 1024	/* bytes of a request line, newline included */
#define CONTROL_MAX_ARGS 16		/* words of a request */
#define CONTROL_MAX_CLIENTS 8		/* connections served at once */
#define CONTROL_READ_SECONDS 5		/* a request must come within this */
#define CONTROL_WRITE_SECONDS 10	/* an answer must be taken within this */
#define CONTROL_RELOAD_SECONDS 300	/* `reload` waits this long for the end */

enum control_cmd {
	CONTROL_STATUS,		/* status [--json] */
	CONTROL_KEYS,		/* keys [--state S] [--domain D] [--json] */
	CONTROL_DOMAIN,		/* domain D */
	CONTROL_RELOAD,		/* reload */
	CONTROL_CHECK,		/* check D */
	CONTROL_HELP,		/* help */
};

/* A parsed request. */
struct control_req {
	enum control_cmd cmd;
	int json;		/* --json */
	int state;		/* --state: an enum key_pub, -1: any */
	char domain[256];	/* D of domain/check, --domain of keys; "": none */
};

/* What `status` shows that is not in the snapshot (control.c fills it in). */
struct control_status {
	const char *version;		/* PACKAGE_VERSION */
	long pid;
	long long uptime;		/* seconds since the start */
	long messages;			/* messages in flight */
	long connections;		/* MTA connections served now */
	int reloading;			/* a reload runs */
	unsigned long reloads;		/* reloads finished since the start */
	int last_ok;			/* the last one installed its snapshot */
	long long last_age;		/* seconds since it ended */
	const char *last_result;	/* its summary line ("" : none yet) */
	int history;			/* the DMARC history is kept */
	struct history_stats hist;	/* its writer's counters */
};

/*
 * control_parse - a request line (without its newline) into r; 0, or -1
 * with err (unknown command or option, a missing or extra argument, a
 * state that is no state, a control character). Pure.
 */
int control_parse(const char *line, struct control_req *r, char *err,
    size_t errlen);
/* control_help - the commands, one a line (the answer to help) */
void control_help(struct buf *out);
/* control_json_string - s as a JSON string, quotes included, appended to out */
void control_json_string(struct buf *out, const char *s);
/* control_format_status - st and snapshot c (NULL: none yet) as text or JSON; now: CLOCK_MONOTONIC seconds */
void control_format_status(const struct control_status *st,
    const struct config *c, long long now, int json, struct buf *out);
/*
 * control_format_keys - every key of c (filtered by r's state and domain)
 * with its state, window and whether it would sign at now, as text or
 * JSON; 0, or -1 with err (r's domain has no block)
 */
int control_format_keys(const struct config *c, const struct control_req *r,
    time_t now, struct buf *out, char *err, size_t errlen);
/*
 * control_format_domain - block domain's effective configuration (as
 * authmilter -n prints it), its keys and states, and which keys would sign
 * at now and why; 0, or -1 with err (no such block)
 */
int control_format_domain(const struct config *c, const char *domain,
    time_t now, struct buf *out, char *err, size_t errlen);

struct keycheck_thread;

/*
 * control_start - serve the listening socket fd (control_socket, made by
 * main.c as root) in a thread of its own; keycheck: the key checker
 * `check` asks (borrowed until control_stop). Start it with the signals
 * the main thread handles blocked. 0, or -1 with err.
 */
int control_start(int fd, struct keycheck_thread *keycheck, char *err,
    size_t errlen);
/*
 * control_stop - stop accepting, end the waits of requests under way, and
 * wait for their threads (a few seconds at most); closes fd. Call before
 * keycheck_stop. No-op if not started.
 */
void control_stop(void);
/* control_reload_begin - main.c: a reload starts (in the reload thread) */
void control_reload_begin(void);
/* control_reload_end - main.c: it ended; ok: installed; result: its summary line (copied) */
void control_reload_end(int ok, const char *result);

#endif
