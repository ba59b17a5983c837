/*
 * config.h - the configuration snapshot: options, domain blocks and keys.
 *
 * A snapshot is built by config_load (parse, validate, load keys) and is
 * immutable afterwards. It is reference counted: every connection pins the
 * snapshot current when it started (config_acquire) and drops it at close
 * (config_release); a reload installs a new snapshot (config_install) and
 * the old one is freed when its last user lets go.
 *
 * Every option is declared once, in config_table.c: name, type, default,
 * bounds and a one-line doc. The parser, `authmilter -n`, the sample conf
 * and the man page all come from that table.
 *
 * Errors: the loader does not stop at the first one, it collects them all
 * (struct config_problems). An error inside a domain block, or in a key it
 * names, leaves that block out of the snapshot (its name is kept in
 * c->failed) or, on a reload, keeps the running snapshot's version of it
 * (c->kept); an error at the top level of an included file does so for
 * every block of that file. An error in the global part of the main file
 * fails the whole load.
 *
 * Reload cost: when the main file's text is the running snapshot's, an
 * included file whose identity (struct key_ident: one stat) is unchanged
 * and had no error is not read again: its blocks are copied from the
 * running snapshot. A key file whose identity is the running snapshot's,
 * or another block's of the same load, is shared, not read and parsed
 * again.
 */
#ifndef AUTHMILTER_CONFIG_H
#define AUTHMILTER_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#include "base/cidr.h"
#include "base/buf.h"
#include "auth/bounce.h"
#include "auth/keys.h"

enum config_sign_from {
	CONFIG_SIGN_FROM_HEADER,	/* header From domain picks the block */
	CONFIG_SIGN_FROM_ENVELOPE,	/* envelope sender domain picks it */
};

enum config_unauthorized {
	CONFIG_UNAUTHORIZED_NOSIGN,	/* not signed for the domain (platform still) */
	CONFIG_UNAUTHORIZED_REJECT,	/* refused, 550 5.7.1 */
};

enum config_on_error {
	CONFIG_ON_ERROR_ACCEPT,
	CONFIG_ON_ERROR_TEMPFAIL,
};

enum config_unpublished {
	CONFIG_UNPUBLISHED_SIGN,	/* no published key: sign with the first */
	CONFIG_UNPUBLISHED_SKIP,	/* no published key: do not sign */
};

enum config_key_load {
	CONFIG_KEY_LOAD_AUTO,		/* background above CONFIG_KEY_LOAD_AUTO_MIN keys */
	CONFIG_KEY_LOAD_START,		/* every key read before serving */
	CONFIG_KEY_LOAD_BACKGROUND,	/* serve at once, read keys after */
};
#define CONFIG_KEY_LOAD_AUTO_MIN 1000	/* key_load = auto: more keys, background */

enum config_dmarc_mode {
	CONFIG_DMARC_RFC9989,
	CONFIG_DMARC_RFC7489,
};

enum config_dmarc_action {
	CONFIG_DMARC_ACTION_REJECT,	/* 550 5.7.1 */
	CONFIG_DMARC_ACTION_QUARANTINE,	/* treat as quarantine */
	CONFIG_DMARC_ACTION_NONE,	/* header only */
};

enum config_quarantine {
	CONFIG_QUARANTINE_HEADER,	/* add X-Authmilter-Quarantine */
	CONFIG_QUARANTINE_HOLD,		/* MTA quarantine (Postfix hold queue) */
	CONFIG_QUARANTINE_NONE,		/* header only */
};

enum config_spf_action {
	CONFIG_SPF_ACTION_NONE,		/* let DMARC decide */
	CONFIG_SPF_ACTION_REJECT,	/* 550 5.7.23 at MAIL FROM */
};

enum config_dkim_verifier {
	CONFIG_DKIM_VERIFIER_BUILTIN,	/* our RFC 6376 verifier */
	CONFIG_DKIM_VERIFIER_LIBOPENDKIM,	/* libopendkim (the tests' oracle) */
};

enum config_spf_engine {
	CONFIG_SPF_ENGINE_BUILTIN,	/* our RFC 7208 evaluator */
	CONFIG_SPF_ENGINE_LIBSPF2,	/* libspf2 (the tests' oracle) */
};

