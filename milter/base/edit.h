/*
 * edit.h - the changes a module wants made to a message: header fields
 * inserted or deleted, the envelope sender changed, recipients added or
 * removed, quarantine. Modules decide and append; callbacks.c applies the
 * list through mta.c, in order, and decides nothing.
 *
 * A list is owned by the end-of-message callback of one connection's
 * thread; every string in it is owned by the list. Header values are
 * stored without the leading space the MTA writes after the colon: the
 * one applier adds it.
 */
#ifndef AUTHMILTER_EDIT_H
#define AUTHMILTER_EDIT_H

#include <stddef.h>

enum edit_kind {
	EDIT_HEADER_INSERT,	/* insert field name: value at position idx (0: top) */
	EDIT_HEADER_DELETE,	/* delete the idx-th (1-based) field called name */
	EDIT_SENDER,		/* MAIL FROM becomes value ("<a@b>"), with ESMTP args */
	EDIT_RCPT_ADD,		/* add recipient value ("<a@b>") */
	EDIT_RCPT_DELETE,	/* remove recipient value, as the MTA gave it */
	EDIT_QUARANTINE,	/* quarantine for reason value; an MTA that does
				 * not grant it gets field name: value instead */
};

struct edit {
	enum edit_kind kind;	/* what to change */
	int idx;		/* header position or occurrence, see kind */
	char *name;		/* header field name, or NULL (owned) */
	char *value;		/* value, address or reason (owned) */
	char *args;		/* EDIT_SENDER: ESMTP parameters, or NULL (owned) */
	char *note;		/* logged once the edit is made, or NULL (owned) */
	int note_level;		/* its syslog level */
};

struct edit_list {
	struct edit *v;		/* the edits in the order to make them (owned) */
	size_t n;		/* used */
	size_t cap;		/* allocated */
};

#define EDIT_LIST_INIT { NULL, 0, 0 }

/* edit_list_init - an empty list */
void edit_list_init(struct edit_list *l);
/* edit_list_free - release every edit (the list is empty and usable after) */
void edit_list_free(struct edit_list *l);
/*
 * edit_add - append an edit of kind with name (may be NULL) and value
 * (copied); returns it so the caller can set idx, args and a note
 */
struct edit *edit_add(struct edit_list *l, enum edit_kind kind,
    const char *name, const char *value);
/* edit_note - the line to log at level once e is made */
void edit_note(struct edit *e, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* edit_args - the ESMTP parameters of an EDIT_SENDER (NULL: none) */
void edit_args(struct edit *e, const char *args);
/* edit_kind_name - "insert-header", ... for logs and tests */
const char *edit_kind_name(enum edit_kind kind);

#endif
