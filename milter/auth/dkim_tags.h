/*
 * dkim_tags.h - RFC 6376 3.2 tag=value lists (DKIM-Signature fields and
 * key records).
 *
 * A list is parsed whole or refused: a byte outside the grammar, a tag
 * without "=", an empty tag-spec, a duplicate tag name (3.2: "the entire
 * tag-list is invalid") or more than DKIM_TAGS_MAX tags make it invalid.
 * Tag names are case-sensitive (3.2). Values lose all whitespace
 * (FWS, which 3.2 lets the b=, bh=, h= and p= values carry anywhere, and
 * which no other value may hold in its middle).
 *
 * Threading: a struct dkim_tags belongs to its caller; no shared state.
 */
#ifndef AUTHMILTER_DKIM_TAGS_H
#define AUTHMILTER_DKIM_TAGS_H

#include <stddef.h>

#define DKIM_TAGS_MAX	64	/* tags per list (a signature uses ~12) */

enum dkim_tags_status {
	DKIM_TAGS_OK,
	DKIM_TAGS_SYNTAX,	/* bad byte, tag without "=", empty spec */
	DKIM_TAGS_DUPLICATE,	/* a tag name twice */
	DKIM_TAGS_TOO_MANY,	/* more than DKIM_TAGS_MAX tags */
};

/* One tag: both strings point into the list's buffer. */
struct dkim_tag {
	const char *name;	/* tag name (borrowed from buf) */
	const char *value;	/* value without whitespace, maybe "" (borrowed) */
};

struct dkim_tags {
	char *buf;				/* names and values; owned */
	size_t n;				/* tags in tag */
	struct dkim_tag tag[DKIM_TAGS_MAX];	/* in order of appearance */
};

/*
 * dkim_tags_parse - parse len bytes at s (NULs included: they are not in
 * the grammar) into t, which dkim_tags_free releases whatever the result.
 * On failure t holds no tags.
 */
enum dkim_tags_status dkim_tags_parse(struct dkim_tags *t, const char *s,
    size_t len);
/* dkim_tags_get - the value of tag name, NULL when absent */
const char *dkim_tags_get(const struct dkim_tags *t, const char *name);
/* dkim_tags_free - release the buffer; t is empty afterwards */
void dkim_tags_free(struct dkim_tags *t);
/* dkim_tags_status_name - "syntax error", "duplicate tag", ... */
const char *dkim_tags_status_name(enum dkim_tags_status st);

#endif
