/*
 * xalloc.h - allocation that never returns NULL.
 *
 * Out of memory is not a recoverable condition for a milter thread: the
 * functions log (to syslog or stderr, wherever log.c sends lines) and
 * abort, so callers never test for NULL.
 */
#ifndef AUTHMILTER_XALLOC_H
#define AUTHMILTER_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *ptr, size_t size);
/* xreallocarray - resize an array, checking nmemb * size for overflow */
void *xreallocarray(void *ptr, size_t nmemb, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

#endif
