/*
 * config_parse.h - the loader's state, shared by config.c (statements,
 * validation, keys), config_value.c (values) and config_file.c (files,
 * lines, includes); private to them.
 *
 * One load runs in one thread. Errors never stop it: config_report records
 * each one and marks what it takes down (a block, an included file, or the
 * whole load), so that one run lists every error.
 */
#ifndef AUTHMILTER_CONFIG_PARSE_H
#define AUTHMILTER_CONFIG_PARSE_H

#include <stddef.h>

#include "base/strmap.h"
#include "policy/config.h"

#define CONFIG_PARSE_MAX_OPTIONS 128	/* rows the line arrays hold */

/* The blocks one file of the running snapshot gave: prev->domains[first..first+n). */
struct config_run {
	size_t first;
	size_t n;
	int scattered;			/* not next to each other: never reused */
};

/* Loader state for one load. */
struct config_parse {
	const char *name;		/* file being read, for messages (borrowed) */
	char *dir;			/* its directory, for relative key paths (owned) */
	char *main_dir;			/* directory of the main file: key_dir and
					 * include patterns (owned) */
	int line;			/* current line number, 0: none */
	int included;			/* reading an included file */
	int file_failed;		/* the included file has a top-level error */
	size_t file_first;		/* first block of the file being read */
	struct config *c;		/* snapshot being built (owned until done) */
	struct config_domain *dom;	/* open block, or NULL at top level */
	size_t domains_cap;		/* blocks c->domains has room for */
	int gline[CONFIG_PARSE_MAX_OPTIONS];	/* line each global option was set on */
	int dline[CONFIG_PARSE_MAX_OPTIONS];	/* same inside the open block */
	const struct config_source *src;	/* where bytes come from (borrowed, may be NULL) */
	int flags;			/* CONFIG_SKIP_KEYS */
	struct config_problems *probs;	/* where errors go (borrowed) */
	int reuse_ok;			/* the main text is the running snapshot's:
					 * its unchanged files may be reused */
	struct strmap prev_files;	/* src->prev's files.v indices, by path
					 * (made at the first file not found
					 * at prev_next) */
	int prev_files_made;
	size_t prev_next;		/* the file of src->prev after the last
					 * one reused: mostly the next asked */
	struct config_run *prev_runs;	/* where each of its files' blocks are */
	size_t fatal_before;		/* probs->nfatal when the load began */
};

/*
 * config_report - record "FILE:LINE: reason" (p->name, p->line; no FILE
 * when p->name is NULL, no LINE when p->line is 0); d is the
 * block it takes down, NULL for none: then an error in an included file
 * takes that file down, one in the main file the whole load. Returns -1.
 */
int config_report(struct config_parse *p, struct config_domain *d,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* config_error - config_report for the open block (p->dom) */
int config_error(struct config_parse *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* config_parse_begin - a new snapshot with the table's defaults; 0, or -1 (fatal, reported) */
int config_parse_begin(struct config_parse *p, const char *path,
    const struct config_source *src, int flags, struct config_problems *probs);
/* config_parse_line - one line of a file (modified in place); errors are reported */
void config_parse_line(struct config_parse *p, char *s);
/* config_parse_finish - validate, load keys, leave failed blocks out; the snapshot, or NULL if anything was fatal (p's memory released either way) */
struct config *config_parse_finish(struct config_parse *p);

/*
 * config_lookup_normalize - block names, bounce_domain and platform_domain
 * into lowercase A-labels (config_lookup.c); a name that is no valid IDN
 * is reported, taking its block down
 */
void config_lookup_normalize(struct config_parse *p);

/* config_file_include - the files an `include PATTERN` line names, each parsed in turn */
void config_file_include(struct config_parse *p, const char *pattern);
/* config_file_note - record path among the snapshot's files; the stored copy (borrowed from the snapshot) */
const char *config_file_note(struct config_parse *p, const char *path);
/* config_find_option - the table row named name (its index in *idx, if not NULL), or NULL */
const struct opt_def *config_find_option(const char *name, size_t *idx);
/* config_new_block - append a block named name, opened at the current line */
struct config_domain *config_new_block(struct config_parse *p,
    const char *name);
/* config_index - (re)build c's sorted lookup tables of the blocks that did not fail */
void config_index(struct config *c);
/* config_at - point the next message at block d's file and line */
void config_at(struct config_parse *p, const struct config_domain *d,
    int line);
/* config_load_keys - every block's keys and the bounce secrets (config_keys.c); a key's error takes its block down, a secret's is fatal */
void config_load_keys(struct config_parse *p);
/* config_keep_running - after config_index: each failed block that the running snapshot prev has keeps that version (config_reuse.c) */
void config_keep_running(struct config *c, const struct config *prev);
/*
 * config_reuse_file - when the running snapshot read the included file
 * path with identity id and found no error in it, note it and copy its
 * blocks (keys shared) instead of reading it: 1; else 0 (read it)
 */
int config_reuse_file(struct config_parse *p, const char *path,
    const struct key_ident *id);

#endif
