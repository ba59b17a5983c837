/*
 * edit.c - a list of changes to one message (edit.h).
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/edit.h"
#include "base/log.h"
#include "base/xalloc.h"

/* edit_list_init - an empty list */
void
edit_list_init(struct edit_list *l)
{
	memset(l, 0, sizeof(*l));
}

/* edit_list_free - release every edit */
void
edit_list_free(struct edit_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		free(l->v[i].name);
		free(l->v[i].value);
		free(l->v[i].args);
		free(l->v[i].note);
	}
	free(l->v);
	edit_list_init(l);
}

/* edit_add - append one edit */
struct edit *
edit_add(struct edit_list *l, enum edit_kind kind, const char *name,
    const char *value)
{
	struct edit *e;

	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 8;
		l->v = xreallocarray(l->v, l->cap, sizeof(*l->v));
	}
	e = &l->v[l->n++];
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->name = name != NULL ? xstrdup(name) : NULL;
	e->value = xstrdup(value != NULL ? value : "");
	return e;
}

/* edit_note - the line logged once e is made */
void
edit_note(struct edit *e, int level, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;

	free(e->note);
	e->note = NULL;
	/* not formatted for a level not shown (log_level = warning at a
	 * platform's volume: a printf a signed message for nothing) */
	if (!log_wants(level))
		return;
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	e->note = buf_steal(&b);
	e->note_level = level;
	buf_free(&b);
}

/* edit_args - the ESMTP parameters of a sender change */
void
edit_args(struct edit *e, const char *args)
{
	free(e->args);
	e->args = args != NULL && *args != '\0' ? xstrdup(args) : NULL;
}

/* edit_kind_name - a word for each kind */
const char *
edit_kind_name(enum edit_kind kind)
{
	switch (kind) {
	case EDIT_HEADER_INSERT: return "insert-header";
	case EDIT_HEADER_DELETE: return "delete-header";
	case EDIT_SENDER: return "change-sender";
	case EDIT_RCPT_ADD: return "add-rcpt";
	case EDIT_RCPT_DELETE: return "delete-rcpt";
	case EDIT_QUARANTINE: return "quarantine";
	}
	return "unknown";
}