enum config_milter_engine {
	CONFIG_MILTER_ENGINE_BUILTIN,	/* engine.c, listener.c */
	CONFIG_MILTER_ENGINE_LIBMILTER,	/* Sendmail's libmilter (lmengine.c) */
};

enum config_log_dest {
	CONFIG_LOG_SYSLOG,
	CONFIG_LOG_STDERR,
};

enum config_key_symlinks {
	CONFIG_KEY_SYMLINKS_REFUSE,	/* a key path that is a symbolic link: refused */
	CONFIG_KEY_SYMLINKS_ALLOW,	/* followed; the target is still checked */
};

/* A list of words (header names, servers). */
struct config_words {
	char **v;		/* the words */
	size_t n;		/* how many */
	int packed;		/* a copy: the words are in v's own block, after
				 * the pointers (one allocation, not n + 1:
				 * 100,000 blocks' header lists a reload) */
};

/* One `domain NAME { ... }` block. */
/* CONFIG_SET_ADD / CONFIG_SET_HAS - bit i of a config_domain's set[] */
#define CONFIG_SET_ADD(set, i)	((set)[(i) / 64] |= 1ull << ((i) % 64))
#define CONFIG_SET_HAS(set, i)	(((set)[(i) / 64] >> ((i) % 64)) & 1ull)

struct config_domain {
	char *name;			/* lowercased domain */
	const char *file;		/* conf file holding the block (borrowed from
					 * the snapshot's files) */
	int line;			/* line of the block header */
	int failed;			/* the loader's mark: left out for an error
					 * (never set in a finished snapshot) */
	struct key *keys;		/* keys in preference order */
	size_t nkeys;
	int hcanon;			/* header canonicalization (sign.h) */
	int bcanon;			/* body canonicalization */
	struct config_words signed_headers;	/* names to sign */
	struct config_words oversign_headers;	/* names to oversign */
	long signature_ttl;		/* x= lifetime in seconds, 0: none */
	char *bounce_domain;		/* custom bounce domain, NULL if none */
	struct config_words signers;	/* SASL login patterns that may sign for it */
	struct cidr_list signer_networks;	/* unauthenticated clients that may;
						 * empty: all of internal_hosts */
	int subdomains;			/* also signs mail of its subdomains */
	int platform_signature;		/* the platform block signs its mail too */
	unsigned long long set[2];	/* bit i % 64 of word i / 64: domain-level
					 * option i was given (CONFIG_SET_*) */
	int reused;			/* the loader's mark: copied from the running
					 * snapshot's unchanged file (checked then) */
	int bounce_health;		/* atomic: enum bounce_health of
					 * bounce_domain (bouncecheck.h) */
	int bounce_why;			/* atomic: enum bounce_why with it */
};

/* A file of the snapshot as read: what a reload needs to reuse it. */
struct config_fileinfo {
	struct key_ident id;		/* its identity when read (one stat) */
	int has_id;			/* id is known */
	int failed;			/* an error in it or in its blocks: a reload
					 * reads it again */
};

struct config {
	int refs;			/* references (atomic) */
	struct config *reap_next;	/* in the reaper's list (config.c) */
	unsigned long generation;	/* 1, 2, ...: the install that made it
					 * current (config_install), 0: never */
	long long installed;		/* CLOCK_MONOTONIC second of that install */
	char *path;			/* file it was read from */
	struct config_words files;	/* every file read: path, then the included
					 * ones in the order read (owned) */
	struct config_fileinfo *finfo;	/* files.v[i]'s identity and state (owned) */
	char *main_text;		/* the main file's text as read (owned): a
					 * reload reuses an unchanged included file's
					 * blocks only when this is the same */
	size_t files_read;		/* included files this load read and parsed */
	size_t files_reused;		/* unchanged ones whose blocks it copied */
	struct config_words failed;	/* names of the blocks that failed to load
					 * (owned) */
	struct config_words kept;	/* those of them serving on in the version
					 * the running snapshot had (owned) */
	size_t keys_read;		/* key files this load read and parsed */
	size_t keys_reused;		/* keys taken unchanged from the running
					 * snapshot or another block (no read) */
	size_t keys_pending;		/* keys left to read after the start
					 * (key_load; keyload.c reads them) */
	int keys_loading;		/* atomic: some key is still to be read
					 * (set by the load, cleared by keyload.c) */

