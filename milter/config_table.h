/*
 * config_table.h - the option table (private to config.c).
 *
 * One row per option: name, type, where it may appear, where it is stored,
 * default (in conf syntax, parsed by the same code as the file), bounds and
 * a one-line doc. Nothing else in the tree names an option.
 */
#ifndef AUTHMILTER_CONFIG_TABLE_H
#define AUTHMILTER_CONFIG_TABLE_H

#include <stddef.h>

enum opt_type {
	OPT_STRING,		/* free text */
	OPT_DOMAIN,		/* a domain name */
	OPT_INT,		/* integer within [min, max] */
	OPT_BOOL,		/* yes/no */
	OPT_ENUM,		/* one of choices[], stored as its index */
	OPT_WORDS,		/* comma/space separated list */
	OPT_CIDRS,		/* networks */
	OPT_CANON,		/* header/body canonicalization */
	OPT_MODE,		/* octal permission bits */
	OPT_DURATION,		/* seconds, with s/m/h/d/w suffixes */
	OPT_LEVEL,		/* syslog level name */
	OPT_FACILITY,		/* syslog facility name */
	OPT_KEY,		/* "SELECTOR PATH": repeatable */
	OPT_SOCKET,		/* milter socket spec */
};

#define OPT_GLOBAL	0x1	/* allowed at top level */
#define OPT_BLOCK	0x2	/* allowed in a domain block; stored per domain */

struct opt_def {
	const char *name;		/* option name */
	enum opt_type type;		/* value syntax */
	int scope;			/* OPT_GLOBAL and/or OPT_BLOCK */
	size_t offset;			/* in struct config, or struct config_domain with OPT_BLOCK */
	const char *def;		/* default in conf syntax (NULL: none) */
	long min, max;			/* bounds for numbers */
	const char *const *choices;	/* OPT_ENUM names, NULL-terminated */
	const char *doc;		/* one line for docs and the sample */
};

extern const struct opt_def config_options[];
extern const size_t config_noptions;

/* A line of the sample conf's example domain block, in the order shown. */
struct opt_example {
	const char *name;		/* an option allowed in blocks */
	const char *value;		/* its example value */
};

extern const struct opt_example config_block_example[];
extern const size_t config_nblock_example;

#endif
