/*
 * config_table.h - the option table (private to config*.c and their tests).
 *
 * One row per option: name, type, where it may appear, where it is stored
 * (offset and size of its field), default (in conf syntax, parsed by the
 * same code as the file), bounds and a one-line doc. Nothing else in the
 * tree names an option.
 *
 * One descriptor per option type says how a value of that type is stored
 * (its C size) and how it is parsed, copied into a domain block, formatted
 * and freed; the loader, the inheritance, `authmilter -n` and config_free
 * are loops over the rows that call their type's descriptor.
 */
#ifndef AUTHMILTER_CONFIG_TABLE_H
#define AUTHMILTER_CONFIG_TABLE_H

#include <stddef.h>

struct buf;
struct config_parse;

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
	OPT_LISTEN,		/* ADDR:PORT or [ADDR6]:PORT, or empty */
	OPT_NTYPES		/* how many types (not a type) */
};

#define OPT_GLOBAL	0x1	/* allowed at top level */
#define OPT_BLOCK	0x2	/* allowed in a domain block; stored per domain */

struct opt_def {
	const char *name;		/* option name */
	enum opt_type type;		/* value syntax */
	int scope;			/* OPT_GLOBAL and/or OPT_BLOCK */
	size_t offset;			/* in struct config, or struct config_domain with OPT_BLOCK */
	size_t size;			/* sizeof the field (checked against the type by a test) */
	const char *def;		/* default in conf syntax (NULL: none) */
	long min, max;			/* bounds for numbers */
	const char *const *choices;	/* OPT_ENUM names, NULL-terminated */
	const char *doc;		/* one line for docs and the sample */
};

extern const struct opt_def config_options[];
extern const size_t config_noptions;

/* How one option type is stored and handled; NULL members: see each. */
struct opt_type_desc {
	const char *name;		/* value syntax in the docs ("list") */
	size_t size;			/* sizeof the field a row of this type names */
	/* set - parse value into field (replacing what is there); 0 or -1 with p's error */
	int (*set)(struct config_parse *p, const struct opt_def *o, void *field,
	    const char *value);
	/* copy - deep copy of src into the empty field dst (NULL: never inherited) */
	void (*copy)(void *dst, const void *src, size_t size);
	/* format - the value in conf syntax (NULL: printed by its own code) */
	void (*format)(const struct opt_def *o, const void *field,
	    struct buf *out);
	/* free - release what the field owns and empty it (NULL: owns nothing) */
	void (*free)(void *field);
};

/* Indexed by enum opt_type. */
extern const struct opt_type_desc config_types[];
extern const size_t config_ntypes;

/* The descriptors' members: set in config_value.c, copy and free in config_table.c, format in config_dump.c. */
int config_set_string(struct config_parse *, const struct opt_def *, void *,
    const char *);
int config_set_domain(struct config_parse *, const struct opt_def *, void *,
    const char *);
int config_set_socket(struct config_parse *, const struct opt_def *, void *,
    const char *);
int config_set_listen(struct config_parse *, const struct opt_def *, void *,
    const char *);
int config_set_number(struct config_parse *, const struct opt_def *, void *,
    const char *);
int config_set_duration(struct config_parse *, const struct opt_def *, void *,
    const char *);
int config_set_bool(struct config_parse *, const struct opt_def *, void *,
    const char *);
int config_set_enum(struct config_parse *, const struct opt_def *, void *,
    const char *);
int config_set_words(struct config_parse *, const struct opt_def *, void *,
    const char *);
int config_set_cidrs(struct config_parse *, const struct opt_def *, void *,
    const char *);
int config_set_canon(struct config_parse *, const struct opt_def *, void *,
    const char *);
int config_set_level(struct config_parse *, const struct opt_def *, void *,
    const char *);
int config_set_facility(struct config_parse *, const struct opt_def *, void *,
    const char *);
int config_set_key(struct config_parse *, const struct opt_def *, void *,
    const char *);
void config_copy_scalar(void *dst, const void *src, size_t size);
void config_copy_string(void *dst, const void *src, size_t size);
void config_copy_words(void *dst, const void *src, size_t size);
void config_copy_cidrs(void *dst, const void *src, size_t size);
void config_free_string(void *field);
void config_free_words(void *field);
void config_free_cidrs(void *field);
void config_format_string(const struct opt_def *, const void *, struct buf *);
void config_format_int(const struct opt_def *, const void *, struct buf *);
void config_format_mode(const struct opt_def *, const void *, struct buf *);
void config_format_duration(const struct opt_def *, const void *,
    struct buf *);
void config_format_bool(const struct opt_def *, const void *, struct buf *);
void config_format_enum(const struct opt_def *, const void *, struct buf *);
void config_format_words(const struct opt_def *, const void *, struct buf *);
void config_format_cidrs(const struct opt_def *, const void *, struct buf *);
void config_format_canon(const struct opt_def *, const void *, struct buf *);
void config_format_level(const struct opt_def *, const void *, struct buf *);
void config_format_facility(const struct opt_def *, const void *,
    struct buf *);

/* A line of the sample conf's example domain block, in the order shown. */
struct opt_example {
	const char *name;		/* an option allowed in blocks */
	const char *value;		/* its example value */
};

extern const struct opt_example config_block_example[];
extern const size_t config_nblock_example;

#endif