	/* daemon */
	char *socket;			/* unix:PATH, inet:PORT@HOST, inet6:... */
	int socket_mode;		/* mode of a unix socket */
	char *pidfile;			/* pid file when running in background */
	char *user;			/* user to run as after start-up ("" : stay) */
	long milter_timeout;		/* seconds we wait for the next MTA command */
	int max_connections;		/* MTA connections served at once */
	int milter_engine;		/* enum config_milter_engine (start only) */
	int log_destination;		/* enum config_log_dest */
	int log_level;			/* LOG_* from syslog.h */
	int syslog_facility;		/* LOG_MAIL, ... */
	int message_summary;		/* one key=value notice a message */
	char *control_socket;		/* authmilterctl's socket: a path, "auto"
					 * or "none" (config_control_path) */
	char *metrics_listen;		/* ADDR:PORT of the metrics endpoint ("" : off; start only) */

	/* policy */
	char *authserv_id;		/* authserv-id of our A-R headers */
	struct cidr_list internal_hosts;	/* clients whose mail is signed */
	int local_clients_internal;	/* clients without an address are internal */
	struct config_words dns_servers;	/* host[@port]; empty: system */
	int sign_from;			/* enum config_sign_from */
	int on_internal_error;		/* enum config_on_error */
	int allow_group_readable_keys;	/* accept mode 0640 key files */
	int key_symlinks;		/* enum config_key_symlinks */
	char *key_dir;			/* `key = SELECTOR` means
					 * key_dir/DOMAIN/SELECTOR.pem ("" : none) */
	char *platform_domain;		/* domain block signing all signed-mode mail */
	char *platform_spf_include;	/* what customers' SPF records include
					 * ("" : platform_domain; authmilter-check) */
	int unauthorized_from;		/* enum config_unauthorized */
	int unpublished_keys;		/* enum config_unpublished */
	int key_load;			/* enum config_key_load (start only) */

	/* DNS */
	long dns_timeout;		/* seconds per query */
	char *trust_anchor_file;	/* DNSSEC trust anchor ("" : no validation) */
	int key_check;			/* check the key records in DNS at all */
	long key_check_interval;	/* seconds between two checks of a key (0: none periodic) */
	int key_check_concurrency;	/* key record lookups in flight at once */
	int key_check_rate;		/* key record lookups started per second (0: no limit) */
	int key_check_direct;		/* the checks ask dns_servers themselves (dnsstub) */
	char *state_dir;		/* directory of the keystates file ("" : none) */
	long key_expiry_warning;	/* warn this many seconds before a not_after (0: never) */

	/* inbound */
	long spf_time_budget;		/* seconds for the SPF checks of one message */
	int spf_fail_action;		/* enum config_spf_action */
	int spf_engine;			/* enum config_spf_engine */
	int received_spf_header;	/* add Received-SPF */
	int dkim_verifier;		/* enum config_dkim_verifier */
	int dkim_max_signatures;	/* signatures verified per message */
	int dmarc_mode;			/* enum config_dmarc_mode */
	int dmarc_reject_action;	/* enum config_dmarc_action */
	int dmarc_quarantine_action;	/* enum config_quarantine */
	int reject_bad_from;		/* reject mail without exactly one From address */
	int max_forged_headers;		/* more forged fields than this: refuse */
	int on_dns_error;		/* enum config_on_error */

	/* DMARC history and aggregate reports */
	char *history;			/* store: sqlite:PATH, PATH ("" : none; start only) */
	int history_queue;		/* records waiting for the writer at most */
	long history_retention;		/* seconds of history prune keeps */
	char *report_org_name;		/* org_name of our reports */
	char *report_contact;		/* email of report_metadata */
	char *report_sender;		/* From address of report messages */
	long report_interval;		/* seconds a report covers */
	char *report_sendmail;		/* command that sends a report message */

