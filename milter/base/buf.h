/*
 * buf.h - growable byte buffer.
 *
 * A buf is owned by one thread at a time. After buf_init (or BUF_INIT)
 * data is NULL; once anything is appended it is NUL-terminated. Read a
 * buffer that may be empty through buf_cstr, which gives "" for NULL.
 * Growth is checked for size_t overflow; exhaustion aborts (see xalloc.h).
 */
#ifndef AUTHMILTER_BUF_H
#define AUTHMILTER_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char *data;		/* contents, NUL-terminated; NULL before first growth */
	size_t len;		/* bytes used, not counting the NUL */
	size_t cap;		/* bytes allocated */
};

#define BUF_INIT { NULL, 0, 0 }

/* buf_init - make an empty buffer */
void buf_init(struct buf *b);
/* buf_free - release storage; the buffer is empty and reusable afterwards */
void buf_free(struct buf *b);
/* buf_reset - empty the buffer, keep its storage */
void buf_reset(struct buf *b);
/* buf_reserve - make room for n more bytes (plus the NUL) */
void buf_reserve(struct buf *b, size_t n);
/* buf_append - append n bytes */
void buf_append(struct buf *b, const void *p, size_t n);
/* buf_puts - append a C string */
void buf_puts(struct buf *b, const char *s);
/* buf_putc - append one byte */
void buf_putc(struct buf *b, int c);
/* buf_printf - append formatted text */
void buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* buf_vprintf - append formatted text, va_list form */
void buf_vprintf(struct buf *b, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
/* buf_cstr - the contents as a C string ("" when empty) */
const char *buf_cstr(const struct buf *b);
/* buf_steal - hand over the storage as a malloc'd C string; buffer empties */
char *buf_steal(struct buf *b);

#endif