	/* custom bounce domains */
	struct config_words bounce_secret;	/* secret files: the first signs */
	long bounce_max_age;		/* seconds a bounce address stays valid */
	int bounce_store;		/* too long senders go to the store */
	int bounce_check;		/* check bounce domains' DNS in the background */
	struct config_words bounce_mx_hosts;	/* our bounce MX host names */
	struct config_words bounce_check_ips;	/* our outbound addresses, for SPF */
	long bounce_store_timeout;	/* seconds one store call may take */
	struct config_words bounce_pass_local;	/* local parts let through in bounce domains */
	struct bounce_secrets secrets;	/* loaded from bounce_secret */

	/* defaults for domain blocks */
	struct config_domain defaults;	/* the global values of domain options */

	struct config_domain *domains;	/* the domain blocks */
	size_t ndomains;
	const struct config_domain *platform;	/* block of platform_domain */
	const struct config_domain **by_name;	/* blocks sorted by name (lookups) */
	const struct config_domain **by_bounce;	/* blocks with a bounce_domain, sorted by it */
	size_t nbounce;

	void *rt;			/* runtime (runtime.h), NULL until started */
	void (*rt_free)(void *);	/* releases rt with the snapshot */
};

/*
 * Where the loader's bytes come from: conf files, the file lists of
 * include patterns, key and secret files. A NULL member means the default
 * (config_file_read, config_file_glob, secret_read); the privileged reader
 * (privsep.c) records what the defaults return in the root process and
 * replays it in the daemon.
 */
struct config_source {
	/* read_secret - as secret_read (what names the file, max bounds it, flags SECRET_ALLOW_*); 0, or -1 with err */
	int (*read_secret)(void *arg, const char *path, const char *what,
	    size_t max, int flags, struct buf *pem, char *err, size_t errlen);
	/* read_conf - as config_file_read */
	int (*read_conf)(void *arg, const char *path, int included,
	    struct buf *text, char *err, size_t errlen);
	/* glob - as config_file_glob */
	int (*glob)(void *arg, const char *pattern, struct config_words *files,
	    char *err, size_t errlen);
	/* stat_key - as keys_ident_stat for a key file (follow: symbolic links allowed); 0, or -1: read it */
	int (*stat_key)(void *arg, const char *path, int follow,
	    struct key_ident *id);
	/* stat_conf - an included file's identity (as keys_ident_stat, following links); 0, or -1: read it */
	int (*stat_conf)(void *arg, const char *path, struct key_ident *id);
	/* fetch - the key files about to be read (NULL: nothing to do); 0, or -1 with err (fatal) */
	int (*fetch)(void *arg, const char *const *paths, size_t n, char *err,
	    size_t errlen);
	void *arg;		/* the source's state (borrowed) */
	/*
	 * The running snapshot (borrowed; NULL at start): a key file whose
	 * identity it holds is not read again but shared, and a block that
	 * fails to load keeps the version it has.
	 */
	const struct config *prev;
};

/* One error the loader found. */
struct config_problem {
	char *text;		/* "FILE:LINE: reason" (owned) */
	char *domain;		/* the block left out for it (owned); NULL: none */
	int fatal;		/* in the global part: the load failed */
};

/* Every error of one load, in the order found. */
struct config_problems {
	struct config_problem *v;	/* owned */
	size_t n;
	size_t nfatal;			/* how many are fatal */
};

/* config_problems_free - release the list and empty it */
void config_problems_free(struct config_problems *probs);

/* config_secret_flags - the secret_read flags c's options ask for (group-readable keys, key_symlinks) */
int config_secret_flags(const struct config *c);

#define CONFIG_SKIP_KEYS 0x1	/* parse and validate only; load no key */
#define CONFIG_DEFER_KEYS 0x2	/* key_load permitting, leave keys pending
				 * (the daemon's start: keyload.c reads them) */
#define CONFIG_SKIP_INCLUDES 0x4	/* read the main file only (its global
					 * options: authmilterctl) */

/*
 * config_load_from - the general loader: the main file's text (NULL: read
 * path), bytes from src (NULL: the files themselves), flags
 * CONFIG_SKIP_KEYS, CONFIG_DEFER_KEYS. Every error found is appended to probs (NULL: not
 * wanted). Returns the snapshot, without the blocks that failed; NULL when
 * an error is fatal, with the first of them in err.
 */
struct config *config_load_from(const char *path, const char *text,
    const struct config_source *src, int flags,
    struct config_problems *probs, char *err, size_t errlen);
/*
 * config_file_read - a conf file's text (NUL bytes and > 16 MB refused);
 * an included file must also be one only root can change
 * (secret_open_trusted), as it names key files; 0 or -1 with err
 */
int config_file_read(const char *path, int included, struct buf *text,
    char *err, size_t errlen);
/*
 * config_file_glob - the files an include pattern matches, sorted by byte
 * value; none is not an error, but a missing directory is, and so is a
 * pattern without wildcards naming no file. Wildcards only in the last
 * component. 0 or -1 with err.
 */
int config_file_glob(const char *pattern, struct config_words *files,
    char *err, size_t errlen);
/*
 * config_load - parse FILE (and what it includes), validate it and load its
 * keys. On a fatal error returns NULL and writes "FILE:LINE: reason" into
 * err; blocks that failed are left out (c->failed).
 */
struct config *config_load(const char *path, char *err, size_t errlen);
/* config_load_string - the same from a string (tests); name is used in messages */
struct config *config_load_string(const char *text, const char *name,
    char *err, size_t errlen);
/* config_free - release a snapshot regardless of references */
void config_free(struct config *c);

/* config_install - make c the current snapshot; the previous one is released */
void config_install(struct config *c);
/* config_acquire - pin the current snapshot (NULL if none installed) */
struct config *config_acquire(void);
/* config_release - drop a pin; frees the snapshot when it was the last
 * (one of CONFIG_TRIM_DOMAINS blocks or more on a thread of its own, so
 * that the caller, often a worker at a message's start, does not wait) */
void config_release(struct config *c);
#define CONFIG_TRIM_DOMAINS 1000	/* a freed snapshot this big: its own
					 * thread, and malloc_trim */
/* config_reaped - how many snapshots that thread has freed */
unsigned long config_reaped(void);

/*
 * config_pair_blocks - walk the blocks of a and b in name order together
 * (their sorted tables: no lookup a block): fn gets each name's block in a
 * and in b, NULL for the side that lacks it; a or b may be NULL (no blocks)
 */
void config_pair_blocks(const struct config *a, const struct config *b,
    void (*fn)(const struct config_domain *da, const struct config_domain *db,
    void *arg), void *arg);
/*
 * config_find_domain - the block named domain, or NULL; any case, U-labels
 * or A-labels (a block written in U-labels is found by its A-labels too)
 */
const struct config_domain *config_find_domain(const struct config *c,
    const char *domain);
/*
 * config_match_domain - the block that signs for domain: its own block,
 * else the closest parent block with subdomains = yes (the most specific
 * wins: news.customer.example is signed by customer.example's block only
 * when news.customer.example has none), else NULL. Any case, U- or A-labels.
 */
const struct config_domain *config_match_domain(const struct config *c,
    const char *domain);

/* config_find_bounce_domain - the block whose bounce_domain is domain (any case, U- or A-labels), or NULL */
const struct config_domain *config_find_bounce_domain(const struct config *c,
    const char *domain);

/* config_dump - print the effective configuration (authmilter -n) */
void config_dump(const struct config *c, FILE *fp);
/* config_dump_domain - config_dump's block of d alone (authmilterctl domain) */
void config_dump_domain(const struct config_domain *d, FILE *fp);
/*
 * config_control_path - the file of c's control socket into path:
 * control_socket itself, or for "auto" the milter socket's path with
 * ".sock" replaced by "-control.sock" (an inet milter socket:
 * CONFIG_CONTROL_DIR/authmilter-control.sock). 0; 1 for "none" (path
 * empty); -1 if it does not fit.
 */
#define CONFIG_CONTROL_DIR "/run/authmilter"
int config_control_path(const struct config *c, char *path, size_t len);
/*
 * config_summary - one line for the log: "N domains loaded, M failed;
 * keys: K published, ..." (the keys' publication states as known now)
 */
void config_summary(const struct config *c, struct buf *out);
/* config_changes - how many blocks c has that old has not (added), and old has that c has not (removed) */
void config_changes(const struct config *c, const struct config *old,
    size_t *added, size_t *removed);
/* config_print_sample - print the annotated sample conf from the table */
void config_print_sample(FILE *fp);
/* config_print_man - print the authmilter.conf(5) man page from the table */
void config_print_man(FILE *fp);

#endif
